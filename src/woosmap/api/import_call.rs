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

use super::call::{Answer, Call, Plan, STATUS_MARGIN, TRIGGER_MARGIN};
use super::error::{Action, ApiError, Endpoint};
use super::handle::{CONTACT_ANSWERED, Client, OnSend, TriggerClaim};
use super::pacing::{self, PaceKind};
use super::request::Exchange;
use super::types::{DatasetId, Run};
use crate::secret::Secret;

/// One import call.
struct ImportCall<'a> {
    client: &'a Client,
    endpoint: Endpoint,
    id: &'a DatasetId,
    reimport_key: Option<&'a Secret>,
    /// The engine's record that a trigger may have left the process (triggers only).
    on_send: Option<&'a OnSend>,
}

impl Call for ImportCall<'_> {
    type Out = Option<Run>;

    async fn send(&self, timeout: Duration) -> Result<Exchange, ApiError> {
        if let Some(on_send) = self.on_send {
            // From here on, the trigger may reach Woosmap whatever becomes of this call.
            (on_send.0)(true);
        }
        let sent = self
            .client
            .exchange(self.endpoint, self.id, self.reimport_key, timeout)
            .await;
        if let (Some(on_send), Err(ApiError::Connect { .. } | ApiError::Tls { .. })) =
            (self.on_send, &sent)
        {
            // Nothing reached the server.
            (on_send.0)(false);
        }
        sent
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
            action: Action::import(self.endpoint, self.id),
            retry_after,
        }
    }

    fn too_late(&self, next_slot: Option<Duration>) -> ApiError {
        ApiError::DeadlineExceeded {
            action: Action::import(self.endpoint, self.id),
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
            on_send: claim
                .filter(|_| endpoint != Endpoint::Status)
                .and_then(|c| c.on_send.as_ref()),
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
            self.observe_shared_date(date, sent_mono);
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

impl Client {
    /// Feeds the server clock with the `Date` of an answer another process received, placed
    /// on this process's clock through the boot's monotonic stamp of when its request left.
    fn observe_shared_date(&self, date: &str, sent_mono: Option<u64>) {
        let (Some(sent_mono), Some(now_mono)) = (sent_mono, pacer::mono_now()) else {
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
