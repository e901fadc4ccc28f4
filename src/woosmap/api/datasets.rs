//! The dataset management calls of the Datasets API: `POST /datasets/` (create),
//! `GET /datasets/{id}`, `PUT /datasets/{id}` (name and url), `DELETE /datasets/{id}`
//! (schedules deletion in 7 days) and `GET /datasets/?page=&per_page=` (pages of at most 20),
//! with their typed requests and responses. They fail with the [`ApiError`] of every call
//! (one sentence per documented error, naming the call and its dataset), through the one
//! retry loop of `call`.
//!
//! Each endpoint is limited to 1 request per second. Whether per key or per dataset is not
//! published, so every endpoint is paced as one slot per base URL (whatever the dataset),
//! through the same process-wide and cross-process pacer as the import calls: a response is
//! followed by at least [`DATASETS_INTERVAL`] + [`DATASETS_MARGIN`] before the next request to
//! the same endpoint.
//!
//! Retries follow the client's policy: a 429 is waited out (Retry-After, else the window) and
//! retried for every call (the server refused it). Reads (get, list), the update (a PUT of
//! the same values is idempotent) and the delete (a repeat answers 409, taken as success) are
//! also retried on server errors, transport faults and unreadable bodies. A create is retried
//! only when nothing reached the server (connect errors): after a 5xx, a reset or a timeout
//! the dataset may exist, and a blind repeat would create a second one; those errors say so
//! ([`ApiError::may_have_been_processed`]).
//!
//! The reimport key of a dataset is a credential: it is held as a [`Secret`], never logged,
//! and never part of an error.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::{Deserialize, Deserializer, Serialize};
use tokio::time::Instant;

use super::call::{Answer, Call, Plan};
use super::error::{Action, ApiError, DatasetOp, Subject};
use super::handle::Client;
use super::interpret::error_for_status;
use super::pacing::{self, PaceKind};
use super::request::{Exchange, read_body};
use super::types::DatasetId;
use crate::secret::Secret;

/// The published limit of each dataset management endpoint: 1 request per second.
pub const DATASETS_INTERVAL: Duration = Duration::from_secs(1);
/// Extra spacing between two requests to one endpoint, on top of [`DATASETS_INTERVAL`].
pub const DATASETS_MARGIN: Duration = Duration::from_millis(150);
/// The largest page `GET /datasets/` serves.
pub const MAX_PER_PAGE: u32 = 20;
/// The longest URL the API accepts.
pub const MAX_URL_LEN: usize = 2083;
/// The only `schema_key` the API knows.
pub const SCHEMA_KEYS: &[&str] = &["title"];
/// How many pages [`Client::list_all_datasets`] follows at most (a guard against a server
/// that never stops answering `next`).
const MAX_PAGES: u32 = 10_000;

impl DatasetOp {
    fn pace_kind(self) -> PaceKind {
        match self {
            DatasetOp::Create => PaceKind::DatasetCreate,
            DatasetOp::List => PaceKind::DatasetList,
            DatasetOp::Get => PaceKind::DatasetRead,
            DatasetOp::Update => PaceKind::DatasetUpdate,
            DatasetOp::Delete => PaceKind::DatasetDelete,
        }
    }

    /// Whether a fault after sending may be retried: everything but create is idempotent in
    /// effect.
    fn repeatable(self) -> bool {
        self != DatasetOp::Create
    }
}

/// One `schema_mapping` item: which schema field (`title`) comes from which key of the data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaMapping {
    pub schema_key: String,
    pub data_key: String,
}

/// The body of `POST /datasets/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewDataset {
    pub name: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_mapping: Option<Vec<SchemaMapping>>,
}

/// The body of `PUT /datasets/{id}`: what to change (absent fields stay as they are).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DatasetChanges {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A dataset as `POST`, `GET` and `PUT /datasets/{id}` return it. `Debug` hides the key.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Dataset {
    pub id: DatasetId,
    pub name: String,
    #[serde(default)]
    pub url: Option<String>,
    /// The key of the reimport webhook (a credential).
    #[serde(default, deserialize_with = "opt_secret")]
    pub reimport_key: Option<Secret>,
    pub created_at: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    /// A date (`YYYY-MM-DD`) once deletion is scheduled: Woosmap removes the dataset after it.
    #[serde(default)]
    pub scheduled_for_deletion_after: Option<String>,
}

/// A dataset as `GET /datasets/` lists it (no key; the published summary has no URL, but one
/// is kept if the server sends it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct DatasetSummary {
    pub id: DatasetId,
    pub name: String,
    #[serde(default)]
    pub url: Option<String>,
    pub created_at: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub scheduled_for_deletion_after: Option<String>,
}

/// One page of `GET /datasets/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetPage {
    pub datasets: Vec<DatasetSummary>,
    pub page: u32,
    pub next: Option<u32>,
    pub prev: Option<u32>,
}

#[derive(Deserialize)]
struct PageBody {
    datasets: Vec<DatasetSummary>,
    pagination: Pagination,
}

#[derive(Deserialize)]
struct Pagination {
    page: u32,
    #[serde(default)]
    next: Option<u32>,
    #[serde(default)]
    prev: Option<u32>,
}

/// How `DELETE /datasets/{id}` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    /// Deletion is now scheduled (Woosmap deletes the dataset after 7 days).
    Scheduled,
    /// It already was (HTTP 409).
    AlreadyScheduled,
}

fn opt_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    Ok(Option::<String>::deserialize(d)?
        .filter(|k| !k.is_empty())
        .map(Secret::new))
}

/// Checks a dataset URL as the API will: 1 to 2083 characters, an absolute http(s) URL with a
/// host. The error is a sentence naming the expected value.
pub fn check_dataset_url(url: &str) -> Result<(), String> {
    let len = url.chars().count();
    if len == 0 {
        return Err(
            "url must not be empty: give the http(s) URL Woosmap fetches the data from".into(),
        );
    }
    if len > MAX_URL_LEN {
        return Err(format!(
            "url is {len} characters long; Woosmap accepts at most {MAX_URL_LEN}"
        ));
    }
    match reqwest::Url::parse(url) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some_and(|h| !h.is_empty()) =>
        {
            Ok(())
        }
        Ok(u) => Err(format!(
            "url must be an absolute http or https URL with a host, such as https://example.com/stores.geojson; got scheme `{}`",
            u.scheme()
        )),
        Err(e) => Err(format!(
            "url must be an absolute http or https URL such as https://example.com/stores.geojson ({e})"
        )),
    }
}

/// One request to send.
struct Request<'a> {
    op: DatasetOp,
    /// What the call is doing, for its errors.
    action: Action,
    method: reqwest::Method,
    /// Path segments after the base URL.
    segments: Vec<&'a str>,
    query: Option<String>,
    body: Option<Vec<u8>>,
}

impl<'a> Request<'a> {
    fn new(op: DatasetOp, subject: Subject, segments: Vec<&'a str>) -> Request<'a> {
        let method = match op {
            DatasetOp::Create => reqwest::Method::POST,
            DatasetOp::List | DatasetOp::Get => reqwest::Method::GET,
            DatasetOp::Update => reqwest::Method::PUT,
            DatasetOp::Delete => reqwest::Method::DELETE,
        };
        Request {
            op,
            action: Action::Manage { op, subject },
            method,
            segments,
            query: None,
            body: None,
        }
    }

    /// A call about dataset `id`, at `/datasets/{id}`.
    fn about(op: DatasetOp, id: &'a DatasetId) -> Request<'a> {
        Request::new(
            op,
            Subject::Dataset(id.clone()),
            vec!["datasets", id.as_str()],
        )
    }

    /// The request with `body` as its JSON body; `serialises` says why encoding cannot fail.
    fn json_body(mut self, body: &impl Serialize, serialises: &str) -> Request<'a> {
        self.body = Some(serde_json::to_vec(body).expect(serialises));
        self
    }
}

/// A received answer (never a 429), for a call to read.
struct Reply<'a> {
    status: StatusCode,
    body: &'a [u8],
    action: &'a Action,
    /// Scrubbed from any server text that ends up in an error.
    secrets: &'a [&'a Secret],
}

impl Reply<'_> {
    /// A 2xx body read as `T`, or the error the status stands for.
    fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        if !self.status.is_success() {
            return Err(self.error());
        }
        serde_json::from_slice(self.body).map_err(|e| ApiError::InvalidResponse {
            action: self.action.clone(),
            status: self.status.as_u16(),
            // Never the text of the body (it may hold a reimport key): where and what kind.
            reason: format!(
                "not the documented JSON: {:?} error at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            ),
        })
    }

    /// The error a non-2xx answer stands for.
    fn error(&self) -> ApiError {
        error_for_status(
            self.action.clone(),
            self.status.as_u16(),
            self.body,
            self.secrets,
        )
    }
}

impl Client {
    /// `POST /datasets/`: creates a dataset. Not repeated after a fault that may hide a
    /// creation (see the module doc).
    pub async fn create_dataset(
        &self,
        new: &NewDataset,
        deadline: Instant,
    ) -> Result<Dataset, ApiError> {
        let subject = Subject::Named(new.name.clone());
        let req = Request::new(DatasetOp::Create, subject, vec!["datasets", ""]);
        let req = req.json_body(new, "a NewDataset serialises");
        self.dataset_call(req, deadline, |reply| reply.json()).await
    }

    /// `GET /datasets/{id}`; `Ok(None)` on 404 (gone, or never existed).
    pub async fn dataset(
        &self,
        id: &DatasetId,
        deadline: Instant,
    ) -> Result<Option<Dataset>, ApiError> {
        let req = Request::about(DatasetOp::Get, id);
        self.dataset_call(req, deadline, |reply| {
            if reply.status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            reply.json().map(Some)
        })
        .await
    }

    /// `PUT /datasets/{id}` with the name and/or url to change. A 404 is
    /// [`ApiError::NotFound`].
    pub async fn update_dataset(
        &self,
        id: &DatasetId,
        changes: &DatasetChanges,
        deadline: Instant,
    ) -> Result<Dataset, ApiError> {
        let req =
            Request::about(DatasetOp::Update, id).json_body(changes, "DatasetChanges serialise");
        self.dataset_call(req, deadline, |reply| reply.json()).await
    }

    /// `DELETE /datasets/{id}`: schedules the deletion (Woosmap deletes the dataset after 7
    /// days). A 409 (already scheduled) is [`Deletion::AlreadyScheduled`]; a 404 is
    /// [`ApiError::NotFound`].
    pub async fn delete_dataset(
        &self,
        id: &DatasetId,
        deadline: Instant,
    ) -> Result<Deletion, ApiError> {
        let req = Request::about(DatasetOp::Delete, id);
        self.dataset_call(req, deadline, |reply| match reply.status {
            StatusCode::CONFLICT => Ok(Deletion::AlreadyScheduled),
            s if s.is_success() => Ok(Deletion::Scheduled),
            _ => Err(reply.error()),
        })
        .await
    }

    /// `GET /datasets/?page=&per_page=` (`per_page` is capped at 20).
    pub async fn list_datasets_page(
        &self,
        page: u32,
        per_page: u32,
        deadline: Instant,
    ) -> Result<DatasetPage, ApiError> {
        let (page, per_page) = (page.max(1), per_page.clamp(1, MAX_PER_PAGE));
        let mut req = Request::new(DatasetOp::List, Subject::Page(page), vec!["datasets", ""]);
        req.query = Some(format!("page={page}&per_page={per_page}"));
        self.dataset_call(req, deadline, |reply| {
            let parsed: PageBody = reply.json()?;
            Ok(DatasetPage {
                datasets: parsed.datasets,
                page: parsed.pagination.page,
                next: parsed.pagination.next,
                prev: parsed.pagination.prev,
            })
        })
        .await
    }

    /// Every dataset, following the pages (20 a page, one request per second).
    pub async fn list_all_datasets(
        &self,
        deadline: Instant,
    ) -> Result<Vec<DatasetSummary>, ApiError> {
        let mut out: Vec<DatasetSummary> = Vec::new();
        let mut page = 1;
        for _ in 0..MAX_PAGES {
            let got = self
                .list_datasets_page(page, MAX_PER_PAGE, deadline)
                .await?;
            for d in got.datasets {
                if !out.iter().any(|o| o.id == d.id) {
                    out.push(d);
                }
            }
            match got.next {
                Some(next) if next > page => page = next,
                _ => break,
            }
        }
        Ok(out)
    }

    /// One dataset call through the retry loop of every call (`call`): `interpret` reads a
    /// received answer (never a 429).
    async fn dataset_call<T>(
        &self,
        req: Request<'_>,
        deadline: Instant,
        interpret: impl Fn(&Reply<'_>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let t = &*self.inner;
        let op = req.op;
        if t.api_key.is_none() {
            return Err(ApiError::MissingPrivateKey { action: req.action });
        }
        let interval = DATASETS_INTERVAL + DATASETS_MARGIN;
        let plan = Plan {
            key: pacing::slot_key(&t.base_key, &any_dataset(), op.pace_kind()),
            pace: pacer::Pace {
                interval,
                window: interval,
                request_limit: t.request_timeout,
            },
            window: DATASETS_INTERVAL,
            margin: DATASETS_MARGIN,
            deadline,
            repeatable: op.repeatable(),
            claim: None,
            answers: None,
            surface_429: false,
            fail_fast: false,
            notice: None,
        };
        let call = DatasetCall {
            client: self,
            req,
            interpret,
        };
        match self.run_call(&call, &plan).await? {
            Answer::Done(out) => Ok(out),
            Answer::AlreadyTriggered { .. } | Answer::Recheck => unreachable!("no claim was made"),
        }
    }

    /// Sends one request, reads the whole answer.
    async fn dataset_exchange(
        &self,
        req: &Request<'_>,
        timeout: Duration,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, Vec<u8>), ApiError> {
        let t = &*self.inner;
        let mut url = t.base.clone();
        {
            let mut segs = url
                .path_segments_mut()
                .expect("http(s) URLs can have path segments");
            segs.pop_if_empty();
            segs.extend(req.segments.iter().copied());
        }
        url.set_query(req.query.as_deref());
        let log_path = format!(
            "{}{}",
            url.path(),
            req.query
                .as_deref()
                .map(|q| format!("?{q}"))
                .unwrap_or_default()
        );
        let mut builder = t
            .http
            .request(req.method.clone(), url)
            .timeout(timeout)
            .header(ACCEPT, "application/json");
        if let Some((value, _)) = &t.api_key {
            builder = builder.header("X-Api-Key", value.clone());
        }
        if let Some(body) = &req.body {
            builder = builder
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let method = req.method.clone();
        tracing::debug!("{method} {log_path}");
        let started = Instant::now();
        let secrets = self.secrets(None);
        let transport = |e: reqwest::Error| self.transport_error(&req.action, e, timeout, &secrets);
        let mut resp = builder.send().await.map_err(transport)?;
        let status = resp.status();
        let headers = std::mem::take(resp.headers_mut());
        let body = read_body(resp, &req.action, transport).await?;
        tracing::debug!(
            status = status.as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "{method} {log_path} -> {status}"
        );
        Ok((status, headers, body))
    }
}

/// One dataset call, for the retry loop.
struct DatasetCall<'a, F> {
    client: &'a Client,
    req: Request<'a>,
    interpret: F,
}

impl<T, F> Call for DatasetCall<'_, F>
where
    F: Fn(&Reply<'_>) -> Result<T, ApiError>,
{
    type Out = T;

    async fn send(&self, timeout: Duration) -> Result<Exchange, ApiError> {
        let sent = SystemTime::now();
        let sent_mono = pacer::mono_now();
        let (status, headers, body) = self.client.dataset_exchange(&self.req, timeout).await?;
        Ok(Exchange {
            status,
            headers,
            body,
            sent,
            sent_mono,
        })
    }

    fn read(&self, exchange: Exchange) -> Result<T, ApiError> {
        let secrets = self.client.secrets(None);
        (self.interpret)(&Reply {
            status: exchange.status,
            body: &exchange.body,
            action: &self.req.action,
            secrets: &secrets,
        })
    }

    fn rate_limited(&self, retry_after: Option<Duration>) -> ApiError {
        ApiError::RateLimited {
            action: self.req.action.clone(),
            retry_after,
        }
    }

    fn too_late(&self, next_slot: Option<Duration>) -> ApiError {
        ApiError::DeadlineExceeded {
            action: self.req.action.clone(),
            next_slot,
        }
    }
}

/// The key all dataset management requests of one endpoint share in the pacer.
fn any_dataset() -> DatasetId {
    DatasetId::parse("00000000-0000-0000-0000-000000000000").expect("the nil UUID is a UUID")
}

#[cfg(test)]
mod tests;
