//! `ApiError`, the one error type of every Woosmap API call (the import calls and the dataset
//! management calls): one variant per cause (documented HTTP errors, transport faults, local
//! misconfiguration), each displayed as a sentence a user can act on that names what was being
//! done (an [`Action`]), plus the parsing of the API's error bodies (`detail` string or FastAPI
//! 422 list, `details`, `message`).
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

    /// "creating", used as "... while {doing} {subject}".
    fn doing(self) -> &'static str {
        match self {
            DatasetOp::Create => "creating",
            DatasetOp::List => "listing",
            DatasetOp::Get => "reading",
            DatasetOp::Update => "updating",
            DatasetOp::Delete => "scheduling the deletion of",
        }
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

/// What a dataset management call was about, for its messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// `dataset 8c4c…`
    Dataset(DatasetId),
    /// `a dataset named "Stores"` (one being created).
    Named(String),
    /// `the datasets (page 2)`
    Page(u32),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Dataset(id) => write!(f, "dataset {id}"),
            Subject::Named(name) => write!(f, "a dataset named {name:?}"),
            Subject::Page(page) => write!(f, "the datasets (page {page})"),
        }
    }
}

/// What a failed call was doing: an import call about one dataset, or a dataset management
/// call. Every message of an [`ApiError`] names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A trigger, a reimport webhook or a status read of one dataset.
    Import {
        endpoint: Endpoint,
        dataset_id: DatasetId,
    },
    /// A dataset management call (create, list, get, update, delete).
    Manage { op: DatasetOp, subject: Subject },
}

impl Action {
    /// An import call about `dataset_id`.
    pub fn import(endpoint: Endpoint, dataset_id: &DatasetId) -> Action {
        Action::Import {
            endpoint,
            dataset_id: dataset_id.clone(),
        }
    }

    /// The dataset the call was about, when it was about one.
    pub fn dataset_id(&self) -> Option<&DatasetId> {
        match self {
            Action::Import { dataset_id, .. }
            | Action::Manage {
                subject: Subject::Dataset(dataset_id),
                ..
            } => Some(dataset_id),
            Action::Manage { .. } => None,
        }
    }

    /// The dataset management call it was, if it was one.
    pub fn dataset_op(&self) -> Option<DatasetOp> {
        match self {
            Action::Manage { op, .. } => Some(*op),
            Action::Import { .. } => None,
        }
    }

    /// "triggering an import of dataset X", used as "... while {doing}".
    fn doing(&self) -> String {
        self.phrase(Endpoint::doing, DatasetOp::doing)
    }

    /// "trigger an import of dataset X", used as "... to {purpose}".
    fn purpose(&self) -> String {
        self.phrase(Endpoint::purpose, DatasetOp::verb)
    }

    /// The call's words (`import` of its endpoint, or `manage` of its dataset operation)
    /// followed by what it was about.
    fn phrase(
        &self,
        import: fn(Endpoint) -> &'static str,
        manage: fn(DatasetOp) -> &'static str,
    ) -> String {
        match self {
            Action::Import {
                endpoint,
                dataset_id,
            } => format!("{} dataset {dataset_id}", import(*endpoint)),
            Action::Manage { op, subject } => format!("{} {subject}", manage(*op)),
        }
    }

    /// The name of the endpoint called, as in "the {endpoint} endpoint".
    fn endpoint(&self) -> String {
        match self {
            Action::Import { endpoint, .. } => endpoint.to_string(),
            Action::Manage { op, .. } => op.to_string(),
        }
    }

    /// What the call was about, starting a sentence: "Dataset X".
    fn subject_sentence(&self) -> String {
        let subject = match self {
            Action::Import { dataset_id, .. } => format!("dataset {dataset_id}"),
            Action::Manage { subject, .. } => subject.to_string(),
        };
        let mut chars = subject.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => subject,
        }
    }

    /// Whose Woosmap project a 403 points at.
    fn owner(&self) -> &'static str {
        match self.dataset_id() {
            Some(_) => "this dataset",
            None => "the datasets",
        }
    }

    /// What a 422 asks to check.
    fn inputs(&self) -> &'static str {
        match self {
            Action::Import {
                endpoint: Endpoint::Webhook,
                ..
            } => "the dataset id and the reimport key",
            Action::Import { .. }
            | Action::Manage {
                op: DatasetOp::Get | DatasetOp::Delete,
                ..
            } => "the dataset id",
            Action::Manage {
                op: DatasetOp::Create | DatasetOp::Update,
                ..
            } => {
                "name, url (an http(s) URL of at most 2083 characters) and schema_mapping \
                 (schema_key `title`)"
            }
            Action::Manage {
                op: DatasetOp::List,
                ..
            } => "that WOOSMAP_BASE_URL / base_url points at the Woosmap API",
        }
    }

    /// After a fault that may hide a creation: say that the dataset may exist. Nothing for
    /// other calls (the import engine looks for a new run itself).
    fn unsure(&self) -> &'static str {
        match self {
            Action::Manage {
                op: DatasetOp::Create,
                ..
            } => {
                " The dataset may have been created anyway: list the datasets (woosmap-import \
                 datasets) before creating it again."
            }
            _ => "",
        }
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

/// Why a call to the Woosmap API failed: an import call or a dataset management call alike.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error(
        "A private key is needed to {}, but none is configured. Set WOOSMAP_PRIVATE_KEY / \
         private_key to a private key with write permission.",
        action.purpose()
    )]
    MissingPrivateKey { action: Action },

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
        "Woosmap rejected the request while {}: no credentials were found (HTTP 401). Set \
         WOOSMAP_PRIVATE_KEY / private_key to a private key with write permission.",
        action.doing()
    )]
    Unauthorized { action: Action },

    #[error(
        "Woosmap refused to {}: the project is out of free quota (HTTP 402{}). Check the plan \
         and billing of the Woosmap project that owns the key.",
        action.purpose(), detail_suffix(detail)
    )]
    QuotaExceeded {
        action: Action,
        detail: Option<String>,
    },

    #[error(
        "Woosmap rejected the private key while {}: credentials were found but do not match \
         (HTTP 403). Use a private key with write permission from the Woosmap project that \
         owns {}.",
        action.doing(), action.owner()
    )]
    Forbidden { action: Action },

    #[error(
        "Woosmap did not accept the reimport key meant for dataset {dataset_id} (HTTP {status}{}). \
         Check reimport_key / --reimport-key: use the reimport key Woosmap returned when the \
         dataset was created.",
        if *status == 404 { ": no dataset matches this key" } else { "" }
    )]
    WebhookKeyRejected { dataset_id: DatasetId, status: u16 },

    #[error("{}", not_found(action))]
    NotFound { action: Action },

    #[error(
        "Woosmap rejected the request as invalid while {} (HTTP 422: {}). Check {}.",
        action.doing(), format_validation(errors), action.inputs()
    )]
    Validation {
        action: Action,
        /// `(loc, msg)` pairs; `loc` joined with dots, e.g. `path.dataset_id`.
        errors: Vec<(String, String)>,
    },

    #[error("{}", rate_limited(action, *retry_after))]
    RateLimited {
        action: Action,
        retry_after: Option<Duration>,
    },

    #[error(
        "Woosmap had a server error (HTTP {status}{}) while {}.{} This is usually temporary: \
         try again later.",
        detail_suffix(detail), action.doing(), action.unsure()
    )]
    Server {
        action: Action,
        status: u16,
        detail: Option<String>,
    },

    #[error(
        "Could not connect to {origin} while {}: {reason}. Check WOOSMAP_BASE_URL / base_url \
         and the network.",
        action.doing()
    )]
    Connect {
        action: Action,
        /// Scheme, host and port of the base URL (never a path).
        origin: String,
        reason: String,
    },

    /// The server's certificate failed verification (unknown issuer, wrong name, expired…).
    /// Not retried: nothing was sent, and waiting does not make a certificate valid.
    #[error(
        "The TLS certificate of {origin} was not accepted while {}: {reason}. Nothing was sent. \
         Check WOOSMAP_BASE_URL / base_url and any proxy that intercepts HTTPS (certificate \
         checks cannot be turned off).",
        action.doing()
    )]
    Tls {
        action: Action,
        /// Scheme, host and port of the base URL (never a path).
        origin: String,
        reason: String,
    },

    /// The connection was made (a connect that does not complete is `Connect`) and no answer
    /// came within `after`: a server, proxy or network that hangs.
    #[error(
        "The server at {origin} accepted the connection but sent no answer in {} while {}.{} \
         This is a fault of the service, a proxy or the network: check WOOSMAP_BASE_URL / \
         base_url, and try again later.",
        fmt_duration(*after), action.doing(), action.unsure()
    )]
    Timeout {
        action: Action,
        /// Scheme, host and port of the base URL (never a path).
        origin: String,
        after: Duration,
        /// The request's limit was cut short to end at the caller's deadline (it was shorter
        /// than the per-request timeout).
        cut_short: bool,
    },

    #[error(
        "The connection to Woosmap failed while {}: {reason}.{} This is usually temporary: try \
         again.",
        action.doing(), action.unsure()
    )]
    Transport { action: Action, reason: String },

    #[error(
        "Woosmap answered HTTP {status} with a body this client does not understand while {} \
         ({reason}).{} Check that WOOSMAP_BASE_URL / base_url points at the Woosmap API.",
        action.doing(), action.unsure()
    )]
    InvalidResponse {
        action: Action,
        status: u16,
        reason: String,
    },

    #[error(
        "Woosmap answered with an unexpected HTTP {status}{} while {}. Check that \
         WOOSMAP_BASE_URL / base_url points at the Woosmap API.",
        detail_suffix(detail), action.doing()
    )]
    UnexpectedStatus {
        action: Action,
        status: u16,
        detail: Option<String>,
    },

    #[error("{}", deadline_exceeded(action))]
    DeadlineExceeded {
        action: Action,
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

/// A 404's sentence: the import calls point at the dataset id, the management calls at a
/// dataset deleted since.
fn not_found(action: &Action) -> String {
    let advice = match action {
        Action::Import { .. } => {
            "Check dataset_id, and that the private key belongs to the Woosmap project that owns \
             the dataset."
        }
        Action::Manage { .. } => {
            "It may have been deleted, or the private key belongs to another Woosmap project."
        }
    };
    format!(
        "{} was not found on Woosmap (HTTP 404 from the {} endpoint). {advice}",
        action.subject_sentence(),
        action.endpoint()
    )
}

/// A 429 still in effect at the deadline. The import calls are limited per dataset and wait
/// as long as the caller's timeout allows; the management calls share one limit per endpoint.
fn rate_limited(action: &Action, retry_after: Option<Duration>) -> String {
    let after = match retry_after {
        Some(d) => format!(", retry after {}", fmt_duration(d)),
        None => String::new(),
    };
    match action {
        Action::Import {
            endpoint,
            dataset_id,
        } => format!(
            "Woosmap's rate limit for the {endpoint} endpoint of dataset {dataset_id} was still \
             in effect when the deadline came (HTTP 429{after}). Another client is probably \
             using this dataset or key; try again later or allow a longer timeout."
        ),
        Action::Manage { op, .. } => format!(
            "Woosmap's rate limit for the {op} endpoint (1 request per second) was still in \
             effect when the deadline came (HTTP 429{after}). Another client is probably using \
             this key; try again later."
        ),
    }
}

/// No pacing slot before the deadline.
fn deadline_exceeded(action: &Action) -> String {
    let (limit, advice) = match action {
        Action::Import { .. } => ("", " Allow a longer timeout."),
        Action::Manage { .. } => (" (1 request per second per endpoint)", " Try again later."),
    };
    format!(
        "The deadline passed before Woosmap could be asked to {} within its rate limit{limit}.\
         {advice}",
        action.purpose()
    )
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

    /// What the failed call was doing, when it was a call.
    pub fn action(&self) -> Option<&Action> {
        use ApiError::*;
        match self {
            InvalidPrivateKey
            | InvalidBaseUrl { .. }
            | MissingReimportKey { .. }
            | WebhookKeyRejected { .. }
            | WebhookDatasetMismatch { .. } => None,
            MissingPrivateKey { action }
            | Unauthorized { action }
            | QuotaExceeded { action, .. }
            | Forbidden { action }
            | NotFound { action }
            | Validation { action, .. }
            | RateLimited { action, .. }
            | Server { action, .. }
            | Connect { action, .. }
            | Tls { action, .. }
            | Timeout { action, .. }
            | Transport { action, .. }
            | InvalidResponse { action, .. }
            | UnexpectedStatus { action, .. }
            | DeadlineExceeded { action, .. } => Some(action),
        }
    }

    /// The dataset the failed call was about, when there was one.
    pub fn dataset_id(&self) -> Option<&DatasetId> {
        match self {
            ApiError::WebhookDatasetMismatch { expected, .. } => Some(expected),
            ApiError::MissingReimportKey { dataset_id }
            | ApiError::WebhookKeyRejected { dataset_id, .. } => Some(dataset_id),
            other => other.action().and_then(Action::dataset_id),
        }
    }

    /// Faults worth retrying with backoff: server errors, transport faults, unreadable bodies.
    /// (429 is handled separately: waited out, not backed off.)
    /// These are the faults that [may have been processed](Self::may_have_been_processed),
    /// plus connect errors.
    pub fn is_retryable(&self) -> bool {
        self.is_connect() || self.may_have_been_processed()
    }

    /// The request may have reached Woosmap and been acted on even though no clear answer
    /// came back (5xx, reset or timeout after sending, unreadable body). After a trigger, the
    /// engine must look for a new run before triggering again; after a create, the dataset
    /// may exist.
    pub fn may_have_been_processed(&self) -> bool {
        matches!(
            self,
            ApiError::Server { .. }
                | ApiError::Timeout { .. }
                | ApiError::Transport { .. }
                | ApiError::InvalidResponse { .. }
        )
    }

    /// A connect error: nothing was sent (retried even for calls that must not repeat).
    pub(super) fn is_connect(&self) -> bool {
        matches!(self, ApiError::Connect { .. })
    }

    /// Nothing reached the server (a connect or certificate failure): the slot stays free.
    pub(super) fn nothing_sent(&self) -> bool {
        matches!(self, ApiError::Connect { .. } | ApiError::Tls { .. })
    }

    /// A 429 still in effect.
    pub(super) fn is_rate_limited(&self) -> bool {
        matches!(self, ApiError::RateLimited { .. })
    }

    /// A short reason for a retry notice.
    pub(super) fn retry_reason(&self) -> String {
        match self {
            ApiError::RateLimited { .. } => "rate limited (HTTP 429)".to_owned(),
            ApiError::Server { status, .. } => format!("server error (HTTP {status})"),
            ApiError::Connect { reason, .. } => format!("could not connect: {reason}"),
            ApiError::Timeout { after, .. } => format!("no answer within {}", fmt_duration(*after)),
            ApiError::Transport { reason, .. } => format!("connection failed: {reason}"),
            ApiError::InvalidResponse { status, reason, .. } => {
                format!("unreadable response (HTTP {status}): {reason}")
            }
            other => other.to_string(),
        }
    }
}

/// `: DETAIL`, or nothing when the server gave none.
fn detail_suffix(detail: &Option<String>) -> String {
    match detail {
        Some(d) if !d.is_empty() => format!(": {d}"),
        _ => String::new(),
    }
}

/// A 422's `loc: msg` pairs in one line.
fn format_validation(errors: &[(String, String)]) -> String {
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
            action: Action::import(Endpoint::Trigger, &id()),
        };
        let s = e.to_string();
        assert!(s.contains("no credentials were found (HTTP 401)"), "{s}");
        assert!(s.contains("WOOSMAP_PRIVATE_KEY"), "{s}");
        assert!(s.contains(id().as_str()), "{s}");
        assert_eq!(e.kind(), ErrorKind::Auth);

        let e = ApiError::Validation {
            action: Action::import(Endpoint::Status, &id()),
            errors: vec![("path.dataset_id".into(), "bad uuid".into())],
        };
        assert!(
            e.to_string()
                .contains("HTTP 422: path.dataset_id: bad uuid")
        );
        assert_eq!(e.kind(), ErrorKind::Usage);

        let e = ApiError::RateLimited {
            action: Action::import(Endpoint::Trigger, &id()),
            retry_after: Some(Duration::from_secs(90)),
        };
        assert!(e.to_string().contains("retry after 1m 30s"), "{e}");
        assert_eq!(fmt_duration(Duration::from_millis(300)), "300ms");
        assert_eq!(fmt_duration(Duration::from_millis(5150)), "5s 150ms");
        assert_eq!(fmt_duration(Duration::from_millis(12_345)), "12s");
    }
}
