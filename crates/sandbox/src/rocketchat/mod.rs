//! Rocket.Chat mode: a local stand-in for Rocket.Chat's bulk user import REST API
//! (`import.new`, `import.addUsers`, `import.run`, `import.status`, `import.clear` under
//! `/api/v1/`), independent of the Woosmap model in the rest of this crate.
//!
//! It checks `X-User-Id` / `X-Auth-Token`, answers the documented bodies (401, 403, 400 and
//! 429 included), applies the default REST limiter (10 calls per route per 60 s, configurable)
//! with its `X-RateLimit-*` headers, plays an import over time once `import.run` is called, and
//! fails the users whose email is malformed or whose username contains `fail` (so `count.error`
//! can be non-zero). `import.new` aborts the operation in progress, as the real server does; the
//! sandbox counts these aborts (and, apart, the operations `import.clear` ended).
//!
//! Driven in process through [`RocketChatHandle`] (which can also end the current import at
//! once: [`RocketChatHandle::finish_current`]) or over HTTP (no auth, JSON):
//! - `POST /_sandbox/operation` with a [`ForeignOperation`] body: an operation started by
//!   someone else, to test that it is waited on rather than aborted;
//! - `POST /_sandbox/faults` with a [`RcFault`] body; `DELETE /_sandbox/faults`;
//! - `GET  /_sandbox/stats` answers [`RcStats`];
//! - `POST /_sandbox/reset` forgets operations, counters and faults.

mod routes;
mod state;

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::server::{Server, lock_state};

use state::RcState;

/// The accepted `X-User-Id` when none is configured.
pub const DEFAULT_USER_ID: &str = "sandbox-admin";
/// The accepted `X-Auth-Token` when none is configured.
pub const DEFAULT_AUTH_TOKEN: &str = "sandbox-auth-token";
/// A user id/token pair that authenticates but lacks the `run-import` permission (403).
pub const UNPRIVILEGED_USER_ID: &str = "sandbox-user";
/// The token of [`UNPRIVILEGED_USER_ID`].
pub const UNPRIVILEGED_AUTH_TOKEN: &str = "sandbox-user-token";

/// How the Rocket.Chat sandbox behaves; `Default` gives the server's defaults.
#[derive(Debug, Clone)]
pub struct RocketChatConfig {
    /// Address to bind; loopback with an ephemeral port by default.
    pub listen: SocketAddr,
    /// The admin's `X-User-Id`.
    pub user_id: String,
    /// The admin's `X-Auth-Token`.
    pub auth_token: String,
    /// Calls allowed per route per window (default 10); 0 disables the limiter.
    pub limit_calls: u32,
    /// The limiter's window (default 60 s).
    pub limit_window: Duration,
    /// How long `import.run` takes to import (default 3 s).
    pub import_duration: Duration,
    /// How far the server's clock is ahead of the real one (negative: behind), in ms. It shows
    /// in the `Date` header and in `X-RateLimit-Reset` (default 0: the real clock, and the
    /// `Date` header is left to the HTTP server).
    pub clock_offset_ms: i64,
}

impl Default for RocketChatConfig {
    fn default() -> Self {
        RocketChatConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            user_id: DEFAULT_USER_ID.to_owned(),
            auth_token: DEFAULT_AUTH_TOKEN.to_owned(),
            limit_calls: 10,
            limit_window: Duration::from_secs(60),
            import_duration: Duration::from_secs(3),
            clock_offset_ms: 0,
        }
    }
}

/// An operation started by someone else (`POST /_sandbox/operation`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ForeignOperation {
    /// `new` (being staged: no user added yet), `loading`, `ready` or `importing`: where the
    /// operation is now.
    pub state: String,
    /// How long it stays in that state before moving on (loading → ready → importing → done;
    /// a `ready` operation is run by its owner after this long). Default 2000.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// How many users it stages (default 5, none failing).
    #[serde(default)]
    pub users: Option<u32>,
    /// The user who created it (`operation.user`; default `someone-else`).
    #[serde(default)]
    pub user: Option<String>,
}

/// Which endpoint a fault applies to: `import.new`, `import.addUsers`, `import.run`,
/// `import.status`, `import.clear`, or `any`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RcFault {
    /// The route (`import.status` …) or `any`.
    #[serde(default = "any")]
    pub endpoint: String,
    /// What happens: `http_500`, `rate_limit` (429 with the documented headers), `http_401`,
    /// `http_403`, `garbage` (200 with an HTML page). The request has no effect.
    pub kind: RcFaultKind,
    /// How many matching requests it hits (default 1).
    #[serde(default = "one")]
    pub count: u32,
}

impl RcFault {
    /// `kind` on the next `count` requests to `endpoint` (a route such as `import.status`, or
    /// `any`).
    pub fn new(endpoint: &str, kind: RcFaultKind, count: u32) -> RcFault {
        RcFault {
            endpoint: endpoint.to_owned(),
            kind,
            count,
        }
    }
}

fn any() -> String {
    "any".to_owned()
}
fn one() -> u32 {
    1
}

/// The injectable faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RcFaultKind {
    /// 500 `{"success":false,"error":"Internal server error"}`.
    Http500,
    /// 429 `error-too-many-requests`, `X-RateLimit-Remaining: 0`, reset 1 s ahead.
    RateLimit,
    /// The documented 401 body.
    Http401,
    /// The documented 403 body.
    Http403,
    /// 200 with an HTML page.
    Garbage,
}

/// Counters, as `GET /_sandbox/stats` answers them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RcStats {
    /// API requests received (control calls excluded).
    pub requests: u64,
    /// 429 answers from the limiter (injected ones excluded).
    pub rate_limited: u64,
    /// Answers produced by injected faults.
    pub injected: u64,
    /// Operations that `import.new` aborted while new (being staged), loading, ready or
    /// importing.
    pub aborts: u64,
    /// Operations that `import.clear` ended while new, loading, ready or importing (a client
    /// clearing the operation it created and could not run).
    #[serde(default)]
    pub cleared: u64,
    /// Operations created (by `import.new` or the control API).
    pub operations: u64,
    /// `import.run` calls accepted.
    pub runs: u64,
    /// When the import started by the last accepted `import.run` reaches `importer_done`, in ms
    /// since the epoch (benchmarks measure "import end → return" from it).
    #[serde(default)]
    pub last_import_end_ms: Option<u64>,
    /// Requests per route (`import.status` …).
    pub per_route: std::collections::BTreeMap<String, u64>,
}

pub(crate) struct RcShared {
    pub(crate) config: RocketChatConfig,
    pub(crate) state: Mutex<RcState>,
}

impl RcShared {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, RcState> {
        lock_state(&self.state)
    }
}

/// Entry point: `RocketChatSandbox::start(cfg).await`.
pub struct RocketChatSandbox;

impl RocketChatSandbox {
    /// Binds `cfg.listen` and serves until the handle is shut down or dropped.
    pub async fn start(cfg: RocketChatConfig) -> io::Result<RocketChatHandle> {
        crate::server::check_import_duration(cfg.import_duration)?;
        let (listen, what) = (cfg.listen, "rocket.chat sandbox");
        let (server, shared) = Server::start(listen, what, routes::router, |_stop| RcShared {
            state: Mutex::new(RcState::default()),
            config: cfg,
        })
        .await?;
        Ok(RocketChatHandle { server, shared })
    }
}

/// A running Rocket.Chat sandbox. Dropping it stops the server.
pub struct RocketChatHandle {
    server: Server,
    shared: Arc<RcShared>,
}

impl RocketChatHandle {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The same counters as `GET /_sandbox/stats`.
    pub fn stats(&self) -> RcStats {
        self.shared.lock().stats.clone()
    }

    /// Same as `POST /_sandbox/operation`; returns the operation id.
    pub fn start_foreign(&self, op: &ForeignOperation) -> Result<String, String> {
        let now = tokio::time::Instant::now();
        self.shared.lock().foreign(&self.shared.config, op, now)
    }

    /// The current operation's import ends now (`done`), e.g. someone else's operation that a
    /// test has seen being waited on; one not importing yet is left as is.
    pub fn finish_current(&self) {
        self.shared
            .lock()
            .finish_current(tokio::time::Instant::now());
    }

    /// The current operation, whatever its stage (being staged, ready, importing), ends now
    /// (`done`), as if its owner had run it to the end; an invalidated or ended one is left.
    pub fn end_current(&self) {
        self.shared.lock().end_current(tokio::time::Instant::now());
    }

    /// Same as `POST /_sandbox/faults`.
    pub fn inject(&self, fault: RcFault) {
        self.shared.lock().faults.push(fault);
    }

    /// Same as `POST /_sandbox/reset`.
    pub fn reset(&self) {
        *self.shared.lock() = RcState::default();
    }

    /// Stops the server and waits up to 5 s for it.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}
