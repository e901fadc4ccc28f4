//! The state machine of one import (`run_import`): observe, wait for a running import, trigger
//! (confirming unclear triggers through the status before any second attempt), identify the
//! new run, follow it to the end.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::events::{Event, EventSink};
use super::progress::Progress;
use super::{EngineError, ImportSpec, Outcome, TriggerVia};
use crate::api::clock::parse_rfc3339;
use crate::api::{
    ApiError, Client, DatasetId, Instant, Run, RunStatus, TRIGGER_MARGIN, TriggerAnswer,
    TriggerClaim,
};

/// After a trigger whose outcome is unknown, how long (at least) the engine looks for a new
/// run before triggering again. The wait is also at least the trigger window, which a second
/// trigger could not beat anyway; the minimum covers the delay before a new run shows.
pub const CONFIRM_MIN: Duration = Duration::from_secs(10);

/// Runs one import to its end (see the module doc of `engine`).
///
/// - Reads the status first; while an import runs (`in_progress`), waits for it to end
///   (`WaitingForRunning`) and only then triggers: never triggers over a running import, even
///   with `wait == false`.
/// - The new run is the first status whose run id differs from the one seen just before the
///   trigger; a 404 or the previous run showing right after the trigger means "not started
///   yet".
/// - A 429 on the trigger means someone else just triggered the dataset: the engine waits out
///   the window (`Retry-After`, else the trigger limit, + margin; `Retrying`), then observes
///   again (a second `Observed`, and `WaitingForRunning` if their import runs) before
///   triggering.
/// - With `wait == false`, returns once triggered (`run: None`). With a webhook and no private
///   key (the status cannot be read), `wait == false` triggers directly without observing;
///   `wait == true` fails with `MissingPrivateKey`.
/// - `spec.timeout`, counted from the call, bounds everything → `TimedOut` with the last
///   snapshot of the new run. Cancellation ends the wait promptly → `Cancelled`.
pub async fn run_import(
    client: &Client,
    spec: ImportSpec,
    events: EventSink,
    cancel: CancellationToken,
) -> Result<Outcome, EngineError> {
    let start = Instant::now();
    let observer_sink = events.clone();
    let client = client
        .with_retry_observer(move |n| {
            observer_sink.emit(Event::Retrying {
                dataset_id: n.dataset_id.clone(),
                reason: n.reason.clone(),
                delay: n.delay,
            })
        })
        .surfacing_trigger_rate_limits();
    let mut runner = Runner {
        deadline: start.checked_add(spec.timeout).unwrap_or_else(far_future),
        start,
        start_wall: std::time::SystemTime::now(),
        client,
        spec,
        events,
        cancel,
        new_run: None,
    };
    let span = tracing::debug_span!("run_import", dataset_id = %runner.spec.dataset_id);
    tracing::Instrument::instrument(runner.run(), span).await
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}

/// How a trigger attempt ended.
enum Triggered {
    /// An import started; the new run if it was already seen (while confirming).
    Yes(Option<Run>),
    /// Another invocation's trigger, sent since this one began, serves it: nothing was sent.
    /// Its run is the first other than this one.
    ByOther { previous_run_id: Option<String> },
    /// Woosmap answered 429 (with this `Retry-After`): someone else triggered the dataset.
    RateLimited(Option<Duration>),
}

struct Runner {
    client: Client,
    spec: ImportSpec,
    events: EventSink,
    cancel: CancellationToken,
    start: Instant,
    /// `start` on the wall clock (compared, through the server's clock, with run starts).
    start_wall: std::time::SystemTime,
    deadline: Instant,
    /// The last snapshot of the new run (reported with TimedOut / Cancelled).
    new_run: Option<Run>,
}

impl Runner {
    fn id(&self) -> &DatasetId {
        &self.spec.dataset_id
    }

    fn emit(&self, event: Event) {
        self.events.emit(event);
    }

    /// The deadline ended the wait. `waited` is the timeout that ran out: the engine may stop
    /// a little before it when no further status read fits inside it.
    fn timed_out(&self) -> EngineError {
        EngineError::TimedOut {
            run: self.new_run.clone(),
            waited: self.spec.timeout,
        }
    }

    /// Awaits `fut` unless cancelled first; maps deadline errors to `TimedOut`.
    async fn guarded<T>(
        &self,
        fut: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<T, EngineError> {
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(EngineError::Cancelled { run: self.new_run.clone() }),
            r = fut => r.map_err(|e| self.api_error(e)),
        }
    }

    fn api_error(&self, e: ApiError) -> EngineError {
        let past_deadline = Instant::now() >= self.deadline;
        match e {
            ApiError::DeadlineExceeded { .. } => self.timed_out(),
            ApiError::Timeout { .. } if past_deadline => self.timed_out(),
            e => EngineError::Api(e),
        }
    }

    async fn status(&self) -> Result<Option<Run>, EngineError> {
        let (id, poll, deadline) = (self.id(), self.spec.poll_interval, self.deadline);
        self.guarded(self.client.status(id, poll, deadline)).await
    }

    /// Whether `run` started at or after this invocation began, on the server's clock (the
    /// latest server time our start can be, so an older run is never taken for ours): such a
    /// run imports data published before the invocation, so it is a valid result for it.
    fn started_since_us(&self, run: &Run) -> bool {
        let Some(started) = run.started_at().and_then(parse_rfc3339) else {
            return false;
        };
        started >= self.client.latest_server_time(self.start_wall)
    }

    fn joined(&self, run_id: Option<&str>) {
        tracing::info!(
            run_id = run_id.unwrap_or("(not visible yet)"),
            "an import started since this invocation began: following it instead of triggering"
        );
        self.emit(Event::Joined {
            dataset_id: self.id().clone(),
            run_id: run_id.map(str::to_owned),
        });
    }

    async fn run(&mut self) -> Result<Outcome, EngineError> {
        let via_webhook = matches!(self.spec.via, TriggerVia::Webhook(_));
        if via_webhook && !self.spec.wait && !self.client.has_private_key() {
            // The status cannot be read without a private key: trigger blindly (documented).
            tracing::debug!("no private key: triggering the webhook without observing");
            let answer = loop {
                match self.trigger_once(&None).await {
                    Ok(answer) => break answer,
                    Err(EngineError::Api(ApiError::RateLimited { retry_after, .. })) => {
                        self.wait_out_rate_limit(retry_after).await?
                    }
                    Err(e) => return Err(e),
                }
            };
            if let TriggerAnswer::AlreadyTriggered { .. } = answer {
                self.joined(None);
                return Ok(self.outcome(None, None, false));
            }
            self.emit(Event::Triggered {
                dataset_id: self.id().clone(),
                via_webhook,
            });
            return Ok(self.outcome(None, None, true));
        }

        let mut announced: Option<String> = None;
        let mut triggered_here = true;
        let (previous_id, seen_while_confirming) = 'observe: loop {
            // 1. Observe.
            let mut current = self.status().await?;
            self.emit(Event::Observed {
                dataset_id: self.id().clone(),
                previous: current.clone(),
            });

            // 2. Never trigger over a running import: wait for it to end. A run that started
            // since this invocation began is ours: follow it instead.
            while let Some(run) = current.as_ref() {
                if self.started_since_us(run) {
                    self.joined(Some(&run.id));
                    triggered_here = false;
                    break 'observe (None, current);
                }
                if run.status != RunStatus::InProgress {
                    break;
                }
                if announced.as_deref() != Some(run.id.as_str()) {
                    tracing::info!(run_id = %run.id, "an import is running: waiting for it to end");
                    self.emit(Event::WaitingForRunning {
                        dataset_id: self.id().clone(),
                        run_id: run.id.clone(),
                    });
                    announced = Some(run.id.clone());
                }
                current = self.status().await?;
            }
            let previous_id = current.map(|r| r.id);

            // 3. Trigger (at most once in effect). A 429 means someone else just triggered
            // this dataset: wait out the window, then look again (their import may be running).
            match self.trigger_confirmed(&previous_id).await? {
                Triggered::Yes(seen) => break (previous_id, seen),
                Triggered::ByOther { previous_run_id } => {
                    self.joined(None);
                    triggered_here = false;
                    break (previous_run_id.or(previous_id), None);
                }
                Triggered::RateLimited(retry_after) => {
                    self.wait_out_rate_limit(retry_after).await?
                }
            }
        };
        if !self.spec.wait {
            return Ok(self.outcome(previous_id, None, triggered_here));
        }

        // 4. Identify the new run and follow it.
        let mut progress = Progress::default();
        let mut snapshot = seen_while_confirming;
        loop {
            let run = match snapshot.take() {
                Some(run) => Some(run),
                None => self.status().await?,
            };
            let Some(run) = run else { continue };
            if Some(&run.id) == previous_id.as_ref() {
                continue; // the previous run still shows: the new one has not started yet
            }
            if let Some(known) = &self.new_run
                && known.id != run.id
            {
                tracing::warn!(
                    followed = %known.id,
                    latest = %run.id,
                    "another import started after ours; following the latest run"
                );
            }
            progress.update(self.id(), &run, &self.events);
            let terminal = run.status.is_terminal();
            self.new_run = Some(run);
            if terminal {
                let run = self.new_run.clone();
                return Ok(self.outcome(previous_id, run, triggered_here));
            }
        }
    }

    fn outcome(
        &self,
        previous_run_id: Option<String>,
        run: Option<Run>,
        triggered: bool,
    ) -> Outcome {
        tracing::info!(
            status = run.as_ref().map_or("triggered", |r| r.status.as_str()),
            elapsed_ms = self.start.elapsed().as_millis() as u64,
            "import done"
        );
        Outcome {
            dataset_id: self.id().clone(),
            previous_run_id,
            run,
            triggered,
        }
    }

    /// After a 429 on a trigger: waits for `Retry-After` (else the trigger window) plus the
    /// margin, cancellably, or fails at once with the 429 if that outlives the deadline.
    async fn wait_out_rate_limit(&self, retry_after: Option<Duration>) -> Result<(), EngineError> {
        let wait = retry_after.unwrap_or(self.client.limits().trigger) + TRIGGER_MARGIN;
        if Instant::now() + wait >= self.deadline {
            return Err(EngineError::Api(ApiError::RateLimited {
                dataset_id: self.id().clone(),
                endpoint: match self.spec.via {
                    TriggerVia::Api => crate::api::Endpoint::Trigger,
                    TriggerVia::Webhook(_) => crate::api::Endpoint::Webhook,
                },
                retry_after,
            }));
        }
        tracing::info!(
            wait_ms = wait.as_millis() as u64,
            "trigger rate limited (HTTP 429): someone else triggered this dataset"
        );
        self.emit(Event::Retrying {
            dataset_id: self.id().clone(),
            reason: "rate limited (HTTP 429): another client triggered this dataset; waiting, \
                     then checking its status again"
                .to_owned(),
            delay: wait,
        });
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(EngineError::Cancelled { run: self.new_run.clone() }),
            _ = tokio::time::sleep(wait) => Ok(()),
        }
    }

    /// One trigger call through the configured endpoint, on behalf of this invocation (a
    /// trigger another local process sent since it began is not repeated).
    async fn trigger_once(
        &self,
        previous_id: &Option<String>,
    ) -> Result<TriggerAnswer, EngineError> {
        let (id, deadline) = (self.id(), self.deadline);
        let claim = TriggerClaim {
            since: self.start,
            previous_run_id: previous_id.clone(),
        };
        let key = match &self.spec.via {
            TriggerVia::Api => None,
            TriggerVia::Webhook(key) => Some(key),
        };
        self.guarded(self.client.trigger_claimed(id, key, &claim, deadline))
            .await
    }

    /// Triggers an import, making sure at most one is started: when a trigger's outcome is
    /// unknown (5xx, reset or timeout after sending, unreadable answer), reads the status for
    /// a new run before trying again, for at least the trigger window (a second trigger could
    /// not be sent sooner anyway) and at least [`CONFIRM_MIN`]. Returns the new run if it was
    /// seen while confirming.
    async fn trigger_confirmed(
        &mut self,
        previous_id: &Option<String>,
    ) -> Result<Triggered, EngineError> {
        let via_webhook = matches!(self.spec.via, TriggerVia::Webhook(_));
        loop {
            let err = match self.trigger_once(previous_id).await {
                Ok(TriggerAnswer::AlreadyTriggered { previous_run_id }) => {
                    return Ok(Triggered::ByOther { previous_run_id });
                }
                Ok(TriggerAnswer::Sent) => {
                    tracing::info!("import triggered");
                    self.emit(Event::Triggered {
                        dataset_id: self.id().clone(),
                        via_webhook,
                    });
                    return Ok(Triggered::Yes(None));
                }
                Err(EngineError::Api(ApiError::RateLimited { retry_after, .. })) => {
                    return Ok(Triggered::RateLimited(retry_after));
                }
                Err(EngineError::Api(e)) if e.may_have_been_processed() => e,
                Err(e) => return Err(e),
            };

            let window = self.client.limits().trigger + TRIGGER_MARGIN;
            let confirm_until = (Instant::now() + window.max(CONFIRM_MIN)).min(self.deadline);
            tracing::info!("the trigger's outcome is unknown ({err}); looking for a new run");
            self.emit(Event::Retrying {
                dataset_id: self.id().clone(),
                reason: format!(
                    "the trigger's outcome is unknown ({}); checking the status for a new run \
                     before triggering again",
                    short_reason(&err)
                ),
                delay: confirm_until.saturating_duration_since(Instant::now()),
            });

            if let Some(run) = self.look_for_new_run(previous_id, confirm_until).await? {
                tracing::info!(run_id = %run.id, "the unclear trigger did start an import");
                self.emit(Event::Triggered {
                    dataset_id: self.id().clone(),
                    via_webhook,
                });
                return Ok(Triggered::Yes(Some(run)));
            }
            if Instant::now() >= self.deadline {
                return Err(self.timed_out());
            }
            tracing::info!("no new run appeared: triggering again");
        }
    }

    /// Polls the status until a run other than `previous_id` shows (→ `Some`), or until
    /// `until` has passed with at least one successful read showing no new run (→ `None`:
    /// safe to trigger again). While no read has succeeded, keeps reading up to the overall
    /// deadline instead: without a status there is no proof the first trigger failed.
    async fn look_for_new_run(
        &self,
        previous_id: &Option<String>,
        until: Instant,
    ) -> Result<Option<Run>, EngineError> {
        let (id, poll) = (self.id(), self.spec.poll_interval);
        let mut absent_seen = false;
        loop {
            let limit = if absent_seen { until } else { self.deadline };
            if Instant::now() >= limit {
                return if absent_seen {
                    Ok(None)
                } else {
                    Err(self.timed_out())
                };
            }
            match self.guarded(self.client.status(id, poll, limit)).await {
                Ok(Some(run)) if Some(&run.id) != previous_id.as_ref() => return Ok(Some(run)),
                Ok(_) => absent_seen = true,
                // The pacer's next slot lies past `limit`.
                Err(EngineError::TimedOut { .. }) if absent_seen => return Ok(None),
                // The client retried until `limit` already.
                Err(EngineError::Api(e))
                    if absent_seen
                        && (e.is_retryable() || matches!(e, ApiError::RateLimited { .. })) =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

fn short_reason(err: &ApiError) -> String {
    match err {
        ApiError::Server { status, .. } => format!("HTTP {status}"),
        ApiError::Timeout { .. } => "no answer in time".to_owned(),
        ApiError::Transport { reason, .. } => format!("connection failed: {reason}"),
        ApiError::InvalidResponse { status, .. } => format!("unreadable answer, HTTP {status}"),
        other => other.to_string(),
    }
}
