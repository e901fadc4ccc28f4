//! The simulated Rocket.Chat import API: one current operation (`new`, `loading`, `ready`,
//! `importing`, then `done`, `error` or `canceled`; an operation aborted by `import.new` or
//! `import.clear` turns invalid and reads as `error`), `import.new` / `addUsers` / `run` /
//! `status` / `clear` acting on the current operation as Rocket.Chat's do, a per-client rate
//! limiter announcing `X-RateLimit-*` on the server's own (skewed) clock, a `Date` header, and
//! the seed's faults. It records what the invariants need: who created and who aborted each
//! operation, what each invocation last read, every 429 and the requests after it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::scenario::{Faults, Foreign, Limits, Scenario};
use crate::rocketchat::sim_transport::{SimAnswer, SimFuture, SimRequest, Transport};

/// Who created an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Creator {
    Inv(usize),
    /// Another administrator (index in the scenario's others; `None`: the initial one).
    Other(Option<usize>),
}

/// One operation on the server.
#[derive(Debug, Clone)]
pub(crate) struct Op {
    pub id: String,
    pub user: String,
    pub creator: Creator,
    pub state: &'static str,
    pub valid: bool,
    pub staged: u64,
    pub completed: u64,
    pub failed: u64,
}

impl Op {
    /// What `import.status` shows: an invalid operation reads as `error` (unless done).
    pub(crate) fn shown_state(&self) -> &'static str {
        if !self.valid && self.state != "done" {
            "error"
        } else {
            self.state
        }
    }

    pub(crate) fn in_progress(&self) -> bool {
        self.valid && matches!(self.state, "new" | "loading" | "ready" | "importing")
    }

    fn json(&self) -> Value {
        let status = match self.state {
            "new" => "importer_new",
            "loading" => "importer_preparing_users",
            "ready" => "importer_user_selection",
            "importing" => "importer_importing_users",
            "done" => "importer_done",
            "canceled" => "importer_import_cancelled",
            _ => "importer_import_failed",
        };
        json!({
            "_id": self.id, "type": "api", "importerKey": "api", "status": status,
            "valid": self.valid, "user": self.user,
            "count": {"total": self.staged, "users": self.staged,
                      "completed": self.completed, "error": self.failed},
        })
    }
}

/// An operation in progress aborted by a request (`import.new` or `import.clear`).
#[derive(Debug, Clone)]
pub(crate) struct Abort {
    pub inv: usize,
    pub route: String,
    pub op: String,
    pub creator: Creator,
    /// The invocation's last status read (processed before this) showed this operation in
    /// progress: it knew it was someone's work.
    pub seen: bool,
    pub at_ms: u64,
}

/// What the invariants read.
#[derive(Debug, Default)]
pub(crate) struct Record {
    pub ops: Vec<Op>,
    pub aborts: Vec<Abort>,
    /// `import.new` requests processed, per invocation: the operation each created.
    pub created: BTreeMap<usize, Vec<String>>,
    /// Requests sent before the reset of a 429 answered to the same invocation and route.
    pub early_retries: Vec<String>,
    /// 429s of a window spent by the invocation's own calls only.
    pub pacing_429: Vec<String>,
    /// The invocation's operations as they stood when it ended.
    pub at_end: BTreeMap<usize, Vec<Op>>,
    /// Invocations whose `addUsers` or `run` acted on an operation they did not create (it
    /// replaced theirs after their `import.new`: the API acts on the current operation). A race
    /// no client can close; counted, not an invariant.
    pub into_other: Vec<usize>,
    /// `import.run` requests whose invocation had not read, since its last `import.addUsers`,
    /// a status showing its own operation current.
    pub unverified_runs: Vec<String>,
}

/// One client's window of one route.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// Server ms when it resets.
    reset_ms: u64,
    used: u64,
    /// Spent by a fault (another client at the same address), not by our calls only.
    by_fault: bool,
    /// An answer announcing it reached the client: from then on its pacing knows it.
    announced: bool,
}

struct World {
    rng: fastrand::Rng,
    faults: Faults,
    limits: Option<Limits>,
    skew_ms: i64,
    local_epoch_ms: u64,
    current: Option<usize>,
    /// The operation each invocation's last processed status read showed in progress.
    last_read: BTreeMap<usize, Option<String>>,
    /// The current operation each invocation's last status read showed (any state), cleared
    /// by its `import.addUsers`.
    last_current: BTreeMap<usize, Option<String>>,
    windows: BTreeMap<(usize, String), Window>,
    /// Server ms of the last 429's reset, per (invocation, route).
    limited: BTreeMap<(usize, String), u64>,
    /// Requests seen per (invocation, route), for the scenario's forced faults.
    seen: BTreeMap<(usize, String), usize>,
    record: Record,
    trace: String,
}

/// The simulated server.
pub(crate) struct Server {
    t0: Instant,
    world: Mutex<World>,
}

/// What the server does with one request.
struct Decision {
    answer: Result<SimAnswer, String>,
    /// The window its answer announces (route, reset), once received.
    window: Option<(String, u64)>,
    /// When to answer, after the return latency (`None`: never).
    delay: Option<Duration>,
}

impl Decision {
    /// No answer: the connection breaks after `delay` (`None`: never answered).
    fn lost(delay: Option<Duration>) -> Decision {
        Decision {
            answer: Err(if delay.is_some() {
                "connection reset (simulated)".to_owned()
            } else {
                String::new()
            }),
            delay,
            window: None,
        }
    }

    fn answer(answer: SimAnswer, window: Option<(String, u64)>, delay: Duration) -> Decision {
        Decision {
            answer: Ok(answer),
            delay: Some(delay),
            window,
        }
    }
}

impl Server {
    pub(crate) fn new(scenario: &Scenario, t0: Instant, seed: u64) -> Server {
        Server {
            t0,
            world: Mutex::new(World {
                rng: fastrand::Rng::with_seed(seed ^ 0x5e7e_0c4a),
                faults: scenario.faults.clone(),
                limits: scenario.limits,
                skew_ms: scenario.skew_ms,
                local_epoch_ms: scenario.local_epoch_ms,
                current: None,
                last_read: BTreeMap::new(),
                last_current: BTreeMap::new(),
                windows: BTreeMap::new(),
                limited: BTreeMap::new(),
                seen: BTreeMap::new(),
                record: Record::default(),
                trace: String::new(),
            }),
        }
    }

    fn elapsed_ms(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Our wall clock now (every simulated machine's).
    pub(crate) fn local_now_ms(&self) -> u64 {
        self.world().local_epoch_ms + self.elapsed_ms()
    }

    /// The initial operation and the other administrators' operations, each created at its
    /// time (aborting the current one, as `import.new` does) and moved through its steps.
    pub(crate) fn schedule_others(self: &Arc<Self>, scenario: &Scenario) {
        let all = scenario.initial.iter().map(|f| (None, f.clone())).chain(
            scenario
                .others
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, f)| (Some(i), f)),
        );
        for (who, f) in all {
            let server = self.clone();
            tokio::spawn(async move {
                let Foreign { user, at, steps } = f;
                tokio::time::sleep_until(server.t0 + at).await;
                let index = {
                    let mut w = server.world();
                    let now = server.elapsed_ms();
                    let index = w.create(Creator::Other(who), &user, "others", None, now);
                    w.record.ops[index].state = steps[0].1;
                    w.record.ops[index].staged = 5;
                    index
                };
                for &(after, state) in &steps[1..] {
                    tokio::time::sleep_until(server.t0 + at + after).await;
                    let mut w = server.world();
                    let op = &mut w.record.ops[index];
                    if !op.valid {
                        return;
                    }
                    op.state = state;
                    if state == "done" {
                        op.completed = op.staged;
                    }
                    let _ = writeln!(
                        w.trace,
                        "{:>9.3}s others: op{index} -> {state}",
                        server.elapsed_ms() as f64 / 1e3
                    );
                }
            });
        }
    }

    pub(crate) fn with_record<T>(&self, f: impl FnOnce(&Record) -> T) -> T {
        f(&self.world().record)
    }

    /// Notes a line of invocation `inv` (its events and outcome) in the trace.
    pub(crate) fn note(&self, inv: usize, line: &str) {
        let now = self.elapsed_ms();
        let mut w = self.world();
        let _ = writeln!(w.trace, "{:>9.3}s inv{inv} {line}", now as f64 / 1e3);
    }

    /// Invocation `inv` ended: keeps its operations as they stand.
    pub(crate) fn ended(&self, inv: usize) {
        let mut w = self.world();
        let ids = w.record.created.get(&inv).cloned().unwrap_or_default();
        let ops = w
            .record
            .ops
            .iter()
            .filter(|o| ids.contains(&o.id))
            .cloned()
            .collect();
        w.record.at_end.insert(inv, ops);
    }

    pub(crate) fn take_trace(&self) -> String {
        std::mem::take(&mut self.world().trace)
    }

    /// Our import of operation `index` ends after its users are imported.
    fn schedule_import(self: &Arc<Self>, index: usize, took: Duration, fails: bool, failed: u64) {
        let server = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(took).await;
            let mut w = server.world();
            let op = &mut w.record.ops[index];
            if !op.valid || op.state != "importing" {
                return;
            }
            op.state = if fails { "error" } else { "done" };
            op.failed = failed.min(op.staged);
            op.completed = op.staged - op.failed;
            let line = format!("op{index} -> {}", op.state);
            let _ = writeln!(
                w.trace,
                "{:>9.3}s server: {line}",
                server.elapsed_ms() as f64 / 1e3
            );
        });
    }

    /// Processes one request of invocation `inv` now.
    fn handle(self: &Arc<Self>, inv: usize, req: &SimRequest, scenario: &Scenario) -> Decision {
        let now = self.elapsed_ms();
        let mut w = self.world();
        let key = (inv, req.route.clone());
        w.note_retry(&key, now);
        let (before, after) = w.draw(&key, scenario);
        let at = (req, inv, now);
        match before {
            Some("reset") => return w.lose(at, "reset, not processed", Some(Duration::ZERO)),
            Some("5xx") => {
                w.fault_line(req, inv, now, "503, not processed");
                let answer = w.answer(503, json!({"error": "Service Unavailable"}), &key, now);
                return Decision::answer(answer, None, Duration::ZERO);
            }
            Some("silent") => return w.lose(at, "silent, not processed", None),
            _ => {}
        }
        let limited = w.rate_limit(&key, now, before == Some("429"));
        let window = w
            .windows
            .get(&key)
            .map(|win| (req.route.clone(), win.reset_ms));
        if let Some(answer) = limited {
            return Decision::answer(answer, window, Duration::ZERO);
        }
        let (status, body, import) = w.process(inv, req, now, scenario);
        let mut answer = w.answer(status, body, &key, now);
        drop(w);
        if let Some((index, took, fails, failed)) = import {
            self.schedule_import(index, took, fails, failed);
        }
        let mut w = self.world();
        match after {
            Some("lost") => return w.lose(at, "processed, answer lost", Some(Duration::ZERO)),
            Some("hang") => return w.lose(at, "processed, never answered", None),
            Some("5xx") => {
                w.fault_line(req, inv, now, "processed, then 502");
                answer.status = 502;
                answer.body = "<html>502 Bad Gateway</html>".to_owned();
            }
            _ => {}
        }
        let delay = if after == Some("slow") {
            let most = w.faults.net.slow_max.as_millis() as u64;
            let delay = Duration::from_millis(w.rng.u64(0..=most));
            w.fault_line(
                req,
                inv,
                now,
                &format!("processed, answered {delay:?} late"),
            );
            delay
        } else {
            Duration::ZERO
        };
        Decision::answer(answer, window, delay)
    }

    /// Invocation `inv` received an answer announcing its window of `route` resetting at
    /// `reset_ms`.
    fn announced(&self, inv: usize, route: String, reset_ms: u64) {
        let mut w = self.world();
        if let Some(win) = w.windows.get_mut(&(inv, route))
            && win.reset_ms == reset_ms
        {
            win.announced = true;
        }
    }
}

impl World {
    fn server_ms(&self, now: u64) -> u64 {
        (self.local_epoch_ms + now).saturating_add_signed(self.skew_ms)
    }

    /// Notes a request sent before the reset of the last 429 of its invocation and route.
    fn note_retry(&mut self, key: &(usize, String), now: u64) {
        let server_ms = self.server_ms(now);
        if let Some(reset) = self.limited.remove(key)
            && server_ms < reset
        {
            let line = format!(
                "inv{} {} at {:.3}s, {} ms before the reset of its 429",
                key.0,
                key.1,
                now as f64 / 1e3,
                reset - server_ms
            );
            self.record.early_retries.push(line);
        }
    }

    /// The fault of this request, before processing and after: forced by the scenario, or
    /// drawn by the seed's rates.
    fn draw(
        &mut self,
        key: &(usize, String),
        scenario: &Scenario,
    ) -> (Option<&'static str>, Option<&'static str>) {
        let draw = self.rng.u32(0..1000);
        let nth = self.seen.entry(key.clone()).or_default();
        *nth += 1;
        let nth = *nth - 1;
        let forced = scenario
            .forced
            .iter()
            .find(|(route, n, _)| *route == key.1 && *n == nth)
            .map(|&(_, _, fault)| fault);
        if let Some(fault) = forced {
            return match fault {
                "reset" | "5xx" => (Some(fault), None),
                _ => (None, Some(fault)),
            };
        }
        let f = &self.faults.net;
        let bands = [
            (f.reset, Some("reset"), None),
            (f.http_5xx, Some("5xx"), None),
            (f.silent, Some("silent"), None),
            (f.rate_limit, Some("429"), None),
            (f.lost_after, None, Some("lost")),
            (f.http_5xx_after, None, Some("5xx")),
            (f.slow, None, Some("slow")),
        ];
        let mut band = 0;
        for (rate, before, after) in bands {
            band += rate;
            if draw < band {
                return (before, after);
            }
        }
        (None, None)
    }

    /// Traces the fault, then loses the request: the connection is reset after `delay`, or
    /// never answered (`None`).
    fn lose(
        &mut self,
        (req, inv, now): (&SimRequest, usize, u64),
        what: &str,
        delay: Option<Duration>,
    ) -> Decision {
        self.fault_line(req, inv, now, what);
        Decision::lost(delay)
    }

    fn fault_line(&mut self, req: &SimRequest, inv: usize, now: u64, what: &str) {
        let _ = writeln!(
            self.trace,
            "{:>9.3}s inv{inv} {} {}: {what}",
            now as f64 / 1e3,
            req.method,
            req.route
        );
    }

    fn create(
        &mut self,
        creator: Creator,
        user: &str,
        who: &str,
        abort_by: Option<(usize, &str)>,
        now: u64,
    ) -> usize {
        let index = self.record.ops.len();
        if let Some(cur) = self.current {
            self.abort(cur, abort_by, now);
        }
        self.record.ops.push(Op {
            id: format!("op{index}"),
            user: user.to_owned(),
            creator,
            state: "new",
            valid: true,
            staged: 0,
            completed: 0,
            failed: 0,
        });
        self.current = Some(index);
        let _ = writeln!(
            self.trace,
            "{:>9.3}s {who}: import.new -> op{index} ({user})",
            now as f64 / 1e3
        );
        index
    }

    /// Aborts operation `index` if it is in progress, noting who did.
    fn abort(&mut self, index: usize, by: Option<(usize, &str)>, now: u64) {
        let op = &mut self.record.ops[index];
        if !op.in_progress() {
            return;
        }
        op.valid = false;
        let (id, creator) = (op.id.clone(), op.creator);
        let _ = writeln!(
            self.trace,
            "{:>9.3}s server: {id} aborted",
            now as f64 / 1e3
        );
        if let Some((inv, route)) = by
            && creator != Creator::Inv(inv)
        {
            let seen = self.last_read.get(&inv).cloned().flatten() == Some(id.clone());
            self.record.aborts.push(Abort {
                inv,
                route: route.to_owned(),
                op: id,
                creator,
                seen,
                at_ms: now,
            });
        }
    }

    /// The limiter: a 429 when the client's window of this route is spent (or `fault`: spent
    /// by another client at the same address), else one call counted.
    fn rate_limit(&mut self, key: &(usize, String), now: u64, fault: bool) -> Option<SimAnswer> {
        let limits = self.limits?;
        let server_ms = self.server_ms(now);
        let window = limits.window.as_millis() as u64;
        let mut win = match self.windows.get(key) {
            Some(w) if w.reset_ms > server_ms => *w,
            _ => Window {
                reset_ms: server_ms + window,
                used: 0,
                by_fault: false,
                announced: false,
            },
        };
        if fault {
            win.used = limits.calls;
            win.by_fault = true;
        }
        if win.used >= limits.calls {
            self.windows.insert(key.clone(), win);
            if !win.by_fault && win.announced {
                let line = format!(
                    "inv{} {} at {:.3}s: {} calls in its window",
                    key.0,
                    key.1,
                    now as f64 / 1e3,
                    win.used
                );
                self.record.pacing_429.push(line);
            }
            self.limited.insert(key.clone(), win.reset_ms);
            let wait = (win.reset_ms - server_ms).div_ceil(1000);
            let _ = writeln!(
                self.trace,
                "{:>9.3}s inv{} {}: 429 ({}), reset in {wait}s",
                now as f64 / 1e3,
                key.0,
                key.1,
                if fault { "fault" } else { "limit" }
            );
            let body = json!({"success": false, "error": format!("Error, too many requests. Please slow down. You must wait {wait} seconds before trying this endpoint again. [error-too-many-requests]"), "errorType": "error-too-many-requests"});
            return Some(self.answer(429, body, key, now));
        }
        win.used += 1;
        self.windows.insert(key.clone(), win);
        None
    }

    /// An answer with `Date` (the server's clock) and the window's `X-RateLimit-*`.
    fn answer(&self, status: u16, body: Value, key: &(usize, String), now: u64) -> SimAnswer {
        let server_ms = self.server_ms(now);
        let date = std::time::UNIX_EPOCH + Duration::from_secs(server_ms / 1000);
        let mut headers = vec![("date".to_owned(), httpdate::fmt_http_date(date))];
        if let (Some(limits), Some(win)) = (self.limits, self.windows.get(key)) {
            headers.push(("x-ratelimit-limit".into(), limits.calls.to_string()));
            let left = limits.calls.saturating_sub(win.used);
            headers.push(("x-ratelimit-remaining".into(), left.to_string()));
            headers.push(("x-ratelimit-reset".into(), win.reset_ms.to_string()));
        }
        SimAnswer {
            status,
            headers,
            body: body.to_string(),
        }
    }

    /// `import.run`: runs the current operation, whoever's, when it is ready; notes a run
    /// without a read showing the invocation's own operation since its last batch.
    #[allow(clippy::type_complexity)]
    fn run_current(
        &mut self,
        inv: usize,
        now: u64,
        scenario: &Scenario,
    ) -> (u16, Value, Option<(usize, Duration, bool, u64)>) {
        let read = self.last_current.get(&inv).cloned().flatten();
        let own = read
            .as_ref()
            .and_then(|id| self.record.ops.iter().find(|o| &o.id == id));
        if own.is_none_or(|o| o.creator != Creator::Inv(inv)) {
            let line = format!(
                "inv{inv} at {:.3}s, its last read since staging showing {read:?}",
                now as f64 / 1e3
            );
            self.record.unverified_runs.push(line);
        }
        let i = match self.current {
            Some(i) if self.record.ops[i].valid && self.record.ops[i].state == "ready" => i,
            _ => {
                let body = json!({"success": false, "error": "The current operation is not ready to run", "errorType": "error-invalid-operation"});
                return (400, body, None);
            }
        };
        if self.record.ops[i].creator != Creator::Inv(inv) {
            self.record.into_other.push(inv);
        }
        let op = &mut self.record.ops[i];
        op.state = "importing";
        let took = scenario.per_user * (op.staged as u32).max(1);
        let fails = self.rng.u32(0..1000) < scenario.import_fails;
        let failed = (0..op.staged)
            .filter(|_| self.rng.u32(0..1000) < scenario.user_fails)
            .count() as u64;
        (
            200,
            json!({"success": true}),
            Some((i, took, fails, failed)),
        )
    }

    /// Applies one request; the status, the body, and an import to schedule.
    #[allow(clippy::type_complexity)]
    fn process(
        &mut self,
        inv: usize,
        req: &SimRequest,
        now: u64,
        scenario: &Scenario,
    ) -> (u16, Value, Option<(usize, Duration, bool, u64)>) {
        let route = req.route.as_str();
        let current = self.current;
        let refuse = |what: &str| json!({"success": false, "error": what, "errorType": "error-invalid-operation"});
        let mut import = None;
        let (status, body) = match route {
            "import.status" => {
                let op = current.map(|i| &self.record.ops[i]);
                let seen = op.filter(|o| o.in_progress()).map(|o| o.id.clone());
                self.last_read.insert(inv, seen);
                self.last_current.insert(inv, op.map(|o| o.id.clone()));
                match op {
                    Some(op) => (
                        200,
                        json!({"state": op.shown_state(), "operation": op.json(), "success": true}),
                    ),
                    None => (200, json!({"state": "none", "success": true})),
                }
            }
            "import.new" => {
                let index = self.create(
                    Creator::Inv(inv),
                    &req.user_id,
                    &format!("inv{inv}"),
                    Some((inv, route)),
                    now,
                );
                let id = self.record.ops[index].id.clone();
                self.record.created.entry(inv).or_default().push(id);
                let op = self.record.ops[index].json();
                (200, json!({"operation": op, "success": true}))
            }
            "import.addUsers" => {
                self.last_current.remove(&inv);
                let n = req
                    .body
                    .as_ref()
                    .and_then(|b| b.get("users"))
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len) as u64;
                match current.map(|i| &mut self.record.ops[i]) {
                    Some(op) if op.valid && matches!(op.state, "new" | "ready") => {
                        op.staged += n;
                        op.state = "ready";
                        if op.creator != Creator::Inv(inv) {
                            self.record.into_other.push(inv);
                        }
                        (200, json!({"success": true}))
                    }
                    _ => (400, refuse("The current operation cannot take users")),
                }
            }
            "import.run" => {
                let (status, body, started) = self.run_current(inv, now, scenario);
                import = started;
                (status, body)
            }
            "import.clear" => {
                if let Some(i) = current {
                    self.abort(i, Some((inv, route)), now);
                }
                (200, json!({"success": true}))
            }
            _ => (404, json!({"success": false, "error": "no such route"})),
        };
        let _ = writeln!(
            self.trace,
            "{:>9.3}s inv{inv} {} {route} -> {status} {}",
            now as f64 / 1e3,
            req.method,
            short(&body)
        );
        (status, body, import)
    }
}

/// A body in the trace, shortened.
fn short(body: &Value) -> String {
    let text = body.to_string();
    if text.chars().count() > 160 {
        format!("{}…", text.chars().take(160).collect::<String>())
    } else {
        text
    }
}

/// The network of one invocation: its requests reach the server after the latency (even when
/// the caller gave up meanwhile), the answer comes back after the latency and any delay.
pub(crate) struct Tagged {
    pub server: Arc<Server>,
    pub scenario: Arc<Scenario>,
    pub inv: usize,
}

impl Transport for Tagged {
    fn exchange(&self, request: SimRequest) -> SimFuture {
        let (server, scenario, inv) = (self.server.clone(), self.scenario.clone(), self.inv);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let latency = scenario.faults.latency;
        tokio::spawn(async move {
            tokio::time::sleep(latency).await;
            let decision = server.handle(inv, &request, &scenario);
            let Some(delay) = decision.delay else { return };
            tokio::time::sleep(latency + delay).await;
            let window = decision.window.filter(|_| decision.answer.is_ok());
            let _ = tx.send((decision.answer, window));
        });
        let server = self.server.clone();
        Box::pin(async move {
            match rx.await {
                Ok((answer, window)) => {
                    if let Some((route, reset)) = window {
                        server.announced(inv, route, reset);
                    }
                    answer
                }
                // Never answered: a silent server (the request timeout applies).
                Err(_) => std::future::pending().await,
            }
        })
    }

    fn now_ms(&self) -> u64 {
        self.server.local_now_ms()
    }
}
