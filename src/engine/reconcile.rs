//! Reconcile-and-wait, written once for every backend: observe the current operation → follow
//! it when it already serves this call → wait for a running one to end (or abort it when asked)
//! → start → identify the started operation → follow it until it ends, within a deadline and
//! until cancelled. Backends (`super::backend::Backend`) supply the service's side.

use tokio_util::sync::CancellationToken;

use super::backend::{Backend, Finished, Identified, Stage, Started, Step, Until};
use tokio::time::Instant;

/// What the caller asks of one import.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Abort a running operation instead of waiting for it (only for services whose start
    /// aborts the running operation; never for Woosmap).
    pub abort_running: bool,
    /// When to return.
    pub until: Until,
    /// Bound on everything.
    pub deadline: Instant,
}

/// Runs one import against `backend`: the outcome, or the backend's error (its own, or its
/// wording of the deadline or the cancellation).
pub async fn reconcile<B: Backend>(
    backend: &mut B,
    plan: Plan,
    cancel: &CancellationToken,
) -> Result<Finished<B::Op>, B::Error> {
    enum Stop<T> {
        Done(T),
        Deadline,
        Cancelled,
    }
    let mut at = Stage::Observing;
    let stop = {
        let work = drive(backend, plan, &mut at);
        tokio::select! {
            biased;
            () = cancel.cancelled() => Stop::Cancelled,
            () = tokio::time::sleep_until(plan.deadline) => Stop::Deadline,
            r = work => Stop::Done(r),
        }
    };
    match stop {
        Stop::Done(r) => r,
        Stop::Deadline => Err(backend.timed_out(&at)),
        Stop::Cancelled => Err(backend.cancelled(&at)),
    }
}

async fn drive<B: Backend>(
    backend: &mut B,
    plan: Plan,
    at: &mut Stage<B::Op>,
) -> Result<Finished<B::Op>, B::Error> {
    let mut done = Finished {
        previous_id: None,
        id: None,
        last: None,
        started_here: true,
        replaced: false,
        waited_for: None,
        aborted: None,
    };

    if !backend.can_observe() {
        // Nothing to look at: start, and return at once (the caller did not ask to wait).
        *at = Stage::Starting;
        loop {
            match backend.start(None).await? {
                Started::Sent { id, .. } => {
                    backend.on_step(Step::Started { id: id.as_deref() });
                    done.id = id;
                    return Ok(done);
                }
                Started::Joined { previous_id } => {
                    backend.on_step(Step::Joined(None));
                    done.previous_id = previous_id;
                    done.started_here = false;
                    return Ok(done);
                }
                Started::Recheck => continue,
            }
        }
    }

    // 1. Observe; 2. follow what serves this call, wait for what runs; 3. start.
    let mut seen: Option<B::Op> = 'observe: loop {
        *at = Stage::Observing;
        // Decided again from this observation (after a `Recheck` the one to abort may be gone).
        done.aborted = None;
        let mut current = backend.observe().await?;
        backend.on_step(Step::Observed(current.as_ref()));
        while let Some(op) = current.as_ref() {
            if backend.serves_this_call(op) {
                backend.on_step(Step::Joined(Some(op)));
                done.started_here = false;
                done.previous_id = None;
                *at = Stage::Started {
                    id: None,
                    last: None,
                };
                break 'observe current;
            }
            if !backend.blocks_start(op) {
                break;
            }
            let id = B::op_id(op).to_owned();
            if plan.abort_running {
                backend.on_step(Step::Aborting(op));
                done.aborted = Some(id);
                break;
            }
            if done.waited_for.as_deref() != Some(id.as_str()) {
                backend.on_step(Step::WaitingFor(op));
                done.waited_for = Some(id);
            }
            *at = Stage::WaitingFor(op.clone());
            current = backend.observe().await?;
        }
        done.previous_id = current.as_ref().map(|op| B::op_id(op).to_owned());
        *at = Stage::Starting;
        match backend.start(current.as_ref()).await? {
            Started::Sent { id, seen } => {
                backend.on_step(Step::Started { id: id.as_deref() });
                *at = Stage::Started {
                    id: id.clone(),
                    last: None,
                };
                done.id = id;
                break seen;
            }
            Started::Joined { previous_id } => {
                backend.on_step(Step::Joined(None));
                done.started_here = false;
                if previous_id.is_some() {
                    done.previous_id = previous_id;
                }
                *at = Stage::Started {
                    id: None,
                    last: None,
                };
                break None;
            }
            Started::Recheck => continue 'observe,
        }
    };
    if plan.until == Until::Started {
        return Ok(done);
    }

    // 4. Identify the started operation and follow it.
    loop {
        let op = match seen.take() {
            Some(op) => Some(op),
            None => backend.observe().await?,
        };
        let ours = done.id.as_deref();
        match backend.identify(op.as_ref(), ours, done.previous_id.as_deref()) {
            Identified::NotYet => continue,
            Identified::Replaced => {
                done.replaced = true;
                return Ok(done);
            }
            Identified::Ours => {}
        }
        let Some(op) = op else { continue };
        backend.on_step(Step::Following(&op));
        let end = backend.is_final(&op) || plan.until == Until::Seen;
        // A backend that names the operation only once it shows (Woosmap) is told the id of
        // the one identified last: it follows the latest.
        let id = B::op_id(&op).to_owned();
        *at = Stage::Started {
            id: Some(id.clone()),
            last: Some(op.clone()),
        };
        done.last = Some(op);
        if end {
            done.id = Some(id);
            return Ok(done);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The loop against a scripted backend, on tokio's paused clock.
    use super::*;
    use std::time::Duration;

    /// (id, final, blocks a start)
    type Op = (String, bool, bool);

    /// Observations served in order (the last one repeats, one per second); counts starts.
    struct Scripted {
        seen: Vec<Option<Op>>,
        started: u32,
        start_id: Option<String>,
        steps: Vec<String>,
    }

    #[derive(Debug, PartialEq)]
    enum Err {
        TimedOut(String),
        Cancelled,
    }

    impl Backend for Scripted {
        type Op = Op;
        type Error = Err;
        async fn observe(&mut self) -> Result<Option<Op>, Err> {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok(if self.seen.len() > 1 {
                self.seen.remove(0)
            } else {
                self.seen[0].clone()
            })
        }
        fn op_id(op: &Op) -> &str {
            &op.0
        }
        fn is_final(&self, op: &Op) -> bool {
            op.1
        }
        fn blocks_start(&self, op: &Op) -> bool {
            op.2
        }
        async fn start(&mut self, _: Option<&Op>) -> Result<Started<Op>, Err> {
            self.started += 1;
            Ok(Started::Sent {
                id: self.start_id.clone(),
                seen: None,
            })
        }
        fn identify(&self, op: Option<&Op>, ours: Option<&str>, prev: Option<&str>) -> Identified {
            match (op, ours) {
                (Some(op), Some(ours)) if op.0 == ours => Identified::Ours,
                (_, Some(_)) => Identified::Replaced,
                (Some(op), None) if Some(op.0.as_str()) != prev => Identified::Ours,
                _ => Identified::NotYet,
            }
        }
        fn on_step(&mut self, step: Step<'_, Op>) {
            self.steps.push(match step {
                Step::Observed(op) => format!("observed {:?}", op.map(|o| &o.0)),
                Step::WaitingFor(op) => format!("waiting {}", op.0),
                Step::Aborting(op) => format!("aborting {}", op.0),
                Step::Joined(op) => format!("joined {:?}", op.map(|o| &o.0)),
                Step::Started { id } => format!("started {id:?}"),
                Step::Following(op) => format!("following {}", op.0),
            });
        }
        fn timed_out(&self, at: &Stage<Op>) -> Err {
            Err::TimedOut(match at {
                Stage::Started { id, .. } => format!("started {id:?}"),
                Stage::WaitingFor(op) => format!("waiting {}", op.0),
                other => format!("{other:?}"),
            })
        }
        fn cancelled(&self, _: &Stage<Op>) -> Err {
            Err::Cancelled
        }
    }

    fn backend(seen: &[Option<(&str, bool, bool)>], start_id: Option<&str>) -> Scripted {
        Scripted {
            seen: seen
                .iter()
                .map(|o| o.map(|(a, b, c)| (a.to_owned(), b, c)))
                .collect(),
            started: 0,
            start_id: start_id.map(str::to_owned),
            steps: Vec::new(),
        }
    }

    fn plan(abort_running: bool, until: Until, secs: u64) -> Plan {
        Plan {
            abort_running,
            until,
            deadline: Instant::now() + Duration::from_secs(secs),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_running_operation_is_waited_for_then_ours_is_followed() {
        let mut b = backend(
            &[
                Some(("theirs", false, true)),
                Some(("theirs", false, true)),
                Some(("theirs", true, false)),
                Some(("theirs", true, false)),
                Some(("mine", false, true)),
                Some(("mine", true, false)),
            ],
            None,
        );
        let p = plan(false, Until::Final, 60);
        let done = reconcile(&mut b, p, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(done.last.as_ref().map(|o| o.0.as_str()), Some("mine"));
        assert_eq!(done.id.as_deref(), Some("mine"));
        assert_eq!(done.previous_id.as_deref(), Some("theirs"));
        assert_eq!(done.waited_for.as_deref(), Some("theirs"));
        assert_eq!((done.aborted, b.started), (None, 1));
        assert_eq!(
            b.steps,
            [
                "observed Some(\"theirs\")",
                "waiting theirs",
                "started None",
                "following mine",
                "following mine"
            ],
            "one wait event per operation; the previous run is not taken for ours"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn abort_running_starts_at_once_and_says_which() {
        let mut b = backend(
            &[Some(("theirs", false, true)), Some(("mine", true, false))],
            Some("mine"),
        );
        let p = plan(true, Until::Final, 60);
        let done = reconcile(&mut b, p, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(done.aborted.as_deref(), Some("theirs"));
        assert_eq!(done.waited_for, None);
        assert!(b.steps.contains(&"aborting theirs".to_owned()));
    }

    #[tokio::test(start_paused = true)]
    async fn an_operation_serving_this_call_is_followed_not_started() {
        struct Serving(Scripted);
        // Reuse the scripted backend, treating "joinable" as serving this call.
        impl Backend for Serving {
            type Op = Op;
            type Error = Err;
            async fn observe(&mut self) -> Result<Option<Op>, Err> {
                self.0.observe().await
            }
            fn op_id(op: &Op) -> &str {
                &op.0
            }
            fn is_final(&self, op: &Op) -> bool {
                op.1
            }
            fn serves_this_call(&self, op: &Op) -> bool {
                op.0 == "joinable"
            }
            fn blocks_start(&self, op: &Op) -> bool {
                op.2
            }
            async fn start(&mut self, p: Option<&Op>) -> Result<Started<Op>, Err> {
                self.0.start(p).await
            }
            fn identify(&self, o: Option<&Op>, ours: Option<&str>, p: Option<&str>) -> Identified {
                self.0.identify(o, ours, p)
            }
            fn on_step(&mut self, step: Step<'_, Op>) {
                self.0.on_step(step)
            }
            fn timed_out(&self, at: &Stage<Op>) -> Err {
                self.0.timed_out(at)
            }
            fn cancelled(&self, at: &Stage<Op>) -> Err {
                self.0.cancelled(at)
            }
        }
        let mut b = Serving(backend(
            &[
                Some(("joinable", false, true)),
                Some(("joinable", true, false)),
            ],
            None,
        ));
        let p = plan(false, Until::Final, 60);
        let done = reconcile(&mut b, p, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!((b.0.started, done.started_here), (0, false));
        assert_eq!(done.id.as_deref(), Some("joinable"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_replaced_operation_ends_and_a_deadline_names_the_stage() {
        let mut b = backend(&[None, Some(("other", false, true))], Some("mine"));
        let p = plan(false, Until::Final, 60);
        let done = reconcile(&mut b, p, &CancellationToken::new())
            .await
            .unwrap();
        assert!(done.replaced && done.last.is_none());

        let mut b = backend(&[None, Some(("mine", false, true))], Some("mine"));
        let p = plan(false, Until::Final, 30);
        let err = reconcile(&mut b, p, &CancellationToken::new())
            .await
            .unwrap_err();
        assert_eq!(err, Err::TimedOut("started Some(\"mine\")".into()));

        let mut b = backend(&[Some(("theirs", false, true))], None);
        let p = plan(false, Until::Final, 30);
        let err = reconcile(&mut b, p, &CancellationToken::new())
            .await
            .unwrap_err();
        assert_eq!(err, Err::TimedOut("waiting theirs".into()));
        assert_eq!(b.started, 0, "never started over a running operation");
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_and_returning_early() {
        let cancel = CancellationToken::new();
        cancel.cancel();
        let mut b = backend(&[None], Some("mine"));
        let err = reconcile(&mut b, plan(false, Until::Final, 60), &cancel)
            .await
            .unwrap_err();
        assert_eq!((err, b.started), (Err::Cancelled, 0));

        let mut b = backend(&[None, Some(("mine", false, false))], Some("mine"));
        let done = reconcile(
            &mut b,
            plan(false, Until::Started, 60),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert!(done.last.is_none() && done.id.as_deref() == Some("mine"));

        let mut b = backend(&[None, Some(("mine", false, false))], Some("mine"));
        let done = reconcile(
            &mut b,
            plan(false, Until::Seen, 60),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(
            done.last.map(|o| o.1),
            Some(false),
            "returned while running"
        );
    }
}
