//! `Client`: the three Datasets API calls (trigger import, reimport webhook, status) over
//! reqwest, with authentication, error mapping, pacing through the process-wide pacer and the
//! retry policy.
//!
//! Retry policy (per call, always bounded by the caller's deadline):
//! - 429: waited out (`Retry-After` if present, else the documented window of the endpoint),
//!   then retried. Safe for every endpoint: the server refused the request.
//! - Status (a GET, idempotent): 5xx, connect errors, resets, request timeouts and unreadable
//!   bodies are retried with capped exponential backoff and jitter (0.5 s doubling to 8 s,
//!   ±20 %), and in any case no sooner than the status pacing allows.
//! - Triggers (POSTs that start an import): only faults where the request surely never reached
//!   Woosmap are retried here: connect errors (nothing was sent) and 429 (refused). A 5xx, a
//!   reset or timeout after sending, or an unreadable 2xx body may hide an import that did
//!   start; retrying blindly could import twice. Those are returned to the caller
//!   ([`ApiError::may_have_been_processed`]); the engine then reads the status and only
//!   triggers again if no new run shows up.
//! - When the next attempt (pacing slot, backoff or Retry-After) would start after the
//!   deadline, the call returns the last error it saw (or `DeadlineExceeded` if none) instead
//!   of sleeping.
//!
//! Secrets: the private key travels only in the `X-Api-Key` header (marked sensitive); the
//! reimport key only in the webhook path. URLs are never logged nor kept in errors (reqwest
//! errors are stripped with `without_url`), the webhook path is logged as
//! `/datasets/hooks/reimport/***`, and any text from the server or the network stack is
//! scrubbed of both keys. Redirects are not followed, so no header can leak to another host.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use tokio::time::Instant;

use super::error::{ApiError, Endpoint, ErrorBody};
use super::pacer::{self, PaceKey, PaceKind};
use super::retry::{Backoff, parse_retry_after};
use super::secret::{Secret, scrub};
use super::types::{DatasetId, Run, Scheduled};

/// The Woosmap API root.
pub const DEFAULT_BASE_URL: &str = "https://api.woosmap.com";
/// Default per-request timeout.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Extra spacing between two triggers of a dataset, on top of `limits.trigger`.
pub const TRIGGER_MARGIN: Duration = Duration::from_secs(1);
/// Extra spacing between two status reads of a dataset, on top of the status interval.
pub const STATUS_MARGIN: Duration = Duration::from_millis(150);
/// Largest response body read (the documented bodies are a few kB).
const MAX_BODY: usize = 4 << 20;
/// Longest connect phase of a request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Woosmap's published rate limits, per dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Between two triggers (API or webhook). Published: 1 per 90 s.
    pub trigger: Duration,
    /// Between two status reads. Published: 1 per 5 s.
    pub status: Duration,
}

impl RateLimits {
    /// The published limits: 90 s between triggers, 5 s between status reads.
    pub const PUBLISHED: RateLimits = RateLimits {
        trigger: Duration::from_secs(90),
        status: Duration::from_secs(5),
    };

    /// The published limits, overridden by `WOOSMAP_TRIGGER_INTERVAL` /
    /// `WOOSMAP_STATUS_INTERVAL` (humantime, e.g. `2s`, `300ms`) for sandboxes with shorter
    /// windows. An unreadable value is ignored with a warning (the published limit is safe).
    pub fn from_env() -> RateLimits {
        let mut limits = RateLimits::PUBLISHED;
        if let Some(d) = env_duration("WOOSMAP_TRIGGER_INTERVAL") {
            limits.trigger = d;
        }
        if let Some(d) = env_duration("WOOSMAP_STATUS_INTERVAL") {
            limits.status = d;
        }
        limits
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits::PUBLISHED
    }
}

/// Environment variable that shortens (or lengthens) the per-request timeout, e.g. `2s`.
pub const REQUEST_TIMEOUT_ENV: &str = "WOOSMAP_REQUEST_TIMEOUT";

/// The per-request timeout: `WOOSMAP_REQUEST_TIMEOUT` (humantime, e.g. `10s`) when set to a
/// readable, non-zero duration, else [`DEFAULT_REQUEST_TIMEOUT`] (an unreadable value is
/// ignored with a warning). Front ends use it when they build their [`ClientConfig`]; tests
/// set it to ride out slow-answer faults in seconds.
pub fn request_timeout_from_env() -> Duration {
    env_duration(REQUEST_TIMEOUT_ENV)
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_REQUEST_TIMEOUT)
}

fn env_duration(name: &str) -> Option<Duration> {
    let raw = std::env::var(name).ok()?;
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match humantime::parse_duration(raw) {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::warn!(
                "ignoring {name}={raw:?}: {e} (expected a duration such as 5s or 300ms)"
            );
            None
        }
    }
}

/// How to reach Woosmap.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// API root, default `https://api.woosmap.com`; a trailing slash is ignored.
    pub base_url: String,
    /// Sent as `X-Api-Key`, never in a URL. Needed for `trigger_import` and `status`.
    pub private_key: Option<Secret>,
    /// Per HTTP request (further capped by each call's deadline). Default 30 s.
    pub request_timeout: Duration,
    pub limits: RateLimits,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            private_key: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            limits: RateLimits::PUBLISHED,
        }
    }
}

/// A retry the client is about to make (reported to the observer set with
/// [`Client::with_retry_observer`]).
#[derive(Debug, Clone)]
pub struct RetryNotice {
    pub dataset_id: DatasetId,
    pub endpoint: Endpoint,
    /// What went wrong, e.g. `HTTP 503` or `rate limited (HTTP 429)`. Never holds a key.
    pub reason: String,
    /// How long the client waits before the next attempt (pacing may add to it).
    pub delay: Duration,
}

type RetryObserver = Arc<dyn Fn(&RetryNotice) + Send + Sync>;

/// The Woosmap Datasets API client. Cheap to clone; every clone (and every other `Client` in
/// the process) shares the process-wide pacer.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    on_retry: Option<RetryObserver>,
    /// Triggers return a 429 at once instead of waiting it out (see
    /// [`Client::surfacing_trigger_rate_limits`]).
    surface_trigger_429: bool,
}

struct Inner {
    http: reqwest::Client,
    /// Base URL without trailing slash, no query, no fragment.
    base: reqwest::Url,
    /// `base` as a string: the pacer key's first part.
    base_key: Arc<str>,
    /// `scheme://host[:port]` for messages.
    origin: String,
    api_key: Option<(HeaderValue, Secret)>,
    request_timeout: Duration,
    limits: RateLimits,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_key)
            .field("private_key", &self.inner.api_key.as_ref().map(|_| "***"))
            .field("limits", &self.inner.limits)
            .finish()
    }
}

/// The parts of a client's transport that the dataset management calls (`datasets.rs`) share.
pub(super) struct Transport<'a> {
    pub http: &'a reqwest::Client,
    pub base: &'a reqwest::Url,
    pub base_key: &'a Arc<str>,
    pub origin: &'a str,
    pub api_key: Option<&'a (HeaderValue, Secret)>,
    pub request_timeout: Duration,
}

impl Client {
    /// See [`Transport`].
    pub(super) fn transport(&self) -> Transport<'_> {
        Transport {
            http: &self.inner.http,
            base: &self.inner.base,
            base_key: &self.inner.base_key,
            origin: &self.inner.origin,
            api_key: self.inner.api_key.as_ref(),
            request_timeout: self.inner.request_timeout,
        }
    }
}

/// What one HTTP exchange gave.
struct Exchange {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// One attempt's failure, with what the retry loop needs to decide.
enum Failure {
    /// A 429: wait this long (Retry-After, else the documented window), then retry.
    RateLimited { retry_after: Option<Duration> },
    /// Any other error.
    Error(ApiError),
}

/// Parses a base URL as the client uses it: http(s), a host, and no query, fragment or
/// credentials (keys never travel in URLs).
fn parse_base_url(url: &str) -> Result<reqwest::Url, ApiError> {
    let trimmed = url.trim().trim_end_matches('/');
    let shown = shown_base_url(trimmed);
    let bad = |reason: &str| ApiError::InvalidBaseUrl {
        base_url: shown.clone(),
        reason: reason.to_owned(),
    };
    let base = reqwest::Url::parse(trimmed).map_err(|e| bad(&e.to_string()))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if base.host_str().is_none() {
        return Err(bad("it has no host"));
    }
    if base.query().is_some() || base.fragment().is_some() {
        return Err(bad(
            "it must not have a query or fragment (credentials never go in a URL)",
        ));
    }
    if !base.username().is_empty() || base.password().is_some() {
        return Err(bad("it must not hold credentials"));
    }
    Ok(base)
}

/// Checks a base URL the way [`Client::new`] will, so front ends can refuse a bad one before
/// anything runs. Returns it without trailing slashes.
pub fn check_base_url(url: &str) -> Result<String, ApiError> {
    parse_base_url(url).map(|u| u.as_str().trim_end_matches('/').to_owned())
}

impl Client {
    /// Builds a client. Fails on an unusable base URL or a private key that cannot be a header.
    pub fn new(cfg: ClientConfig) -> Result<Client, ApiError> {
        let base = parse_base_url(&cfg.base_url)?;
        let origin = base.origin().ascii_serialization();
        let base_key: Arc<str> = Arc::from(base.as_str().trim_end_matches('/'));

        let api_key = match cfg.private_key {
            Some(key) if !key.is_blank() => {
                let trimmed = Secret::new(key.expose().trim());
                let mut value = HeaderValue::from_str(trimmed.expose())
                    .map_err(|_| ApiError::InvalidPrivateKey)?;
                value.set_sensitive(true);
                Some((value, trimmed))
            }
            _ => None,
        };

        let request_timeout = if cfg.request_timeout.is_zero() {
            DEFAULT_REQUEST_TIMEOUT
        } else {
            cfg.request_timeout
        };
        let http = reqwest::Client::builder()
            .user_agent(concat!("woosmap-import/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT.min(request_timeout))
            .build()
            .map_err(|e| ApiError::InvalidBaseUrl {
                base_url: shown_base_url(base.as_str()),
                reason: format!("the HTTP client could not start: {}", chain(&e)),
            })?;

        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                base_key,
                origin,
                api_key,
                request_timeout,
                limits: cfg.limits,
            }),
            on_retry: None,
            surface_trigger_429: false,
        })
    }

    /// A clone of this client that reports every retry it makes to `observer` (the engine
    /// turns these into `Event::Retrying`). Pacing stays shared.
    pub fn with_retry_observer(
        &self,
        observer: impl Fn(&RetryNotice) + Send + Sync + 'static,
    ) -> Client {
        Client {
            on_retry: Some(Arc::new(observer)),
            ..self.clone()
        }
    }

    /// A clone whose trigger calls (API and webhook) answer a 429 at once with
    /// `ApiError::RateLimited` instead of waiting it out and retrying. The hold-off is still
    /// recorded in the shared pacer, so a later trigger waits for it. The engine uses this: a
    /// 429 on a trigger means someone else triggered the dataset, so it re-reads the status
    /// (and waits for that import) before triggering again.
    pub fn surfacing_trigger_rate_limits(&self) -> Client {
        Client {
            surface_trigger_429: true,
            ..self.clone()
        }
    }

    /// The base URL in use (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.inner.base_key
    }

    /// The rate limits in use.
    pub fn limits(&self) -> RateLimits {
        self.inner.limits
    }

    /// Whether a private key is configured (needed for `trigger_import` and `status`).
    pub fn has_private_key(&self) -> bool {
        self.inner.api_key.is_some()
    }

    /// `POST /datasets/{id}/import` (needs the private key). Paced ≥ `limits.trigger` (+1 s)
    /// per dataset, shared with the webhook.
    ///
    /// Errors for which [`ApiError::may_have_been_processed`] is true leave it unknown whether
    /// an import started: check the status before triggering again.
    pub async fn trigger_import(&self, id: &DatasetId, deadline: Instant) -> Result<(), ApiError> {
        if self.inner.api_key.is_none() {
            return Err(ApiError::MissingPrivateKey {
                dataset_id: id.clone(),
                endpoint: Endpoint::Trigger,
            });
        }
        self.call(Endpoint::Trigger, id, None, Duration::ZERO, deadline)
            .await
            .map(|_| ())
    }

    /// `POST /datasets/hooks/reimport/{key}` (no private key needed: the key in the path is
    /// the credential). Paced per `id`, shared with `trigger_import`. Fails with
    /// `WebhookDatasetMismatch` if Woosmap reports that the key belongs to another dataset (an
    /// import of that other dataset was then scheduled).
    pub async fn trigger_webhook(
        &self,
        id: &DatasetId,
        key: &Secret,
        deadline: Instant,
    ) -> Result<(), ApiError> {
        if key.is_blank() {
            return Err(ApiError::MissingReimportKey {
                dataset_id: id.clone(),
            });
        }
        self.call(Endpoint::Webhook, id, Some(key), Duration::ZERO, deadline)
            .await
            .map(|_| ())
    }

    /// `GET /datasets/{id}/status`: the latest run. `Ok(None)` on 404 (no run yet, or an
    /// unknown dataset: the caller decides). Paced ≥ max(`poll_interval`, `limits.status`)
    /// (+150 ms) per dataset, measured from the previous response.
    pub async fn status(
        &self,
        id: &DatasetId,
        poll_interval: Duration,
        deadline: Instant,
    ) -> Result<Option<Run>, ApiError> {
        if self.inner.api_key.is_none() {
            return Err(ApiError::MissingPrivateKey {
                dataset_id: id.clone(),
                endpoint: Endpoint::Status,
            });
        }
        self.call(Endpoint::Status, id, None, poll_interval, deadline)
            .await
    }

    /// The retry loop shared by the three calls. Returns the run for `Status` (None on 404)
    /// and `None` for the triggers.
    async fn call(
        &self,
        endpoint: Endpoint,
        id: &DatasetId,
        reimport_key: Option<&Secret>,
        poll_interval: Duration,
        deadline: Instant,
    ) -> Result<Option<Run>, ApiError> {
        let limits = self.inner.limits;
        // `window`: the documented limit (the wait after a 429 without Retry-After);
        // `interval`: our spacing between two requests, measured from the previous response.
        let (kind, window, margin, interval) = match endpoint {
            Endpoint::Trigger | Endpoint::Webhook => (
                PaceKind::Trigger,
                limits.trigger,
                TRIGGER_MARGIN,
                limits.trigger + TRIGGER_MARGIN,
            ),
            Endpoint::Status => (
                PaceKind::Status,
                limits.status,
                STATUS_MARGIN,
                poll_interval.max(limits.status) + STATUS_MARGIN,
            ),
        };
        let key = PaceKey {
            base_url: self.inner.base_key.clone(),
            dataset: id.clone(),
            kind,
        };
        let mut backoff = Backoff::new();
        let mut last_error: Option<ApiError> = None;
        let deadline_error = |last: Option<ApiError>| {
            last.unwrap_or_else(|| ApiError::DeadlineExceeded {
                dataset_id: id.clone(),
                endpoint,
            })
        };

        loop {
            let slot = match pacer::acquire(&key, interval, deadline).await {
                Ok(slot) => slot,
                Err(_) => return Err(deadline_error(last_error)),
            };
            let now = Instant::now();
            if now >= deadline {
                slot.not_sent();
                return Err(deadline_error(last_error));
            }
            let timeout = self.inner.request_timeout.min(deadline - now);

            let sent = self.exchange(endpoint, id, reimport_key, timeout).await;
            let failure = match sent {
                Ok(exchange) => {
                    // A 429 is not a use of the window: record it with its own hold-off below.
                    if exchange.status != StatusCode::TOO_MANY_REQUESTS {
                        slot.received();
                        match self.interpret(endpoint, id, reimport_key, exchange) {
                            Ok(run) => return Ok(run),
                            Err(f) => f,
                        }
                    } else {
                        let retry_after = exchange
                            .headers
                            .get(RETRY_AFTER)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| parse_retry_after(v, SystemTime::now()));
                        // Every caller of this key holds off until then.
                        slot.rate_limited(retry_after.unwrap_or(window) + margin);
                        Failure::RateLimited { retry_after }
                    }
                }
                Err(e) => {
                    if matches!(e, ApiError::Connect { .. } | ApiError::Tls { .. }) {
                        // Nothing reached the server: the slot is still free.
                        slot.not_sent();
                    } else {
                        slot.received();
                    }
                    Failure::Error(e)
                }
            };

            let (error, delay) = match failure {
                Failure::RateLimited { retry_after } => {
                    let wait = retry_after.unwrap_or(window) + margin;
                    let err = ApiError::RateLimited {
                        dataset_id: id.clone(),
                        endpoint,
                        retry_after,
                    };
                    tracing::debug!(
                        dataset_id = %id,
                        %endpoint,
                        wait_ms = wait.as_millis() as u64,
                        retry_after_header = retry_after.is_some(),
                        "rate limited (HTTP 429): waiting before retrying"
                    );
                    if self.surface_trigger_429 && endpoint != Endpoint::Status {
                        return Err(err);
                    }
                    // The pacer's hold-off enforces the wait; the check below only decides
                    // whether it still fits before the deadline.
                    (err, wait)
                }
                Failure::Error(err) => {
                    let retry_here = match endpoint {
                        Endpoint::Status => err.is_retryable(),
                        // Only where the request surely never reached Woosmap (see module doc).
                        Endpoint::Trigger | Endpoint::Webhook => {
                            matches!(err, ApiError::Connect { .. })
                        }
                    };
                    if !retry_here {
                        tracing::debug!(dataset_id = %id, %endpoint, kind = ?err.kind(), "not retrying: {err}");
                        return Err(err);
                    }
                    let mut delay = backoff.next_delay();
                    if !matches!(err, ApiError::Connect { .. }) {
                        // The request counted as sent: the pacer also holds the next attempt
                        // back by the pacing interval; report the longer of the two waits.
                        delay = delay.max(interval);
                    }
                    (err, delay)
                }
            };

            if Instant::now() + delay >= deadline {
                tracing::debug!(
                    dataset_id = %id,
                    %endpoint,
                    "giving up: the next attempt would start after the deadline"
                );
                return Err(error);
            }
            let notice = RetryNotice {
                dataset_id: id.clone(),
                endpoint,
                reason: retry_reason(&error),
                delay,
            };
            tracing::debug!(
                dataset_id = %id,
                %endpoint,
                delay_ms = delay.as_millis() as u64,
                reason = %notice.reason,
                "retrying"
            );
            if let Some(observer) = &self.on_retry {
                observer(&notice);
            }
            if !matches!(error, ApiError::RateLimited { .. }) {
                tokio::time::sleep(delay).await;
            }
            last_error = Some(error);
        }
    }

    /// Sends one request and reads the whole response. Transport faults become `ApiError`s.
    async fn exchange(
        &self,
        endpoint: Endpoint,
        id: &DatasetId,
        reimport_key: Option<&Secret>,
        timeout: Duration,
    ) -> Result<Exchange, ApiError> {
        let inner = &self.inner;
        let mut url = inner.base.clone();
        let log_path = {
            // `base` always has a path (http/https), so path_segments_mut cannot fail.
            let mut segs = url
                .path_segments_mut()
                .expect("http(s) URLs can have path segments");
            segs.pop_if_empty();
            match endpoint {
                Endpoint::Trigger => {
                    segs.extend(["datasets", id.as_str(), "import"]);
                    format!("/datasets/{id}/import")
                }
                Endpoint::Webhook => {
                    let key = reimport_key.map(Secret::expose).unwrap_or_default();
                    segs.extend(["datasets", "hooks", "reimport", key]);
                    "/datasets/hooks/reimport/***".to_owned()
                }
                Endpoint::Status => {
                    segs.extend(["datasets", id.as_str(), "status"]);
                    format!("/datasets/{id}/status")
                }
            }
        };
        let method = match endpoint {
            Endpoint::Status => reqwest::Method::GET,
            _ => reqwest::Method::POST,
        };
        let mut req = inner
            .http
            .request(method.clone(), url)
            .timeout(timeout)
            .header(ACCEPT, "application/json");
        if endpoint != Endpoint::Webhook
            && let Some((value, _)) = &inner.api_key
        {
            req = req.header("X-Api-Key", value.clone());
        }
        if method == reqwest::Method::POST {
            req = req.header(CONTENT_TYPE, "application/json").body("{}");
        }

        tracing::debug!(dataset_id = %id, "{method} {log_path}");
        let started = Instant::now();
        let secrets = self.secrets(reimport_key);
        let transport =
            |e: reqwest::Error| self.transport_error(endpoint, id, e, timeout, &secrets);

        let mut resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let headers = std::mem::take(resp.headers_mut());
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(ApiError::InvalidResponse {
                    dataset_id: id.clone(),
                    endpoint,
                    status: status.as_u16(),
                    reason: format!("the body is larger than {} MiB", MAX_BODY >> 20),
                });
            }
            body.extend_from_slice(&chunk);
        }
        tracing::debug!(
            dataset_id = %id,
            status = status.as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "{method} {log_path} -> {status}"
        );
        tracing::trace!(dataset_id = %id, body_len = body.len(), "response body received");
        Ok(Exchange {
            status,
            headers,
            body,
        })
    }

    /// Maps a received response (not a 429) to the call's result.
    fn interpret(
        &self,
        endpoint: Endpoint,
        id: &DatasetId,
        reimport_key: Option<&Secret>,
        exchange: Exchange,
    ) -> Result<Option<Run>, Failure> {
        let status = exchange.status;
        let code = status.as_u16();
        let secrets = self.secrets(reimport_key);
        let dataset_id = id.clone();
        let invalid = |reason: String| {
            Failure::Error(ApiError::InvalidResponse {
                dataset_id: id.clone(),
                endpoint,
                status: code,
                reason: scrub(&reason, &secrets),
            })
        };

        if status.is_success() {
            return match endpoint {
                Endpoint::Status => match serde_json::from_slice::<Run>(&exchange.body) {
                    Ok(run) => Ok(Some(run)),
                    Err(e) => Err(invalid(format!("not a run status: {e}"))),
                },
                Endpoint::Trigger | Endpoint::Webhook => {
                    let scheduled = match serde_json::from_slice::<Scheduled>(&exchange.body) {
                        Ok(s) => s,
                        Err(e) => return Err(invalid(format!("not a scheduled import: {e}"))),
                    };
                    let same = DatasetId::parse(&scheduled.dataset_id)
                        .map(|d| &d == id)
                        .unwrap_or(false);
                    if same {
                        Ok(None)
                    } else if endpoint == Endpoint::Webhook {
                        Err(Failure::Error(ApiError::WebhookDatasetMismatch {
                            expected: id.clone(),
                            actual: scrub(
                                &scheduled.dataset_id.chars().take(80).collect::<String>(),
                                &secrets,
                            ),
                        }))
                    } else {
                        tracing::warn!(
                            dataset_id = %id,
                            "Woosmap acknowledged the import of another dataset id ({})",
                            scrub(&scheduled.dataset_id, &secrets)
                        );
                        Ok(None)
                    }
                }
            };
        }

        let body = ErrorBody::parse(&exchange.body);
        let detail = body.summary().map(|d| scrub(&d, &secrets));
        let webhook = endpoint == Endpoint::Webhook;
        let err = match code {
            401 | 403 if webhook => ApiError::WebhookKeyRejected {
                dataset_id,
                status: code,
            },
            401 => ApiError::Unauthorized {
                dataset_id,
                endpoint,
            },
            402 => ApiError::QuotaExceeded {
                dataset_id,
                endpoint,
                detail,
            },
            403 => ApiError::Forbidden {
                dataset_id,
                endpoint,
            },
            404 => match endpoint {
                Endpoint::Status => return Ok(None),
                Endpoint::Webhook => ApiError::WebhookKeyRejected {
                    dataset_id,
                    status: code,
                },
                Endpoint::Trigger => ApiError::NotFound {
                    dataset_id,
                    endpoint,
                },
            },
            422 => {
                let mut errors: Vec<(String, String)> = body
                    .validation
                    .iter()
                    .map(|(l, m)| (scrub(l, &secrets), scrub(m, &secrets)))
                    .collect();
                if errors.is_empty()
                    && let Some(d) = detail
                {
                    errors.push((String::new(), d));
                }
                ApiError::Validation {
                    dataset_id,
                    endpoint,
                    errors,
                }
            }
            500..=599 => ApiError::Server {
                dataset_id,
                endpoint,
                status: code,
                detail,
            },
            _ => ApiError::UnexpectedStatus {
                dataset_id,
                endpoint,
                status: code,
                detail,
            },
        };
        Err(Failure::Error(err))
    }

    /// The fuzz targets' way in (`crate::fuzzing::api_response`): one received response,
    /// mapped exactly as [`Client::call`] maps it (a 429 included), without the network.
    pub(crate) fn interpret_for_fuzzing(
        &self,
        endpoint: Endpoint,
        id: &DatasetId,
        reimport_key: Option<&Secret>,
        status: u16,
        retry_after: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Option<Run>, ApiError> {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT);
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(ApiError::RateLimited {
                dataset_id: id.clone(),
                endpoint,
                retry_after: retry_after.and_then(|v| parse_retry_after(v, SystemTime::now())),
            });
        }
        let exchange = Exchange {
            status,
            headers: HeaderMap::new(),
            body,
        };
        match self.interpret(endpoint, id, reimport_key, exchange) {
            Ok(run) => Ok(run),
            Err(Failure::Error(e)) => Err(e),
            Err(Failure::RateLimited { retry_after }) => Err(ApiError::RateLimited {
                dataset_id: id.clone(),
                endpoint,
                retry_after,
            }),
        }
    }

    fn secrets<'a>(&'a self, reimport_key: Option<&'a Secret>) -> Vec<&'a Secret> {
        let mut out = Vec::with_capacity(2);
        if let Some((_, k)) = &self.inner.api_key {
            out.push(k);
        }
        if let Some(k) = reimport_key {
            out.push(k);
        }
        out
    }

    fn transport_error(
        &self,
        endpoint: Endpoint,
        id: &DatasetId,
        err: reqwest::Error,
        timeout: Duration,
        secrets: &[&Secret],
    ) -> ApiError {
        let err = err.without_url();
        let dataset_id = id.clone();
        if let Some(reason) = certificate_failure(&err) {
            ApiError::Tls {
                dataset_id,
                endpoint,
                origin: self.inner.origin.clone(),
                reason: scrub(&reason, secrets),
            }
        } else if err.is_connect() {
            ApiError::Connect {
                dataset_id,
                endpoint,
                origin: self.inner.origin.clone(),
                reason: scrub(&chain(&err), secrets),
            }
        } else if err.is_timeout() {
            ApiError::Timeout {
                dataset_id,
                endpoint,
                after: timeout,
            }
        } else {
            ApiError::Transport {
                dataset_id,
                endpoint,
                reason: scrub(&chain(&err), secrets),
            }
        }
    }
}

/// The certificate verification failure in an error's source chain, if that is what failed.
/// rustls reports it inside (possibly nested) `io::Error`s of the connector, whose `source()`
/// skips the wrapped error itself, so those are unwrapped with `get_ref`.
pub(super) fn certificate_failure(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(tls @ rustls::Error::InvalidCertificate(_)) = e.downcast_ref::<rustls::Error>()
        {
            return Some(tls.to_string());
        }
        cur = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

/// A base URL as shown in an error: without query, fragment or userinfo, which might hold a
/// credential someone pasted there.
fn shown_base_url(raw: &str) -> String {
    let cut = raw.find(['?', '#']).map_or(raw, |i| &raw[..i]);
    match (cut.find("://"), cut.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}***@{}", &cut[..scheme_end + 3], &cut[at + 1..])
        }
        _ => cut.to_owned(),
    }
}

/// An error and its sources, joined with ": ", skipping repeats.
pub(super) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = e.source();
    }
    parts.join(": ")
}

/// A short reason for a retry notice.
fn retry_reason(err: &ApiError) -> String {
    match err {
        ApiError::RateLimited { .. } => "rate limited (HTTP 429)".to_owned(),
        ApiError::Server { status, .. } => format!("server error (HTTP {status})"),
        ApiError::Connect { reason, .. } => format!("could not connect: {reason}"),
        ApiError::Timeout { after, .. } => {
            format!("no answer within {}", super::error::fmt_duration(*after))
        }
        ApiError::Transport { reason, .. } => format!("connection failed: {reason}"),
        ApiError::InvalidResponse { status, reason, .. } => {
            format!("unreadable response (HTTP {status}): {reason}")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_validation() {
        let ok = |u: &str| {
            Client::new(ClientConfig {
                base_url: u.into(),
                ..Default::default()
            })
        };
        assert_eq!(
            ok("https://api.woosmap.com/").unwrap().base_url(),
            "https://api.woosmap.com"
        );
        assert_eq!(
            ok("http://127.0.0.1:8080/prefix/").unwrap().base_url(),
            "http://127.0.0.1:8080/prefix"
        );
        for bad in [
            "api.woosmap.com",
            "ftp://x",
            "https://x/?private_key=abcd1234",
            "https://u:pw@x",
        ] {
            let err = ok(bad).unwrap_err();
            assert!(matches!(err, ApiError::InvalidBaseUrl { .. }), "{bad}");
            let text = err.to_string();
            assert!(
                !text.contains("abcd1234") && !text.contains("pw@"),
                "{text}"
            );
        }
    }

    #[test]
    fn private_key_rules() {
        let mk = |k: &str| {
            Client::new(ClientConfig {
                private_key: Some(Secret::new(k)),
                ..Default::default()
            })
        };
        assert!(mk("  key-with-newline\n").unwrap().has_private_key());
        assert!(!mk("   ").unwrap().has_private_key());
        assert!(matches!(
            mk("bad\u{7}key").unwrap_err(),
            ApiError::InvalidPrivateKey
        ));
        let dbg = format!("{:?}", mk("my-private-key").unwrap());
        assert!(!dbg.contains("my-private-key"), "{dbg}");
    }

    #[test]
    fn rate_limits_from_env_values() {
        // Only the parser: the process environment is shared by parallel tests.
        assert_eq!(
            humantime::parse_duration("300ms").unwrap(),
            Duration::from_millis(300)
        );
        assert_eq!(RateLimits::default(), RateLimits::PUBLISHED);
        assert_eq!(RateLimits::PUBLISHED.trigger, Duration::from_secs(90));
    }
}
