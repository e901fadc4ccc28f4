//! Between Terraform values and engine types: a run as the computed attributes, durations and
//! dataset ids read from configuration, with errors that name the attribute.

use std::time::Duration;

use crate::woosmap::api::{DatasetId, Run};
use crate::woosmap::import::{MAX_POLL_INTERVAL, MAX_TIMEOUT, MIN_POLL_INTERVAL};
use tfplugin::{AttrPath, Diagnostic, Value};

/// The computed attributes of a run, merged into `into` (an object value).
pub fn set_run(into: &mut Value, run: Option<&Run>, status: Option<&str>) {
    into.set("run_id", Value::opt_string(run.map(|r| r.id.clone())));
    into.set(
        "status",
        Value::opt_string(status.or_else(|| run.map(|r| r.status.as_str()))),
    );
    into.set(
        "started_at",
        Value::opt_string(run.and_then(Run::started_at)),
    );
    into.set(
        "finished_at",
        Value::opt_string(run.and_then(Run::finished_at)),
    );
    let steps = run.map(|r| r.steps.as_slice()).unwrap_or_default();
    into.set(
        "steps",
        Value::list(steps.iter().map(|s| {
            Value::object([
                ("name", Value::string(&s.name)),
                ("status", Value::string(s.status.as_str())),
                ("start", Value::opt_string(s.start.clone())),
                ("end", Value::opt_string(s.end.clone())),
                (
                    "entries",
                    Value::list(s.entries.iter().map(|e| {
                        Value::object([
                            ("created_at", Value::string(&e.created_at)),
                            ("level", Value::string(&e.level)),
                            ("detail", Value::string(&e.detail)),
                        ])
                    })),
                ),
            ])
        })),
    );
}

/// Marks the computed run attributes unknown (a new import will fill them).
pub fn unknown_run(into: &mut Value) {
    for name in ["run_id", "status", "started_at", "finished_at", "steps"] {
        into.set(name, Value::Unknown);
    }
}

/// The known string at `path` of an object, if any.
pub fn known_str<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

/// Reads `dataset_id`; `Ok(None)` when unknown.
pub fn dataset_id(config: &Value) -> Result<Option<DatasetId>, Diagnostic> {
    match config.get("dataset_id") {
        Some(Value::String(s)) => DatasetId::parse(s).map(Some).map_err(|e| {
            Diagnostic::error("Invalid dataset_id", format!("{e}."))
                .at(AttrPath::attr("dataset_id"))
        }),
        Some(Value::Null) => Err(Diagnostic::error(
            "Missing dataset_id",
            "dataset_id is required: the id (UUID) of the Woosmap dataset to import.",
        )
        .at(AttrPath::attr("dataset_id"))),
        _ => Ok(None),
    }
}

/// Whether attribute `name` of `config` is a known string of blanks only (an empty setting).
pub fn is_blank(config: &Value, name: &str) -> bool {
    known_str(config, name).is_some_and(|v| v.trim().is_empty())
}

/// Reads a duration attribute at `path`; `Ok(None)` when null or unknown.
pub fn duration_at(
    v: &Value,
    path: AttrPath,
    label: &str,
    min: Duration,
    max: Duration,
) -> Result<Option<Duration>, Diagnostic> {
    let fmt = humantime::format_duration;
    crate::tfglue::duration_attr(v, path, label, "30s, 5m or 1h30m", |d| {
        if d < min {
            Some(format!("must be at least {}", fmt(min)))
        } else if d > max {
            Some(format!("must be at most {}", fmt(max)))
        } else {
            None
        }
    })
}

/// `poll_interval` (default 5 s).
pub fn poll_interval(config: &Value) -> Result<Option<Duration>, Diagnostic> {
    duration_at(
        config.attr("poll_interval"),
        AttrPath::attr("poll_interval"),
        "poll_interval",
        MIN_POLL_INTERVAL,
        MAX_POLL_INTERVAL,
    )
}

/// `timeouts.create` or `timeouts.update` (default 30 m).
pub fn timeout(config: &Value, which: &str) -> Result<Option<Duration>, Diagnostic> {
    duration_at(
        config.attr("timeouts").attr(which),
        AttrPath::attr("timeouts").then_attr(which),
        &format!("timeouts.{which}"),
        Duration::from_secs(1),
        MAX_TIMEOUT,
    )
}

/// `reimport_key`, when given and known, is not empty (left out, the private key triggers).
pub fn reimport_key(config: &Value) -> Result<(), Diagnostic> {
    if is_blank(config, "reimport_key") {
        return Err(Diagnostic::error(
            "Empty reimport_key",
            "reimport_key is empty: set it to the dataset's reimport key, or leave it out to trigger with the private key.",
        )
        .at(AttrPath::attr("reimport_key")));
    }
    Ok(())
}
