//! Woosmap's side of the engine: one dataset import (`run_import`) as a
//! [`Backend`](crate::engine::backend::Backend) of the shared reconcile-and-wait loop. Observing is a
//! paced status read; a run that started since this invocation began serves it; a running run
//! blocks a trigger; starting is a trigger whose unclear outcome is confirmed through the status
//! before any second attempt (and a 429 waited out); the new run is the first other than the
//! one seen before the trigger; snapshots become step and entry events, each once.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::events::{Event, EventSink};
use super::progress::Progress;
use super::{EngineError, ImportSpec, NotTriggeredReason, Outcome, TriggerVia};
use crate::engine::backend::{
    Backend, Identified, SendMark, Sent, Stage, Started, State, Step, Until,
};
use crate::engine::reconcile::{Plan, reconcile};
use crate::woosmap::api::clock::parse_rfc3339;
use crate::woosmap::api::{
    Action, ApiError, Client, DatasetId, Endpoint, Instant, OnSend, Run, TRIGGER_MARGIN,
    TriggerAnswer, TriggerClaim,
};

/// After a trigger whose outcome is unknown, how long (at least) the engine looks for a new
/// run before triggering again. The wait is also at least the trigger window, which a second
/// trigger could not beat anyway; the minimum covers the delay before a new run shows.
pub const CONFIRM_MIN: Duration = Duration::from_secs(10);

/// How far the `Date` header of Woosmap's answers may lag the clock that stamps the runs'
/// steps without an older run being taken for this invocation's: a run already under way at
/// the invocation's first status read is adopted only if it started at least this long after
/// the latest time the invocation can have begun on the server's clock. (Such a run started
/// sooner is waited for, then another import is triggered. A run that shows up after the first
/// read needs no margin: it was not there then.)
pub const DATE_LAG_TOLERANCE: Duration = Duration::from_secs(10);

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
    let deadline = start.checked_add(spec.timeout).unwrap_or_else(far_future);
    let plan = Plan {
        abort_running: false,
        until: if spec.wait {
            Until::Final
        } else {
            Until::Started
        },
        deadline,
    };
    let mut runner = Runner {
        deadline,
        start,
        client,
        spec,
        events,
        new_run: None,
        progress: Progress::default(),
        undocumented_noted: std::sync::Mutex::new(None),
        sending: None,
        previous_run_id: None,
    };
    let span = tracing::debug_span!("run_import", dataset_id = %runner.spec.dataset_id);
    let done = tracing::Instrument::instrument(reconcile(&mut runner, plan, &cancel), span).await?;
    Ok(runner.outcome(done.previous_id, done.last, done.started_here))
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
    /// Nothing was sent after waiting for the trigger slot: observe again first.
    Recheck,
    /// Woosmap answered 429 (with this `Retry-After`): someone else triggered the dataset.
    RateLimited(Option<Duration>),
}

/// One import of one dataset, as the engine's backend.
struct Runner {
    client: Client,
    spec: ImportSpec,
    events: EventSink,
    start: Instant,
    deadline: Instant,
    /// The last snapshot of the new run (reported with TimedOut / Cancelled).
    new_run: Option<Run>,
    /// What was already reported about the run followed.
    progress: Progress,
    /// The run whose undocumented status was already reported.
    undocumented_noted: std::sync::Mutex<Option<String>>,
    /// The engine's record of a trigger leaving (set by `start`).
    sending: Option<SendMark>,
    /// The run that was latest before the trigger (or the join), for the reports of a
    /// timeout or a cancellation.
    previous_run_id: Option<String>,
}

impl Runner {
    fn id(&self) -> &DatasetId {
        &self.spec.dataset_id
    }

    fn emit(&self, event: Event) {
        self.events.emit(event);
    }

    /// The deadline ended the wait (or no further call fits before it). Provisional: the
    /// engine words the outcome from its state ([`Backend::timed_out`]), so whether a trigger
    /// left is never decided here.
    fn deadline_error(&self) -> EngineError {
        EngineError::TimedOut {
            run: self.new_run.clone(),
            waited: self.spec.timeout,
            sent: Sent::Nothing,
            previous_run_id: self.previous_run_id.clone(),
        }
    }

    /// The outcome of a deadline in the engine's state `at`: nothing sent → `NotTriggered`
    /// (why: `cause`'s reason when the backend knew one, else the stage); a trigger sent (or
    /// another's import joined) → `TimedOut`, saying whether the trigger's answer was lost.
    fn deadline_outcome(&self, at: &State<Run>, cause: Option<EngineError>) -> EngineError {
        let joined = matches!(at.stage, Stage::Started { .. });
        if at.may_have_started() || joined {
            return EngineError::TimedOut {
                run: self.new_run.clone(),
                waited: self.spec.timeout,
                sent: at.sent,
                previous_run_id: self.previous_run_id.clone(),
            };
        }
        let (reason, next) = match (cause, &at.stage) {
            (
                Some(EngineError::NotTriggered {
                    reason,
                    next_slot_in,
                    ..
                }),
                _,
            ) => (reason, next_slot_in),
            (_, Stage::WaitingFor(run)) => (
                NotTriggeredReason::RunningImport {
                    run_id: run.id.clone(),
                },
                None,
            ),
            (_, Stage::Starting) => (NotTriggeredReason::TriggerWindow, None),
            _ => (NotTriggeredReason::StatusNotRead, None),
        };
        self.not_triggered(reason, next)
    }

    /// Awaits `fut`, mapping deadline errors to `NotTriggered` / `TimedOut` (cancellation is
    /// the engine's).
    async fn guarded<T>(
        &self,
        fut: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<T, EngineError> {
        fut.await.map_err(|e| self.api_error(e))
    }

    fn not_triggered(&self, reason: NotTriggeredReason, next: Option<Duration>) -> EngineError {
        EngineError::NotTriggered {
            dataset_id: self.id().clone(),
            reason,
            next_slot_in: next,
            waited: self.spec.timeout,
        }
    }

    fn api_error(&self, e: ApiError) -> EngineError {
        let past_deadline = Instant::now() >= self.deadline;
        match e {
            ApiError::DeadlineExceeded {
                action:
                    Action::Import {
                        endpoint: Endpoint::Trigger | Endpoint::Webhook,
                        ..
                    },
                next_slot,
            } => self.not_triggered(NotTriggeredReason::TriggerWindow, next_slot),
            ApiError::DeadlineExceeded { .. } => self.deadline_error(),
            // A request the deadline cut short, to a server that answered before: the deadline
            // ended the wait. A server that never answered, or that had a whole request timeout
            // to answer, is silent: a network fault (`e`), named as such.
            ApiError::Timeout {
                cut_short: true, ..
            } if past_deadline && self.client.ever_answered() => self.deadline_error(),
            e => EngineError::Api(e),
        }
    }

    /// A paced status read; says once per run when an open run's status is undocumented.
    async fn status(&self) -> Result<Option<Run>, EngineError> {
        let (id, poll, deadline) = (self.id(), self.spec.poll_interval, self.deadline);
        let run = self.guarded(self.client.status(id, poll, deadline)).await?;
        if let Some(run) = run.as_ref().filter(|r| !r.is_finished()) {
            self.note_undocumented(run);
        }
        Ok(run)
    }

    /// Whether there is server evidence that `run` started at or after this invocation began
    /// (README "When is a run mine"): its earliest step start is at or after the latest time
    /// the server's clock can have read when the invocation began (from the answers' `Date`
    /// headers and the monotonic clock). For the run of the first observation, which may have
    /// started just before the invocation, at least [`DATE_LAG_TOLERANCE`] after (the `Date`
    /// header may lag the clock that stamps steps); a run that showed up later was not there
    /// at the first read, which the upper bound confirms. No `Date` header seen, or a step
    /// without a readable start: no evidence, not ours. Such a run imports data published
    /// before the invocation, so it is a valid result for it. (A run that had already ended at
    /// the first observation is never asked about: the engine rules it out.)
    fn started_since_us(&self, run: &Run, at_first_observation: bool) -> bool {
        let Some(started) = run.started_at_evidence() else {
            return false;
        };
        let margin = if at_first_observation {
            DATE_LAG_TOLERANCE
        } else {
            Duration::ZERO
        };
        self.client
            .latest_server_time(self.start)
            .is_some_and(|began| started >= began + margin)
    }

    /// Whether there is server evidence that `run` started before this invocation began: a
    /// step start earlier than the earliest time the server's clock can have read then. Such
    /// a run is never this invocation's, not even as the new run after its trigger (a stale
    /// status read before the trigger may have hidden it).
    fn surely_older(&self, run: &Run) -> bool {
        let Some(started) = run.started_at().and_then(parse_rfc3339) else {
            return false;
        };
        self.client
            .earliest_server_time(self.start)
            .is_some_and(|began| started < began)
    }

    /// Says once per run that its status is not a documented value while its steps are
    /// still open (the engine keeps waiting, bounded by the deadline).
    fn note_undocumented(&self, run: &Run) {
        if !run.status.is_undocumented() {
            return;
        }
        let mut noted = self
            .undocumented_noted
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if noted.as_deref() != Some(run.id.as_str()) {
            tracing::warn!(
                run_id = %run.id,
                "run {} has the undocumented status {:?} and steps still open; waiting for \
                 its steps to end",
                run.id,
                run.status.as_str()
            );
            *noted = Some(run.id.clone());
        }
    }

    fn joined(&mut self, run_id: Option<&str>) {
        tracing::info!(
            run_id = run_id.unwrap_or("(not visible yet)"),
            "an import started since this invocation began: following it instead of triggering"
        );
        self.emit(Event::Joined {
            dataset_id: self.id().clone(),
            run_id: run_id.map(str::to_owned),
        });
    }

    /// Triggers without a status to look at (webhook, no private key, not waiting).
    async fn trigger_blind(&mut self) -> Result<Started<Run>, EngineError> {
        tracing::debug!("no private key: triggering the webhook without observing");
        loop {
            match self.trigger_once(&None).await {
                // Without a private key there is no status to look at: claim again.
                Ok(TriggerAnswer::Recheck) => continue,
                Ok(TriggerAnswer::Sent) => {
                    return Ok(Started::Sent {
                        id: None,
                        seen: None,
                    });
                }
                Ok(TriggerAnswer::AlreadyTriggered { .. }) => {
                    return Ok(Started::Joined { previous_id: None });
                }
                Err(EngineError::Api(ApiError::RateLimited { retry_after, .. })) => {
                    self.wait_out_rate_limit(retry_after).await?
                }
                Err(e) => return Err(e),
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
    /// margin, or fails at once with the 429 if that outlives the deadline.
    async fn wait_out_rate_limit(&self, retry_after: Option<Duration>) -> Result<(), EngineError> {
        let wait = retry_after.unwrap_or(self.client.limits().trigger) + TRIGGER_MARGIN;
        if Instant::now() + wait >= self.deadline {
            return Err(self.not_triggered(NotTriggeredReason::RateLimited, Some(wait)));
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
        tokio::time::sleep(wait).await;
        Ok(())
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
            on_send: self.sending.clone().map(|mark| {
                OnSend(std::sync::Arc::new(move |leaving| {
                    if leaving {
                        mark.mark()
                    } else {
                        mark.never_left()
                    }
                }))
            }),
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
        loop {
            let err = match self.trigger_once(previous_id).await {
                Ok(TriggerAnswer::AlreadyTriggered { previous_run_id }) => {
                    return Ok(Triggered::ByOther { previous_run_id });
                }
                Ok(TriggerAnswer::Recheck) => return Ok(Triggered::Recheck),
                Ok(TriggerAnswer::Sent) => return Ok(Triggered::Yes(None)),
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
                return Ok(Triggered::Yes(Some(run)));
            }
            if Instant::now() >= self.deadline {
                return Err(self.deadline_error());
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
                    Err(self.deadline_error())
                };
            }
            match self.guarded(self.client.status(id, poll, limit)).await {
                Ok(Some(run))
                    if Some(&run.id) != previous_id.as_ref() && !self.surely_older(&run) =>
                {
                    return Ok(Some(run));
                }
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

impl Backend for Runner {
    type Op = Run;
    type Error = EngineError;

    /// The status cannot be read without a private key: a webhook trigger that is not waited
    /// for goes out blind (documented).
    fn can_observe(&self) -> bool {
        let via_webhook = matches!(self.spec.via, TriggerVia::Webhook(_));
        !(via_webhook && !self.spec.wait && !self.client.has_private_key())
    }

    async fn observe(&mut self) -> Result<Option<Run>, EngineError> {
        self.status().await
    }

    fn op_id(run: &Run) -> &str {
        &run.id
    }

    fn is_final(&self, run: &Run) -> bool {
        run.is_finished()
    }

    /// A run that started since this invocation began imports data published before it.
    fn serves_this_call(&self, run: &Run, at_first_observation: bool) -> bool {
        self.started_since_us(run, at_first_observation)
    }

    /// Never trigger over a running import.
    fn blocks_start(&self, run: &Run) -> bool {
        !run.is_finished()
    }

    /// Triggers (at most once in effect). A 429 means someone else just triggered this
    /// dataset: the window is waited out, then the status is read again (their import may be
    /// running).
    async fn start(
        &mut self,
        previous: Option<&Run>,
        sending: &SendMark,
    ) -> Result<Started<Run>, EngineError> {
        self.sending = Some(sending.clone());
        if !self.can_observe() {
            return self.trigger_blind().await;
        }
        let previous_id = previous.map(|r| r.id.clone());
        self.previous_run_id = previous_id.clone();
        Ok(match self.trigger_confirmed(&previous_id).await? {
            Triggered::Yes(seen) => Started::Sent { id: None, seen },
            Triggered::Recheck => {
                tracing::debug!("waited for the trigger slot: observing again first");
                Started::Recheck
            }
            Triggered::ByOther { previous_run_id } => {
                self.previous_run_id = previous_run_id.clone();
                Started::Joined {
                    previous_id: previous_run_id,
                }
            }
            Triggered::RateLimited(retry_after) => {
                self.wait_out_rate_limit(retry_after).await?;
                Started::Recheck
            }
        })
    }

    /// The new run is the first status showing a run other than the one seen before the
    /// trigger (a 404 or the previous run right after the trigger: not started yet), and
    /// never one with server evidence that it started before this invocation began. A later
    /// run replacing it is followed instead (with a warning).
    fn identify(
        &self,
        run: Option<&Run>,
        _ours: Option<&str>,
        previous: Option<&str>,
    ) -> Identified {
        match run {
            Some(run) if Some(run.id.as_str()) != previous && !self.surely_older(run) => {
                Identified::Ours
            }
            _ => Identified::NotYet,
        }
    }

    fn on_step(&mut self, step: Step<'_, Run>) {
        match step {
            Step::Observed(previous) => {
                self.previous_run_id = previous.map(|r| r.id.clone());
                self.emit(Event::Observed {
                    dataset_id: self.id().clone(),
                    previous: previous.cloned(),
                })
            }
            Step::WaitingFor(run) => {
                tracing::info!(run_id = %run.id, "an import is running: waiting for it to end");
                self.emit(Event::WaitingForRunning {
                    dataset_id: self.id().clone(),
                    run_id: run.id.clone(),
                });
            }
            // Woosmap imports are never aborted (the engine is never asked to).
            Step::Aborting(_) => {}
            Step::Joined(run) => self.joined(run.map(|r| r.id.as_str())),
            Step::Started { .. } => {
                tracing::info!("import triggered");
                self.emit(Event::Triggered {
                    dataset_id: self.id().clone(),
                    via_webhook: matches!(self.spec.via, TriggerVia::Webhook(_)),
                });
            }
            Step::Following(run) => {
                if let Some(known) = &self.new_run
                    && known.id != run.id
                {
                    tracing::warn!(
                        followed = %known.id,
                        latest = %run.id,
                        "another import started after ours; following the latest run"
                    );
                }
                self.progress
                    .update(&self.spec.dataset_id, run, &self.events);
                self.new_run = Some(run.clone());
            }
        }
    }

    /// Every deadline the backend meets is provisional (see `deadline_error`).
    fn is_deadline(&self, err: &EngineError) -> bool {
        matches!(
            err,
            EngineError::TimedOut { .. } | EngineError::NotTriggered { .. }
        )
    }

    /// The deadline came. While a status read waited on a silent server and no trigger left,
    /// that is the fault to report (a network fault, not a timeout of ours); otherwise the
    /// outcome of the engine's state.
    fn timed_out(&self, at: &State<Run>, cause: Option<EngineError>) -> EngineError {
        if !at.may_have_started()
            && let Some(silent) = self.client.silent_status(self.id())
        {
            return EngineError::Api(silent);
        }
        self.deadline_outcome(at, cause)
    }

    fn cancelled(&self, at: &State<Run>) -> EngineError {
        EngineError::Cancelled {
            run: self.new_run.clone(),
            sent: at.sent,
            waiting_for: match &at.stage {
                Stage::WaitingFor(run) => Some(run.id.clone()),
                _ => None,
            },
            previous_run_id: self.previous_run_id.clone(),
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
