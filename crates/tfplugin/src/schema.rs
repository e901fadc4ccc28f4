//! Schema types as resource code declares them (`Schema`, `Block`, `Attribute`,
//! `NestedBlock`, `AttrType`), the type each block implies for its values, and the cty
//! JSON type encoding Terraform expects in `Schema.Attribute.type`.

use std::collections::BTreeMap;

use super::value::Value;

/// A value type, in cty terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrType {
    String,
    Bool,
    Number,
    List(Box<AttrType>),
    Set(Box<AttrType>),
    Map(Box<AttrType>),
    /// An object type with the given attribute names and types.
    Object(Vec<(String, AttrType)>),
}

impl AttrType {
    /// `list(elem)`.
    pub fn list(elem: AttrType) -> AttrType {
        AttrType::List(Box::new(elem))
    }

    /// `set(elem)`.
    pub fn set(elem: AttrType) -> AttrType {
        AttrType::Set(Box::new(elem))
    }

    /// `map(elem)`.
    pub fn map(elem: AttrType) -> AttrType {
        AttrType::Map(Box::new(elem))
    }

    /// `object({name = type, ...})`.
    pub fn object<K: Into<String>>(attrs: impl IntoIterator<Item = (K, AttrType)>) -> AttrType {
        AttrType::Object(attrs.into_iter().map(|(k, t)| (k.into(), t)).collect())
    }

    /// The cty JSON encoding of this type, e.g. `"string"`, `["list","string"]`,
    /// `["object",{"a":"string"}]`.
    pub fn to_cty_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            AttrType::String => J::from("string"),
            AttrType::Bool => J::from("bool"),
            AttrType::Number => J::from("number"),
            AttrType::List(e) => J::Array(vec![J::from("list"), e.to_cty_json()]),
            AttrType::Set(e) => J::Array(vec![J::from("set"), e.to_cty_json()]),
            AttrType::Map(e) => J::Array(vec![J::from("map"), e.to_cty_json()]),
            AttrType::Object(attrs) => {
                let fields = attrs
                    .iter()
                    .map(|(k, t)| (k.clone(), t.to_cty_json()))
                    .collect::<serde_json::Map<_, _>>();
                J::Array(vec![J::from("object"), J::Object(fields)])
            }
        }
    }

    /// [`AttrType::to_cty_json`] as bytes, as carried in the protocol.
    pub fn to_cty_json_bytes(&self) -> Vec<u8> {
        self.to_cty_json().to_string().into_bytes()
    }
}

/// A versioned schema: the provider's configuration, a resource's or a data source's.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schema {
    /// Bumped when stored state needs upgrading (see `Provider::upgrade_resource_state`).
    pub version: i64,
    pub block: Block,
}

impl Schema {
    /// A schema at version 0.
    pub fn new(block: Block) -> Schema {
        Schema { version: 0, block }
    }

    /// Sets the schema version.
    pub fn version(mut self, version: i64) -> Schema {
        self.version = version;
        self
    }

    /// The object type values of this schema have.
    pub fn value_type(&self) -> AttrType {
        self.block.implied_type()
    }
}

/// A block: attributes and nested blocks.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Block {
    pub attributes: Vec<Attribute>,
    pub block_types: Vec<NestedBlock>,
    pub description: String,
    pub description_kind: DescriptionKind,
    pub deprecated: bool,
}

impl Block {
    /// An empty block.
    pub fn new() -> Block {
        Block::default()
    }

    /// Adds an attribute.
    pub fn attribute(mut self, attribute: Attribute) -> Block {
        self.attributes.push(attribute);
        self
    }

    /// Adds a nested block type.
    pub fn block(mut self, block: NestedBlock) -> Block {
        self.block_types.push(block);
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Block {
        self.description = description.into();
        self
    }

    /// Sets the description, written in Markdown.
    pub fn markdown_description(mut self, description: impl Into<String>) -> Block {
        self.description = description.into();
        self.description_kind = DescriptionKind::Markdown;
        self
    }

    /// The attribute named `name`.
    pub fn find_attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// Sets every write-only attribute in `value` (an object of this block, nested blocks
    /// included) to null, as Terraform requires of planned and stored state.
    pub fn clear_write_only(&self, value: &mut Value) {
        let Value::Object(attrs) = value else {
            return;
        };
        for a in self.attributes.iter().filter(|a| a.write_only) {
            if let Some(v) = attrs.get_mut(&a.name) {
                *v = Value::Null;
            }
        }
        for b in &self.block_types {
            match attrs.get_mut(&b.type_name) {
                Some(Value::List(items) | Value::Set(items)) => {
                    items.iter_mut().for_each(|v| b.block.clear_write_only(v));
                }
                Some(Value::Map(m)) => m.values_mut().for_each(|v| b.block.clear_write_only(v)),
                Some(v) => b.block.clear_write_only(v),
                None => {}
            }
        }
    }

    /// The object type of this block's values: every attribute, and every nested block as
    /// an object (single, group), `list(object)`, `set(object)` or `map(object)`.
    pub fn implied_type(&self) -> AttrType {
        let mut attrs: Vec<(String, AttrType)> = self
            .attributes
            .iter()
            .map(|a| (a.name.clone(), a.ty.clone()))
            .collect();
        for b in &self.block_types {
            let inner = b.block.implied_type();
            let ty = match b.nesting {
                Nesting::Single | Nesting::Group => inner,
                Nesting::List => AttrType::list(inner),
                Nesting::Set => AttrType::set(inner),
                Nesting::Map => AttrType::map(inner),
            };
            attrs.push((b.type_name.clone(), ty));
        }
        AttrType::Object(attrs)
    }
}

/// One attribute of a block.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub ty: AttrType,
    pub description: String,
    pub description_kind: DescriptionKind,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    pub deprecated: bool,
    /// Sent in configuration only: never stored in plan or state (Terraform 1.11+).
    pub write_only: bool,
}

impl Attribute {
    /// An attribute with no flags set: chain [`Attribute::required`], [`Attribute::optional`]
    /// and/or [`Attribute::computed`] (Terraform needs at least one).
    pub fn new(name: impl Into<String>, ty: AttrType) -> Attribute {
        Attribute {
            name: name.into(),
            ty,
            description: String::new(),
            description_kind: DescriptionKind::Plain,
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            deprecated: false,
            write_only: false,
        }
    }

    /// Must be set in configuration.
    pub fn required(mut self) -> Attribute {
        self.required = true;
        self
    }

    /// May be set in configuration.
    pub fn optional(mut self) -> Attribute {
        self.optional = true;
        self
    }

    /// Set by the provider (with `optional`: when left null in configuration).
    pub fn computed(mut self) -> Attribute {
        self.computed = true;
        self
    }

    /// Hidden in plan output.
    pub fn sensitive(mut self) -> Attribute {
        self.sensitive = true;
        self
    }

    /// Configuration-only: Terraform keeps the value out of plan and state; the provider reads
    /// it from the config and must leave it null in planned and new state.
    pub fn write_only(mut self) -> Attribute {
        self.write_only = true;
        self
    }

    /// Marked deprecated.
    pub fn deprecated(mut self) -> Attribute {
        self.deprecated = true;
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Attribute {
        self.description = description.into();
        self
    }

    /// Sets the description, written in Markdown.
    pub fn markdown_description(mut self, description: impl Into<String>) -> Attribute {
        self.description = description.into();
        self.description_kind = DescriptionKind::Markdown;
        self
    }
}

/// How a nested block repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    /// At most one; null when absent.
    Single,
    /// Exactly one; absent means all attributes null (never a null object).
    Group,
    /// An ordered list of blocks (an empty list when absent).
    List,
    /// A set of blocks.
    Set,
    /// Labelled blocks, keyed by label.
    Map,
}

/// A nested block type.
#[derive(Debug, Clone, PartialEq)]
pub struct NestedBlock {
    pub type_name: String,
    pub block: Block,
    pub nesting: Nesting,
    pub min_items: i64,
    pub max_items: i64,
}

impl NestedBlock {
    /// A nested block type with no item limits.
    pub fn new(type_name: impl Into<String>, nesting: Nesting, block: Block) -> NestedBlock {
        NestedBlock {
            type_name: type_name.into(),
            block,
            nesting,
            min_items: 0,
            max_items: 0,
        }
    }
}

/// How Terraform renders a description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DescriptionKind {
    #[default]
    Plain,
    Markdown,
}

/// One attribute of a resource identity (Terraform 1.12+): a value that, alone or with the
/// others, names the remote object.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityAttribute {
    pub name: String,
    pub ty: AttrType,
    pub description: String,
    /// Needed in an `import { identity = { ... } }` block.
    pub required_for_import: bool,
    /// May be given in an `import { identity = { ... } }` block.
    pub optional_for_import: bool,
}

impl IdentityAttribute {
    /// An attribute required for import.
    pub fn required(name: impl Into<String>, ty: AttrType) -> IdentityAttribute {
        IdentityAttribute {
            name: name.into(),
            ty,
            description: String::new(),
            required_for_import: true,
            optional_for_import: false,
        }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> IdentityAttribute {
        self.description = description.into();
        self
    }
}

/// A resource's identity schema, versioned like state schemas.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IdentitySchema {
    pub version: i64,
    pub attributes: Vec<IdentityAttribute>,
}

impl IdentitySchema {
    /// An identity schema at version 0.
    pub fn new(attributes: impl IntoIterator<Item = IdentityAttribute>) -> IdentitySchema {
        IdentitySchema {
            version: 0,
            attributes: attributes.into_iter().collect(),
        }
    }

    /// The object type identity values have.
    pub fn value_type(&self) -> AttrType {
        AttrType::Object(
            self.attributes
                .iter()
                .map(|a| (a.name.clone(), a.ty.clone()))
                .collect(),
        )
    }
}

/// Everything a provider declares: its own configuration, its resources, its data sources,
/// and the identity schemas of the resources that have one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProviderSchema {
    pub provider: Schema,
    pub resources: BTreeMap<String, Schema>,
    pub data_sources: BTreeMap<String, Schema>,
    /// Actions (protocol 6.10, Terraform 1.14+): operations without state, run with
    /// `terraform apply -invoke=action.TYPE.NAME` or from a resource's `action_trigger`.
    /// Their schema describes the `config` block. Older Terraform ignores them.
    pub actions: BTreeMap<String, Schema>,
    /// Resource type name → identity schema (Terraform 1.12+).
    pub identities: BTreeMap<String, IdentitySchema>,
    /// List resources (protocol 6.10, Terraform 1.14+, `terraform query`): keyed by the
    /// managed resource type they list (which must have an identity schema); the schema
    /// describes the `config` block of a `list` block.
    pub list_resources: BTreeMap<String, Schema>,
    /// Ephemeral resources (Terraform 1.10+, `ephemeral "TYPE" "NAME" { … }`): values opened
    /// at plan and apply and never stored. The schema describes the block: configured
    /// attributes and the computed ones the open fills in. Older Terraform ignores them.
    pub ephemeral_resources: BTreeMap<String, Schema>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cty_json() {
        assert_eq!(AttrType::String.to_cty_json_bytes(), br#""string""#);
        assert_eq!(
            AttrType::list(AttrType::String).to_cty_json().to_string(),
            r#"["list","string"]"#
        );
        let o = AttrType::object([
            ("a", AttrType::String),
            ("b", AttrType::map(AttrType::Bool)),
        ]);
        assert_eq!(
            o.to_cty_json().to_string(),
            r#"["object",{"a":"string","b":["map","bool"]}]"#
        );
    }

    #[test]
    fn write_only_cleared_in_nested_blocks() {
        let inner = Block::new().attribute(
            Attribute::new("k", AttrType::String)
                .optional()
                .write_only(),
        );
        let b = Block::new()
            .attribute(
                Attribute::new("key", AttrType::String)
                    .optional()
                    .write_only(),
            )
            .attribute(Attribute::new("name", AttrType::String).optional())
            .block(NestedBlock::new("auth", Nesting::List, inner));
        let mut v = Value::object([
            ("key", Value::from("s3cret")),
            ("name", Value::from("n")),
            (
                "auth",
                Value::list([Value::object([("k", Value::from("x"))])]),
            ),
        ]);
        b.clear_write_only(&mut v);
        assert!(v.attr("key").is_null());
        assert_eq!(v.attr("name").as_str(), Some("n"));
        assert!(v.attr("auth").as_list().unwrap()[0].attr("k").is_null());
    }

    #[test]
    fn implied_type() {
        let b = Block::new()
            .attribute(Attribute::new("id", AttrType::String).computed())
            .block(NestedBlock::new(
                "timeouts",
                Nesting::Single,
                Block::new().attribute(Attribute::new("create", AttrType::String).optional()),
            ));
        assert_eq!(
            b.implied_type(),
            AttrType::object([
                ("id", AttrType::String),
                ("timeouts", AttrType::object([("create", AttrType::String)])),
            ])
        );
    }
}
