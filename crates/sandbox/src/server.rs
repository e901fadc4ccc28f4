//! The HTTP server under both sandboxes (Woosmap and Rocket.Chat): binding the listener,
//! serving a router in a background task, and stopping it (gracefully with a time limit on
//! `shutdown`; when the handle is dropped, it stops accepting at once and finishes the requests
//! in flight). Also the poison-tolerant lock both
//! sandboxes take on their state.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running server. Dropping it stops the server.
pub(crate) struct Server {
    addr: SocketAddr,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `listen`, then serves `router(shared)` in a
    /// background task until the server is shut down or dropped; `shared` is made by `make`
    /// (given the token that stops the server) and returned for the handle. `what` names the
    /// server in the log if serving fails.
    pub(crate) async fn start<S>(
        listen: SocketAddr,
        what: &'static str,
        router: fn(Arc<S>) -> axum::Router,
        make: impl FnOnce(CancellationToken) -> S,
    ) -> io::Result<(Server, Arc<S>)> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let shared = Arc::new(make(stop.clone()));
        let task = spawn_server(listener, router(shared.clone()), stop.clone(), what);
        let server = Server {
            addr,
            stop,
            task: Some(task),
        };
        Ok((server, shared))
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections, lets requests in flight finish and waits up to 5 s for
    /// the server task (then aborts it).
    pub(crate) async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

/// Refuses a zero `import_duration` (a run must take some time to be seen running), which both
/// sandboxes' configurations hold.
pub(crate) fn check_import_duration(import_duration: Duration) -> io::Result<()> {
    if import_duration.is_zero() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "import_duration must be greater than zero",
        ));
    }
    Ok(())
}

impl Drop for Server {
    fn drop(&mut self) {
        // The server task winds down on its own: it stops accepting at once and closes each
        // connection when its request in flight (if any) is answered.
        self.stop.cancel();
    }
}

/// Serves `app` on `listener` in a background task until `stop` is cancelled (then finishes
/// the requests in flight); `what` names the server in the log if serving fails.
fn spawn_server(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    stop: CancellationToken,
    what: &'static str,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
        if let Err(err) = served {
            tracing::error!("{what} stopped: {err}");
        }
    })
}

/// Locks a sandbox's state; a panic while holding the lock does not make the sandbox unusable.
pub(crate) fn lock_state<T>(state: &Mutex<T>) -> MutexGuard<'_, T> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
