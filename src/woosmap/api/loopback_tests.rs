//! Loopback tests of `Client` against the sandbox (in process): headers and paths, the
//! mapping of every documented error, retries, pacing, deadlines and secrecy.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use woosmap_sandbox::{Fault, FaultBody, FaultEndpoint, FaultKind, SandboxHandle};

use super::test_support::{
    PRIVATE_KEY, STATUS_WINDOW, TRIGGER_WINDOW, add_dataset, imported_dataset, new_dataset_id,
    rejected_429, start_with_test_windows, test_client, triggers_accepted,
};
use super::*;

const REIMPORT_KEY: &str = "rk-TOPSECRET-98765";

fn new_dataset() -> DatasetId {
    new_dataset_id()
}

async fn server() -> SandboxHandle {
    start_with_test_windows(Duration::from_millis(200), Duration::from_millis(600)).await
}

fn client_for(base_url: &str, key: Option<&str>) -> Client {
    test_client(format!("{base_url}/"), key, Duration::from_secs(5))
}

/// A sandbox with an imported dataset, and a client of it sending the private key.
async fn imported() -> (SandboxHandle, DatasetId, Client) {
    let srv = server().await;
    let id = imported_dataset(&srv);
    let client = client_for(&srv.base_url(), Some(PRIVATE_KEY));
    (srv, id, client)
}

fn soon(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

fn assert_no_secret(err: &ApiError) {
    for text in [format!("{err}"), format!("{err:?}")] {
        assert!(!text.contains(PRIVATE_KEY), "private key leaked: {text}");
        assert!(!text.contains(REIMPORT_KEY), "reimport key leaked: {text}");
        assert!(!text.contains("TOPSECRET"), "reimport key leaked: {text}");
    }
}

#[tokio::test]
async fn status_sends_key_header_and_user_agent() {
    let (srv, id, client) = imported().await;
    let run = client.status(&id, Duration::ZERO, soon(5)).await.unwrap();
    let run = run.expect("a previous run");
    assert_eq!(run.status, RunStatus::Success);
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].path, format!("/datasets/{id}/status"));
    assert_eq!(reqs[0].query, None, "the key never travels in the query");
    assert_eq!(reqs[0].header("x-api-key"), Some(PRIVATE_KEY));
    assert_eq!(
        reqs[0].header("user-agent"),
        Some(concat!("woosmap-import/", env!("CARGO_PKG_VERSION")))
    );
}

#[tokio::test]
async fn status_404_is_none_and_trigger_404_is_not_found() {
    let srv = server().await;
    let id = new_dataset();
    let client = client_for(&srv.base_url(), Some(PRIVATE_KEY));
    assert_eq!(
        client.status(&id, Duration::ZERO, soon(5)).await.unwrap(),
        None
    );
    let err = client.trigger_import(&id, soon(5)).await.unwrap_err();
    assert!(matches!(err, ApiError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains(id.as_str()));
    assert_eq!(err.kind(), ErrorKind::Usage);
}

#[tokio::test]
async fn trigger_posts_empty_json_object() {
    let srv = server().await;
    let id = new_dataset();
    add_dataset(&srv, id.as_str(), false, None);
    let client = client_for(&srv.base_url(), Some(PRIVATE_KEY));
    client.trigger_import(&id, soon(5)).await.unwrap();
    let reqs = srv.requests();
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, format!("/datasets/{id}/import"));
    assert_eq!(reqs[0].body, "{}");
    assert_eq!(reqs[0].header("content-type"), Some("application/json"));
    assert_eq!(reqs[0].header("x-api-key"), Some(PRIVATE_KEY));
    assert_eq!(reqs[0].query, None);
    assert_eq!(triggers_accepted(&srv), 1);
}

#[tokio::test]
async fn documented_errors_map_to_variants_without_secrets() {
    let srv = server().await;
    let id = imported_dataset(&srv);

    // 401: no key at all would be refused locally; have the sandbox answer as if none had
    // been sent.
    let client = client_for(&srv.base_url(), Some(PRIVATE_KEY));
    srv.inject(Fault::new(FaultKind::Http401).on(FaultEndpoint::Status));
    let err = client
        .status(&id, Duration::ZERO, soon(5))
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("WOOSMAP_PRIVATE_KEY"));
    assert_no_secret(&err);

    // 403 with a key the sandbox does not know.
    let wrong = client_for(&srv.base_url(), Some("wrong-key-1234"));
    let err = wrong.trigger_import(&id, soon(5)).await.unwrap_err();
    assert!(matches!(err, ApiError::Forbidden { .. }), "{err:?}");
    assert!(err.to_string().contains("HTTP 403"));
    // A server that echoes the key it got in its detail: it must be scrubbed.
    srv.inject(
        Fault::http_status(403, "Credentials found, but not matching: wrong-key-1234")
            .on(FaultEndpoint::Status),
    );
    let err = wrong
        .status(&id, Duration::ZERO, soon(5))
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Forbidden { .. }), "{err:?}");
    assert!(!format!("{err:?}").contains("wrong-key-1234"), "{err:?}");

    for (fault, check) in [
        (
            Fault::new(FaultKind::Http402),
            "out of free quota (HTTP 402",
        ),
        (
            Fault::new(FaultKind::Http422),
            "HTTP 422: body.source: Field required",
        ),
        (
            Fault::http_status(503, "maintenance"),
            "HTTP 503: maintenance",
        ),
        (
            Fault::http_status(418, "teapot"),
            "unexpected HTTP 418: teapot",
        ),
        (
            Fault::http_status(500, &format!("boom for key {PRIVATE_KEY}")),
            "HTTP 500: boom for key ***",
        ),
    ] {
        let code = fault.status;
        srv.inject(fault.on(FaultEndpoint::Trigger));
        let err = client.trigger_import(&id, soon(5)).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains(check), "{code:?}: {text}");
        assert!(text.contains(id.as_str()), "{code:?}: {text}");
        assert_no_secret(&err);
    }
    assert_eq!(triggers_accepted(&srv), 0);
}

#[tokio::test]
async fn missing_key_is_refused_locally() {
    let srv = server().await;
    let id = new_dataset();
    let client = client_for(&srv.base_url(), None);
    let err = client
        .status(&id, Duration::ZERO, soon(5))
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::MissingPrivateKey { .. }));
    let err = client.trigger_import(&id, soon(5)).await.unwrap_err();
    assert!(matches!(err, ApiError::MissingPrivateKey { .. }));
    assert!(srv.requests().is_empty());
}

#[tokio::test]
async fn webhook_puts_key_in_path_only_and_never_in_errors() {
    let srv = server().await;
    let id = new_dataset();
    let other = new_dataset();
    add_dataset(&srv, id.as_str(), true, Some(REIMPORT_KEY));
    add_dataset(&srv, other.as_str(), true, Some("rk-other-key-000"));
    let client = client_for(&srv.base_url(), Some(PRIVATE_KEY));
    let key = Secret::new(REIMPORT_KEY);

    client.trigger_webhook(&id, &key, soon(5)).await.unwrap();
    let reqs = srv.requests();
    assert_eq!(
        reqs[0].path,
        format!("/datasets/hooks/reimport/{REIMPORT_KEY}")
    );
    assert_eq!(
        reqs[0].header("x-api-key"),
        None,
        "the webhook needs no private key"
    );

    // Unknown key, from a server that echoes the key in its 404 detail.
    srv.inject(
        Fault::http_status(404, "Dataset was not found for key rk-TOPSECRET-unknown")
            .on(FaultEndpoint::Webhook),
    );
    let bad = Secret::new("rk-TOPSECRET-unknown");
    let err = client
        .trigger_webhook(&id, &bad, soon(5))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::WebhookKeyRejected { status: 404, .. }),
        "{err:?}"
    );
    assert_no_secret(&err);

    // A key of another dataset.
    let err = client
        .trigger_webhook(&id, &Secret::new("rk-other-key-000"), soon(5))
        .await
        .unwrap_err();
    match &err {
        ApiError::WebhookDatasetMismatch { expected, actual } => {
            assert_eq!(expected, &id);
            assert_eq!(actual, other.as_str());
        }
        e => panic!("{e:?}"),
    }
    assert!(!err.to_string().contains("rk-other-key-000"));

    // Transport failure on the webhook: no URL, no key.
    srv.inject(
        Fault::new(FaultKind::Reset)
            .on(FaultEndpoint::Webhook)
            .after_processing(),
    );
    let err = client
        .trigger_webhook(&id, &key, soon(10))
        .await
        .unwrap_err();
    assert!(err.may_have_been_processed(), "{err:?}");
    assert_no_secret(&err);
    assert!(!err.to_string().contains("127.0.0.1"), "{err}");
}

#[tokio::test]
async fn status_429_waits_retry_after_and_reports_retries() {
    let srv = server().await;
    let id = imported_dataset(&srv);
    let notices = Arc::new(Mutex::new(Vec::new()));
    let n = notices.clone();
    let client = client_for(&srv.base_url(), Some(PRIVATE_KEY))
        .with_retry_observer(move |r| n.lock().unwrap().push(r.clone()));
    srv.inject(
        Fault::new(FaultKind::RateLimit)
            .on(FaultEndpoint::Status)
            .retry_after(1),
    );
    let t0 = Instant::now();
    let run = client.status(&id, Duration::ZERO, soon(10)).await.unwrap();
    assert!(run.is_some());
    let waited = t0.elapsed();
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    // Waited out once: the refused read, then the one answered (no second 429 wait).
    assert_eq!(srv.requests().len(), 2);
    let notices = notices.lock().unwrap();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].reason, "rate limited (HTTP 429)");
    assert_eq!(notices[0].endpoint, Endpoint::Status);
}

#[tokio::test]
async fn trigger_429_is_waited_out_then_retried() {
    let (srv, id, client) = imported().await;
    srv.inject(Fault::new(FaultKind::RateLimit).on(FaultEndpoint::Trigger));
    let t0 = Instant::now();
    client.trigger_import(&id, soon(10)).await.unwrap();
    // No Retry-After: the documented (configured) window plus the margin.
    assert!(t0.elapsed() >= TRIGGER_WINDOW + TRIGGER_MARGIN);
    assert_eq!(triggers_accepted(&srv), 1);
}

#[tokio::test]
async fn rate_limited_past_deadline_returns_at_once() {
    let (srv, id, client) = imported().await;
    srv.inject(
        Fault::new(FaultKind::RateLimit)
            .on(FaultEndpoint::Status)
            .retry_after(60),
    );
    let err = client
        .status(&id, Duration::ZERO, soon(5))
        .await
        .unwrap_err();
    // Given up without a second try (not waited out); that it returns at once, without
    // sleeping towards the deadline, is proven on the paused clock (`paused` below).
    assert_eq!(srv.requests().len(), 1, "not retried");
    match err {
        ApiError::RateLimited { retry_after, .. } => {
            assert_eq!(retry_after, Some(Duration::from_secs(60)))
        }
        e => panic!("{e:?}"),
    }
}

#[tokio::test]
async fn status_retries_5xx_and_garbage_but_trigger_does_not() {
    let (srv, id, client) = imported().await;
    srv.inject(Fault::new(FaultKind::Http502).on(FaultEndpoint::Status));
    srv.inject(
        Fault::new(FaultKind::Garbage)
            .on(FaultEndpoint::Status)
            .body(FaultBody::Json),
    );
    srv.inject(
        Fault::new(FaultKind::Reset)
            .on(FaultEndpoint::Status)
            .after_processing(),
    );
    let run = client.status(&id, Duration::ZERO, soon(20)).await.unwrap();
    assert!(run.is_some());
    assert_eq!(
        srv.requests().len(),
        4,
        "three faults, then the real answer"
    );
    assert_eq!(
        rejected_429(&srv),
        0,
        "retries stay inside the status pacing"
    );

    srv.inject(
        Fault::new(FaultKind::Http502)
            .on(FaultEndpoint::Trigger)
            .body(FaultBody::Json)
            .after_processing(),
    );
    let err = client.trigger_import(&id, soon(20)).await.unwrap_err();
    assert!(
        matches!(err, ApiError::Server { status: 502, .. }),
        "{err:?}"
    );
    assert!(err.may_have_been_processed());
    assert_eq!(triggers_accepted(&srv), 1, "sent once, not retried");
}

#[tokio::test]
async fn connect_errors_retry_until_the_deadline() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let id = new_dataset();
    let notices = Arc::new(Mutex::new(0usize));
    let n = notices.clone();
    let client =
        client_for(&base, Some(PRIVATE_KEY)).with_retry_observer(move |_| *n.lock().unwrap() += 1);
    let err = client
        .trigger_import(&id, Instant::now() + Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Connect { .. }), "{err:?}");
    assert!(!err.may_have_been_processed());
    // That it gives up before the deadline is proven on the paused clock (`paused` below).
    assert!(*notices.lock().unwrap() >= 2, "retried with backoff");
    let text = err.to_string();
    assert!(
        text.starts_with("Could not connect to http://127.0.0.1:"),
        "{text}"
    );
    assert!(!text.contains("/datasets"), "{text}");
}

#[tokio::test]
async fn request_timeout_is_a_timeout_error() {
    let srv = server().await;
    let id = imported_dataset(&srv);
    let client = test_client(
        srv.base_url(),
        Some(PRIVATE_KEY),
        Duration::from_millis(200),
    );
    srv.inject(
        Fault::new(FaultKind::Slow)
            .on(FaultEndpoint::Trigger)
            .delay(Duration::from_secs(2)),
    );
    let err = client.trigger_import(&id, soon(10)).await.unwrap_err();
    assert!(
        matches!(err, ApiError::Timeout { after, .. } if after == Duration::from_millis(200)),
        "{err:?}"
    );
    assert!(err.may_have_been_processed());
}

#[tokio::test]
async fn pacing_spaces_calls_and_is_shared_by_all_clients() {
    let srv = server().await;
    let id = imported_dataset(&srv);
    // Two independent clients for the same API and dataset, several concurrent callers each.
    let a = client_for(&srv.base_url(), Some(PRIVATE_KEY));
    let b = client_for(&srv.base_url(), Some(PRIVATE_KEY));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..6 {
        let c = if i % 2 == 0 { a.clone() } else { b.clone() };
        let id = id.clone();
        set.spawn(async move { c.status(&id, Duration::ZERO, soon(10)).await.unwrap() });
    }
    while let Some(r) = set.join_next().await {
        assert!(r.unwrap().is_some());
    }
    // Concurrent callers may be served by one read sent after they asked (status answers are
    // shared); calls made one after the other each need a read of their own.
    let concurrent = srv.requests().len();
    assert!((1..=6).contains(&concurrent), "{concurrent}");
    for i in 0..4 {
        let c = if i % 2 == 0 { &a } else { &b };
        assert!(
            c.status(&id, Duration::ZERO, soon(10))
                .await
                .unwrap()
                .is_some()
        );
    }
    assert_eq!(rejected_429(&srv), 0);
    let times: Vec<Instant> = srv.requests().iter().map(|r| r.at.unwrap()).collect();
    assert_eq!(times.len(), concurrent + 4);
    for w in times.windows(2) {
        assert!(w[1] - w[0] >= STATUS_WINDOW, "{:?}", w[1] - w[0]);
    }

    // A longer poll interval spaces reads further.
    let t0 = Instant::now();
    a.status(&id, Duration::from_millis(600), soon(10))
        .await
        .unwrap();
    a.status(&id, Duration::from_millis(600), soon(10))
        .await
        .unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(600));
}

#[tokio::test]
async fn next_slot_past_deadline_fails_fast() {
    let (srv, id, client) = imported().await;
    client.trigger_import(&id, soon(5)).await.unwrap();
    let err = client
        .trigger_import(&id, Instant::now() + Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::DeadlineExceeded { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Timeout);
    // Nothing sent for the second trigger; that it fails without waiting at all is proven on
    // the paused clock (`paused` below).
    assert_eq!(srv.requests().len(), 1, "the first trigger only");
    assert_eq!(triggers_accepted(&srv), 1);
}

/// Every variant, formatted with Display and Debug, is free of any key.
#[test]
fn no_variant_ever_shows_a_key() {
    let id = new_dataset();
    let d = || id.clone();
    let e = Endpoint::Webhook;
    let all = vec![
        ApiError::MissingPrivateKey {
            action: Action::import(Endpoint::Trigger, &d()),
        },
        ApiError::MissingReimportKey { dataset_id: d() },
        ApiError::InvalidPrivateKey,
        ApiError::InvalidBaseUrl {
            base_url: "https://x".into(),
            reason: "r".into(),
        },
        ApiError::Unauthorized {
            action: Action::import(e, &d()),
        },
        ApiError::QuotaExceeded {
            action: Action::import(e, &d()),
            detail: Some("Out of free quota".into()),
        },
        ApiError::Forbidden {
            action: Action::import(e, &d()),
        },
        ApiError::WebhookKeyRejected {
            dataset_id: d(),
            status: 404,
        },
        ApiError::NotFound {
            action: Action::import(e, &d()),
        },
        ApiError::Validation {
            action: Action::import(e, &d()),
            errors: vec![("path.reimport_key".into(), "bad".into())],
        },
        ApiError::RateLimited {
            action: Action::import(e, &d()),
            retry_after: None,
        },
        ApiError::Server {
            action: Action::import(e, &d()),
            status: 500,
            detail: None,
        },
        ApiError::Connect {
            action: Action::import(e, &d()),
            origin: "https://api.woosmap.com".into(),
            reason: "refused".into(),
        },
        ApiError::Timeout {
            action: Action::import(e, &d()),
            origin: "https://api.woosmap.com".into(),
            after: Duration::from_secs(30),
            cut_short: false,
        },
        ApiError::Transport {
            action: Action::import(e, &d()),
            reason: "reset".into(),
        },
        ApiError::InvalidResponse {
            action: Action::import(e, &d()),
            status: 200,
            reason: "x".into(),
        },
        ApiError::UnexpectedStatus {
            action: Action::import(e, &d()),
            status: 301,
            detail: None,
        },
        ApiError::DeadlineExceeded {
            action: Action::import(e, &d()),
            next_slot: Some(Duration::from_secs(42)),
        },
        ApiError::WebhookDatasetMismatch {
            expected: d(),
            actual: "other".into(),
        },
    ];
    for err in &all {
        assert_no_secret(err);
        let text = err.to_string();
        assert!(text.ends_with('.'), "a sentence: {text}");
        assert!(text.chars().next().unwrap().is_uppercase(), "{text}");
    }
}

#[tokio::test]
async fn a_client_has_at_most_max_in_flight_requests_on_the_wire() {
    let srv = server().await;
    let ids: Vec<DatasetId> = (0..3 * super::client::MAX_IN_FLIGHT)
        .map(|_| imported_dataset(&srv))
        .collect();
    // Every status answer is held back 300 ms: without the cap all 96 would be on the wire
    // at once (each dataset has its own pacing windows).
    srv.inject(
        Fault::new(FaultKind::Slow)
            .on(FaultEndpoint::Status)
            .delay(Duration::from_millis(300))
            .times(ids.len() as u32),
    );
    let c = client_for(&srv.base_url(), Some(PRIVATE_KEY));
    let mut set = tokio::task::JoinSet::new();
    for id in ids {
        let c = c.clone();
        set.spawn(async move { c.status(&id, Duration::ZERO, soon(30)).await });
    }
    while let Some(r) = set.join_next().await {
        assert!(r.unwrap().unwrap().is_some());
    }
    let most = srv.stats().max_in_flight;
    assert!(
        (2..=super::client::MAX_IN_FLIGHT as u64).contains(&most),
        "at most {} on the wire, and more than one: {most}",
        super::client::MAX_IN_FLIGHT
    );
}

/// The same client on tokio's paused clock, through a scripted network (feature `sim`):
/// where the loopback tests above can only count requests, these prove that a call gives up
/// without waiting, on virtual time that no machine load can stretch.
#[cfg(feature = "sim")]
mod paused {
    use super::super::sim_transport::SimFault;
    use super::super::test_support::scripted::{answer, scheduled, scripted_client};
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rate_limited_past_deadline_returns_at_once() {
        let (client, net) = scripted_client(|_| {
            answer(429, &[("retry-after", "60")], r#"{"details":"Rate limit"}"#)
        });
        let id = new_dataset();
        let t0 = Instant::now();
        let err = client
            .status(&id, Duration::ZERO, soon(5))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ApiError::RateLimited { retry_after, .. } if retry_after == Some(Duration::from_secs(60))),
            "{err:?}"
        );
        assert_eq!(t0.elapsed(), Duration::ZERO, "no wait at all");
        assert_eq!(net.log().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn connect_errors_retry_until_the_deadline() {
        let (client, net) = scripted_client(|_| Err(SimFault::Refused));
        let notices = Arc::new(Mutex::new(0usize));
        let n = notices.clone();
        let client = client.with_retry_observer(move |_| *n.lock().unwrap() += 1);
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(2);
        let err = client
            .trigger_import(&new_dataset(), deadline)
            .await
            .unwrap_err();
        assert!(matches!(err, ApiError::Connect { .. }), "{err:?}");
        let tries = net.log();
        assert!(tries.len() >= 3, "retried with backoff: {tries:?}");
        assert_eq!(*notices.lock().unwrap(), tries.len() - 1);
        // Retried while a try still fit, and gave up before the deadline, not after it.
        assert!(tries.iter().all(|(_, at)| *at < deadline), "{tries:?}");
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn next_slot_past_deadline_fails_fast() {
        let (client, net) = scripted_client(scheduled);
        let id = new_dataset();
        client.trigger_import(&id, soon(5)).await.unwrap();
        let t0 = Instant::now();
        let err = client
            .trigger_import(&id, t0 + Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(matches!(err, ApiError::DeadlineExceeded { .. }), "{err:?}");
        assert_eq!(t0.elapsed(), Duration::ZERO, "no wait at all");
        assert_eq!(net.log().len(), 1, "the first trigger only");
    }
}
