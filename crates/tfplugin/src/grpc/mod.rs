//! The tfplugin6 `Provider` gRPC service over a [`Provider`]. Every RPC that carries values
//! takes one path ([`ProviderService::handle`]): look up the typed schema, decode the
//! request's values, call the provider inside the RPC's span, encode what comes back and
//! turn [`Diagnostics`] into protobuf diagnostics. Unknown type names and values that do not
//! fit their schema become error diagnostics, never gRPC errors. `InvokeAction`'s stream is
//! in [`action`]; `ListResource` answers its results as one event each (the provider returns
//! them all, then they are streamed); ephemeral resources are in [`ephemeral`]. RPCs we do not
//! serve (state stores, function calls, moves, config generation) answer `Unimplemented` (the
//! generated default stubs).

mod action;
mod convert;
mod ephemeral;
#[cfg(test)]
mod ephemeral_tests;
#[cfg(test)]
mod identity_tests;
#[cfg(test)]
mod list_tests;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use std::sync::RwLock;

use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};
use tracing::{Instrument, Span, info_span, trace};

use self::convert::{
    capabilities, client_capabilities, decode, diag_to_pb, diags_to_pb, encode,
    identity_schema_to_pb, path_to_pb, schema_to_pb,
};
use super::diag::{Diagnostic, Diagnostics};
use super::proto::tfplugin6 as pb;
use super::provider::{self as p, CancellationToken, Provider};
use super::schema::{AttrType, IdentitySchema, ProviderSchema, Schema};
use super::value::Value;

/// A resource's identity schema with its value type.
#[derive(Debug)]
struct Identity {
    schema: Arc<IdentitySchema>,
    ty: AttrType,
}

/// A schema with its value type, computed once (and, for a resource with one, its identity
/// schema).
#[derive(Debug)]
struct Typed {
    schema: Arc<Schema>,
    ty: AttrType,
    identity: Option<Identity>,
}

impl Typed {
    fn new(schema: Schema) -> Typed {
        let ty = schema.value_type();
        Typed {
            schema: Arc::new(schema),
            ty,
            identity: None,
        }
    }

    /// Decodes a request's identity: null when absent or when the type has no identity.
    fn decode_identity(
        &self,
        data: Option<&pb::ResourceIdentityData>,
        what: &str,
    ) -> Result<Value, Diagnostic> {
        match (&self.identity, data.and_then(|d| d.identity_data.as_ref())) {
            (Some(identity), Some(dv)) => decode(Some(dv), &identity.ty, what),
            _ => Ok(Value::Null),
        }
    }

    /// Encodes a response identity; none for a null identity or a type without identity.
    fn encode_identity(
        &self,
        value: Option<Value>,
        what: &str,
        diags: &mut Diagnostics,
    ) -> Option<pb::ResourceIdentityData> {
        let identity = self.identity.as_ref()?;
        let value = value.filter(|v| !v.is_null())?;
        encode(&value, &identity.ty, what)
            .map_err(|d| diags.push(d))
            .ok()
            .map(|dv| pb::ResourceIdentityData {
                identity_data: Some(dv),
            })
    }

    /// Decodes one request value; `what` names it in the error.
    fn decode(&self, dv: Option<&pb::DynamicValue>, what: &str) -> Result<Value, Diagnostic> {
        decode(dv, &self.ty, what)
    }

    /// Encodes one response value after clearing write-only attributes; on failure the
    /// diagnostic joins `diags` and the result is `None`.
    fn encode(
        &self,
        mut value: Value,
        what: &str,
        diags: &mut Diagnostics,
    ) -> Option<pb::DynamicValue> {
        self.schema.block.clear_write_only(&mut value);
        encode(&value, &self.ty, what)
            .map_err(|d| diags.push(d))
            .ok()
    }
}

/// The provider's schemas, typed, plus the prebuilt `GetProviderSchema` response.
#[derive(Debug)]
struct Schemas {
    provider: Typed,
    resources: BTreeMap<String, Typed>,
    data_sources: BTreeMap<String, Typed>,
    actions: BTreeMap<String, Typed>,
    list_resources: BTreeMap<String, Typed>,
    ephemeral_resources: BTreeMap<String, Typed>,
    response: pb::get_provider_schema::Response,
    identity_response: pb::get_resource_identity_schemas::Response,
}

impl Schemas {
    fn new(s: ProviderSchema) -> Schemas {
        let to_pb = |m: &BTreeMap<String, Schema>| {
            m.iter()
                .map(|(k, v)| (k.clone(), schema_to_pb(v)))
                .collect()
        };
        let response = pb::get_provider_schema::Response {
            provider: Some(schema_to_pb(&s.provider)),
            resource_schemas: to_pb(&s.resources),
            data_source_schemas: to_pb(&s.data_sources),
            action_schemas: s
                .actions
                .iter()
                .map(|(k, v)| {
                    let schema = Some(schema_to_pb(v));
                    (k.clone(), pb::ActionSchema { schema })
                })
                .collect(),
            list_resource_schemas: to_pb(&s.list_resources),
            ephemeral_resource_schemas: to_pb(&s.ephemeral_resources),
            server_capabilities: Some(capabilities()),
            ..Default::default()
        };
        let typed = |m: BTreeMap<String, Schema>| {
            m.into_iter()
                .map(|(k, v)| (k, Typed::new(v)))
                .collect::<BTreeMap<_, _>>()
        };
        let identity_response = pb::get_resource_identity_schemas::Response {
            identity_schemas: s
                .identities
                .iter()
                .map(|(k, v)| (k.clone(), identity_schema_to_pb(v)))
                .collect(),
            diagnostics: Vec::new(),
        };
        let mut resources = typed(s.resources);
        for (name, identity) in s.identities {
            if let Some(t) = resources.get_mut(&name) {
                t.identity = Some(Identity {
                    ty: identity.value_type(),
                    schema: Arc::new(identity),
                });
            }
        }
        Schemas {
            provider: Typed::new(s.provider),
            resources,
            data_sources: typed(s.data_sources),
            actions: typed(s.actions),
            list_resources: typed(s.list_resources),
            ephemeral_resources: typed(s.ephemeral_resources),
            response,
            identity_response,
        }
    }
}

/// Runs a provider call inside its RPC span, with terraform-plugin-go's
/// "Received request" / "Served request" trace lines around it.
trait Traced: Future + Sized {
    async fn traced(self, span: Span) -> Self::Output {
        async move {
            trace!("Received request");
            let out = self.await;
            trace!("Served request");
            out
        }
        .instrument(span)
        .await
    }
}

impl<F: Future> Traced for F {}

/// A protobuf response with a `diagnostics` field.
trait Diagnosed: Default {
    fn set_diagnostics(&mut self, diagnostics: Vec<pb::Diagnostic>);

    /// The empty response carrying one error.
    fn failed(d: Diagnostic) -> Self {
        let mut resp = Self::default();
        resp.set_diagnostics(vec![diag_to_pb(d)]);
        resp
    }
}

macro_rules! diagnosed {
    ($($rpc:ident),* $(,)?) => {
        $(impl Diagnosed for pb::$rpc::Response {
            fn set_diagnostics(&mut self, diagnostics: Vec<pb::Diagnostic>) {
                self.diagnostics = diagnostics;
            }
        })*
    };
}

diagnosed!(
    validate_provider_config,
    validate_resource_config,
    validate_data_resource_config,
    upgrade_resource_state,
    upgrade_resource_identity,
    configure_provider,
    read_resource,
    plan_resource_change,
    apply_resource_change,
    import_resource_state,
    read_data_source,
    validate_action_config,
    plan_action,
    validate_list_resource_config,
    validate_ephemeral_resource_config,
    open_ephemeral_resource,
    renew_ephemeral_resource,
    close_ephemeral_resource,
);

fn unknown_type(kind: &str, type_name: &str) -> Diagnostic {
    Diagnostic::error(
        format!("Unknown {kind} type"),
        format!("This provider has no {kind} type {type_name:?}."),
    )
}

/// The gRPC service. Generic over the provider so calls are static.
pub struct ProviderService<P> {
    provider: Arc<P>,
    schemas: Arc<Schemas>,
    /// Parent of every action invocation's cancellation token; `StopProvider` cancels it
    /// and puts a fresh one in its place for invocations that start afterwards.
    stop: RwLock<CancellationToken>,
}

impl<P: Provider> ProviderService<P> {
    /// Wraps `provider`, computing and caching its schemas.
    pub fn new(provider: Arc<P>) -> ProviderService<P> {
        let schemas = Arc::new(Schemas::new(provider.get_schema()));
        ProviderService {
            provider,
            schemas,
            stop: RwLock::default(),
        }
    }

    fn action(&self, type_name: &str) -> Result<&Typed, Diagnostic> {
        self.schemas
            .actions
            .get(type_name)
            .ok_or_else(|| unknown_type("action", type_name))
    }

    fn list_schema(&self, type_name: &str) -> Result<&Typed, Diagnostic> {
        self.schemas
            .list_resources
            .get(type_name)
            .ok_or_else(|| unknown_type("list resource", type_name))
    }

    fn provider_schema(&self) -> Result<&Typed, Diagnostic> {
        Ok(&self.schemas.provider)
    }

    fn resource(&self, type_name: &str) -> Result<&Typed, Diagnostic> {
        self.schemas
            .resources
            .get(type_name)
            .ok_or_else(|| unknown_type("resource", type_name))
    }

    fn data_source(&self, type_name: &str) -> Result<&Typed, Diagnostic> {
        self.schemas
            .data_sources
            .get(type_name)
            .ok_or_else(|| unknown_type("data source", type_name))
    }

    /// The one path of every value-carrying RPC: with the typed `schema`, `call` decodes the
    /// request's values and starts the provider call (a decoding error answers at once);
    /// the call runs traced in `span`; `respond` encodes its output into the response and
    /// returns the diagnostics to attach.
    async fn handle<'a, Resp, Fut>(
        &self,
        schema: Result<&'a Typed, Diagnostic>,
        span: Span,
        call: impl FnOnce(&'a Typed) -> Result<Fut, Diagnostic>,
        respond: impl FnOnce(Fut::Output, &'a Typed) -> (Resp, Diagnostics),
    ) -> Result<Response<Resp>, Status>
    where
        Resp: Diagnosed,
        Fut: Future,
    {
        let started = schema.and_then(|typed| call(typed).map(|fut| (typed, fut)));
        let (typed, fut) = match started {
            Ok(started) => started,
            Err(d) => return Ok(Response::new(Resp::failed(d))),
        };
        let out = fut.traced(span).await;
        let (mut resp, diags) = respond(out, typed);
        resp.set_diagnostics(diags_to_pb(diags));
        Ok(Response::new(resp))
    }
}

/// Responses whose only content is diagnostics.
fn only_diagnostics<Resp: Default>(diags: Diagnostics, _: &Typed) -> (Resp, Diagnostics) {
    (Resp::default(), diags)
}

/// `UpgradeResourceState`'s stored JSON, or why it cannot be read.
fn raw_state_json(raw: Option<pb::RawState>) -> Result<serde_json::Value, Diagnostic> {
    let raw = raw.unwrap_or_default();
    if raw.json.is_empty() && !raw.flatmap.is_empty() {
        return Err(Diagnostic::error(
            "Unsupported state format",
            "The stored state uses the legacy flatmap format, which this provider cannot read.",
        ));
    }
    if raw.json.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_slice(&raw.json).map_err(|e| {
        Diagnostic::error(
            "Invalid stored state",
            format!("The stored state is not valid JSON: {e}."),
        )
    })
}

#[tonic::async_trait]
impl<P: Provider> pb::provider_server::Provider for ProviderService<P> {
    async fn get_metadata(
        &self,
        _request: Request<pb::get_metadata::Request>,
    ) -> Result<Response<pb::get_metadata::Response>, Status> {
        use pb::get_metadata::{
            ActionMetadata, DataSourceMetadata, EphemeralMetadata, ListResourceMetadata,
            ResourceMetadata,
        };
        trace!(tf_rpc = "GetMetadata", "Served request");
        let s = &self.schemas;
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: Some(capabilities()),
            resources: s
                .resources
                .keys()
                .map(|t| ResourceMetadata {
                    type_name: t.clone(),
                })
                .collect(),
            data_sources: s
                .data_sources
                .keys()
                .map(|t| DataSourceMetadata {
                    type_name: t.clone(),
                })
                .collect(),
            actions: s
                .actions
                .keys()
                .map(|t| ActionMetadata {
                    type_name: t.clone(),
                })
                .collect(),
            list_resources: s
                .list_resources
                .keys()
                .map(|t| ListResourceMetadata {
                    type_name: t.clone(),
                })
                .collect(),
            ephemeral_resources: s
                .ephemeral_resources
                .keys()
                .map(|t| EphemeralMetadata {
                    type_name: t.clone(),
                })
                .collect(),
            ..Default::default()
        }))
    }

    async fn get_provider_schema(
        &self,
        _request: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        trace!(tf_rpc = "GetProviderSchema", "Served request");
        Ok(Response::new(self.schemas.response.clone()))
    }

    async fn get_resource_identity_schemas(
        &self,
        _request: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Result<Response<pb::get_resource_identity_schemas::Response>, Status> {
        trace!(tf_rpc = "GetResourceIdentitySchemas", "Served request");
        Ok(Response::new(self.schemas.identity_response.clone()))
    }

    async fn upgrade_resource_identity(
        &self,
        request: Request<pb::upgrade_resource_identity::Request>,
    ) -> Result<Response<pb::upgrade_resource_identity::Response>, Status> {
        let req = request.into_inner();
        let span = info_span!("rpc", tf_rpc = "UpgradeResourceIdentity", tf_resource_type = %req.type_name);
        let call = |t: &Typed| {
            let Some(identity) = &t.identity else {
                return Err(Diagnostic::error(
                    "Resource type has no identity",
                    format!(
                        "Terraform asked to upgrade the identity of a {}, which declares no identity schema.",
                        req.type_name
                    ),
                ));
            };
            Ok(self
                .provider
                .upgrade_resource_identity(p::UpgradeResourceIdentityRequest {
                    raw_identity: raw_state_json(req.raw_identity)?,
                    type_name: req.type_name.clone(),
                    version: req.version,
                    schema: identity.schema.clone(),
                }))
        };
        let respond = |out: p::UpgradeResourceIdentityResponse, t: &Typed| {
            let mut diags = out.diagnostics;
            let upgraded_identity =
                t.encode_identity(Some(out.identity), "upgraded identity", &mut diags);
            (
                pb::upgrade_resource_identity::Response {
                    upgraded_identity,
                    ..Default::default()
                },
                diags,
            )
        };
        self.handle(self.resource(&req.type_name), span, call, respond)
            .await
    }

    async fn get_functions(
        &self,
        _request: Request<pb::get_functions::Request>,
    ) -> Result<Response<pb::get_functions::Response>, Status> {
        trace!(tf_rpc = "GetFunctions", "Served request (no functions)");
        Ok(Response::new(Default::default()))
    }

    async fn validate_provider_config(
        &self,
        request: Request<pb::validate_provider_config::Request>,
    ) -> Result<Response<pb::validate_provider_config::Response>, Status> {
        let req = request.into_inner();
        let span = info_span!("rpc", tf_rpc = "ValidateProviderConfig");
        let call = |t: &Typed| {
            let config = t.decode(req.config.as_ref(), "provider configuration")?;
            Ok(self.provider.validate_provider_config(p::ValidateRequest {
                type_name: String::new(),
                config,
                client_capabilities: Default::default(),
            }))
        };
        self.handle(self.provider_schema(), span, call, only_diagnostics)
            .await
    }

    async fn validate_resource_config(
        &self,
        request: Request<pb::validate_resource_config::Request>,
    ) -> Result<Response<pb::validate_resource_config::Response>, Status> {
        let req = request.into_inner();
        let span =
            info_span!("rpc", tf_rpc = "ValidateResourceConfig", tf_resource_type = %req.type_name);
        let call = |t: &Typed| {
            let config = t.decode(req.config.as_ref(), "configuration")?;
            Ok(self.provider.validate_resource_config(p::ValidateRequest {
                type_name: req.type_name.clone(),
                config,
                client_capabilities: client_capabilities(req.client_capabilities.as_ref()),
            }))
        };
        self.handle(self.resource(&req.type_name), span, call, only_diagnostics)
            .await
    }

    async fn validate_data_resource_config(
        &self,
        request: Request<pb::validate_data_resource_config::Request>,
    ) -> Result<Response<pb::validate_data_resource_config::Response>, Status> {
        let req = request.into_inner();
        let span = info_span!("rpc", tf_rpc = "ValidateDataResourceConfig", tf_data_source_type = %req.type_name);
        let call = |t: &Typed| {
            let config = t.decode(req.config.as_ref(), "configuration")?;
            Ok(self
                .provider
                .validate_data_resource_config(p::ValidateRequest {
                    type_name: req.type_name.clone(),
                    config,
                    client_capabilities: Default::default(),
                }))
        };
        self.handle(
            self.data_source(&req.type_name),
            span,
            call,
            only_diagnostics,
        )
        .await
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        let req = request.into_inner();
        let span =
            info_span!("rpc", tf_rpc = "UpgradeResourceState", tf_resource_type = %req.type_name);
        let call = |t: &Typed| {
            Ok(self
                .provider
                .upgrade_resource_state(p::UpgradeResourceStateRequest {
                    raw_state: raw_state_json(req.raw_state)?,
                    type_name: req.type_name.clone(),
                    version: req.version,
                    schema: t.schema.clone(),
                }))
        };
        let respond = |out: p::UpgradeResourceStateResponse, t: &Typed| {
            let mut diags = out.diagnostics;
            let upgraded_state = t.encode(out.state, "upgraded state", &mut diags);
            (
                pb::upgrade_resource_state::Response {
                    upgraded_state,
                    ..Default::default()
                },
                diags,
            )
        };
        self.handle(self.resource(&req.type_name), span, call, respond)
            .await
    }

    async fn configure_provider(
        &self,
        request: Request<pb::configure_provider::Request>,
    ) -> Result<Response<pb::configure_provider::Response>, Status> {
        let req = request.into_inner();
        let span = info_span!("rpc", tf_rpc = "ConfigureProvider");
        let call = |t: &Typed| {
            let config = t.decode(req.config.as_ref(), "provider configuration")?;
            Ok(self
                .provider
                .configure_provider(p::ConfigureProviderRequest {
                    terraform_version: req.terraform_version,
                    config,
                    client_capabilities: client_capabilities(req.client_capabilities.as_ref()),
                }))
        };
        self.handle(self.provider_schema(), span, call, only_diagnostics)
            .await
    }

    async fn read_resource(
        &self,
        request: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        let req = request.into_inner();
        let span = info_span!("rpc", tf_rpc = "ReadResource", tf_resource_type = %req.type_name);
        let call = |t: &Typed| {
            Ok(self.provider.read_resource(p::ReadResourceRequest {
                current_state: t.decode(req.current_state.as_ref(), "current state")?,
                current_identity: t
                    .decode_identity(req.current_identity.as_ref(), "current identity")?,
                type_name: req.type_name.clone(),
                private: req.private.clone(),
                client_capabilities: client_capabilities(req.client_capabilities.as_ref()),
            }))
        };
        let respond = |out: p::ReadResourceResponse, t: &Typed| {
            let mut diags = out.diagnostics;
            let (new_state, private) = match out.new_state {
                Some(state) => match t.encode(state, "refreshed state", &mut diags) {
                    Some(dv) => (Some(dv), out.private),
                    None => (req.current_state.clone(), req.private.clone()),
                },
                // an error without a state must not look like "the object is gone"
                None if diags.has_errors() => (req.current_state.clone(), req.private.clone()),
                None => (encode(&Value::Null, &t.ty, "state").ok(), Vec::new()),
            };
            let new_identity = t.encode_identity(out.new_identity, "identity", &mut diags);
            let resp = pb::read_resource::Response {
                new_state,
                private,
                new_identity,
                ..Default::default()
            };
            (resp, diags)
        };
        self.handle(self.resource(&req.type_name), span, call, respond)
            .await
    }

    async fn plan_resource_change(
        &self,
        request: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        let req = request.into_inner();
        let span =
            info_span!("rpc", tf_rpc = "PlanResourceChange", tf_resource_type = %req.type_name);
        let call = |t: &Typed| {
            Ok(self
                .provider
                .plan_resource_change(p::PlanResourceChangeRequest {
                    prior_state: t.decode(req.prior_state.as_ref(), "prior state")?,
                    proposed_new_state: t
                        .decode(req.proposed_new_state.as_ref(), "proposed new state")?,
                    config: t.decode(req.config.as_ref(), "configuration")?,
                    prior_identity: t
                        .decode_identity(req.prior_identity.as_ref(), "prior identity")?,
                    type_name: req.type_name.clone(),
                    prior_private: req.prior_private,
                    client_capabilities: client_capabilities(req.client_capabilities.as_ref()),
                }))
        };
        let respond = |out: p::PlanResourceChangeResponse, t: &Typed| {
            let mut diags = out.diagnostics;
            let resp = pb::plan_resource_change::Response {
                planned_state: t.encode(out.planned_state, "planned state", &mut diags),
                requires_replace: out.requires_replace.iter().map(path_to_pb).collect(),
                planned_private: out.planned_private,
                planned_identity: t.encode_identity(
                    out.planned_identity,
                    "planned identity",
                    &mut diags,
                ),
                ..Default::default()
            };
            (resp, diags)
        };
        self.handle(self.resource(&req.type_name), span, call, respond)
            .await
    }

    async fn apply_resource_change(
        &self,
        request: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        let req = request.into_inner();
        let span =
            info_span!("rpc", tf_rpc = "ApplyResourceChange", tf_resource_type = %req.type_name);
        let call = |t: &Typed| {
            Ok(self
                .provider
                .apply_resource_change(p::ApplyResourceChangeRequest {
                    prior_state: t.decode(req.prior_state.as_ref(), "prior state")?,
                    planned_state: t.decode(req.planned_state.as_ref(), "planned state")?,
                    config: t.decode(req.config.as_ref(), "configuration")?,
                    planned_identity: t
                        .decode_identity(req.planned_identity.as_ref(), "planned identity")?,
                    type_name: req.type_name.clone(),
                    planned_private: req.planned_private,
                }))
        };
        let respond = |out: p::ApplyResourceChangeResponse, t: &Typed| {
            let mut diags = out.diagnostics;
            // a state that does not fit the schema keeps the prior state
            let new_state = t
                .encode(out.new_state, "new state", &mut diags)
                .or_else(|| req.prior_state.clone());
            let new_identity = t.encode_identity(out.new_identity, "new identity", &mut diags);
            let resp = pb::apply_resource_change::Response {
                new_state,
                private: out.private,
                new_identity,
                ..Default::default()
            };
            (resp, diags)
        };
        self.handle(self.resource(&req.type_name), span, call, respond)
            .await
    }

    async fn import_resource_state(
        &self,
        request: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        let req = request.into_inner();
        let span =
            info_span!("rpc", tf_rpc = "ImportResourceState", tf_resource_type = %req.type_name);
        let call = |t: &Typed| {
            Ok(self
                .provider
                .import_resource_state(p::ImportResourceStateRequest {
                    identity: t.decode_identity(req.identity.as_ref(), "identity")?,
                    type_name: req.type_name.clone(),
                    id: req.id,
                    client_capabilities: client_capabilities(req.client_capabilities.as_ref()),
                }))
        };
        let respond = |out: p::ImportResourceStateResponse, _: &Typed| {
            let mut diags = out.diagnostics;
            let mut imported_resources = Vec::new();
            for r in out.imported {
                // an import may return resources of other types than the one asked for
                let encoded = match self.resource(&r.type_name) {
                    Ok(t) => t
                        .encode(r.state, "imported state", &mut diags)
                        .map(|state| {
                            let identity =
                                t.encode_identity(r.identity, "imported identity", &mut diags);
                            (state, identity)
                        }),
                    Err(d) => {
                        diags.push(d);
                        None
                    }
                };
                if let Some((state, identity)) = encoded {
                    imported_resources.push(pb::import_resource_state::ImportedResource {
                        type_name: r.type_name,
                        state: Some(state),
                        private: r.private,
                        identity,
                    });
                }
            }
            let resp = pb::import_resource_state::Response {
                imported_resources,
                ..Default::default()
            };
            (resp, diags)
        };
        self.handle(self.resource(&req.type_name), span, call, respond)
            .await
    }

    async fn read_data_source(
        &self,
        request: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        let req = request.into_inner();
        let span =
            info_span!("rpc", tf_rpc = "ReadDataSource", tf_data_source_type = %req.type_name);
        let call = |t: &Typed| {
            Ok(self.provider.read_data_source(p::ReadDataSourceRequest {
                config: t.decode(req.config.as_ref(), "configuration")?,
                type_name: req.type_name.clone(),
            }))
        };
        let respond = |out: p::ReadDataSourceResponse, t: &Typed| {
            let mut diags = out.diagnostics;
            let resp = pb::read_data_source::Response {
                state: t.encode(out.state, "data source state", &mut diags),
                ..Default::default()
            };
            (resp, diags)
        };
        self.handle(self.data_source(&req.type_name), span, call, respond)
            .await
    }

    async fn validate_action_config(
        &self,
        request: Request<pb::validate_action_config::Request>,
    ) -> Result<Response<pb::validate_action_config::Response>, Status> {
        let req = request.into_inner();
        let span =
            info_span!("rpc", tf_rpc = "ValidateActionConfig", tf_action_type = %req.type_name);
        let call = |t: &Typed| {
            let config = t.decode(req.config.as_ref(), "configuration")?;
            Ok(self.provider.validate_action_config(p::ValidateRequest {
                type_name: req.type_name.clone(),
                config,
                // Actions exist from Terraform 1.14, which knows write-only attributes.
                client_capabilities: p::ClientCapabilities {
                    write_only_attributes_allowed: true,
                    ..Default::default()
                },
            }))
        };
        self.handle(self.action(&req.type_name), span, call, only_diagnostics)
            .await
    }

    async fn plan_action(
        &self,
        request: Request<pb::plan_action::Request>,
    ) -> Result<Response<pb::plan_action::Response>, Status> {
        let req = request.into_inner();
        let span = info_span!("rpc", tf_rpc = "PlanAction", tf_action_type = %req.action_type);
        let call = |t: &Typed| {
            Ok(self.provider.plan_action(p::PlanActionRequest {
                config: t.decode(req.config.as_ref(), "configuration")?,
                action_type: req.action_type.clone(),
            }))
        };
        self.handle(self.action(&req.action_type), span, call, only_diagnostics)
            .await
    }

    async fn invoke_action(
        &self,
        request: Request<pb::invoke_action::Request>,
    ) -> Result<Response<BoxStream<pb::invoke_action::Event>>, Status> {
        let req = request.into_inner();
        let span = info_span!("rpc", tf_rpc = "InvokeAction", tf_action_type = %req.action_type);
        let decoded = self
            .action(&req.action_type)
            .and_then(|t| t.decode(req.config.as_ref(), "configuration"));
        let stream = match decoded {
            Err(d) => action::failed(d),
            Ok(config) => {
                let cancel = self.stop.read().expect("stop lock").child_token();
                let invocation = p::InvokeActionRequest {
                    action_type: req.action_type,
                    config,
                };
                action::invoke(Arc::clone(&self.provider), invocation, cancel, span)
            }
        };
        Ok(Response::new(stream))
    }

    async fn validate_list_resource_config(
        &self,
        request: Request<pb::validate_list_resource_config::Request>,
    ) -> Result<Response<pb::validate_list_resource_config::Response>, Status> {
        let req = request.into_inner();
        let span = info_span!("rpc", tf_rpc = "ValidateListResourceConfig", tf_resource_type = %req.type_name);
        let call = |t: &Typed| {
            Ok(self
                .provider
                .validate_list_resource_config(p::ValidateRequest {
                    config: t.decode(req.config.as_ref(), "configuration")?,
                    type_name: req.type_name.clone(),
                    client_capabilities: Default::default(),
                }))
        };
        self.handle(
            self.list_schema(&req.type_name),
            span,
            call,
            only_diagnostics,
        )
        .await
    }

    async fn list_resource(
        &self,
        request: Request<pb::list_resource::Request>,
    ) -> Result<Response<BoxStream<pb::list_resource::Event>>, Status> {
        let req = request.into_inner();
        let span = info_span!("rpc", tf_rpc = "ListResource", tf_resource_type = %req.type_name);
        let only = |d: Diagnostics| pb::list_resource::Event {
            diagnostic: diags_to_pb(d),
            ..Default::default()
        };
        let once = |e: pb::list_resource::Event| -> BoxStream<pb::list_resource::Event> {
            Box::pin(tokio_stream::iter(vec![Ok(e)]))
        };
        let typed = self
            .list_schema(&req.type_name)
            .and_then(|l| self.resource(&req.type_name).map(|r| (l, r)));
        let (list, resource) = match typed {
            Ok(t) => t,
            Err(d) => return Ok(Response::new(once(only(d.into())))),
        };
        let config = match list.decode(req.config.as_ref(), "configuration") {
            Ok(c) => c,
            Err(d) => return Ok(Response::new(once(only(d.into())))),
        };
        let out = self
            .provider
            .list_resource(p::ListResourceRequest {
                type_name: req.type_name.clone(),
                config,
                include_resource_object: req.include_resource_object,
                limit: req.limit,
            })
            .traced(span)
            .await;
        let mut events = Vec::new();
        if !out.diagnostics.is_empty() {
            events.push(Ok(only(out.diagnostics)));
        }
        let limit = usize::try_from(req.limit).ok().filter(|l| *l > 0);
        for result in out.results.into_iter().take(limit.unwrap_or(usize::MAX)) {
            let mut diags = result.diagnostics;
            let identity = resource.encode_identity(Some(result.identity), "identity", &mut diags);
            let resource_object = match result.resource_object {
                Some(v) if req.include_resource_object => {
                    resource.encode(v, "resource object", &mut diags)
                }
                _ => None,
            };
            events.push(Ok(pb::list_resource::Event {
                identity,
                display_name: result.display_name,
                resource_object,
                diagnostic: diags_to_pb(diags),
            }));
        }
        Ok(Response::new(Box::pin(tokio_stream::iter(events))))
    }

    async fn validate_ephemeral_resource_config(
        &self,
        request: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Result<Response<pb::validate_ephemeral_resource_config::Response>, Status> {
        self.serve_validate_ephemeral(request.into_inner()).await
    }

    async fn open_ephemeral_resource(
        &self,
        request: Request<pb::open_ephemeral_resource::Request>,
    ) -> Result<Response<pb::open_ephemeral_resource::Response>, Status> {
        self.serve_open_ephemeral(request.into_inner()).await
    }

    async fn renew_ephemeral_resource(
        &self,
        request: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Result<Response<pb::renew_ephemeral_resource::Response>, Status> {
        self.serve_renew_ephemeral(request.into_inner()).await
    }

    async fn close_ephemeral_resource(
        &self,
        request: Request<pb::close_ephemeral_resource::Request>,
    ) -> Result<Response<pb::close_ephemeral_resource::Response>, Status> {
        self.serve_close_ephemeral(request.into_inner()).await
    }

    async fn stop_provider(
        &self,
        _request: Request<pb::stop_provider::Request>,
    ) -> Result<Response<pb::stop_provider::Response>, Status> {
        {
            let mut stop = self.stop.write().expect("stop lock");
            stop.cancel();
            *stop = CancellationToken::new();
        }
        let result = self
            .provider
            .stop_provider()
            .traced(info_span!("rpc", tf_rpc = "StopProvider"))
            .await;
        Ok(Response::new(pb::stop_provider::Response {
            error: result.err().unwrap_or_default(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::AttrPath;
    use crate::schema::{Attribute, Block};
    use crate::test_support::{answer, dynamic, raw_json, rt, served_attributes};
    use pb::provider_server::Provider as _;

    /// One resource `t_r` with `id` (computed) and `name` (required), and one action `t_a`
    /// with `mode`: "ok" sends two messages and warns, "wait" sends one and waits for
    /// cancellation, then sends one more (never forwarded), reports it on `cancelled` and
    /// fails.
    struct Fake {
        cancelled: tokio::sync::mpsc::UnboundedSender<()>,
    }

    impl Provider for Fake {
        fn get_schema(&self) -> ProviderSchema {
            let block = Block::new()
                .attribute(Attribute::new("id", AttrType::String).computed())
                .attribute(Attribute::new("name", AttrType::String).required());
            let action =
                Block::new().attribute(Attribute::new("mode", AttrType::String).required());
            ProviderSchema {
                resources: [("t_r".to_owned(), Schema::new(block))].into(),
                actions: [("t_a".to_owned(), Schema::new(action))].into(),
                ..Default::default()
            }
        }

        async fn invoke_action(
            &self,
            req: p::InvokeActionRequest,
            progress: p::ActionProgress,
            cancel: CancellationToken,
        ) -> Diagnostics {
            if req.config.attr("mode").as_str() == Some("ok") {
                progress.send("one");
                progress.send("two");
                return Diagnostic::warning("done", "").into();
            }
            progress.send("waiting");
            cancel.cancelled().await;
            progress.send("after the cancellation");
            let _ = self.cancelled.send(());
            Diagnostic::error("cancelled", "").into()
        }

        async fn read_resource(&self, req: p::ReadResourceRequest) -> p::ReadResourceResponse {
            let mut resp = p::ReadResourceResponse::default();
            match req.current_state.attr("name").as_str() {
                Some("fail") => resp.diagnostics.error("boom", ""),
                Some("gone") => {}
                Some("bad") => resp.new_state = Some(Value::object([("name", Value::int(1))])),
                _ => resp.new_state = Some(req.current_state),
            }
            resp
        }
    }

    fn service() -> ProviderService<Fake> {
        service_with(tokio::sync::mpsc::unbounded_channel().0)
    }

    fn service_with(cancelled: tokio::sync::mpsc::UnboundedSender<()>) -> ProviderService<Fake> {
        ProviderService::new(Arc::new(Fake { cancelled }))
    }

    async fn invoke(
        service: &ProviderService<Fake>,
        action: &str,
        mode: &str,
    ) -> BoxStream<pb::invoke_action::Event> {
        let ty = AttrType::object([("mode", AttrType::String)]);
        let config = Value::object([("mode", Value::from(mode))]);
        answer(
            service.invoke_action(Request::new(pb::invoke_action::Request {
                action_type: action.into(),
                config: Some(dynamic(&config, &ty)),
                client_capabilities: None,
            })),
        )
        .await
    }

    /// "progress:MESSAGE" or "completed:SUMMARY,SUMMARY".
    fn describe(event: pb::invoke_action::Event) -> String {
        use pb::invoke_action::event::Type;
        match event.r#type.unwrap() {
            Type::Progress(p) => format!("progress:{}", p.message),
            Type::Completed(c) => {
                let summaries: Vec<_> = c.diagnostics.into_iter().map(|d| d.summary).collect();
                format!("completed:{}", summaries.join(","))
            }
        }
    }

    async fn events(stream: BoxStream<pb::invoke_action::Event>) -> Vec<String> {
        use tokio_stream::StreamExt;
        stream.map(|e| describe(e.unwrap())).collect().await
    }

    fn state(name: &str) -> pb::DynamicValue {
        let ty = AttrType::object([("id", AttrType::String), ("name", AttrType::String)]);
        let v = Value::object([("id", Value::from("x")), ("name", Value::from(name))]);
        dynamic(&v, &ty)
    }

    async fn read(name: &str) -> pb::read_resource::Response {
        answer(
            service().read_resource(Request::new(pb::read_resource::Request {
                type_name: "t_r".into(),
                current_state: Some(state(name)),
                private: b"p".to_vec(),
                ..Default::default()
            })),
        )
        .await
    }

    #[test]
    fn schema_response() {
        let resp = rt().block_on(answer(
            service().get_provider_schema(Request::new(Default::default())),
        ));
        let attrs = served_attributes(&resp.resource_schemas["t_r"]);
        assert_eq!(attrs[0].name, "id");
        assert_eq!(attrs[0].r#type, br#""string""#);
        assert!(attrs[0].computed && attrs[1].required);
        assert!(!resp.server_capabilities.unwrap().plan_destroy);
    }

    #[test]
    fn read_outcomes() {
        rt().block_on(async {
            let ok = read("keep").await;
            assert_eq!(ok.new_state, Some(state("keep")));
            assert!(ok.diagnostics.is_empty());

            // an error without a state keeps the current state
            let failed = read("fail").await;
            assert_eq!(failed.new_state, Some(state("fail")));
            assert_eq!(failed.private, b"p");
            assert_eq!(failed.diagnostics[0].summary, "boom");

            // no state, no error: gone (msgpack nil)
            let gone = read("gone").await;
            assert_eq!(gone.new_state.unwrap().msgpack, [0xc0]);

            // a value that does not fit the schema is reported at its path
            let bad = read("bad").await;
            assert_eq!(bad.new_state, Some(state("bad")));
            let d = &bad.diagnostics[0];
            assert_eq!(d.summary, "Provider produced an invalid value");
            assert_eq!(d.attribute, Some(path_to_pb(&AttrPath::attr("name"))));
        });
    }

    #[test]
    fn unknown_type_and_unimplemented_defaults_are_diagnostics() {
        rt().block_on(async {
            let resp = answer(service().plan_resource_change(Request::new(
                pb::plan_resource_change::Request {
                    type_name: "nope".into(),
                    ..Default::default()
                },
            )))
            .await;
            assert_eq!(resp.diagnostics[0].summary, "Unknown resource type");

            let resp = answer(service().apply_resource_change(Request::new(
                pb::apply_resource_change::Request {
                    type_name: "t_r".into(),
                    prior_state: Some(state("a")),
                    ..Default::default()
                },
            )))
            .await;
            assert_eq!(resp.diagnostics[0].summary, "Unsupported resource type");
            assert_eq!(resp.new_state, Some(state("a")));
        });
    }

    #[test]
    fn upgrade_decodes_json_with_current_schema() {
        let request = pb::upgrade_resource_state::Request {
            type_name: "t_r".into(),
            version: 0,
            raw_state: Some(raw_json(br#"{"id":"x","name":"n","removed":true}"#)),
        };
        let resp = rt().block_on(answer(
            service().upgrade_resource_state(Request::new(request)),
        ));
        assert!(resp.diagnostics.is_empty());
        assert_eq!(resp.upgraded_state, Some(state("n")));
    }

    #[test]
    fn undecodable_values_and_legacy_state_answer_with_a_diagnostic() {
        rt().block_on(async {
            let config = pb::DynamicValue {
                msgpack: vec![0xa1, b'a'], // the string "a", not an object
                json: Vec::new(),
            };
            let resp = answer(service().validate_resource_config(Request::new(
                pb::validate_resource_config::Request {
                    type_name: "t_r".into(),
                    config: Some(config),
                    ..Default::default()
                },
            )))
            .await;
            assert_eq!(resp.diagnostics.len(), 1);
            assert_eq!(resp.diagnostics[0].summary, "Invalid value from Terraform");
            assert!(resp.diagnostics[0].detail.contains("configuration"));

            let legacy = pb::RawState {
                json: Vec::new(),
                flatmap: [("id".to_owned(), "x".to_owned())].into(),
            };
            let resp = answer(service().upgrade_resource_state(Request::new(
                pb::upgrade_resource_state::Request {
                    type_name: "t_r".into(),
                    version: 0,
                    raw_state: Some(legacy),
                },
            )))
            .await;
            assert_eq!(resp.diagnostics[0].summary, "Unsupported state format");
            assert_eq!(resp.upgraded_state, None);
        });
    }

    #[test]
    fn actions_are_listed_and_their_schemas_served() {
        rt().block_on(async {
            let svc = service();
            let meta = answer(svc.get_metadata(Request::new(Default::default()))).await;
            assert_eq!(meta.actions[0].type_name, "t_a");
            let schema = answer(svc.get_provider_schema(Request::new(Default::default()))).await;
            let block = schema.action_schemas["t_a"].schema.as_ref().unwrap();
            assert_eq!(block.block.as_ref().unwrap().attributes[0].name, "mode");
        });
    }

    #[test]
    fn invoke_streams_progress_then_one_completed_event() {
        rt().block_on(async {
            let svc = service();
            assert_eq!(
                events(invoke(&svc, "t_a", "ok").await).await,
                ["progress:one", "progress:two", "completed:done"]
            );
            // an unknown action still ends with a completed event
            assert_eq!(
                events(invoke(&svc, "nope", "ok").await).await,
                ["completed:Unknown action type"]
            );
        });
    }

    #[test]
    fn stop_provider_cancels_invocations_in_flight_only() {
        use tokio_stream::StreamExt;
        rt().block_on(async {
            let svc = service();
            let mut stream = invoke(&svc, "t_a", "wait").await;
            let first = describe(stream.next().await.unwrap().unwrap());
            assert_eq!(first, "progress:waiting");
            svc.stop_provider(Request::new(Default::default()))
                .await
                .unwrap();
            assert_eq!(events(stream).await, ["completed:cancelled"]);
            // invocations after the stop are not cancelled by it
            assert_eq!(
                events(invoke(&svc, "t_a", "ok").await).await,
                ["progress:one", "progress:two", "completed:done"]
            );
        });
    }

    #[test]
    fn dropping_the_stream_cancels_the_invocation() {
        use tokio_stream::StreamExt;
        rt().block_on(async {
            let (tx, mut cancelled) = tokio::sync::mpsc::unbounded_channel();
            let svc = service_with(tx);
            let mut stream = invoke(&svc, "t_a", "wait").await;
            let first = describe(stream.next().await.unwrap().unwrap());
            assert_eq!(first, "progress:waiting");
            drop(stream);
            assert_eq!(cancelled.recv().await, Some(()));
        });
    }
}
