//! Conversions between the crate's plain types and tfplugin6 protobuf: schemas, attribute
//! paths, diagnostics, and `DynamicValue` decoding/encoding (with the diagnostics Terraform
//! shows when a value does not fit its schema).

use super::super::codec;
use super::super::diag::{AttrPath, Diagnostic, Diagnostics, PathStep, Severity};
use super::super::proto::tfplugin6 as pb;
use super::super::provider::ClientCapabilities;
use super::super::schema::{
    AttrType, Attribute, Block, DescriptionKind, IdentitySchema, NestedBlock, Nesting, Schema,
};
use super::super::value::Value;

pub(super) fn capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: false,
        get_provider_schema_optional: false,
        move_resource_state: false,
        generate_resource_config: false,
    }
}

pub(super) fn schema_to_pb(s: &Schema) -> pb::Schema {
    pb::Schema {
        version: s.version,
        block: Some(block_to_pb(&s.block, s.version)),
    }
}

fn kind_to_pb(kind: DescriptionKind) -> i32 {
    match kind {
        DescriptionKind::Plain => pb::StringKind::Plain as i32,
        DescriptionKind::Markdown => pb::StringKind::Markdown as i32,
    }
}

pub(super) fn identity_schema_to_pb(s: &IdentitySchema) -> pb::ResourceIdentitySchema {
    use pb::resource_identity_schema::IdentityAttribute;
    pb::ResourceIdentitySchema {
        version: s.version,
        identity_attributes: s
            .attributes
            .iter()
            .map(|a| IdentityAttribute {
                name: a.name.clone(),
                r#type: a.ty.to_cty_json_bytes(),
                required_for_import: a.required_for_import,
                optional_for_import: a.optional_for_import,
                description: a.description.clone(),
            })
            .collect(),
    }
}

/// The capabilities a request carries (all false when absent).
pub(super) fn client_capabilities(c: Option<&pb::ClientCapabilities>) -> ClientCapabilities {
    c.map(|c| ClientCapabilities {
        deferral_allowed: c.deferral_allowed,
        write_only_attributes_allowed: c.write_only_attributes_allowed,
    })
    .unwrap_or_default()
}

fn block_to_pb(b: &Block, version: i64) -> pb::schema::Block {
    pb::schema::Block {
        version,
        attributes: b.attributes.iter().map(attribute_to_pb).collect(),
        block_types: b.block_types.iter().map(nested_to_pb).collect(),
        description: b.description.clone(),
        description_kind: kind_to_pb(b.description_kind),
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
        description_kind: kind_to_pb(a.description_kind),
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

pub(super) fn path_to_pb(path: &AttrPath) -> pb::AttributePath {
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

pub(super) fn diag_to_pb(d: Diagnostic) -> pb::Diagnostic {
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

pub(super) fn diags_to_pb(d: Diagnostics) -> Vec<pb::Diagnostic> {
    d.into_iter().map(diag_to_pb).collect()
}

/// Decodes a request value; `what` names it in the error.
pub(super) fn decode(
    dv: Option<&pb::DynamicValue>,
    ty: &AttrType,
    what: &str,
) -> Result<Value, Diagnostic> {
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
pub(super) fn encode(v: &Value, ty: &AttrType, what: &str) -> Result<pb::DynamicValue, Diagnostic> {
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
