//! The `Provider` trait resource code implements, and the plain request/response types of
//! each operation. The gRPC layer ([`crate::grpc`]) turns Terraform's protobuf
//! messages into these, decodes values against the schemas from
//! [`Provider::get_schema`], and encodes what comes back.
//!
//! Methods are `async` (written `-> impl Future + Send` so the server can be generic over
//! `P: Provider` without boxing). Each has a default: validation accepts everything,
//! upgrade decodes stored JSON with the current schema, resource, action and ephemeral
//! resource operations report "not supported" errors (renewing and closing an ephemeral
//! resource do nothing), so a provider implements only what it declares.

use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::mpsc::UnboundedSender;
pub use tokio_util::sync::CancellationToken;

use super::codec;
use super::diag::{Diagnostic, Diagnostics};
use super::schema::{AttrType, IdentitySchema, ProviderSchema, Schema};
use super::value::Value;

/// What the Terraform that calls knows how to handle (sent on validate, configure, read,
/// plan and import since protocol 6.8). All false from a Terraform that does not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientCapabilities {
    /// The provider may answer with a deferral (Terraform's `-allow-deferral`).
    pub deferral_allowed: bool,
    /// Terraform knows write-only attributes (1.11+) and keeps them out of plan and state.
    /// A Terraform that does not treats them as ordinary attributes.
    pub write_only_attributes_allowed: bool,
}

/// `ConfigureProvider`: the provider block, once per provider instance, before any resource
/// operation other than validation.
#[derive(Debug, Clone)]
pub struct ConfigureProviderRequest {
    pub terraform_version: String,
    /// May contain unknown values when the provider block refers to not-yet-created things.
    pub config: Value,
    pub client_capabilities: ClientCapabilities,
}

/// `ValidateProviderConfig`, `ValidateResourceConfig`, `ValidateDataResourceConfig`.
/// `type_name` is empty for the provider's own configuration.
#[derive(Debug, Clone)]
pub struct ValidateRequest {
    pub type_name: String,
    /// May contain unknown values.
    pub config: Value,
    /// Sent by Terraform for resources only (default for the provider and data sources).
    pub client_capabilities: ClientCapabilities,
}

/// `UpgradeResourceState`: called for every resource in state on every run, before it is
/// read or planned.
#[derive(Debug, Clone)]
pub struct UpgradeResourceStateRequest {
    pub type_name: String,
    /// The schema version the state was written with.
    pub version: i64,
    /// The stored state, as JSON.
    pub raw_state: serde_json::Value,
    /// The current schema of `type_name`.
    pub schema: Arc<Schema>,
}

/// The state in the current schema.
#[derive(Debug, Clone, Default)]
pub struct UpgradeResourceStateResponse {
    pub state: Value,
    pub diagnostics: Diagnostics,
}

/// `ReadResource`: refresh.
#[derive(Debug, Clone)]
pub struct ReadResourceRequest {
    pub type_name: String,
    pub current_state: Value,
    pub private: Vec<u8>,
    pub client_capabilities: ClientCapabilities,
    /// The stored identity (null when none is stored yet or the resource has no identity).
    pub current_identity: Value,
}

/// The refreshed state: `None` when the remote object is gone (Terraform then plans to
/// create it). With errors and no state, the current state is kept.
#[derive(Debug, Clone, Default)]
pub struct ReadResourceResponse {
    pub new_state: Option<Value>,
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
    /// The resource's identity, for a type that declares an identity schema.
    pub new_identity: Option<Value>,
}

impl ReadResourceResponse {
    /// Reads back what Terraform has: the request's current state and private data, no
    /// diagnostics, no identity. For a resource whose remote object is not refreshed, or,
    /// with struct update syntax, for a read that fails:
    /// `ReadResourceResponse { diagnostics, ..ReadResourceResponse::unchanged(req) }`.
    pub fn unchanged(req: ReadResourceRequest) -> ReadResourceResponse {
        ReadResourceResponse {
            new_state: Some(req.current_state),
            private: req.private,
            ..Default::default()
        }
    }
}

/// `PlanResourceChange`: create (prior null), update, or — with `plan_destroy` off, never
/// sent — destroy (proposed null). Called at plan and again at apply.
#[derive(Debug, Clone)]
pub struct PlanResourceChangeRequest {
    pub type_name: String,
    /// Null when creating.
    pub prior_state: Value,
    /// Config merged with prior state by Terraform: computed attributes that are null in
    /// configuration keep their prior value (null on create).
    pub proposed_new_state: Value,
    pub config: Value,
    pub prior_private: Vec<u8>,
    pub client_capabilities: ClientCapabilities,
    /// The stored identity (null on create).
    pub prior_identity: Value,
}

/// The planned state (computed attributes that will change set to [`Value::Unknown`]),
/// attribute paths whose change forces replacement, and private data handed to apply.
#[derive(Debug, Clone, Default)]
pub struct PlanResourceChangeResponse {
    pub planned_state: Value,
    pub requires_replace: Vec<super::diag::AttrPath>,
    pub planned_private: Vec<u8>,
    pub diagnostics: Diagnostics,
    /// The identity the resource will have, when known.
    pub planned_identity: Option<Value>,
}

/// `ApplyResourceChange`: create, update, or destroy (planned state null).
#[derive(Debug, Clone)]
pub struct ApplyResourceChangeRequest {
    pub type_name: String,
    pub prior_state: Value,
    /// Null when destroying.
    pub planned_state: Value,
    pub config: Value,
    pub planned_private: Vec<u8>,
    /// The identity planned (null when none).
    pub planned_identity: Value,
}

/// The new state: fully known and consistent with the plan; null after destroy. On error,
/// return what exists (the prior state on a failed update, null if nothing was created).
#[derive(Debug, Clone, Default)]
pub struct ApplyResourceChangeResponse {
    pub new_state: Value,
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
    /// The resource's identity after the change (none after destroy).
    pub new_identity: Option<Value>,
}

/// `ImportResourceState`: `terraform import` / `import` blocks. Terraform calls
/// `ReadResource` on each imported state afterwards.
#[derive(Debug, Clone)]
pub struct ImportResourceStateRequest {
    pub type_name: String,
    /// Empty when importing by identity (`import { identity = { ... } }`, Terraform 1.12+).
    pub id: String,
    /// The identity to import by (null when importing by id).
    pub identity: Value,
    pub client_capabilities: ClientCapabilities,
}

/// One imported resource.
#[derive(Debug, Clone, Default)]
pub struct ImportedResource {
    pub type_name: String,
    pub state: Value,
    pub private: Vec<u8>,
    /// Its identity, for a type that declares an identity schema.
    pub identity: Option<Value>,
}

/// `UpgradeResourceIdentity`: a stored identity written with an older identity schema version.
#[derive(Debug, Clone)]
pub struct UpgradeResourceIdentityRequest {
    pub type_name: String,
    /// The identity schema version the identity was written with.
    pub version: i64,
    /// The stored identity, as JSON.
    pub raw_identity: serde_json::Value,
    /// The current identity schema of `type_name`.
    pub schema: Arc<IdentitySchema>,
}

/// The identity in the current identity schema.
#[derive(Debug, Clone, Default)]
pub struct UpgradeResourceIdentityResponse {
    pub identity: Value,
    pub diagnostics: Diagnostics,
}

/// The imported resources (normally one).
#[derive(Debug, Clone, Default)]
pub struct ImportResourceStateResponse {
    pub imported: Vec<ImportedResource>,
    pub diagnostics: Diagnostics,
}

/// `ReadDataSource`.
#[derive(Debug, Clone)]
pub struct ReadDataSourceRequest {
    pub type_name: String,
    /// Fully known (Terraform defers the read otherwise).
    pub config: Value,
}

/// The data source's state (config plus computed attributes).
#[derive(Debug, Clone, Default)]
pub struct ReadDataSourceResponse {
    pub state: Value,
    pub diagnostics: Diagnostics,
}

/// `PlanAction`: the action is about to be invoked (by `-invoke` or a trigger); check what
/// can be checked without side effects. Nothing is recorded: actions have no state.
#[derive(Debug, Clone)]
pub struct PlanActionRequest {
    pub action_type: String,
    /// The action's `config` block; may contain unknown values.
    pub config: Value,
}

/// `InvokeAction`: run the action.
#[derive(Debug, Clone)]
pub struct InvokeActionRequest {
    pub action_type: String,
    /// The action's `config` block, fully known.
    pub config: Value,
}

/// `OpenEphemeralResource` (Terraform 1.10+): an `ephemeral` block's value is needed, at plan
/// and again at apply (each run opens its own). Nothing is stored: Terraform keeps the result
/// in memory for the run and calls [`Provider::close_ephemeral_resource`] when done with it.
#[derive(Debug, Clone)]
pub struct OpenEphemeralResourceRequest {
    pub type_name: String,
    /// Fully known: Terraform does not open an ephemeral resource whose configuration has
    /// unknown values (its result is then unknown for the plan).
    pub config: Value,
    pub client_capabilities: ClientCapabilities,
}

/// What an opened ephemeral resource is: `result` is the configuration with its computed
/// attributes filled in (Terraform rejects a result that changes configured values).
/// `private` comes back, unchanged, in the renew and close requests of this instance.
#[derive(Debug, Clone, Default)]
pub struct OpenEphemeralResourceResponse {
    pub result: Value,
    /// When Terraform should call [`Provider::renew_ephemeral_resource`] if the run is still
    /// using the result then (for leases that expire); `None`: never.
    pub renew_at: Option<SystemTime>,
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

/// `RenewEphemeralResource`: an open ephemeral resource reached its `renew_at` while the run
/// still uses it.
#[derive(Debug, Clone)]
pub struct RenewEphemeralResourceRequest {
    pub type_name: String,
    /// What the open (or the previous renewal) returned as `private`.
    pub private: Vec<u8>,
}

/// The next renewal, if any, and the private data it will carry. An error ends renewals;
/// Terraform reports it when it closes the instance.
#[derive(Debug, Clone, Default)]
pub struct RenewEphemeralResourceResponse {
    pub renew_at: Option<SystemTime>,
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

/// `CloseEphemeralResource`: Terraform is done with an opened instance (after everything
/// that uses it, or at the end of the run).
#[derive(Debug, Clone)]
pub struct CloseEphemeralResourceRequest {
    pub type_name: String,
    /// What the open returned as `private` (Terraform sends the open's, not a renewal's).
    pub private: Vec<u8>,
}

/// Where an invoked action reports progress: each message becomes one `progress` event, shown
/// by Terraform as a line under the action (and as `action_progress` in `-json` output).
/// Cheap to clone; sending never blocks, so it may be called from synchronous callbacks.
/// Messages sent after Terraform went away are dropped.
#[derive(Debug, Clone)]
pub struct ActionProgress(UnboundedSender<String>);

impl ActionProgress {
    /// A sink and the receiver of its messages (what the gRPC layer and tests read).
    pub fn channel() -> (ActionProgress, tokio::sync::mpsc::UnboundedReceiver<String>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (ActionProgress(tx), rx)
    }

    /// Reports one progress message.
    pub fn send(&self, message: impl Into<String>) {
        let _ = self.0.send(message.into());
    }
}

fn unsupported(what: &str, type_name: &str) -> Diagnostics {
    Diagnostic::error(
        format!("Unsupported {what} type"),
        format!("This provider does not implement {what} {type_name:?}."),
    )
    .into()
}

/// A Terraform provider, as resource code sees it. See the module docs.
pub trait Provider: Send + Sync + 'static {
    /// What the binary prints on stderr when someone runs it by hand (no magic cookie): say
    /// how to configure it in Terraform, and where to go instead.
    fn run_by_hand_message(&self) -> String {
        super::handshake::NOT_A_PLUGIN_MESSAGE.to_owned()
    }

    /// All schemas. Called once when serving starts; the result is cached.
    fn get_schema(&self) -> ProviderSchema;

    /// Checks the provider block (values may be unknown).
    fn validate_provider_config(
        &self,
        req: ValidateRequest,
    ) -> impl Future<Output = Diagnostics> + Send {
        let _ = req;
        async { Diagnostics::new() }
    }

    /// Configures the provider (credentials, endpoints).
    fn configure_provider(
        &self,
        req: ConfigureProviderRequest,
    ) -> impl Future<Output = Diagnostics> + Send {
        let _ = req;
        async { Diagnostics::new() }
    }

    /// Checks a resource block (values may be unknown).
    fn validate_resource_config(
        &self,
        req: ValidateRequest,
    ) -> impl Future<Output = Diagnostics> + Send {
        let _ = req;
        async { Diagnostics::new() }
    }

    /// Checks a data source block (values may be unknown).
    fn validate_data_resource_config(
        &self,
        req: ValidateRequest,
    ) -> impl Future<Output = Diagnostics> + Send {
        let _ = req;
        async { Diagnostics::new() }
    }

    /// Brings stored state to the current schema. The default decodes the JSON with the
    /// current schema (missing attributes become null) and refuses newer versions.
    fn upgrade_resource_state(
        &self,
        req: UpgradeResourceStateRequest,
    ) -> impl Future<Output = UpgradeResourceStateResponse> + Send {
        async move { default_upgrade(&req) }
    }

    /// Brings a stored identity to the current identity schema. The default decodes the JSON
    /// with the current identity schema and refuses newer versions.
    fn upgrade_resource_identity(
        &self,
        req: UpgradeResourceIdentityRequest,
    ) -> impl Future<Output = UpgradeResourceIdentityResponse> + Send {
        async move { default_identity_upgrade(&req) }
    }

    /// Refreshes a managed resource.
    fn read_resource(
        &self,
        req: ReadResourceRequest,
    ) -> impl Future<Output = ReadResourceResponse> + Send {
        async move {
            ReadResourceResponse {
                diagnostics: unsupported("resource", &req.type_name),
                ..Default::default()
            }
        }
    }

    /// Plans a create or update.
    fn plan_resource_change(
        &self,
        req: PlanResourceChangeRequest,
    ) -> impl Future<Output = PlanResourceChangeResponse> + Send {
        async move {
            PlanResourceChangeResponse {
                diagnostics: unsupported("resource", &req.type_name),
                ..Default::default()
            }
        }
    }

    /// Applies a planned create, update or destroy.
    fn apply_resource_change(
        &self,
        req: ApplyResourceChangeRequest,
    ) -> impl Future<Output = ApplyResourceChangeResponse> + Send {
        async move {
            ApplyResourceChangeResponse {
                new_state: req.prior_state,
                diagnostics: unsupported("resource", &req.type_name),
                ..Default::default()
            }
        }
    }

    /// Imports an existing object by id.
    fn import_resource_state(
        &self,
        req: ImportResourceStateRequest,
    ) -> impl Future<Output = ImportResourceStateResponse> + Send {
        async move {
            ImportResourceStateResponse {
                diagnostics: unsupported("resource import for", &req.type_name),
                ..Default::default()
            }
        }
    }

    /// Reads a data source.
    fn read_data_source(
        &self,
        req: ReadDataSourceRequest,
    ) -> impl Future<Output = ReadDataSourceResponse> + Send {
        async move {
            ReadDataSourceResponse {
                diagnostics: unsupported("data source", &req.type_name),
                ..Default::default()
            }
        }
    }

    /// Checks an action's `config` block (values may be unknown).
    fn validate_action_config(
        &self,
        req: ValidateRequest,
    ) -> impl Future<Output = Diagnostics> + Send {
        let _ = req;
        async { Diagnostics::new() }
    }

    /// Checks a `list` block's `config` (values may be unknown).
    fn validate_list_resource_config(
        &self,
        req: ValidateRequest,
    ) -> impl Future<Output = Diagnostics> + Send {
        let _ = req;
        async { Diagnostics::new() }
    }

    /// Lists the remote objects of a managed resource type (`terraform query`).
    fn list_resource(
        &self,
        req: ListResourceRequest,
    ) -> impl Future<Output = ListResourceResponse> + Send {
        async move {
            ListResourceResponse {
                diagnostics: unsupported("list resource", &req.type_name),
                ..Default::default()
            }
        }
    }

    /// Plans an action invocation: validate without side effects (values may be unknown).
    fn plan_action(&self, req: PlanActionRequest) -> impl Future<Output = Diagnostics> + Send {
        let _ = req;
        async { Diagnostics::new() }
    }

    /// Runs an action. Report progress through `progress` while it runs; the returned
    /// diagnostics end the invocation (errors fail the Terraform run). `cancel` is cancelled
    /// when Terraform is interrupted (`StopProvider`) or stops listening; return promptly
    /// then, saying what was left running.
    fn invoke_action(
        &self,
        req: InvokeActionRequest,
        progress: ActionProgress,
        cancel: CancellationToken,
    ) -> impl Future<Output = Diagnostics> + Send {
        let _ = (progress, cancel);
        async move { unsupported("action", &req.action_type) }
    }

    /// Checks an `ephemeral` block (values may be unknown).
    fn validate_ephemeral_resource_config(
        &self,
        req: ValidateRequest,
    ) -> impl Future<Output = Diagnostics> + Send {
        let _ = req;
        async { Diagnostics::new() }
    }

    /// Opens an ephemeral resource: produce its value (secrets, short-lived credentials)
    /// without storing it anywhere.
    fn open_ephemeral_resource(
        &self,
        req: OpenEphemeralResourceRequest,
    ) -> impl Future<Output = OpenEphemeralResourceResponse> + Send {
        async move {
            OpenEphemeralResourceResponse {
                diagnostics: unsupported("ephemeral resource", &req.type_name),
                ..Default::default()
            }
        }
    }

    /// Extends an opened ephemeral resource's life. The default renews nothing.
    fn renew_ephemeral_resource(
        &self,
        req: RenewEphemeralResourceRequest,
    ) -> impl Future<Output = RenewEphemeralResourceResponse> + Send {
        let _ = req;
        async { RenewEphemeralResourceResponse::default() }
    }

    /// Ends an opened ephemeral resource's life (revoke a lease). The default does nothing.
    fn close_ephemeral_resource(
        &self,
        req: CloseEphemeralResourceRequest,
    ) -> impl Future<Output = Diagnostics> + Send {
        let _ = req;
        async { Diagnostics::new() }
    }

    /// Terraform was interrupted (Ctrl-C): cancel work in flight so that pending calls
    /// return soon (with whatever state exists). The server keeps running. An `Err` is
    /// shown to the user.
    fn stop_provider(&self) -> impl Future<Output = Result<(), String>> + Send {
        async { Ok(()) }
    }
}

/// `ListResource` (Terraform 1.14+, `terraform query`): list the remote objects of a managed
/// resource type.
#[derive(Debug, Clone)]
pub struct ListResourceRequest {
    /// The managed resource type listed.
    pub type_name: String,
    /// The `config` block of the `list` block (fully known).
    pub config: Value,
    /// Terraform wants each object's full state too (`include_resource`, or
    /// `-generate-config-out`).
    pub include_resource_object: bool,
    /// At most this many results (0 or less: no limit).
    pub limit: i64,
}

/// One object found by a list resource.
#[derive(Debug, Clone, Default)]
pub struct ListResult {
    /// A short human name Terraform shows next to the identity.
    pub display_name: String,
    /// The object's identity, in the type's identity schema.
    pub identity: Value,
    /// Its full state, when the request asked for it.
    pub resource_object: Option<Value>,
    pub diagnostics: Diagnostics,
}

/// The objects found, in order, and diagnostics about the listing as a whole.
#[derive(Debug, Clone, Default)]
pub struct ListResourceResponse {
    pub results: Vec<ListResult>,
    pub diagnostics: Diagnostics,
}

/// What [`Provider::upgrade_resource_state`] does by default.
pub fn default_upgrade(req: &UpgradeResourceStateRequest) -> UpgradeResourceStateResponse {
    let stored = Stored {
        what: "state",
        schema: "schema",
        type_name: &req.type_name,
        version: req.version,
        current_version: req.schema.version,
    };
    let mut resp = UpgradeResourceStateResponse::default();
    match stored.decode(&req.raw_state, &req.schema.value_type()) {
        Ok(v) => resp.state = v,
        Err(d) => resp.diagnostics.push(d),
    }
    resp
}

/// What [`Provider::upgrade_resource_identity`] does by default.
pub fn default_identity_upgrade(
    req: &UpgradeResourceIdentityRequest,
) -> UpgradeResourceIdentityResponse {
    let stored = Stored {
        what: "identity",
        schema: "identity schema",
        type_name: &req.type_name,
        version: req.version,
        current_version: req.schema.version,
    };
    let mut resp = UpgradeResourceIdentityResponse::default();
    match stored.decode(&req.raw_identity, &req.schema.value_type()) {
        Ok(v) => resp.identity = v,
        Err(d) => resp.diagnostics.push(d),
    }
    resp
}

/// A stored state or identity the default upgrades read: `what` it is, the `schema` it is
/// read with, and the schema version it was written with against the current one.
struct Stored<'a> {
    what: &'a str,
    schema: &'a str,
    type_name: &'a str,
    version: i64,
    current_version: i64,
}

impl Stored<'_> {
    /// The stored JSON decoded with the current schema's type `ty` (missing attributes become
    /// null); refused when written by a newer schema version.
    fn decode(&self, json: &serde_json::Value, ty: &AttrType) -> Result<Value, Diagnostic> {
        let Stored {
            what,
            schema,
            type_name,
            version,
            current_version,
        } = self;
        if version > current_version {
            return Err(Diagnostic::error(
                format!("Resource {what} is from a newer provider"),
                format!(
                    "The stored {what} of this {type_name} has {schema} version {version}, but \
                     this provider only knows version {current_version}. Upgrade the provider."
                ),
            ));
        }
        codec::from_json(json, ty).map_err(|e| {
            Diagnostic::error(
                format!("Stored {what} does not match the {schema}"),
                format!("Could not read the stored {what} of this {type_name}: {e}."),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{AttrType, Attribute, Block, IdentityAttribute};

    #[test]
    fn unchanged_reads_back_the_current_state_and_private_data() {
        let req = ReadResourceRequest {
            type_name: "t_r".into(),
            current_state: Value::object([("name", Value::from("a"))]),
            private: b"p".to_vec(),
            client_capabilities: ClientCapabilities::default(),
            current_identity: Value::Null,
        };
        let state = req.current_state.clone();
        let resp = ReadResourceResponse::unchanged(req);
        assert_eq!(resp.new_state, Some(state));
        assert_eq!(resp.private, b"p");
        assert!(resp.diagnostics.is_empty() && resp.new_identity.is_none());
    }

    #[test]
    fn default_upgrades_refuse_newer_versions_and_undecodable_json() {
        let schema = Schema::new(Block::new().attribute(Attribute::new("n", AttrType::Number)));
        let state = |version, raw_state| {
            default_upgrade(&UpgradeResourceStateRequest {
                type_name: "t_r".into(),
                version,
                raw_state,
                schema: Arc::new(schema.clone()),
            })
        };
        let identity = |version, raw_identity| {
            default_identity_upgrade(&UpgradeResourceIdentityRequest {
                type_name: "t_r".into(),
                version,
                raw_identity,
                schema: Arc::new(IdentitySchema::new([IdentityAttribute::required(
                    "n",
                    AttrType::Number,
                )])),
            })
        };
        let summaries_and_details = |d: &Diagnostics| -> Vec<(String, String)> {
            d.iter()
                .map(|d| (d.summary.clone(), d.detail.clone()))
                .collect()
        };
        let ok = state(0, serde_json::json!({"n": 1}));
        assert!(ok.diagnostics.is_empty());
        assert_eq!(ok.state.attr("n"), &Value::int(1));
        assert_eq!(
            summaries_and_details(&state(1, serde_json::json!({})).diagnostics),
            [(
                "Resource state is from a newer provider".to_owned(),
                "The stored state of this t_r has schema version 1, but this provider only \
                 knows version 0. Upgrade the provider."
                    .to_owned()
            )]
        );
        let bad = state(0, serde_json::json!({"n": "x"})).diagnostics;
        assert_eq!(
            bad.iter().next().unwrap().summary,
            "Stored state does not match the schema"
        );
        assert!(
            bad.iter()
                .next()
                .unwrap()
                .detail
                .starts_with("Could not read the stored state of this t_r: ")
        );

        assert_eq!(
            identity(0, serde_json::json!({"n": 2})).identity.attr("n"),
            &Value::int(2)
        );
        assert_eq!(
            summaries_and_details(&identity(1, serde_json::json!({})).diagnostics),
            [(
                "Resource identity is from a newer provider".to_owned(),
                "The stored identity of this t_r has identity schema version 1, but this \
                 provider only knows version 0. Upgrade the provider."
                    .to_owned()
            )]
        );
        let bad = identity(0, serde_json::json!({"n": "x"})).diagnostics;
        assert_eq!(
            bad.iter().next().unwrap().summary,
            "Stored identity does not match the identity schema"
        );
    }
}
