//! Fault injection: the [`Fault`] type (also the `POST /_sandbox/faults` body), the queue that
//! hands faults to matching requests one at a time, and the responses each fault produces.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio_stream::StreamExt;
use uuid::Uuid;

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultEndpoint {
    /// `GET /datasets/{id}/status`.
    Status,
    /// `POST /datasets/{id}/import`.
    Trigger,
    /// `POST /datasets/hooks/reimport/{key}`.
    Webhook,
    /// Any of the three.
    #[default]
    Any,
}

/// What happens to a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultKind {
    /// 500; body `Internal Server Error` (text) or `{"detail": "Internal Server Error"}` (`body: "json"`).
    #[serde(rename = "http_500")]
    Http500,
    /// 502; an HTML proxy page, or JSON with `body: "json"`.
    #[serde(rename = "http_502")]
    Http502,
    /// 503; text, or JSON with `body: "json"`.
    #[serde(rename = "http_503")]
    Http503,
    /// The connection is cut: by default (`body: "truncated"`) after the status line, headers
    /// and half the body (the client gets a response whose body read fails); with
    /// `body: "empty"` before any byte of the response (the client's send fails). The request
    /// has no effect.
    #[serde(rename = "reset")]
    Reset,
    /// The request is handled normally on arrival (it counts, windows apply, a trigger starts a
    /// run) but the response is held back for `delay_ms` (default 5000).
    #[serde(rename = "slow")]
    Slow,
    /// The connection is accepted and the request read, then nothing is ever sent back: no
    /// status line, no byte, until the client gives up (or the sandbox stops). The request has
    /// no effect. A server, proxy or load balancer that hangs.
    #[serde(rename = "silent")]
    Silent,
    /// 200 with a body that is not the documented JSON: an HTML page (`body: "html"`, default),
    /// truncated JSON (`"truncated"`), well-formed JSON of the wrong shape (`"json"`) or nothing
    /// (`"empty"`). The request has no effect.
    #[serde(rename = "garbage")]
    Garbage,
    /// 429 `{"details": "Rate limit reached"}` with `Retry-After: retry_after` when given.
    /// Counted as `injected`, not `rate_limited`. The request has no effect.
    #[serde(rename = "rate_limit")]
    RateLimit,
    /// The previous run stays visible longer. On a trigger or webhook: the run it starts becomes
    /// visible after `delay_ms` (default: 10 × the start delay) instead of the start delay. On
    /// a status call: that answer shows the run before the latest visible one (404 if none).
    #[serde(rename = "status_stale")]
    StatusStale,
    /// 401 `{"detail": "Unable to locate credentials"}`, as if no key had been sent. The
    /// request has no effect.
    #[serde(rename = "http_401")]
    Http401,
    /// 402 `{"detail": "Out of free quota"}`. The request has no effect.
    #[serde(rename = "http_402")]
    Http402,
    /// 403 `{"detail": "Credentials found, but not matching"}`. The request has no effect.
    #[serde(rename = "http_403")]
    Http403,
    /// 404 `{"details": "Dataset was not found"}`. The request has no effect.
    #[serde(rename = "http_404")]
    Http404,
    /// 422 with a FastAPI validation body `{"detail": [{"type", "loc", "msg", "input"}]}`.
    /// The request has no effect.
    #[serde(rename = "http_422")]
    Http422,
    /// Any status code given as `status` (default 500) with the JSON body
    /// `{"detail": detail}` (`detail` defaults to the status's reason phrase): for answers the
    /// API does not document (418, 301…) or error details a test chooses (e.g. one that echoes
    /// a credential, to check that clients scrub it).
    #[serde(rename = "http_status")]
    HttpStatus,
}

/// Body variant for faults that answer with a body (see [`FaultKind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultBody {
    Text,
    Json,
    Html,
    Truncated,
    Empty,
}

/// One queued fault. `count` matching requests consume it, one each, in queue order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    #[serde(default)]
    pub endpoint: FaultEndpoint,
    /// Only requests for this dataset (for the webhook: the dataset its key belongs to).
    #[serde(default)]
    pub dataset_id: Option<String>,
    pub kind: FaultKind,
    #[serde(default = "one")]
    pub count: u32,
    /// Seconds for the `Retry-After` header of `rate_limit`.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Milliseconds for `slow` and `status_stale`.
    #[serde(default)]
    pub delay_ms: Option<u64>,
    #[serde(default)]
    pub body: Option<FaultBody>,
    /// `true`: the request is handled normally first (it counts, windows apply, a trigger
    /// starts a run); when that handling succeeds (2xx), the fault's answer then replaces the
    /// response, so the client does not learn that its request worked (a proxy's 502 after the
    /// import was scheduled, a connection cut after the work was done). An error answer of the
    /// normal handling (a window 429…) is sent as is. Ignored by `slow` (always handled) and
    /// `status_stale`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub processed: bool,
    /// The status code of `http_status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The `detail` text of `http_status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

fn one() -> u32 {
    1
}

impl Fault {
    /// A fault of `kind` for the next request of any endpoint and dataset.
    pub fn new(kind: FaultKind) -> Fault {
        Fault {
            endpoint: FaultEndpoint::Any,
            dataset_id: None,
            kind,
            count: 1,
            retry_after: None,
            delay_ms: None,
            body: None,
            processed: false,
            status: None,
            detail: None,
        }
    }

    /// An `http_status` fault answering `status` with `{"detail": detail}`.
    pub fn http_status(status: u16, detail: &str) -> Fault {
        Fault {
            status: Some(status),
            detail: Some(detail.to_owned()),
            ..Fault::new(FaultKind::HttpStatus)
        }
    }

    /// Handle the request normally first, then answer with the fault (see `processed`).
    pub fn after_processing(mut self) -> Fault {
        self.processed = true;
        self
    }
    pub fn on(mut self, endpoint: FaultEndpoint) -> Fault {
        self.endpoint = endpoint;
        self
    }
    pub fn for_dataset(mut self, id: &str) -> Fault {
        self.dataset_id = Some(id.to_owned());
        self
    }
    pub fn times(mut self, count: u32) -> Fault {
        self.count = count;
        self
    }
    pub fn retry_after(mut self, secs: u64) -> Fault {
        self.retry_after = Some(secs);
        self
    }
    pub fn delay(mut self, delay: Duration) -> Fault {
        self.delay_ms = Some(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX));
        self
    }
    pub fn body(mut self, body: FaultBody) -> Fault {
        self.body = Some(body);
        self
    }

    fn matches(&self, endpoint: FaultEndpoint, dataset: Option<Uuid>) -> bool {
        let endpoint_ok = self.endpoint == FaultEndpoint::Any || self.endpoint == endpoint;
        let dataset_ok = match &self.dataset_id {
            None => true,
            Some(wanted) => match (Uuid::parse_str(wanted), dataset) {
                (Ok(wanted), Some(actual)) => wanted == actual,
                _ => false,
            },
        };
        endpoint_ok && dataset_ok
    }
}

/// Queued faults with the uses each has left.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    queue: Vec<(Fault, u32)>,
}

impl FaultQueue {
    pub(crate) fn push(&mut self, fault: Fault) {
        let uses = fault.count.max(1);
        self.queue.push((fault, uses));
    }

    pub(crate) fn clear(&mut self) {
        self.queue.clear();
    }

    /// Faults still queued (each counted once, whatever its remaining uses).
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Consumes one use of the first queued fault that matches and satisfies `pick`.
    pub(crate) fn take(
        &mut self,
        endpoint: FaultEndpoint,
        dataset: Option<Uuid>,
        pick: impl Fn(FaultKind) -> bool,
    ) -> Option<Fault> {
        let index = self
            .queue
            .iter()
            .position(|(f, _)| pick(f.kind) && f.matches(endpoint, dataset))?;
        let (fault, uses) = &mut self.queue[index];
        let taken = fault.clone();
        *uses -= 1;
        if *uses == 0 {
            self.queue.remove(index);
        }
        Some(taken)
    }
}

/// What a consumed fault does to the request.
pub(crate) enum Effect {
    /// Answer this instead of handling the request.
    Replace(Response),
    /// Handle the request, then hold the response this long.
    Hold(Duration),
    /// Do not handle the request and never answer it (until the sandbox stops).
    Silence,
}

/// The default hold of a `slow` fault.
const DEFAULT_SLOW: Duration = Duration::from_secs(5);

/// Turns a fault taken for a request (never `status_stale`) into its effect. `success_status`
/// and `success_body` are what a normal answer would look like, used to make cut and garbled
/// bodies plausible.
pub(crate) fn effect(fault: &Fault, success_status: StatusCode, success_body: &str) -> Effect {
    let json_body = fault.body == Some(FaultBody::Json);
    let response = match fault.kind {
        FaultKind::Http500 if json_body => json_error(StatusCode::INTERNAL_SERVER_ERROR),
        FaultKind::Http500 => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            "Internal Server Error",
        ),
        FaultKind::Http502 if json_body => json_error(StatusCode::BAD_GATEWAY),
        FaultKind::Http502 => text(
            StatusCode::BAD_GATEWAY,
            "text/html",
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n",
        ),
        FaultKind::Http503 if json_body => json_error(StatusCode::SERVICE_UNAVAILABLE),
        FaultKind::Http503 => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain; charset=utf-8",
            "Service Temporarily Unavailable",
        ),
        FaultKind::Reset => cut_response(success_status, success_body, fault.body),
        FaultKind::Garbage => garbage(success_body, fault.body),
        FaultKind::RateLimit => {
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(serde_json::json!({"details": "Rate limit reached"})),
            )
                .into_response();
            if let Some(secs) = fault.retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            response
        }
        FaultKind::Http401 => detail(StatusCode::UNAUTHORIZED, "Unable to locate credentials"),
        FaultKind::Http402 => detail(StatusCode::PAYMENT_REQUIRED, "Out of free quota"),
        FaultKind::Http403 => detail(StatusCode::FORBIDDEN, "Credentials found, but not matching"),
        FaultKind::Http404 => (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({"details": "Dataset was not found"})),
        )
            .into_response(),
        FaultKind::Http422 => (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(serde_json::json!({"detail": [{
                "type": "missing",
                "loc": ["body", "source"],
                "msg": "Field required",
                "input": {},
            }]})),
        )
            .into_response(),
        FaultKind::HttpStatus => {
            let status = fault
                .status
                .and_then(|code| StatusCode::from_u16(code).ok())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            match &fault.detail {
                Some(message) => detail(status, message),
                None => json_error(status),
            }
        }
        FaultKind::Slow => {
            return Effect::Hold(fault.delay_ms.map_or(DEFAULT_SLOW, Duration::from_millis));
        }
        FaultKind::Silent => return Effect::Silence,
        // Never taken at this stage; answer as if nothing happened is not possible here, so a
        // plain 500 makes a misuse visible.
        FaultKind::StatusStale => json_error(StatusCode::INTERNAL_SERVER_ERROR),
    };
    Effect::Replace(response)
}

fn detail(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "detail": message }))).into_response()
}

fn json_error(status: StatusCode) -> Response {
    let reason = status.canonical_reason().unwrap_or("Error");
    (status, axum::Json(serde_json::json!({"detail": reason}))).into_response()
}

fn text(status: StatusCode, content_type: &'static str, body: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// A response whose body stream fails, so that hyper aborts the connection. With `Empty` the
/// stream fails at once and nothing at all reaches the client (hyper has not flushed the head
/// yet); otherwise the head and half the body are flushed first, then the connection is cut.
fn cut_response(status: StatusCode, body: &str, variant: Option<FaultBody>) -> Response {
    let sent = Bytes::from(half(body).to_owned());
    let partial = variant != Some(FaultBody::Empty);
    let steps: &[bool] = if partial { &[true, false] } else { &[false] };
    let stream = tokio_stream::iter(steps.iter().copied()).then(move |send_part| {
        let sent = sent.clone();
        async move {
            if send_part {
                return Ok(sent);
            }
            if partial {
                // Let hyper flush what it has before the cut.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "sandbox fault: connection reset",
            ))
        }
    });
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Announce the full length so that even a lenient client notices the missing bytes.
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    response
}

fn garbage(body: &str, variant: Option<FaultBody>) -> Response {
    match variant.unwrap_or(FaultBody::Html) {
        FaultBody::Truncated => {
            let cut = half(body).to_owned();
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                cut,
            )
                .into_response()
        }
        FaultBody::Json => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"result": "ok", "data": [1, 2, 3]})),
        )
            .into_response(),
        FaultBody::Empty => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "",
        )
            .into_response(),
        FaultBody::Text | FaultBody::Html => text(
            StatusCode::OK,
            "text/html; charset=utf-8",
            "<html><head><title>Woosmap</title></head><body>Maintenance in progress</body></html>",
        ),
    }
}

/// The first half of `body`, cut on a character boundary.
fn half(body: &str) -> &str {
    let mut end = body.len() / 2;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    &body[..end]
}
