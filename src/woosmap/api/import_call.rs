//! The three import calls (trigger, reimport webhook, status) as a [`Call`] of the retry loop:
//! their pacing plan (one slot per dataset and endpoint kind, the trigger and status windows
//! plus margins), their retry rules (status reads repeat, triggers do not), and status answers
//! shared with other processes, read exactly as if received.

use std::sync::atomic::Ordering;
use std::time::Duration;

use pacer::{Pace, SharedAnswer};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use tokio::time::Instant;

use super::call::{Answer, Call, CallError, Plan, STATUS_MARGIN, TRIGGER_MARGIN};
use super::error::{ApiError, Endpoint, fmt_duration};
use super::handle::{CONTACT_ANSWERED, Client, TriggerClaim};
use super::pacing::{self, PaceKind};
use super::request::Exchange;
use super::types::{DatasetId, Run};
use crate::secret::Secret;

impl CallError for ApiError {
    fn is_connect(&self) -> bool {
        matches!(self, ApiError::Connect { .. })
    }

    fn nothing_sent(&self) -> bool {
        matches!(self, ApiError::Connect { .. } | ApiError::Tls { .. })
    }

    fn is_retryable(&self) -> bool {
        ApiError::is_retryable(self)
    }

    fn is_rate_limited(&self) -> bool {
        matches!(self, ApiError::RateLimited { .. })
    }

    fn retry_reason(&self) -> String {
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

/// One import call.
struct ImportCall<'a> {
    client: &'a Client,
    endpoint: Endpoint,
    id: &'a DatasetId,
    reimport_key: Option<&'a Secret>,
}

impl Call for ImportCall<'_> {
    type Out = Option<Run>;
    type Err = ApiError;

    async fn send(&self, timeout: Duration) -> Result<Exchange, ApiError> {
        self.client
            .exchange(self.endpoint, self.id, self.reimport_key, timeout)
            .await
    }

    fn read(&self, exchange: Exchange) -> Result<Option<Run>, ApiError> {
        self.client
            .interpret(self.endpoint, self.id, self.reimport_key, exchange)
    }

    fn read_shared(&self, answer: SharedAnswer) -> Option<Option<Run>> {
        self.client.take_shared(self.id, answer)
    }

    fn rate_limited(&self, retry_after: Option<Duration>) -> ApiError {
        ApiError::RateLimited {
            dataset_id: self.id.clone(),
            endpoint: self.endpoint,
            retry_after,
        }
    }

    fn too_late(&self, next_slot: Option<Duration>) -> ApiError {
        ApiError::DeadlineExceeded {
            dataset_id: self.id.clone(),
            endpoint: self.endpoint,
            next_slot,
        }
    }
}

impl Client {
    /// One import call through the retry loop. Returns the run for `Status` (None on 404)
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
    ) -> Result<Answer<Option<Run>>, ApiError> {
        let plan = self.import_plan(endpoint, id, poll_interval, deadline, claim);
        let call = ImportCall {
            client: self,
            endpoint,
            id,
            reimport_key,
        };
        self.run_call(&call, &plan).await
    }

    fn import_plan<'a>(
        &self,
        endpoint: Endpoint,
        id: &DatasetId,
        poll_interval: Duration,
        deadline: Instant,
        claim: Option<&'a TriggerClaim>,
    ) -> Plan<'a> {
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
        // Status answers are shared per (base URL, key, dataset).
        let answers = match (endpoint, &self.inner.api_key) {
            (Endpoint::Status, Some((_, private_key))) => {
                Some(pacing::answer_key(&self.inner.base_key, private_key, id))
            }
            _ => None,
        };
        let triggering = endpoint != Endpoint::Status;
        Plan {
            key: pacing::slot_key(&self.inner.base_key, id, kind),
            pace: Pace {
                interval,
                window: interval,
                request_limit: self.inner.request_timeout,
            },
            window,
            margin,
            deadline,
            repeatable: !triggering,
            // While the slot is held, look at the status again every status window.
            claim: claim
                .filter(|_| triggering)
                .map(|c| (c, limits.status + STATUS_MARGIN)),
            answers,
            surface_429: self.surface_trigger_429 && triggering,
            fail_fast: self.fail_fast_first_refusal,
            notice: Some((id.clone(), endpoint)),
        }
    }

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
        if !pacing::shareable(status) {
            return None;
        }
        let exchange = Exchange {
            status: StatusCode::from_u16(status).ok()?,
            headers: HeaderMap::new(),
            body,
            sent,
            sent_mono,
        };
        let Ok(run) = self.interpret(Endpoint::Status, id, None, exchange) else {
            tracing::debug!(
                dataset_id = %id,
                "status: a shared answer did not read as a status; reading it ourselves"
            );
            return None;
        };
        if let Some(date) = &date {
            self.inner.server_clock.observe(date, sent);
        }
        self.inner
            .contact
            .store(CONTACT_ANSWERED, Ordering::Relaxed);
        tracing::debug!(
            dataset_id = %id,
            status,
            age_ms = std::time::SystemTime::now()
                .duration_since(received)
                .map_or(0, |d| d.as_millis() as u64),
            "status: using the answer another caller received for this dataset"
        );
        Some(run)
    }
}
