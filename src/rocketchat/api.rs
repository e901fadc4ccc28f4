//! The Rocket.Chat REST client for the bulk user import: `import.new`, `import.addUsers`,
//! `import.run`, `import.status`, `import.clear` on the user's server, authenticated with
//! `X-User-Id` / `X-Auth-Token` (the token is a [`Secret`]: never logged nor shown), paced by
//! the `X-RateLimit-*` headers ([`super::pace`]), a 429 waited out to `X-RateLimit-Reset`,
//! and every documented error body turned into a sentence ([`RcError`]).
//!
//! `X-RateLimit-Reset` is a time on the server's clock: it is converted to ours with the skew
//! estimated from each answer's `Date` header ([`ServerClock`]), and 429s are waited out for
//! at most [`RATE_LIMIT_PATIENCE`] in all, however many there are.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::{Method, StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::secret::Secret;
use pacer::budget::{Budget, Budgets, now_ms};

/// How many times a failed status read (transport error, 5xx) is retried before giving up.
const RETRIES: u32 = 5;
/// How long one call keeps waiting out 429s, in all, before giving up.
pub const RATE_LIMIT_PATIENCE: Duration = Duration::from_secs(15 * 60);
/// A clock difference smaller than this is within the `Date` header's resolution: ignored.
const SKEW_NOISE_MS: i64 = 2_000;

/// Why a call failed, as a sentence for the user.
#[derive(Debug, thiserror::Error)]
pub enum RcError {
    #[error(
        "ROCKETCHAT_URL {url:?} is not usable: {reason} (expected e.g. https://chat.example.com)"
    )]
    InvalidUrl { url: String, reason: String },
    #[error(
        "Rocket.Chat refused the credentials on {route} (HTTP 401: \"{message}\"): check ROCKETCHAT_USER_ID and ROCKETCHAT_AUTH_TOKEN (a personal access token or login token of that user)"
    )]
    Unauthorized { route: String, message: String },
    #[error(
        "Rocket.Chat denied {route} (HTTP 403: \"{message}\"): the user needs the run-import permission (by default only the admin role has it)"
    )]
    Forbidden { route: String, message: String },
    #[error("Rocket.Chat rejected {route} (HTTP 400: \"{message}\"{})", error_type.as_ref().map(|t| format!(", errorType {t}")).unwrap_or_default())]
    BadRequest {
        route: String,
        message: String,
        error_type: Option<String>,
    },
    #[error("{name} cannot be used: {reason}")]
    InvalidSetting { name: &'static str, reason: String },
    #[error("Rocket.Chat kept answering 429 on {route} ({message}); gave up after waiting {} for its rate limit", humantime::format_duration(*waited))]
    RateLimited {
        route: String,
        message: String,
        waited: Duration,
    },
    #[error("Rocket.Chat answered HTTP {status} on {route}: {message}")]
    Server {
        route: String,
        status: u16,
        message: String,
    },
    #[error("could not reach Rocket.Chat for {route}: {reason}")]
    Transport { route: String, reason: String },
    #[error("Rocket.Chat's answer to {route} is not the documented JSON: {reason}")]
    Malformed { route: String, reason: String },
    /// Our operation is no longer the current one (or no longer ready): `route`, which acts on
    /// the current operation, whoever's, was not sent.
    #[error(
        "did not send {route}: the current operation is {current}, not ours ready to run (another import.new or import.clear replaced or ended ours while its users were staged)"
    )]
    NotOurs { route: String, current: String },
}

impl RcError {
    /// True for credential and permission errors (exit code 4).
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            RcError::Unauthorized { .. } | RcError::Forbidden { .. }
        )
    }

    /// True when the request may have been carried out although no clear answer says so: no
    /// answer came, a 5xx, or an answer that is not the documented JSON.
    pub fn may_have_acted(&self) -> bool {
        matches!(
            self,
            RcError::Transport { .. } | RcError::Server { .. } | RcError::Malformed { .. }
        )
    }

    /// True for settings that cannot work, found before anything was sent (exit code 2).
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            RcError::InvalidUrl { .. } | RcError::InvalidSetting { .. }
        )
    }
}

/// How far the server's clock is ahead of ours (negative: behind), from the `Date` header of
/// its answers. `Date` has whole seconds and is read before we receive the answer, so the
/// estimate errs towards "the server is earlier", which makes a converted reset later: waits
/// are never cut short. A server ahead by less than [`SKEW_NOISE_MS`] counts as none (a
/// later reset still); one behind, however little, is kept: counting it as none would move
/// its resets earlier than they are, and the next call would draw a 429.
#[derive(Debug, Default)]
pub struct ServerClock {
    skew_ms: AtomicI64,
}

impl ServerClock {
    /// Learns from an answer's `Date` header received at `local_ms`.
    pub fn observe(&self, date: &str, local_ms: u64) {
        let Ok(server) = httpdate::parse_http_date(date.trim()) else {
            return;
        };
        let server_ms = server
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let skew = server_ms - local_ms as i64;
        let skew = if (0..SKEW_NOISE_MS).contains(&skew) {
            0
        } else {
            skew
        };
        self.skew_ms.store(skew, Ordering::Relaxed);
    }

    /// A time on the server's clock (ms since the epoch), on ours.
    pub fn to_local_ms(&self, server_ms: u64) -> u64 {
        let skew = self.skew_ms.load(Ordering::Relaxed);
        u64::try_from(server_ms as i64 - skew).unwrap_or(0)
    }
}

/// Counts of an operation (`operation.count`); absent fields are 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    #[serde(default)]
    pub total: u64,
    #[serde(default)]
    pub completed: u64,
    #[serde(default)]
    pub error: u64,
    #[serde(default)]
    pub users: u64,
}

/// An import operation as `import.new` / `import.status` describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    #[serde(rename = "_id")]
    pub id: String,
    pub status: String,
    #[serde(default = "yes")]
    pub valid: bool,
    #[serde(default)]
    pub count: Counts,
    #[serde(default)]
    pub user: Option<String>,
}

fn yes() -> bool {
    true
}

/// `import.status`: the state and the current operation (none when `state` is `none`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportStatus {
    pub state: String,
    #[serde(default)]
    pub operation: Option<Operation>,
}

/// What the client needs.
#[derive(Debug, Clone)]
pub struct RcConfig {
    /// The server's base URL (`https://chat.example.com`, a path prefix allowed).
    pub base_url: String,
    pub user_id: String,
    pub auth_token: Secret,
    pub request_timeout: Duration,
}

/// The library's unit tests pace in a folder of the test process's own, removed at exit.
#[cfg(test)]
const UNIT_TESTS: Option<fn() -> std::path::PathBuf> =
    Some(|| crate::test_dirs::private("rocketchat-import"));
#[cfg(not(test))]
const UNIT_TESTS: Option<fn() -> std::path::PathBuf> = None;

/// Rocket.Chat in the shared pacer: the budgets its servers announce and the per-server
/// import lock, in `$WOOSMAP_PACER_DIR/rocketchat-import` when that is set (`off`: no sharing,
/// no lock), else `$XDG_RUNTIME_DIR/rocketchat-import`, else `<temp>/rocketchat-import-<uid>`.
pub(crate) static ROCKETCHAT: pacer::Service = pacer::Service::new(
    "rocketchat",
    pacer::FolderSpec {
        env: Some("WOOSMAP_PACER_DIR"),
        env_subfolder: Some("rocketchat-import"),
        runtime_name: "rocketchat-import",
        temp_prefix: "rocketchat-import",
        unit_tests: UNIT_TESTS,
    },
);

/// The client. Cheap to share behind an `Arc`.
pub struct RcClient {
    http: reqwest::Client,
    api: Url,
    user_id: String,
    user_header: reqwest::header::HeaderValue,
    token: Secret,
    token_header: reqwest::header::HeaderValue,
    timeout: Duration,
    pacer: std::sync::Arc<Budgets>,
    clock: ServerClock,
    /// The simulated network and clock, in place of HTTP and the wall clock.
    #[cfg(feature = "sim")]
    pub(super) sim: Option<super::sim_transport::Sim>,
}

/// `value` as a header value, or why it cannot be one (the value itself is never shown).
fn header_value(name: &'static str, value: &str) -> Result<reqwest::header::HeaderValue, RcError> {
    let bad = value
        .char_indices()
        .find(|(_, c)| c.is_control() || !c.is_ascii());
    if let Some((at, c)) = bad {
        let what = match c {
            '\r' => "a carriage return (CR)".to_owned(),
            '\n' => "a line feed (LF)".to_owned(),
            c if c.is_control() => format!("a control character (U+{:04X})", u32::from(c)),
            _ => "a non-ASCII character".to_owned(),
        };
        return Err(RcError::InvalidSetting {
            name,
            reason: format!(
                "it holds {what} at byte {at}, which an HTTP header cannot carry (copy the value again, without the line break)"
            ),
        });
    }
    if value.is_empty() {
        return Err(RcError::InvalidSetting {
            name,
            reason: "it is empty".to_owned(),
        });
    }
    reqwest::header::HeaderValue::from_str(value).map_err(|_| RcError::InvalidSetting {
        name,
        reason: "it cannot be an HTTP header value".to_owned(),
    })
}

impl RcClient {
    pub fn new(cfg: RcConfig) -> Result<RcClient, RcError> {
        let invalid = |reason: &str| RcError::InvalidUrl {
            url: cfg.base_url.clone(),
            reason: reason.to_owned(),
        };
        let mut base = Url::parse(cfg.base_url.trim()).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        if base.query().is_some() || !base.username().is_empty() || base.password().is_some() {
            return Err(invalid("it must not hold a query or credentials"));
        }
        let path = base.path().trim_end_matches('/').to_owned();
        base.set_path(&format!("{path}/api/v1/"));
        let http = reqwest::Client::builder()
            .user_agent(concat!("rocketchat-import/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| invalid(&format!("the HTTP client could not start: {e}")))?;
        let origin = base.as_str().to_owned();
        let user_header = header_value(super::USER_ID_ENV, &cfg.user_id)?;
        let mut token_header = header_value(super::AUTH_TOKEN_ENV, cfg.auth_token.expose())?;
        token_header.set_sensitive(true);
        Ok(RcClient {
            http,
            api: base,
            user_id: cfg.user_id,
            user_header,
            token: cfg.auth_token,
            token_header,
            timeout: if cfg.request_timeout.is_zero() {
                Duration::from_secs(30)
            } else {
                cfg.request_timeout
            },
            pacer: std::sync::Arc::new(Budgets::new(&ROCKETCHAT, &origin)),
            clock: ServerClock::default(),
            #[cfg(feature = "sim")]
            sim: None,
        })
    }

    /// A client whose requests go to `transport` instead of the network, and whose wall clock
    /// is the transport's (the deterministic simulation).
    #[cfg(feature = "sim")]
    pub fn with_transport(
        mut self,
        transport: std::sync::Arc<dyn super::sim_transport::Transport>,
    ) -> RcClient {
        self.sim = Some(super::sim_transport::Sim::new(transport));
        self
    }

    /// The user the calls are made as (`X-User-Id`): operations whose `user` is this one were
    /// created with the same credentials.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The server's base API URL (`…/api/v1/`), naming the per-server lock and budgets.
    pub fn origin(&self) -> &str {
        self.api.as_str()
    }

    /// Now on this client's clock (the wall clock; the simulated one under simulation), in
    /// milliseconds since the Unix epoch: the clock the recorded budgets' resets are on.
    pub fn now_ms(&self) -> u64 {
        #[cfg(feature = "sim")]
        if let Some(sim) = &self.sim {
            return sim.now_ms();
        }
        now_ms()
    }

    /// How long until `route` may be called, without reserving a call.
    pub async fn pacing_wait(&self, route: &str) -> Option<Duration> {
        #[cfg(feature = "sim")]
        if let Some(sim) = &self.sim {
            return sim.book.wait(route, sim.now_ms());
        }
        self.pacer.wait(route).await
    }

    /// Reserves one call of `route` now, or says how long to wait first.
    pub async fn reserve(&self, route: &str) -> Option<Duration> {
        #[cfg(feature = "sim")]
        if let Some(sim) = &self.sim {
            return sim.book.reserve(route, sim.now_ms());
        }
        self.pacer.reserve(route).await
    }

    /// Records the budget an answer announced (its reset on our clock).
    async fn record(&self, route: &str, budget: Budget) {
        #[cfg(feature = "sim")]
        if let Some(sim) = &self.sim {
            return sim.book.record(route, budget);
        }
        self.pacer.record(route, budget).await
    }

    /// `POST import.new` with a call of its budget already reserved ([`Self::reserve`]): sent
    /// at once, so that nothing comes between the caller's last status read and it.
    pub async fn new_operation_reserved(&self) -> Result<Operation, RcError> {
        let body = self
            .call_paced(Method::POST, "import.new", None, false)
            .await?;
        let op = body.get("operation").cloned().unwrap_or(Value::Null);
        serde_json::from_value(op).map_err(|e| RcError::Malformed {
            route: "import.new".into(),
            reason: format!("no operation object ({e})"),
        })
    }

    /// `POST import.clear`: aborts the current operation and clears staged data (the caller
    /// checks first that the current operation is its own).
    pub async fn clear(&self) -> Result<(), RcError> {
        self.call(Method::POST, "import.clear", None)
            .await
            .map(drop)
    }

    /// The `import.status` budget as last announced (to spread polls over its window).
    pub fn status_budget(&self) -> Option<Budget> {
        #[cfg(feature = "sim")]
        if let Some(sim) = &self.sim {
            return sim.book.budget("import.status");
        }
        self.pacer.budget("import.status")
    }

    /// `POST import.new`: a fresh operation (aborting any running one: the caller decides).
    pub async fn new_operation(&self) -> Result<Operation, RcError> {
        let body = self.call(Method::POST, "import.new", None).await?;
        let op = body.get("operation").cloned().unwrap_or(Value::Null);
        serde_json::from_value(op).map_err(|e| RcError::Malformed {
            route: "import.new".into(),
            reason: format!("no operation object ({e})"),
        })
    }

    /// `POST import.addUsers` with one batch.
    pub async fn add_users(&self, users: &[Value]) -> Result<(), RcError> {
        let body = serde_json::json!({ "users": users });
        self.call(Method::POST, "import.addUsers", Some(body))
            .await
            .map(drop)
    }

    /// `POST import.run`.
    pub async fn run(&self) -> Result<(), RcError> {
        self.call(Method::POST, "import.run", None).await.map(drop)
    }

    /// `GET import.status`.
    pub async fn status(&self) -> Result<ImportStatus, RcError> {
        let body = self.call(Method::GET, "import.status", None).await?;
        serde_json::from_value(body).map_err(|e| RcError::Malformed {
            route: "import.status".into(),
            reason: e.to_string(),
        })
    }

    /// One call, paced; 429s waited out, status reads retried on transient failures.
    async fn call(
        &self,
        method: Method,
        route: &str,
        body: Option<Value>,
    ) -> Result<Value, RcError> {
        self.call_paced(method, route, body, true).await
    }

    /// [`Self::call`]; `pace` false when the first attempt's budget is already reserved.
    async fn call_paced(
        &self,
        method: Method,
        route: &str,
        body: Option<Value>,
        mut pace: bool,
    ) -> Result<Value, RcError> {
        let url = self.api.join(route).map_err(|e| RcError::InvalidUrl {
            url: self.api.to_string(),
            reason: e.to_string(),
        })?;
        let mut tries = Tries {
            attempt: 0,
            limited: Duration::ZERO,
            retry: method == Method::GET,
        };
        loop {
            tries.attempt += 1;
            while pace && let Some(wait) = self.reserve(route).await {
                tracing::info!(
                    "{route}: rate-limit budget spent; waiting {wait:?} for its window to reset"
                );
                tokio::time::sleep(wait).await;
            }
            pace = true;
            let answer = match self.exchange(&method, &url, route, body.as_ref()).await {
                Ok(answer) => answer,
                Err(reason) if tries.retry && tries.attempt < RETRIES => {
                    tracing::warn!("{route}: {reason}; retrying");
                    tokio::time::sleep(tries.backoff()).await;
                    continue;
                }
                Err(reason) => {
                    return Err(RcError::Transport {
                        route: route.to_owned(),
                        reason,
                    });
                }
            };
            let budget = self.learn(route, &answer).await;
            match self.interpret(route, &mut tries, budget, answer) {
                Next::Done(result) => return result,
                Next::Again(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Sends one request and reads its answer; `Err` (the reason, scrubbed) when no answer
    /// came: the request may or may not have reached the server.
    async fn exchange(
        &self,
        method: &Method,
        url: &Url,
        route: &str,
        body: Option<&Value>,
    ) -> Result<Answer, String> {
        #[cfg(feature = "sim")]
        if let Some(sim) = &self.sim {
            let (status, headers, text) = sim
                .exchange(method, route, body, &self.user_id, self.timeout)
                .await?;
            return Ok(Answer {
                status,
                headers,
                text,
            });
        }
        let _ = route;
        let mut req = self
            .http
            .request(method.clone(), url.clone())
            .timeout(self.timeout)
            .header("X-User-Id", self.user_header.clone())
            .header("X-Auth-Token", self.token_header.clone());
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.map_err(|e| self.scrub(&error_chain(&e)))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        Ok(Answer {
            status,
            headers,
            text,
        })
    }

    /// Learns the server's clock from the answer's `Date` and the route's budget from its
    /// `X-RateLimit-*` headers (its reset moved to our clock), and records the budget.
    async fn learn(&self, route: &str, answer: &Answer) -> Option<Budget> {
        if let Some(date) = answer.headers.get("date").and_then(|d| d.to_str().ok()) {
            self.clock.observe(date, self.now_ms());
        }
        let budget = read_budget(&answer.headers).map(|b| Budget {
            reset_ms: self.clock.to_local_ms(b.reset_ms),
            ..b
        });
        if let Some(b) = budget {
            self.record(route, b).await;
        }
        budget
    }

    /// What an answer means: the result, or another attempt after a wait (a 429 within
    /// [`RATE_LIMIT_PATIENCE`], a 5xx to a status read).
    fn interpret(
        &self,
        route: &str,
        tries: &mut Tries,
        budget: Option<Budget>,
        answer: Answer,
    ) -> Next {
        let json: Option<Value> = serde_json::from_str(&answer.text).ok();
        let message = self.scrub(&server_message(json.as_ref(), &answer.text));
        let route = route.to_owned();
        Next::Done(Err(match answer.status {
            StatusCode::OK => return Next::Done(ok_body(route, json, &answer.text, message)),
            StatusCode::TOO_MANY_REQUESTS if tries.limited < RATE_LIMIT_PATIENCE => {
                let wait = self
                    .rate_limit_wait(budget, &message)
                    .min(RATE_LIMIT_PATIENCE - tries.limited);
                tries.limited += wait;
                tracing::warn!(
                    "{route}: 429 from Rocket.Chat; waiting {wait:?} (X-RateLimit-Reset, on the server's clock)"
                );
                return Next::Again(wait);
            }
            StatusCode::TOO_MANY_REQUESTS => RcError::RateLimited {
                route,
                message,
                waited: tries.limited,
            },
            StatusCode::UNAUTHORIZED => RcError::Unauthorized { route, message },
            StatusCode::FORBIDDEN => RcError::Forbidden { route, message },
            StatusCode::BAD_REQUEST => RcError::BadRequest {
                route,
                message,
                error_type: json.as_ref().and_then(error_type),
            },
            s if s.is_server_error() && tries.retry && tries.attempt < RETRIES => {
                tracing::warn!("{route}: HTTP {s}; retrying");
                return Next::Again(tries.backoff());
            }
            s => RcError::Server {
                route,
                status: s.as_u16(),
                message,
            },
        }))
    }

    /// How long a 429 asks to wait (see [`rate_limit_wait`]), on this client's clock.
    fn rate_limit_wait(&self, budget: Option<Budget>, message: &str) -> Duration {
        rate_limit_wait(budget, message, self.now_ms())
    }

    /// `text` without the auth token in it.
    fn scrub(&self, text: &str) -> String {
        let token = self.token.expose();
        if token.trim().is_empty() {
            text.to_owned()
        } else {
            text.replace(token, "***")
        }
    }
}

/// One answer, as the call loop reads it.
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    text: String,
}

/// The attempts of one call so far.
struct Tries {
    attempt: u32,
    /// Time spent waiting out 429s.
    limited: Duration,
    /// Transport errors and 5xx are retried (status reads: they change nothing).
    retry: bool,
}

impl Tries {
    fn backoff(&self) -> Duration {
        Duration::from_millis(500 * u64::from(self.attempt))
    }
}

/// After one answer: the call's result, or another attempt after a wait.
enum Next {
    Done(Result<Value, RcError>),
    Again(Duration),
}

/// A 200's body: its JSON, unless it is not JSON or says `"success": false`.
fn ok_body(
    route: String,
    json: Option<Value>,
    text: &str,
    message: String,
) -> Result<Value, RcError> {
    let json = json.ok_or_else(|| RcError::Malformed {
        route: route.clone(),
        reason: format!("body {:?}", snippet(text)),
    })?;
    if json.get("success") == Some(&Value::Bool(false)) {
        let error_type = error_type(&json);
        return Err(RcError::BadRequest {
            route,
            message,
            error_type,
        });
    }
    Ok(json)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// How long a 429 asks to wait at `now_ms` (our clock): until the reset (already on our
/// clock) or the seconds its message names, whichever is later, plus a margin; one second
/// when it says neither.
fn rate_limit_wait(budget: Option<Budget>, message: &str, now_ms: u64) -> Duration {
    let by_reset = budget.map(|b| Duration::from_millis(b.reset_ms.saturating_sub(now_ms)));
    let by_message = message
        .split_once("wait ")
        .and_then(|(_, rest)| rest.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_secs);
    match by_reset.max(by_message) {
        Some(wait) => wait + Duration::from_millis(150),
        None => Duration::from_secs(1),
    }
}

fn read_budget(h: &reqwest::header::HeaderMap) -> Option<Budget> {
    let num = |n: &str| -> Option<u64> { h.get(n)?.to_str().ok()?.trim().parse().ok() };
    Some(Budget {
        limit: num("x-ratelimit-limit")?,
        remaining: num("x-ratelimit-remaining")?,
        reset_ms: num("x-ratelimit-reset")?,
    })
}

/// The documented error fields: `error` (REST errors) or `message` (auth errors).
fn server_message(json: Option<&Value>, text: &str) -> String {
    json.and_then(|j| {
        j.get("error")
            .or_else(|| j.get("message"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    })
    .unwrap_or_else(|| snippet(text))
}

fn error_type(json: &Value) -> Option<String> {
    json.get("errorType")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn snippet(text: &str) -> String {
    let t: String = text.trim().chars().take(200).collect();
    if t.is_empty() { "empty body".into() } else { t }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_on_a_server_clock_10_minutes_behind_is_moved_to_ours() {
        let clock = ServerClock::default();
        let local = now_ms();
        let server = SystemTime::now() - Duration::from_secs(600);
        clock.observe(&httpdate::fmt_http_date(server), local);
        let server_reset = local - 600_000 + 5_000;
        let ours = clock.to_local_ms(server_reset);
        // 5 s ahead on our clock, later by at most the Date header's one-second resolution
        assert!(
            (local + 5_000..=local + 6_100).contains(&ours),
            "{} ms",
            ours as i64 - local as i64
        );
    }

    #[test]
    fn a_clock_ahead_within_the_date_resolution_counts_as_ours() {
        let clock = ServerClock::default();
        let local = 1_700_000_000_600;
        let date =
            |ms: u64| httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_millis(ms));
        clock.observe(&date(local + 1_500), local);
        assert_eq!(clock.to_local_ms(local + 1_000), local + 1_000);
        clock.observe("not a date", local);
        assert_eq!(clock.to_local_ms(42), 42, "a bad header changes nothing");
    }

    /// Found by the simulation (a server 1.3 s behind, 3 calls a window): its resets were
    /// taken as ours, 1.3 s early, and the next status read drew a 429.
    #[test]
    fn a_reset_of_a_server_slightly_behind_is_never_moved_earlier() {
        let clock = ServerClock::default();
        let local = 1_700_000_000_600;
        // The server reads 1.5 s less than ours; its Date says ...99.000 (1.6 s less).
        let server_now = local - 1_500;
        let date =
            httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_millis(server_now));
        clock.observe(&date, local);
        // Its window resets 5 s from now on its clock: 5 s from now on ours.
        let ours = clock.to_local_ms(server_now + 5_000);
        assert!(ours >= local + 5_000, "{} ms early", local + 5_000 - ours);
        assert!(ours <= local + 6_100, "{} ms late", ours - local - 5_000);
    }

    #[test]
    fn a_429_waits_for_the_later_of_its_reset_and_its_message() {
        let soon = Budget {
            limit: 10,
            remaining: 0,
            reset_ms: now_ms() + 1_000,
        };
        let message = "Error, too many requests. Please slow down. You must wait 4 seconds before trying this endpoint again.";
        let wait = rate_limit_wait(Some(soon), message, now_ms());
        assert!(
            wait >= Duration::from_secs(4) && wait < Duration::from_secs(5),
            "{wait:?}"
        );
        let wait = rate_limit_wait(Some(soon), "slow down", now_ms());
        assert!(
            wait > Duration::from_millis(900) && wait < Duration::from_secs(2),
            "{wait:?}"
        );
        assert_eq!(
            rate_limit_wait(None, "slow down", now_ms()),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn settings_that_cannot_be_headers_are_refused_naming_the_variable() {
        let cfg = |user: &str, token: &str| RcConfig {
            base_url: "https://chat.example.com".into(),
            user_id: user.into(),
            auth_token: Secret::new(token),
            request_timeout: Duration::ZERO,
        };
        let Err(e) = RcClient::new(cfg("admin", "tok\r\nen-Secret9")) else {
            panic!("refused");
        };
        let text = e.to_string();
        assert!(e.is_config(), "{text}");
        assert!(
            text.starts_with("ROCKETCHAT_AUTH_TOKEN cannot be used"),
            "{text}"
        );
        assert!(text.contains("carriage return"), "{text}");
        assert!(!text.contains("Secret9"), "{text}");
        let Err(e) = RcClient::new(cfg("ad\nmin", "token")) else {
            panic!("refused");
        };
        assert!(
            e.to_string()
                .starts_with("ROCKETCHAT_USER_ID cannot be used")
        );
        assert!(RcClient::new(cfg("admin", "token")).is_ok());
    }
}
