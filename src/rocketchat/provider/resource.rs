//! Resource `rocketchat_user_import`: its create runs one bulk user import on the engine loop
//! and records its operation id, state and counts. The users come from `users_json` or
//! `users` blocks; validation and plan check them (and `timeouts.create`) without calling the
//! API. Changing the users or `triggers` replaces it (a new import); destroying it forgets it
//! (imported users stay).

use std::time::Duration;

use tfplugin::{
    ApplyResourceChangeRequest, ApplyResourceChangeResponse, AttrPath, AttrType, Attribute, Block,
    CancellationToken, Diagnostic, Diagnostics, NestedBlock, Nesting, PlanResourceChangeRequest,
    PlanResourceChangeResponse, Schema, Value,
};

use super::users::{self, flag};
use crate::rocketchat::api::RcClient;
use crate::rocketchat::run::{self, ImportSpec};

/// The resource's type name.
pub const RESOURCE: &str = "rocketchat_user_import";

const COMPUTED: [&str; 6] = [
    "id",
    "operation_id",
    "state",
    "count_total",
    "count_completed",
    "count_error",
];

pub fn schema() -> Schema {
    let s = |n: &str| Attribute::new(n, AttrType::String);
    Schema::new(
        Block::new()
            .description("One Rocket.Chat bulk user import (import.new, addUsers, run), waited for.")
            .attribute(users::users_json_attribute().description(
                "JSON array of user objects (`emails` and `importIds` required), e.g. jsonencode([...]); or `users` blocks. Changing it runs a new import.",
            ))
            .block(users::users_blocks())
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
                "Abort an operation in progress that this apply did not create (new, loading, ready or importing) instead of waiting for it (import.new aborts it).",
            ))
            .attribute(
                Attribute::new("allow_user_errors", AttrType::Bool)
                    .optional()
                    .description("Succeed even when some users fail (count_error > 0)."),
            )
            .attribute(
                s("id")
                    .computed()
                    .description("The import operation's id (same as operation_id)."),
            )
            .attribute(
                s("operation_id")
                    .computed()
                    .description("Id of the import operation this resource ran."),
            )
            .attribute(s("state").computed().description(
                "How the operation ended: `done`, `error`, `canceled` or `invalidated` (aborted by another import.new or import.clear); `importing` when `wait` is false.",
            ))
            .attribute(
                Attribute::new("count_total", AttrType::Number)
                    .computed()
                    .description("Users staged for the import (`count.total`)."),
            )
            .attribute(
                Attribute::new("count_completed", AttrType::Number)
                    .computed()
                    .description("Users imported (`count.completed`)."),
            )
            .attribute(
                Attribute::new("count_error", AttrType::Number)
                    .computed()
                    .description("Users that failed to import (`count.error`); they stay in Rocket.Chat's staging area."),
            )
            .block(NestedBlock::new(
                "timeouts",
                Nesting::Single,
                Block::new().description("How long to wait for the import.").attribute(
                    Attribute::new("create", AttrType::String)
                        .optional()
                        .description("How long create may wait, e.g. \"30m\" (default)."),
                ),
            )),
    )
}

/// `timeouts.create`: `Ok(None)` when unset or unknown.
fn create_timeout(config: &Value) -> Result<Option<Duration>, Diagnostic> {
    users::duration(
        config.attr("timeouts").attr("create"),
        AttrPath::attr("timeouts").then_attr("create"),
        "timeouts.create",
    )
}

/// ValidateResourceConfig: the users and `timeouts.create`, as far as they are known.
pub fn validate(config: &Value) -> Diagnostics {
    let mut diags = users::check(config);
    if let Err(d) = create_timeout(config) {
        diags.push(d);
    }
    diags
}

pub fn plan(req: PlanResourceChangeRequest) -> PlanResourceChangeResponse {
    let mut planned = req.proposed_new_state.clone();
    let mut requires_replace = Vec::new();
    if planned.is_null() {
        return PlanResourceChangeResponse {
            planned_state: planned,
            ..Default::default()
        };
    }
    let diagnostics = validate(&req.config);
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
        diagnostics,
        ..Default::default()
    }
}

pub async fn apply(
    client: Option<&RcClient>,
    stop: &CancellationToken,
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
    let fail = |diagnostics: Diagnostics| ApplyResourceChangeResponse {
        new_state: Value::Null,
        diagnostics,
        ..Default::default()
    };
    let error = |summary: &str, detail: String| fail(Diagnostic::error(summary, detail).into());
    let Some(client) = client else {
        return error(
            "Provider not configured",
            "Terraform called rocketchat before configuring it.".into(),
        );
    };
    let users = match users::users(&planned) {
        Ok(u) => u,
        Err(diags) => return fail(diags),
    };
    let timeout = match create_timeout(&planned) {
        Ok(t) => t.unwrap_or(users::DEFAULT_TIMEOUT),
        Err(d) => return fail(d.into()),
    };
    let spec = ImportSpec {
        users,
        batch_size: users::BATCH_SIZE,
        abort_running: flag(&planned, "abort_running", false),
        allow_user_errors: flag(&planned, "allow_user_errors", false),
        poll_interval: users::POLL_INTERVAL,
        keep_staged: false,
    };
    let wait = flag(&planned, "wait", true);
    let timeout = if wait {
        timeout
    } else {
        Duration::from_secs(10 * 60)
    };
    let mut events = |e: run::Event| tracing::info!("{e:?}");
    let outcome = match run::import_with(client, &spec, timeout, stop, wait, &mut events).await {
        Ok(o) => o,
        Err(e) => return error("Rocket.Chat import failed", e.to_string()),
    };
    if !outcome.succeeded() && (wait || outcome.state != "importing") {
        return error(
            "Rocket.Chat import did not succeed",
            run::describe_with(&outcome, "abort_running = true", "allow_user_errors = true"),
        );
    }
    let mut diags = Diagnostics::new();
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
