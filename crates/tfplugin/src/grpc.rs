//! The tfplugin6 `Provider` gRPC service over a [`Provider`]: decodes requests against the
//! cached schemas, calls the provider, encodes the results, and turns [`Diagnostics`] into
//! protobuf diagnostics. Unknown type names and values that do not fit their schema become
//! error diagnostics, never gRPC errors. RPCs we do not serve (ephemeral resources, lists,
//! state stores, actions, functions calls, moves) answer `Unimplemented`.

use std::collections::BTreeMap;
use std::sync::Arc;

use std::future::Future;
use tonic::{Request, Response, Status};

use tracing::{Instrument, Span, info_span, trace};

use super::codec;
use super::diag::{AttrPath, Diagnostic, Diagnostics, PathStep, Severity};
use super::proto::tfplugin6 as pb;
use super::provider::{self as p, Provider};
use super::schema::{AttrType, Attribute, Block, NestedBlock, Nesting, ProviderSchema, Schema};
use super::value::Value;

/// A schema with its value type, computed once.
#[derive(Debug)]
struct Typed {
    schema: Arc<Schema>,
    ty: AttrType,
}

impl Typed {
    fn new(schema: Schema) -> Typed {
        let ty = schema.value_type();
        Typed {
            schema: Arc::new(schema),
            ty,
        }
    }
}

/// The provider's schemas, typed, plus the prebuilt `GetProviderSchema` response.
#[derive(Debug)]
struct Schemas {
    provider: Typed,
    resources: BTreeMap<String, Typed>,
    data_sources: BTreeMap<String, Typed>,
    response: pb::get_provider_schema::Response,
}

impl Schemas {
    fn new(s: ProviderSchema) -> Schemas {
        let response = pb::get_provider_schema::Response {
            provider: Some(schema_to_pb(&s.provider)),
            resource_schemas: s
                .resources
                .iter()
                .map(|(k, v)| (k.clone(), schema_to_pb(v)))
                .collect(),
            data_source_schemas: s
                .data_sources
                .iter()
                .map(|(k, v)| (k.clone(), schema_to_pb(v)))
                .collect(),
            server_capabilities: Some(capabilities()),
            ..Default::default()
        };
        let typed = |m: BTreeMap<String, Schema>| {
            m.into_iter()
                .map(|(k, v)| (k, Typed::new(v)))
                .collect::<BTreeMap<_, _>>()
        };
        Schemas {
            provider: Typed::new(s.provider),
            resources: typed(s.resources),
            data_sources: typed(s.data_sources),
            response,
        }
    }
}

fn capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: false,
        get_provider_schema_optional: false,
        move_resource_state: false,
        generate_resource_config: false,
    }
}

fn schema_to_pb(s: &Schema) -> pb::Schema {
    pb::Schema {
        version: s.version,
        block: Some(block_to_pb(&s.block, s.version)),
    }
}

fn block_to_pb(b: &Block, version: i64) -> pb::schema::Block {
    pb::schema::Block {
        version,
        attributes: b.attributes.iter().map(attribute_to_pb).collect(),
        block_types: b.block_types.iter().map(nested_to_pb).collect(),
        description: b.description.clone(),
        description_kind: pb::StringKind::Plain as i32,
        deprecated: b.deprecated,
        deprecation_message: String::new(),
    }
}

fn attribute_to_pb(a: &Attribute) -> pb::schema::Attribute {
    pb::schema::Attribute {
        name: a.name.clone(),
        r#type: a.ty.to_cty_json_bytes(),
        nested_type: None,
        description: a.description.clone(),
        required: a.required,
        optional: a.optional,
        computed: a.computed,
        sensitive: a.sensitive,
        description_kind: pb::StringKind::Plain as i32,
        deprecated: a.deprecated,
        write_only: a.write_only,
        deprecation_message: String::new(),
    }
}

fn nested_to_pb(n: &NestedBlock) -> pb::schema::NestedBlock {
    use pb::schema::nested_block::NestingMode as M;
    let nesting = match n.nesting {
        Nesting::Single => M::Single,
        Nesting::Group => M::Group,
        Nesting::List => M::List,
        Nesting::Set => M::Set,
        Nesting::Map => M::Map,
    };
    pb::schema::NestedBlock {
        type_name: n.type_name.clone(),
        block: Some(block_to_pb(&n.block, 0)),
        nesting: nesting as i32,
        min_items: n.min_items,
        max_items: n.max_items,
    }
}

fn path_to_pb(path: &AttrPath) -> pb::AttributePath {
    use pb::attribute_path::{Step, step::Selector};
    pb::AttributePath {
        steps: path
            .steps()
            .iter()
            .map(|s| Step {
                selector: Some(match s {
                    PathStep::Attribute(a) => Selector::AttributeName(a.clone()),
                    PathStep::Key(k) => Selector::ElementKeyString(k.clone()),
                    PathStep::Index(i) => Selector::ElementKeyInt(*i),
                }),
            })
            .collect(),
    }
}

fn diag_to_pb(d: Diagnostic) -> pb::Diagnostic {
    let severity = match d.severity {
        Severity::Error => pb::diagnostic::Severity::Error,
        Severity::Warning => pb::diagnostic::Severity::Warning,
    };
    pb::Diagnostic {
        severity: severity as i32,
        summary: d.summary,
        detail: d.detail,
        attribute: d.attribute.as_ref().map(path_to_pb),
    }
}

fn diags_to_pb(d: Diagnostics) -> Vec<pb::Diagnostic> {
    d.into_iter().map(diag_to_pb).collect()
}

/// Decodes a request value; `what` names it in the error.
fn decode(dv: Option<&pb::DynamicValue>, ty: &AttrType, what: &str) -> Result<Value, Diagnostic> {
    let result = match dv {
        None => Ok(Value::Null),
        Some(dv) if !dv.msgpack.is_empty() => codec::from_msgpack(&dv.msgpack, ty),
        Some(dv) if !dv.json.is_empty() => codec::from_json_bytes(&dv.json, ty),
        Some(_) => Ok(Value::Null),
    };
    result.map_err(|e| {
        Diagnostic::error(
            "Invalid value from Terraform",
            format!("The provider could not decode the {what}: {e}."),
        )
    })
}

/// Encodes a response value; a value that does not fit its schema is a provider bug.
fn encode(v: &Value, ty: &AttrType, what: &str) -> Result<pb::DynamicValue, Diagnostic> {
    codec::to_msgpack(v, ty)
        .map(|msgpack| pb::DynamicValue {
            msgpack,
            json: Vec::new(),
        })
        .map_err(|e| {
            let d = Diagnostic::error(
                "Provider produced an invalid value",
                format!(
                    "The {what} does not match the schema: {e}. This is a bug in the provider."
                ),
            );
            if e.path.0.is_empty() { d } else { d.at(e.path) }
        })
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
}

impl<P: Provider> ProviderService<P> {
    /// Wraps `provider`, computing and caching its schemas.
    pub fn new(provider: Arc<P>) -> ProviderService<P> {
        let schemas = Arc::new(Schemas::new(provider.get_schema()));
        ProviderService { provider, schemas }
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
}

macro_rules! try_diag {
    ($e:expr, $resp:expr) => {
        match $e {
            Ok(v) => v,
            Err(d) => {
                let mut resp = $resp;
                resp.diagnostics = vec![diag_to_pb(d)];
                return Ok(Response::new(resp));
            }
        }
    };
}

#[tonic::async_trait]
impl<P: Provider> pb::provider_server::Provider for ProviderService<P> {
    async fn get_metadata(
        &self,
        _request: Request<pb::get_metadata::Request>,
    ) -> Result<Response<pb::get_metadata::Response>, Status> {
        use pb::get_metadata::{DataSourceMetadata, ResourceMetadata};
        trace!(tf_rpc = "GetMetadata", "Served request");
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: Some(capabilities()),
            resources: self
                .schemas
                .resources
                .keys()
                .map(|t| ResourceMetadata {
                    type_name: t.clone(),
                })
                .collect(),
            data_sources: self
                .schemas
                .data_sources
                .keys()
                .map(|t| DataSourceMetadata {
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
        trace!(
            tf_rpc = "GetResourceIdentitySchemas",
            "Served request (no identities)"
        );
        Ok(Response::new(Default::default()))
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
        let resp = pb::validate_provider_config::Response::default();
        let config = try_diag!(
            decode(
                req.config.as_ref(),
                &self.schemas.provider.ty,
                "provider configuration"
            ),
            resp
        );
        let diags = self
            .provider
            .validate_provider_config(p::ValidateRequest {
                type_name: String::new(),
                config,
            })
            .traced(info_span!("rpc", tf_rpc = "ValidateProviderConfig"))
            .await;
        Ok(Response::new(pb::validate_provider_config::Response {
            diagnostics: diags_to_pb(diags),
        }))
    }

    async fn validate_resource_config(
        &self,
        request: Request<pb::validate_resource_config::Request>,
    ) -> Result<Response<pb::validate_resource_config::Response>, Status> {
        let req = request.into_inner();
        let resp = pb::validate_resource_config::Response::default();
        let typed = try_diag!(self.resource(&req.type_name), resp);
        let config = try_diag!(
            decode(req.config.as_ref(), &typed.ty, "configuration"),
            resp
        );
        let span =
            info_span!("rpc", tf_rpc = "ValidateResourceConfig", tf_resource_type = %req.type_name);
        let diags = self
            .provider
            .validate_resource_config(p::ValidateRequest {
                type_name: req.type_name,
                config,
            })
            .traced(span)
            .await;
        Ok(Response::new(pb::validate_resource_config::Response {
            diagnostics: diags_to_pb(diags),
        }))
    }

    async fn validate_data_resource_config(
        &self,
        request: Request<pb::validate_data_resource_config::Request>,
    ) -> Result<Response<pb::validate_data_resource_config::Response>, Status> {
        let req = request.into_inner();
        let resp = pb::validate_data_resource_config::Response::default();
        let typed = try_diag!(self.data_source(&req.type_name), resp);
        let config = try_diag!(
            decode(req.config.as_ref(), &typed.ty, "configuration"),
            resp
        );
        let span = info_span!("rpc", tf_rpc = "ValidateDataResourceConfig", tf_data_source_type = %req.type_name);
        let diags = self
            .provider
            .validate_data_resource_config(p::ValidateRequest {
                type_name: req.type_name,
                config,
            })
            .traced(span)
            .await;
        Ok(Response::new(pb::validate_data_resource_config::Response {
            diagnostics: diags_to_pb(diags),
        }))
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        let req = request.into_inner();
        let resp = pb::upgrade_resource_state::Response::default();
        let typed = try_diag!(self.resource(&req.type_name), resp);
        let raw = req.raw_state.unwrap_or_default();
        if raw.json.is_empty() && !raw.flatmap.is_empty() {
            try_diag!(
                Err(Diagnostic::error(
                    "Unsupported state format",
                    "The stored state uses the legacy flatmap format, which this provider \
                     cannot read.",
                )),
                resp
            );
        }
        let raw_state = if raw.json.is_empty() {
            serde_json::Value::Null
        } else {
            try_diag!(
                serde_json::from_slice(&raw.json).map_err(|e| Diagnostic::error(
                    "Invalid stored state",
                    format!("The stored state is not valid JSON: {e}."),
                )),
                resp
            )
        };
        let span =
            info_span!("rpc", tf_rpc = "UpgradeResourceState", tf_resource_type = %req.type_name);
        let out = self
            .provider
            .upgrade_resource_state(p::UpgradeResourceStateRequest {
                type_name: req.type_name,
                version: req.version,
                raw_state,
                schema: typed.schema.clone(),
            })
            .traced(span)
            .await;
        let mut diags = out.diagnostics;
        let mut state = out.state;
        typed.schema.block.clear_write_only(&mut state);
        let upgraded_state = match encode(&state, &typed.ty, "upgraded state") {
            Ok(v) => Some(v),
            Err(d) => {
                diags.push(d);
                None
            }
        };
        Ok(Response::new(pb::upgrade_resource_state::Response {
            upgraded_state,
            diagnostics: diags_to_pb(diags),
        }))
    }

    async fn configure_provider(
        &self,
        request: Request<pb::configure_provider::Request>,
    ) -> Result<Response<pb::configure_provider::Response>, Status> {
        let req = request.into_inner();
        let resp = pb::configure_provider::Response::default();
        let config = try_diag!(
            decode(
                req.config.as_ref(),
                &self.schemas.provider.ty,
                "provider configuration"
            ),
            resp
        );
        let diags = self
            .provider
            .configure_provider(p::ConfigureProviderRequest {
                terraform_version: req.terraform_version,
                config,
            })
            .traced(info_span!("rpc", tf_rpc = "ConfigureProvider"))
            .await;
        Ok(Response::new(pb::configure_provider::Response {
            diagnostics: diags_to_pb(diags),
        }))
    }

    async fn read_resource(
        &self,
        request: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        let req = request.into_inner();
        let resp = pb::read_resource::Response::default();
        let typed = try_diag!(self.resource(&req.type_name), resp);
        let current_state = try_diag!(
            decode(req.current_state.as_ref(), &typed.ty, "current state"),
            resp
        );
        let span = info_span!("rpc", tf_rpc = "ReadResource", tf_resource_type = %req.type_name);
        let out = self
            .provider
            .read_resource(p::ReadResourceRequest {
                type_name: req.type_name,
                current_state,
                private: req.private.clone(),
            })
            .traced(span)
            .await;
        let mut diags = out.diagnostics;
        let refreshed = out.new_state.map(|mut v| {
            typed.schema.block.clear_write_only(&mut v);
            encode(&v, &typed.ty, "refreshed state")
        });
        let (new_state, private) = match refreshed {
            Some(encoded) => match encoded {
                Ok(dv) => (Some(dv), out.private),
                Err(d) => {
                    diags.push(d);
                    (req.current_state, req.private)
                }
            },
            // an error without a state must not look like "the object is gone"
            None if diags.has_errors() => (req.current_state, req.private),
            None => (encode(&Value::Null, &typed.ty, "state").ok(), Vec::new()),
        };
        Ok(Response::new(pb::read_resource::Response {
            new_state,
            diagnostics: diags_to_pb(diags),
            private,
            deferred: None,
            new_identity: None,
        }))
    }

    async fn plan_resource_change(
        &self,
        request: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        let req = request.into_inner();
        let resp = pb::plan_resource_change::Response::default();
        let typed = try_diag!(self.resource(&req.type_name), resp);
        let ty = &typed.ty;
        let prior_state = try_diag!(decode(req.prior_state.as_ref(), ty, "prior state"), resp);
        let proposed_new_state = try_diag!(
            decode(req.proposed_new_state.as_ref(), ty, "proposed new state"),
            resp
        );
        let config = try_diag!(decode(req.config.as_ref(), ty, "configuration"), resp);
        let span =
            info_span!("rpc", tf_rpc = "PlanResourceChange", tf_resource_type = %req.type_name);
        let out = self
            .provider
            .plan_resource_change(p::PlanResourceChangeRequest {
                type_name: req.type_name,
                prior_state,
                proposed_new_state,
                config,
                prior_private: req.prior_private,
            })
            .traced(span)
            .await;
        let mut diags = out.diagnostics;
        let mut planned = out.planned_state;
        typed.schema.block.clear_write_only(&mut planned);
        let planned_state = match encode(&planned, ty, "planned state") {
            Ok(v) => Some(v),
            Err(d) => {
                diags.push(d);
                None
            }
        };
        Ok(Response::new(pb::plan_resource_change::Response {
            planned_state,
            requires_replace: out.requires_replace.iter().map(path_to_pb).collect(),
            planned_private: out.planned_private,
            diagnostics: diags_to_pb(diags),
            ..Default::default()
        }))
    }

    async fn apply_resource_change(
        &self,
        request: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        let req = request.into_inner();
        let resp = pb::apply_resource_change::Response::default();
        let typed = try_diag!(self.resource(&req.type_name), resp);
        let ty = &typed.ty;
        let prior_state = try_diag!(decode(req.prior_state.as_ref(), ty, "prior state"), resp);
        let planned_state = try_diag!(
            decode(req.planned_state.as_ref(), ty, "planned state"),
            resp
        );
        let config = try_diag!(decode(req.config.as_ref(), ty, "configuration"), resp);
        let span =
            info_span!("rpc", tf_rpc = "ApplyResourceChange", tf_resource_type = %req.type_name);
        let out = self
            .provider
            .apply_resource_change(p::ApplyResourceChangeRequest {
                type_name: req.type_name,
                prior_state,
                planned_state,
                config,
                planned_private: req.planned_private,
            })
            .traced(span)
            .await;
        let mut diags = out.diagnostics;
        let mut state = out.new_state;
        typed.schema.block.clear_write_only(&mut state);
        let new_state = match encode(&state, ty, "new state") {
            Ok(v) => Some(v),
            Err(d) => {
                diags.push(d);
                req.prior_state
            }
        };
        Ok(Response::new(pb::apply_resource_change::Response {
            new_state,
            private: out.private,
            diagnostics: diags_to_pb(diags),
            ..Default::default()
        }))
    }

    async fn import_resource_state(
        &self,
        request: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        let req = request.into_inner();
        let resp = pb::import_resource_state::Response::default();
        try_diag!(self.resource(&req.type_name), resp);
        let span =
            info_span!("rpc", tf_rpc = "ImportResourceState", tf_resource_type = %req.type_name);
        let out = self
            .provider
            .import_resource_state(p::ImportResourceStateRequest {
                type_name: req.type_name,
                id: req.id,
            })
            .traced(span)
            .await;
        let mut diags = out.diagnostics;
        let mut imported_resources = Vec::new();
        for r in out.imported {
            let encoded = self.resource(&r.type_name).and_then(|t| {
                let mut state = r.state;
                t.schema.block.clear_write_only(&mut state);
                encode(&state, &t.ty, "imported state")
            });
            match encoded {
                Ok(state) => imported_resources.push(pb::import_resource_state::ImportedResource {
                    type_name: r.type_name,
                    state: Some(state),
                    private: r.private,
                    identity: None,
                }),
                Err(d) => diags.push(d),
            }
        }
        Ok(Response::new(pb::import_resource_state::Response {
            imported_resources,
            diagnostics: diags_to_pb(diags),
            deferred: None,
        }))
    }

    async fn read_data_source(
        &self,
        request: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        let req = request.into_inner();
        let resp = pb::read_data_source::Response::default();
        let typed = try_diag!(self.data_source(&req.type_name), resp);
        let config = try_diag!(
            decode(req.config.as_ref(), &typed.ty, "configuration"),
            resp
        );
        let span =
            info_span!("rpc", tf_rpc = "ReadDataSource", tf_data_source_type = %req.type_name);
        let out = self
            .provider
            .read_data_source(p::ReadDataSourceRequest {
                type_name: req.type_name,
                config,
            })
            .traced(span)
            .await;
        let mut diags = out.diagnostics;
        let state = match encode(&out.state, &typed.ty, "data source state") {
            Ok(v) => Some(v),
            Err(d) => {
                diags.push(d);
                None
            }
        };
        Ok(Response::new(pb::read_data_source::Response {
            state,
            diagnostics: diags_to_pb(diags),
            deferred: None,
        }))
    }

    async fn stop_provider(
        &self,
        _request: Request<pb::stop_provider::Request>,
    ) -> Result<Response<pb::stop_provider::Response>, Status> {
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
    use pb::provider_server::Provider as _;

    /// One resource `t_r` with `id` (computed) and `name` (required).
    struct Fake;

    impl Provider for Fake {
        fn get_schema(&self) -> ProviderSchema {
            let block = Block::new()
                .attribute(Attribute::new("id", AttrType::String).computed())
                .attribute(Attribute::new("name", AttrType::String).required());
            ProviderSchema {
                resources: [("t_r".to_owned(), Schema::new(block))].into(),
                ..Default::default()
            }
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
        ProviderService::new(Arc::new(Fake))
    }

    fn state(name: &str) -> pb::DynamicValue {
        let ty = AttrType::object([("id", AttrType::String), ("name", AttrType::String)]);
        let v = Value::object([("id", Value::from("x")), ("name", Value::from(name))]);
        pb::DynamicValue {
            msgpack: codec::to_msgpack(&v, &ty).unwrap(),
            json: Vec::new(),
        }
    }

    async fn read(name: &str) -> pb::read_resource::Response {
        service()
            .read_resource(Request::new(pb::read_resource::Request {
                type_name: "t_r".into(),
                current_state: Some(state(name)),
                private: b"p".to_vec(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner()
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    #[test]
    fn schema_response() {
        let resp = rt()
            .block_on(service().get_provider_schema(Request::new(Default::default())))
            .unwrap()
            .into_inner();
        let attrs = &resp.resource_schemas["t_r"]
            .block
            .as_ref()
            .unwrap()
            .attributes;
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
            let resp = service()
                .plan_resource_change(Request::new(pb::plan_resource_change::Request {
                    type_name: "nope".into(),
                    ..Default::default()
                }))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(resp.diagnostics[0].summary, "Unknown resource type");

            let resp = service()
                .apply_resource_change(Request::new(pb::apply_resource_change::Request {
                    type_name: "t_r".into(),
                    prior_state: Some(state("a")),
                    ..Default::default()
                }))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(resp.diagnostics[0].summary, "Unsupported resource type");
            assert_eq!(resp.new_state, Some(state("a")));
        });
    }

    #[test]
    fn upgrade_decodes_json_with_current_schema() {
        let resp = rt()
            .block_on(service().upgrade_resource_state(Request::new(
                pb::upgrade_resource_state::Request {
                    type_name: "t_r".into(),
                    version: 0,
                    raw_state: Some(pb::RawState {
                        json: br#"{"id":"x","name":"n","removed":true}"#.to_vec(),
                        flatmap: Default::default(),
                    }),
                },
            )))
            .unwrap()
            .into_inner();
        assert!(resp.diagnostics.is_empty());
        assert_eq!(resp.upgraded_state, Some(state("n")));
    }
}
