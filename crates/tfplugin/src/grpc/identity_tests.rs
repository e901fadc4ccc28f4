//! The gRPC layer's handling of resource identities, client capabilities and description
//! kinds, against a fake provider that echoes what it receives.

use std::sync::{Arc, Mutex};

use tonic::Request;

use super::ProviderService;
use crate::proto::tfplugin6 as pb;
use crate::provider::{self as p, Provider};
use crate::schema::{AttrType, Attribute, Block, ProviderSchema, Schema};
use crate::test_support::{answer, dynamic, name_identity, raw_json, rt};
use crate::value::Value;
use pb::provider_server::Provider as _;

/// Resource `t_r` (`name`, with identity `name`); records the capabilities and identities
/// it is given.
#[derive(Default)]
struct Fake {
    seen: Mutex<Vec<String>>,
}

fn identity(name: &str) -> Value {
    Value::object([("name", Value::from(name))])
}

impl Provider for Fake {
    fn get_schema(&self) -> ProviderSchema {
        let block = Block::new()
            .markdown_description("A `thing`.")
            .attribute(
                Attribute::new("name", AttrType::String)
                    .required()
                    .markdown_description("Its `name`."),
            )
            .attribute(
                Attribute::new("note", AttrType::String)
                    .optional()
                    .description("Plain."),
            );
        ProviderSchema {
            resources: [("t_r".to_owned(), Schema::new(block))].into(),
            identities: [("t_r".to_owned(), name_identity())].into(),
            ..Default::default()
        }
    }

    async fn validate_resource_config(&self, req: p::ValidateRequest) -> crate::Diagnostics {
        self.seen.lock().unwrap().push(format!(
            "validate write_only={} deferral={}",
            req.client_capabilities.write_only_attributes_allowed,
            req.client_capabilities.deferral_allowed
        ));
        crate::Diagnostics::new()
    }

    async fn read_resource(&self, req: p::ReadResourceRequest) -> p::ReadResourceResponse {
        self.seen.lock().unwrap().push(format!(
            "read identity={:?}",
            req.current_identity.attr("name").as_str()
        ));
        let name = req.current_state.attr("name").as_str().map(str::to_owned);
        p::ReadResourceResponse {
            new_identity: name.as_deref().map(identity),
            new_state: Some(req.current_state),
            ..Default::default()
        }
    }

    async fn import_resource_state(
        &self,
        req: p::ImportResourceStateRequest,
    ) -> p::ImportResourceStateResponse {
        let name = req.identity.attr("name").as_str().unwrap_or("?").to_owned();
        p::ImportResourceStateResponse {
            imported: vec![p::ImportedResource {
                type_name: req.type_name,
                state: Value::object([("name", Value::string(&name))]),
                identity: Some(identity(&name)),
                ..Default::default()
            }],
            ..Default::default()
        }
    }
}

fn identity_ty() -> AttrType {
    AttrType::object([("name", AttrType::String)])
}

fn state_ty() -> AttrType {
    AttrType::object([("name", AttrType::String), ("note", AttrType::String)])
}

fn identity_data(name: &str) -> pb::ResourceIdentityData {
    pb::ResourceIdentityData {
        identity_data: Some(dynamic(&identity(name), &identity_ty())),
    }
}

#[test]
fn identity_schemas_and_description_kinds_are_declared() {
    let svc = ProviderService::new(Arc::new(Fake::default()));
    rt().block_on(async {
        let ids = answer(svc.get_resource_identity_schemas(Request::new(Default::default()))).await;
        let attrs = &ids.identity_schemas["t_r"].identity_attributes;
        assert_eq!(attrs.len(), 1);
        assert_eq!(attrs[0].name, "name");
        assert!(attrs[0].required_for_import);
        assert_eq!(attrs[0].r#type, br#""string""#);

        let schema = answer(svc.get_provider_schema(Request::new(Default::default()))).await;
        let block = schema.resource_schemas["t_r"].block.clone().unwrap();
        let markdown = pb::StringKind::Markdown as i32;
        let plain = pb::StringKind::Plain as i32;
        assert_eq!(block.description_kind, markdown);
        assert_eq!(block.attributes[0].description_kind, markdown);
        assert_eq!(block.attributes[1].description_kind, plain);
    });
}

#[test]
fn capabilities_and_identities_reach_the_provider_and_come_back() {
    let fake = Arc::new(Fake::default());
    let svc = ProviderService::new(fake.clone());
    rt().block_on(async {
        let state = Value::object([("name", Value::from("a")), ("note", Value::Null)]);
        let validate = |client_capabilities| {
            answer(svc.validate_resource_config(Request::new(
                pb::validate_resource_config::Request {
                    type_name: "t_r".into(),
                    config: Some(dynamic(&state, &state_ty())),
                    client_capabilities,
                },
            )))
        };
        validate(Some(pb::ClientCapabilities {
            deferral_allowed: false,
            write_only_attributes_allowed: true,
        }))
        .await;
        // An old Terraform sends no capabilities: all false.
        validate(None).await;

        let read = answer(svc.read_resource(Request::new(pb::read_resource::Request {
            type_name: "t_r".into(),
            current_state: Some(dynamic(&state, &state_ty())),
            current_identity: Some(identity_data("a")),
            ..Default::default()
        })))
        .await;
        assert!(read.diagnostics.is_empty(), "{:?}", read.diagnostics);
        assert_eq!(read.new_identity, Some(identity_data("a")));

        let imported = answer(svc.import_resource_state(Request::new(
            pb::import_resource_state::Request {
                type_name: "t_r".into(),
                identity: Some(identity_data("b")),
                ..Default::default()
            },
        )))
        .await;
        assert!(
            imported.diagnostics.is_empty(),
            "{:?}",
            imported.diagnostics
        );
        assert_eq!(
            imported.imported_resources[0].identity,
            Some(identity_data("b"))
        );

        // The default identity upgrade re-decodes the stored JSON and refuses newer versions.
        let upgrade = |version| {
            answer(svc.upgrade_resource_identity(Request::new(
                pb::upgrade_resource_identity::Request {
                    type_name: "t_r".into(),
                    version,
                    raw_identity: Some(raw_json(br#"{"name":"c"}"#)),
                },
            )))
        };
        let upgraded = upgrade(0).await;
        assert!(
            upgraded.diagnostics.is_empty(),
            "{:?}",
            upgraded.diagnostics
        );
        assert_eq!(upgraded.upgraded_identity, Some(identity_data("c")));
        let newer = upgrade(3).await;
        assert_eq!(
            newer.diagnostics[0].summary,
            "Resource identity is from a newer provider"
        );
    });
    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            "validate write_only=true deferral=false",
            "validate write_only=false deferral=false",
            "read identity=Some(\"a\")",
        ]
    );
}
