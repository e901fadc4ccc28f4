//! Terraform plugin protocol plumbing: go-plugin handshake and AutoMTLS, the tfplugin6 gRPC
//! services, the msgpack/JSON DynamicValue codec, and schema/diagnostic types. Resource
//! code implements [`Provider`] in terms of [`Value`], [`Schema`] and [`Diagnostics`] and
//! never sees protobuf; [`serve`] runs it as a plugin. See guide/ARCHITECTURE.md
//! ("tfplugin contract").

pub mod codec;
pub mod debug;
pub mod der;
pub mod diag;
mod goplugin;
mod grpc;
pub mod handshake;
pub mod log;
pub mod proto;
pub mod provider;
mod router;
pub mod schema;
mod serve;
#[cfg(test)]
mod test_support;
pub mod tls;
pub mod value;

pub use debug::{REATTACH_ENV, serve_debug, serve_debug_async};
pub use diag::{AttrPath, Diagnostic, Diagnostics, PathStep, Severity};
pub use provider::*;
pub use schema::{
    AttrType, Attribute, Block, DescriptionKind, IdentityAttribute, IdentitySchema, NestedBlock,
    Nesting, ProviderSchema, Schema,
};
pub use serve::{MAX_MESSAGE_SIZE, ServeError, serve, serve_async};
pub use value::{Number, Value};
