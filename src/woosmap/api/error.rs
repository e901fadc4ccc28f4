//! `ApiError`: one variant per cause (documented HTTP errors, transport faults, local
//! misconfiguration), each displayed as a sentence a user can act on, plus the parsing of the
//! API's error bodies (`detail` string or FastAPI 422 list, `details`, `message`).
//!
//! No variant ever holds a credential: the client scrubs server-provided text of the private
//! key and the reimport key before building an error, and never stores a URL.

use std::fmt;
use std::time::Duration;

use super::types::DatasetId;

/// Which call of the API a request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /datasets/{id}/import`
    Trigger,
    /// `POST /datasets/hooks/reimport/{reimport_key}`
    Webhook,
    /// `GET /datasets/{id}/status`
    Status,
}

impl Endpoint {
    /// "triggering an import of", used as "... while {doing} dataset X".
    pub fn doing(self) -> &'static str {
        match self {
            Endpoint::Trigger => "triggering an import of",
            Endpoint::Webhook => "triggering a reimport (webhook) of",
            Endpoint::Status => "reading the import status of",
        }
    }

    /// "trigger an import of", used as "... to {purpose} dataset X".
    pub fn purpose(self) -> &'static str {
        match self {
            Endpoint::Trigger => "trigger an import of",
            Endpoint::Webhook => "trigger a reimport (webhook) of",
            Endpoint::Status => "read the import status of",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Endpoint::Trigger => "trigger import",
            Endpoint::Webhook => "reimport webhook",
            Endpoint::Status => "status",
        })
    }
}

/// A coarse class of [`ApiError`], for exit codes and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Missing, malformed or rejected credentials.
    Auth,
    /// The Woosmap project is out of quota (402).
    Quota,
    /// Wrong input or configuration: unknown dataset, invalid request, bad base_url.
    Usage,
    /// Network faults, server errors, unreadable responses, rate limits: trying later may work.
    Transient,
    /// The caller's deadline passed.
    Timeout,
}

/// Why a call to the Woosmap API failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error(
        "A private key is needed to {} dataset {dataset_id}, but none is configured. Set \
         WOOSMAP_PRIVATE_KEY / private_key to a private key with write permission.",
        endpoint.purpose()
    )]
    MissingPrivateKey {
        dataset_id: DatasetId,
        endpoint: Endpoint,
    },

    #[error(
        "The configured private key cannot be sent in an HTTP header (it must be printable \
         ASCII without line breaks). Check WOOSMAP_PRIVATE_KEY / private_key for stray quotes \
         or control characters."
    )]
    InvalidPrivateKey,

    #[error(
        "No reimport key was given for dataset {dataset_id}. Set reimport_key / --reimport-key \
         to the key Woosmap returned when the dataset was created, or trigger through the API \
         with a private key instead."
    )]
    MissingReimportKey { dataset_id: DatasetId },

    #[error(
        "The base URL `{base_url}` is not usable: {reason}. Set WOOSMAP_BASE_URL / base_url to \
         the API root, e.g. https://api.woosmap.com."
    )]
    InvalidBaseUrl { base_url: String, reason: String },

    #[error(
        "Woosmap rejected the request while {} dataset {dataset_id}: no credentials were found \
         (HTTP 401). Set WOOSMAP_PRIVATE_KEY / private_key to a private key with write \
         permission.",
        endpoint.doing()
    )]
    Unauthorized {
        dataset_id: DatasetId,
        endpoint: Endpoint,
    },

    #[error(
        "Woosmap refused to {} dataset {dataset_id}: the project is out of free quota (HTTP \
         402{}). Check the plan and billing of the Woosmap project that owns the key.",
        endpoint.purpose(), detail_suffix(detail)
    )]
    QuotaExceeded {
        dataset_id: DatasetId,
        endpoint: Endpoint,
        detail: Option<String>,
    },

    #[error(
        "Woosmap rejected the private key while {} dataset {dataset_id}: credentials were \
         found but do not match (HTTP 403). Use a private key with write permission from the \
         Woosmap project that owns this dataset.",
        endpoint.doing()
    )]
    Forbidden {
        dataset_id: DatasetId,
        endpoint: Endpoint,
    },

    #[error(
        "Woosmap did not accept the reimport key meant for dataset {dataset_id} (HTTP {status}{}). \
         Check reimport_key / --reimport-key: use the reimport key Woosmap returned when the \
         dataset was created.",
        if *status == 404 { ": no dataset matches this key" } else { "" }
    )]
    WebhookKeyRejected { dataset_id: DatasetId, status: u16 },

    #[error(
        "Dataset {dataset_id} was not found on Woosmap (HTTP 404 from the {endpoint} endpoint). \
         Check dataset_id, and that the private key belongs to the Woosmap project that owns \
         the dataset."
    )]
    NotFound {
        dataset_id: DatasetId,
        endpoint: Endpoint,
    },

    #[error(
        "Woosmap rejected the request as invalid while {} dataset {dataset_id} (HTTP 422: {}). \
         Check the dataset id{}.",
        endpoint.doing(), format_validation(errors),
        if *endpoint == Endpoint::Webhook { " and the reimport key" } else { "" }
    )]
    Validation {
        dataset_id: DatasetId,
        endpoint: Endpoint,
        /// `(loc, msg)` pairs; `loc` joined with dots, e.g. `path.dataset_id`.
        errors: Vec<(String, String)>,
    },

    #[error(
        "Woosmap's rate limit for the {endpoint} endpoint of dataset {dataset_id} was still in \
         effect when the deadline came (HTTP 429{}). Another client is probably using this \
         dataset or key; try again later or allow a longer timeout.",
        match retry_after { Some(d) => format!(", retry after {}", fmt_duration(*d)), None => String::new() }
    )]
    RateLimited {
        dataset_id: DatasetId,
        endpoint: Endpoint,
        retry_after: Option<Duration>,
    },

    #[error(
        "Woosmap had a server error (HTTP {status}{}) while {} dataset {dataset_id}. This is \
         usually temporary: try again later.",
        detail_suffix(detail), endpoint.doing()
    )]
    Server {
        dataset_id: DatasetId,
        endpoint: Endpoint,
        status: u16,
        detail: Option<String>,
    },

    #[error(
        "Could not connect to {origin} while {} dataset {dataset_id}: {reason}. Check \
         WOOSMAP_BASE_URL / base_url and the network.",
        endpoint.doing()
    )]
    Connect {
        dataset_id: DatasetId,
        endpoint: Endpoint,
        /// Scheme, host and port of the base URL (never a path).
        origin: String,
        reason: String,
    },

    /// The server's certificate failed verification (unknown issuer, wrong name, expired…).
    /// Not retried: nothing was sent, and waiting does not make a certificate valid.
    #[error(
        "The TLS certificate of {origin} was not accepted while {} dataset {dataset_id}: \
         {reason}. Nothing was sent. Check WOOSMAP_BASE_URL / base_url and any proxy that \
         intercepts HTTPS (certificate checks cannot be turned off).",
        endpoint.doing()
    )]
    Tls {
        dataset_id: DatasetId,
        endpoint: Endpoint,
        /// Scheme, host and port of the base URL (never a path).
        origin: String,
        reason: String,
    },

    /// The connection was made (a connect that does not complete is `Connect`) and no answer
    /// came within `after`: a server, proxy or network that hangs.
    #[error(
        "The server at {origin} accepted the connection but sent no answer in {} while {} \
         dataset {dataset_id}. This is a fault of the service, a proxy or the network: check \
         WOOSMAP_BASE_URL / base_url, and try again later.",
        fmt_duration(*after), endpoint.doing()
    )]
    Timeout {
        dataset_id: DatasetId,
        endpoint: Endpoint,
        /// Scheme, host and port of the base URL (never a path).
        origin: String,
        after: Duration,
        /// The request's limit was cut short to end at the caller's deadline (it was shorter
        /// than the per-request timeout).
        cut_short: bool,
    },

    #[error(
        "The connection to Woosmap failed while {} dataset {dataset_id}: {reason}. This is \
         usually temporary: try again.",
        endpoint.doing()
    )]
    Transport {
        dataset_id: DatasetId,
        endpoint: Endpoint,
        reason: String,
    },

    #[error(
        "Woosmap answered HTTP {status} with a body this client does not understand while {} \
         dataset {dataset_id} ({reason}). Check that WOOSMAP_BASE_URL / base_url points at the \
         Woosmap API.",
        endpoint.doing()
    )]
    InvalidResponse {
        dataset_id: DatasetId,
        endpoint: Endpoint,
        status: u16,
        reason: String,
    },

    #[error(
        "Woosmap answered with an unexpected HTTP {status}{} while {} dataset {dataset_id}. \
         Check that WOOSMAP_BASE_URL / base_url points at the Woosmap API.",
        detail_suffix(detail), endpoint.doing()
    )]
    UnexpectedStatus {
        dataset_id: DatasetId,
        endpoint: Endpoint,
        status: u16,
        detail: Option<String>,
    },

    #[error(
        "The deadline passed before Woosmap could be asked to {} dataset {dataset_id} within \
         its rate limit. Allow a longer timeout.",
        endpoint.purpose()
    )]
    DeadlineExceeded {
        dataset_id: DatasetId,
        endpoint: Endpoint,
        /// How long after the failure the rate limit's next slot opens, when that is what
        /// stopped the call (it lay past the deadline).
        next_slot: Option<Duration>,
    },

    #[error(
        "The reimport key belongs to dataset {actual}, not {expected}: Woosmap scheduled an \
         import of {actual}. Use the reimport key of dataset {expected}."
    )]
    WebhookDatasetMismatch {
        expected: DatasetId,
        /// The dataset id Woosmap reported (as sent, if it is not a UUID).
        actual: String,
    },
}

impl ApiError {
    /// The coarse class of this error.
    pub fn kind(&self) -> ErrorKind {
        use ApiError::*;
        match self {
            MissingPrivateKey { .. }
            | InvalidPrivateKey
            | Unauthorized { .. }
            | Forbidden { .. }
            | WebhookKeyRejected { .. }
            | MissingReimportKey { .. } => ErrorKind::Auth,
            QuotaExceeded { .. } => ErrorKind::Quota,
            InvalidBaseUrl { .. }
            | NotFound { .. }
            | Validation { .. }
            | UnexpectedStatus { .. }
            | WebhookDatasetMismatch { .. } => ErrorKind::Usage,
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

    /// The dataset the failed call was about, when there was one.
    pub fn dataset_id(&self) -> Option<&DatasetId> {
        use ApiError::*;
        match self {
            InvalidPrivateKey | InvalidBaseUrl { .. } => None,
            WebhookDatasetMismatch { expected, .. } => Some(expected),
            MissingPrivateKey { dataset_id, .. }
            | Unauthorized { dataset_id, .. }
            | QuotaExceeded { dataset_id, .. }
            | Forbidden { dataset_id, .. }
            | WebhookKeyRejected { dataset_id, .. }
            | NotFound { dataset_id, .. }
            | Validation { dataset_id, .. }
            | RateLimited { dataset_id, .. }
            | Server { dataset_id, .. }
            | Connect { dataset_id, .. }
            | Tls { dataset_id, .. }
            | Timeout { dataset_id, .. }
            | Transport { dataset_id, .. }
            | InvalidResponse { dataset_id, .. }
            | UnexpectedStatus { dataset_id, .. }
            | DeadlineExceeded { dataset_id, .. }
            | MissingReimportKey { dataset_id } => Some(dataset_id),
        }
    }

    /// Faults worth retrying with backoff: server errors, transport faults, unreadable bodies.
    /// (429 is handled separately: waited out, not backed off.)
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ApiError::Server { .. }
                | ApiError::Connect { .. }
                | ApiError::Timeout { .. }
                | ApiError::Transport { .. }
                | ApiError::InvalidResponse { .. }
        )
    }

    /// For a trigger: the request may have reached Woosmap and been acted on even though no
    /// clear answer came back (5xx, reset or timeout after sending, unreadable body). The
    /// engine must look for a new run before triggering again.
    pub fn may_have_been_processed(&self) -> bool {
        matches!(
            self,
            ApiError::Server { .. }
                | ApiError::Timeout { .. }
                | ApiError::Transport { .. }
                | ApiError::InvalidResponse { .. }
        )
    }
}

/// `: DETAIL`, or nothing when the server gave none.
pub(super) fn detail_suffix(detail: &Option<String>) -> String {
    match detail {
        Some(d) if !d.is_empty() => format!(": {d}"),
        _ => String::new(),
    }
}

/// A 422's `loc: msg` pairs in one line.
pub(super) fn format_validation(errors: &[(String, String)]) -> String {
    if errors.is_empty() {
        return "no details given".to_owned();
    }
    errors
        .iter()
        .map(|(loc, msg)| {
            if loc.is_empty() {
                msg.clone()
            } else {
                format!("{loc}: {msg}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A short human duration: `90s` → `1m 30s`, `300ms`, `1s 500ms`; whole seconds from 10 s up.
pub(crate) fn fmt_duration(d: Duration) -> String {
    let d = if d.as_secs() >= 10 {
        Duration::from_secs(d.as_secs())
    } else {
        Duration::from_millis(d.as_millis() as u64)
    };
    humantime::format_duration(d).to_string()
}

/// What an error body said, in whichever documented shape it came.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ErrorBody {
    /// A `detail` / `details` / `message` string.
    pub message: Option<String>,
    /// A FastAPI 422 list: `(loc joined with '.', msg)`.
    pub validation: Vec<(String, String)>,
}

const MAX_DETAIL: usize = 300;

impl ErrorBody {
    /// Reads an error body leniently; anything unreadable yields an empty `ErrorBody`.
    pub fn parse(body: &[u8]) -> ErrorBody {
        let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body) else {
            return ErrorBody::default();
        };
        let mut out = ErrorBody::default();
        for key in ["detail", "details", "message"] {
            let Some(value) = map.get(key) else { continue };
            match value {
                serde_json::Value::String(s) => {
                    if out.message.is_none() {
                        out.message = Some(truncate(s.trim()));
                    }
                }
                serde_json::Value::Array(items) => {
                    for item in items {
                        if let Some(pair) = validation_item(item) {
                            out.validation.push(pair);
                        } else if let serde_json::Value::String(s) = item {
                            out.validation.push((String::new(), truncate(s)));
                        }
                    }
                }
                serde_json::Value::Null => {}
                other => {
                    if out.message.is_none() {
                        out.message = Some(truncate(&other.to_string()));
                    }
                }
            }
        }
        out
    }

    /// The message, or the validation errors joined, for statuses that expect a string.
    pub fn summary(&self) -> Option<String> {
        if let Some(m) = &self.message {
            return Some(m.clone());
        }
        if self.validation.is_empty() {
            None
        } else {
            Some(format_validation(&self.validation))
        }
    }
}

fn validation_item(item: &serde_json::Value) -> Option<(String, String)> {
    let obj = item.as_object()?;
    let msg = obj.get("msg")?.as_str()?;
    let loc = match obj.get("loc") {
        Some(serde_json::Value::Array(parts)) => parts
            .iter()
            .map(|p| match p {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join("."),
        Some(serde_json::Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    Some((truncate(&loc), truncate(msg)))
}

fn truncate(s: &str) -> String {
    if s.chars().count() <= MAX_DETAIL {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX_DETAIL).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> DatasetId {
        DatasetId::parse("8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0").unwrap()
    }

    #[test]
    fn parses_every_documented_body() {
        let b = ErrorBody::parse(br#"{"detail":"Unable to locate credentials"}"#);
        assert_eq!(b.message.as_deref(), Some("Unable to locate credentials"));
        let b = ErrorBody::parse(br#"{"details":"Dataset was not found"}"#);
        assert_eq!(b.message.as_deref(), Some("Dataset was not found"));
        let b = ErrorBody::parse(br#"{"message":"Rate limit reached"}"#);
        assert_eq!(b.message.as_deref(), Some("Rate limit reached"));
        let b = ErrorBody::parse(
            br#"{"detail":[{"loc":["path","dataset_id"],"msg":"value is not a valid uuid","type":"type_error.uuid"},
                          {"loc":["body",0],"msg":"field required","type":"value_error.missing"}]}"#,
        );
        assert_eq!(b.message, None);
        assert_eq!(
            b.validation,
            vec![
                (
                    "path.dataset_id".to_owned(),
                    "value is not a valid uuid".to_owned()
                ),
                ("body.0".to_owned(), "field required".to_owned()),
            ]
        );
        assert_eq!(
            b.summary().unwrap(),
            "path.dataset_id: value is not a valid uuid; body.0: field required"
        );
    }

    #[test]
    fn tolerates_garbage() {
        assert_eq!(ErrorBody::parse(b"<html>502</html>"), ErrorBody::default());
        assert_eq!(ErrorBody::parse(b""), ErrorBody::default());
        assert_eq!(ErrorBody::parse(b"[1,2]"), ErrorBody::default());
        let b = ErrorBody::parse(br#"{"detail":{"code":7}}"#);
        assert_eq!(b.message.as_deref(), Some(r#"{"code":7}"#));
        let long = format!(r#"{{"detail":"{}"}}"#, "x".repeat(1000));
        let b = ErrorBody::parse(long.as_bytes());
        assert_eq!(b.message.unwrap().chars().count(), MAX_DETAIL + 1);
    }

    #[test]
    fn messages_are_actionable() {
        let e = ApiError::Unauthorized {
            dataset_id: id(),
            endpoint: Endpoint::Trigger,
        };
        let s = e.to_string();
        assert!(s.contains("no credentials were found (HTTP 401)"), "{s}");
        assert!(s.contains("WOOSMAP_PRIVATE_KEY"), "{s}");
        assert!(s.contains(id().as_str()), "{s}");
        assert_eq!(e.kind(), ErrorKind::Auth);

        let e = ApiError::Validation {
            dataset_id: id(),
            endpoint: Endpoint::Status,
            errors: vec![("path.dataset_id".into(), "bad uuid".into())],
        };
        assert!(
            e.to_string()
                .contains("HTTP 422: path.dataset_id: bad uuid")
        );
        assert_eq!(e.kind(), ErrorKind::Usage);

        let e = ApiError::RateLimited {
            dataset_id: id(),
            endpoint: Endpoint::Trigger,
            retry_after: Some(Duration::from_secs(90)),
        };
        assert!(e.to_string().contains("retry after 1m 30s"), "{e}");
        assert_eq!(fmt_duration(Duration::from_millis(300)), "300ms");
        assert_eq!(fmt_duration(Duration::from_millis(5150)), "5s 150ms");
        assert_eq!(fmt_duration(Duration::from_millis(12_345)), "12s");
    }
}
