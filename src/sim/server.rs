//! The simulated Datasets API: runs with timelines on the server's clock, the published rate
//! windows (1 trigger per 90 s, 1 status read per 5 s, per dataset, measured at arrival),
//! faults drawn per request from the seed, and a record of what every invocation sent, which
//! the invariants read. Requests arrive after a network delay; a request dropped before it
//! arrives never reaches the server.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;
use tokio::time::Instant;

use super::scenario::{Faults, History, Scenario, dataset};
use crate::woosmap::api::Endpoint;
use crate::woosmap::api::sim_transport::{SimAnswer, SimFault, SimFuture, SimRequest, Transport};

const TRIGGER_WINDOW_MS: i64 = 90_000;
const STATUS_WINDOW_MS: i64 = 5_000;

/// How a run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Success,
    Failed,
    /// Undocumented `cancelled`, every step ended.
    Cancelled,
    /// Undocumented `queued`, steps open forever.
    Queued,
}

/// A run on the server; times in ms since the simulation's start (negative: before it).
#[derive(Debug, Clone)]
pub(crate) struct SimRun {
    pub id: String,
    pub dataset: usize,
    /// When its first step started (it shows from then on).
    pub start_ms: i64,
    duration_ms: i64,
    ending: Ending,
}

/// A trigger the server processed.
#[derive(Debug, Clone)]
pub(crate) struct Accepted {
    /// `None`: someone else's.
    pub machine: Option<usize>,
    pub dataset: usize,
    pub at_ms: i64,
}

#[derive(Debug, Default)]
struct Windows {
    /// (arrival, machine) of the last request that opened the window.
    trigger: Option<(i64, Option<usize>)>,
    status: Option<(i64, Option<usize>)>,
}

/// What the invariants read.
#[derive(Debug, Default)]
pub(crate) struct Record {
    pub runs: Vec<SimRun>,
    pub accepted: Vec<Accepted>,
    /// Invocations from which a trigger request left (the transport was called).
    pub trigger_left: Vec<usize>,
    /// 429s of a window opened by the same machine: our own pacing failed.
    pub pacing_429: Vec<String>,
}

struct World {
    rng: fastrand::Rng,
    faults: Faults,
    epoch_ms: u64,
    windows: Vec<Windows>,
    record: Record,
    trace: String,
    /// The arrival being handled, ms since the simulation's start.
    now_ms: i64,
}

/// The simulated API.
pub(crate) struct Server {
    t0: Instant,
    world: Mutex<World>,
}

/// What processing a request decided.
struct Decision {
    answer: Result<SimAnswer, SimFault>,
    /// Extra delay before the answer (`None`: never answers).
    delay: Option<Duration>,
}

impl Server {
    pub(crate) fn new(scenario: &Scenario, t0: Instant) -> Server {
        let mut rng = fastrand::Rng::with_seed(scenario.server_epoch_ms);
        let mut record = Record::default();
        for (n, history) in scenario.history.iter().enumerate() {
            let (start_ms, duration_ms) = match *history {
                History::None => continue,
                History::Old => (-3_600_000, 60_000),
                History::EndedJustBefore(ago) => {
                    (-(ago.as_millis() as i64), ago.as_millis() as i64 - 1_000)
                }
                History::Running(ago) => (
                    -(ago.as_millis() as i64),
                    ago.as_millis() as i64 + rng.i64(10_000..=300_000),
                ),
            };
            record.runs.push(SimRun {
                id: format!("h{n}"),
                dataset: n,
                start_ms,
                duration_ms: duration_ms.max(1),
                ending: Ending::Success,
            });
        }
        Server {
            t0,
            world: Mutex::new(World {
                rng,
                faults: scenario.faults.clone(),
                epoch_ms: scenario.server_epoch_ms,
                windows: (0..scenario.datasets).map(|_| Windows::default()).collect(),
                record,
                trace: String::new(),
                now_ms: 0,
            }),
        }
    }

    fn now_ms(&self) -> i64 {
        self.t0.elapsed().as_millis() as i64
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Triggers by others, at the scenario's times (refused inside the window, like anyone's).
    pub(crate) fn schedule_others(self: &Arc<Self>, scenario: &Scenario) {
        for &(ds, at) in &scenario.others {
            let server = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(server.t0 + at).await;
                let now = server.now_ms();
                let mut w = server.world();
                let open = w.windows[ds]
                    .trigger
                    .is_none_or(|(t, _)| now - t >= TRIGGER_WINDOW_MS);
                if open {
                    w.windows[ds].trigger = Some((now, None));
                    let run = w.start_run(ds, now, None);
                    let _ = writeln!(
                        w.trace,
                        "{:>9.3}s others trigger d{ds} -> run {run}",
                        now as f64 / 1e3
                    );
                }
            });
        }
    }

    /// What the invariants read (and the trace).
    pub(crate) fn with_record<T>(&self, f: impl FnOnce(&Record) -> T) -> T {
        f(&self.world().record)
    }

    /// An engine event of invocation `inv`, in the trace (step and entry events left out).
    pub(crate) fn note_event(&self, inv: usize, event: &crate::woosmap::import::Event) {
        use crate::woosmap::import::Event;
        if matches!(
            event,
            Event::StepStarted { .. } | Event::StepFinished { .. } | Event::Entry { .. }
        ) {
            return;
        }
        let now = self.now_ms();
        let _ = writeln!(
            self.world().trace,
            "{:>9.3}s inv{inv} event: {event}",
            now as f64 / 1e3
        );
    }

    pub(crate) fn take_trace(&self) -> String {
        std::mem::take(&mut self.world().trace)
    }

    fn handle(&self, inv: usize, machine: usize, request: &SimRequest) -> Decision {
        let now = self.now_ms();
        let mut w = self.world();
        let ds = dataset_index(request);
        let roll = w.rng.u32(0..1000);
        let kind = match request.endpoint {
            Endpoint::Status => "GET status",
            _ => "POST trigger",
        };
        w.now_ms = now;
        let decision = w.decide(roll, request.endpoint, ds, machine, now);
        let shown = match &decision.answer {
            Ok(a) => format!("{}", a.status),
            Err(f) => format!("{f:?}"),
        };
        let delay = match decision.delay {
            Some(d) if d.is_zero() => String::new(),
            Some(d) => format!(" after +{:.3}s", d.as_secs_f64()),
            None => " never".to_owned(),
        };
        let note = w.note(&decision);
        let _ = writeln!(
            w.trace,
            "{:>9.3}s inv{inv} m{machine} {kind} d{ds} -> {shown}{delay} {note}",
            now as f64 / 1e3,
        );
        decision
    }
}

fn dataset_index(request: &SimRequest) -> usize {
    let id = request.dataset_id.as_str();
    id[id.len() - 12..].parse().unwrap_or(0)
}

impl World {
    fn start_run(&mut self, ds: usize, now: i64, _by: Option<usize>) -> String {
        let delay = self
            .rng
            .i64(0..=self.faults.start_delay_max.as_millis() as i64);
        let ending = match self.rng.u32(0..1000) {
            r if r < self.faults.undocumented / 2 => Ending::Cancelled,
            r if r < self.faults.undocumented => Ending::Queued,
            r if r < 1000 - (1000 - self.faults.undocumented) / 5 => Ending::Success,
            _ => Ending::Failed,
        };
        let id = format!("r{}", self.record.runs.len());
        self.record.runs.push(SimRun {
            id: id.clone(),
            dataset: ds,
            start_ms: now + delay,
            duration_ms: self.rng.i64(5_000..=180_000),
            ending,
        });
        id
    }

    fn note(&self, decision: &Decision) -> String {
        match &decision.answer {
            Ok(a) => String::from_utf8_lossy(&a.body).chars().take(60).collect(),
            Err(_) => String::new(),
        }
    }

    /// Window, fault and answer for one arrival.
    fn decide(
        &mut self,
        roll: u32,
        endpoint: Endpoint,
        ds: usize,
        machine: usize,
        now: i64,
    ) -> Decision {
        let f = self.faults.clone();
        let mut at = 0;
        let mut hit = |rate: u32| {
            at += rate;
            roll < at
        };
        let now_answer = |answer| Decision {
            answer,
            delay: Some(Duration::ZERO),
        };
        if hit(f.net.rate_limit) {
            let retry_after = self.rng.bool().then(|| self.rng.u64(1..=30));
            return now_answer(Ok(self.too_many(retry_after)));
        }
        if hit(f.net.reset) {
            return now_answer(Err(SimFault::Reset));
        }
        if hit(f.net.http_5xx) {
            return now_answer(Ok(self.plain(503, json!({"detail": "Service Unavailable"}))));
        }
        if hit(f.net.silent) {
            return Decision {
                answer: Err(SimFault::Reset),
                delay: None,
            };
        }
        let stale = endpoint == Endpoint::Status && hit(f.stale);
        let lost = hit(f.net.lost_after);
        let after_5xx = hit(f.net.http_5xx_after);
        let slow = hit(f.net.slow);
        let answer = self.process(endpoint, ds, machine, now, stale);
        let answer = if lost && answer.status < 300 {
            return now_answer(Err(SimFault::Reset));
        } else if after_5xx && answer.status < 300 {
            self.plain(502, json!({"detail": "Bad Gateway"}))
        } else {
            answer
        };
        let delay = if slow {
            Duration::from_millis(self.rng.u64(0..=f.net.slow_max.as_millis() as u64))
        } else {
            Duration::ZERO
        };
        Decision {
            answer: Ok(answer),
            delay: Some(delay),
        }
    }

    /// The answer of the real service (windows included).
    fn process(
        &mut self,
        endpoint: Endpoint,
        ds: usize,
        machine: usize,
        now: i64,
        stale: bool,
    ) -> SimAnswer {
        let (window, last) = match endpoint {
            Endpoint::Status => (STATUS_WINDOW_MS, &mut self.windows[ds].status),
            _ => (TRIGGER_WINDOW_MS, &mut self.windows[ds].trigger),
        };
        if let Some((t, by)) = *last
            && now - t < window
        {
            if by == Some(machine) {
                self.record.pacing_429.push(format!(
                    "{:.3}s m{machine} {endpoint} d{ds}: {} ms after its own previous request",
                    now as f64 / 1e3,
                    now - t
                ));
            }
            return self.too_many(None);
        }
        *last = Some((now, Some(machine)));
        match endpoint {
            Endpoint::Status => self.status(ds, now, stale),
            _ => {
                self.start_run(ds, now, Some(machine));
                self.record.accepted.push(Accepted {
                    machine: Some(machine),
                    dataset: ds,
                    at_ms: now,
                });
                self.plain(202, json!({"dataset_id": dataset(ds).as_str()}))
            }
        }
    }

    fn status(&mut self, ds: usize, now: i64, stale: bool) -> SimAnswer {
        let visible: Vec<&SimRun> = self
            .record
            .runs
            .iter()
            .filter(|r| r.dataset == ds && r.start_ms <= now)
            .collect();
        // A stale read shows the run before the latest one while the latest is fresh (under
        // 30 s), as the reference says happens right after a trigger; never a 404 for a
        // dataset that has a run.
        let fresh = visible.last().is_some_and(|r| now - r.start_ms < 30_000);
        let back = usize::from(stale && fresh && visible.len() >= 2);
        let pick = visible.len().checked_sub(1 + back).map(|i| visible[i]);
        match pick {
            None => self.plain(404, json!({"details": "Dataset was not found"})),
            Some(run) => {
                let body = view(run, now, self.epoch_ms, self.faults.steps_reversed);
                self.plain(200, body)
            }
        }
    }

    fn plain(&self, status: u16, body: serde_json::Value) -> SimAnswer {
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        if !self.faults.no_date {
            headers.push(("date".to_owned(), self.date_header()));
        }
        SimAnswer {
            status,
            headers,
            body: body.to_string().into_bytes(),
        }
    }

    fn too_many(&self, retry_after: Option<u64>) -> SimAnswer {
        let mut answer = self.plain(429, json!({"details": "Rate limit reached"}));
        if let Some(secs) = retry_after {
            answer
                .headers
                .push(("retry-after".to_owned(), secs.to_string()));
        }
        answer
    }

    /// The `Date` header now: the server's clock minus the lag of the front end's clock.
    fn date_header(&self) -> String {
        let ms = self.epoch_ms as i64 + self.now_ms - self.faults.date_lag.as_millis() as i64;
        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
    }
}

/// The status body of `run` at `now`.
fn view(run: &SimRun, now: i64, epoch_ms: u64, reversed: bool) -> serde_json::Value {
    let stamp = |ms: i64| {
        let at = UNIX_EPOCH + Duration::from_millis((epoch_ms as i64 + ms).max(0) as u64);
        humantime::format_rfc3339_millis(at).to_string()
    };
    let elapsed = now - run.start_ms;
    let fetch_len = run.duration_ms / 5;
    let open_forever = run.ending == Ending::Queued;
    let ended = |len: i64| !open_forever && elapsed >= len;
    let mut steps = vec![json!({
        "name": "fetch",
        "start": stamp(run.start_ms),
        "end": ended(fetch_len).then(|| stamp(run.start_ms + fetch_len)),
        "status": if ended(fetch_len) { "success" } else { "in_progress" },
        "entries": [],
    })];
    let done = ended(run.duration_ms);
    let (final_status, step_status) = match run.ending {
        Ending::Success => ("success", "success"),
        Ending::Failed => ("failed", "failed"),
        Ending::Cancelled => ("cancelled", "cancelled"),
        Ending::Queued => ("queued", "in_progress"),
    };
    if ended(fetch_len) {
        steps.push(json!({
            "name": "import",
            "start": stamp(run.start_ms + fetch_len),
            "end": done.then(|| stamp(run.start_ms + run.duration_ms)),
            "status": if done { step_status } else { "in_progress" },
            "entries": [],
        }));
    }
    if reversed {
        steps.reverse();
    }
    let status = if done || open_forever {
        final_status
    } else {
        "in_progress"
    };
    json!({ "id": run.id, "status": status, "steps": steps })
}

/// The transport of one invocation: tags its requests and records the triggers that leave.
pub(crate) struct Tagged {
    pub server: Arc<Server>,
    pub inv: usize,
    pub machine: usize,
}

impl Transport for Tagged {
    fn exchange(&self, request: SimRequest) -> SimFuture {
        if request.endpoint != Endpoint::Status {
            self.server.world().record.trigger_left.push(self.inv);
        }
        let (server, inv, machine) = (self.server.clone(), self.inv, self.machine);
        Box::pin(async move {
            let latency = server.world().faults.latency;
            tokio::time::sleep(latency).await;
            let decision = server.handle(inv, machine, &request);
            match decision.delay {
                Some(delay) => tokio::time::sleep(latency + delay).await,
                None => std::future::pending::<()>().await,
            }
            decision.answer
        })
    }
}
