//! The retry loop behind every API call: take a pacing slot, send, and decide from the
//! outcome whether to wait and try again.
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
//! Status reads are shared across processes (`status_share`): a read that Woosmap answered
//! with a run or a 404 is recorded for the (base URL, key, dataset), and a status call that
//! would otherwise wait for its slot takes an answer recorded since it began instead, read
//! exactly as if it had received it (same interpretation; its `Date` feeds the server clock
//! through the machine's monotonic stamp of when that request left).

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{DATE, HeaderMap, RETRY_AFTER};
use tokio::time::Instant;

use std::sync::atomic::Ordering;

use super::client::{CONTACT_ANSWERED, CONTACT_REFUSED, Client, RetryNotice, TriggerClaim};
use super::error::{ApiError, Endpoint};
use super::pacer::{self, Acquired, PaceKey, PaceKind};
use super::request::Exchange;
use super::retry::{Backoff, parse_retry_after};
use super::status_share::{self, AnswerKey, AnswerWish, SharedAnswer};
use super::types::{DatasetId, Run};
use crate::secret::Secret;

/// Extra spacing between two triggers of a dataset, on top of `limits.trigger`.
pub const TRIGGER_MARGIN: Duration = Duration::from_secs(1);
/// Extra spacing between two status reads of a dataset, on top of the status interval.
pub const STATUS_MARGIN: Duration = Duration::from_millis(150);

/// What a call gave.
pub(super) enum Answer {
    /// The run for `Status` (`None` on 404); `None` for an accepted trigger.
    Done(Option<Run>),
    /// A trigger was accepted since the claimed moment: nothing was sent.
    AlreadyTriggered { previous_run_id: Option<String> },
    /// The trigger slot had to be waited for: nothing was sent; look at the status again.
    Recheck,
}

/// One attempt's failure, with what the retry loop needs to decide.
pub(super) enum Failure {
    /// A 429: wait this long (Retry-After, else the documented window), then retry.
    RateLimited { retry_after: Option<Duration> },
    /// Any other error.
    Error(ApiError),
}

impl Client {
    /// The retry loop shared by the three calls. Returns the run for `Status` (None on 404)
    /// and `None` for the triggers.
    pub(super) async fn call(
        &self,
        endpoint: Endpoint,
        id: &DatasetId,
        reimport_key: Option<&Secret>,
        poll_interval: Duration,
        deadline: Instant,
    ) -> Result<Option<Run>, ApiError> {
        match self
            .call_claimed(endpoint, id, reimport_key, poll_interval, deadline, None)
            .await?
        {
            Answer::Done(run) => Ok(run),
            Answer::AlreadyTriggered { .. } | Answer::Recheck => {
                unreachable!("no claim was made")
            }
        }
    }

    /// [`Client::call`], for a trigger made on behalf of `claim` (see [`TriggerClaim`]).
    pub(super) async fn call_claimed(
        &self,
        endpoint: Endpoint,
        id: &DatasetId,
        reimport_key: Option<&Secret>,
        poll_interval: Duration,
        deadline: Instant,
        claim: Option<&TriggerClaim>,
    ) -> Result<Answer, ApiError> {
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
        // Status answers are shared per (base URL, key, dataset); `wish`: this call takes one
        // that was sent after now (dropped if a shared answer turns out unreadable).
        let answer_key = match (endpoint, &self.inner.api_key) {
            (Endpoint::Status, Some((_, private_key))) => {
                Some(AnswerKey::new(&self.inner.base_key, private_key, id))
            }
            _ => None,
        };
        let mut wish = answer_key.clone().map(AnswerWish::now);
        let mut backoff = Backoff::new();
        let mut last_error: Option<ApiError> = None;
        let deadline_error = |last: Option<ApiError>| {
            last.unwrap_or_else(|| ApiError::DeadlineExceeded {
                dataset_id: id.clone(),
                endpoint,
                next_slot: None,
            })
        };

        loop {
            let request_limit = self.inner.request_timeout;
            let acquired = match claim {
                Some(claim) => {
                    // While the slot is held, look at the status again every status window.
                    let recheck = limits.status + STATUS_MARGIN;
                    pacer::acquire_trigger(
                        &key,
                        interval,
                        request_limit,
                        deadline,
                        claim.since,
                        recheck,
                    )
                    .await
                }
                None => {
                    pacer::acquire_status(&key, interval, request_limit, deadline, wish.as_ref())
                        .await
                }
            };
            let slot = match acquired {
                Ok(Acquired::Slot(slot)) => slot,
                Ok(Acquired::Shared(answer)) => match self.take_shared(id, answer) {
                    Some(run) => return Ok(Answer::Done(run)),
                    None => {
                        wish = None;
                        continue;
                    }
                },
                Ok(Acquired::Waited) => return Ok(Answer::Recheck),
                Ok(Acquired::AlreadyTriggered { previous_run_id }) => {
                    tracing::info!(
                        dataset_id = %id,
                        "a trigger was sent since this invocation began (by this or another \
                         local process): not sending another"
                    );
                    return Ok(Answer::AlreadyTriggered { previous_run_id });
                }
                Err(e) => {
                    return Err(last_error.unwrap_or_else(|| ApiError::DeadlineExceeded {
                        dataset_id: id.clone(),
                        endpoint,
                        next_slot: e
                            .ready_at
                            .map(|at| at.saturating_duration_since(Instant::now())),
                    }));
                }
            };
            let now = Instant::now();
            if now >= deadline {
                slot.not_sent();
                return Err(deadline_error(last_error));
            }
            let timeout = self.inner.request_timeout.min(deadline - now);

            if let Some(on_send) = claim.and_then(|c| c.on_send.as_ref()) {
                // From here on, the trigger may reach Woosmap whatever becomes of this call.
                (on_send.0)(true);
            }
            let sent = self.exchange(endpoint, id, reimport_key, timeout).await;
            let failure = match sent {
                Ok(exchange) => {
                    // A 429 is not a use of the window: record it with its own hold-off below.
                    if exchange.status != StatusCode::TOO_MANY_REQUESTS {
                        let share = answer_key
                            .as_ref()
                            .filter(|_| status_share::shareable(exchange.status.as_u16()))
                            .map(|key| (key.clone(), shared_answer(&exchange)));
                        match self.interpret(endpoint, id, reimport_key, exchange) {
                            Ok(run) => {
                                match (claim.filter(|_| endpoint != Endpoint::Status), share) {
                                    (Some(claim), _) => {
                                        slot.triggered(claim.previous_run_id.clone())
                                    }
                                    (None, Some((key, answer))) => slot.answered(key, answer),
                                    (None, None) => slot.received(),
                                }
                                return Ok(Answer::Done(run));
                            }
                            Err(f) => {
                                slot.received();
                                f
                            }
                        }
                    } else {
                        let retry_after = exchange
                            .headers
                            .get(RETRY_AFTER)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| parse_retry_after(v, SystemTime::now()));
                        // Every caller of this key holds off until then.
                        slot.rate_limited(
                            retry_after.unwrap_or(window) + margin,
                            retry_after.is_some(),
                        );
                        Failure::RateLimited { retry_after }
                    }
                }
                Err(e) => {
                    if self.fail_fast_first_refusal
                        && matches!(e, ApiError::Connect { .. })
                        && self.inner.contact.load(Ordering::Relaxed) == CONTACT_REFUSED
                    {
                        slot.not_sent();
                        if let Some(on_send) = claim.and_then(|c| c.on_send.as_ref()) {
                            (on_send.0)(false);
                        }
                        tracing::debug!(dataset_id = %id, %endpoint, "refused at first contact: not retrying");
                        return Err(e);
                    }
                    if matches!(e, ApiError::Connect { .. } | ApiError::Tls { .. }) {
                        // Nothing reached the server: the slot is still free.
                        slot.not_sent();
                        if let Some(on_send) = claim.and_then(|c| c.on_send.as_ref()) {
                            (on_send.0)(false);
                        }
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
}

impl Client {
    /// Reads another caller's status answer as if this call had received it: `Some(result)`,
    /// or `None` if it does not read as a result (the call then reads the status itself).
    fn take_shared(&self, id: &DatasetId, answer: SharedAnswer) -> Option<Option<Run>> {
        let SharedAnswer {
            sent,
            sent_mono,
            received,
            status,
            date,
            body,
        } = answer;
        let exchange = Exchange {
            status: StatusCode::from_u16(status).ok()?,
            headers: HeaderMap::new(),
            body,
            sent,
            sent_mono,
        };
        match self.interpret(Endpoint::Status, id, None, exchange) {
            Ok(run) => {
                if let Some(date) = &date {
                    self.observe_shared_date(date, sent_mono);
                }
                self.inner
                    .contact
                    .store(CONTACT_ANSWERED, Ordering::Relaxed);
                tracing::debug!(
                    dataset_id = %id,
                    status,
                    age_ms = SystemTime::now()
                        .duration_since(received)
                        .map_or(0, |d| d.as_millis() as u64),
                    "status: using the answer another caller received for this dataset"
                );
                Some(run)
            }
            Err(_) => {
                tracing::debug!(
                    dataset_id = %id,
                    "status: a shared answer did not read as a status; reading it ourselves"
                );
                None
            }
        }
    }
}

impl Client {
    /// Feeds the server clock with another caller's `Date`, placed on this process's monotonic
    /// clock through the machine's monotonic stamp of when that request left (without a
    /// usable stamp, the answer is no evidence of the server's time).
    fn observe_shared_date(&self, date: &str, sent_mono: Option<u64>) {
        let (Some(sent_mono), Some(now_mono)) = (sent_mono, status_share::mono_now()) else {
            return;
        };
        let Some(ago) = now_mono.checked_sub(sent_mono) else {
            return; // stamped later than now: not this boot's clock
        };
        let now = Instant::now();
        if let Some(sent) = now.checked_sub(Duration::from_nanos(ago)) {
            self.inner.server_clock.observe(date, sent, now);
        }
    }
}

/// What other callers may use of a status answer just received.
fn shared_answer(exchange: &Exchange) -> SharedAnswer {
    SharedAnswer {
        sent: exchange.sent,
        sent_mono: exchange.sent_mono,
        received: SystemTime::now(),
        status: exchange.status.as_u16(),
        date: exchange
            .headers
            .get(DATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: exchange.body.clone(),
    }
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
