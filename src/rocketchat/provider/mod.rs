//! Provider `rocketchat` (binary `terraform-provider-rocketchat`, on the shared `tfplugin`
//! crate): the provider block (`url`, `user_id`, `auth_token`, each falling back to
//! `ROCKETCHAT_URL`, `ROCKETCHAT_USER_ID`, `ROCKETCHAT_AUTH_TOKEN`) and the dispatch to
//! resource `rocketchat_user_import` ([`resource`]) and action `rocketchat_user_import`
//! ([`action`]), which share the users' schema, checks and conversion ([`users`]).

mod action;
mod resource;
mod users;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tfplugin::{
    self, ActionProgress, ApplyResourceChangeRequest, ApplyResourceChangeResponse, AttrPath,
    AttrType, Attribute, Block, CancellationToken, ConfigureProviderRequest, Diagnostic,
    Diagnostics, InvokeActionRequest, PlanActionRequest, PlanResourceChangeRequest,
    PlanResourceChangeResponse, ProviderSchema, ReadResourceRequest, ReadResourceResponse, Schema,
    ValidateRequest, Value,
};

use super::api::{RcClient, RcConfig, RcError};
use super::{AUTH_TOKEN_ENV, URL_ENV, USER_ID_ENV};
use crate::secret::Secret;

pub use action::ACTION;
pub use resource::RESOURCE;

/// The `rocketchat` provider.
#[derive(Default)]
pub struct RocketChatProvider {
    client: RwLock<Option<Arc<RcClient>>>,
    stop: CancellationToken,
}

impl RocketChatProvider {
    pub fn new() -> RocketChatProvider {
        RocketChatProvider::default()
    }

    fn client(&self) -> Option<Arc<RcClient>> {
        self.client.read().expect("client lock").clone()
    }
}

fn setting(config: &Value, attr: &str, env: &str) -> Option<String> {
    config
        .attr(attr)
        .as_str()
        .map(str::to_owned)
        .or_else(|| std::env::var(env).ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn provider_schema() -> Schema {
    Schema::new(
        Block::new()
            .description("Imports users into Rocket.Chat with its bulk user import API and waits for the import to end.")
            .attribute(
                Attribute::new("url", AttrType::String)
                    .optional()
                    .description("Base URL of the Rocket.Chat server (default: ROCKETCHAT_URL)."),
            )
            .attribute(
                Attribute::new("user_id", AttrType::String)
                    .optional()
                    .description("X-User-Id (default: ROCKETCHAT_USER_ID)."),
            )
            .attribute(
                Attribute::new("auth_token", AttrType::String)
                    .optional()
                    .sensitive()
                    .description("X-Auth-Token (default: ROCKETCHAT_AUTH_TOKEN)."),
            ),
    )
}

impl tfplugin::Provider for RocketChatProvider {
    fn run_by_hand_message(&self) -> String {
        "terraform-provider-rocketchat is a Terraform provider plugin: Terraform runs it. Declare \
         it in required_providers and run terraform; for the command line, use rocketchat-import."
            .to_owned()
    }

    fn get_schema(&self) -> ProviderSchema {
        ProviderSchema {
            provider: provider_schema(),
            resources: [(RESOURCE.to_owned(), resource::schema())].into(),
            actions: [(ACTION.to_owned(), action::schema())].into(),
            ..Default::default()
        }
    }

    async fn configure_provider(&self, req: ConfigureProviderRequest) -> Diagnostics {
        let mut diags = Diagnostics::new();
        let c = &req.config;
        let (Some(url), Some(user), Some(token)) = (
            setting(c, "url", URL_ENV),
            setting(c, "user_id", USER_ID_ENV),
            setting(c, "auth_token", AUTH_TOKEN_ENV),
        ) else {
            diags.error(
                "Rocket.Chat credentials missing",
                format!(
                    "Set url, user_id and auth_token in the provider block, or {URL_ENV}, {USER_ID_ENV} and {AUTH_TOKEN_ENV}."
                ),
            );
            return diags;
        };
        match RcClient::new(RcConfig {
            base_url: url,
            user_id: user,
            auth_token: Secret::new(token),
            request_timeout: Duration::from_secs(30),
        }) {
            Ok(client) => *self.client.write().expect("client lock") = Some(Arc::new(client)),
            Err(e) => {
                let attr = match &e {
                    RcError::InvalidSetting { name, .. } if *name == USER_ID_ENV => "user_id",
                    RcError::InvalidSetting { name, .. } if *name == AUTH_TOKEN_ENV => "auth_token",
                    _ => "url",
                };
                diags.push(
                    Diagnostic::error(
                        format!("Invalid {attr}"),
                        format!("{e} (the provider block's {attr}, or the variable)"),
                    )
                    .at(AttrPath::attr(attr)),
                )
            }
        }
        diags
    }

    async fn validate_resource_config(&self, req: ValidateRequest) -> Diagnostics {
        resource::validate(&req.config)
    }

    async fn read_resource(&self, req: ReadResourceRequest) -> ReadResourceResponse {
        ReadResourceResponse::unchanged(req)
    }

    async fn plan_resource_change(
        &self,
        req: PlanResourceChangeRequest,
    ) -> PlanResourceChangeResponse {
        resource::plan(req)
    }

    async fn apply_resource_change(
        &self,
        req: ApplyResourceChangeRequest,
    ) -> ApplyResourceChangeResponse {
        let client = self.client();
        resource::apply(client.as_deref(), &self.stop, req).await
    }

    async fn validate_action_config(&self, req: ValidateRequest) -> Diagnostics {
        action::validate(&req.config)
    }

    async fn plan_action(&self, req: PlanActionRequest) -> Diagnostics {
        action::validate(&req.config)
    }

    async fn invoke_action(
        &self,
        req: InvokeActionRequest,
        progress: ActionProgress,
        cancel: CancellationToken,
    ) -> Diagnostics {
        // `cancel` is cancelled by tfplugin on StopProvider and when Terraform stops reading.
        let client = self.client();
        action::invoke(client.as_deref(), &req.config, progress, cancel).await
    }

    async fn stop_provider(&self) -> Result<(), String> {
        self.stop.cancel();
        Ok(())
    }
}
