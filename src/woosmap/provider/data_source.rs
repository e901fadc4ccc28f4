//! Data source `woosmap_dataset_status`: the latest import run of a dataset.

use super::Configured;
use super::convert;
use super::resource::api_diag;
use crate::woosmap::import;
use tfplugin::{AttrPath, Diagnostic, ReadDataSourceRequest, ReadDataSourceResponse, Value};

/// ReadDataSource.
pub async fn read(c: &Configured, req: ReadDataSourceRequest) -> ReadDataSourceResponse {
    let mut resp = ReadDataSourceResponse {
        state: req.config.clone(),
        ..Default::default()
    };
    let id = match convert::dataset_id(&req.config) {
        Ok(Some(id)) => id,
        Ok(None) => return resp,
        Err(d) => {
            resp.diagnostics.push(d);
            return resp;
        }
    };
    if !c.has_private_key {
        resp.diagnostics.push(Diagnostic::error(
            "No Woosmap private key",
            "Set private_key in the woosmap provider block or WOOSMAP_PRIVATE_KEY: reading the import status needs a private key.",
        ));
        return resp;
    }
    if !c.key_known {
        resp.diagnostics.push(Diagnostic::error(
            "Private key not known yet",
            "The provider's private_key is only known after apply, but woosmap_dataset_status reads the status while planning. Set private_key from a value known at plan time (a variable, or WOOSMAP_PRIVATE_KEY).",
        ));
        return resp;
    }
    match import::latest_run(&c.client, &id).await {
        Ok(Some(run)) => {
            let mut state = req.config;
            state.set("id", Value::string(id.as_str()));
            convert::set_run(&mut state, Some(&run), None);
            resp.state = state;
        }
        Ok(None) => resp.diagnostics.push(
            Diagnostic::error(
                format!("No import run for dataset {id}"),
                "The dataset has never been imported, or does not exist (the status endpoint answered 404).",
            )
            .at(AttrPath::attr("dataset_id")),
        ),
        Err(e) => resp.diagnostics.push(api_diag(id.as_str(), &e)),
    }
    resp
}
