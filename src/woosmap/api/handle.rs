//! The client's handle and what every layer of a call shares: `Client` (cheap to clone) and
//! its `Inner` (HTTP client, base URL, key, limits, first-contact state, server clock,
//! in-flight cap), the retry observer's notice and the trigger claim. The layers of a call sit
//! on it, one way: `client` (the public calls) → `call` (the pacing and retry loop) →
//! `request` / `interpret` (one exchange) → `handle`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicU8;
use std::time::Duration;

use reqwest::header::HeaderValue;
use tokio::time::Instant;

use super::clock::ServerClock;
use super::config::RateLimits;
use super::error::Endpoint;
use super::types::DatasetId;
use crate::secret::Secret;

/// On whose behalf a trigger is sent: an invocation that began at `since` (its data was
/// published before then, so any trigger sent at or after `since` serves it), and the run that
/// was latest when it decided to trigger.
#[derive(Debug, Clone)]
pub struct TriggerClaim {
    pub since: Instant,
    pub previous_run_id: Option<String>,
    /// Called just before each trigger request is handed to the network (the engine's record
    /// that a trigger may have left the process).
    pub on_send: Option<OnSend>,
}

/// A callback run with `true` just before a request leaves (see [`TriggerClaim::on_send`]),
/// and with `false` when that request surely never reached the server (the connection or
/// its TLS handshake failed).
#[derive(Clone)]
pub struct OnSend(pub Arc<dyn Fn(bool) + Send + Sync>);

impl std::fmt::Debug for OnSend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnSend(fn)")
    }
}

/// Most requests one client has on the wire at once. Pacing gives every dataset its own
/// windows, so a call for 1,000 datasets would otherwise open about one connection per
/// dataset at each window; past this many, a request waits for one to end (and reuses its
/// connection). Waiting happens after its pacing slot and before it is sent.
pub const MAX_IN_FLIGHT: usize = 32;

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
    pub(super) inner: Arc<Inner>,
    pub(super) on_retry: Option<RetryObserver>,
    /// Triggers return a 429 at once instead of waiting it out (see
    /// [`Client::surfacing_trigger_rate_limits`]).
    pub(super) surface_trigger_429: bool,
    /// A refusal before any answer ends the call (see [`Client::failing_fast_on_first_refusal`]).
    pub(super) fail_fast_first_refusal: bool,
}

/// [`Inner::contact`] values: nothing yet, a connection refused before any answer, an answer.
pub(super) const CONTACT_NONE: u8 = 0;
pub(super) const CONTACT_REFUSED: u8 = 1;
pub(super) const CONTACT_ANSWERED: u8 = 2;

pub(super) struct Inner {
    pub(super) http: reqwest::Client,
    /// Base URL without trailing slash, no query, no fragment.
    pub(super) base: reqwest::Url,
    /// `base` as a string: the pacer key's first part.
    pub(super) base_key: Arc<str>,
    /// `scheme://host[:port]` for messages.
    pub(super) origin: String,
    pub(super) api_key: Option<(HeaderValue, Secret)>,
    pub(super) request_timeout: Duration,
    pub(super) limits: RateLimits,
    /// Whether the server ever answered, or refused the connection before that (`CONTACT_*`).
    pub(super) contact: AtomicU8,
    /// The server's clock relative to ours, from `Date` headers.
    pub(super) server_clock: ServerClock,
    /// Requests on the wire ([`MAX_IN_FLIGHT`]).
    pub(super) in_flight: tokio::sync::Semaphore,
    /// How long the server has been silent (see [`Client::silent_status`]).
    pub(super) silence: std::sync::Mutex<Silence>,
    /// The simulated network, in place of HTTP (`sim_transport`).
    #[cfg(feature = "sim")]
    pub(super) transport: Option<Arc<dyn super::sim_wire::Transport>>,
}

/// How long the server has left requests unanswered: from when the first of them left (the
/// first request sent since the last answer or connection error), and whether one of them
/// already timed out. Read by [`Client::silent_status`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Silence {
    pub(crate) since: Option<Instant>,
    pub(crate) endpoint: Option<Endpoint>,
    pub(crate) timed_out: bool,
}

impl Silence {
    pub(super) fn sent(&mut self, endpoint: Endpoint) {
        if self.since.is_none() {
            self.since = Some(Instant::now());
            self.endpoint = Some(endpoint);
        }
    }

    /// An answer (or a fault that is not silence: refused, reset…) ends the silence.
    pub(super) fn ended(&mut self) {
        *self = Silence::default();
    }
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

impl Client {
    /// A connection was refused before this client ever got an answer.
    pub(super) fn refused_at_first_contact(&self) -> bool {
        self.inner
            .contact
            .load(std::sync::atomic::Ordering::Relaxed)
            == CONTACT_REFUSED
    }

    /// The credentials a call may hold, for scrubbing server text.
    pub(super) fn secrets<'a>(&'a self, reimport_key: Option<&'a Secret>) -> Vec<&'a Secret> {
        let mut out = Vec::with_capacity(2);
        if let Some((_, k)) = &self.inner.api_key {
            out.push(k);
        }
        if let Some(k) = reimport_key {
            out.push(k);
        }
        out
    }
}
