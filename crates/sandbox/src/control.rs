//! The control API under `/_sandbox/` (no auth, JSON) and the types it shares with the
//! in-process handle: [`DatasetConfig`], [`KeyConfig`], [`Stats`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Router, routing::MethodRouter};
use serde::{Deserialize, Deserializer, Serialize, de::DeserializeOwned};

use super::Shared;
use super::faults::Fault;

/// How a dataset's runs end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    #[default]
    Success,
    /// The import step fails with error entries.
    Failed,
    /// In progress forever.
    Never,
    /// Ends like a successful run but with the run and import step status `cancelled` (a
    /// value the API documentation does not list), every step ended.
    Cancelled,
    /// In progress forever, but with the run status `queued` (undocumented) while its steps
    /// are still open.
    Queued,
}

/// The seeded run a dataset shows before its first trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PreviousRun {
    Success,
    Failed,
}

/// Body of `PUT /_sandbox/datasets/{id}`. Every field is optional; absent fields keep their
/// value (a dataset not yet known starts as auto-created: exists, one previous successful run).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    /// `false`: every call for it answers 404.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
    /// Replaces the run history: `Some(Some(_))` one finished run from an hour ago,
    /// `Some(None)` (JSON `null`) never imported (status answers 404 until a run appears).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub previous_run: Option<Option<PreviousRun>>,
    /// Length of the runs started from now on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// How the runs started from now on end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// How long after a trigger the status keeps showing the previous run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_delay_ms: Option<u64>,
    /// The webhook key that triggers this dataset (`""` removes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reimport_key: Option<String>,
    /// `true`: a run starts now, visible at once (replacing any active run, not counted as a
    /// trigger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<bool>,
    /// A run is scheduled now and becomes visible after this many milliseconds, as if another
    /// client had just triggered the dataset (replacing any active run; not counted as a
    /// trigger, and the trigger window is left as it was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_starts_in_ms: Option<u64>,
    /// Every answer about this dataset carries a `Date` header this many milliseconds behind
    /// the clock that stamps its runs' steps (a server whose front end's clock lags its
    /// workers'); `0` restores the normal `Date`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_lag_ms: Option<u64>,
    /// `true`: the status lists a run's steps latest first (the reference says they are
    /// ordered by start; a client must not rely on it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps_reversed: Option<bool>,
}

/// Tells "absent" (outer `None`, via `default`) from "null" (`Some(None)`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl DatasetConfig {
    /// A dataset that does not exist (404 everywhere).
    pub fn missing() -> Self {
        DatasetConfig {
            exists: Some(false),
            ..Self::default()
        }
    }
    /// A dataset that exists but was never imported.
    pub fn never_imported() -> Self {
        DatasetConfig {
            previous_run: Some(None),
            ..Self::default()
        }
    }
    pub fn previous_run(mut self, previous: Option<PreviousRun>) -> Self {
        self.previous_run = Some(previous);
        self
    }
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = Some(outcome);
        self
    }
    pub fn duration(mut self, d: Duration) -> Self {
        self.duration_ms = Some(millis(d));
        self
    }
    pub fn start_delay(mut self, d: Duration) -> Self {
        self.start_delay_ms = Some(millis(d));
        self
    }
    pub fn reimport_key(mut self, key: &str) -> Self {
        self.reimport_key = Some(key.to_owned());
        self
    }
    pub fn running(mut self) -> Self {
        self.running = Some(true);
        self
    }
    pub fn run_starts_in(mut self, d: Duration) -> Self {
        self.run_starts_in_ms = Some(millis(d));
        self
    }
    pub fn date_lag(mut self, d: Duration) -> Self {
        self.date_lag_ms = Some(millis(d));
        self
    }
    pub fn steps_reversed(mut self) -> Self {
        self.steps_reversed = Some(true);
        self
    }
}

/// What a private key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Accepted.
    Ok,
    /// 402 Out of free quota.
    NoQuota,
    /// Forgotten: 403 like any unknown key.
    Removed,
}

/// Body of `POST /_sandbox/keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    pub key: String,
    pub state: KeyState,
}

/// `GET /_sandbox/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests to the three API endpoints (any answer).
    pub requests: u64,
    /// 429 answers produced by the rate-limit windows.
    pub rate_limited: u64,
    /// Requests a queued fault acted on (including `rate_limit`, `slow`, `status_stale`).
    pub injected: u64,
    /// Accepted triggers that replaced a scheduled or running run.
    pub triggers_while_running: u64,
    /// Requests (to any path) that carried a `private_key` query parameter. Clients of this
    /// project send the key as the `X-Api-Key` header only, so tests expect 0.
    #[serde(default)]
    pub query_keys: u64,
    /// The most requests (to any path) being handled at once since the sandbox started.
    #[serde(default)]
    pub max_in_flight: u64,
    /// Triggers (import endpoint or webhook) that started a run, all datasets.
    #[serde(default)]
    pub runs_triggered: u64,
    /// Requests to the dataset management endpoints (`/datasets/`, `/datasets/{id}`), any
    /// answer. Also counted in `requests`.
    #[serde(default)]
    pub dataset_api_calls: u64,
    /// Window 429s of the dataset management endpoints. Also counted in `rate_limited`.
    #[serde(default)]
    pub dataset_api_rate_limited: u64,
    /// Datasets created through `POST /datasets/`.
    #[serde(default)]
    pub datasets_created: u64,
    /// Accepted `DELETE /datasets/{id}` (a 409 for an already scheduled one is not counted).
    #[serde(default)]
    pub deletions_scheduled: u64,
    /// Per dataset, keyed by the lowercase hyphenated id.
    pub datasets: BTreeMap<String, DatasetStats>,
}

impl Stats {
    /// The counters of one dataset (any UUID spelling).
    pub fn dataset(&self, id: &str) -> Option<&DatasetStats> {
        let key = uuid::Uuid::parse_str(id).ok()?.to_string();
        self.datasets.get(&key)
    }
}

/// One request to the three API endpoints, as received (`GET /_sandbox/requests`, oldest
/// first; the last [`REQUEST_LOG_LIMIT`] are kept). It lets tests check what a client sent:
/// its headers, where its key travelled, its body, when it arrived. A webhook path holds the
/// reimport key: the log is data for tests and is never printed by the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// Every header, lowercase name and value (invalid UTF-8 replaced), in order.
    pub headers: Vec<(String, String)>,
    /// The body (invalid UTF-8 replaced).
    pub body: String,
    /// Milliseconds since the sandbox started.
    pub at_ms: u64,
    /// Arrival on the sandbox process's clock (in-process handles only).
    #[serde(skip)]
    pub at: Option<tokio::time::Instant>,
}

/// How many requests the log keeps.
pub const REQUEST_LOG_LIMIT: usize = 10_000;

impl RequestRecord {
    /// The first value of a header (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Per-dataset counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetStats {
    /// Trigger requests (import endpoint and webhook) naming this dataset, any answer.
    pub triggers: u64,
    /// Status requests naming this dataset, any answer.
    pub status_calls: u64,
    /// Window 429s for this dataset.
    pub rate_limited: u64,
    /// Requests for this dataset a queued fault acted on.
    pub injected: u64,
    /// Accepted triggers for this dataset that replaced an active run.
    pub triggers_while_running: u64,
    /// Triggers (import endpoint or webhook) for this dataset that started a run, whatever the
    /// client was answered (a `processed` fault may hide it).
    #[serde(default)]
    pub runs_triggered: u64,
    /// Ids of the runs started in the sandbox (by triggers or `running: true`), oldest first;
    /// seeded history is not listed.
    pub runs: Vec<String>,
    /// `YYYY-MM-DD` once `DELETE /datasets/{id}` scheduled its deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_for_deletion_after: Option<String>,
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sandbox/datasets/{id}", put(put_dataset))
        .route("/_sandbox/keys", post(post_key))
        .route(
            "/_sandbox/faults",
            MethodRouter::new().post(post_fault).delete(delete_faults),
        )
        .route("/_sandbox/stats", get(get_stats))
        .route("/_sandbox/requests", get(get_requests))
        .route("/_sandbox/reset", post(post_reset))
}

fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}

/// Parses a JSON body without insisting on a content type; an empty body is `{}`.
fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(text).map_err(|e| format!("invalid body: {e}"))
}

async fn put_dataset(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(uuid) = uuid::Uuid::parse_str(&id) else {
        return bad_request(format!("dataset id {id:?} is not a UUID"));
    };
    let cfg: DatasetConfig = match parse(&body) {
        Ok(cfg) => cfg,
        Err(message) => return bad_request(message),
    };
    shared.lock().configure_dataset(&shared.config, uuid, &cfg);
    Json(serde_json::json!({ "dataset_id": uuid.to_string() })).into_response()
}

async fn post_key(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let key: KeyConfig = match parse(&body) {
        Ok(key) => key,
        Err(message) => return bad_request(message),
    };
    if key.key.is_empty() {
        return bad_request("key must not be empty".to_owned());
    }
    shared.lock().set_key(&key.key, key.state);
    Json(serde_json::json!({ "ok": true })).into_response()
}

async fn post_fault(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let fault: Fault = match parse(&body) {
        Ok(fault) => fault,
        Err(message) => return bad_request(message),
    };
    if fault.count == 0 {
        return bad_request("count must be at least 1".to_owned());
    }
    if let Some(status) = fault.status
        && !(100..=599).contains(&status)
    {
        return bad_request(format!(
            "status must be an HTTP status code (100-599), got {status}"
        ));
    }
    if let Some(id) = &fault.dataset_id
        && uuid::Uuid::parse_str(id).is_err()
    {
        return bad_request(format!("dataset_id {id:?} is not a UUID"));
    }
    let mut state = shared.lock();
    state.faults.push(fault);
    Json(serde_json::json!({ "queued": state.faults.len() })).into_response()
}

async fn delete_faults(State(shared): State<Arc<Shared>>) -> Response {
    shared.lock().faults.clear();
    Json(serde_json::json!({ "queued": 0 })).into_response()
}

async fn get_stats(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.lock().stats()).into_response()
}

async fn get_requests(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.lock().requests.iter().cloned().collect::<Vec<_>>()).into_response()
}

async fn post_reset(State(shared): State<Arc<Shared>>) -> Response {
    shared.lock().reset(&shared.config);
    Json(serde_json::json!({ "ok": true })).into_response()
}
