//! Unit tests of `api` and `engine` run against the real sandbox (`woosmap_sandbox`), started
//! in process with short windows. This module holds the few shortcuts those tests share: the
//! start-up settings and clients, dataset ids and set-up, and the counters they assert on.

use std::time::Duration;

use super::{Client, ClientConfig, RateLimits, Secret};
use woosmap_sandbox::{
    DatasetConfig, PreviousRun, RequestRecord, Sandbox, SandboxConfig, SandboxHandle,
};

/// The one private key the test sandboxes accept.
pub(crate) const PRIVATE_KEY: &str = "pk-SECRET-0123456789";

/// The windows the test clients pace by (and most test sandboxes enforce).
pub(crate) const TRIGGER_WINDOW: Duration = Duration::from_millis(400);
pub(crate) const STATUS_WINDOW: Duration = Duration::from_millis(150);

/// A client of the sandbox at `base_url` sending `key`, pacing by [`TRIGGER_WINDOW`] and
/// [`STATUS_WINDOW`], giving up on one request after `request_timeout`.
pub(crate) fn test_client(
    base_url: String,
    key: Option<&str>,
    request_timeout: Duration,
) -> Client {
    Client::new(ClientConfig {
        base_url,
        private_key: key.map(Secret::new),
        request_timeout,
        limits: RateLimits {
            trigger: TRIGGER_WINDOW,
            status: STATUS_WINDOW,
        },
    })
    .unwrap()
}

/// A sandbox with these windows and run timeline. Datasets exist only once set up with
/// [`add_dataset`] (no auto-creation), so an unknown id answers 404 everywhere.
pub(crate) async fn start(
    trigger_window: Duration,
    status_window: Duration,
    start_delay: Duration,
    duration: Duration,
) -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        private_keys: vec![PRIVATE_KEY.to_owned()],
        trigger_window,
        status_window,
        start_delay,
        import_duration: duration,
        auto_create: false,
        ..SandboxConfig::default()
    })
    .await
    .expect("the sandbox starts")
}

/// A sandbox enforcing the test windows ([`TRIGGER_WINDOW`], [`STATUS_WINDOW`]) whose runs
/// start after `start_delay` and last `duration`.
pub(crate) async fn start_with_test_windows(
    start_delay: Duration,
    duration: Duration,
) -> SandboxHandle {
    start(TRIGGER_WINDOW, STATUS_WINDOW, start_delay, duration).await
}

/// The sandbox the provider tests use: runs start after 100 ms and last 1 s.
pub(crate) async fn start_for_provider() -> SandboxHandle {
    start_with_test_windows(Duration::from_millis(100), Duration::from_secs(1)).await
}

/// A fresh random dataset id (a UUID), so tests sharing a sandbox never meet.
pub(crate) fn new_dataset_id() -> super::DatasetId {
    super::DatasetId::parse(&uuid::Uuid::from_u128(fastrand::u128(..)).to_string()).unwrap()
}

/// Registers a dataset; with `previous` it already has a finished (successful) run, else it
/// was never imported. `reimport_key` sets its webhook key.
pub(crate) fn add_dataset(
    sb: &SandboxHandle,
    id: &str,
    previous: bool,
    reimport_key: Option<&str>,
) {
    let mut cfg = DatasetConfig::default().previous_run(previous.then_some(PreviousRun::Success));
    if let Some(key) = reimport_key {
        cfg = cfg.reimport_key(key);
    }
    sb.configure_dataset(id, cfg).expect("a UUID");
}

/// A fresh dataset on `sb` that already has a finished run (see [`add_dataset`]); its id.
pub(crate) fn imported_dataset(sb: &SandboxHandle) -> super::DatasetId {
    let id = new_dataset_id();
    add_dataset(sb, id.as_str(), true, None);
    id
}

/// Triggers that started a run (whatever the client was answered).
pub(crate) fn triggers_accepted(sb: &SandboxHandle) -> u64 {
    sb.stats().runs_triggered
}

/// Window 429s the sandbox had to send (injected ones not counted).
pub(crate) fn rejected_429(sb: &SandboxHandle) -> u64 {
    sb.stats().rate_limited
}

/// The API requests with this method, oldest first.
pub(crate) fn requests_with(sb: &SandboxHandle, method: &str) -> Vec<RequestRecord> {
    sb.requests()
        .into_iter()
        .filter(|r| r.method == method)
        .collect()
}

/// A scripted network for tests on tokio's paused clock (feature `sim`): every exchange is
/// answered at once by one function of the request, and the arrival of each request is logged
/// on tokio's clock, so elapsed (virtual) time is deterministic and may be asserted exactly.
#[cfg(feature = "sim")]
pub(crate) mod scripted {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::super::sim_transport::{SimAnswer, SimFault, SimFuture, SimRequest, Transport};
    use super::super::{Client, Endpoint, Instant};
    use super::{PRIVATE_KEY, new_dataset_id, test_client};

    type Answer = Result<SimAnswer, SimFault>;

    /// The transport; [`Scripted::log`] lists what arrived, oldest first.
    pub(crate) struct Scripted {
        answer: Box<dyn Fn(&SimRequest) -> Answer + Send + Sync>,
        log: Mutex<Vec<(Endpoint, Instant)>>,
    }

    impl Scripted {
        /// The endpoints and arrival times of the requests so far.
        pub(crate) fn log(&self) -> Vec<(Endpoint, Instant)> {
            self.log.lock().unwrap().clone()
        }
    }

    impl Transport for Scripted {
        fn exchange(&self, request: SimRequest) -> SimFuture {
            self.log
                .lock()
                .unwrap()
                .push((request.endpoint, Instant::now()));
            let answer = (self.answer)(&request);
            Box::pin(async move { answer })
        }
    }

    /// A client (test windows, the test key) of its own simulated API (a base URL no other
    /// test paces by), answered by `answer`; and its transport, to read the log.
    pub(crate) fn scripted_client(
        answer: impl Fn(&SimRequest) -> Answer + Send + Sync + 'static,
    ) -> (Client, Arc<Scripted>) {
        let transport = Arc::new(Scripted {
            answer: Box::new(answer),
            log: Mutex::new(Vec::new()),
        });
        let base = format!("https://{}.sim.test/", new_dataset_id());
        let client = test_client(base, Some(PRIVATE_KEY), Duration::from_secs(5))
            .with_transport(transport.clone());
        (client, transport)
    }

    /// A JSON answer with `status`, `headers` and `body`.
    pub(crate) fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Answer {
        Ok(SimAnswer {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.as_bytes().to_vec(),
        })
    }

    /// The 202 acknowledging a trigger of the dataset asked for.
    pub(crate) fn scheduled(request: &SimRequest) -> Answer {
        let body = format!(r#"{{"dataset_id":"{}"}}"#, request.dataset_id.as_str());
        answer(202, &[("content-type", "application/json")], &body)
    }
}
