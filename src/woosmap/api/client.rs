//! `Client`: the three Datasets API calls (trigger import, reimport webhook, status) as typed
//! methods, sharing the process-wide pacer. How a call runs is split by meaning:
//! `config` (what a client is built from), `call` (the pacing and retry loop), `request` (one
//! HTTP exchange), `interpret` (response → result or `ApiError`).
//!
//! First contact (with [`Client::failing_fast_on_first_refusal`]): a connection refused before
//! this client ever got an answer is returned at once instead of retried; it almost always
//! means a wrong base URL, and a user should hear so within a second, not a minute. Once any
//! answer came, refusals are retried like other connect errors.
//!
//! Secrets: the private key travels only in the `X-Api-Key` header (marked sensitive); the
//! reimport key only in the webhook path. URLs are never logged nor kept in errors (reqwest
//! errors are stripped with `without_url`), the webhook path is logged as
//! `/datasets/hooks/reimport/***`, and any text from the server or the network stack is
//! scrubbed of both keys. Redirects are not followed, so no header can leak to another host.

use std::sync::Arc;
use std::sync::atomic::AtomicU8;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderValue;
use tokio::time::Instant;

use super::call::Answer;
use super::clock::ServerClock;
use super::config::{
    ClientConfig, DEFAULT_REQUEST_TIMEOUT, RateLimits, parse_base_url, shown_base_url,
};
use super::error::{Action, ApiError, Endpoint};
use super::handle::{CONTACT_ANSWERED, CONTACT_NONE, Inner};
pub use super::handle::{Client, MAX_IN_FLIGHT, RetryNotice, TriggerClaim};
use super::request::chain;
use super::types::{DatasetId, Run};
use crate::secret::Secret;

/// How [`Client::trigger_claimed`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerAnswer {
    /// This call's trigger was accepted.
    Sent,
    /// A trigger sent since the claim's moment (by this or another local process) serves it;
    /// its new run is the first other than `previous_run_id`.
    AlreadyTriggered { previous_run_id: Option<String> },
    /// Nothing was sent: the trigger slot had to be waited for (another trigger of the dataset
    /// was recent), and an import may have started meanwhile. Read the status again, then
    /// call again.
    Recheck,
}

/// Shortest wait without any answer that [`Client::silent_status`] calls silence.
pub const SILENCE_MIN: Duration = Duration::from_secs(1);

/// Longest connect phase of a request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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
                contact: AtomicU8::new(CONTACT_NONE),
                server_clock: ServerClock::default(),
                in_flight: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
                silence: Default::default(),
                #[cfg(feature = "sim")]
                transport: None,
            }),
            on_retry: None,
            surface_trigger_429: false,
            fail_fast_first_refusal: false,
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

    /// A clone that returns a refused connection at once, without retrying, as long as no
    /// request of this client (or its clones) ever got an answer: a refusal at first contact
    /// is almost always a wrong base URL. Front ends that a person watches use this.
    pub fn failing_fast_on_first_refusal(&self) -> Client {
        Client {
            fail_fast_first_refusal: true,
            ..self.clone()
        }
    }

    /// The base URL in use (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.inner.base_key
    }

    /// Whether the server ever answered a request of this client or of its clones (an answer
    /// another local process shared counts too).
    pub fn ever_answered(&self) -> bool {
        self.inner
            .contact
            .load(std::sync::atomic::Ordering::Relaxed)
            == CONTACT_ANSWERED
    }

    /// When a caller's deadline comes while the server is silent: the error that says so, for
    /// `dataset`. Silent means that a status read has waited at least [`SILENCE_MIN`] for any
    /// answer (no response since it left, nor a connection error), and that the server either
    /// never answered this client or left the request before unanswered too (it timed out). A
    /// deadline that lands while a healthy server takes its time is not silence.
    pub fn silent_status(&self, dataset: &DatasetId) -> Option<ApiError> {
        let silence = *self.inner.silence.lock().unwrap_or_else(|p| p.into_inner());
        let since = silence.since?;
        let after = since.elapsed();
        let silent = silence.endpoint == Some(Endpoint::Status)
            && after >= SILENCE_MIN
            && (!self.ever_answered() || silence.timed_out);
        silent.then(|| ApiError::Timeout {
            action: Action::import(Endpoint::Status, dataset),
            origin: self.inner.origin.clone(),
            after,
            cut_short: true,
        })
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
                action: Action::import(Endpoint::Trigger, id),
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

    /// Triggers an import on behalf of an invocation (see [`TriggerClaim`]): through the
    /// webhook when `reimport_key` is given, else the import endpoint. If a trigger of this
    /// dataset was accepted since `claim.since` (by this process or another one sharing the
    /// pacer folder), or gets accepted while this call waits for its slot, sends nothing and
    /// answers [`TriggerAnswer::AlreadyTriggered`]. Errors as for `trigger_import` /
    /// `trigger_webhook`.
    pub async fn trigger_claimed(
        &self,
        id: &DatasetId,
        reimport_key: Option<&Secret>,
        claim: &TriggerClaim,
        deadline: Instant,
    ) -> Result<TriggerAnswer, ApiError> {
        let endpoint = match reimport_key {
            Some(key) if key.is_blank() => {
                return Err(ApiError::MissingReimportKey {
                    dataset_id: id.clone(),
                });
            }
            Some(_) => Endpoint::Webhook,
            None if self.inner.api_key.is_none() => {
                return Err(ApiError::MissingPrivateKey {
                    action: Action::import(Endpoint::Trigger, id),
                });
            }
            None => Endpoint::Trigger,
        };
        let answer = self
            .call_claimed(
                endpoint,
                id,
                reimport_key,
                Duration::ZERO,
                deadline,
                Some(claim),
            )
            .await?;
        Ok(match answer {
            Answer::Done(_) => TriggerAnswer::Sent,
            Answer::AlreadyTriggered { previous_run_id } => {
                TriggerAnswer::AlreadyTriggered { previous_run_id }
            }
            Answer::Recheck => TriggerAnswer::Recheck,
        })
    }

    /// The latest moment the server's clock can have read at the local instant `local` (from
    /// the `Date` headers of this client's answers and the monotonic clock); `None` before any
    /// `Date` header was received: no evidence of the server's time.
    pub fn latest_server_time(&self, local: Instant) -> Option<SystemTime> {
        self.inner.server_clock.latest_server_time(local)
    }

    /// The earliest moment the server's clock can have read at the local instant `local` (a
    /// lagging `Date` header leaves it true); `None` before any `Date` header was received.
    pub fn earliest_server_time(&self, local: Instant) -> Option<SystemTime> {
        self.inner.server_clock.earliest_server_time(local)
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
                action: Action::import(Endpoint::Status, id),
            });
        }
        self.call(Endpoint::Status, id, None, poll_interval, deadline)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
