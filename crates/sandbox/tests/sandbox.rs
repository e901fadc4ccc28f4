//! The sandbox over real HTTP: documented answers and error bodies, rate-limit windows, run
//! timelines, faults, the control API, and the `woosmap-sandbox` binary.

mod common;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use woosmap_sandbox::{
    DatasetConfig, Fault, FaultBody, FaultEndpoint, FaultKind, KeyState, Outcome, PreviousRun,
    Sandbox, SandboxConfig, SandboxHandle, Stats,
};

type Api = common::Api<SandboxHandle>;

const KEY: &str = "sandbox-private-key";
const DS: &str = "8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0";
const DS2: &str = "0b5d3c4e-1f2a-4b3c-8d4e-5f6a7b8c9d0e";

const STATUS_WINDOW: Duration = Duration::from_millis(200);
const TRIGGER_WINDOW: Duration = Duration::from_secs(1);
const START_DELAY: Duration = Duration::from_millis(500);
const DURATION: Duration = Duration::from_millis(1500);

fn fast() -> SandboxConfig {
    SandboxConfig {
        trigger_window: TRIGGER_WINDOW,
        status_window: STATUS_WINDOW,
        start_delay: START_DELAY,
        import_duration: DURATION,
        ..SandboxConfig::default()
    }
}

impl Api {
    /// A sandbox with the [`fast`] settings and `faults` queued in this order.
    async fn with_faults(faults: impl IntoIterator<Item = Fault>) -> Api {
        let api = Api::start(fast()).await;
        for fault in faults {
            api.sb.inject(fault);
        }
        api
    }

    /// A sandbox with the [`fast`] settings and dataset `id` configured with `cfg`.
    async fn with_dataset(id: &str, cfg: DatasetConfig) -> Api {
        let api = Api::start(fast()).await;
        api.sb.configure_dataset(id, cfg).unwrap();
        api
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sb.base_url())
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        common::answer(request).await
    }

    /// `GET /datasets/{id}/status` with the key, to be sent.
    fn status_request(&self, id: &str) -> reqwest::RequestBuilder {
        let path = format!("/datasets/{id}/status");
        self.http.get(self.url(&path)).header("X-Api-Key", KEY)
    }

    /// `POST /datasets/{id}/import` with the key, to be sent.
    fn trigger_request(&self, id: &str) -> reqwest::RequestBuilder {
        let path = format!("/datasets/{id}/import");
        self.http.post(self.url(&path)).header("X-Api-Key", KEY)
    }

    async fn status(&self, id: &str) -> (StatusCode, Value) {
        self.send(self.status_request(id)).await
    }

    async fn trigger(&self, id: &str) -> (StatusCode, Value) {
        self.send(self.trigger_request(id)).await
    }

    async fn webhook(&self, key: &str) -> (StatusCode, Value) {
        let path = format!("/datasets/hooks/reimport/{key}");
        self.send(self.http.post(self.url(&path))).await
    }

    /// Waits out the status window, then asks for the status.
    async fn paced_status(&self, id: &str) -> (StatusCode, Value) {
        tokio::time::sleep(STATUS_WINDOW + Duration::from_millis(20)).await;
        self.status(id).await
    }

    fn stats(&self) -> Stats {
        self.sb.stats()
    }
}

/// A 429 with the documented body and `Retry-After: retry_after`.
async fn assert_rate_limited(response: reqwest::Response, retry_after: &str) {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], retry_after);
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"details":"Rate limit reached"}"#
    );
}

fn run_id(body: &Value) -> String {
    body["id"].as_str().expect("run id").to_owned()
}

fn step<'a>(body: &'a Value, name: &str) -> Option<&'a Value> {
    body["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["name"] == name)
}

fn details(body: &Value) -> Vec<String> {
    body["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["entries"].as_array().unwrap())
        .map(|e| e["detail"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_rfc3339(value: &Value) {
    let text = value.as_str().expect("timestamp string");
    humantime::parse_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"));
}

/// Checks the documented shape of a status body.
fn assert_status_shape(body: &Value) {
    uuid::Uuid::parse_str(body["id"].as_str().unwrap()).expect("run id is a UUID");
    assert!(matches!(
        body["status"].as_str(),
        Some("success" | "in_progress" | "failed")
    ));
    for step in body["steps"].as_array().unwrap() {
        assert!(matches!(step["name"].as_str(), Some("fetch" | "import")));
        assert!(matches!(
            step["status"].as_str(),
            Some("success" | "in_progress" | "failed")
        ));
        assert_rfc3339(&step["start"]);
        if step["status"] == "in_progress" {
            assert!(step["end"].is_null());
        } else {
            assert_rfc3339(&step["end"]);
        }
        for entry in step["entries"].as_array().unwrap() {
            assert_rfc3339(&entry["created_at"]);
            assert!(entry["detail"].is_string());
            assert!(matches!(
                entry["level"].as_str(),
                Some("info" | "warning" | "error")
            ));
        }
    }
}

#[tokio::test]
async fn any_uuid_is_a_dataset_with_a_previous_successful_run() {
    let api = Api::start(fast()).await;
    let (status, body) = api.status(DS).await;
    assert_eq!(status, StatusCode::OK);
    assert_status_shape(&body);
    assert_eq!(body["status"], "success");
    assert_eq!(step(&body, "fetch").unwrap()["status"], "success");
    assert_eq!(step(&body, "import").unwrap()["status"], "success");

    // The key also works as a query parameter, and uppercase ids name the same dataset.
    tokio::time::sleep(STATUS_WINDOW).await;
    let url = api.url(&format!(
        "/datasets/{}/status?private_key={KEY}",
        DS.to_uppercase()
    ));
    let (status, again) = api.send(api.http.get(url)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(run_id(&again), run_id(&body));

    let stats = api.stats();
    assert_eq!(stats.requests, 2);
    assert_eq!(stats.dataset(DS).unwrap().status_calls, 2);
    assert!(stats.dataset(DS).unwrap().runs.is_empty());
}

#[tokio::test]
async fn auth_and_validation_errors_have_the_documented_bodies() {
    let api = Api::start(fast()).await;
    let status_url = api.url(&format!("/datasets/{DS}/status"));
    let import_url = api.url(&format!("/datasets/{DS}/import"));

    for request in [api.http.get(&status_url), api.http.post(&import_url)] {
        let (status, body) = api.send(request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body, json!({"detail": "Unable to locate credentials"}));
    }
    let (status, body) = api
        .send(api.http.get(&status_url).header("X-Api-Key", "wrong"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({"detail": "Credentials found, but not matching"})
    );
    let (status, _) = api
        .send(api.http.post(format!("{import_url}?private_key=wrong")))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    api.sb.set_key_state("broke-key", KeyState::NoQuota);
    let (status, body) = api
        .send(api.http.post(&import_url).header("X-Api-Key", "broke-key"))
        .await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(body, json!({"detail": "Out of free quota"}));

    api.sb.set_key_state("second-key", KeyState::Ok);
    let (status, _) = api
        .send(api.http.get(&status_url).header("X-Api-Key", "second-key"))
        .await;
    assert_eq!(status, StatusCode::OK);
    api.sb.set_key_state(KEY, KeyState::Removed);
    let (status, _) = api.status(DS).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    api.sb.set_key_state(KEY, KeyState::Ok);

    for (status, body) in [api.status("not-a-uuid").await, api.trigger("1234").await] {
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let detail = &body["detail"][0];
        assert_eq!(detail["loc"], json!(["path", "dataset_id"]));
        assert_eq!(detail["type"], "uuid_parsing");
        assert!(
            detail["msg"]
                .as_str()
                .unwrap()
                .starts_with("Input should be a valid UUID, ")
        );
    }

    let (status, body) = api.webhook("no-such-key").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"details": "Dataset was not found"}));

    // No failed call consumed the trigger window: a real trigger is accepted.
    let (status, body) = api.trigger(DS).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body, json!({"dataset_id": DS}));
    assert_eq!(api.stats().rate_limited, 0);
}

#[tokio::test]
async fn windows_limit_each_dataset_and_count_429s() {
    let mut cfg = fast();
    cfg.retry_after = Some(7);
    let api = Api::start(cfg).await;

    assert_eq!(api.status(DS).await.0, StatusCode::OK);
    let started = tokio::time::Instant::now();
    let response = api.status_request(DS).send().await.unwrap();
    assert_rate_limited(response, "7").await;
    // Another dataset has its own window.
    assert_eq!(api.status(DS2).await.0, StatusCode::OK);
    // The window runs from the last accepted call, not from the 429.
    tokio::time::sleep_until(started + STATUS_WINDOW).await;
    assert_eq!(api.status(DS).await.0, StatusCode::OK);

    // Import and webhook share one trigger window.
    api.sb
        .configure_dataset(DS, DatasetConfig::default().reimport_key("hook-1"))
        .unwrap();
    assert_eq!(api.trigger(DS).await.0, StatusCode::ACCEPTED);
    assert_eq!(api.trigger(DS).await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(api.webhook("hook-1").await.0, StatusCode::TOO_MANY_REQUESTS);
    // A status call is in its own class.
    tokio::time::sleep(STATUS_WINDOW).await;
    assert_eq!(api.status(DS).await.0, StatusCode::OK);

    let stats = api.stats();
    assert_eq!(stats.rate_limited, 3);
    assert_eq!(stats.injected, 0);
    let ds = stats.dataset(DS).unwrap();
    assert_eq!(ds.rate_limited, 3);
    assert_eq!(ds.triggers, 3);
    assert_eq!(ds.status_calls, 4);
    assert_eq!(ds.runs.len(), 1);
    assert_eq!(stats.dataset(DS2).unwrap().rate_limited, 0);

    tokio::time::sleep(TRIGGER_WINDOW).await;
    let (status, body) = api.webhook("hook-1").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body, json!({"dataset_id": DS}));
}

#[tokio::test]
async fn previous_run_stays_visible_for_the_start_delay_then_the_run_plays_out() {
    let api = Api::start(fast()).await;
    let (_, before) = api.status(DS).await;
    let previous = run_id(&before);

    let triggered = tokio::time::Instant::now();
    assert_eq!(api.trigger(DS).await.0, StatusCode::ACCEPTED);
    let (status, body) = api.paced_status(DS).await;
    assert_eq!(status, StatusCode::OK);
    assert!(triggered.elapsed() < START_DELAY);
    assert_eq!(run_id(&body), previous, "still the previous run");

    tokio::time::sleep_until(triggered + START_DELAY + Duration::from_millis(50)).await;
    let (_, body) = api.status(DS).await;
    assert_status_shape(&body);
    let run = run_id(&body);
    assert_ne!(run, previous);
    assert_eq!(api.stats().dataset(DS).unwrap().runs, vec![run.clone()]);
    assert_eq!(body["status"], "in_progress");
    let fetch = step(&body, "fetch").unwrap();
    assert_eq!(fetch["status"], "in_progress");
    assert!(fetch["end"].is_null());
    assert!(step(&body, "import").is_none());
    assert_eq!(
        details(&body),
        vec!["Downloading https://example.com/stores.json"]
    );

    // Mid-import: fetch done, import running with progress entries.
    tokio::time::sleep_until(triggered + START_DELAY + DURATION * 3 / 5).await;
    let (_, body) = api.status(DS).await;
    assert_status_shape(&body);
    assert_eq!(body["status"], "in_progress");
    assert_eq!(step(&body, "fetch").unwrap()["status"], "success");
    let import = step(&body, "import").unwrap();
    assert_eq!(import["status"], "in_progress");
    assert!(import["end"].is_null());
    assert!(details(&body).contains(&"Fetched 1,204 features".to_owned()));
    assert!(details(&body).contains(&"Imported 300/1204".to_owned()));

    tokio::time::sleep_until(triggered + START_DELAY + DURATION + Duration::from_millis(50)).await;
    let (_, body) = api.status(DS).await;
    assert_status_shape(&body);
    assert_eq!(run_id(&body), run);
    assert_eq!(body["status"], "success");
    assert_eq!(step(&body, "import").unwrap()["status"], "success");
    assert!(details(&body).contains(&"Imported 1204/1204".to_owned()));
    let stats = api.stats();
    assert_eq!((stats.rate_limited, stats.triggers_while_running), (0, 0));
}

#[tokio::test]
async fn never_imported_dataset_answers_404_until_its_first_run_appears() {
    let api = Api::with_dataset(DS, DatasetConfig::never_imported()).await;
    let (status, body) = api.status(DS).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"details": "Dataset was not found"}));

    let triggered = tokio::time::Instant::now();
    assert_eq!(api.trigger(DS).await.0, StatusCode::ACCEPTED);
    assert_eq!(api.paced_status(DS).await.0, StatusCode::NOT_FOUND);
    tokio::time::sleep_until(triggered + START_DELAY).await;
    let (status, body) = api.paced_status(DS).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "in_progress");
    assert_eq!(api.stats().dataset(DS).unwrap().runs, vec![run_id(&body)]);
}

#[tokio::test]
async fn missing_datasets_answer_404_everywhere() {
    let api = Api::with_dataset(DS, DatasetConfig::missing()).await;
    for (status, body) in [api.status(DS).await, api.trigger(DS).await] {
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body, json!({"details": "Dataset was not found"}));
    }

    let mut cfg = fast();
    cfg.auto_create = false;
    let strict = Api::start(cfg).await;
    assert_eq!(strict.status(DS).await.0, StatusCode::NOT_FOUND);
    assert_eq!(strict.trigger(DS).await.0, StatusCode::NOT_FOUND);
    strict
        .sb
        .configure_dataset(DS, DatasetConfig::default())
        .unwrap();
    assert_eq!(strict.status(DS).await.0, StatusCode::OK);
    assert_eq!(
        strict
            .sb
            .configure_dataset("nope", DatasetConfig::default()),
        Err(woosmap_sandbox::ControlError::InvalidDatasetId(
            "nope".to_owned()
        ))
    );
}

#[tokio::test]
async fn failed_and_never_ending_outcomes() {
    let api = Api::start(fast()).await;
    let short = Duration::from_millis(500);
    let cfg = DatasetConfig::default()
        .previous_run(Some(PreviousRun::Failed))
        .outcome(Outcome::Failed)
        .duration(short)
        .start_delay(Duration::ZERO);
    api.sb.configure_dataset(DS, cfg).unwrap();
    let never = DatasetConfig::default()
        .outcome(Outcome::Never)
        .duration(short)
        .start_delay(Duration::ZERO);
    api.sb.configure_dataset(DS2, never).unwrap();

    let (_, previous) = api.status(DS).await;
    assert_eq!(previous["status"], "failed");
    assert_status_shape(&previous);

    assert_eq!(api.trigger(DS).await.0, StatusCode::ACCEPTED);
    assert_eq!(api.trigger(DS2).await.0, StatusCode::ACCEPTED);
    tokio::time::sleep(short + Duration::from_millis(200)).await;

    let (_, failed) = api.status(DS).await;
    assert_status_shape(&failed);
    assert_ne!(run_id(&failed), run_id(&previous));
    assert_eq!(failed["status"], "failed");
    assert_eq!(step(&failed, "fetch").unwrap()["status"], "success");
    let import = step(&failed, "import").unwrap();
    assert_eq!(import["status"], "failed");
    let errors: Vec<&str> = import["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["level"] == "error")
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert!(errors.contains(&"Feature 17: missing required property 'storeId'"));

    let (_, running) = api.status(DS2).await;
    assert_status_shape(&running);
    assert_eq!(running["status"], "in_progress");
    assert_eq!(step(&running, "import").unwrap()["status"], "in_progress");
}

#[tokio::test]
async fn undocumented_statuses_cancelled_and_queued() {
    let api = Api::start(fast()).await;
    let short = Duration::from_millis(400);
    for (id, outcome) in [(DS, Outcome::Cancelled), (DS2, Outcome::Queued)] {
        let cfg = DatasetConfig::default()
            .outcome(outcome)
            .duration(short)
            .start_delay(Duration::ZERO);
        api.sb.configure_dataset(id, cfg).unwrap();
        assert_eq!(api.trigger(id).await.0, StatusCode::ACCEPTED);
    }
    tokio::time::sleep(short + Duration::from_millis(200)).await;
    let (_, cancelled) = api.status(DS).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(step(&cancelled, "fetch").unwrap()["status"], "success");
    let import = step(&cancelled, "import").unwrap();
    assert_eq!(import["status"], "cancelled");
    assert_rfc3339(&import["end"]);
    assert!(details(&cancelled).contains(&"Import cancelled by an administrator".to_owned()));
    // It ended: a trigger now does not replace an active run.
    tokio::time::sleep(TRIGGER_WINDOW).await;
    assert_eq!(api.trigger(DS).await.0, StatusCode::ACCEPTED);
    assert_eq!(api.stats().triggers_while_running, 0);

    let (_, queued) = api.status(DS2).await;
    assert_eq!(queued["status"], "queued");
    assert!(step(&queued, "import").unwrap()["end"].is_null());
}

#[tokio::test]
async fn a_trigger_during_a_run_is_accepted_replaces_it_and_is_counted() {
    let api = Api::with_dataset(DS, DatasetConfig::default().running()).await;
    let (_, body) = api.status(DS).await;
    assert_eq!(body["status"], "in_progress", "running: true shows at once");
    let first = run_id(&body);

    assert_eq!(api.trigger(DS).await.0, StatusCode::ACCEPTED);
    let stats = api.stats();
    assert_eq!(stats.triggers_while_running, 1);
    assert_eq!(stats.dataset(DS).unwrap().triggers_while_running, 1);
    assert_eq!(stats.dataset(DS).unwrap().runs.len(), 2);

    // The replaced run ends as cancelled while the new one is still scheduled.
    let (_, body) = api.paced_status(DS).await;
    assert_eq!(run_id(&body), first);
    assert_eq!(body["status"], "failed");
    assert!(
        details(&body)
            .iter()
            .any(|d| d.starts_with("Import cancelled"))
    );
    tokio::time::sleep(START_DELAY).await;
    let (_, body) = api.status(DS).await;
    assert_ne!(run_id(&body), first);
    assert_eq!(body["status"], "in_progress");
}

#[tokio::test]
async fn server_error_faults() {
    let api = Api::with_faults([
        Fault::new(FaultKind::Http500),
        Fault::new(FaultKind::Http502).on(FaultEndpoint::Trigger),
        Fault::new(FaultKind::Http503)
            .on(FaultEndpoint::Status)
            .body(FaultBody::Json),
    ])
    .await;

    let (status, body) = api.status(DS).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body, Value::String("Internal Server Error".into()));
    let (status, body) = api.status(DS).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, json!({"detail": "Service Unavailable"}));
    let (status, body) = api.trigger(DS).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(body.as_str().unwrap().contains("502 Bad Gateway"));

    // Faulted requests had no effect: no window was consumed, no run started.
    assert_eq!(api.status(DS).await.0, StatusCode::OK);
    assert_eq!(api.trigger(DS).await.0, StatusCode::ACCEPTED);
    let stats = api.stats();
    assert_eq!(stats.injected, 3);
    assert_eq!(stats.rate_limited, 0);
    assert_eq!(stats.dataset(DS).unwrap().injected, 3);
    assert_eq!(stats.dataset(DS).unwrap().runs.len(), 1);
}

#[tokio::test]
async fn faults_match_endpoint_dataset_and_count() {
    let api = Api::with_faults([Fault::new(FaultKind::Http500)
        .on(FaultEndpoint::Status)
        .for_dataset(DS2)
        .times(2)])
    .await;
    assert_eq!(api.status(DS).await.0, StatusCode::OK);
    assert_eq!(api.trigger(DS2).await.0, StatusCode::ACCEPTED);
    assert_eq!(api.status(DS2).await.0, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(api.status(DS2).await.0, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(api.status(DS2).await.0, StatusCode::OK);

    api.sb
        .inject(Fault::new(FaultKind::Http500).on(FaultEndpoint::Webhook));
    api.sb.clear_faults();
    api.sb
        .configure_dataset(DS, DatasetConfig::default().reimport_key("k"))
        .unwrap();
    assert_eq!(api.webhook("k").await.0, StatusCode::ACCEPTED);
    assert_eq!(api.stats().injected, 2);
}

#[tokio::test]
async fn reset_fault_cuts_the_connection() {
    // Default: head and half the body arrive, then the connection is cut.
    let api = Api::with_faults([Fault::new(FaultKind::Reset)]).await;
    let response = api
        .status_request(DS)
        .send()
        .await
        .expect("the head arrives");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.bytes().await.is_err(), "the body read fails");

    // `empty`: nothing arrives at all.
    api.sb.inject(
        Fault::new(FaultKind::Reset)
            .on(FaultEndpoint::Trigger)
            .body(FaultBody::Empty),
    );
    let err = api
        .trigger_request(DS)
        .send()
        .await
        .expect_err("the send fails");
    assert!(!err.is_timeout() && !err.is_status(), "{err:?}");
    // The server is fine afterwards and the cut requests had no effect.
    assert_eq!(api.status(DS).await.0, StatusCode::OK);
    assert_eq!(api.trigger(DS).await.0, StatusCode::ACCEPTED);
    let stats = api.stats();
    assert_eq!(stats.dataset(DS).unwrap().runs.len(), 1);
    assert_eq!(stats.injected, 2);
}

#[tokio::test]
async fn slow_fault_outlasts_a_client_timeout_but_the_request_was_handled() {
    let api = Api::with_faults([Fault::new(FaultKind::Slow)
        .on(FaultEndpoint::Status)
        .delay(Duration::from_millis(1500))])
    .await;
    let err = api
        .status_request(DS)
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("times out");
    assert!(err.is_timeout());
    let stats = api.stats();
    assert_eq!(stats.injected, 1);
    assert_eq!(stats.dataset(DS).unwrap().status_calls, 1);
    // Handled on arrival: the window started then, so a paced retry is fine.
    assert_eq!(api.status(DS).await.0, StatusCode::OK);

    // A short hold is just a slow answer.
    api.sb
        .inject(Fault::new(FaultKind::Slow).delay(Duration::from_millis(100)));
    let started = tokio::time::Instant::now();
    assert_eq!(api.trigger(DS).await.0, StatusCode::ACCEPTED);
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn garbage_fault_bodies_are_not_the_documented_json() {
    let api = Api::with_faults([
        Fault::new(FaultKind::Garbage),
        Fault::new(FaultKind::Garbage).body(FaultBody::Truncated),
        Fault::new(FaultKind::Garbage).body(FaultBody::Json),
    ])
    .await;

    let (status, body) = api.status(DS).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.as_str().unwrap().starts_with("<html>"));
    let (status, body) = api.status(DS).await;
    assert_eq!(status, StatusCode::OK);
    let text = body.as_str().expect("not parseable as JSON");
    assert!(text.starts_with("{\"id\""));
    let (status, body) = api.trigger(DS).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("dataset_id").is_none());
    assert_eq!(api.stats().injected, 3);
}

#[tokio::test]
async fn injected_rate_limit_is_counted_apart_from_window_429s() {
    let api = Api::with_faults([Fault::new(FaultKind::RateLimit)
        .on(FaultEndpoint::Trigger)
        .retry_after(2)])
    .await;
    let response = api.trigger_request(DS).send().await.unwrap();
    assert_rate_limited(response, "2").await;
    assert_eq!(api.trigger(DS).await.0, StatusCode::ACCEPTED);
    let stats = api.stats();
    assert_eq!((stats.rate_limited, stats.injected), (0, 1));
}

#[tokio::test]
async fn status_stale_fault_holds_the_previous_run() {
    // On a trigger: the new run stays hidden for delay_ms instead of the start delay.
    let api = Api::with_faults([Fault::new(FaultKind::StatusStale)
        .on(FaultEndpoint::Trigger)
        .delay(Duration::from_millis(900))])
    .await;
    let (_, before) = api.status(DS).await;
    let triggered = tokio::time::Instant::now();
    assert_eq!(api.trigger(DS).await.0, StatusCode::ACCEPTED);
    tokio::time::sleep_until(triggered + START_DELAY + Duration::from_millis(100)).await;
    let (_, body) = api.status(DS).await;
    assert_eq!(run_id(&body), run_id(&before), "held back");
    tokio::time::sleep_until(triggered + Duration::from_millis(950)).await;
    let (_, body) = api.status(DS).await;
    let new_run = run_id(&body);
    assert_ne!(new_run, run_id(&before));

    // On a status call: that one answer shows the run before the latest.
    api.sb
        .inject(Fault::new(FaultKind::StatusStale).on(FaultEndpoint::Status));
    let (_, body) = api.paced_status(DS).await;
    assert_eq!(run_id(&body), run_id(&before));
    let (_, body) = api.paced_status(DS).await;
    assert_eq!(run_id(&body), new_run);
    assert_eq!(api.stats().injected, 2);
}

#[tokio::test]
async fn http_error_faults_answer_the_documented_bodies_and_have_no_effect() {
    let api = Api::start(fast()).await;
    // (fault, status, the body's one key and its message)
    let cases = [
        (
            FaultKind::Http401,
            StatusCode::UNAUTHORIZED,
            "detail",
            "Unable to locate credentials",
        ),
        (
            FaultKind::Http402,
            StatusCode::PAYMENT_REQUIRED,
            "detail",
            "Out of free quota",
        ),
        (
            FaultKind::Http403,
            StatusCode::FORBIDDEN,
            "detail",
            "Credentials found, but not matching",
        ),
        (
            FaultKind::Http404,
            StatusCode::NOT_FOUND,
            "details",
            "Dataset was not found",
        ),
    ];
    for (kind, code, key, message) in cases {
        api.sb
            .inject(Fault::new(kind).on(FaultEndpoint::Trigger).for_dataset(DS));
        let (status, body) = api.trigger(DS).await;
        assert_eq!(status, code, "{kind:?}");
        assert_eq!(body, json!({ key: message }), "{kind:?}");
    }
    // 422: FastAPI's validation body, a list of {type, loc, msg, input}.
    api.sb
        .inject(Fault::new(FaultKind::Http422).on(FaultEndpoint::Status));
    let (status, body) = api.status(DS).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let item = &body["detail"][0];
    assert_eq!(item["loc"], json!(["body", "source"]));
    assert_eq!(item["msg"], "Field required");
    assert_eq!(item["type"], "missing");
    // The kinds read from the control API's JSON names.
    for name in ["http_401", "http_402", "http_403", "http_404", "http_422"] {
        let fault: Fault = serde_json::from_value(json!({"kind": name})).unwrap();
        assert_eq!(serde_json::to_value(fault.kind).unwrap(), json!(name));
    }
    // None of them started a run or used a window: a real trigger is accepted now.
    assert_eq!(api.trigger(DS).await.0, StatusCode::ACCEPTED);
    let stats = api.stats();
    assert_eq!(stats.injected, 5);
    assert_eq!(stats.rate_limited, 0);
    assert_eq!(stats.dataset(DS).unwrap().runs.len(), 1);
}

#[tokio::test]
async fn keys_sent_in_the_query_are_counted() {
    let api = Api::start(fast()).await;
    api.status(DS).await;
    api.trigger(DS).await;
    assert_eq!(api.stats().query_keys, 0, "headers only so far");
    let status_url = api.url(&format!("/datasets/{DS}/status?private_key={KEY}"));
    tokio::time::sleep(STATUS_WINDOW + Duration::from_millis(20)).await;
    let (status, _) = api.send(api.http.get(&status_url)).await;
    assert_eq!(status, StatusCode::OK, "the documented query key works");
    let (status, _) = api
        .send(api.http.get(api.url("/no/such/path?x=1&private_key=k")))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(api.stats().query_keys, 2);
}

#[test]
fn the_sandbox_listens_on_loopback_by_default() {
    assert!(SandboxConfig::default().listen.ip().is_loopback());
    assert_eq!(
        SandboxConfig::default().listen.ip(),
        std::net::IpAddr::from([127, 0, 0, 1])
    );
}

#[tokio::test]
async fn control_api_over_http() {
    let api = Api::start(fast()).await;
    let put = |body: Value| {
        api.http
            .put(api.url(&format!("/_sandbox/datasets/{DS}")))
            .body(body.to_string())
    };
    let (status, body) = api
        .send(put(json!({
            "exists": true, "previous_run": null, "duration_ms": 5000, "outcome": "failed",
            "start_delay_ms": 0, "reimport_key": "hook-2", "running": true
        })))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"dataset_id": DS}));
    let (status, body) = api.status(DS).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "in_progress");
    assert_eq!(api.send(put(json!({"outcome": "maybe"}))).await.0, 400);
    assert_eq!(api.send(put(json!({"typo": 1}))).await.0, 400);
    let (status, _) = api
        .send(api.http.put(api.url("/_sandbox/datasets/xyz")).body("{}"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, _) = api
        .send(
            api.http
                .post(api.url("/_sandbox/keys"))
                .body(r#"{"key": "k2", "state": "no_quota"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api
        .send(
            api.http
                .get(api.url(&format!("/datasets/{DS2}/status")))
                .header("X-Api-Key", "k2"),
        )
        .await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);

    let fault = json!({"endpoint": "webhook", "dataset_id": DS, "kind": "http_503",
                       "count": 2, "retry_after": null, "delay_ms": null});
    let (status, body) = api
        .send(
            api.http
                .post(api.url("/_sandbox/faults"))
                .body(fault.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"queued": 1}));
    assert_eq!(
        api.webhook("hook-2").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let (status, _) = api
        .send(
            api.http
                .post(api.url("/_sandbox/faults"))
                .body(r#"{"kind": "explode"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = api.send(api.http.delete(api.url("/_sandbox/faults"))).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"queued": 0})));
    assert_eq!(api.webhook("hook-2").await.0, StatusCode::ACCEPTED);

    let (status, stats) = api.send(api.http.get(api.url("/_sandbox/stats"))).await;
    assert_eq!(status, StatusCode::OK);
    let typed: Stats = serde_json::from_value(stats.clone()).unwrap();
    assert_eq!(typed, api.stats());
    assert_eq!(stats["requests"], 4);
    assert_eq!(stats["injected"], 1);
    assert_eq!(stats["rate_limited"], 0);
    assert_eq!(stats["triggers_while_running"], 1);
    let ds = &stats["datasets"][DS];
    assert_eq!(ds["triggers"], 2);
    assert_eq!(ds["status_calls"], 1);
    assert_eq!(ds["runs"].as_array().unwrap().len(), 2);

    let (status, _) = api.send(api.http.post(api.url("/_sandbox/reset"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(api.stats(), Stats::default());
    assert_eq!(api.webhook("hook-2").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn processed_faults_do_the_work_then_hide_the_answer() {
    // A proxy 502 after the import was scheduled.
    let api = Api::with_faults([Fault::new(FaultKind::Http502)
        .on(FaultEndpoint::Trigger)
        .after_processing()])
    .await;
    let (status, _) = api.trigger(DS).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let stats = api.stats();
    assert_eq!(stats.runs_triggered, 1, "the trigger was acted on");
    assert_eq!(stats.dataset(DS).unwrap().runs.len(), 1);
    // The window started: a second trigger at once is a window 429, and a processed fault
    // does not hide an error answer.
    api.sb.inject(
        Fault::new(FaultKind::Reset)
            .on(FaultEndpoint::Trigger)
            .after_processing(),
    );
    assert_eq!(api.trigger(DS).await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(api.stats().rate_limited, 1);

    // A cut connection after the work was done (webhook).
    api.sb
        .configure_dataset(DS2, DatasetConfig::default().reimport_key("hook-9"))
        .unwrap();
    api.sb.inject(
        Fault::new(FaultKind::Reset)
            .on(FaultEndpoint::Webhook)
            .after_processing(),
    );
    let response = api
        .http
        .post(api.url("/datasets/hooks/reimport/hook-9"))
        .send()
        .await
        .expect("the head arrives");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert!(response.bytes().await.is_err(), "the body read fails");
    let stats = api.stats();
    assert_eq!(stats.dataset(DS2).unwrap().runs_triggered, 1);
    assert_eq!(stats.runs_triggered, 2);
    // Unprocessed faults still have no effect.
    tokio::time::sleep(TRIGGER_WINDOW).await;
    api.sb
        .inject(Fault::new(FaultKind::Http502).on(FaultEndpoint::Trigger));
    assert_eq!(api.trigger(DS).await.0, StatusCode::BAD_GATEWAY);
    assert_eq!(api.stats().runs_triggered, 2);
}

#[tokio::test]
async fn http_status_fault_answers_any_code_with_the_chosen_detail() {
    let api = Api::with_faults([Fault::http_status(418, "teapot").on(FaultEndpoint::Status)]).await;
    let (status, body) = api.status(DS).await;
    assert_eq!(status, StatusCode::IM_A_TEAPOT);
    assert_eq!(body, json!({"detail": "teapot"}));
    // Over the control API; a status that is not an HTTP code is refused.
    let post = |body: Value| {
        api.http
            .post(api.url("/_sandbox/faults"))
            .body(body.to_string())
    };
    let (status, _) = api
        .send(post(json!({"kind": "http_status", "status": 301})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(api.trigger(DS).await.0, StatusCode::MOVED_PERMANENTLY);
    let (status, body) = api
        .send(post(json!({"kind": "http_status", "status": 1000})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("status"), "{body}");
    assert_eq!(api.stats().runs_triggered, 0);
}

#[tokio::test]
async fn the_request_log_shows_what_clients_sent() {
    let api = Api::with_dataset(DS2, DatasetConfig::default().reimport_key("hook-3")).await;
    let before = tokio::time::Instant::now();
    api.status(DS).await;
    api.send(
        api.http
            .post(api.url(&format!("/datasets/{DS}/import?private_key=abc")))
            .header("content-type", "application/json")
            .body("{}"),
    )
    .await;
    api.webhook("hook-3").await;
    let log = api.sb.requests();
    assert_eq!(log.len(), 3, "control calls are not logged: {log:?}");
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].path, format!("/datasets/{DS}/status"));
    assert_eq!(log[0].header("X-Api-Key"), Some(KEY));
    assert_eq!(log[0].query, None);
    assert!(log[0].at.unwrap() >= before);
    assert_eq!(log[1].method, "POST");
    assert_eq!(log[1].query.as_deref(), Some("private_key=abc"));
    assert_eq!(log[1].header("x-api-key"), None);
    assert_eq!(log[1].header("content-type"), Some("application/json"));
    assert_eq!(log[1].body, "{}");
    assert_eq!(log[2].path, "/datasets/hooks/reimport/hook-3");
    assert!(log[0].at_ms <= log[1].at_ms && log[1].at_ms <= log[2].at_ms);

    let (status, body) = api.send(api.http.get(api.url("/_sandbox/requests"))).await;
    assert_eq!(status, StatusCode::OK);
    let over_http: Vec<woosmap_sandbox::RequestRecord> = serde_json::from_value(body).unwrap();
    assert_eq!(over_http.len(), 3);
    assert_eq!(over_http[1].path, log[1].path);
    assert_eq!(over_http[1].at, None, "instants stay in process");
    api.sb.reset();
    assert!(api.sb.requests().is_empty());
}

#[tokio::test]
async fn a_run_another_client_started_shows_after_its_delay() {
    let api = Api::start(fast()).await;
    let (_, before) = api.status(DS).await;
    api.sb
        .configure_dataset(
            DS,
            DatasetConfig::default().run_starts_in(Duration::from_millis(400)),
        )
        .unwrap();
    let (_, still) = api.paced_status(DS).await;
    assert_eq!(run_id(&still), run_id(&before), "not visible yet");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (_, now) = api.status(DS).await;
    assert_ne!(run_id(&now), run_id(&before));
    assert_eq!(now["status"], "in_progress");
    let stats = api.stats();
    assert_eq!(stats.dataset(DS).unwrap().runs.len(), 1);
    assert_eq!(stats.runs_triggered, 0, "not a trigger");
    // The trigger window was left alone.
    assert_eq!(api.trigger(DS).await.0, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn shutdown_and_drop_stop_the_server() {
    let sb = Sandbox::start(fast()).await.unwrap();
    let url = format!("{}/_sandbox/stats", sb.base_url());
    let http = reqwest::Client::new();
    assert!(http.get(&url).send().await.is_ok());
    sb.shutdown().await;
    assert!(reqwest::Client::new().get(&url).send().await.is_err());

    let sb = Sandbox::start(fast()).await.unwrap();
    let url = format!("{}/_sandbox/stats", sb.base_url());
    drop(sb);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(reqwest::Client::new().get(&url).send().await.is_err());
}

#[tokio::test]
async fn the_binary_prints_its_address_and_serves_the_api() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};

    let mut child = Command::new(env!("CARGO_BIN_EXE_woosmap-sandbox"))
        .args([
            "--private-key",
            "bin-key",
            "--status-window",
            "200ms",
            "--start-delay",
            "0s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let (first, stdout) = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        stdout.read_line(&mut line).expect("stdout is readable");
        (line, stdout)
    })
    .await
    .unwrap();
    let base = first
        .strip_suffix('\n')
        .and_then(|l| l.strip_prefix("woosmap-sandbox listening on "))
        .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let http = reqwest::Client::new();
    let status_url = format!("{base}/datasets/{DS}/status");
    let response = http
        .get(&status_url)
        .header("X-Api-Key", "bin-key")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = http
        .get(&status_url)
        .header("X-Api-Key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "only --private-key"
    );
    let hook = http
        .put(format!("{base}/_sandbox/datasets/{DS}"))
        .body(r#"{"reimport_key": "very-secret-hook"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), StatusCode::OK);
    let webhook = http
        .post(format!("{base}/datasets/hooks/reimport/very-secret-hook"))
        .send()
        .await
        .unwrap();
    assert_eq!(webhook.status(), StatusCode::ACCEPTED);

    // SIGTERM: a clean exit; the logs never show keys; nothing more on stdout than the
    // export lines.
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let (exit, logs, rest) = tokio::task::spawn_blocking(move || {
        let exit = child.wait().unwrap();
        let mut logs = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut logs)
            .unwrap();
        let mut rest = String::new();
        let mut stdout = stdout;
        stdout.read_to_string(&mut rest).unwrap();
        (exit, logs, rest)
    })
    .await
    .unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(logs.contains("/datasets/hooks/reimport/***"), "{logs}");
    assert!(!logs.contains("very-secret-hook"), "{logs}");
    assert!(!logs.contains("bin-key"), "{logs}");
    // After the address only the ready-to-paste lines (tests/exports.rs checks them).
    assert!(
        rest.lines()
            .all(|l| l.starts_with("export WOOSMAP_") || l.starts_with("# ")),
        "nothing else on stdout: {rest}"
    );
}

#[test]
fn binary_rejects_bad_flags_naming_them() {
    let bin = env!("CARGO_BIN_EXE_woosmap-sandbox");
    for (args, flag) in [
        (vec!["--import-duration", "0s"], "--import-duration"),
        (vec!["--status-window", "soon"], "--status-window"),
        (vec!["--listen", "localhost"], "--listen"),
        (vec!["--private-key", ""], "--private-key"),
    ] {
        let out = std::process::Command::new(bin)
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty());
    }
    let help = std::process::Command::new(bin)
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("/_sandbox/faults"));
}
