//! Resource `woosmap_dataset_import`: validation, plan (when a new import runs), apply (run the
//! engine and record the run), read (refresh the recorded run), import (adopt the latest run)
//! and delete (forget).
//!
//! A new import runs on create, when `triggers` or `reimport_key` change, and when a run this
//! resource started failed (so a failed update does not converge silently; a failed run adopted
//! by `terraform import` is recorded, not retried). Plan marks the run attributes unknown
//! exactly when apply will run an import; apply runs one exactly then.
//!
//! Plan also settles what the framework would: `wait` and `poll_interval` left out of the
//! configuration plan back to their defaults, and `dataset_id` is compared as a UUID (any
//! accepted spelling of the recorded id is no change).

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::Configured;
use super::convert::{self, known_str};
use crate::woosmap::api::{ApiError, DatasetId, ErrorKind, Run, RunStatus, Secret};
use crate::woosmap::import::{self, EngineError, Event, EventSink, ImportSpec, Sent, TriggerVia};
use crate::woosmap::knobs::Knobs;
use tfplugin::{
    ApplyResourceChangeRequest, ApplyResourceChangeResponse, AttrPath, ClientCapabilities,
    Diagnostic, Diagnostics, ImportResourceStateRequest, ImportResourceStateResponse,
    ImportedResource, PlanResourceChangeRequest, PlanResourceChangeResponse, ReadResourceRequest,
    ReadResourceResponse, UpgradeResourceStateRequest, UpgradeResourceStateResponse, Value,
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
    /// The run adopted by import (the dataset's latest run then): recorded as it is, never
    /// retried even if it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    adopted_run: Option<String>,
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
            // Salted with the canonical id, so that respelling the id is no new key.
            let Ok(Some(id)) = convert::dataset_id(config) else {
                return Err(());
            };
            let mut h = Sha256::new();
            h.update(id.as_str());
            h.update([0]);
            h.update(k.as_bytes());
            Ok(Some(
                h.finalize().iter().map(|b| format!("{b:02x}")).collect(),
            ))
        }
        _ => Ok(None),
    }
}

/// The first Terraform release that knows write-only attributes (`reimport_key`).
pub const MIN_WRITE_ONLY_TERRAFORM: &str = "1.11";

/// Plan-time checks of values that are known. With `caps` (ValidateResourceConfig), also what
/// the calling Terraform supports: `reimport_key` is write-only, and a Terraform that does not
/// know write-only attributes would keep it in plan and state, so it is refused there.
pub fn validate(config: &Value, caps: Option<ClientCapabilities>) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if let Some(caps) = caps
        && !caps.write_only_attributes_allowed
        && !config.attr("reimport_key").is_null()
    {
        diags.push(
            Diagnostic::error(
                "reimport_key needs a newer Terraform",
                format!(
                    "reimport_key is a write-only argument, which needs Terraform {MIN_WRITE_ONLY_TERRAFORM} or later: this Terraform does not support write-only arguments and would store the key in plan files and state. Upgrade Terraform to {MIN_WRITE_ONLY_TERRAFORM}+, or remove reimport_key and trigger with the private key."
                ),
            )
            .at(AttrPath::attr("reimport_key")),
        );
    }
    let checks = [
        convert::dataset_id(config).map(|_| ()),
        convert::poll_interval(config).map(|_| ()),
        convert::timeout(config, "create").map(|_| ()),
        convert::timeout(config, "update").map(|_| ()),
        convert::reimport_key(config),
    ];
    for check in checks {
        if let Err(d) = check {
            diags.push(d);
        }
    }
    diags
}

fn wait_of(v: &Value) -> bool {
    v.attr("wait").as_bool().unwrap_or(true)
}

/// The defaults of optional attributes, applied at plan time when the configuration leaves
/// them out (as the framework's `Default` does): removing `wait = false` from the
/// configuration plans `wait` back to `true`.
fn apply_defaults(config: &Value, planned: &mut Value) {
    if config.attr("wait").is_null() {
        planned.set("wait", Value::Bool(true));
    }
    if config.attr("poll_interval").is_null() {
        planned.set("poll_interval", Value::string(DEFAULT_POLL_INTERVAL));
    }
}

/// The same dataset, spelled either way (case, braces, `urn:uuid:`, no hyphens).
fn same_dataset(a: &Value, b: &Value) -> bool {
    match (a.as_str(), b.as_str()) {
        (Some(a), Some(b)) => matches!(
            (crate::woosmap::api::DatasetId::parse(a), crate::woosmap::api::DatasetId::parse(b)),
            (Ok(a), Ok(b)) if a == b
        ),
        _ => false,
    }
}

/// The canonical spelling of a known dataset id value; other values as they are.
fn canonical_dataset(v: &Value) -> Value {
    match v.as_str().map(crate::woosmap::api::DatasetId::parse) {
        Some(Ok(id)) => Value::string(id.as_str()),
        _ => v.clone(),
    }
}

/// The identity of a resource whose state (or planned state) is `state`: its canonical
/// dataset id; none while the id is unknown or null.
pub fn identity_of(state: &Value) -> Option<Value> {
    let id = crate::woosmap::api::DatasetId::parse(state.get("dataset_id")?.as_str()?).ok()?;
    Some(Value::object([("dataset_id", Value::string(id.as_str()))]))
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
        diagnostics: validate(&req.config, None),
        ..Default::default()
    };
    if resp.diagnostics.has_errors() {
        resp.planned_state = req.proposed_new_state;
        return resp;
    }
    let prior = &req.prior_state;
    let mut planned = req.proposed_new_state.clone();
    apply_defaults(&req.config, &mut planned);
    // Semantic equality: another spelling of the recorded id keeps the recorded value
    // (Terraform accepts the prior value in place of an equivalent configured one).
    if !prior.is_null() && same_dataset(prior.attr("dataset_id"), planned.attr("dataset_id")) {
        planned.set("dataset_id", prior.attr("dataset_id").clone());
    }
    planned.set("id", canonical_dataset(planned.attr("dataset_id")));
    // Write-only: never in plan or state.
    planned.set("reimport_key", Value::Null);
    let fingerprint = key_fingerprint(&req.config);

    let private = Private::decode(&req.prior_private);
    let runs_import = if prior.is_null() {
        true
    } else {
        if !same_dataset(prior.attr("dataset_id"), planned.attr("dataset_id")) {
            // Another dataset, or one not known yet: a new resource.
            resp.requires_replace.push(AttrPath::attr("dataset_id"));
        }
        // Just imported: the first arguments recorded adopt the existing run.
        let adopting = private.imported && prior.attr("triggers").is_null();
        let triggers_changed = prior.attr("triggers") != planned.attr("triggers");
        let key_changed = fingerprint
            .as_ref()
            .map_or(true, |f| *f != private.key_sha256);
        let adopted = private.adopted_run.is_some()
            && known_str(prior, "run_id") == private.adopted_run.as_deref();
        let failed = known_str(prior, "status") == Some(RunStatus::Failed.as_str()) && !adopted;
        failed || (!adopting && (triggers_changed || key_changed))
    };
    if runs_import {
        convert::unknown_run(&mut planned);
        // Only a plan that sends something needs a key to send it with.
        if let Some(d) = private_key_needed(has_private_key, &req.config) {
            resp.diagnostics.push(d);
        }
    }
    resp.planned_private = Private {
        imported: private.imported && !runs_import && planned.attr("triggers").is_null(),
        key_sha256: fingerprint.unwrap_or_default(),
        adopted_run: if runs_import {
            None
        } else {
            private.adopted_run
        },
    }
    .encode();
    resp.planned_identity = identity_of(&planned);
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
    let spec = match import_spec(&req, &state, creating) {
        Ok(spec) => spec,
        Err(d) => return failed_apply(&req, d.into()),
    };
    let dataset_id = spec.dataset_id.clone();
    // A `woosmap_dataset` this provider process created (same apply): Woosmap may have started
    // its first import by itself; look for it before triggering (`import::adopt`).
    let fresh = creating && super::dataset::created_here(&dataset_id);
    let adopted = if fresh {
        adopt_creation_import(c, &spec, &stop, &mut resp.diagnostics).await
    } else {
        None
    };
    tracing::info!(dataset_id = %dataset_id, wait = spec.wait, "starting import");
    let result = match adopted {
        Some(result) => result,
        None => import::run_import(&c.client, spec, log_events(), stop.child_token()).await,
    };
    match result {
        Ok(outcome) => record_outcome(&mut state, &mut resp.diagnostics, &dataset_id, &outcome),
        Err(EngineError::Api(api)) => {
            return failed_apply(&req, api_diag(&dataset_id.to_string(), &api).into());
        }
        Err(e) => {
            let has_run = record_error(&mut state, &mut resp.diagnostics, &dataset_id, &e);
            if !creating && !has_run {
                // Nothing new to record: keep the prior state.
                resp.new_state = req.prior_state;
                return resp;
            }
        }
    }
    resp.new_state = state;
    resp
}

/// The import that apply runs, from the configuration and the planned state.
fn import_spec(
    req: &ApplyResourceChangeRequest,
    state: &Value,
    creating: bool,
) -> Result<ImportSpec, Diagnostic> {
    let dataset_id = match convert::dataset_id(&req.config)? {
        Some(id) => id,
        None => unreachable!("dataset_id is known at apply"),
    };
    let which = if creating { "create" } else { "update" };
    let timeout = convert::timeout(&req.config, which)?.unwrap_or(import::DEFAULT_TIMEOUT);
    let poll_interval = convert::poll_interval(state)?.unwrap_or(import::DEFAULT_POLL_INTERVAL);
    let via = match known_str(&req.config, "reimport_key") {
        Some(k) => TriggerVia::Webhook(Secret::new(k)),
        None => TriggerVia::Api,
    };
    Ok(ImportSpec {
        dataset_id,
        via,
        wait: wait_of(state),
        poll_interval,
        timeout,
    })
}

/// For a dataset created in this apply: the import Woosmap started by itself, if any (a
/// warning says which way it went). `None`: trigger one.
async fn adopt_creation_import(
    c: &Configured,
    spec: &ImportSpec,
    stop: &CancellationToken,
    diagnostics: &mut Diagnostics,
) -> Option<Result<import::Outcome, EngineError>> {
    let dataset_id = &spec.dataset_id;
    match import::adopt_creation_import(&c.client, spec, log_events(), stop.child_token()).await {
        Ok(import::CreationImport::Found(run)) => {
            diagnostics.push(Diagnostic::warning(
                format!("Adopted the import Woosmap started when dataset {dataset_id} was created"),
                format!(
                    "The dataset was created in this apply and Woosmap started its first import by itself (run {}, {}). This resource records that run instead of triggering a second import of the same data.",
                    run.id, run.status
                ),
            ));
            Some(Ok(import::Outcome {
                dataset_id: dataset_id.clone(),
                previous_run_id: None,
                run: Some(run),
                triggered: false,
            }))
        }
        Ok(import::CreationImport::None { grace }) => {
            diagnostics.push(Diagnostic::warning(
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
}

/// Records a finished (or, without waiting, triggered) import in the state; a failed run or
/// one with an undocumented final status is an error diagnostic.
fn record_outcome(
    state: &mut Value,
    diagnostics: &mut Diagnostics,
    dataset_id: &DatasetId,
    outcome: &import::Outcome,
) {
    let Some(run) = &outcome.run else {
        convert::set_run(state, None, Some("triggered"));
        return;
    };
    convert::set_run(state, Some(run), None);
    if run.status == RunStatus::Failed {
        diagnostics.push(Diagnostic::error(
            format!("Import of dataset {dataset_id} failed"),
            format!(
                "Woosmap reported run {} as failed:\n{}\nFix the source data or its URL, then apply again (the failed run is recorded, so the next plan runs a new import).",
                run.id,
                failed_entries(run)
            ),
        ));
    } else if run.status.is_undocumented() {
        diagnostics.push(Diagnostic::error(
            format!(
                "Import of dataset {dataset_id} ended with status {:?}",
                run.status.as_str()
            ),
            format!(
                "Woosmap reported run {} with the status {:?}, which its documentation does not list, and every step has ended. Check the run in the Woosmap console, then apply again.",
                run.id,
                run.status.as_str()
            ),
        ));
    }
}

/// Records an import that did not end (timed out, interrupted, never triggered): an error
/// diagnostic, and the run it was waiting for if there was one. Returns whether there was a
/// run. Not for [`EngineError::Api`], which changes nothing.
fn record_error(
    state: &mut Value,
    diagnostics: &mut Diagnostics,
    dataset_id: &DatasetId,
    e: &EngineError,
) -> bool {
    let (summary, run) = match e {
        EngineError::TimedOut {
            run: None,
            sent: Sent::AnswerUnknown,
            ..
        } => (
            format!(
                "A trigger of dataset {dataset_id} was sent but its answer was lost: an import \
                 may be running"
            ),
            None,
        ),
        EngineError::TimedOut { run, .. } => (
            format!("Import of dataset {dataset_id} did not finish in time"),
            run.as_ref(),
        ),
        EngineError::Cancelled { run, .. } => (
            format!("Stopped waiting for the import of dataset {dataset_id}"),
            run.as_ref(),
        ),
        EngineError::NotTriggered { .. } => (
            "The timeout passed before an import could be triggered".to_owned(),
            None,
        ),
        EngineError::Api(_) => unreachable!("apply reports an API error with failed_apply"),
    };
    let detail = match e {
        EngineError::Cancelled { .. } => format!(
            "{} Terraform was interrupted; the import keeps running on Woosmap's side.",
            Knobs::TERRAFORM.word(&e.to_string())
        ),
        _ => Knobs::TERRAFORM.word(&e.to_string()),
    };
    diagnostics.push(Diagnostic::error(summary, detail));
    match run {
        Some(run) => convert::set_run(state, Some(run), None),
        None => convert::set_run(state, None, Some("in_progress")),
    }
    run.is_some()
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
        new_identity: None,
    }
}

/// An API error as a diagnostic; the message is the error's sentence.
pub fn api_diag(dataset: &str, e: &ApiError) -> Diagnostic {
    Diagnostic::error(
        format!("Woosmap API error for dataset {dataset}"),
        Knobs::TERRAFORM.word(&e.to_string()),
    )
}

/// How long a refresh keeps retrying a transient fault before it settles for the recorded
/// state (shorter than an apply's wait: a plan should not hang on a flaky API).
const REFRESH_BUDGET: std::time::Duration = std::time::Duration::from_secs(15);

/// What version 1 of the state guarantees, applied to a state that may predate it: `id` and
/// `dataset_id` hold the canonical dataset id, and `wait` / `poll_interval` are never null.
fn normalise_state(state: &mut Value) {
    let canonical = canonical_dataset(state.attr("dataset_id"));
    state.set("id", canonical.clone());
    state.set("dataset_id", canonical);
    for name in ["wait", "poll_interval"] {
        if state.attr(name).is_null() {
            let default = if name == "wait" {
                Value::Bool(true)
            } else {
                Value::string(DEFAULT_POLL_INTERVAL)
            };
            state.set(name, default);
        }
    }
}

/// ReadResource: refresh the recorded run. Only the latest run is visible through the API: when
/// it is the recorded one, its status and steps are updated; when another run has started
/// since, the record stays as it is (no invented diff). A transient API fault keeps the
/// recorded state with a warning; a dataset the API no longer knows (404 after a run was
/// recorded) leaves the state, with a warning.
pub async fn read(c: &Configured, req: ReadResourceRequest) -> ReadResourceResponse {
    let mut new_state = req.current_state.clone();
    // State holds the canonical id whatever spelling created it.
    normalise_state(&mut new_state);
    let mut resp = ReadResourceResponse {
        new_state: Some(new_state.clone()),
        private: req.private.clone(),
        ..Default::default()
    };
    if !c.key_known {
        // No key, or one not known until apply: nothing to read with.
        return resp;
    }
    let Ok(Some(id)) = convert::dataset_id(&new_state) else {
        return resp;
    };
    let recorded = known_str(&new_state, "run_id").map(str::to_owned);
    let mut private = Private::decode(&req.private);
    let adopting = recorded.is_none() && private.imported;
    let deadline = tokio::time::Instant::now() + REFRESH_BUDGET;
    match c
        .client
        .status(&id, std::time::Duration::ZERO, deadline)
        .await
    {
        Ok(Some(run)) => {
            if recorded.as_deref() == Some(run.id.as_str()) || adopting {
                convert::set_run(&mut new_state, Some(&run), None);
                if adopting {
                    private.adopted_run = Some(run.id.clone());
                    resp.private = private.encode();
                    if run.status == RunStatus::Failed {
                        resp.diagnostics.push(Diagnostic::warning(
                            format!("The adopted run of dataset {id} failed"),
                            format!(
                                "Run {} is the dataset's latest run and it failed:\n{}\nImporting records it as it is and triggers nothing. Change triggers (or replace the resource) to run a new import.",
                                run.id,
                                failed_entries(&run)
                            ),
                        ));
                    }
                }
            }
        }
        Ok(None) if recorded.is_some() || adopting => {
            resp.diagnostics.push(Diagnostic::warning(
                format!("Dataset {id} not found"),
                format!(
                    "The status endpoint answered 404 for dataset {id}: the dataset was deleted, or the private key belongs to another Woosmap project. The resource is removed from the state; the next apply creates it again, and its trigger will say what is wrong if the dataset is still missing."
                ),
            ));
            resp.new_state = None;
            resp.private = Vec::new();
            return resp;
        }
        Ok(None) => {}
        Err(e) if matches!(e.kind(), ErrorKind::Transient | ErrorKind::Timeout) => {
            resp.diagnostics.push(Diagnostic::warning(
                format!("Could not refresh the import of dataset {id}"),
                format!(
                    "{} The recorded state is kept as it is; the next refresh tries again.",
                    Knobs::TERRAFORM.word(&e.to_string())
                ),
            ));
            return resp;
        }
        Err(e) => {
            resp.diagnostics.push(api_diag(id.as_str(), &e));
            return resp;
        }
    }
    resp.new_state = Some(new_state);
    resp
}

/// UpgradeResourceState. Version 0 (the first release) stored `dataset_id` and `id` as
/// configured, in any spelling the provider accepts; version 1 stores the canonical id (and
/// `wait` / `poll_interval` never null). A state written by a newer provider is refused.
pub fn upgrade(req: &UpgradeResourceStateRequest) -> UpgradeResourceStateResponse {
    if req.version > req.schema.version {
        let mut refused = UpgradeResourceStateResponse::default();
        refused.diagnostics.push(Diagnostic::error(
            "Resource state is from a newer provider",
            format!(
                "The stored state of this {} has schema version {}, but this version of the woosmap provider only reads versions 0 to {}: the state was written by a newer release. Use that release (or a later one) of woosmap/woosmap; downgrading the provider would lose what the newer state records.",
                req.type_name, req.version, req.schema.version
            ),
        ));
        return refused;
    }
    let mut resp = tfplugin::default_upgrade(req);
    if req.version < 1 && !resp.diagnostics.has_errors() {
        normalise_state(&mut resp.state);
    }
    resp
}

/// ImportResourceState: by id (the dataset id) or by identity (`dataset_id`, Terraform
/// 1.12+); the following read adopts the latest run.
pub fn import(req: ImportResourceStateRequest) -> ImportResourceStateResponse {
    let mut resp = ImportResourceStateResponse::default();
    let by_identity = req.id.is_empty() && !req.identity.is_null();
    let given = if by_identity {
        req.identity.attr("dataset_id").as_str().unwrap_or_default()
    } else {
        req.id.as_str()
    };
    let id = match crate::woosmap::api::DatasetId::parse(given) {
        Ok(id) => id,
        Err(e) if by_identity => {
            resp.diagnostics.push(
                Diagnostic::error(
                    "Invalid identity",
                    format!("identity.dataset_id must be the dataset's id (a UUID): {e}."),
                )
                .at(AttrPath::attr("dataset_id")),
            );
            return resp;
        }
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
        identity: identity_of(&state),
        state,
        private: Private {
            imported: true,
            ..Private::default()
        }
        .encode(),
    });
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn upgrade_request(version: i64, raw: serde_json::Value) -> UpgradeResourceStateRequest {
        UpgradeResourceStateRequest {
            type_name: IMPORT_RESOURCE.to_owned(),
            version,
            raw_state: raw,
            schema: Arc::new(super::super::schema::import_resource()),
        }
    }

    #[test]
    fn v0_state_gets_the_canonical_id_and_defaults() {
        let raw = serde_json::json!({
            "dataset_id": "{6F1D3C2A-8B4E-4F7A-9C1D-2E5B8A7F0C13}",
            "id": "{6F1D3C2A-8B4E-4F7A-9C1D-2E5B8A7F0C13}",
            "run_id": "r1",
            "status": "success",
        });
        let out = upgrade(&upgrade_request(0, raw));
        assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
        let canonical = "6f1d3c2a-8b4e-4f7a-9c1d-2e5b8a7f0c13";
        assert_eq!(out.state.attr("dataset_id").as_str(), Some(canonical));
        assert_eq!(out.state.attr("id").as_str(), Some(canonical));
        assert_eq!(out.state.attr("wait").as_bool(), Some(true));
        assert_eq!(out.state.attr("poll_interval").as_str(), Some("5s"));
        assert_eq!(out.state.attr("run_id").as_str(), Some("r1"));
    }

    #[test]
    fn reimport_key_needs_a_terraform_with_write_only_support() {
        let config = Value::object([
            (
                "dataset_id",
                Value::from("6f1d3c2a-8b4e-4f7a-9c1d-2e5b8a7f0c13"),
            ),
            ("reimport_key", Value::Unknown),
        ]);
        let old = ClientCapabilities::default();
        let diags = validate(&config, Some(old));
        let d = diags.iter().next().expect("an error");
        assert!(d.detail.contains("Terraform 1.11 or later"), "{}", d.detail);
        assert_eq!(d.attribute, Some(AttrPath::attr("reimport_key")));
        let new = ClientCapabilities {
            write_only_attributes_allowed: true,
            ..old
        };
        assert!(validate(&config, Some(new)).is_empty());
        // Without reimport_key any Terraform will do.
        let plain = Value::object([(
            "dataset_id",
            Value::from("6f1d3c2a-8b4e-4f7a-9c1d-2e5b8a7f0c13"),
        )]);
        assert!(validate(&plain, Some(old)).is_empty());
    }

    #[test]
    fn a_newer_state_is_refused_naming_both_versions() {
        let out = upgrade(&upgrade_request(2, serde_json::json!({})));
        assert!(out.diagnostics.has_errors());
        let d = out.diagnostics.iter().next().unwrap();
        assert_eq!(d.summary, "Resource state is from a newer provider");
        assert!(d.detail.contains("schema version 2"), "{}", d.detail);
        assert!(d.detail.contains("versions 0 to 1"), "{}", d.detail);
    }
}
