//! The gRPC layer's list resources (`terraform query`): metadata and schema, config
//! validation, and `ListResource`'s events (identity, display name, resource object only when
//! asked, the limit, diagnostics), against a fake provider.

use tokio_stream::StreamExt;
use tonic::Request;

use super::ProviderService;
use crate::codec;
use crate::diag::Diagnostic;
use crate::proto::tfplugin6 as pb;
use crate::provider::{self as p, Provider};
use crate::schema::{AttrType, Attribute, Block, ProviderSchema, Schema};
use crate::test_support::{answer, dynamic, name_identity};
use crate::value::Value;
use pb::provider_server::Provider as _;

/// Resource `t_r` (`name`, identity `name`) and its list resource (config `prefix`).
struct Fake;

fn resource_type() -> AttrType {
    AttrType::object([("name", AttrType::String)])
}

fn config_type() -> AttrType {
    AttrType::object([("prefix", AttrType::String)])
}

impl Provider for Fake {
    fn get_schema(&self) -> ProviderSchema {
        let resource = Block::new().attribute(Attribute::new("name", AttrType::String).required());
        let list = Block::new().attribute(Attribute::new("prefix", AttrType::String).optional());
        ProviderSchema {
            resources: [("t_r".to_owned(), Schema::new(resource))].into(),
            identities: [("t_r".to_owned(), name_identity())].into(),
            list_resources: [("t_r".to_owned(), Schema::new(list))].into(),
            ..Default::default()
        }
    }

    async fn validate_list_resource_config(&self, req: p::ValidateRequest) -> crate::Diagnostics {
        match req.config.attr("prefix").as_str() {
            Some("") => Diagnostic::error("Empty prefix", "").into(),
            _ => crate::Diagnostics::new(),
        }
    }

    async fn list_resource(&self, req: p::ListResourceRequest) -> p::ListResourceResponse {
        let prefix = req.config.attr("prefix").as_str().unwrap_or("x").to_owned();
        let results = (0..3)
            .map(|i| {
                let name = format!("{prefix}{i}");
                p::ListResult {
                    display_name: format!("thing {name}"),
                    identity: Value::object([("name", Value::from(name.as_str()))]),
                    resource_object: Some(Value::object([("name", Value::from(name.as_str()))])),
                    ..Default::default()
                }
            })
            .collect();
        p::ListResourceResponse {
            results,
            diagnostics: crate::diag::Diagnostics::from(Diagnostic::warning("listed", "")),
        }
    }
}

fn service() -> ProviderService<Fake> {
    ProviderService::new(std::sync::Arc::new(Fake))
}

fn config(prefix: &str) -> pb::DynamicValue {
    dynamic(
        &Value::object([("prefix", Value::from(prefix))]),
        &config_type(),
    )
}

#[tokio::test]
async fn list_resources_are_declared() {
    let s = service();
    let meta = answer(s.get_metadata(Request::new(pb::get_metadata::Request {}))).await;
    assert_eq!(meta.list_resources[0].type_name, "t_r");
    let schema =
        answer(s.get_provider_schema(Request::new(pb::get_provider_schema::Request {}))).await;
    assert!(schema.list_resource_schemas.contains_key("t_r"));
}

#[tokio::test]
async fn config_is_validated() {
    let s = service();
    let validate = |prefix: &'static str| {
        answer(s.validate_list_resource_config(Request::new(
            pb::validate_list_resource_config::Request {
                type_name: "t_r".into(),
                config: Some(config(prefix)),
                ..Default::default()
            },
        )))
    };
    assert!(validate("a").await.diagnostics.is_empty());
    let bad = validate("").await;
    assert_eq!(bad.diagnostics[0].summary, "Empty prefix");
}

async fn events(include: bool, limit: i64, type_name: &str) -> Vec<pb::list_resource::Event> {
    let stream = answer(
        service().list_resource(Request::new(pb::list_resource::Request {
            type_name: type_name.into(),
            config: Some(config("n")),
            include_resource_object: include,
            limit,
        })),
    )
    .await;
    stream.map(|e| e.unwrap()).collect().await
}

#[tokio::test]
async fn results_stream_with_identity_and_objects_on_request() {
    let all = events(false, 0, "t_r").await;
    assert_eq!(all.len(), 4, "one diagnostics event, then three results");
    assert_eq!(all[0].diagnostic[0].summary, "listed");
    let first = &all[1];
    assert_eq!(first.display_name, "thing n0");
    let identity = first
        .identity
        .as_ref()
        .unwrap()
        .identity_data
        .as_ref()
        .unwrap();
    let ty = AttrType::object([("name", AttrType::String)]);
    let id = codec::from_msgpack(&identity.msgpack, &ty).unwrap();
    assert_eq!(id.attr("name").as_str(), Some("n0"));
    assert!(first.resource_object.is_none(), "not asked for");

    let with = events(true, 2, "t_r").await;
    assert_eq!(with.len(), 3, "the limit applies to results");
    let object = with[2].resource_object.as_ref().unwrap();
    let v = codec::from_msgpack(&object.msgpack, &resource_type()).unwrap();
    assert_eq!(v.attr("name").as_str(), Some("n1"));

    let unknown = events(false, 0, "nope").await;
    assert_eq!(unknown.len(), 1);
    assert!(
        unknown[0].diagnostic[0].summary.contains("list resource"),
        "{unknown:?}"
    );
}
