//! The dataset management endpoints (`POST /datasets/`, `GET /datasets/?page=&per_page=`,
//! `GET|PUT|DELETE /datasets/{id}`) over the catalog of names, URLs, schema mappings and
//! reimport keys (its data is `catalog.rs`), each endpoint's 1-per-second window (one window per endpoint, whatever the dataset),
//! the documented error bodies, pagination, and deletion scheduling (`scheduled_for_deletion_after`
//! seven days ahead; a second delete answers 409).
//!
//! A dataset created here is an ordinary sandbox dataset: it can be imported (API or webhook
//! with its `reimport_key`) and its status read like a configured one. With
//! [`crate::SandboxConfig::import_on_create`] the creation starts its first import run by
//! itself (a run, not a trigger: `triggers` stays 0). Datasets configured through the control
//! API or created on first reference get a generated name and URL the first time these
//! endpoints see them.

// Handlers return an early `Response` as the `Err` of a `Result`; its size does not matter here.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::time::Instant;
use uuid::Uuid;

use super::Shared;
use super::catalog::{Meta, Op};
use super::control::{DatasetConfig, KeyState};
use super::timeline::rfc3339;

/// The longest URL the API accepts.
pub(crate) const MAX_URL: usize = 2083;
/// The largest page.
pub(crate) const MAX_PER_PAGE: u64 = 20;
/// How long a scheduled deletion waits.
const DELETION_DELAY: Duration = Duration::from_secs(7 * 24 * 3600);

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/datasets/", get(list).post(create))
        .route(
            "/datasets/{dataset_id}",
            get(read).put(update).delete(delete),
        )
}

#[derive(Serialize)]
struct DatasetView {
    id: String,
    name: String,
    url: String,
    reimport_key: String,
    created_at: String,
    updated_at: String,
    scheduled_for_deletion_after: Option<String>,
}

#[derive(Serialize)]
struct SummaryView {
    id: String,
    name: String,
    created_at: String,
    updated_at: String,
    scheduled_for_deletion_after: Option<String>,
}

fn view(id: Uuid, m: &Meta) -> DatasetView {
    DatasetView {
        id: id.to_string(),
        name: m.name.clone(),
        url: m.url.clone(),
        reimport_key: m.reimport_key.clone(),
        created_at: rfc3339(m.created_at),
        updated_at: rfc3339(m.updated_at),
        scheduled_for_deletion_after: m.scheduled_for_deletion_after.clone(),
    }
}

fn error(status: StatusCode, key: &str, message: &str) -> Response {
    (status, Json(json!({ key: message }))).into_response()
}

/// FastAPI's 422: `{detail: [{type, loc, msg, input}]}`.
fn unprocessable(errors: Vec<(Vec<Value>, String, &'static str, Value)>) -> Response {
    let detail: Vec<Value> = errors
        .into_iter()
        .map(
            |(loc, msg, kind, input)| json!({"type": kind, "loc": loc, "msg": msg, "input": input}),
        )
        .collect();
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({ "detail": detail })),
    )
        .into_response()
}

/// Counts the call, checks the key (401/402/403 `{detail}`) and the endpoint's window
/// (429 `{details}`). `Err` is the answer to send.
fn admit(shared: &Shared, headers: &HeaderMap, op: Op) -> Result<(), Response> {
    let mut state = shared.lock();
    state.counters.requests += 1;
    state.catalog.calls += 1;
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty());
    let Some(key) = key else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "detail",
            "Unable to locate credentials",
        ));
    };
    match state.key_state(key) {
        Some(KeyState::Ok) => {}
        Some(KeyState::NoQuota) => {
            return Err(error(
                StatusCode::PAYMENT_REQUIRED,
                "detail",
                "Out of free quota",
            ));
        }
        Some(KeyState::Removed) | None => {
            return Err(error(
                StatusCode::FORBIDDEN,
                "detail",
                "Credentials found, but not matching",
            ));
        }
    }
    let now = Instant::now();
    let window = shared.config.datasets_window;
    if let Some(previous) = state.catalog.last.get(&op)
        && now.saturating_duration_since(*previous) < window
    {
        state.catalog.rate_limited += 1;
        state.counters.rate_limited += 1;
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "details",
            "Rate limit reached",
        );
        if let Some(secs) = shared.config.retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs),
            );
        }
        return Err(response);
    }
    state.catalog.last.insert(op, now);
    Ok(())
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "details", "Dataset was not found")
}

/// The dataset id of a path, or FastAPI's 422.
fn path_id(raw: &str) -> Result<Uuid, Response> {
    Uuid::parse_str(raw).map_err(|e| {
        unprocessable(vec![(
            vec![json!("path"), json!("dataset_id")],
            format!("Input should be a valid UUID, {e}"),
            "uuid_parsing",
            json!(raw),
        )])
    })
}

/// A URL as the API validates it: 1 to 2083 characters, an absolute http(s) URI with a host.
fn check_url(url: &str) -> Result<(), String> {
    if url.is_empty() {
        return Err("String should have at least 1 character".to_owned());
    }
    if url.chars().count() > MAX_URL {
        return Err(format!("URL should have at most {MAX_URL} characters"));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("Input should be a valid URL, relative URL without a base".to_owned());
    };
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return Err("URL scheme should be 'http' or 'https'".to_owned());
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || url.chars().any(char::is_whitespace) {
        return Err("Input should be a valid URL, empty host".to_owned());
    }
    Ok(())
}

type Problems = Vec<(Vec<Value>, String, &'static str, Value)>;

/// What a handler answers: `Err` is an error answer, so that the checks can end it with `?`.
type Answer = Result<Response, Response>;

/// FastAPI's 422 when the request's fields had problems.
fn no_problems(problems: Problems) -> Result<(), Response> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(unprocessable(problems))
    }
}

fn body_object(body: &Bytes) -> Result<serde_json::Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(unprocessable(vec![(
            vec![json!("body")],
            "Input should be a valid dictionary or object to extract fields from".to_owned(),
            "model_attributes_type",
            other,
        )])),
        Err(e) => Err(unprocessable(vec![(
            vec![json!("body"), json!(e.column())],
            "JSON decode error".to_owned(),
            "json_invalid",
            json!({}),
        )])),
    }
}

fn string_field(
    map: &serde_json::Map<String, Value>,
    name: &str,
    required: bool,
    problems: &mut Problems,
) -> Option<String> {
    match map.get(name) {
        None | Some(Value::Null) if required => {
            problems.push((
                vec![json!("body"), json!(name)],
                "Field required".to_owned(),
                "missing",
                json!(map),
            ));
            None
        }
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            problems.push((
                vec![json!("body"), json!(name)],
                "Input should be a valid string".to_owned(),
                "string_type",
                other.clone(),
            ));
            None
        }
    }
}

fn check_url_field(url: &Option<String>, problems: &mut Problems) {
    if let Some(url) = url
        && let Err(msg) = check_url(url)
    {
        problems.push((
            vec![json!("body"), json!("url")],
            msg,
            "url_parsing",
            json!(url),
        ));
    }
}

/// The fields of a schema mapping item, in the order they are checked: the name, the values
/// it accepts, and the 422's `msg` and `type` for another value.
type MappingField = (&'static str, fn(&Value) -> bool, &'static str, &'static str);
const MAPPING_FIELDS: [MappingField; 2] = [
    ("schema_key", is_title, "Input should be 'title'", "enum"),
    (
        "data_key",
        Value::is_string,
        "Input should be a valid string",
        "string_type",
    ),
];

fn is_title(value: &Value) -> bool {
    value == "title"
}

/// Checks `field` of the schema mapping item `i`: a value `accepts` takes, else the problem
/// `(msg, type)`; missing, `Field required`.
fn check_mapping_field(
    item: &Value,
    i: usize,
    field: &str,
    accepts: fn(&Value) -> bool,
    (msg, kind): (&str, &'static str),
    problems: &mut Problems,
) {
    let loc = vec![
        json!("body"),
        json!("schema_mapping"),
        json!(i),
        json!(field),
    ];
    match item.get(field) {
        Some(value) if accepts(value) => {}
        Some(other) => problems.push((loc, msg.to_owned(), kind, other.clone())),
        None => problems.push((loc, "Field required".to_owned(), "missing", item.clone())),
    }
}

async fn create(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Answer {
    admit(&shared, &headers, Op::Create)?;
    let map = body_object(&body)?;
    let mut problems = Problems::new();
    let name = string_field(&map, "name", true, &mut problems);
    let url = string_field(&map, "url", true, &mut problems);
    check_url_field(&url, &mut problems);
    match map.get("schema_mapping") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if !item.is_object() {
                    problems.push((
                        vec![json!("body"), json!("schema_mapping"), json!(i)],
                        "Input should be a valid dictionary or object to extract fields from"
                            .to_owned(),
                        "model_attributes_type",
                        item.clone(),
                    ));
                    continue;
                }
                for (field, accepts, msg, kind) in MAPPING_FIELDS {
                    check_mapping_field(item, i, field, accepts, (msg, kind), &mut problems);
                }
            }
        }
        Some(other) => problems.push((
            vec![json!("body"), json!("schema_mapping")],
            "Input should be a valid list".to_owned(),
            "list_type",
            other.clone(),
        )),
    }
    no_problems(problems)?;
    let (name, url) = (name.unwrap_or_default(), url.unwrap_or_default());

    let cfg = &shared.config;
    let mut state = shared.lock();
    let id = uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid();
    let reimport_key = Uuid::from_u128(fastrand::u128(..)).to_string();
    state.configure_dataset(
        cfg,
        id,
        &DatasetConfig::never_imported().reimport_key(&reimport_key),
    );
    if cfg.import_on_create
        && let Some(ds) = state.dataset(cfg, id, false)
    {
        ds.start_run(cfg, Instant::now(), None);
    }
    state.catalog.created += 1;
    let meta = state.catalog.meta_for(id, Some(&reimport_key));
    meta.name = name;
    meta.url = url;
    Ok(Json(view(id, meta)).into_response())
}

/// Whether the dataset exists (known and not removed through the control API).
fn exists(state: &mut super::state::State, cfg: &super::SandboxConfig, id: Uuid) -> bool {
    state.dataset(cfg, id, false).is_some_and(|ds| ds.exists)
}

/// The dataset's reimport key as the webhook knows it (a configured dataset may have none).
fn webhook_key(
    state: &mut super::state::State,
    cfg: &super::SandboxConfig,
    id: Uuid,
) -> Option<String> {
    state
        .dataset(cfg, id, false)
        .and_then(|ds| ds.reimport_key.clone())
}

/// Meta of an existing dataset, generated on first sight; the webhook learns a generated key.
fn existing_meta<'s>(
    state: &'s mut super::state::State,
    cfg: &super::SandboxConfig,
    id: Uuid,
) -> Option<&'s mut Meta> {
    if !exists(state, cfg, id) {
        return None;
    }
    let known_key = webhook_key(state, cfg, id);
    let generated = !state.catalog.meta.contains_key(&id);
    let key = state
        .catalog
        .meta_for(id, known_key.as_deref())
        .reimport_key
        .clone();
    if generated && known_key.is_none() {
        state.configure_dataset(cfg, id, &DatasetConfig::default().reimport_key(&key));
    }
    state.catalog.meta.get_mut(&id)
}

/// [`admit`], then the dataset id of the path (422 when it is not a UUID).
fn admitted_id(shared: &Shared, headers: &HeaderMap, op: Op, raw: &str) -> Result<Uuid, Response> {
    admit(shared, headers, op)?;
    path_id(raw)
}

async fn update(
    State(shared): State<Arc<Shared>>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let id = admitted_id(&shared, &headers, Op::Update, &raw)?;
    let map = body_object(&body)?;
    let mut problems = Problems::new();
    let name = string_field(&map, "name", false, &mut problems);
    let url = string_field(&map, "url", false, &mut problems);
    check_url_field(&url, &mut problems);
    no_problems(problems)?;
    let mut state = shared.lock();
    let meta = existing_meta(&mut state, &shared.config, id).ok_or_else(not_found)?;
    if let Some(name) = name {
        meta.name = name;
    }
    if let Some(url) = url {
        meta.url = url;
    }
    meta.updated_at = SystemTime::now();
    Ok(Json(view(id, meta)).into_response())
}

/// `GET /datasets/{id}`: the dataset's view (404 for a dataset that does not exist).
async fn read(
    State(shared): State<Arc<Shared>>,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Answer {
    let id = admitted_id(&shared, &headers, Op::Get, &raw)?;
    let mut state = shared.lock();
    let meta = existing_meta(&mut state, &shared.config, id).ok_or_else(not_found)?;
    Ok(Json(view(id, meta)).into_response())
}

/// `DELETE /datasets/{id}`: schedules the dataset's deletion (409 when it already is, 404
/// for a dataset that does not exist).
async fn delete(
    State(shared): State<Arc<Shared>>,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Answer {
    let id = admitted_id(&shared, &headers, Op::Delete, &raw)?;
    let mut state = shared.lock();
    let meta = existing_meta(&mut state, &shared.config, id).ok_or_else(not_found)?;
    if meta.scheduled_for_deletion_after.is_some() {
        return Err(error(
            StatusCode::CONFLICT,
            "details",
            "The Dataset was already scheduled for deletion.",
        ));
    }
    let date = rfc3339(SystemTime::now() + DELETION_DELAY)[..10].to_owned();
    meta.scheduled_for_deletion_after = Some(date.clone());
    state.catalog.deletions_scheduled += 1;
    Ok(
        Json(json!({ "dataset_id": id.to_string(), "scheduled_for_deletion_after": date }))
            .into_response(),
    )
}

/// A query integer as FastAPI validates it.
fn query_int(
    params: &HashMap<String, String>,
    name: &str,
    default: u64,
    max: Option<u64>,
    problems: &mut Problems,
) -> u64 {
    let Some(raw) = params.get(name) else {
        return default;
    };
    let loc = vec![json!("query"), json!(name)];
    match raw.trim().parse::<i64>() {
        Err(_) => {
            problems.push((
                loc,
                "Input should be a valid integer, unable to parse string as an integer".to_owned(),
                "int_parsing",
                json!(raw),
            ));
            default
        }
        Ok(n) if n < 1 => {
            problems.push((
                loc,
                "Input should be greater than or equal to 1".to_owned(),
                "greater_than_equal",
                json!(raw),
            ));
            default
        }
        Ok(n) if max.is_some_and(|m| n as u64 > m) => {
            problems.push((
                loc,
                format!(
                    "Input should be less than or equal to {}",
                    max.unwrap_or_default()
                ),
                "less_than_equal",
                json!(raw),
            ));
            default
        }
        Ok(n) => n as u64,
    }
}

async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Answer {
    admit(&shared, &headers, Op::List)?;
    let mut problems = Problems::new();
    let per_page = query_int(&params, "per_page", 10, Some(MAX_PER_PAGE), &mut problems);
    let page = query_int(&params, "page", 1, None, &mut problems);
    no_problems(problems)?;
    let cfg = &shared.config;
    let mut state = shared.lock();
    let ids: Vec<Uuid> = state.dataset_ids();
    let mut all: Vec<(u64, Uuid, SummaryView)> = Vec::new();
    for id in ids {
        if let Some(meta) = existing_meta(&mut state, cfg, id) {
            all.push((
                meta.seq,
                id,
                SummaryView {
                    id: id.to_string(),
                    name: meta.name.clone(),
                    created_at: rfc3339(meta.created_at),
                    updated_at: rfc3339(meta.updated_at),
                    scheduled_for_deletion_after: meta.scheduled_for_deletion_after.clone(),
                },
            ));
        }
    }
    all.sort_by_key(|(seq, id, _)| (*seq, *id));
    let total = all.len() as u64;
    let start = (page - 1).saturating_mul(per_page);
    let datasets: Vec<SummaryView> = all
        .into_iter()
        .skip(start.min(total) as usize)
        .take(per_page as usize)
        .map(|(_, _, v)| v)
        .collect();
    let next = (start.saturating_add(per_page) < total).then_some(page + 1);
    let prev = (page > 1).then_some(page - 1);
    Ok(Json(json!({
        "datasets": datasets,
        "pagination": { "page": page, "next": next, "prev": prev },
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn urls_are_checked_like_the_api() {
        assert!(check_url("https://example.com/data.geojson").is_ok());
        assert!(check_url("http://127.0.0.1:8080/x?y=1").is_ok());
        assert!(check_url("").is_err());
        assert!(check_url("example.com/data").is_err());
        assert!(check_url("ftp://example.com/data").is_err());
        assert!(check_url("https:///nohost").is_err());
        let long = format!("https://example.com/{}", "a".repeat(2100));
        assert!(check_url(&long).unwrap_err().contains("2083"));
    }
}
