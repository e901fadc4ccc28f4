//! The Rocket.Chat REST client for the bulk user import: `import.new`, `import.addUsers`,
//! `import.run`, `import.status`, `import.clear` on the user's server, authenticated with
//! `X-User-Id` / `X-Auth-Token` (the token is a [`Secret`]: never logged nor shown), paced by
//! the `X-RateLimit-*` headers ([`super::pace`]), a 429 waited out to `X-RateLimit-Reset`,
//! and every documented error body turned into a sentence ([`RcError`]).

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::secret::Secret;
use pacer::budget::{Budget, Budgets, now_ms};

/// How many times a 429 or a failed status read is retried before giving up.
const RETRIES: u32 = 5;

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
    #[error("Rocket.Chat kept answering 429 on {route} ({message}); gave up after {RETRIES} waits")]
    RateLimited { route: String, message: String },
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
}

impl RcError {
    /// True for credential and permission errors (exit code 4).
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            RcError::Unauthorized { .. } | RcError::Forbidden { .. }
        )
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

/// Rocket.Chat in the shared pacer: the budgets its servers announce, per server, in
/// `$XDG_RUNTIME_DIR/rocketchat-import` (else `<temp>/rocketchat-import-<uid>`).
pub(crate) static ROCKETCHAT: pacer::Service = pacer::Service::new(
    "rocketchat",
    pacer::FolderSpec {
        env: None,
        env_subfolder: None,
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
    token: Secret,
    timeout: Duration,
    pacer: std::sync::Arc<Budgets>,
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
        Ok(RcClient {
            http,
            api: base,
            user_id: cfg.user_id,
            token: cfg.auth_token,
            timeout: if cfg.request_timeout.is_zero() {
                Duration::from_secs(30)
            } else {
                cfg.request_timeout
            },
            pacer: std::sync::Arc::new(Budgets::new(&ROCKETCHAT, &origin)),
        })
    }

    /// The `import.status` budget as last announced (to spread polls over its window).
    pub fn status_budget(&self) -> Option<Budget> {
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
        let url = self.api.join(route).map_err(|e| RcError::InvalidUrl {
            url: self.api.to_string(),
            reason: e.to_string(),
        })?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            while let Some(wait) = self.pacer.reserve(route).await {
                tracing::info!(
                    "{route}: rate-limit budget spent; waiting {wait:?} for its window to reset"
                );
                tokio::time::sleep(wait).await;
            }
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .timeout(self.timeout)
                .header("X-User-Id", &self.user_id);
            let mut token =
                reqwest::header::HeaderValue::from_str(self.token.expose()).map_err(|_| {
                    RcError::Unauthorized {
                        route: route.to_owned(),
                        message: "the auth token holds characters a header cannot carry".into(),
                    }
                })?;
            token.set_sensitive(true);
            req = req.header("X-Auth-Token", token);
            if let Some(b) = &body {
                req = req
                    .header("content-type", "application/json")
                    .body(b.to_string());
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) if method == Method::GET && attempt < RETRIES => {
                    tracing::warn!("{route}: {}; retrying", self.scrub(&e.to_string()));
                    tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                    continue;
                }
                Err(e) => {
                    return Err(RcError::Transport {
                        route: route.to_owned(),
                        reason: self.scrub(&error_chain(&e)),
                    });
                }
            };
            let status = resp.status();
            let budget = read_budget(resp.headers());
            if let Some(b) = budget {
                self.pacer.record(route, b).await;
            }
            let text = resp.text().await.unwrap_or_default();
            let json: Option<Value> = serde_json::from_str(&text).ok();
            let message = self.scrub(&server_message(json.as_ref(), &text));
            match status {
                StatusCode::OK => {
                    let json = json.ok_or_else(|| RcError::Malformed {
                        route: route.to_owned(),
                        reason: format!("body {:?}", snippet(&text)),
                    })?;
                    if json.get("success") == Some(&Value::Bool(false)) {
                        return Err(RcError::BadRequest {
                            route: route.to_owned(),
                            message,
                            error_type: error_type(&json),
                        });
                    }
                    return Ok(json);
                }
                StatusCode::TOO_MANY_REQUESTS if attempt < RETRIES => {
                    let wait = budget
                        .map(|b| Duration::from_millis(b.reset_ms.saturating_sub(now_ms()) + 150))
                        .unwrap_or(Duration::from_secs(1))
                        .min(Duration::from_secs(15 * 60));
                    tracing::warn!(
                        "{route}: 429 from Rocket.Chat; waiting {wait:?} (X-RateLimit-Reset)"
                    );
                    tokio::time::sleep(wait).await;
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    return Err(RcError::RateLimited {
                        route: route.to_owned(),
                        message,
                    });
                }
                StatusCode::UNAUTHORIZED => {
                    return Err(RcError::Unauthorized {
                        route: route.to_owned(),
                        message,
                    });
                }
                StatusCode::FORBIDDEN => {
                    return Err(RcError::Forbidden {
                        route: route.to_owned(),
                        message,
                    });
                }
                StatusCode::BAD_REQUEST => {
                    return Err(RcError::BadRequest {
                        route: route.to_owned(),
                        message,
                        error_type: json.as_ref().and_then(error_type),
                    });
                }
                s if s.is_server_error() && method == Method::GET && attempt < RETRIES => {
                    tracing::warn!("{route}: HTTP {s}; retrying");
                    tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                }
                s => {
                    return Err(RcError::Server {
                        route: route.to_owned(),
                        status: s.as_u16(),
                        message,
                    });
                }
            }
        }
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
