//! Resource `woosmap_dataset`: the dataset itself (name, source URL, schema mapping) through
//! the dataset management calls: schema, plan-time validation, create (POST), refresh (GET;
//! drift in name and url shows in the plan), in-place update of name and url (PUT), destroy
//! (DELETE schedules deletion: Woosmap deletes the dataset 7 days later; "already scheduled" is
//! success) and import by id.
//!
//! A dataset found gone (404) or scheduled for deletion on refresh leaves the state with a
//! warning, so the next plan creates it again. `schema_mapping` cannot be changed by PUT: a
//! change replaces the dataset. The API does not return it, so an imported dataset adopts the
//! configured mapping on its first plan instead of being replaced.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::Configured;
use super::convert;
use crate::woosmap::api::datasets::{MAX_URL_LEN, SCHEMA_KEYS, check_dataset_url};
use crate::woosmap::api::{
    Action, ApiError, Dataset, DatasetChanges, DatasetId, DatasetOp, Deletion, Instant, NewDataset,
    SchemaMapping,
};
use tfplugin::{
    ApplyResourceChangeRequest, ApplyResourceChangeResponse, AttrPath, AttrType, Attribute, Block,
    Diagnostic, Diagnostics, IdentityAttribute, IdentitySchema, ImportResourceStateRequest,
    ImportResourceStateResponse, ImportedResource, ListResourceRequest, ListResourceResponse,
    ListResult, PlanResourceChangeRequest, PlanResourceChangeResponse, ReadResourceRequest,
    ReadResourceResponse, Schema, Value,
};

/// Resource type name.
pub const DATASET_RESOURCE: &str = "woosmap_dataset";

/// How long one dataset call may take, pacing included (many resources queue for the same
/// 1-per-second endpoint in a large apply).
pub const CALL_BUDGET: Duration = Duration::from_secs(15 * 60);

/// The datasets this process created (Terraform runs one provider process per apply, so a
/// `woosmap_dataset_import` chained on a dataset created in the same apply finds it here).
static CREATED_HERE: OnceLock<Mutex<HashSet<DatasetId>>> = OnceLock::new();

fn created() -> std::sync::MutexGuard<'static, HashSet<DatasetId>> {
    CREATED_HERE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// Whether this process created the dataset (see `engine::adopt_creation_import`).
pub fn created_here(id: &DatasetId) -> bool {
    created().contains(id)
}

/// The identity of `woosmap_dataset` (Terraform 1.12+): its id.
pub fn identity_schema() -> IdentitySchema {
    IdentitySchema::new([
        IdentityAttribute::required("id", AttrType::String).description("The dataset id (UUID).")
    ])
}

/// The identity of a dataset whose state (or planned state) is `state`, once its id is known.
pub fn identity_of(state: &Value) -> Option<Value> {
    let id = DatasetId::parse(state.get("id")?.as_str()?).ok()?;
    Some(Value::object([("id", Value::string(id.as_str()))]))
}

/// The type of `schema_mapping`.
pub fn schema_mapping_type() -> AttrType {
    AttrType::list(AttrType::object([
        ("schema_key", AttrType::String),
        ("data_key", AttrType::String),
    ]))
}

/// The schema of `woosmap_dataset`.
pub fn schema() -> Schema {
    Schema::new(
        Block::new()
            .description("A Woosmap dataset: its name, the URL Woosmap fetches its data from, and how the data's keys map to the dataset schema. Destroying it schedules its deletion: Woosmap deletes the dataset 7 days later.")
            .attribute(Attribute::new("id", AttrType::String).computed().description("The dataset id (UUID)."))
            .attribute(Attribute::new("name", AttrType::String).required().description("Friendly name of the dataset. Changed in place."))
            .attribute(Attribute::new("url", AttrType::String).required().description(format!("URL of the data Woosmap fetches on each import: an absolute http(s) URL of at most {MAX_URL_LEN} characters. Changed in place.")))
            .attribute(Attribute::new("schema_mapping", schema_mapping_type()).optional().description("Which keys of the data fill the dataset schema: a list of objects with `schema_key` (only `title` is known) and `data_key` (the key in the data). The API cannot change it: a change replaces the dataset."))
            .attribute(Attribute::new("reimport_key", AttrType::String).computed().sensitive().description("The dataset's reimport key, for the reimport webhook (for example `woosmap_dataset_import.reimport_key`)."))
            .attribute(Attribute::new("created_at", AttrType::String).computed().description("When the dataset was created (RFC 3339)."))
            .attribute(Attribute::new("updated_at", AttrType::String).computed().description("When the dataset was last updated (RFC 3339)."))
    )
}

/// Private data kept with the state.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct Private {
    /// Set by import: the API does not tell the schema mapping, so the first plan records the
    /// configured one instead of replacing the dataset.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    imported: bool,
}

impl Private {
    fn decode(bytes: &[u8]) -> Private {
        serde_json::from_slice(bytes).unwrap_or_default()
    }
    fn encode(&self) -> Vec<u8> {
        if *self == Private::default() {
            Vec::new()
        } else {
            serde_json::to_vec(self).unwrap_or_default()
        }
    }
}

/// Plan-time checks of the known values: a non-empty name, a usable URL, known schema keys.
pub fn validate(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if convert::is_blank(config, "name") {
        let why = "name must not be empty: give the dataset a friendly name.";
        diags.push(Diagnostic::error("Invalid name", why).at(AttrPath::attr("name")));
    }
    if let Some(url) = config.attr("url").as_str()
        && let Err(why) = check_dataset_url(url)
    {
        diags.push(Diagnostic::error("Invalid url", format!("{why}.")).at(AttrPath::attr("url")));
    }
    if let Some(items) = config.attr("schema_mapping").as_list() {
        for (i, item) in items.iter().enumerate() {
            let at = |field: &str| {
                AttrPath::attr("schema_mapping")
                    .index(i as i64)
                    .then_attr(field)
            };
            if let Some(key) = item.attr("schema_key").as_str()
                && !SCHEMA_KEYS.contains(&key)
            {
                diags.push(
                    Diagnostic::error(
                        "Invalid schema_key",
                        format!(
                            "schema_mapping[{i}].schema_key must be one of {}; got {key:?}.",
                            SCHEMA_KEYS
                                .iter()
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                    .at(at("schema_key")),
                );
            }
            if item.attr("schema_key").is_null() && item.is_known() && !item.is_null() {
                diags.push(
                    Diagnostic::error(
                        "Missing schema_key",
                        format!("schema_mapping[{i}].schema_key is required (`title`)."),
                    )
                    .at(at("schema_key")),
                );
            }
            match item.attr("data_key") {
                Value::String(k) if k.trim().is_empty() => diags.push(
                    Diagnostic::error(
                        "Invalid data_key",
                        format!("schema_mapping[{i}].data_key must name a key of the data; it is empty."),
                    )
                    .at(at("data_key")),
                ),
                Value::Null if item.is_known() && !item.is_null() => diags.push(
                    Diagnostic::error(
                        "Missing data_key",
                        format!("schema_mapping[{i}].data_key is required: the key of the data that fills `schema_key`."),
                    )
                    .at(at("data_key")),
                ),
                _ => {}
            }
        }
    }
    diags
}

/// The computed attributes that a create fills.
const COMPUTED: [&str; 4] = ["id", "reimport_key", "created_at", "updated_at"];

/// PlanResourceChange.
pub fn plan(has_private_key: bool, req: PlanResourceChangeRequest) -> PlanResourceChangeResponse {
    let mut resp = PlanResourceChangeResponse {
        diagnostics: validate(&req.config),
        planned_private: req.prior_private.clone(),
        ..Default::default()
    };
    let mut planned = req.proposed_new_state.clone();
    if resp.diagnostics.has_errors() {
        resp.planned_state = planned;
        return resp;
    }
    if !has_private_key {
        resp.diagnostics.push(Diagnostic::error(
            "No Woosmap private key",
            "Set private_key in the woosmap provider block or the WOOSMAP_PRIVATE_KEY environment variable: managing datasets needs a private key with write permission.",
        ));
    }
    let prior = &req.prior_state;
    if prior.is_null() {
        for name in COMPUTED {
            planned.set(name, Value::Unknown);
        }
        resp.planned_private = Vec::new();
    } else {
        let private = Private::decode(&req.prior_private);
        let mapping_changed = prior.attr("schema_mapping") != planned.attr("schema_mapping");
        let adopting = private.imported && prior.attr("schema_mapping").is_null();
        if mapping_changed && !adopting {
            resp.requires_replace.push(AttrPath::attr("schema_mapping"));
            for name in COMPUTED {
                planned.set(name, Value::Unknown);
            }
        } else if prior.attr("name") != planned.attr("name")
            || prior.attr("url") != planned.attr("url")
        {
            planned.set("updated_at", Value::Unknown);
        }
        resp.planned_private = Private {
            imported: private.imported && planned.attr("schema_mapping").is_null(),
        }
        .encode();
    }
    resp.planned_identity = identity_of(&planned);
    resp.planned_state = planned;
    resp
}

fn deadline() -> Instant {
    Instant::now() + CALL_BUDGET
}

/// Why a call gave no answer.
enum Failed {
    /// Terraform was interrupted first.
    Interrupted,
    Api(ApiError),
}

impl Failed {
    fn diag(&self) -> Diagnostic {
        match self {
            Failed::Interrupted => Diagnostic::error(
                "Interrupted",
                "Terraform was interrupted before Woosmap answered; the request may still have been processed.",
            ),
            Failed::Api(e) => error_diag(e),
        }
    }
}

/// Runs `fut` unless Terraform is interrupted first.
async fn stoppable<T>(
    stop: &CancellationToken,
    fut: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, Failed> {
    tokio::select! {
        biased;
        _ = stop.cancelled() => Err(Failed::Interrupted),
        r = fut => r.map_err(Failed::Api),
    }
}

/// A dataset API error as a diagnostic; the detail is the error's sentence.
pub fn error_diag(e: &ApiError) -> Diagnostic {
    let summary = match e.action().and_then(Action::dataset_op) {
        Some(DatasetOp::Create) => "Could not create the Woosmap dataset",
        Some(DatasetOp::Get) => "Could not read the Woosmap dataset",
        Some(DatasetOp::Update) => "Could not update the Woosmap dataset",
        Some(DatasetOp::Delete) => "Could not delete the Woosmap dataset",
        Some(DatasetOp::List) => "Could not list the Woosmap datasets",
        None => "The Woosmap API call failed",
    };
    Diagnostic::error(summary, e.to_string())
}

/// The error for a dataset id the API answered 404 for, at the attribute that gave the id.
pub fn dataset_not_found(id: impl std::fmt::Display, attribute: &str) -> Diagnostic {
    Diagnostic::error(
        format!("Dataset {id} not found"),
        "Woosmap answered 404: no dataset has this id in the private key's project (it may have been deleted).",
    )
    .at(AttrPath::attr(attribute))
}

/// The state of a dataset: the API's values, with `schema_mapping` kept from `base`.
fn state_of(base: &Value, d: &Dataset) -> Value {
    let mut state = base.clone();
    state.set("id", Value::string(d.id.as_str()));
    state.set("name", Value::string(&d.name));
    state.set("url", Value::opt_string(d.url.clone()));
    state.set(
        "reimport_key",
        Value::opt_string(d.reimport_key.as_ref().map(|k| k.expose().to_owned())),
    );
    state.set("created_at", Value::string(&d.created_at));
    state.set(
        "updated_at",
        Value::opt_string(d.updated_at.clone().or_else(|| Some(d.created_at.clone()))),
    );
    // `schema_mapping` stays as configured (the API does not return it).
    if !state.attr("schema_mapping").is_known() {
        state.set("schema_mapping", Value::Null);
    }
    state
}

fn mapping_of(config: &Value) -> Option<Vec<SchemaMapping>> {
    let items = config.attr("schema_mapping").as_list()?;
    Some(
        items
            .iter()
            .map(|i| SchemaMapping {
                schema_key: i.attr("schema_key").as_str().unwrap_or_default().to_owned(),
                data_key: i.attr("data_key").as_str().unwrap_or_default().to_owned(),
            })
            .collect(),
    )
}

/// ApplyResourceChange: create, update (name, url) or destroy (schedule deletion).
pub async fn apply(
    c: &Configured,
    req: ApplyResourceChangeRequest,
    stop: CancellationToken,
) -> ApplyResourceChangeResponse {
    if req.planned_state.is_null() {
        return destroy(c, req, &stop).await;
    }
    // What plan settled for private data.
    let resp = ApplyResourceChangeResponse {
        private: req.planned_private.clone(),
        ..Default::default()
    };
    if req.prior_state.is_null() {
        create(c, req, &stop, resp).await
    } else {
        update(c, req, &stop, resp).await
    }
}

/// Destroy: schedule the deletion. A dataset already gone, or already scheduled, is done.
async fn destroy(
    c: &Configured,
    req: ApplyResourceChangeRequest,
    stop: &CancellationToken,
) -> ApplyResourceChangeResponse {
    let mut resp = ApplyResourceChangeResponse::default();
    let Some(id) = req
        .prior_state
        .attr("id")
        .as_str()
        .and_then(|s| DatasetId::parse(s).ok())
    else {
        return resp;
    };
    match stoppable(stop, c.client.delete_dataset(&id, deadline())).await {
        Ok(Deletion::Scheduled) => {
            tracing::info!(dataset_id = %id, "deletion scheduled: Woosmap deletes the dataset in 7 days");
        }
        Ok(Deletion::AlreadyScheduled) => {
            tracing::info!(dataset_id = %id, "deletion was already scheduled");
        }
        Err(Failed::Api(ApiError::NotFound { .. })) => {
            tracing::info!(dataset_id = %id, "the dataset no longer exists");
        }
        Err(f) => {
            resp.new_state = req.prior_state;
            resp.private = req.planned_private;
            resp.diagnostics.push(f.diag());
        }
    }
    resp
}

/// Create: `POST /datasets/`, remembering the id so that the import resource of the same
/// apply looks for the import Woosmap starts by itself.
async fn create(
    c: &Configured,
    req: ApplyResourceChangeRequest,
    stop: &CancellationToken,
    mut resp: ApplyResourceChangeResponse,
) -> ApplyResourceChangeResponse {
    let text = |name: &str| {
        req.config
            .attr(name)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let new = NewDataset {
        name: text("name"),
        url: text("url"),
        schema_mapping: mapping_of(&req.config),
    };
    match stoppable(stop, c.client.create_dataset(&new, deadline())).await {
        Ok(d) => {
            tracing::info!(dataset_id = %d.id, "dataset created");
            created().insert(d.id.clone());
            resp.new_state = state_of(&req.planned_state, &d);
        }
        Err(f) => {
            resp.new_state = Value::Null;
            resp.diagnostics.push(f.diag());
        }
    }
    resp
}

/// Update in place: name and/or url (`PUT /datasets/{id}` with only what changed).
async fn update(
    c: &Configured,
    req: ApplyResourceChangeRequest,
    stop: &CancellationToken,
    mut resp: ApplyResourceChangeResponse,
) -> ApplyResourceChangeResponse {
    let prior = &req.prior_state;
    let planned = &req.planned_state;
    let Some(id) = prior
        .attr("id")
        .as_str()
        .and_then(|s| DatasetId::parse(s).ok())
    else {
        resp.new_state = planned.clone();
        return resp;
    };
    let changed = |name: &str| {
        (prior.attr(name) != planned.attr(name))
            .then(|| planned.attr(name).as_str().map(str::to_owned))
            .flatten()
    };
    let changes = DatasetChanges {
        name: changed("name"),
        url: changed("url"),
    };
    if changes == DatasetChanges::default() {
        let mut state = planned.clone();
        if !state.attr("updated_at").is_known() {
            state.set("updated_at", prior.attr("updated_at").clone());
        }
        resp.new_state = state;
        return resp;
    }
    match stoppable(stop, c.client.update_dataset(&id, &changes, deadline())).await {
        Ok(d) => resp.new_state = state_of(planned, &d),
        Err(f) => {
            resp.new_state = prior.clone();
            resp.private = req.planned_private;
            resp.diagnostics.push(f.diag());
        }
    }
    resp
}

/// ReadResource: refresh from `GET /datasets/{id}`. Gone (404) or scheduled for deletion:
/// leave the state (Terraform then plans to create it again) with a warning.
pub async fn read(c: &Configured, req: ReadResourceRequest) -> ReadResourceResponse {
    let mut resp = ReadResourceResponse {
        new_state: Some(req.current_state.clone()),
        private: req.private.clone(),
        ..Default::default()
    };
    let state = &req.current_state;
    let Some(raw) = state.attr("id").as_str() else {
        return resp;
    };
    let id = match DatasetId::parse(raw) {
        Ok(id) => id,
        Err(e) => {
            resp.diagnostics.push(
                Diagnostic::error("Invalid dataset id in state", format!("{e}."))
                    .at(AttrPath::attr("id")),
            );
            return resp;
        }
    };
    if !c.has_private_key {
        return resp;
    }
    match c.client.dataset(&id, deadline()).await {
        Ok(None) => {
            resp.new_state = None;
            resp.diagnostics.push(Diagnostic::warning(
                format!("Dataset {id} no longer exists on Woosmap"),
                "Woosmap answered 404 for this dataset: it was deleted outside Terraform. It is removed from the state, so the plan creates it again.",
            ));
        }
        Ok(Some(d)) if d.scheduled_for_deletion_after.is_some() => {
            resp.new_state = None;
            resp.diagnostics.push(Diagnostic::warning(
                format!("Dataset {id} is scheduled for deletion"),
                format!(
                    "Woosmap will delete this dataset after {} (its deletion was scheduled outside this configuration). It is removed from the state, so the plan creates a new dataset.",
                    d.scheduled_for_deletion_after.as_deref().unwrap_or("a date it did not give")
                ),
            ));
        }
        Ok(Some(d)) => resp.new_state = Some(state_of(state, &d)),
        Err(e) => resp.diagnostics.push(error_diag(&e)),
    }
    resp
}

/// ImportResourceState: by dataset id; the following read fills the rest.
pub fn import(req: ImportResourceStateRequest) -> ImportResourceStateResponse {
    let mut resp = ImportResourceStateResponse::default();
    let given = if req.id.is_empty() {
        req.identity
            .attr("id")
            .as_str()
            .unwrap_or_default()
            .to_owned()
    } else {
        req.id.clone()
    };
    match DatasetId::parse(&given) {
        Ok(id) => resp.imported.push(ImportedResource {
            identity: Some(Value::object([("id", Value::string(id.as_str()))])),
            type_name: DATASET_RESOURCE.to_owned(),
            state: {
                let mut state = empty_state();
                state.set("id", Value::string(id.as_str()));
                state
            },
            private: Private { imported: true }.encode(),
        }),
        Err(e) => resp.diagnostics.error(
            "Invalid import id",
            format!("Import woosmap_dataset by its dataset id (or identity `id`): {e}."),
        ),
    }
    resp
}

/// The `config` block of `list "woosmap_dataset"` (`terraform query`): nothing to set.
pub fn list_schema() -> Schema {
    Schema::new(Block::new().description(
        "Lists the Woosmap datasets of the private key's project for `terraform query`, leaving out those whose deletion is scheduled.",
    ))
}

/// A state with every attribute null, to fill with [`state_of`].
fn empty_state() -> Value {
    Value::object([
        ("id", Value::Null),
        ("name", Value::Null),
        ("url", Value::Null),
        ("schema_mapping", Value::Null),
        ("reimport_key", Value::Null),
        ("created_at", Value::Null),
        ("updated_at", Value::Null),
    ])
}

/// ListResource: every dataset not scheduled for deletion, as identity and name, with its full
/// state (one `GET /datasets/{id}` each, paced) when Terraform asks for it.
pub async fn list(c: &Configured, req: ListResourceRequest) -> ListResourceResponse {
    let mut resp = ListResourceResponse::default();
    if !c.has_private_key {
        resp.diagnostics.push(Diagnostic::error(
            "No Woosmap private key",
            "Set private_key in the woosmap provider block or WOOSMAP_PRIVATE_KEY: listing datasets needs a private key.",
        ));
        return resp;
    }
    let all = match c.client.list_all_datasets(deadline()).await {
        Ok(all) => all,
        Err(e) => {
            resp.diagnostics.push(error_diag(&e));
            return resp;
        }
    };
    let limit = usize::try_from(req.limit)
        .ok()
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    for summary in all
        .into_iter()
        .filter(|d| d.scheduled_for_deletion_after.is_none())
        .take(limit)
    {
        let mut result = ListResult {
            display_name: summary.name.clone(),
            identity: Value::object([("id", Value::string(summary.id.as_str()))]),
            ..Default::default()
        };
        if req.include_resource_object {
            match c.client.dataset(&summary.id, deadline()).await {
                Ok(Some(d)) => result.resource_object = Some(state_of(&empty_state(), &d)),
                Ok(None) => continue, // deleted since the list was read
                Err(e) => result.diagnostics.push(error_diag(&e)),
            }
        }
        resp.results.push(result);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str, key: &str) -> Value {
        Value::object([
            ("name", Value::string("n")),
            ("url", Value::string(url)),
            (
                "schema_mapping",
                Value::list([Value::object([
                    ("schema_key", Value::string(key)),
                    ("data_key", Value::string("name")),
                ])]),
            ),
        ])
    }

    #[test]
    fn validation_names_the_field_and_the_expected_value() {
        assert!(validate(&config("https://example.com/a.json", "title")).is_empty());
        let d = validate(&config(
            &format!("https://e.com/{}", "a".repeat(2100)),
            "title",
        ));
        let text = format!("{:?}", d.iter().collect::<Vec<_>>());
        assert!(
            text.contains("Invalid url") && text.contains("2083"),
            "{text}"
        );
        let d = validate(&config("https://example.com/a.json", "name"));
        let text = format!("{:?}", d.iter().collect::<Vec<_>>());
        assert!(
            text.contains("schema_mapping[0].schema_key") && text.contains("`title`"),
            "{text}"
        );
        // Unknown values pass.
        let mut c = config("https://example.com/a.json", "title");
        c.set("url", Value::Unknown);
        assert!(validate(&c).is_empty());
    }
}
