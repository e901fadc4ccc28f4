//! The action's inputs, read from the environment and checked before any request is made.
//!
//! GitHub gives a JavaScript or Docker action each input as `INPUT_<NAME>` with the name
//! uppercased and hyphens kept (`INPUT_DATASET-ID`). A composite action gets no such variables,
//! so `action.yml` sets exactly these names in its step's `env:`. For callers that cannot set a
//! name with a hyphen (most shells), the underscore spelling (`INPUT_DATASET_ID`) is read too.
//! Blank inputs fall back to the CLI's variables (`WOOSMAP_PRIVATE_KEY`, `WOOSMAP_BASE_URL`,
//! `WOOSMAP_REIMPORT_KEY`) and then to the documented defaults.

use std::time::Duration;

use crate::woosmap::api::{DEFAULT_BASE_URL, DatasetId, Secret};
use crate::woosmap::import::{DEFAULT_POLL_INTERVAL, DEFAULT_TIMEOUT, ImportSpec, TriggerVia};
use crate::woosmap::values::{
    parse_base_url, parse_dataset_id, parse_poll_interval, parse_timeout,
};

/// Input names, as users write them under `with:`.
pub const DATASET_ID: &str = "dataset-id";
pub const PRIVATE_KEY: &str = "private-key";
pub const REIMPORT_KEY: &str = "reimport-key";
pub const WAIT: &str = "wait";
pub const TIMEOUT: &str = "timeout";
pub const POLL_INTERVAL: &str = "poll-interval";
pub const BASE_URL: &str = "base-url";

/// Every input, in the order of `action.yml`.
pub const ALL: [&str; 7] = [
    DATASET_ID,
    PRIVATE_KEY,
    REIMPORT_KEY,
    WAIT,
    TIMEOUT,
    POLL_INTERVAL,
    BASE_URL,
];

/// The environment variable GitHub uses for an input: `INPUT_` + the name uppercased.
pub fn env_name(input: &str) -> String {
    format!("INPUT_{}", input.to_ascii_uppercase())
}

/// A value that does not make sense, named by its input. Never holds a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("input `{input}`: {message}")]
pub struct InputError {
    pub input: &'static str,
    pub message: String,
}

impl InputError {
    fn new(input: &'static str, message: impl Into<String>) -> Self {
        InputError {
            input,
            message: message.into(),
        }
    }
}

/// Where raw values come from: the process environment, or a map in tests.
pub trait Source {
    /// The value as text; `None` when unset (or not UTF-8: see [`Source::var_os`]).
    fn var(&self, name: &str) -> Option<String>;
    /// The value as the system gave it, which may not be UTF-8 text.
    fn var_os(&self, name: &str) -> Option<std::ffi::OsString> {
        self.var(name).map(Into::into)
    }
}

/// The process environment.
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn var_os(&self, name: &str) -> Option<std::ffi::OsString> {
        std::env::var_os(name)
    }
}

/// The first input (in either spelling) whose value is not UTF-8 text: refused, never read as
/// blank (a blank input falls back to a variable or a default).
fn check_utf8(src: &dyn Source) -> Result<(), InputError> {
    for input in ALL {
        let hyphen = env_name(input);
        let underscore = hyphen.replace('-', "_");
        if [hyphen, underscore]
            .iter()
            .any(|n| src.var_os(n).is_some_and(|v| v.to_str().is_none()))
        {
            return Err(InputError::new(input, crate::woosmap::settings::NOT_UTF8));
        }
    }
    Ok(())
}

impl<F: Fn(&str) -> Option<String>> Source for F {
    fn var(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// The raw text of an input (`INPUT_DATASET-ID`, else `INPUT_DATASET_ID`), trimmed; `None`
/// when unset or blank.
pub fn raw(src: &dyn Source, input: &str) -> Option<String> {
    let hyphen = env_name(input);
    let underscore = hyphen.replace('-', "_");
    [hyphen, underscore]
        .iter()
        .filter_map(|n| src.var(n))
        .map(|v| v.trim().to_owned())
        .find(|v| !v.is_empty())
}

/// The secrets among the inputs, every line of them, so that they can be masked before
/// anything else is printed (a mask only hides the line it was registered with).
pub fn secrets_to_mask(src: &dyn Source) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    // Both spellings of each key, used or not: a key in the job's environment is a key too.
    let values = [
        raw(src, PRIVATE_KEY),
        src.var(crate::woosmap::settings::PRIVATE_KEY_ENV),
        raw(src, REIMPORT_KEY),
        src.var(REIMPORT_KEY_ENV),
    ];
    for value in values.into_iter().flatten() {
        let pieces = value
            .lines()
            .chain(value.split([',', '\n', '\r']))
            .map(str::trim)
            .filter(|p| !p.is_empty());
        for p in pieces {
            if !out.iter().any(|o| o == p) {
                out.push(p.to_owned());
            }
        }
    }
    out
}

/// The CLI's variable for a reimport key, also read here when the input is blank.
pub const REIMPORT_KEY_ENV: &str = "WOOSMAP_REIMPORT_KEY";

/// Everything the action was asked to do.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub dataset_ids: Vec<DatasetId>,
    pub private_key: Option<Secret>,
    /// Empty, or one per dataset id, in the same order.
    pub reimport_keys: Vec<Secret>,
    pub wait: bool,
    pub timeout: Duration,
    pub poll_interval: Duration,
    pub base_url: String,
}

/// Splits a list input: one item per line or per comma, blanks ignored.
pub fn split_list(s: &str) -> Vec<&str> {
    s.split([',', '\n', '\r'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

/// GitHub's boolean spellings (as `core.getBooleanInput` accepts them).
fn parse_bool(input: &'static str, s: &str) -> Result<bool, InputError> {
    match s {
        "true" | "True" | "TRUE" => Ok(true),
        "false" | "False" | "FALSE" => Ok(false),
        other => Err(InputError::new(
            input,
            format!("expected true or false, got {other:?}"),
        )),
    }
}

impl Inputs {
    /// Reads and checks every input.
    pub fn read(src: &dyn Source) -> Result<Inputs, InputError> {
        check_utf8(src)?;
        let ids_text = raw(src, DATASET_ID).ok_or_else(|| {
            InputError::new(DATASET_ID, "is required: give one dataset id (a UUID), or several separated by newlines or commas")
        })?;
        let mut dataset_ids: Vec<DatasetId> = Vec::new();
        for item in split_list(&ids_text) {
            let id = parse_dataset_id(item).map_err(|e| InputError::new(DATASET_ID, e))?;
            if dataset_ids.contains(&id) {
                return Err(InputError::new(DATASET_ID, format!("{id} is listed twice")));
            }
            dataset_ids.push(id);
        }

        let private_key = raw(src, PRIVATE_KEY)
            .or_else(|| src.var(crate::woosmap::settings::PRIVATE_KEY_ENV))
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .map(Secret::new);

        let reimport_keys: Vec<Secret> = raw(src, REIMPORT_KEY)
            .or_else(|| src.var(REIMPORT_KEY_ENV))
            .map(|k| split_list(&k).into_iter().map(Secret::new).collect())
            .unwrap_or_default();
        if !reimport_keys.is_empty() && reimport_keys.len() != dataset_ids.len() {
            // Counts only: the keys themselves never appear in a message.
            return Err(InputError::new(
                REIMPORT_KEY,
                format!(
                    "has {} key(s) for {} dataset id(s): give one key per dataset, in the same order",
                    reimport_keys.len(),
                    dataset_ids.len()
                ),
            ));
        }

        let wait = match raw(src, WAIT) {
            Some(s) => parse_bool(WAIT, &s)?,
            None => true,
        };
        let timeout = match raw(src, TIMEOUT) {
            Some(s) => parse_timeout(&s).map_err(|e| InputError::new(TIMEOUT, e))?,
            None => DEFAULT_TIMEOUT,
        };
        let poll_interval = match raw(src, POLL_INTERVAL) {
            Some(s) => parse_poll_interval(&s).map_err(|e| InputError::new(POLL_INTERVAL, e))?,
            None => DEFAULT_POLL_INTERVAL,
        };
        let base_url = raw(src, BASE_URL)
            .or_else(|| src.var("WOOSMAP_BASE_URL").filter(|s| !s.trim().is_empty()))
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let base_url = parse_base_url(&base_url).map_err(|e| {
            InputError::new(BASE_URL, crate::woosmap::knobs::Knobs::ACTION.word(&e))
        })?;

        let needs_private_key = reimport_keys.is_empty() || wait;
        if needs_private_key && private_key.is_none() {
            return Err(InputError::new(
                PRIVATE_KEY,
                format!(
                    "is required to {}: pass a private key with write permission from a secret, \
                     e.g. `private-key: ${{{{ secrets.WOOSMAP_PRIVATE_KEY }}}}` (only `reimport-key` \
                     with `wait: false` works without it)",
                    if reimport_keys.is_empty() {
                        "trigger imports"
                    } else {
                        "read the import status"
                    }
                ),
            ));
        }

        Ok(Inputs {
            dataset_ids,
            private_key,
            reimport_keys,
            wait,
            timeout,
            poll_interval,
            base_url,
        })
    }

    /// One engine spec per dataset.
    pub fn specs(&self) -> Vec<ImportSpec> {
        self.dataset_ids
            .iter()
            .enumerate()
            .map(|(i, id)| ImportSpec {
                dataset_id: id.clone(),
                via: self
                    .reimport_keys
                    .get(i)
                    .map_or(TriggerVia::Api, |k| TriggerVia::Webhook(k.clone())),
                wait: self.wait,
                poll_interval: self.poll_interval,
                timeout: self.timeout,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const ID: &str = "8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0";
    const ID2: &str = "9c4c51f1-f6f3-43bc-b65d-7415e8ef22c0";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn read(pairs: &[(&str, &str)]) -> Result<Inputs, InputError> {
        Inputs::read(&env(pairs))
    }

    #[test]
    fn defaults_and_hyphenated_names() {
        let i = read(&[("INPUT_DATASET-ID", ID), ("INPUT_PRIVATE-KEY", "k")]).unwrap();
        assert_eq!(i.dataset_ids.len(), 1);
        assert!(i.wait);
        assert_eq!(i.timeout, Duration::from_secs(1800));
        assert_eq!(i.poll_interval, Duration::from_secs(5));
        assert_eq!(i.base_url, "https://api.woosmap.com");
        assert_eq!(i.private_key.unwrap().expose(), "k");
    }

    #[test]
    fn underscore_names_and_cli_variables_are_fallbacks() {
        let i = read(&[
            ("INPUT_DATASET_ID", ID),
            ("INPUT_BASE-URL", ""),
            ("WOOSMAP_PRIVATE_KEY", "envkey"),
            ("WOOSMAP_BASE_URL", "http://127.0.0.1:9/"),
        ])
        .unwrap();
        assert_eq!(i.private_key.unwrap().expose(), "envkey");
        assert_eq!(i.base_url, "http://127.0.0.1:9");
    }

    #[test]
    fn several_ids_by_newline_or_comma() {
        let text = format!("{ID},\n {ID2}\n\n");
        let i = read(&[("INPUT_DATASET-ID", &text), ("INPUT_PRIVATE-KEY", "k")]).unwrap();
        assert_eq!(i.dataset_ids.len(), 2);
        let err = read(&[
            ("INPUT_DATASET-ID", &format!("{ID}\n{ID}")),
            ("INPUT_PRIVATE-KEY", "k"),
        ])
        .unwrap_err();
        assert_eq!(err.input, DATASET_ID);
    }

    #[test]
    fn each_bad_value_names_its_input() {
        let base = [("INPUT_DATASET-ID", ID), ("INPUT_PRIVATE-KEY", "k")];
        let cases: [(&str, &str, &str); 6] = [
            ("INPUT_DATASET-ID", "stores", DATASET_ID),
            ("INPUT_TIMEOUT", "soon", TIMEOUT),
            ("INPUT_POLL-INTERVAL", "1ms", POLL_INTERVAL),
            ("INPUT_WAIT", "yes please", WAIT),
            ("INPUT_BASE-URL", "ftp://x", BASE_URL),
            ("INPUT_REIMPORT-KEY", "a,b", REIMPORT_KEY),
        ];
        for (var, value, input) in cases {
            let mut pairs = base.to_vec();
            pairs.retain(|(k, _)| *k != var);
            pairs.push((var, value));
            let err = read(&pairs).unwrap_err();
            assert_eq!(err.input, input, "{var}={value}: {err}");
            assert!(err.to_string().contains(input), "{err}");
        }
    }

    #[test]
    fn missing_key_names_private_key_unless_webhook_without_wait() {
        let err = read(&[("INPUT_DATASET-ID", ID)]).unwrap_err();
        assert_eq!(err.input, PRIVATE_KEY);
        let err = read(&[]).unwrap_err();
        assert_eq!(err.input, DATASET_ID);
        let i = read(&[
            ("INPUT_DATASET-ID", ID),
            ("INPUT_REIMPORT-KEY", "rk"),
            ("INPUT_WAIT", "false"),
        ])
        .unwrap();
        assert!(matches!(i.specs()[0].via, TriggerVia::Webhook(_)));
        assert!(!i.specs()[0].wait);
    }

    #[test]
    fn error_messages_never_contain_keys() {
        let err = read(&[
            ("INPUT_DATASET-ID", ID),
            ("INPUT_PRIVATE-KEY", "pk-secret"),
            ("INPUT_REIMPORT-KEY", "rk-one,rk-two"),
        ])
        .unwrap_err();
        let text = err.to_string();
        assert!(
            !text.contains("rk-one") && !text.contains("pk-secret"),
            "{text}"
        );
    }

    #[test]
    fn secrets_to_mask_lists_every_piece() {
        let src = env(&[
            ("INPUT_PRIVATE-KEY", " pk "),
            ("WOOSMAP_PRIVATE_KEY", "envkey"),
            ("INPUT_REIMPORT-KEY", "rk1\nrk2,rk3"),
        ]);
        let masks = secrets_to_mask(&src);
        assert_eq!(masks, ["pk", "envkey", "rk1", "rk2,rk3", "rk2", "rk3"]);
        assert!(masks.iter().all(|m| !m.contains('\n')), "{masks:?}");
    }
}
