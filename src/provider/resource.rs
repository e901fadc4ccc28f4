//! Resource `woosmap_dataset_import`: validation, plan (when a new import runs), apply (run the
//! engine and record the run), read (refresh the recorded run), import (adopt the latest run)
//! and delete (forget).
//!
//! A new import runs on create, when `triggers` or `reimport_key` change, and when the recorded
//! run failed (so a failed update does not converge silently). Plan marks the run attributes
//! unknown exactly when apply will run an import; apply runs one exactly then.

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::Configured;
use super::convert::{self, known_str};
use crate::api::{ApiError, Run, RunStatus, Secret};
use crate::engine::{self, EngineError, Event, EventSink, ImportSpec, TriggerVia};
use tfplugin::{
    ApplyResourceChangeRequest, ApplyResourceChangeResponse, AttrPath, Diagnostic, Diagnostics,
    ImportResourceStateRequest, ImportResourceStateResponse, ImportedResource,
    PlanResourceChangeRequest, PlanResourceChangeResponse, ReadResourceRequest,
    ReadResourceResponse, Value,
};

use super::schema::IMPORT_RESOURCE;

const DEFAULT_POLL_INTERVAL: &str = "5s";

/// Private data kept with the state between operations.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct Private {
    /// Set by import: the first `triggers` and `reimport_key` recorded afterwards do not run an
    /// import.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    imported: bool,
    /// SHA-256 of the dataset id and the write-only `reimport_key`, to notice a new key
    /// without storing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_sha256: Option<String>,
}

impl Private {
    fn decode(bytes: &[u8]) -> Private {
        serde_json::from_slice(bytes).unwrap_or_default()
    }
    fn encode(&self) -> Vec<u8> {
        if *self == Private::default() {
            return Vec::new();
        }
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// What the configured `reimport_key` looks like in private data: `Err(())` while unknown.
fn key_fingerprint(config: &Value) -> Result<Option<String>, ()> {
    use sha2::{Digest, Sha256};
    match config.attr("reimport_key") {
        Value::Unknown => Err(()),
        Value::String(k) => {
            let mut h = Sha256::new();
            h.update(config.attr("dataset_id").as_str().unwrap_or_default());
            h.update([0]);
            h.update(k.as_bytes());
            Ok(Some(
                h.finalize().iter().map(|b| format!("{b:02x}")).collect(),
            ))
        }
        _ => Ok(None),
    }
}

/// Plan-time checks of values that are known.
pub fn validate(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let checks = [
        convert::dataset_id(config).map(|_| ()),
        convert::poll_interval(config).map(|_| ()),
        convert::timeout(config, "create").map(|_| ()),
        convert::timeout(config, "update").map(|_| ()),
    ];
    for check in checks {
        if let Err(d) = check {
            diags.push(d);
        }
    }
    if let Some(k) = known_str(config, "reimport_key")
        && k.trim().is_empty()
    {
        diags.push(
            Diagnostic::error(
                "Empty reimport_key",
                "reimport_key is empty: set it to the dataset's reimport key, or leave it out to trigger with the private key.",
            )
            .at(AttrPath::attr("reimport_key")),
        );
    }
    diags
}

fn wait_of(v: &Value) -> bool {
    v.attr("wait").as_bool().unwrap_or(true)
}

/// The error when an import configured as `config` (resource or action) needs the private
/// key and the provider has none: only `reimport_key` with `wait = false` works without it.
pub(super) fn private_key_needed(has_private_key: bool, config: &Value) -> Option<Diagnostic> {
    let webhook_without_wait =
        !config.attr("reimport_key").is_null() && config.attr("wait").as_bool() == Some(false);
    (!has_private_key && !webhook_without_wait).then(|| Diagnostic::error(
            "No Woosmap private key",
            "Set private_key in the woosmap provider block or the WOOSMAP_PRIVATE_KEY environment variable: a private key with write permission is needed to trigger imports and read their status (only reimport_key with wait = false works without it).",
        ))
}

/// PlanResourceChange.
pub fn plan(has_private_key: bool, req: PlanResourceChangeRequest) -> PlanResourceChangeResponse {
    let mut resp = PlanResourceChangeResponse {
        diagnostics: validate(&req.config),
        ..Default::default()
    };
    if resp.diagnostics.has_errors() {
        resp.planned_state = req.proposed_new_state;
        return resp;
    }
    let mut planned = req.proposed_new_state.clone();
    if planned.attr("wait").is_null() {
        planned.set("wait", Value::Bool(true));
    }
    if planned.attr("poll_interval").is_null() {
        planned.set("poll_interval", Value::string(DEFAULT_POLL_INTERVAL));
    }
    let dataset = planned.attr("dataset_id").clone();
    planned.set("id", dataset);
    // Write-only: never in plan or state.
    planned.set("reimport_key", Value::Null);
    let fingerprint = key_fingerprint(&req.config);

    if let Some(d) = private_key_needed(has_private_key, &req.config) {
        resp.diagnostics.push(d);
    }

    let prior = &req.prior_state;
    let private = Private::decode(&req.prior_private);
    let runs_import = if prior.is_null() {
        true
    } else {
        if prior.attr("dataset_id") != planned.attr("dataset_id") {
            resp.requires_replace.push(AttrPath::attr("dataset_id"));
        }
        // Just imported: the first arguments recorded adopt the existing run.
        let adopting = private.imported && prior.attr("triggers").is_null();
        let triggers_changed = prior.attr("triggers") != planned.attr("triggers");
        let key_changed = fingerprint
            .as_ref()
            .map_or(true, |f| *f != private.key_sha256);
        let failed = known_str(prior, "status") == Some(RunStatus::Failed.as_str());
        failed || (!adopting && (triggers_changed || key_changed))
    };
    if runs_import {
        convert::unknown_run(&mut planned);
    }
    resp.planned_private = Private {
        imported: private.imported && !runs_import && planned.attr("triggers").is_null(),
        key_sha256: fingerprint.unwrap_or_default(),
    }
    .encode();
    resp.planned_state = planned;
    resp
}

/// Logs engine progress; Terraform shows these lines with TF_LOG and in its log file.
fn log_events() -> EventSink {
    EventSink::new(log_event)
}

/// Logs one engine event (error entries as warnings).
pub(super) fn log_event(event: Event) {
    match &event {
        Event::Entry { entry, step, .. } if entry.level == "error" => {
            tracing::warn!(dataset_id = %event.dataset_id(), step = %step, "{}", entry.detail);
        }
        _ => tracing::info!(dataset_id = %event.dataset_id(), "{event}"),
    }
}

/// The error entries of a run's failed steps, one per line.
pub(super) fn failed_entries(run: &Run) -> String {
    let lines: Vec<String> = run
        .failed_entries()
        .into_iter()
        .map(|(step, e)| format!("  [{}] {}: {}", step.name, e.created_at, e.detail))
        .collect();
    if lines.is_empty() {
        "  (the failed step logged no error entry)".to_owned()
    } else {
        lines.join("\n")
    }
}

/// ApplyResourceChange for create and update.
pub async fn apply(
    c: &Configured,
    req: ApplyResourceChangeRequest,
    stop: CancellationToken,
) -> ApplyResourceChangeResponse {
    let mut state = req.planned_state.clone();
    // What plan settled for private data (the key fingerprint, the import mark).
    let mut resp = ApplyResourceChangeResponse {
        private: req.planned_private.clone(),
        ..Default::default()
    };
    if state.attr("run_id").is_known() {
        // The plan ran no import: record the new arguments and keep the run.
        resp.new_state = state;
        return resp;
    }
    let creating = req.prior_state.is_null();
    let dataset_id = match convert::dataset_id(&req.config) {
        Ok(Some(id)) => id,
        Ok(None) => unreachable!("dataset_id is known at apply"),
        Err(d) => return failed_apply(&req, d.into()),
    };
    let which = if creating { "create" } else { "update" };
    let timeout = match convert::timeout(&req.config, which) {
        Ok(t) => t.unwrap_or(engine::DEFAULT_TIMEOUT),
        Err(d) => return failed_apply(&req, d.into()),
    };
    let poll_interval = match convert::poll_interval(&state) {
        Ok(p) => p.unwrap_or(engine::DEFAULT_POLL_INTERVAL),
        Err(d) => return failed_apply(&req, d.into()),
    };
    let via = match known_str(&req.config, "reimport_key") {
        Some(k) => TriggerVia::Webhook(Secret::new(k)),
        None => TriggerVia::Api,
    };
    let wait = wait_of(&state);
    let spec = ImportSpec {
        dataset_id: dataset_id.clone(),
        via,
        wait,
        poll_interval,
        timeout,
    };
    // A `woosmap_dataset` this provider process created (same apply): Woosmap may have started
    // its first import by itself; look for it before triggering (`engine::adopt`).
    let fresh = creating && super::dataset::created_here(&dataset_id);
    let adopted = if fresh {
        match engine::adopt_creation_import(&c.client, &spec, log_events(), stop.child_token())
            .await
        {
            Ok(engine::CreationImport::Found(run)) => {
                resp.diagnostics.push(Diagnostic::warning(
                    format!("Adopted the import Woosmap started when dataset {dataset_id} was created"),
                    format!(
                        "The dataset was created in this apply and Woosmap started its first import by itself (run {}, {}). This resource records that run instead of triggering a second import of the same data.",
                        run.id, run.status
                    ),
                ));
                Some(Ok(engine::Outcome {
                    dataset_id: dataset_id.clone(),
                    previous_run_id: None,
                    run: Some(run),
                    triggered: false,
                }))
            }
            Ok(engine::CreationImport::None { grace }) => {
                resp.diagnostics.push(Diagnostic::warning(
                    format!("Dataset {dataset_id} had no import yet: triggered one"),
                    format!(
                        "The dataset was created in this apply. Woosmap did not start an import by itself within {} of status reads, so this resource triggered the first import.",
                        humantime::format_duration(grace)
                    ),
                ));
                None
            }
            Err(e) => Some(Err(e)),
        }
    } else {
        None
    };
    tracing::info!(dataset_id = %dataset_id, wait, "starting import");
    let result = match adopted {
        Some(result) => result,
        None => engine::run_import(&c.client, spec, log_events(), stop.child_token()).await,
    };
    match result {
        Ok(outcome) => match &outcome.run {
            None => convert::set_run(&mut state, None, Some("triggered")),
            Some(run) => {
                convert::set_run(&mut state, Some(run), None);
                if run.status == RunStatus::Failed {
                    resp.diagnostics.push(Diagnostic::error(
                        format!("Import of dataset {dataset_id} failed"),
                        format!(
                            "Woosmap reported run {} as failed:\n{}\nFix the source data or its URL, then apply again (the failed run is recorded, so the next plan runs a new import).",
                            run.id,
                            failed_entries(run)
                        ),
                    ));
                }
            }
        },
        Err(e) => {
            let (summary, run) = match &e {
                EngineError::TimedOut { run, .. } => (
                    format!("Import of dataset {dataset_id} did not finish in time"),
                    run.as_ref(),
                ),
                EngineError::Cancelled { run } => (
                    format!("Stopped waiting for the import of dataset {dataset_id}"),
                    run.as_ref(),
                ),
                EngineError::Api(api) => {
                    return failed_apply(&req, api_diag(&dataset_id.to_string(), api).into());
                }
            };
            let detail = match &e {
                EngineError::Cancelled { .. } => format!(
                    "{e} Terraform was interrupted; the import keeps running on Woosmap's side."
                ),
                _ => e.to_string(),
            };
            resp.diagnostics.push(Diagnostic::error(summary, detail));
            match run {
                Some(run) => convert::set_run(&mut state, Some(run), None),
                None => convert::set_run(&mut state, None, Some("in_progress")),
            }
            if !creating && run.is_none() {
                // Nothing new to record: keep the prior state.
                resp.new_state = req.prior_state;
                return resp;
            }
        }
    }
    resp.new_state = state;
    resp
}

/// An apply that failed before or without a new run: nothing changed.
fn failed_apply(
    req: &ApplyResourceChangeRequest,
    diagnostics: Diagnostics,
) -> ApplyResourceChangeResponse {
    ApplyResourceChangeResponse {
        new_state: req.prior_state.clone(),
        private: Vec::new(),
        diagnostics,
    }
}

/// An API error as a diagnostic; the message is the error's sentence.
pub fn api_diag(dataset: &str, e: &ApiError) -> Diagnostic {
    Diagnostic::error(
        format!("Woosmap API error for dataset {dataset}"),
        e.to_string(),
    )
}

/// ReadResource: refresh the recorded run. Only the latest run is visible through the API: when
/// it is the recorded one, its status and steps are updated; when another run has started
/// since, the record stays as it is (no invented diff).
pub async fn read(c: &Configured, req: ReadResourceRequest) -> ReadResourceResponse {
    let mut resp = ReadResourceResponse {
        new_state: Some(req.current_state.clone()),
        private: req.private.clone(),
        ..Default::default()
    };
    if !c.has_private_key {
        return resp;
    }
    let state = &req.current_state;
    let Ok(Some(id)) = convert::dataset_id(state) else {
        return resp;
    };
    let recorded = known_str(state, "run_id").map(str::to_owned);
    let imported = Private::decode(&req.private).imported;
    let mut new_state = state.clone();
    match engine::latest_run(&c.client, &id).await {
        Ok(Some(run)) => {
            if recorded.as_deref() == Some(run.id.as_str()) || (recorded.is_none() && imported) {
                convert::set_run(&mut new_state, Some(&run), None);
            }
        }
        Ok(None) => {
            if recorded.is_some() {
                resp.diagnostics.push(Diagnostic::warning(
                    format!("Dataset {id} reports no import run"),
                    "The status endpoint answered 404 for this dataset: it may have been deleted. The recorded run is kept.",
                ));
            }
        }
        Err(e) => {
            resp.diagnostics.push(api_diag(id.as_str(), &e));
            return resp;
        }
    }
    for name in ["wait", "poll_interval"] {
        if new_state.attr(name).is_null() {
            let default = if name == "wait" {
                Value::Bool(true)
            } else {
                Value::string(DEFAULT_POLL_INTERVAL)
            };
            new_state.set(name, default);
        }
    }
    resp.new_state = Some(new_state);
    resp
}

/// ImportResourceState: the id is the dataset id; the following read adopts the latest run.
pub fn import(req: ImportResourceStateRequest) -> ImportResourceStateResponse {
    let mut resp = ImportResourceStateResponse::default();
    let id = match crate::api::DatasetId::parse(&req.id) {
        Ok(id) => id,
        Err(e) => {
            resp.diagnostics.error(
                "Invalid import id",
                format!("Import woosmap_dataset_import by its dataset id: {e}."),
            );
            return resp;
        }
    };
    let mut state = Value::object([
        ("id", Value::string(id.as_str())),
        ("dataset_id", Value::string(id.as_str())),
        ("wait", Value::Bool(true)),
        ("poll_interval", Value::string(DEFAULT_POLL_INTERVAL)),
    ]);
    convert::set_run(&mut state, None, None);
    resp.imported.push(ImportedResource {
        type_name: IMPORT_RESOURCE.to_owned(),
        state,
        private: Private {
            imported: true,
            ..Private::default()
        }
        .encode(),
    });
    resp
}
