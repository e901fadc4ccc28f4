//! The retry loop behind every API call, the import calls and the dataset management calls
//! alike: take a pacing slot, send, and decide from the outcome whether to wait and try again.
//! What differs between calls is a [`Call`] (how to send one attempt and read its answer) and a
//! [`Plan`] (its pacing key, windows and retry rules); every call fails with the one
//! [`ApiError`], whose classes (connect, nothing sent, retryable, rate limited) the loop reads.
//!
//! Retry policy (per call, always bounded by the caller's deadline):
//! - 429: waited out (`Retry-After` if present, else the documented window of the endpoint),
//!   then retried. Safe for every endpoint: the server refused the request.
//! - Repeatable calls (status reads, dataset reads, updates and deletes): 5xx, connect errors,
//!   resets, request timeouts and unreadable bodies are retried with capped exponential backoff
//!   and jitter (0.5 s doubling to 8 s, ±20 %), and in any case no sooner than pacing allows.
//! - Calls that must not be repeated blindly (triggers, dataset creation): only faults where
//!   the request surely never reached Woosmap are retried here: connect errors (nothing was
//!   sent) and 429 (refused). A 5xx, a reset or timeout after sending, or an unreadable 2xx body
//!   may hide an import that did start (a dataset that was created); those are returned to the
//!   caller (`may_have_been_processed()` says so), who looks before trying again.
//! - When the next attempt (pacing slot, backoff or Retry-After) would start after the
//!   deadline, the call returns the last error it saw (or a deadline error if none) instead of
//!   sleeping.
//!
//! Status reads are shared across processes (`pacer` answers): a read that Woosmap answered
//! with a run or a 404 is recorded for the (base URL, key, dataset), and a status call that
//! would otherwise wait for its slot takes an answer recorded since it began instead, read
//! exactly as if it had received it (same interpretation; its `Date` feeds the server clock
//! through the machine's monotonic stamp of when that request left).

use std::time::{Duration, SystemTime};

use pacer::{Acquired, AnswerKey, AnswerWish, Pace, PaceError, SharedAnswer, Slot, SlotKey};
use reqwest::StatusCode;
use reqwest::header::{DATE, RETRY_AFTER};
use tokio::time::Instant;

use super::error::{ApiError, Endpoint};
use super::handle::{Client, RetryNotice, TriggerClaim};
use super::request::Exchange;
use super::retry::{Backoff, parse_retry_after};
use super::types::DatasetId;

/// Extra spacing between two triggers of a dataset, on top of `limits.trigger`.
pub const TRIGGER_MARGIN: Duration = Duration::from_secs(1);
/// Extra spacing between two status reads of a dataset, on top of the status interval.
pub const STATUS_MARGIN: Duration = Duration::from_millis(150);

/// What a call gave.
pub(super) enum Answer<T> {
    /// The call's result.
    Done(T),
    /// A trigger was accepted since the claimed moment: nothing was sent.
    AlreadyTriggered { previous_run_id: Option<String> },
    /// The trigger slot had to be waited for: nothing was sent; look at the status again.
    Recheck,
}

/// One kind of call: how to send one attempt and read what came back.
pub(super) trait Call {
    type Out;
    /// Sends one request, with this timeout, and reads the whole answer.
    async fn send(&self, timeout: Duration) -> Result<Exchange, ApiError>;
    /// Reads an answer (never a 429) as the call's result.
    fn read(&self, exchange: Exchange) -> Result<Self::Out, ApiError>;
    /// Reads another caller's shared answer as if received (`None`: read it ourselves).
    fn read_shared(&self, _answer: SharedAnswer) -> Option<Self::Out> {
        None
    }
    /// The error of a 429 still in effect.
    fn rate_limited(&self, retry_after: Option<Duration>) -> ApiError;
    /// The error of a slot that could not be had before the deadline.
    fn too_late(&self, next_slot: Option<Duration>) -> ApiError;
}

/// How one call is paced and retried.
pub(super) struct Plan<'a> {
    pub key: SlotKey,
    pub pace: Pace,
    /// The documented window: the wait after a 429 without `Retry-After`.
    pub window: Duration,
    /// Added to every wait after a 429.
    pub margin: Duration,
    pub deadline: Instant,
    /// Faults after sending may be retried (the call is idempotent in effect).
    pub repeatable: bool,
    /// A trigger on behalf of this claim, looking at the status again after `recheck`.
    pub claim: Option<(&'a TriggerClaim, Duration)>,
    /// Answers shared with (and taken from) other callers.
    pub answers: Option<AnswerKey>,
    /// A 429 is returned at once instead of waited out.
    pub surface_429: bool,
    /// A refusal before any answer ends the call.
    pub fail_fast: bool,
    /// Retry notices name this dataset and endpoint.
    pub notice: Option<(DatasetId, Endpoint)>,
}

/// How one attempt ended: the call's result, or a retry to make.
type Attempted<T> = Result<T, Retry>;

/// How one attempt ended, when the loop goes on.
struct Retry {
    error: ApiError,
    delay: Duration,
}

impl Client {
    /// Runs `call` through pacing and retries as `plan` says.
    pub(super) async fn run_call<C: Call>(
        &self,
        call: &C,
        plan: &Plan<'_>,
    ) -> Result<Answer<C::Out>, ApiError> {
        let mut wish = plan.answers.clone().map(AnswerWish::now);
        let mut backoff = Backoff::new();
        let mut last_error: Option<ApiError> = None;
        loop {
            let slot = match self.take_slot(call, plan, wish.as_ref()).await {
                Ok(Taken::Slot(slot)) => slot,
                Ok(Taken::Answer(answer)) => return Ok(answer),
                Ok(Taken::SharedUnreadable) => {
                    wish = None;
                    continue;
                }
                Err(e) => {
                    let next = e
                        .ready_at
                        .map(|at| at.saturating_duration_since(Instant::now()));
                    return Err(last_error.unwrap_or_else(|| call.too_late(next)));
                }
            };
            let now = Instant::now();
            if now >= plan.deadline {
                slot.not_sent().await;
                return Err(last_error.unwrap_or_else(|| call.too_late(None)));
            }
            let timeout = self.inner.request_timeout.min(plan.deadline - now);
            let sent = call.send(timeout).await;
            let retry = match self.attempt(call, plan, slot, sent, &mut backoff).await? {
                Ok(out) => return Ok(Answer::Done(out)),
                Err(retry) => retry,
            };
            let retry = self.before_retry(plan, retry)?;
            if !retry.error.is_rate_limited() {
                // The pacer's hold-off enforces a 429's wait by itself.
                tokio::time::sleep(retry.delay).await;
            }
            last_error = Some(retry.error);
        }
    }

    /// Takes the call's slot, or what serves the call instead of one.
    async fn take_slot<C: Call>(
        &self,
        call: &C,
        plan: &Plan<'_>,
        wish: Option<&AnswerWish>,
    ) -> Result<Taken<C::Out>, PaceError> {
        let acquired = match plan.claim {
            Some((claim, recheck)) => {
                pacer::acquire_claim(&plan.key, plan.pace, plan.deadline, claim.since, recheck)
                    .await
            }
            None => pacer::acquire_or_answer(&plan.key, plan.pace, plan.deadline, wish).await,
        };
        Ok(match acquired? {
            Acquired::Slot(slot) => Taken::Slot(slot),
            Acquired::Shared(answer) => match call.read_shared(answer) {
                Some(out) => Taken::Answer(Answer::Done(out)),
                None => Taken::SharedUnreadable,
            },
            Acquired::Waited => Taken::Answer(Answer::Recheck),
            Acquired::AlreadyClaimed {
                note: previous_run_id,
            } => {
                tracing::info!(
                    scope = %plan.key.scope_label(),
                    "a trigger was sent since this invocation began (by this or another local \
                     process): not sending another"
                );
                Taken::Answer(Answer::AlreadyTriggered { previous_run_id })
            }
        })
    }

    /// Records how one attempt ended in its slot, and decides: the result, a retry, or an
    /// error to return (the outer `Err`).
    async fn attempt<C: Call>(
        &self,
        call: &C,
        plan: &Plan<'_>,
        slot: Slot,
        sent: Result<Exchange, ApiError>,
        backoff: &mut Backoff,
    ) -> Result<Attempted<C::Out>, ApiError> {
        let error = match sent {
            Ok(exchange) if exchange.status == StatusCode::TOO_MANY_REQUESTS => {
                return self
                    .rate_limited(call, plan, slot, &exchange)
                    .await
                    .map(Err);
            }
            Ok(exchange) => {
                let share = plan
                    .answers
                    .clone()
                    .filter(|_| super::pacing::shareable(exchange.status.as_u16()))
                    .map(|key| (key, shared_answer(&exchange)));
                match call.read(exchange) {
                    Ok(out) => {
                        match (plan.claim, share) {
                            (Some((claim, _)), _) => {
                                slot.claimed(claim.previous_run_id.clone()).await
                            }
                            (None, Some((key, answer))) => slot.answered(key, answer).await,
                            (None, None) => slot.received().await,
                        }
                        return Ok(Ok(out));
                    }
                    Err(e) => {
                        slot.received().await;
                        e
                    }
                }
            }
            Err(e) => {
                if plan.fail_fast && e.is_connect() && self.refused_at_first_contact() {
                    slot.not_sent().await;
                    tracing::debug!(scope = %plan.key.scope_label(), "refused at first contact: not retrying");
                    return Err(e);
                }
                if e.nothing_sent() {
                    slot.not_sent().await;
                } else {
                    slot.received().await;
                }
                e
            }
        };
        if !(error.is_connect() || (plan.repeatable && error.is_retryable())) {
            tracing::debug!(scope = %plan.key.scope_label(), route = plan.key.route, "not retrying: {error}");
            return Err(error);
        }
        let mut delay = backoff.next_delay();
        if !error.nothing_sent() {
            // The request counted as sent: the pacer also holds the next attempt back by the
            // pacing interval; report the longer of the two waits.
            delay = delay.max(plan.pace.interval);
        }
        Ok(Err(Retry { error, delay }))
    }

    /// A 429: every caller of the key holds off until its wait is over.
    async fn rate_limited<C: Call>(
        &self,
        call: &C,
        plan: &Plan<'_>,
        slot: Slot,
        exchange: &Exchange,
    ) -> Result<Retry, ApiError> {
        let retry_after = exchange
            .headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let wait = retry_after.unwrap_or(plan.window) + plan.margin;
        slot.rate_limited(wait, retry_after.is_some()).await;
        tracing::debug!(
            scope = %plan.key.scope_label(),
            route = plan.key.route,
            wait_ms = wait.as_millis() as u64,
            retry_after_header = retry_after.is_some(),
            "rate limited (HTTP 429): waiting before retrying"
        );
        let error = call.rate_limited(retry_after);
        if plan.surface_429 {
            return Err(error);
        }
        Ok(Retry { error, delay: wait })
    }

    /// Gives up if the next attempt would start after the deadline; else tells the observer.
    fn before_retry(&self, plan: &Plan<'_>, retry: Retry) -> Result<Retry, ApiError> {
        let Retry { error, delay } = &retry;
        if Instant::now() + *delay >= plan.deadline {
            tracing::debug!(
                scope = %plan.key.scope_label(),
                route = plan.key.route,
                "giving up: the next attempt would start after the deadline"
            );
            return Err(retry.error);
        }
        let reason = error.retry_reason();
        tracing::debug!(
            scope = %plan.key.scope_label(),
            route = plan.key.route,
            delay_ms = delay.as_millis() as u64,
            %reason,
            "retrying"
        );
        if let (Some(observer), Some((dataset_id, endpoint))) = (&self.on_retry, &plan.notice) {
            observer(&RetryNotice {
                dataset_id: dataset_id.clone(),
                endpoint: *endpoint,
                reason,
                delay: *delay,
            });
        }
        Ok(retry)
    }
}

/// What taking a slot gave.
enum Taken<T> {
    Slot(Slot),
    Answer(Answer<T>),
    /// Another caller's answer did not read as a result: read for ourselves.
    SharedUnreadable,
}

/// What other callers may use of an answer just received.
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
