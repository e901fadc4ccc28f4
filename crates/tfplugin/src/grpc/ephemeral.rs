//! Ephemeral resources (tfplugin6 `ValidateEphemeralResourceConfig`, `OpenEphemeralResource`,
//! `RenewEphemeralResource`, `CloseEphemeralResource`; Terraform 1.10+). Each RPC takes the
//! common path ([`ProviderService::handle`]) with the ephemeral resource's schema, so an
//! unknown type name or an undecodable configuration is a diagnostic. Renewal times cross the
//! wire as protobuf timestamps; private data as optional bytes (absent when empty).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tonic::{Response, Status};
use tracing::info_span;

use super::convert::client_capabilities;
use super::{ProviderService, Typed, only_diagnostics, unknown_type};
use crate::diag::Diagnostic;
use crate::proto::tfplugin6 as pb;
use crate::provider::{self as p, Provider};

/// A renewal time as a protobuf timestamp (times before 1970 are clamped to the epoch:
/// "renew now").
pub(super) fn timestamp(t: SystemTime) -> pb::Timestamp {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    pb::Timestamp {
        seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(since.subsec_nanos()).unwrap_or(0),
    }
}

/// `optional bytes`: absent when there is nothing to carry.
fn private_to_pb(private: Vec<u8>) -> Option<Vec<u8>> {
    (!private.is_empty()).then_some(private)
}

impl<P: Provider> ProviderService<P> {
    fn ephemeral(&self, type_name: &str) -> Result<&Typed, Diagnostic> {
        self.schemas
            .ephemeral_resources
            .get(type_name)
            .ok_or_else(|| unknown_type("ephemeral resource", type_name))
    }

    pub(super) async fn serve_validate_ephemeral(
        &self,
        req: pb::validate_ephemeral_resource_config::Request,
    ) -> Result<Response<pb::validate_ephemeral_resource_config::Response>, Status> {
        let span = info_span!("rpc", tf_rpc = "ValidateEphemeralResourceConfig", tf_resource_type = %req.type_name);
        let call = |t: &Typed| {
            let config = t.decode(req.config.as_ref(), "configuration")?;
            Ok(self
                .provider
                .validate_ephemeral_resource_config(p::ValidateRequest {
                    type_name: req.type_name.clone(),
                    config,
                    // Ephemeral resources exist from Terraform 1.10; the request says no more.
                    client_capabilities: Default::default(),
                }))
        };
        self.handle(self.ephemeral(&req.type_name), span, call, only_diagnostics)
            .await
    }

    pub(super) async fn serve_open_ephemeral(
        &self,
        req: pb::open_ephemeral_resource::Request,
    ) -> Result<Response<pb::open_ephemeral_resource::Response>, Status> {
        let span =
            info_span!("rpc", tf_rpc = "OpenEphemeralResource", tf_resource_type = %req.type_name);
        let call = |t: &Typed| {
            Ok(self
                .provider
                .open_ephemeral_resource(p::OpenEphemeralResourceRequest {
                    config: t.decode(req.config.as_ref(), "configuration")?,
                    type_name: req.type_name.clone(),
                    client_capabilities: client_capabilities(req.client_capabilities.as_ref()),
                }))
        };
        let respond = |out: p::OpenEphemeralResourceResponse, t: &Typed| {
            let mut diags = out.diagnostics;
            let result = if diags.has_errors() && out.result.is_null() {
                None
            } else {
                t.encode(out.result, "ephemeral result", &mut diags)
            };
            let resp = pb::open_ephemeral_resource::Response {
                result,
                renew_at: out.renew_at.map(timestamp),
                private: private_to_pb(out.private),
                ..Default::default()
            };
            (resp, diags)
        };
        self.handle(self.ephemeral(&req.type_name), span, call, respond)
            .await
    }

    pub(super) async fn serve_renew_ephemeral(
        &self,
        req: pb::renew_ephemeral_resource::Request,
    ) -> Result<Response<pb::renew_ephemeral_resource::Response>, Status> {
        let span =
            info_span!("rpc", tf_rpc = "RenewEphemeralResource", tf_resource_type = %req.type_name);
        let call = |_: &Typed| {
            Ok(self
                .provider
                .renew_ephemeral_resource(p::RenewEphemeralResourceRequest {
                    type_name: req.type_name.clone(),
                    private: req.private.clone().unwrap_or_default(),
                }))
        };
        let respond = |out: p::RenewEphemeralResourceResponse, _: &Typed| {
            let resp = pb::renew_ephemeral_resource::Response {
                renew_at: out.renew_at.map(timestamp),
                private: private_to_pb(out.private),
                ..Default::default()
            };
            (resp, out.diagnostics)
        };
        self.handle(self.ephemeral(&req.type_name), span, call, respond)
            .await
    }

    pub(super) async fn serve_close_ephemeral(
        &self,
        req: pb::close_ephemeral_resource::Request,
    ) -> Result<Response<pb::close_ephemeral_resource::Response>, Status> {
        let span =
            info_span!("rpc", tf_rpc = "CloseEphemeralResource", tf_resource_type = %req.type_name);
        let call = |_: &Typed| {
            Ok(self
                .provider
                .close_ephemeral_resource(p::CloseEphemeralResourceRequest {
                    type_name: req.type_name.clone(),
                    private: req.private.clone().unwrap_or_default(),
                }))
        };
        self.handle(self.ephemeral(&req.type_name), span, call, only_diagnostics)
            .await
    }
}
