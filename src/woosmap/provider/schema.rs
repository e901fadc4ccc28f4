//! The schemas of provider `woosmap`, resource `woosmap_dataset_import`, data source
//! `woosmap_dataset_status` and action `woosmap_dataset_import`, with the description of every attribute (the docs pages are
//! checked against these).

use super::{dataset, datasets_data, reimport_key};
use tfplugin::{
    AttrType, Attribute, Block, DescriptionKind, IdentityAttribute, IdentitySchema, NestedBlock,
    Nesting, ProviderSchema, Schema,
};

/// Resource type name.
pub const IMPORT_RESOURCE: &str = "woosmap_dataset_import";
/// Action type name (the same name as the resource: actions have their own namespace,
/// `action.woosmap_dataset_import.NAME`).
pub const IMPORT_ACTION: &str = "woosmap_dataset_import";
/// Data source type name.
pub const STATUS_DATA_SOURCE: &str = "woosmap_dataset_status";

/// `list(object({created_at, level, detail}))`.
fn entries_type() -> AttrType {
    AttrType::list(AttrType::object([
        ("created_at", AttrType::String),
        ("level", AttrType::String),
        ("detail", AttrType::String),
    ]))
}

/// The type of the `steps` attribute.
pub fn steps_type() -> AttrType {
    AttrType::list(AttrType::object([
        ("name", AttrType::String),
        ("status", AttrType::String),
        ("start", AttrType::String),
        ("end", AttrType::String),
        ("entries", entries_type()),
    ]))
}

/// The computed attributes describing a run, shared by the resource (`waits`: it has the
/// `wait` argument) and the data source.
fn run_attributes(block: Block, waits: bool) -> Block {
    let (run_id, status) = if waits {
        (
            "Id of the import run (quote it to Woosmap support). Null when `wait` is false.",
            "Status of the run: `success`, `failed` or `in_progress`; `triggered` when `wait` is false.",
        )
    } else {
        (
            "Id of the latest import run (quote it to Woosmap support).",
            "Status of the latest run: `success`, `failed` or `in_progress`.",
        )
    };
    block
        .attribute(
            Attribute::new("run_id", AttrType::String)
                .computed()
                .description(run_id),
        )
        .attribute(
            Attribute::new("status", AttrType::String)
                .computed()
                .description(status),
        )
        .attribute(
            Attribute::new("started_at", AttrType::String)
                .computed()
                .description("When the run's first step started (RFC 3339)."),
        )
        .attribute(
            Attribute::new("finished_at", AttrType::String)
                .computed()
                .description("When the run's last step ended (RFC 3339); null while it runs."),
        )
        .attribute(
            Attribute::new("steps", steps_type())
                .computed()
                .description("The steps of the run (`fetch`, then `import`), each with `name`, `status`, `start`, `end` and its log `entries` (`created_at`, `level`: info, warning or error, `detail`)."),
        )
}

/// `id` (the dataset id, computed) and the required `dataset_id`, described as given.
fn dataset_ids(block: Block, dataset_id: &str) -> Block {
    block
        .attribute(
            Attribute::new("id", AttrType::String)
                .computed()
                .description("The dataset id."),
        )
        .attribute(
            Attribute::new("dataset_id", AttrType::String)
                .required()
                .description(dataset_id),
        )
}

/// The provider block.
pub fn provider() -> Schema {
    Schema::new(
        Block::new()
            .description("Triggers Woosmap dataset imports and waits for them to finish.")
            .attribute(
                Attribute::new("private_key", AttrType::String)
                    .optional()
                    .sensitive()
                    .description("Woosmap private key with write permission, sent as the `X-Api-Key` header. Defaults to the `WOOSMAP_PRIVATE_KEY` environment variable. Needed unless every import uses `reimport_key` with `wait = false`."),
            )
            .attribute(
                Attribute::new("base_url", AttrType::String)
                    .optional()
                    .description("Base URL of the Woosmap API. Defaults to the `WOOSMAP_BASE_URL` environment variable, then `https://api.woosmap.com`."),
            ),
    )
}

/// Schema version of `woosmap_dataset_import`: 1 stores the canonical dataset id (see
/// `resource::upgrade` for the path from 0).
pub const IMPORT_RESOURCE_VERSION: i64 = 1;

/// `woosmap_dataset_import`.
pub fn import_resource() -> Schema {
    let timeouts = Block::new()
        .description("How long to wait for the import.")
        .attribute(
            Attribute::new("create", AttrType::String)
                .optional()
                .description("Longest wait when the resource is created, as a duration such as `30m` (default) or `1h30m`."),
        )
        .attribute(
            Attribute::new("update", AttrType::String)
                .optional()
                .description("Longest wait when `triggers` or `reimport_key` change, as a duration (default `30m`)."),
        );
    let block = dataset_ids(
        Block::new().description("Triggers an import of a Woosmap dataset and waits for it to finish. Changing `triggers` runs a new import; destroying only forgets the resource."),
        "Id (UUID) of the dataset to import. Changing it replaces the resource.",
    )
        .attribute(
            Attribute::new("triggers", AttrType::map(AttrType::String))
                .optional()
                .description("Arbitrary map of strings; any change runs a new import in place (for example the checksum or version of the published file)."),
        )
        .attribute(
            Attribute::new("reimport_key", AttrType::String)
                .optional()
                .sensitive()
                .write_only()
                .description("The dataset's reimport key: trigger through the reimport webhook instead of the private key. Write-only: Terraform never stores it in plan or state (a salted hash is kept to notice a change)."),
        )
        .attribute(
            Attribute::new("wait", AttrType::Bool)
                .optional()
                .computed()
                .description("Wait for the import to finish (default `true`). When false, apply returns once the import is triggered."),
        )
        .attribute(
            Attribute::new("poll_interval", AttrType::String)
                .optional()
                .computed()
                .description("Time between two status reads, as a duration (default `5s`, the API's limit; shorter values are paced to it)."),
        );
    Schema::new(run_attributes(block, true).block(NestedBlock::new(
        "timeouts",
        Nesting::Single,
        timeouts,
    )))
    .version(IMPORT_RESOURCE_VERSION)
}

/// `woosmap_dataset_status`.
pub fn status_data_source() -> Schema {
    let block = dataset_ids(
        Block::new().description("The latest import run of a Woosmap dataset."),
        "Id (UUID) of the dataset.",
    );
    Schema::new(run_attributes(block, false))
}

/// The identity of `woosmap_dataset_import` (Terraform 1.12+): its dataset.
pub fn import_identity() -> IdentitySchema {
    IdentitySchema::new([IdentityAttribute::required("dataset_id", AttrType::String)
        .description("Id (UUID) of the dataset, in canonical form (lower case, hyphenated).")])
}

/// Declares as Markdown every description of `block` (and its nested blocks) that uses
/// Markdown (code spans or links); the others stay plain text.
fn mark_markdown(block: &mut Block) {
    let is_markdown = |d: &str| d.contains('`') || d.contains("](");
    if is_markdown(&block.description) {
        block.description_kind = DescriptionKind::Markdown;
    }
    for a in &mut block.attributes {
        if is_markdown(&a.description) {
            a.description_kind = DescriptionKind::Markdown;
        }
    }
    for b in &mut block.block_types {
        mark_markdown(&mut b.block);
    }
}

/// Action `woosmap_dataset_import`: its `config` block.
pub fn import_action() -> Schema {
    Schema::new(
        Block::new()
            .description("Triggers an import of a Woosmap dataset and waits for it to finish, showing its progress in the Terraform run. An action keeps no state: run it by hand with `terraform apply -invoke=action.woosmap_dataset_import.NAME` or after a change with a resource's `lifecycle { action_trigger { ... } }`.")
            .attribute(
                Attribute::new("dataset_id", AttrType::String)
                    .required()
                    .description("Id (UUID) of the dataset to import."),
            )
            .attribute(
                Attribute::new("reimport_key", AttrType::String)
                    .optional()
                    .sensitive()
                    .write_only()
                    .description("The dataset's reimport key: trigger through the reimport webhook instead of the private key. Write-only, so it may come from an ephemeral variable."),
            )
            .attribute(
                Attribute::new("wait", AttrType::Bool)
                    .optional()
                    .description("Wait for the import to finish (default `true`). When false, the action ends once the import is triggered."),
            )
            .attribute(
                Attribute::new("timeout", AttrType::String)
                    .optional()
                    .description("Longest wait, as a duration such as `30m` (default) or `1h30m`. The import keeps running on Woosmap's side after a timeout."),
            )
            .attribute(
                Attribute::new("poll_interval", AttrType::String)
                    .optional()
                    .description("Time between two status reads, as a duration (default `5s`, the API's limit; shorter values are paced to it)."),
            ),
    )
}

/// Everything the provider declares.
pub fn all() -> ProviderSchema {
    let mut schema = ProviderSchema {
        provider: provider(),
        resources: [
            (IMPORT_RESOURCE.to_owned(), import_resource()),
            (dataset::DATASET_RESOURCE.to_owned(), dataset::schema()),
        ]
        .into(),
        data_sources: [
            (STATUS_DATA_SOURCE.to_owned(), status_data_source()),
            (
                datasets_data::DATASET_DATA_SOURCE.to_owned(),
                datasets_data::dataset_schema(),
            ),
            (
                datasets_data::DATASETS_DATA_SOURCE.to_owned(),
                datasets_data::datasets_schema(),
            ),
        ]
        .into(),
        list_resources: [(dataset::DATASET_RESOURCE.to_owned(), dataset::list_schema())].into(),
        identities: [
            (IMPORT_RESOURCE.to_owned(), import_identity()),
            (
                dataset::DATASET_RESOURCE.to_owned(),
                dataset::identity_schema(),
            ),
        ]
        .into(),
        actions: [(IMPORT_ACTION.to_owned(), import_action())].into(),
        ephemeral_resources: [(
            reimport_key::REIMPORT_KEY_EPHEMERAL.to_owned(),
            reimport_key::schema(),
        )]
        .into(),
    };
    mark_markdown(&mut schema.provider.block);
    for s in schema
        .resources
        .values_mut()
        .chain(schema.data_sources.values_mut())
        .chain(schema.actions.values_mut())
        .chain(schema.ephemeral_resources.values_mut())
    {
        mark_markdown(&mut s.block);
    }
    schema
}
