//! The dataset management calls of the Datasets API: `POST /datasets/` (create),
//! `GET /datasets/{id}`, `PUT /datasets/{id}` (name and url), `DELETE /datasets/{id}`
//! (schedules deletion in 7 days) and `GET /datasets/?page=&per_page=` (pages of at most 20),
//! with their typed requests and responses and [`DatasetError`], one sentence per documented
//! error.
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
//! ([`DatasetError::may_have_been_processed`]).
//!
//! The reimport key of a dataset is a credential: it is held as a [`Secret`], never logged,
//! and never part of an error.

use std::fmt;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::{Deserialize, Deserializer, Serialize};
use tokio::time::Instant;

use super::call::{Answer, Call, CallError, Plan};
use super::error::{ErrorBody, ErrorKind, detail_suffix, fmt_duration, format_validation};
use super::handle::Client;
use super::pacing::{self, PaceKind};
use super::request::{Exchange, certificate_failure, chain};
use super::types::DatasetId;
use crate::secret::{Secret, scrub};

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
/// Largest response body read.
const MAX_BODY: usize = 4 << 20;

/// One of the five dataset management calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetOp {
    /// `POST /datasets/`
    Create,
    /// `GET /datasets/`
    List,
    /// `GET /datasets/{id}`
    Get,
    /// `PUT /datasets/{id}`
    Update,
    /// `DELETE /datasets/{id}`
    Delete,
}

impl DatasetOp {
    /// "create", used as "... to {verb} {subject}".
    fn verb(self) -> &'static str {
        match self {
            DatasetOp::Create => "create",
            DatasetOp::List => "list",
            DatasetOp::Get => "read",
            DatasetOp::Update => "update",
            DatasetOp::Delete => "schedule the deletion of",
        }
    }

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

impl fmt::Display for DatasetOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DatasetOp::Create => "create dataset",
            DatasetOp::List => "list datasets",
            DatasetOp::Get => "get dataset",
            DatasetOp::Update => "update dataset",
            DatasetOp::Delete => "delete dataset",
        })
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

/// Why a dataset management call failed. Never holds a credential.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DatasetError {
    #[error(
        "A private key is needed to {} {subject}, but none is configured. Set \
         WOOSMAP_PRIVATE_KEY / private_key to a private key with write permission.",
        op.verb()
    )]
    MissingPrivateKey { op: DatasetOp, subject: String },

    #[error(
        "Woosmap rejected the request to {} {subject}: no credentials were found (HTTP 401). \
         Set WOOSMAP_PRIVATE_KEY / private_key to a private key with write permission.",
        op.verb()
    )]
    Unauthorized { op: DatasetOp, subject: String },

    #[error(
        "Woosmap refused to {} {subject}: the project is out of free quota (HTTP 402{}). Check \
         the plan and billing of the Woosmap project that owns the key.",
        op.verb(), detail_suffix(detail)
    )]
    QuotaExceeded {
        op: DatasetOp,
        subject: String,
        detail: Option<String>,
    },

    #[error(
        "Woosmap rejected the private key trying to {} {subject}: credentials were found but do \
         not match (HTTP 403). Use a private key with write permission from the Woosmap project \
         that owns the datasets.",
        op.verb()
    )]
    Forbidden { op: DatasetOp, subject: String },

    #[error(
        "Dataset {dataset_id} was not found on Woosmap (HTTP 404) trying to {} it. It may have \
         been deleted, or the private key belongs to another Woosmap project.",
        op.verb()
    )]
    NotFound {
        op: DatasetOp,
        dataset_id: DatasetId,
    },

    #[error(
        "Woosmap rejected the request to {} {subject} as invalid (HTTP 422: {}). Check name, url \
         (an http(s) URL of at most 2083 characters) and schema_mapping (schema_key `title`).",
        op.verb(), format_validation(errors)
    )]
    Validation {
        op: DatasetOp,
        subject: String,
        /// `(loc, msg)` pairs, `loc` joined with dots, e.g. `body.url`.
        errors: Vec<(String, String)>,
    },

    #[error(
        "Woosmap's rate limit for the {op} endpoint (1 request per second) was still in effect \
         when the deadline came (HTTP 429{}). Another client is probably using this key; try \
         again later.",
        match retry_after { Some(d) => format!(", retry after {}", fmt_duration(*d)), None => String::new() }
    )]
    RateLimited {
        op: DatasetOp,
        retry_after: Option<Duration>,
    },

    #[error(
        "Woosmap had a server error (HTTP {status}{}) trying to {} {subject}.{} This is usually \
         temporary: try again later.",
        detail_suffix(detail), op.verb(), unsure(*op)
    )]
    Server {
        op: DatasetOp,
        subject: String,
        status: u16,
        detail: Option<String>,
    },

    #[error(
        "Could not connect to {origin} to {} {subject}: {reason}. Check WOOSMAP_BASE_URL / \
         base_url and the network.",
        op.verb()
    )]
    Connect {
        op: DatasetOp,
        subject: String,
        origin: String,
        reason: String,
    },

    #[error(
        "The TLS certificate of {origin} was not accepted trying to {} {subject}: {reason}. \
         Nothing was sent. Check WOOSMAP_BASE_URL / base_url and any proxy that intercepts HTTPS.",
        op.verb()
    )]
    Tls {
        op: DatasetOp,
        subject: String,
        origin: String,
        reason: String,
    },

    #[error(
        "Woosmap did not answer within {} trying to {} {subject}.{} The service or the network \
         is slow; try again later.",
        fmt_duration(*after), op.verb(), unsure(*op)
    )]
    Timeout {
        op: DatasetOp,
        subject: String,
        after: Duration,
    },

    #[error(
        "The connection to Woosmap failed trying to {} {subject}: {reason}.{} This is usually \
         temporary: try again.",
        op.verb(), unsure(*op)
    )]
    Transport {
        op: DatasetOp,
        subject: String,
        reason: String,
    },

    #[error(
        "Woosmap answered HTTP {status} with a body this client does not understand trying to \
         {} {subject} ({reason}).{} Check that WOOSMAP_BASE_URL / base_url points at the Woosmap \
         API.",
        op.verb(), unsure(*op)
    )]
    InvalidResponse {
        op: DatasetOp,
        subject: String,
        status: u16,
        reason: String,
    },

    #[error(
        "Woosmap answered with an unexpected HTTP {status}{} trying to {} {subject}. Check that \
         WOOSMAP_BASE_URL / base_url points at the Woosmap API.",
        detail_suffix(detail), op.verb()
    )]
    UnexpectedStatus {
        op: DatasetOp,
        subject: String,
        status: u16,
        detail: Option<String>,
    },

    #[error(
        "The deadline passed before Woosmap could be asked to {} {subject} within its rate \
         limit (1 request per second per endpoint).",
        op.verb()
    )]
    DeadlineExceeded { op: DatasetOp, subject: String },
}

/// For a create whose answer was lost: say that the dataset may exist.
fn unsure(op: DatasetOp) -> &'static str {
    if op == DatasetOp::Create {
        " The dataset may have been created anyway: list the datasets (woosmap-import datasets) \
         before creating it again."
    } else {
        ""
    }
}

impl DatasetError {
    /// The coarse class of this error.
    pub fn kind(&self) -> ErrorKind {
        use DatasetError::*;
        match self {
            MissingPrivateKey { .. } | Unauthorized { .. } | Forbidden { .. } => ErrorKind::Auth,
            QuotaExceeded { .. } => ErrorKind::Quota,
            NotFound { .. } | Validation { .. } | UnexpectedStatus { .. } => ErrorKind::Usage,
            RateLimited { .. }
            | Server { .. }
            | Connect { .. }
            | Tls { .. }
            | Timeout { .. }
            | Transport { .. }
            | InvalidResponse { .. } => ErrorKind::Transient,
            DeadlineExceeded { .. } => ErrorKind::Timeout,
        }
    }

    /// The call it was.
    pub fn op(&self) -> DatasetOp {
        use DatasetError::*;
        match self {
            MissingPrivateKey { op, .. }
            | Unauthorized { op, .. }
            | QuotaExceeded { op, .. }
            | Forbidden { op, .. }
            | NotFound { op, .. }
            | Validation { op, .. }
            | RateLimited { op, .. }
            | Server { op, .. }
            | Connect { op, .. }
            | Tls { op, .. }
            | Timeout { op, .. }
            | Transport { op, .. }
            | InvalidResponse { op, .. }
            | UnexpectedStatus { op, .. }
            | DeadlineExceeded { op, .. } => *op,
        }
    }

    /// Faults worth retrying with backoff (when the call may be repeated).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            DatasetError::Server { .. }
                | DatasetError::Connect { .. }
                | DatasetError::Timeout { .. }
                | DatasetError::Transport { .. }
                | DatasetError::InvalidResponse { .. }
        )
    }

    /// The request may have reached Woosmap and been acted on although no clear answer came
    /// back. For a create: the dataset may exist.
    pub fn may_have_been_processed(&self) -> bool {
        matches!(
            self,
            DatasetError::Server { .. }
                | DatasetError::Timeout { .. }
                | DatasetError::Transport { .. }
                | DatasetError::InvalidResponse { .. }
        )
    }
}

/// One request to send.
struct Request<'a> {
    op: DatasetOp,
    /// For messages: `dataset 8c4c…`, `a dataset named "Stores"`, `the datasets (page 2)`.
    subject: String,
    method: reqwest::Method,
    /// Path segments after the base URL.
    segments: Vec<&'a str>,
    query: Option<String>,
    body: Option<Vec<u8>>,
}

impl Client {
    /// `POST /datasets/`: creates a dataset. Not repeated after a fault that may hide a
    /// creation (see the module doc).
    pub async fn create_dataset(
        &self,
        new: &NewDataset,
        deadline: Instant,
    ) -> Result<Dataset, DatasetError> {
        let body = serde_json::to_vec(new).expect("a NewDataset serialises");
        let req = Request {
            op: DatasetOp::Create,
            subject: format!("a dataset named {:?}", new.name),
            method: reqwest::Method::POST,
            segments: vec!["datasets", ""],
            query: None,
            body: Some(body),
        };
        self.dataset_call(req, deadline, |status, body, subject| {
            expect_ok(DatasetOp::Create, status, body, subject)
        })
        .await
    }

    /// `GET /datasets/{id}`; `Ok(None)` on 404 (gone, or never existed).
    pub async fn dataset(
        &self,
        id: &DatasetId,
        deadline: Instant,
    ) -> Result<Option<Dataset>, DatasetError> {
        let req = Request {
            op: DatasetOp::Get,
            subject: format!("dataset {id}"),
            method: reqwest::Method::GET,
            segments: vec!["datasets", id.as_str()],
            query: None,
            body: None,
        };
        self.dataset_call(req, deadline, |status, body, subject| {
            if status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            expect_ok(DatasetOp::Get, status, body, subject).map(Some)
        })
        .await
    }

    /// `PUT /datasets/{id}` with the name and/or url to change.
    pub async fn update_dataset(
        &self,
        id: &DatasetId,
        changes: &DatasetChanges,
        deadline: Instant,
    ) -> Result<Dataset, DatasetError> {
        let body = serde_json::to_vec(changes).expect("DatasetChanges serialise");
        let req = Request {
            op: DatasetOp::Update,
            subject: format!("dataset {id}"),
            method: reqwest::Method::PUT,
            segments: vec!["datasets", id.as_str()],
            query: None,
            body: Some(body),
        };
        let id2 = id.clone();
        self.dataset_call(req, deadline, move |status, body, subject| {
            if status == StatusCode::NOT_FOUND {
                return Err(DatasetError::NotFound {
                    op: DatasetOp::Update,
                    dataset_id: id2.clone(),
                });
            }
            expect_ok(DatasetOp::Update, status, body, subject)
        })
        .await
    }

    /// `DELETE /datasets/{id}`: schedules the deletion (Woosmap deletes the dataset after 7
    /// days). A 409 (already scheduled) is [`Deletion::AlreadyScheduled`]; a 404 is
    /// [`DatasetError::NotFound`].
    pub async fn delete_dataset(
        &self,
        id: &DatasetId,
        deadline: Instant,
    ) -> Result<Deletion, DatasetError> {
        let req = Request {
            op: DatasetOp::Delete,
            subject: format!("dataset {id}"),
            method: reqwest::Method::DELETE,
            segments: vec!["datasets", id.as_str()],
            query: None,
            body: None,
        };
        let id2 = id.clone();
        self.dataset_call(req, deadline, move |status, body, subject| match status {
            StatusCode::CONFLICT => Ok(Deletion::AlreadyScheduled),
            StatusCode::NOT_FOUND => Err(DatasetError::NotFound {
                op: DatasetOp::Delete,
                dataset_id: id2.clone(),
            }),
            s if s.is_success() => Ok(Deletion::Scheduled),
            _ => Err(error_for(DatasetOp::Delete, status, body, subject)),
        })
        .await
    }

    /// `GET /datasets/?page=&per_page=` (`per_page` is capped at 20).
    pub async fn list_datasets_page(
        &self,
        page: u32,
        per_page: u32,
        deadline: Instant,
    ) -> Result<DatasetPage, DatasetError> {
        let (page, per_page) = (page.max(1), per_page.clamp(1, MAX_PER_PAGE));
        let req = Request {
            op: DatasetOp::List,
            subject: format!("the datasets (page {page})"),
            method: reqwest::Method::GET,
            segments: vec!["datasets", ""],
            query: Some(format!("page={page}&per_page={per_page}")),
            body: None,
        };
        self.dataset_call(req, deadline, |status, body, subject| {
            let parsed: PageBody = expect_ok(DatasetOp::List, status, body, subject)?;
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
    ) -> Result<Vec<DatasetSummary>, DatasetError> {
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
        interpret: impl Fn(StatusCode, &[u8], &str) -> Result<T, DatasetError>,
    ) -> Result<T, DatasetError> {
        let t = &*self.inner;
        let op = req.op;
        if t.api_key.is_none() {
            return Err(DatasetError::MissingPrivateKey {
                op,
                subject: req.subject,
            });
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
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, Vec<u8>), DatasetError> {
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
        let secrets: Vec<&Secret> = t.api_key.as_ref().map(|(_, k)| k).into_iter().collect();
        let transport = |e: reqwest::Error| {
            let e = e.without_url();
            let (op, subject) = (req.op, req.subject.clone());
            if let Some(reason) = certificate_failure(&e) {
                DatasetError::Tls {
                    op,
                    subject,
                    origin: t.origin.to_owned(),
                    reason: scrub(&reason, &secrets),
                }
            } else if e.is_connect() {
                DatasetError::Connect {
                    op,
                    subject,
                    origin: t.origin.to_owned(),
                    reason: scrub(&chain(&e), &secrets),
                }
            } else if e.is_timeout() {
                DatasetError::Timeout {
                    op,
                    subject,
                    after: timeout,
                }
            } else {
                DatasetError::Transport {
                    op,
                    subject,
                    reason: scrub(&chain(&e), &secrets),
                }
            }
        };
        let mut resp = builder.send().await.map_err(transport)?;
        let status = resp.status();
        let headers = std::mem::take(resp.headers_mut());
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(DatasetError::InvalidResponse {
                    op: req.op,
                    subject: req.subject.clone(),
                    status: status.as_u16(),
                    reason: format!("the body is larger than {} MiB", MAX_BODY >> 20),
                });
            }
            body.extend_from_slice(&chunk);
        }
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
    F: Fn(StatusCode, &[u8], &str) -> Result<T, DatasetError>,
{
    type Out = T;
    type Err = DatasetError;

    async fn send(&self, timeout: Duration) -> Result<Exchange, DatasetError> {
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

    fn read(&self, exchange: Exchange) -> Result<T, DatasetError> {
        let Exchange { status, body, .. } = exchange;
        let body = if status.is_success() {
            body
        } else {
            // Server text may end up in an error: never with the key in it.
            let t = &self.client.inner;
            let secrets: Vec<&Secret> = t.api_key.as_ref().map(|(_, k)| k).into_iter().collect();
            scrub(&String::from_utf8_lossy(&body), &secrets).into_bytes()
        };
        (self.interpret)(status, &body, &self.req.subject)
    }

    fn rate_limited(&self, retry_after: Option<Duration>) -> DatasetError {
        DatasetError::RateLimited {
            op: self.req.op,
            retry_after,
        }
    }

    fn too_late(&self, _next_slot: Option<Duration>) -> DatasetError {
        DatasetError::DeadlineExceeded {
            op: self.req.op,
            subject: self.req.subject.clone(),
        }
    }
}

impl CallError for DatasetError {
    fn is_connect(&self) -> bool {
        matches!(self, DatasetError::Connect { .. })
    }

    fn nothing_sent(&self) -> bool {
        matches!(
            self,
            DatasetError::Connect { .. } | DatasetError::Tls { .. }
        )
    }

    fn is_retryable(&self) -> bool {
        DatasetError::is_retryable(self)
    }

    fn is_rate_limited(&self) -> bool {
        matches!(self, DatasetError::RateLimited { .. })
    }
}

/// The key all dataset management requests of one endpoint share in the pacer.
fn any_dataset() -> DatasetId {
    DatasetId::parse("00000000-0000-0000-0000-000000000000").expect("the nil UUID is a UUID")
}

/// A 2xx body read as `T`, or the error the status stands for.
fn expect_ok<T: serde::de::DeserializeOwned>(
    op: DatasetOp,
    status: StatusCode,
    body: &[u8],
    subject: &str,
) -> Result<T, DatasetError> {
    if !status.is_success() {
        return Err(error_for(op, status, body, subject));
    }
    serde_json::from_slice(body).map_err(|e| DatasetError::InvalidResponse {
        op,
        subject: subject.to_owned(),
        status: status.as_u16(),
        // Never the text of the body (it may hold a reimport key): where and what kind.
        reason: format!(
            "not the documented JSON: {:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ),
    })
}

/// The error a non-2xx answer (not 429) stands for.
fn error_for(op: DatasetOp, status: StatusCode, body: &[u8], subject: &str) -> DatasetError {
    let parsed = ErrorBody::parse(body);
    let detail = parsed.summary();
    let subject = subject.to_owned();
    match status.as_u16() {
        401 => DatasetError::Unauthorized { op, subject },
        402 => DatasetError::QuotaExceeded {
            op,
            subject,
            detail,
        },
        403 => DatasetError::Forbidden { op, subject },
        422 => {
            let mut errors = parsed.validation;
            if errors.is_empty()
                && let Some(d) = detail
            {
                errors.push((String::new(), d));
            }
            DatasetError::Validation {
                op,
                subject,
                errors,
            }
        }
        code @ 500..=599 => DatasetError::Server {
            op,
            subject,
            status: code,
            detail,
        },
        code => DatasetError::UnexpectedStatus {
            op,
            subject,
            status: code,
            detail,
        },
    }
}

#[cfg(test)]
mod tests;
