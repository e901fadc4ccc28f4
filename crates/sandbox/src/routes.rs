//! The documented API endpoints (trigger, webhook, status) with their auth, validation, rate
//! limits and error bodies; request logging; and the router that joins them to the control API.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::time::Instant;
use uuid::Uuid;

use super::Shared;
use super::control::{self, KeyState, RequestRecord};
use super::faults::{self, Effect, FaultEndpoint, FaultKind};

const WEBHOOK_PREFIX: &str = "/datasets/hooks/reimport/";

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/datasets/{dataset_id}/import",
            post(|s, p, h, q| keyed(Endpoint::Trigger, s, p, h, q)),
        )
        .route(
            "/datasets/{dataset_id}/status",
            get(|s, p, h, q| keyed(Endpoint::Status, s, p, h, q)),
        )
        .route("/datasets/hooks/reimport/{reimport_key}", post(webhook))
        .merge(super::datasets::router())
        .merge(control::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(shared.clone(), log_request))
        .with_state(shared)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Status,
    Trigger,
    Webhook,
}

impl Endpoint {
    fn fault_class(self) -> FaultEndpoint {
        match self {
            Endpoint::Status => FaultEndpoint::Status,
            Endpoint::Trigger => FaultEndpoint::Trigger,
            Endpoint::Webhook => FaultEndpoint::Webhook,
        }
    }
}

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

/// The endpoints that take the private key (status, trigger), by header or query.
async fn keyed(
    endpoint: Endpoint,
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Params,
) -> Response {
    let key = private_key(&headers, &query);
    call(&shared, endpoint, &id, key).await
}

async fn webhook(State(shared): State<Arc<Shared>>, Path(reimport_key): Path<String>) -> Response {
    call(&shared, Endpoint::Webhook, &reimport_key, None).await
}

/// The key from `X-Api-Key`, else from `?private_key=`; empty counts as absent.
fn private_key(headers: &HeaderMap, query: &Params) -> Option<String> {
    let from_header = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let from_query = || {
        query
            .as_ref()
            .ok()
            .and_then(|Query(params)| params.get("private_key").cloned())
    };
    from_header.or_else(from_query).filter(|k| !k.is_empty())
}

fn detail(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "detail": message }))).into_response()
}

fn details(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "details": message }))).into_response()
}

fn dataset_not_found() -> Response {
    details(StatusCode::NOT_FOUND, "Dataset was not found")
}

fn rate_limited(retry_after: Option<u64>) -> Response {
    let mut response = details(StatusCode::TOO_MANY_REQUESTS, "Rate limit reached");
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// FastAPI's answer to a path parameter that is not a UUID.
fn invalid_uuid(input: &str, error: &uuid::Error) -> Response {
    let body = json!({
        "detail": [{
            "type": "uuid_parsing",
            "loc": ["path", "dataset_id"],
            "msg": format!("Input should be a valid UUID, {error}"),
            "input": input,
            "ctx": { "error": error.to_string() },
        }]
    });
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// One API request, start to finish: count it, let a queued fault act, then answer it like the
/// real service would.
async fn call(
    shared: &Shared,
    endpoint: Endpoint,
    path_value: &str,
    key: Option<String>,
) -> Response {
    let now = Instant::now();
    let cfg = &shared.config;
    let (response, hold) = 'handled: {
        let mut state = shared.lock();
        state.counters.requests += 1;

        let parsed = match endpoint {
            Endpoint::Webhook => Ok(state.dataset_for_reimport_key(path_value)),
            _ => Uuid::parse_str(path_value).map(Some),
        };
        let dataset = parsed.as_ref().ok().copied().flatten();
        if let Some(id) = dataset
            && let Some(ds) = state.dataset(cfg, id, cfg.auto_create)
        {
            match endpoint {
                Endpoint::Status => ds.stats.status_calls += 1,
                _ => ds.stats.triggers += 1,
            }
        }

        let mut hold = None;
        let mut replace_after = None;
        let fault = state.faults.take(endpoint.fault_class(), dataset, |k| {
            k != FaultKind::StatusStale
        });
        if let Some(fault) = fault {
            state.counters.injected += 1;
            if let Some(ds) = dataset.and_then(|id| state.dataset(cfg, id, false)) {
                ds.stats.injected += 1;
            }
            let (ok_status, ok_body) = normal_answer_shape(endpoint, dataset);
            match faults::effect(&fault, ok_status, &ok_body) {
                Effect::Replace(response) if fault.processed => replace_after = Some(response),
                Effect::Replace(response) => return response,
                Effect::Hold(delay) => hold = Some(delay),
                Effect::Silence => break 'handled (None, None),
            }
        }

        let mut response = answer(&mut state, cfg, endpoint, parsed, path_value, key, now);
        let lag = dataset
            .and_then(|id| state.dataset(cfg, id, false))
            .map_or(Duration::ZERO, |ds| ds.date_lag);
        if !lag.is_zero() {
            lagging_date(&mut response, lag);
        }
        match replace_after {
            // Handled; the client gets the fault's answer instead of the success.
            Some(replacement) if response.status().is_success() => (Some(replacement), hold),
            _ => (Some(response), hold),
        }
    };
    let Some(response) = response else {
        // `silent`: no byte of an answer while the sandbox runs; the client has to give up.
        shared.stop.cancelled().await;
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    if let Some(delay) = hold {
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shared.stop.cancelled() => {}
        }
    }
    response
}

/// Sets the answer's `Date` header `lag` behind the clock that stamps run steps (hyper only
/// adds its own `Date` when the answer has none).
fn lagging_date(response: &mut Response, lag: Duration) {
    let at = std::time::SystemTime::now()
        .checked_sub(lag)
        .unwrap_or(std::time::UNIX_EPOCH);
    if let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(at)) {
        response.headers_mut().insert(header::DATE, value);
    }
}

/// The status and body of a plausible success, to cut or garble.
fn normal_answer_shape(endpoint: Endpoint, dataset: Option<Uuid>) -> (StatusCode, String) {
    let id = dataset.unwrap_or_default().to_string();
    match endpoint {
        Endpoint::Status => (
            StatusCode::OK,
            json!({"id": id, "status": "in_progress", "steps": [{"name": "fetch",
                "start": "2026-01-01T00:00:00.000Z", "end": null, "status": "in_progress",
                "entries": []}]})
            .to_string(),
        ),
        _ => (
            StatusCode::ACCEPTED,
            json!({ "dataset_id": id }).to_string(),
        ),
    }
}

fn answer(
    state: &mut super::state::State,
    cfg: &super::SandboxConfig,
    endpoint: Endpoint,
    parsed: Result<Option<Uuid>, uuid::Error>,
    path_value: &str,
    key: Option<String>,
    now: Instant,
) -> Response {
    if endpoint != Endpoint::Webhook {
        let Some(key) = key else {
            return detail(StatusCode::UNAUTHORIZED, "Unable to locate credentials");
        };
        match state.key_state(&key) {
            Some(KeyState::Ok) => {}
            Some(KeyState::NoQuota) => {
                return detail(StatusCode::PAYMENT_REQUIRED, "Out of free quota");
            }
            Some(KeyState::Removed) | None => {
                return detail(StatusCode::FORBIDDEN, "Credentials found, but not matching");
            }
        }
    }
    let id = match parsed {
        Err(error) => return invalid_uuid(path_value, &error),
        Ok(None) => return dataset_not_found(), // unknown webhook key
        Ok(Some(id)) => id,
    };
    {
        let Some(ds) = state.dataset(cfg, id, false) else {
            return dataset_not_found(); // unknown and not auto-created
        };
        let (last, window) = match endpoint {
            Endpoint::Status => (&mut ds.last_status, cfg.status_window),
            _ => (&mut ds.last_trigger, cfg.trigger_window),
        };
        if let Some(previous) = *last
            && now.saturating_duration_since(previous) < window
        {
            ds.stats.rate_limited += 1;
            state.counters.rate_limited += 1;
            return rate_limited(cfg.retry_after);
        }
        *last = Some(now);
        if !ds.exists {
            return dataset_not_found();
        }
    }

    let stale = state.faults.take(endpoint.fault_class(), Some(id), |k| {
        k == FaultKind::StatusStale
    });
    if stale.is_some() {
        state.counters.injected += 1;
    }
    let ds = state
        .dataset(cfg, id, false)
        .expect("the dataset was found above");
    if stale.is_some() {
        ds.stats.injected += 1;
    }
    match endpoint {
        Endpoint::Status => {
            let skip = usize::from(stale.is_some());
            match ds.visible_run(now, skip) {
                Some(run) => {
                    let mut view = run.view(now);
                    if ds.steps_reversed {
                        view.steps.reverse();
                    }
                    Json(view).into_response()
                }
                None => dataset_not_found(),
            }
        }
        Endpoint::Trigger | Endpoint::Webhook => {
            let delay = stale.map(|f| {
                f.delay_ms
                    .map_or_else(|| ds.stale_delay(cfg), Duration::from_millis)
            });
            let replaced = ds.start_run(cfg, now, delay);
            ds.stats.runs_triggered += 1;
            if replaced {
                ds.stats.triggers_while_running += 1;
            }
            state.counters.runs_triggered += 1;
            if replaced {
                state.counters.triggers_while_running += 1;
            }
            (
                StatusCode::ACCEPTED,
                Json(json!({ "dataset_id": id.to_string() })),
            )
                .into_response()
        }
    }
}

async fn not_found() -> Response {
    detail(StatusCode::NOT_FOUND, "Not Found")
}

async fn method_not_allowed() -> Response {
    detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}

/// The path as it may be logged: the webhook key is a credential.
fn loggable_path(path: &str) -> String {
    match path.find(WEBHOOK_PREFIX) {
        Some(at) => format!("{}***", &path[..at + WEBHOOK_PREFIX.len()]),
        None => path.to_owned(),
    }
}

/// Whether a query string carries a `private_key` parameter (any value, even empty).
fn query_has_key(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.split('=').next() == Some("private_key"))
    })
}

/// Logs method, path (never the query: it may carry `private_key`), status and latency,
/// counts requests whose query carried a key (`query_keys` in the stats) and the most handled
/// at once (`max_in_flight`).
async fn log_request(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    {
        let mut state = shared.lock();
        if query_has_key(request.uri().query()) {
            state.counters.query_keys += 1;
        }
        state.counters.in_flight += 1;
        state.counters.max_in_flight = state.counters.max_in_flight.max(state.counters.in_flight);
    }
    let _gauge = InFlight(&shared);
    handle(&shared, request, next).await
}

/// One request being handled (also when the client goes away mid-request).
struct InFlight<'a>(&'a Shared);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        // A `POST /_sandbox/reset` handled meanwhile zeroed the count.
        let mut state = self.0.lock();
        state.counters.in_flight = state.counters.in_flight.saturating_sub(1);
    }
}

async fn handle(shared: &Shared, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request = if request.uri().path().starts_with("/datasets/") {
        record(shared, request, started).await
    } else {
        request
    };
    let method = request.method().clone();
    let path = loggable_path(request.uri().path());
    let response = next.run(request).await;
    tracing::info!(
        "{method} {path} -> {} ({} ms)",
        response.status().as_u16(),
        started.elapsed().as_millis()
    );
    response
}

/// Largest request body kept in the request log (the API's bodies are `{}`).
const MAX_LOGGED_BODY: usize = 64 * 1024;

/// Adds an API request to the request log and gives it back to be handled.
async fn record(shared: &Shared, request: Request, arrived: Instant) -> Request {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_LOGGED_BODY)
        .await
        .unwrap_or_default();
    let record = RequestRecord {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
        at_ms: u64::try_from(
            arrived
                .saturating_duration_since(shared.started)
                .as_millis(),
        )
        .unwrap_or(u64::MAX),
        at: Some(arrived),
    };
    shared.lock().log_request(record);
    Request::from_parts(parts, axum::body::Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::{loggable_path, query_has_key};

    #[test]
    fn keys_in_queries_are_noticed() {
        assert!(query_has_key(Some("private_key=abc")));
        assert!(query_has_key(Some("a=1&private_key=")));
        assert!(!query_has_key(Some("private_key_hint=1")));
        assert!(!query_has_key(None));
    }

    #[test]
    fn webhook_key_is_masked() {
        assert_eq!(
            loggable_path("/datasets/hooks/reimport/s3cret"),
            "/datasets/hooks/reimport/***"
        );
        assert_eq!(
            loggable_path("/datasets/abc/status"),
            "/datasets/abc/status"
        );
    }
}
