//! The gRPC layer's ephemeral resources: metadata and schema, validation, and open / renew /
//! close carrying the result, renewal times and private data, against fake providers (one
//! implementing the methods, one relying on the trait's defaults).

use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use tonic::Request;

use super::ProviderService;
use crate::codec;
use crate::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::proto::tfplugin6 as pb;
use crate::provider::{self as p, Provider};
use crate::schema::{AttrType, Attribute, Block, ProviderSchema, Schema};
use crate::test_support::{answer, dynamic, rt, served_attributes};
use crate::value::Value;
use pb::provider_server::Provider as _;

/// Ephemeral resource `t_e`: `name` (required) → `secret` (computed, sensitive).
fn schema() -> ProviderSchema {
    let block = Block::new()
        .attribute(Attribute::new("name", AttrType::String).required())
        .attribute(
            Attribute::new("secret", AttrType::String)
                .computed()
                .sensitive(),
        );
    ProviderSchema {
        ephemeral_resources: [("t_e".to_owned(), Schema::new(block))].into(),
        ..Default::default()
    }
}

fn result_type() -> AttrType {
    AttrType::object([("name", AttrType::String), ("secret", AttrType::String)])
}

/// Opens `secret = "s-NAME"` with private `lease-NAME` and a renewal at 1000 s + 5 ns after
/// the epoch; `name = "fail"` fails, `name = "bad"` answers a result that does not fit the
/// schema. Renewals answer the private data with `+r` appended and no further renewal.
/// Closes are recorded.
#[derive(Default)]
struct Fake {
    closed: Mutex<Vec<Vec<u8>>>,
}

impl Provider for Fake {
    fn get_schema(&self) -> ProviderSchema {
        schema()
    }

    async fn validate_ephemeral_resource_config(&self, req: p::ValidateRequest) -> Diagnostics {
        let mut d = Diagnostics::new();
        if req.config.attr("name").as_str() == Some("") {
            d.error_at(
                AttrPath::attr("name"),
                "Empty name",
                "name must not be empty.",
            );
        }
        d
    }

    async fn open_ephemeral_resource(
        &self,
        req: p::OpenEphemeralResourceRequest,
    ) -> p::OpenEphemeralResourceResponse {
        let name = req
            .config
            .attr("name")
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut resp = p::OpenEphemeralResourceResponse::default();
        match name.as_str() {
            "fail" => resp.diagnostics.error("Cannot open", "asked to fail"),
            "bad" => resp.result = Value::object([("name", Value::int(1))]),
            _ => {
                let mut result = req.config;
                result.set("secret", Value::string(format!("s-{name}")));
                resp.result = result;
                resp.renew_at = Some(UNIX_EPOCH + Duration::new(1000, 5));
                resp.private = format!("lease-{name}").into_bytes();
            }
        }
        resp
    }

    async fn renew_ephemeral_resource(
        &self,
        req: p::RenewEphemeralResourceRequest,
    ) -> p::RenewEphemeralResourceResponse {
        let mut private = req.private;
        private.extend_from_slice(b"+r");
        p::RenewEphemeralResourceResponse {
            private,
            ..Default::default()
        }
    }

    async fn close_ephemeral_resource(&self, req: p::CloseEphemeralResourceRequest) -> Diagnostics {
        self.closed.lock().unwrap().push(req.private);
        Diagnostic::warning("closed", "").into()
    }
}

/// Declares `t_e` and implements nothing: the trait's defaults answer.
struct Bare;

impl Provider for Bare {
    fn get_schema(&self) -> ProviderSchema {
        schema()
    }
}

fn config(name: &str) -> pb::DynamicValue {
    let v = Value::object([("name", Value::from(name)), ("secret", Value::Null)]);
    dynamic(&v, &result_type())
}

fn open_request(type_name: &str, name: &str) -> Request<pb::open_ephemeral_resource::Request> {
    Request::new(pb::open_ephemeral_resource::Request {
        type_name: type_name.into(),
        config: Some(config(name)),
        client_capabilities: None,
    })
}

fn renew_request(private: &[u8]) -> Request<pb::renew_ephemeral_resource::Request> {
    Request::new(pb::renew_ephemeral_resource::Request {
        type_name: "t_e".into(),
        private: Some(private.to_vec()),
    })
}

/// A close of `type_name` carrying `private` (absent: `None`).
fn close_request(
    type_name: &str,
    private: Option<&[u8]>,
) -> Request<pb::close_ephemeral_resource::Request> {
    Request::new(pb::close_ephemeral_resource::Request {
        type_name: type_name.into(),
        private: private.map(<[u8]>::to_vec),
    })
}

#[test]
fn ephemeral_resources_are_listed_and_their_schemas_served() {
    rt().block_on(async {
        let svc = ProviderService::new(Arc::new(Fake::default()));
        let meta = answer(svc.get_metadata(Request::new(Default::default()))).await;
        let names: Vec<_> = meta
            .ephemeral_resources
            .iter()
            .map(|e| &e.type_name)
            .collect();
        assert_eq!(names, ["t_e"]);
        let resp = answer(svc.get_provider_schema(Request::new(Default::default()))).await;
        let attrs = served_attributes(&resp.ephemeral_resource_schemas["t_e"]);
        assert_eq!(attrs[1].name, "secret");
        assert!(attrs[1].computed && attrs[1].sensitive);
        assert!(resp.resource_schemas.is_empty());
    });
}

#[test]
fn open_answers_the_result_renewal_time_and_private_data() {
    rt().block_on(async {
        let svc = ProviderService::new(Arc::new(Fake::default()));
        let resp = answer(svc.open_ephemeral_resource(open_request("t_e", "a"))).await;
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        let result = codec::from_msgpack(&resp.result.unwrap().msgpack, &result_type()).unwrap();
        assert_eq!(result.attr("name").as_str(), Some("a"));
        assert_eq!(result.attr("secret").as_str(), Some("s-a"));
        assert_eq!(
            resp.renew_at,
            Some(pb::Timestamp {
                seconds: 1000,
                nanos: 5
            })
        );
        assert_eq!(resp.private.as_deref(), Some(&b"lease-a"[..]));
    });
}

#[test]
fn open_failures_are_diagnostics_without_a_result() {
    rt().block_on(async {
        let svc = ProviderService::new(Arc::new(Fake::default()));
        let open =
            |type_name, name| answer(svc.open_ephemeral_resource(open_request(type_name, name)));
        let failed = open("t_e", "fail").await;
        assert_eq!(failed.diagnostics[0].summary, "Cannot open");
        assert_eq!(
            (failed.result, failed.renew_at, failed.private),
            (None, None, None)
        );

        let bad = open("t_e", "bad").await;
        assert_eq!(
            bad.diagnostics[0].summary,
            "Provider produced an invalid value"
        );
        assert!(bad.result.is_none());

        let unknown = open("t_nope", "a").await;
        assert_eq!(
            unknown.diagnostics[0].summary,
            "Unknown ephemeral resource type"
        );
    });
}

#[test]
fn validation_points_at_the_attribute() {
    rt().block_on(async {
        let svc = ProviderService::new(Arc::new(Fake::default()));
        let request = pb::validate_ephemeral_resource_config::Request {
            type_name: "t_e".into(),
            config: Some(config("")),
        };
        let resp = answer(svc.validate_ephemeral_resource_config(Request::new(request))).await;
        assert_eq!(resp.diagnostics.len(), 1);
        assert_eq!(resp.diagnostics[0].summary, "Empty name");
        assert_eq!(
            resp.diagnostics[0].attribute,
            Some(super::convert::path_to_pb(&AttrPath::attr("name")))
        );
    });
}

#[test]
fn renew_and_close_carry_the_private_data() {
    rt().block_on(async {
        let fake = Arc::new(Fake::default());
        let svc = ProviderService::new(Arc::clone(&fake));
        let renewed = answer(svc.renew_ephemeral_resource(renew_request(b"lease-a"))).await;
        assert_eq!(renewed.private.as_deref(), Some(&b"lease-a+r"[..]));
        assert_eq!(renewed.renew_at, None);

        let close = |type_name, private| {
            answer(svc.close_ephemeral_resource(close_request(type_name, private)))
        };
        let closed = close("t_e", Some(b"lease-a")).await;
        assert_eq!(closed.diagnostics[0].summary, "closed");
        // absent private data reaches the provider as empty
        close("t_e", None).await;
        assert_eq!(
            *fake.closed.lock().unwrap(),
            [b"lease-a".to_vec(), Vec::new()]
        );

        let unknown = close("t_nope", None).await;
        assert_eq!(
            unknown.diagnostics[0].summary,
            "Unknown ephemeral resource type"
        );
        assert_eq!(
            fake.closed.lock().unwrap().len(),
            2,
            "not called for an unknown type"
        );
    });
}

#[test]
fn defaults_refuse_to_open_and_renew_or_close_nothing() {
    rt().block_on(async {
        let svc = ProviderService::new(Arc::new(Bare));
        let open = answer(svc.open_ephemeral_resource(open_request("t_e", "a"))).await;
        assert_eq!(
            open.diagnostics[0].summary,
            "Unsupported ephemeral resource type"
        );
        assert!(open.result.is_none());
        let renewed = answer(svc.renew_ephemeral_resource(renew_request(b"x"))).await;
        assert!(renewed.diagnostics.is_empty());
        assert_eq!((renewed.renew_at, renewed.private), (None, None));
        let closed = answer(svc.close_ephemeral_resource(close_request("t_e", None))).await;
        assert!(closed.diagnostics.is_empty());
    });
}

#[test]
fn timestamps_split_seconds_and_nanoseconds() {
    use super::ephemeral::timestamp;
    assert_eq!(
        timestamp(UNIX_EPOCH + Duration::from_millis(1_500)),
        pb::Timestamp {
            seconds: 1,
            nanos: 500_000_000
        }
    );
    assert_eq!(
        timestamp(UNIX_EPOCH - Duration::from_secs(5)),
        pb::Timestamp {
            seconds: 0,
            nanos: 0
        }
    );
}
