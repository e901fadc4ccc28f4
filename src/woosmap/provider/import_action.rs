//! Action `woosmap_dataset_import` (Terraform 1.14+): the resource's import without state.
//! Validation and plan check the configuration without calling the API (same checks and
//! messages as the resource); invoke runs the engine, turns each engine event a user wants
//! to see into one progress message (the event's sentence, as every front end words it), and
//! ends with error diagnostics for a failed run (its error entries), a timeout or a
//! cancellation (Ctrl-C, or Terraform going away: the import keeps running on Woosmap's side).

use std::time::Duration;

use super::Configured;
use super::convert::{self, known_str};
use super::resource::{api_diag, failed_entries, log_event, private_key_needed};
use crate::woosmap::api::{RunStatus, Secret};
use crate::woosmap::import::{self, EngineError, Event, EventSink, ImportSpec, Sent, TriggerVia};
use crate::woosmap::knobs::Knobs;
use tfplugin::{ActionProgress, AttrPath, CancellationToken, Diagnostic, Diagnostics, Value};

/// `timeout`: the longest wait, as a duration (default 30m).
fn timeout(config: &Value) -> Result<Option<Duration>, Diagnostic> {
    convert::duration_at(
        config.attr("timeout"),
        AttrPath::attr("timeout"),
        "timeout",
        Duration::from_secs(1),
        import::MAX_TIMEOUT,
    )
}

/// Checks of the values that are known (values may be unknown at validation and plan).
pub fn validate(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let checks = [
        convert::dataset_id(config).map(|_| ()),
        convert::poll_interval(config).map(|_| ()),
        timeout(config).map(|_| ()),
        convert::reimport_key(config),
    ];
    for check in checks {
        if let Err(d) = check {
            diags.push(d);
        }
    }
    diags
}

/// PlanAction: the checks of [`validate`] plus the private key requirement; no API call.
pub fn plan(has_private_key: bool, config: &Value) -> Diagnostics {
    let mut diags = validate(config);
    if let Some(d) = private_key_needed(has_private_key, config) {
        diags.push(d);
    }
    diags
}

/// Whether a user wants `event` in Terraform's output. The status read before the trigger
/// (`Observed`) only goes to the log.
fn shown(event: &Event) -> bool {
    !matches!(event, Event::Observed { .. })
}

/// Engine events to the provider log, and the ones a user wants as progress messages.
fn progress_events(progress: ActionProgress) -> EventSink {
    EventSink::new(move |event| {
        if shown(&event) {
            progress.send(event.to_string());
        }
        log_event(event);
    })
}

/// The import described by `config` (fully known at invoke).
fn spec(config: &Value) -> Result<ImportSpec, Diagnostics> {
    let diags = validate(config);
    if diags.has_errors() {
        return Err(diags);
    }
    let dataset_id = match convert::dataset_id(config) {
        Ok(Some(id)) => id,
        _ => {
            return Err(Diagnostic::error(
                "Missing dataset_id",
                "dataset_id is required: the id (UUID) of the Woosmap dataset to import.",
            )
            .at(AttrPath::attr("dataset_id"))
            .into());
        }
    };
    let via = match known_str(config, "reimport_key") {
        Some(k) => TriggerVia::Webhook(Secret::new(k)),
        None => TriggerVia::Api,
    };
    Ok(ImportSpec {
        dataset_id,
        via,
        wait: config.attr("wait").as_bool().unwrap_or(true),
        poll_interval: convert::poll_interval(config)
            .ok()
            .flatten()
            .unwrap_or(import::DEFAULT_POLL_INTERVAL),
        timeout: timeout(config)
            .ok()
            .flatten()
            .unwrap_or(import::DEFAULT_TIMEOUT),
    })
}

/// InvokeAction: runs the import, reporting progress, until it ends, times out or `cancel`
/// fires.
pub async fn invoke(
    c: &Configured,
    config: &Value,
    progress: ActionProgress,
    cancel: CancellationToken,
) -> Diagnostics {
    let spec = match spec(config) {
        Ok(spec) => spec,
        Err(diags) => return diags,
    };
    if let Some(d) = private_key_needed(c.has_private_key, config) {
        return d.into();
    }
    let dataset_id = spec.dataset_id.clone();
    let wait = spec.wait;
    tracing::info!(dataset_id = %dataset_id, wait, "action: starting import");
    let result =
        import::run_import(&c.client, spec, progress_events(progress.clone()), cancel).await;
    let mut diags = Diagnostics::new();
    match result {
        Ok(outcome) => match &outcome.run {
            None => progress.send("not waiting for the import to finish (wait = false)"),
            Some(run) if run.status == RunStatus::Failed => diags.push(Diagnostic::error(
                format!("Import of dataset {dataset_id} failed"),
                format!(
                    "Woosmap reported run {} as failed:\n{}\nFix the source data or its URL, then invoke the action again.",
                    run.id,
                    failed_entries(run)
                ),
            )),
            Some(run) if run.status.is_undocumented() => diags.push(Diagnostic::error(
                format!(
                    "Import of dataset {dataset_id} ended with status {:?}",
                    run.status.as_str()
                ),
                format!(
                    "Woosmap reported run {} with the status {:?}, which its documentation does not list, and every step has ended. Check the run in the Woosmap console, then invoke the action again.",
                    run.id,
                    run.status.as_str()
                ),
            )),
            Some(_) => {}
        },
        Err(EngineError::Api(e)) => diags.push(api_diag(dataset_id.as_str(), &e)),
        Err(
            e @ EngineError::TimedOut {
                run: None,
                sent: Sent::AnswerUnknown,
                ..
            },
        ) => diags.push(engine_diag(
            format!(
                "A trigger of dataset {dataset_id} was sent but its answer was lost: an import \
                 may be running"
            ),
            &e,
            None,
        )),
        Err(e @ EngineError::TimedOut { .. }) => diags.push(engine_diag(
            format!("Import of dataset {dataset_id} did not finish in time"),
            &e,
            Some("The import keeps running on Woosmap's side."),
        )),
        Err(e @ EngineError::NotTriggered { .. }) => diags.push(engine_diag(
            "The timeout passed before an import could be triggered".to_owned(),
            &e,
            None,
        )),
        Err(e @ EngineError::Cancelled { .. }) => diags.push(engine_diag(
            format!("Stopped waiting for the import of dataset {dataset_id}"),
            &e,
            Some("Terraform was interrupted; the import keeps running on Woosmap's side."),
        )),
    }
    diags
}

/// An engine error as the action's error: `summary`, then the error's sentence (in the
/// action's words) followed by `then`.
fn engine_diag(summary: String, e: &EngineError, then: Option<&str>) -> Diagnostic {
    let sentence = Knobs::TERRAFORM_ACTION.word(&e.to_string());
    match then {
        Some(then) => Diagnostic::error(summary, format!("{sentence} {then}")),
        None => Diagnostic::error(summary, sentence),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, Value)]) -> Value {
        let names = "dataset_id reimport_key wait timeout poll_interval";
        crate::tfglue::config_with(names, pairs)
    }

    const ID: &str = "0b2d4b7e-8f7a-4c1e-9a56-3f1d2c3b4a59";

    #[test]
    fn validation_names_the_attribute() {
        let bad = config(&[
            ("dataset_id", Value::from("nope")),
            ("timeout", Value::from("soon")),
            ("poll_interval", Value::from("1ms")),
            ("reimport_key", Value::from(" ")),
        ]);
        let diags = validate(&bad);
        let summaries: Vec<_> = diags.iter().map(|d| d.summary.as_str()).collect();
        assert_eq!(
            summaries,
            [
                "Invalid dataset_id",
                "Invalid poll_interval",
                "Invalid timeout",
                "Empty reimport_key"
            ]
        );
        // unknown values are not judged
        let unknown = config(&[("dataset_id", Value::Unknown), ("timeout", Value::Unknown)]);
        assert!(validate(&unknown).is_empty());
        assert!(validate(&config(&[("dataset_id", Value::from(ID))])).is_empty());
    }

    #[test]
    fn plan_needs_a_key_unless_webhook_without_wait() {
        let api = config(&[("dataset_id", Value::from(ID))]);
        assert!(plan(true, &api).is_empty());
        assert_eq!(
            plan(false, &api).iter().next().unwrap().summary,
            "No Woosmap private key"
        );
        let webhook = config(&[
            ("dataset_id", Value::from(ID)),
            ("reimport_key", Value::from("k")),
            ("wait", Value::Bool(false)),
        ]);
        assert!(plan(false, &webhook).is_empty());
    }

    #[test]
    fn spec_defaults() {
        let spec = spec(&config(&[("dataset_id", Value::from(ID))])).unwrap();
        assert!(spec.wait);
        assert_eq!(spec.timeout, import::DEFAULT_TIMEOUT);
        assert_eq!(spec.poll_interval, import::DEFAULT_POLL_INTERVAL);
        assert!(matches!(spec.via, TriggerVia::Api));
    }
}
