//! What the crate's unit tests share: a current-thread runtime, values as Terraform sends
//! them (msgpack `DynamicValue`s, stored JSON), the message of a gRPC answer, a served
//! schema's attributes, and the `{ name }` identity schema several fake providers declare.

use std::future::Future;

use tonic::{Response, Status};

use crate::codec;
use crate::proto::tfplugin6 as pb;
use crate::schema::{AttrType, IdentityAttribute, IdentitySchema};
use crate::value::Value;

/// A single-threaded runtime for a test's `block_on`.
pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// `v` as Terraform sends it: msgpack of type `ty`.
pub(crate) fn dynamic(v: &Value, ty: &AttrType) -> pb::DynamicValue {
    pb::DynamicValue {
        msgpack: codec::to_msgpack(v, ty).unwrap(),
        json: Vec::new(),
    }
}

/// Stored JSON, as `UpgradeResourceState` and `UpgradeResourceIdentity` carry it.
pub(crate) fn raw_json(json: &[u8]) -> pb::RawState {
    pb::RawState {
        json: json.to_vec(),
        flatmap: Default::default(),
    }
}

/// The message of a gRPC call's answer; a `Status` (a gRPC error) fails the test.
pub(crate) async fn answer<T>(call: impl Future<Output = Result<Response<T>, Status>>) -> T {
    call.await.unwrap().into_inner()
}

/// The top block's attributes of a schema as `GetProviderSchema` serves it.
pub(crate) fn served_attributes(schema: &pb::Schema) -> &[pb::schema::Attribute] {
    &schema.block.as_ref().unwrap().attributes
}

/// The identity schema `{ name: string }`, `name` required for import.
pub(crate) fn name_identity() -> IdentitySchema {
    IdentitySchema::new([IdentityAttribute::required("name", AttrType::String)])
}
