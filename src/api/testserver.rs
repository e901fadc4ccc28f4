//! A tiny in-process stand-in of the Datasets API for the unit tests of `api` and `engine`
//! (the real sandbox lives in `src/sandbox`). It simulates datasets whose runs appear after a
//! start delay and finish after a duration, enforces rate limits (counting 429s it had to
//! send), records every request, and can inject scripted faults.

// Handlers return an early `Response` as the `Err` of a `Result`; its size does not matter in
// a test helper.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::time::Instant;

/// Which rate limit a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Trigger,
    Status,
}

/// A scripted answer, consumed by the next matching request.
#[derive(Debug, Clone)]
pub(crate) enum Fault {
    /// Answer with this status, JSON body and optional Retry-After (the request is not acted on).
    Respond(u16, &'static str, Option<&'static str>),
    /// Act on the request normally, then break the connection before the body is complete.
    ProcessThenDrop,
    /// Act on the request normally, then answer with this status and body (e.g. a 502 from a
    /// proxy after the import was scheduled).
    ProcessThenRespond(u16, &'static str),
    /// Wait this long, then answer normally.
    Delay(Duration),
}

#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub method: String,
    pub path: String,
    pub api_key: Option<String>,
    pub user_agent: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
    pub at: Instant,
}

#[derive(Debug, Clone)]
struct SimRun {
    id: String,
    /// When the run shows in the status (its start); `None`: finished long ago.
    visible_at: Option<Instant>,
    wall: SystemTime,
    fail: bool,
}

#[derive(Debug, Default)]
struct Dataset {
    runs: Vec<SimRun>,
    reimport_key: Option<String>,
    last_trigger: Option<Instant>,
    last_status: Option<Instant>,
    fail_next: bool,
}

#[derive(Debug)]
pub(crate) struct Sim {
    pub private_key: String,
    pub trigger_window: Duration,
    pub status_window: Duration,
    pub start_delay: Duration,
    pub duration: Duration,
    datasets: HashMap<String, Dataset>,
    faults: VecDeque<(Kind, Fault)>,
    pub requests: Vec<Recorded>,
    pub rejected_429: usize,
    pub triggers_accepted: usize,
}

pub(crate) type Shared = Arc<Mutex<Sim>>;

pub(crate) struct TestServer {
    pub base_url: String,
    pub sim: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) const PRIVATE_KEY: &str = "pk-SECRET-0123456789";

impl TestServer {
    /// Starts a server with the given windows and run timeline.
    pub async fn start(
        trigger_window: Duration,
        status_window: Duration,
        start_delay: Duration,
        duration: Duration,
    ) -> TestServer {
        let sim = Arc::new(Mutex::new(Sim {
            private_key: PRIVATE_KEY.to_owned(),
            trigger_window,
            status_window,
            start_delay,
            duration,
            datasets: HashMap::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            rejected_429: 0,
            triggers_accepted: 0,
        }));
        let app = Router::new()
            .route("/datasets/{id}/import", post(trigger))
            .route("/datasets/hooks/reimport/{key}", post(webhook))
            .route("/datasets/{id}/status", get(status))
            .with_state(sim.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        TestServer {
            base_url: format!("http://{addr}"),
            sim,
            task,
        }
    }

    /// Registers a dataset; with `previous` it already has a finished (successful) run.
    pub fn add_dataset(&self, id: &str, previous: bool, reimport_key: Option<&str>) {
        let mut sim = self.sim.lock().unwrap();
        let mut ds = Dataset {
            reimport_key: reimport_key.map(str::to_owned),
            ..Default::default()
        };
        if previous {
            let long_ago = Duration::from_secs(3600);
            ds.runs.push(SimRun {
                id: new_id(),
                visible_at: None,
                wall: SystemTime::now() - long_ago,
                fail: false,
            });
        }
        sim.datasets.insert(id.to_owned(), ds);
    }

    /// Starts a run now, as if someone else had triggered it (not counted as a trigger).
    pub fn start_run_now(&self, id: &str) {
        self.start_run_in(id, Duration::ZERO);
    }

    /// Starts a run that shows up after `delay`, as if someone else had just triggered it.
    pub fn start_run_in(&self, id: &str, delay: Duration) {
        let mut sim = self.sim.lock().unwrap();
        let ds = sim.datasets.get_mut(id).unwrap();
        ds.runs.push(SimRun {
            id: new_id(),
            visible_at: Some(Instant::now() + delay),
            wall: SystemTime::now() + delay,
            fail: false,
        });
    }

    /// The next run of this dataset fails.
    pub fn fail_next(&self, id: &str) {
        self.sim
            .lock()
            .unwrap()
            .datasets
            .get_mut(id)
            .unwrap()
            .fail_next = true;
    }

    pub fn push_fault(&self, kind: Kind, fault: Fault) {
        self.sim.lock().unwrap().faults.push_back((kind, fault));
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.sim.lock().unwrap().requests.clone()
    }

    pub fn rejected_429(&self) -> usize {
        self.sim.lock().unwrap().rejected_429
    }

    pub fn triggers_accepted(&self) -> usize {
        self.sim.lock().unwrap().triggers_accepted
    }

    pub fn run_count(&self, id: &str) -> usize {
        self.sim.lock().unwrap().datasets[id].runs.len()
    }
}

fn new_id() -> String {
    let u = fastrand::u128(..);
    uuid::Uuid::from_u128(u).hyphenated().to_string()
}

fn record(sim: &mut Sim, method: &str, path: String, headers: &HeaderMap, body: &Bytes) {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    sim.requests.push(Recorded {
        method: method.to_owned(),
        path,
        api_key: h("x-api-key"),
        user_agent: h("user-agent"),
        content_type: h("content-type"),
        body: String::from_utf8_lossy(body).into_owned(),
        at: Instant::now(),
    });
}

fn json(status: u16, body: impl Into<String>) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        body.into(),
    )
        .into_response()
}

fn broken(status: u16) -> Response {
    let stream = tokio_stream::iter(vec![
        Ok::<Bytes, std::io::Error>(Bytes::from_static(b"{\"dataset")),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "boom",
        )),
    ]);
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap()
}

enum After {
    Normal,
    Drop,
    Respond(u16, &'static str),
}

/// Applies a scripted fault if one is queued for `kind`. `Err(response)`: answer with it now.
async fn take_fault(sim: &Shared, kind: Kind) -> Result<After, Response> {
    let fault = {
        let mut s = sim.lock().unwrap();
        let pos = s.faults.iter().position(|(k, _)| *k == kind);
        pos.and_then(|p| s.faults.remove(p)).map(|(_, f)| f)
    };
    match fault {
        None => Ok(After::Normal),
        Some(Fault::Respond(code, body, retry_after)) => {
            let mut r = json(code, body);
            if let Some(ra) = retry_after {
                r.headers_mut().insert("retry-after", ra.parse().unwrap());
            }
            Err(r)
        }
        Some(Fault::ProcessThenDrop) => Ok(After::Drop),
        Some(Fault::ProcessThenRespond(code, body)) => Ok(After::Respond(code, body)),
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            Ok(After::Normal)
        }
    }
}

fn auth(sim: &Sim, headers: &HeaderMap) -> Result<(), Response> {
    match headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        None => Err(json(401, r#"{"detail":"Unable to locate credentials"}"#)),
        Some(k) if k == sim.private_key => Ok(()),
        Some(k) => Err(json(
            403,
            format!(r#"{{"detail":"Credentials found, but not matching: {k}"}}"#),
        )),
    }
}

/// Schedules a run for `id` if the trigger window allows. `Err`: the response to send.
fn do_trigger(sim: &mut Sim, id: &str) -> Result<Response, Response> {
    let window = sim.trigger_window;
    let delay = sim.start_delay;
    let Some(ds) = sim.datasets.get_mut(id) else {
        return Err(json(404, r#"{"details":"Dataset was not found"}"#));
    };
    let now = Instant::now();
    if let Some(last) = ds.last_trigger
        && now < last + window
    {
        sim.rejected_429 += 1;
        return Err(json(429, r#"{"details":"Rate limit reached"}"#));
    }
    ds.last_trigger = Some(now);
    let fail = std::mem::take(&mut ds.fail_next);
    ds.runs.push(SimRun {
        id: new_id(),
        visible_at: Some(now + delay),
        wall: SystemTime::now() + delay,
        fail,
    });
    sim.triggers_accepted += 1;
    Ok(json(202, format!(r#"{{"dataset_id":"{id}"}}"#)))
}

async fn trigger(
    State(sim): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    {
        let mut s = sim.lock().unwrap();
        record(
            &mut s,
            "POST",
            format!("/datasets/{id}/import"),
            &headers,
            &body,
        );
        if let Err(r) = auth(&s, &headers) {
            return r;
        }
        if uuid::Uuid::parse_str(&id).is_err() {
            return json(
                422,
                r#"{"detail":[{"loc":["path","dataset_id"],"msg":"value is not a valid uuid","type":"type_error.uuid"}]}"#,
            );
        }
    }
    let after = match take_fault(&sim, Kind::Trigger).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let result = do_trigger(&mut sim.lock().unwrap(), &id);
    finish(result, after)
}

fn finish(result: Result<Response, Response>, after: After) -> Response {
    match (result, after) {
        (Err(r), _) => r,
        (Ok(r), After::Normal) => r,
        (Ok(_), After::Drop) => broken(202),
        (Ok(_), After::Respond(code, body)) => json(code, body),
    }
}

async fn webhook(
    State(sim): State<Shared>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = {
        let mut s = sim.lock().unwrap();
        record(
            &mut s,
            "POST",
            format!("/datasets/hooks/reimport/{key}"),
            &headers,
            &body,
        );
        let found = s
            .datasets
            .iter()
            .find(|(_, d)| d.reimport_key.as_deref() == Some(key.as_str()))
            .map(|(id, _)| id.clone());
        match found {
            Some(id) => id,
            None => {
                return json(
                    404,
                    format!(r#"{{"details":"Dataset was not found for key {key}"}}"#),
                );
            }
        }
    };
    let after = match take_fault(&sim, Kind::Trigger).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let result = do_trigger(&mut sim.lock().unwrap(), &id);
    finish(result, after)
}

fn stamp(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

fn run_json(run: &SimRun, duration: Duration) -> String {
    let since_start = run.visible_at.map_or(Duration::MAX, |v| {
        Instant::now().saturating_duration_since(v)
    });
    let half = duration / 2;
    let t0 = run.wall;
    let t_half = t0 + half;
    let t_end = t0 + duration;
    let done = since_start >= duration;
    let entry = |t: SystemTime, level: &str, detail: &str| {
        format!(
            r#"{{"created_at":"{}","level":"{level}","detail":"{detail}"}}"#,
            stamp(t)
        )
    };
    let mut fetch_entries = vec![entry(t0, "info", "fetching the source file")];
    let fetch_done = since_start >= half;
    if fetch_done {
        fetch_entries.push(entry(t_half, "info", "fetched 42 rows"));
    }
    let fetch = format!(
        r#"{{"name":"fetch","start":"{}","end":{},"status":"{}","entries":[{}]}}"#,
        stamp(t0),
        if fetch_done {
            format!("\"{}\"", stamp(t_half))
        } else {
            "null".into()
        },
        if fetch_done { "success" } else { "in_progress" },
        fetch_entries.join(",")
    );
    let mut steps = vec![fetch];
    let status = if !fetch_done {
        "in_progress"
    } else {
        let mut entries = vec![entry(t_half, "info", "importing 42 rows")];
        let st = if done {
            if run.fail {
                entries.push(entry(t_end, "error", "row 7: invalid latitude"));
                "failed"
            } else {
                entries.push(entry(t_end, "info", "imported 42 rows"));
                "success"
            }
        } else {
            "in_progress"
        };
        steps.push(format!(
            r#"{{"name":"import","start":"{}","end":{},"status":"{st}","entries":[{}]}}"#,
            stamp(t_half),
            if done {
                format!("\"{}\"", stamp(t_end))
            } else {
                "null".into()
            },
            entries.join(",")
        ));
        st
    };
    format!(
        r#"{{"id":"{}","status":"{status}","steps":[{}]}}"#,
        run.id,
        steps.join(",")
    )
}

async fn status(State(sim): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    {
        let mut s = sim.lock().unwrap();
        record(
            &mut s,
            "GET",
            format!("/datasets/{id}/status"),
            &headers,
            &Bytes::new(),
        );
        if let Err(r) = auth(&s, &headers) {
            return r;
        }
    }
    let after = match take_fault(&sim, Kind::Status).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut s = sim.lock().unwrap();
    let (window, duration) = (s.status_window, s.duration);
    let Some(ds) = s.datasets.get_mut(&id) else {
        return json(404, r#"{"details":"Dataset was not found"}"#);
    };
    let now = Instant::now();
    if let Some(last) = ds.last_status
        && now < last + window
    {
        s.rejected_429 += 1;
        return json(429, r#"{"details":"Rate limit reached"}"#);
    }
    ds.last_status = Some(now);
    // The latest run that has become visible.
    let visible = ds
        .runs
        .iter()
        .rev()
        .find(|r| r.visible_at.is_none_or(|v| v <= now));
    let result = match visible {
        None => Err(json(404, r#"{"details":"Dataset was not found"}"#)),
        Some(run) => Ok(json(200, run_json(run, duration))),
    };
    match (result, after) {
        (Err(r), _) => r,
        (Ok(r), After::Normal) => r,
        (Ok(_), After::Drop) => broken(200),
        (Ok(_), After::Respond(code, body)) => json(code, body),
    }
}
