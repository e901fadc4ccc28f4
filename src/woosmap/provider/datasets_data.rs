//! Data sources `woosmap_dataset` (one dataset by id) and `woosmap_datasets` (every dataset
//! of the key's project, all pages followed): schemas and reads.

use super::Configured;
use super::dataset::{CALL_BUDGET, dataset_not_found, error_diag};
use crate::woosmap::api::{DatasetId, DatasetSummary, Instant};
use tfplugin::{
    AttrPath, AttrType, Attribute, Block, Diagnostic, Diagnostics, ReadDataSourceRequest,
    ReadDataSourceResponse, Schema, Value,
};

/// Data source type names.
pub const DATASET_DATA_SOURCE: &str = "woosmap_dataset";
pub const DATASETS_DATA_SOURCE: &str = "woosmap_datasets";

const DELETION: &str = "The date (`YYYY-MM-DD`) after which Woosmap deletes the dataset, once its deletion is scheduled; null otherwise.";

/// `woosmap_dataset`.
pub fn dataset_schema() -> Schema {
    Schema::new(
        Block::new()
            .description("One Woosmap dataset, by id.")
            .attribute(
                Attribute::new("id", AttrType::String)
                    .required()
                    .description("The dataset id (UUID)."),
            )
            .attribute(
                Attribute::new("name", AttrType::String)
                    .computed()
                    .description("Friendly name of the dataset."),
            )
            .attribute(
                Attribute::new("url", AttrType::String)
                    .computed()
                    .description("URL Woosmap fetches the data from."),
            )
            .attribute(
                Attribute::new("reimport_key", AttrType::String)
                    .computed()
                    .sensitive()
                    .description("The dataset's reimport key, for the reimport webhook."),
            )
            .attribute(
                Attribute::new("created_at", AttrType::String)
                    .computed()
                    .description("When the dataset was created (RFC 3339)."),
            )
            .attribute(
                Attribute::new("updated_at", AttrType::String)
                    .computed()
                    .description("When the dataset was last updated (RFC 3339)."),
            )
            .attribute(
                Attribute::new("scheduled_for_deletion_after", AttrType::String)
                    .computed()
                    .description(DELETION),
            ),
    )
}

/// The type of one item of `woosmap_datasets.datasets`.
fn summary_type() -> AttrType {
    AttrType::object([
        ("id", AttrType::String),
        ("name", AttrType::String),
        ("created_at", AttrType::String),
        ("updated_at", AttrType::String),
        ("scheduled_for_deletion_after", AttrType::String),
    ])
}

/// `woosmap_datasets`.
pub fn datasets_schema() -> Schema {
    Schema::new(
        Block::new()
            .description("Every Woosmap dataset of the private key's project (the API's pages are followed, 20 datasets a page).")
            .attribute(Attribute::new("id", AttrType::String).computed().description("Always `datasets`."))
            .attribute(Attribute::new("datasets", AttrType::list(summary_type())).computed().description(format!("The datasets in the API's order, each with `id`, `name`, `created_at`, `updated_at` and `scheduled_for_deletion_after` ({}).", "null unless deletion is scheduled"))),
    )
}

/// ValidateDataResourceConfig of both data sources.
pub fn validate(type_name: &str, config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if type_name == DATASET_DATA_SOURCE
        && let Some(raw) = config.attr("id").as_str()
        && let Err(e) = DatasetId::parse(raw)
    {
        diags.push(Diagnostic::error("Invalid id", format!("{e}.")).at(AttrPath::attr("id")));
    }
    diags
}

fn no_key() -> Diagnostic {
    Diagnostic::error(
        "No Woosmap private key",
        "Set private_key in the woosmap provider block or WOOSMAP_PRIVATE_KEY: reading datasets needs a private key.",
    )
}

/// ReadDataSource of `woosmap_dataset`.
pub async fn read_dataset(c: &Configured, req: ReadDataSourceRequest) -> ReadDataSourceResponse {
    let mut resp = ReadDataSourceResponse {
        state: req.config.clone(),
        ..Default::default()
    };
    let id = match req.config.attr("id").as_str().map(DatasetId::parse) {
        Some(Ok(id)) => id,
        Some(Err(e)) => {
            resp.diagnostics
                .push(Diagnostic::error("Invalid id", format!("{e}.")).at(AttrPath::attr("id")));
            return resp;
        }
        None => return resp,
    };
    if !c.has_private_key {
        resp.diagnostics.push(no_key());
        return resp;
    }
    match c.client.dataset(&id, Instant::now() + CALL_BUDGET).await {
        Ok(Some(d)) => {
            let mut state = req.config;
            state.set("name", Value::string(&d.name));
            state.set("url", Value::opt_string(d.url));
            state.set(
                "reimport_key",
                Value::opt_string(d.reimport_key.map(|k| k.expose().to_owned())),
            );
            state.set("created_at", Value::string(&d.created_at));
            state.set("updated_at", Value::opt_string(d.updated_at));
            state.set(
                "scheduled_for_deletion_after",
                Value::opt_string(d.scheduled_for_deletion_after),
            );
            resp.state = state;
        }
        Ok(None) => resp.diagnostics.push(dataset_not_found(&id, "id")),
        Err(e) => resp.diagnostics.push(error_diag(&e)),
    }
    resp
}

/// One summary as an object value.
pub fn summary_value(d: &DatasetSummary) -> Value {
    Value::object([
        ("id", Value::string(d.id.as_str())),
        ("name", Value::string(&d.name)),
        ("created_at", Value::string(&d.created_at)),
        ("updated_at", Value::opt_string(d.updated_at.clone())),
        (
            "scheduled_for_deletion_after",
            Value::opt_string(d.scheduled_for_deletion_after.clone()),
        ),
    ])
}

/// ReadDataSource of `woosmap_datasets`.
pub async fn read_datasets(c: &Configured, req: ReadDataSourceRequest) -> ReadDataSourceResponse {
    let mut resp = ReadDataSourceResponse {
        state: req.config.clone(),
        ..Default::default()
    };
    if !c.has_private_key {
        resp.diagnostics.push(no_key());
        return resp;
    }
    match c
        .client
        .list_all_datasets(Instant::now() + CALL_BUDGET)
        .await
    {
        Ok(all) => {
            let mut state = req.config;
            state.set("id", Value::string("datasets"));
            state.set("datasets", Value::list(all.iter().map(summary_value)));
            resp.state = state;
        }
        Err(e) => resp.diagnostics.push(error_diag(&e)),
    }
    resp
}
