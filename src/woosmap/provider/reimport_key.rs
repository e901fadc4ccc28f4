//! Ephemeral resource `woosmap_dataset_reimport_key` (Terraform 1.10+): a dataset's reimport
//! key, read from `GET /datasets/{id}` each time Terraform opens it (at plan and again at
//! apply) and never stored, neither by Terraform nor by the provider. It is the way to feed
//! the write-only `woosmap_dataset_import.reimport_key` without keeping the key in state.
//! The key does not expire, so there is nothing to renew or close.

use super::Configured;
use super::dataset::{CALL_BUDGET, dataset_not_found, error_diag};
use crate::woosmap::api::Instant;
use tfplugin::{
    AttrPath, AttrType, Attribute, Block, Diagnostic, Diagnostics, OpenEphemeralResourceRequest,
    OpenEphemeralResourceResponse, Schema, Value,
};

/// Ephemeral resource type name.
pub const REIMPORT_KEY_EPHEMERAL: &str = "woosmap_dataset_reimport_key";

/// `woosmap_dataset_reimport_key`.
pub fn schema() -> Schema {
    Schema::new(
        Block::new()
            .description("Reads the reimport key of a Woosmap dataset at plan and apply without storing it, to feed the write-only `reimport_key` of `woosmap_dataset_import` or of the `woosmap_dataset_import` action.")
            .attribute(
                Attribute::new("dataset_id", AttrType::String)
                    .required()
                    .description("Id (UUID) of the dataset whose reimport key to read."),
            )
            .attribute(
                Attribute::new("reimport_key", AttrType::String)
                    .computed()
                    .sensitive()
                    .description("The dataset's reimport key, for the reimport webhook. Ephemeral: it exists only during the Terraform run and is never written to a plan or the state."),
            ),
    )
}

/// `ValidateEphemeralResourceConfig`: `dataset_id` must be a UUID (checked at plan time, before
/// any request).
pub fn validate(config: &Value) -> Diagnostics {
    match super::convert::dataset_id(config) {
        Ok(_) => Diagnostics::new(),
        Err(d) => d.into(),
    }
}

/// `OpenEphemeralResource`: the configuration with `reimport_key` read from the API. While the
/// provider's private key is still unknown (a plan where it comes from another resource),
/// the key is unknown too; the apply reads it.
pub async fn open(
    c: &Configured,
    req: OpenEphemeralResourceRequest,
) -> OpenEphemeralResourceResponse {
    let mut resp = OpenEphemeralResourceResponse::default();
    let id = match super::convert::dataset_id(&req.config) {
        Ok(Some(id)) => id,
        Ok(None) => return resp, // Terraform does not open with an unknown dataset_id
        Err(d) => {
            resp.diagnostics.push(d);
            return resp;
        }
    };
    if !c.has_private_key {
        resp.diagnostics.error(
            "No Woosmap private key",
            "Set private_key in the woosmap provider block or WOOSMAP_PRIVATE_KEY: reading a dataset's reimport key needs a private key.",
        );
        return resp;
    }
    let mut result = req.config;
    if !c.key_known {
        result.set("reimport_key", Value::Unknown);
        resp.result = result;
        return resp;
    }
    match c.client.dataset(&id, Instant::now() + CALL_BUDGET).await {
        Ok(Some(d)) => match d.reimport_key {
            Some(key) => {
                result.set("reimport_key", Value::string(key.expose()));
                resp.result = result;
            }
            None => resp.diagnostics.push(
                Diagnostic::error(
                    format!("Dataset {id} has no reimport key"),
                    "Woosmap returned the dataset without a reimport key, so it cannot be imported through the reimport webhook; trigger with the private key instead (leave reimport_key out).",
                )
                .at(AttrPath::attr("dataset_id")),
            ),
        },
        Ok(None) => resp.diagnostics.push(dataset_not_found(&id, "dataset_id")),
        Err(e) => resp.diagnostics.push(error_diag(&e)),
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::woosmap::api::test_support::{
        PRIVATE_KEY, add_dataset, new_dataset_id, requests_with, start_for_provider,
    };

    fn configured(base_url: &str, key_known: bool) -> Configured {
        Configured::for_tests(base_url, key_known)
    }

    fn request(id: &str) -> OpenEphemeralResourceRequest {
        OpenEphemeralResourceRequest {
            type_name: REIMPORT_KEY_EPHEMERAL.into(),
            config: Value::object([
                ("dataset_id", Value::string(id)),
                ("reimport_key", Value::Null),
            ]),
            client_capabilities: Default::default(),
        }
    }

    fn new_id() -> String {
        new_dataset_id().to_string()
    }

    #[tokio::test]
    async fn open_reads_the_key_of_the_dataset() {
        let sb = start_for_provider().await;
        let (id, missing) = (new_id(), new_id());
        add_dataset(&sb, &id, true, Some("rk-unit-4c1d-secret"));
        let c = configured(&sb.base_url(), true);

        let resp = open(&c, request(&id)).await;
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        assert_eq!(resp.result.attr("dataset_id").as_str(), Some(id.as_str()));
        assert_eq!(
            resp.result.attr("reimport_key").as_str(),
            Some("rk-unit-4c1d-secret")
        );
        assert_eq!(resp.renew_at, None, "the key does not expire");
        let gets = requests_with(&sb, "GET");
        assert_eq!(gets.len(), 1, "{gets:?}");
        assert_eq!(gets[0].path, format!("/datasets/{id}"));
        assert_eq!(gets[0].header("x-api-key"), Some(PRIVATE_KEY));

        let resp = open(&c, request(&missing)).await;
        let d = resp.diagnostics.iter().next().expect("an error");
        assert_eq!(d.summary, format!("Dataset {missing} not found"));
        assert_eq!(d.attribute, Some(AttrPath::attr("dataset_id")));
        assert!(resp.result.is_null());
    }

    #[tokio::test]
    async fn an_unknown_private_key_leaves_the_key_unknown_without_a_request() {
        let sb = start_for_provider().await;
        let id = new_id();
        add_dataset(&sb, &id, true, Some("rk-unit-77aa-secret"));
        let resp = open(&configured(&sb.base_url(), false), request(&id)).await;
        assert!(resp.diagnostics.is_empty(), "{:?}", resp.diagnostics);
        assert_eq!(resp.result.attr("reimport_key"), &Value::Unknown);
        assert!(sb.requests().is_empty());
    }

    #[test]
    fn validate_wants_a_uuid() {
        let config = |id: Value| Value::object([("dataset_id", id), ("reimport_key", Value::Null)]);
        let diags = validate(&config(Value::string("stores")));
        let d = diags.iter().next().expect("an error");
        assert_eq!(d.summary, "Invalid dataset_id");
        assert_eq!(d.attribute, Some(AttrPath::attr("dataset_id")));
        assert!(validate(&config(Value::Unknown)).is_empty());
        assert!(validate(&config(Value::string(new_id()))).is_empty());
    }
}
