//! Core: what the Terraform providers of every service share on top of `crates/tfplugin`:
//! reading a duration attribute into a diagnostic-bearing result, and (for unit tests)
//! building an action or resource configuration from a list of attribute names. Only the
//! slices' `provider` modules use it; it uses nothing of the product.

use std::time::Duration;

use tfplugin::{AttrPath, Diagnostic, Value};

/// Reads a duration attribute (`timeout`, `timeouts.create`, `poll_interval`) at `path`:
/// `Ok(None)` when null or unknown. A value that does not parse is refused with `examples` of
/// the form ("30s, 5m or 1h30m"); `refuse` says why a parsed duration is out of range
/// ("must be at most 1h"), or `None` to accept it. Errors are "Invalid {label}".
pub fn duration_attr(
    v: &Value,
    path: AttrPath,
    label: &str,
    examples: &str,
    refuse: impl Fn(Duration) -> Option<String>,
) -> Result<Option<Duration>, Diagnostic> {
    let Some(s) = v.as_str() else {
        return Ok(None);
    };
    let bad = |why: String| Diagnostic::error(format!("Invalid {label}"), why).at(path.clone());
    let d = humantime::parse_duration(s.trim()).map_err(|e| {
        bad(format!(
            "{label} must be a duration such as {examples}; got {s:?} ({e})."
        ))
    })?;
    match refuse(d) {
        Some(why) => Err(bad(format!("{label} {why}; got {s:?}."))),
        None => Ok(Some(d)),
    }
}

/// A configuration object for unit tests: every attribute named in `names` (separated by
/// spaces) null, then `pairs` set.
#[cfg(test)]
pub fn config_with(names: &str, pairs: &[(&str, Value)]) -> Value {
    let mut v = Value::object(names.split_whitespace().map(|n| (n, Value::Null)));
    for (k, x) in pairs {
        v.set(*k, x.clone());
    }
    v
}
