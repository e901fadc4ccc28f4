//! The Rocket.Chat sandbox's HTTP surface: the five import routes under `/api/v1/` (limiter,
//! faults, auth, then the handler, in that order, as on the real server) and the `/_sandbox/`
//! control routes.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::state::{StagedUser, epoch_ms, state_of, user_fails};
use super::{
    ForeignOperation, RcFault, RcFaultKind, RcShared, UNPRIVILEGED_AUTH_TOKEN, UNPRIVILEGED_USER_ID,
};

const ROUTES: [(&str, Method); 5] = [
    ("import.new", Method::POST),
    ("import.addUsers", Method::POST),
    ("import.run", Method::POST),
    ("import.status", Method::GET),
    ("import.clear", Method::POST),
];

pub(crate) fn router(shared: Arc<RcShared>) -> Router {
    Router::new()
        .route("/api/v1/{route}", any(api))
        .route("/_sandbox/operation", post(control_operation))
        .route(
            "/_sandbox/faults",
            post(control_fault).delete(control_clear_faults),
        )
        .route("/_sandbox/stats", get(control_stats))
        .route("/_sandbox/reset", post(control_reset))
        .with_state(shared)
}

fn json_answer(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn bad_request(error: &str, error_type: &str) -> Response {
    json_answer(
        StatusCode::BAD_REQUEST,
        json!({"success": false, "error": error, "errorType": error_type}),
    )
}

fn unauthorized() -> Response {
    json_answer(
        StatusCode::UNAUTHORIZED,
        json!({"status": "error", "message": "You must be logged in to do this."}),
    )
}

fn forbidden() -> Response {
    json_answer(
        StatusCode::FORBIDDEN,
        json!({"success": false, "error": "User does not have the permissions required for this action [error-unauthorized]"}),
    )
}

fn too_many(wait_secs: u64) -> Response {
    json_answer(
        StatusCode::TOO_MANY_REQUESTS,
        json!({
            "success": false,
            "error": format!("Error, too many requests. Please slow down. You must wait {wait_secs} seconds before trying this endpoint again. [error-too-many-requests]"),
            "errorType": "error-too-many-requests",
        }),
    )
}

fn set_limit_headers(resp: &mut Response, limit: u32, remaining: u32, reset_ms: u128) {
    let h = resp.headers_mut();
    for (name, value) in [
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", reset_ms.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
}

async fn api(
    State(shared): State<Arc<RcShared>>,
    Path(route): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = Instant::now();
    let Some((route, expected)) = ROUTES.iter().find(|(r, _)| *r == route) else {
        return json_answer(
            StatusCode::NOT_FOUND,
            json!({"success": false, "error": format!("Endpoint /api/v1/{route} not found")}),
        );
    };
    if method != *expected {
        return json_answer(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"success": false, "error": format!("Method {method} not allowed on /api/v1/{route}")}),
        );
    }
    let cfg = &shared.config;
    let mut state = shared.lock();
    state.stats.requests += 1;
    *state
        .stats
        .per_route
        .entry((*route).to_owned())
        .or_default() += 1;
    let limit = state.limit(cfg, route, now);
    let mut resp = if let Some(l) = limit.as_ref().filter(|l| !l.allowed) {
        state.stats.rate_limited += 1;
        too_many(l.wait.as_secs_f64().ceil() as u64)
    } else if let Some(fault) = state.take_fault(route) {
        state.stats.injected += 1;
        match fault.kind {
            RcFaultKind::Http500 => json_answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"success": false, "error": "Internal server error"}),
            ),
            RcFaultKind::RateLimit => {
                let mut r = too_many(1);
                let reset = epoch_ms(now, now + std::time::Duration::from_secs(1));
                set_limit_headers(&mut r, cfg.limit_calls.max(1), 0, server_ms(cfg, reset));
                set_date(&mut r, cfg);
                return r;
            }
            RcFaultKind::Http401 => unauthorized(),
            RcFaultKind::Http403 => forbidden(),
            RcFaultKind::Garbage => (
                StatusCode::OK,
                [("content-type", "text/html")],
                "<html><body>Maintenance</body></html>",
            )
                .into_response(),
        }
    } else {
        let user = headers.get("x-user-id").and_then(|v| v.to_str().ok());
        let token = headers.get("x-auth-token").and_then(|v| v.to_str().ok());
        match (user, token) {
            (Some(u), Some(t)) if u == cfg.user_id && t == cfg.auth_token => {
                let user = u.to_owned();
                handle(&shared, &mut state, route, &user, &body, now)
            }
            (Some(u), Some(t)) if u == UNPRIVILEGED_USER_ID && t == UNPRIVILEGED_AUTH_TOKEN => {
                forbidden()
            }
            _ => unauthorized(),
        }
    };
    if let Some(l) = limit {
        set_limit_headers(&mut resp, l.limit, l.remaining, server_ms(cfg, l.reset_ms));
    }
    set_date(&mut resp, cfg);
    resp
}

/// A real-clock epoch time in ms on the server's clock (`clock_offset_ms`).
fn server_ms(cfg: &super::RocketChatConfig, real_ms: u128) -> u128 {
    let shifted = i128::try_from(real_ms).unwrap_or(i128::MAX) + i128::from(cfg.clock_offset_ms);
    u128::try_from(shifted).unwrap_or(0)
}

/// A server whose clock is off says so in its `Date` header (otherwise the HTTP server's).
fn set_date(resp: &mut Response, cfg: &super::RocketChatConfig) {
    if cfg.clock_offset_ms == 0 {
        return;
    }
    let real = std::time::SystemTime::now();
    let offset = std::time::Duration::from_millis(cfg.clock_offset_ms.unsigned_abs());
    let server = if cfg.clock_offset_ms < 0 {
        real.checked_sub(offset)
    } else {
        real.checked_add(offset)
    };
    if let Some(v) = server.and_then(|t| HeaderValue::from_str(&httpdate::fmt_http_date(t)).ok()) {
        resp.headers_mut().insert(axum::http::header::DATE, v);
    }
}

fn handle(
    shared: &RcShared,
    state: &mut super::state::RcState,
    route: &str,
    user: &str,
    body: &Bytes,
    now: Instant,
) -> Response {
    match route {
        "import.new" => {
            let op = state.new_operation(user, now).to_json(now);
            json_answer(StatusCode::OK, json!({"operation": op, "success": true}))
        }
        "import.clear" => {
            state.clear(now);
            json_answer(StatusCode::OK, json!({"success": true}))
        }
        "import.status" => match state.current() {
            None => json_answer(StatusCode::OK, json!({"state": "none", "success": true})),
            Some(op) => json_answer(
                StatusCode::OK,
                json!({
                    "state": state_of(op.status(now), op.valid()),
                    "operation": op.to_json(now),
                    "success": true,
                }),
            ),
        },
        "import.addUsers" => {
            let users = match parse_users(body) {
                Ok(users) => users,
                Err(message) => return bad_request(&message, "invalid-params"),
            };
            let Some(op) = state.current_mut().filter(|op| op.valid()) else {
                return bad_request(
                    "The current import operation can not receive new data.",
                    "Error",
                );
            };
            if !matches!(op.status(now), "importer_new" | "importer_user_selection") {
                return bad_request(
                    "The current import operation can not receive new data.",
                    "Error",
                );
            }
            op.users.extend(users);
            json_answer(StatusCode::OK, json!({"success": true}))
        }
        "import.run" => {
            let ready = state
                .current()
                .is_some_and(|op| op.valid() && op.status(now) == "importer_user_selection");
            if !ready {
                return bad_request(
                    "The current import operation is not ready to start.",
                    "Error",
                );
            }
            state.run(now, shared.config.import_duration);
            json_answer(StatusCode::OK, json!({"success": true}))
        }
        _ => unreachable!("routes are checked above"),
    }
}

/// The `import.addUsers` body, checked as the server's schema does.
fn parse_users(body: &[u8]) -> Result<Vec<StagedUser>, String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| "The request body is not valid JSON [invalid-params]".to_owned())?;
    let users = value
        .get("users")
        .and_then(Value::as_array)
        .ok_or("must have required property 'users' [invalid-params]")?;
    users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            for field in ["emails", "importIds"] {
                let ok = u
                    .get(field)
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.iter().all(Value::is_string));
                if !ok {
                    return Err(format!(
                        "/users/{i} must have required property '{field}' [invalid-params]"
                    ));
                }
            }
            Ok(StagedUser {
                fails: user_fails(u),
            })
        })
        .collect()
}

async fn control_operation(
    State(shared): State<Arc<RcShared>>,
    Json(op): Json<ForeignOperation>,
) -> Response {
    let now = Instant::now();
    match shared.lock().foreign(&shared.config, &op, now) {
        Ok(id) => json_answer(StatusCode::OK, json!({"id": id})),
        Err(e) => json_answer(StatusCode::BAD_REQUEST, json!({"error": e})),
    }
}

async fn control_fault(
    State(shared): State<Arc<RcShared>>,
    Json(fault): Json<RcFault>,
) -> StatusCode {
    shared.lock().faults.push(fault);
    StatusCode::NO_CONTENT
}

async fn control_clear_faults(State(shared): State<Arc<RcShared>>) -> StatusCode {
    shared.lock().faults.clear();
    StatusCode::NO_CONTENT
}

async fn control_stats(State(shared): State<Arc<RcShared>>) -> Response {
    let stats = shared.lock().stats.clone();
    Json(stats).into_response()
}

async fn control_reset(State(shared): State<Arc<RcShared>>) -> StatusCode {
    *shared.lock() = Default::default();
    StatusCode::NO_CONTENT
}
