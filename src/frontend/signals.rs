//! The signals that stop a front end's wait: Ctrl-C (SIGINT) everywhere, and SIGTERM on Unix
//! (CI systems cancel a job with SIGTERM). Both front ends then cancel the engine, so that
//! the report is still written before the process exits.

/// Resolves on the first Ctrl-C or SIGTERM.
pub async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
