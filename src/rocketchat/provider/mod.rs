//! Provider `rocketchat` (binary `terraform-provider-rocketchat`, on the shared `tfplugin`
//! crate): the provider block (`url`, `user_id`, `auth_token`, each falling back to
//! `ROCKETCHAT_URL`, `ROCKETCHAT_USER_ID`, `ROCKETCHAT_AUTH_TOKEN`) and resource
//! `rocketchat_user_import`, whose create runs one bulk user import on the engine loop and
//! records its operation id, state and counts. The users come from `users_json` or `users`
//! blocks. Changing the users or `triggers` replaces it
//! (a new import); destroying it forgets it (imported users stay).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tfplugin::{
    self, ApplyResourceChangeRequest, ApplyResourceChangeResponse, AttrPath, AttrType, Attribute,
    Block, CancellationToken, ConfigureProviderRequest, Diagnostic, Diagnostics, NestedBlock,
    Nesting, PlanResourceChangeRequest, PlanResourceChangeResponse, ProviderSchema,
    ReadResourceRequest, ReadResourceResponse, Schema, Value,
};

use super::api::{RcClient, RcConfig};
use super::run::{self, ImportSpec};
use super::{AUTH_TOKEN_ENV, URL_ENV, USER_ID_ENV};
use crate::api::Secret;

const RESOURCE: &str = "rocketchat_user_import";
const COMPUTED: [&str; 6] = [
    "id",
    "operation_id",
    "state",
    "count_total",
    "count_completed",
    "count_error",
];

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

fn resource_schema() -> Schema {
    let s = |n: &str| Attribute::new(n, AttrType::String);
    Schema::new(
        Block::new()
            .description("One Rocket.Chat bulk user import (import.new, addUsers, run), waited for.")
            .attribute(s("users_json").optional().description(
                "JSON array of user objects (`emails` and `importIds` required), e.g. jsonencode([...]); or `users` blocks. Changing it runs a new import.",
            ))
            .block(NestedBlock::new("users", Nesting::List, user_block()))
            .attribute(
                Attribute::new("triggers", AttrType::map(AttrType::String))
                    .optional()
                    .description("Any change runs a new import."),
            )
            .attribute(
                Attribute::new("wait", AttrType::Bool)
                    .optional()
                    .description("Wait for the import to end (default true)."),
            )
            .attribute(Attribute::new("abort_running", AttrType::Bool).optional().description(
                "Abort an operation already running instead of waiting for it (import.new aborts it).",
            ))
            .attribute(
                Attribute::new("allow_user_errors", AttrType::Bool)
                    .optional()
                    .description("Succeed even when some users fail (count_error > 0)."),
            )
            .attribute(s("id").computed())
            .attribute(s("operation_id").computed())
            .attribute(s("state").computed())
            .attribute(Attribute::new("count_total", AttrType::Number).computed())
            .attribute(Attribute::new("count_completed", AttrType::Number).computed())
            .attribute(Attribute::new("count_error", AttrType::Number).computed())
            .block(NestedBlock::new(
                "timeouts",
                Nesting::Single,
                Block::new().attribute(
                    Attribute::new("create", AttrType::String)
                        .optional()
                        .description("How long create may wait, e.g. \"30m\" (default)."),
                ),
            )),
    )
}

/// One `users` block: the documented user object, `import_ids` for `importIds`.
fn user_block() -> Block {
    let list = |n: &str| Attribute::new(n, AttrType::list(AttrType::String));
    let s = |n: &str| Attribute::new(n, AttrType::String).optional();
    Block::new()
        .description("One user (the documented import.addUsers object).")
        .attribute(list("emails").required())
        .attribute(list("import_ids").required())
        .attribute(s("username"))
        .attribute(s("name"))
        .attribute(s("password").sensitive())
        .attribute(s("bio"))
        .attribute(s("status_text"))
        .attribute(s("avatar_url"))
        .attribute(list("roles").optional())
        .attribute(Attribute::new("deleted", AttrType::Bool).optional())
}

/// A `users` block as the JSON object `import.addUsers` takes.
fn user_json(block: &Value) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for (attr, key) in [
        ("emails", "emails"),
        ("import_ids", "importIds"),
        ("roles", "roles"),
    ] {
        if let Some(items) = block.attr(attr).as_list() {
            let items: Vec<serde_json::Value> = items
                .iter()
                .filter_map(|v| v.as_str().map(|s| serde_json::Value::from(s.to_owned())))
                .collect();
            out.insert(key.to_owned(), items.into());
        }
    }
    for (attr, key) in [
        ("username", "username"),
        ("name", "name"),
        ("password", "password"),
        ("bio", "bio"),
        ("status_text", "statusText"),
        ("avatar_url", "avatarUrl"),
    ] {
        if let Some(v) = block.attr(attr).as_str() {
            out.insert(key.to_owned(), v.to_owned().into());
        }
    }
    if let Some(d) = block.attr("deleted").as_bool() {
        out.insert("deleted".to_owned(), d.into());
    }
    serde_json::Value::Object(out)
}

/// The users to import: `users_json` or the `users` blocks (exactly one of them).
fn users_of(
    planned: &Value,
) -> Result<(Vec<serde_json::Value>, &'static str), (String, &'static str)> {
    let blocks = planned.attr("users").as_list().unwrap_or_default();
    match (planned.attr("users_json").as_str(), blocks.is_empty()) {
        (Some(_), false) => Err((
            "give either users_json or users blocks, not both".to_owned(),
            "users_json",
        )),
        (None, true) => Err((
            "give the users to import: users_json = jsonencode([...]) or users { emails = [...], import_ids = [...] } blocks".to_owned(),
            "users_json",
        )),
        (Some(text), true) => serde_json::from_str(text)
            .map_err(|e| format!("not valid JSON: {e}"))
            .and_then(|v| run::check_users(&v))
            .map(|u| (u, "users_json"))
            .map_err(|e| (e, "users_json")),
        (None, false) => {
            let users = serde_json::Value::Array(blocks.iter().map(user_json).collect());
            run::check_users(&users)
                .map(|u| (u, "users"))
                .map_err(|e| (e, "users"))
        }
    }
}

fn flag(v: &Value, name: &str, default: bool) -> bool {
    v.attr(name).as_bool().unwrap_or(default)
}

impl tfplugin::Provider for RocketChatProvider {
    fn run_by_hand_message(&self) -> String {
        "terraform-provider-rocketchat is a Terraform provider plugin: Terraform runs it. Declare \
         it in required_providers and run terraform; for the command line, use rocketchat-import."
            .to_owned()
    }

    fn get_schema(&self) -> ProviderSchema {
        let provider = Schema::new(
            Block::new()
                .attribute(
                    Attribute::new("url", AttrType::String)
                        .optional()
                        .description(
                            "Base URL of the Rocket.Chat server (default: ROCKETCHAT_URL).",
                        ),
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
        );
        ProviderSchema {
            provider,
            resources: [(RESOURCE.to_owned(), resource_schema())].into(),
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
            Err(e) => diags
                .push(Diagnostic::error("Invalid url", e.to_string()).at(AttrPath::attr("url"))),
        }
        diags
    }

    async fn read_resource(&self, req: ReadResourceRequest) -> ReadResourceResponse {
        ReadResourceResponse {
            new_state: Some(req.current_state),
            private: req.private,
            diagnostics: Diagnostics::new(),
            ..Default::default()
        }
    }

    async fn plan_resource_change(
        &self,
        req: PlanResourceChangeRequest,
    ) -> PlanResourceChangeResponse {
        let mut planned = req.proposed_new_state.clone();
        let mut requires_replace = Vec::new();
        if planned.is_null() {
            return PlanResourceChangeResponse {
                planned_state: planned,
                ..Default::default()
            };
        }
        let fresh = if req.prior_state.is_null() {
            true
        } else {
            for a in ["users_json", "users", "triggers"] {
                if req.prior_state.attr(a) != planned.attr(a) {
                    requires_replace.push(AttrPath::attr(a));
                }
            }
            !requires_replace.is_empty()
        };
        for a in COMPUTED {
            let v = if fresh {
                Value::Unknown
            } else {
                req.prior_state.attr(a).clone()
            };
            planned.set(a, v);
        }
        PlanResourceChangeResponse {
            planned_state: planned,
            requires_replace,
            ..Default::default()
        }
    }

    async fn apply_resource_change(
        &self,
        req: ApplyResourceChangeRequest,
    ) -> ApplyResourceChangeResponse {
        let planned = req.planned_state;
        if planned.is_null() || (!req.prior_state.is_null() && planned.attr("id").is_known()) {
            // Destroy, or an in-place change of flags: nothing to do on the server.
            return ApplyResourceChangeResponse {
                new_state: planned,
                ..Default::default()
            };
        }
        let mut diags = Diagnostics::new();
        let fail = |mut diags: Diagnostics, summary: &str, detail: String| {
            diags.error(summary, detail);
            ApplyResourceChangeResponse {
                new_state: Value::Null,
                diagnostics: diags,
                ..Default::default()
            }
        };
        let Some(client) = self.client.read().expect("client lock").clone() else {
            return fail(
                diags,
                "Provider not configured",
                "Terraform called rocketchat before configuring it.".into(),
            );
        };
        let users = match users_of(&planned) {
            Ok((u, _)) => u,
            Err((e, attr)) => {
                diags
                    .push(Diagnostic::error(format!("Invalid {attr}"), e).at(AttrPath::attr(attr)));
                return ApplyResourceChangeResponse {
                    new_state: Value::Null,
                    diagnostics: diags,
                    ..Default::default()
                };
            }
        };
        let timeout = match planned.attr("timeouts").attr("create").as_str() {
            None => Duration::from_secs(30 * 60),
            Some(t) => match humantime::parse_duration(t) {
                Ok(d) => d,
                Err(e) => {
                    return fail(
                        diags,
                        "Invalid timeouts.create",
                        format!("{t:?}: {e} (expected e.g. 30m)"),
                    );
                }
            },
        };
        let spec = ImportSpec {
            users,
            batch_size: 500,
            abort_running: flag(&planned, "abort_running", false),
            allow_user_errors: flag(&planned, "allow_user_errors", false),
            poll_interval: Duration::from_secs(2),
        };
        let wait = flag(&planned, "wait", true);
        let timeout = if wait {
            timeout
        } else {
            Duration::from_secs(10 * 60)
        };
        let mut events = |e: run::Event| tracing::info!("{e:?}");
        let outcome =
            match run::import_with(&client, &spec, timeout, &self.stop, wait, &mut events).await {
                Ok(o) => o,
                Err(e) => return fail(diags, "Rocket.Chat import failed", e.to_string()),
            };
        if !outcome.succeeded() && (wait || outcome.state != "importing") {
            return fail(
                diags,
                "Rocket.Chat import did not succeed",
                run::describe_with(&outcome, "abort_running = true", "allow_user_errors = true"),
            );
        }
        if let Some(id) = &outcome.aborted_operation_id {
            diags.warning(
                "Running import aborted",
                format!("Operation {id} was aborted (abort_running = true)."),
            );
        }
        let mut state = planned;
        state.set("id", Value::string(&outcome.operation_id));
        state.set("operation_id", Value::string(&outcome.operation_id));
        state.set("state", Value::string(&outcome.state));
        state.set("count_total", Value::int(outcome.count.total as i64));
        state.set(
            "count_completed",
            Value::int(outcome.count.completed as i64),
        );
        state.set("count_error", Value::int(outcome.count.error as i64));
        ApplyResourceChangeResponse {
            new_state: state,
            diagnostics: diags,
            ..Default::default()
        }
    }

    async fn stop_provider(&self) -> Result<(), String> {
        self.stop.cancel();
        Ok(())
    }
}
