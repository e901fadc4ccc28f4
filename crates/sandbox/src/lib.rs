//! A local stand-in for the Woosmap Datasets API, for tests, the demo and users' dry runs.
//!
//! It serves the three documented endpoints on loopback with the documented auth, error bodies
//! and rate limits, plays a plausible timeline for every import run (the previous run stays
//! visible for a start delay, then a `fetch` step and an `import` step with log entries appear
//! over time), and lets tests inject faults. It shares no code with the client in `api`: it is
//! an independent model of the server.
//!
//! Two ways to drive it:
//! - in process: [`Sandbox::start`] returns a [`SandboxHandle`] with typed control methods;
//! - over HTTP (for separate processes such as terraform or act): the control API under
//!   `/_sandbox/` (no auth, JSON):
//!   - `PUT  /_sandbox/datasets/{id}` with a [`DatasetConfig`] body (every field optional);
//!   - `POST /_sandbox/keys` with a [`KeyConfig`] body;
//!   - `POST /_sandbox/faults` with a [`Fault`] body; `DELETE /_sandbox/faults` drops queued faults;
//!   - `GET  /_sandbox/stats` answers [`Stats`];
//!   - `GET  /_sandbox/requests` answers the request log, a list of [`RequestRecord`];
//!   - `POST /_sandbox/reset` forgets datasets, counters, faults and the request log (keys go
//!     back to the start-up set).
//!
//! Time is the process's monotonic clock; run states are computed from timestamps on each
//! request, so no background task runs.

mod catalog;
mod control;
mod datasets;
mod faults;
pub mod rocketchat;
mod routes;
mod server;
mod state;
mod timeline;

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use control::{
    DatasetConfig, DatasetStats, KeyConfig, KeyState, Outcome, PreviousRun, REQUEST_LOG_LIMIT,
    RequestRecord, Stats,
};
pub use faults::{Fault, FaultBody, FaultEndpoint, FaultKind};

use server::{Server, lock_state};
use state::State;

/// The accepted private key when none is configured.
pub const DEFAULT_PRIVATE_KEY: &str = "sandbox-private-key";

/// How the sandbox behaves. `Default` gives the published limits and the documented defaults.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Address to bind; loopback with an ephemeral port by default.
    pub listen: SocketAddr,
    /// Accepted private keys (state `ok`). Empty means [`DEFAULT_PRIVATE_KEY`].
    pub private_keys: Vec<String>,
    /// One trigger (import or webhook) per dataset per window.
    pub trigger_window: Duration,
    /// One status call per dataset per window.
    pub status_window: Duration,
    /// How long after a trigger the status keeps showing the previous run.
    pub start_delay: Duration,
    /// How long a run lasts (fetch ≈ first 20 %, then import).
    pub import_duration: Duration,
    /// `Retry-After` seconds sent with window 429s; none by default (the API promises none).
    pub retry_after: Option<u64>,
    /// Any UUID is a dataset with one previous successful run, created on first reference.
    pub auto_create: bool,
    /// One call per window to each dataset management endpoint (create, list, get, update,
    /// delete), whatever the dataset. Published: 1 per second.
    pub datasets_window: Duration,
    /// `POST /datasets/` starts the new dataset's first import run by itself (visible after
    /// the start delay). Woosmap's reference does not say whether it does; tests try both.
    pub import_on_create: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            private_keys: Vec::new(),
            trigger_window: Duration::from_secs(90),
            status_window: Duration::from_secs(5),
            start_delay: Duration::from_secs(3),
            import_duration: Duration::from_secs(20),
            retry_after: None,
            auto_create: true,
            datasets_window: Duration::from_secs(1),
            import_on_create: true,
        }
    }
}

impl SandboxConfig {
    /// The keys accepted at start-up (the configured ones or the default key).
    pub(crate) fn initial_keys(&self) -> Vec<String> {
        if self.private_keys.is_empty() {
            vec![DEFAULT_PRIVATE_KEY.to_owned()]
        } else {
            self.private_keys.clone()
        }
    }
}

/// Shared between the HTTP handlers and the in-process handle.
pub(crate) struct Shared {
    pub(crate) config: SandboxConfig,
    pub(crate) state: Mutex<State>,
    pub(crate) stop: CancellationToken,
    /// When the sandbox started (`RequestRecord::at_ms` counts from here).
    pub(crate) started: tokio::time::Instant,
}

impl Shared {
    /// Locks the state; a panic while holding the lock does not make the sandbox unusable.
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        lock_state(&self.state)
    }
}

/// Entry point: `Sandbox::start(cfg).await`.
pub struct Sandbox;

impl Sandbox {
    /// Binds `cfg.listen` and serves in a background task until the handle is shut down or
    /// dropped.
    pub async fn start(cfg: SandboxConfig) -> io::Result<SandboxHandle> {
        server::check_import_duration(cfg.import_duration)?;
        let (server, shared) =
            Server::start(cfg.listen, "sandbox server", routes::router, |stop| {
                Shared {
                    state: Mutex::new(State::new(&cfg)),
                    config: cfg,
                    stop,
                    started: tokio::time::Instant::now(),
                }
            })
            .await?;
        Ok(SandboxHandle { server, shared })
    }
}

/// A running sandbox. Dropping it stops the server.
pub struct SandboxHandle {
    server: Server,
    shared: Arc<Shared>,
}

/// Error from the typed control methods.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The dataset id is not a UUID.
    #[error("dataset id {0:?} is not a UUID")]
    InvalidDatasetId(String),
}

impl SandboxHandle {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The same counters as `GET /_sandbox/stats`.
    pub fn stats(&self) -> Stats {
        self.shared.lock().stats()
    }

    /// Same as `GET /_sandbox/requests`: the API requests received, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().requests.iter().cloned().collect()
    }

    /// Same as `PUT /_sandbox/datasets/{id}`.
    pub fn configure_dataset(&self, id: &str, cfg: DatasetConfig) -> Result<(), ControlError> {
        let uuid =
            uuid::Uuid::parse_str(id).map_err(|_| ControlError::InvalidDatasetId(id.to_owned()))?;
        self.shared
            .lock()
            .configure_dataset(&self.shared.config, uuid, &cfg);
        Ok(())
    }

    /// Same as `POST /_sandbox/keys`.
    pub fn set_key_state(&self, key: &str, state: KeyState) {
        self.shared.lock().set_key(key, state);
    }

    /// Same as `POST /_sandbox/faults`.
    pub fn inject(&self, fault: Fault) {
        self.shared.lock().faults.push(fault);
    }

    /// Same as `DELETE /_sandbox/faults`.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Same as `POST /_sandbox/reset`.
    pub fn reset(&self) {
        self.shared.lock().reset(&self.shared.config);
    }

    /// Stops accepting connections, lets requests in flight finish (held `slow` responses are
    /// released at once) and waits up to 5 s for the server task.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}
