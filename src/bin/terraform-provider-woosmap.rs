//! `terraform-provider-woosmap`: the Terraform provider plugin. Terraform launches it; run by
//! hand it explains that and exits 1.

use std::process::ExitCode;

use woosmap::tfplugin::{ProviderSchema, Schema};

/// Stand-in until `woosmap::provider` exists: an empty provider with no resources.
struct Placeholder;

impl woosmap::tfplugin::Provider for Placeholder {
    fn get_schema(&self) -> ProviderSchema {
        ProviderSchema {
            provider: Schema::default(),
            ..Default::default()
        }
    }
}

fn main() -> ExitCode {
    woosmap::tfplugin::serve(Placeholder)
}
