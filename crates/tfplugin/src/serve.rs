//! Running a [`Provider`] as a Terraform plugin: environment checks, handshake, TLS,
//! the HTTP/2 server (hyper) with all gRPC services behind a [`Router`], SIGINT handling,
//! and shutdown.
//!
//! Order matters: the listener is bound before the handshake line is printed; stdout gets
//! nothing else. `GRPCController/Shutdown` stops accepting, lets in-flight calls finish for
//! up to a second, then [`serve`] returns (Terraform kills the process after 2 s).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info};

use super::goplugin::{Broker, Controller, Stdio};
use super::grpc::ProviderService;
use super::handshake::{self, HandshakeError};
use super::proto::{plugin, tfplugin6};
use super::provider::Provider;
use super::router::Router;
use super::tls::{self, TlsError};

/// Largest gRPC message accepted or sent (tonic's default is 4 MiB; schemas and states of
/// many resources can be larger).
pub const MAX_MESSAGE_SIZE: usize = 256 * 1024 * 1024;
/// How long graceful shutdown may take before we stop waiting.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
/// Tokio worker threads.
const WORKER_THREADS: usize = 2;
/// Largest header block accepted (hyper's default is 16 KiB; gRPC metadata stays far below).
const MAX_HEADER_LIST_SIZE: u32 = 64 * 1024;
/// How long a TLS handshake may take.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("could not start the async runtime: {0}")]
    Runtime(io::Error),
}

/// Runs `provider` as a Terraform plugin until Terraform shuts it down. The binary's
/// `main` returns this. Run by hand (no magic cookie), it prints a friendly message on
/// stderr and exits 1.
pub fn serve<P: Provider>(provider: P) -> ExitCode {
    if !handshake::launched_by_terraform() {
        eprintln!("{}", provider.run_by_hand_message());
        return ExitCode::from(1);
    }
    super::log::init();
    run_to_exit(serve_async(provider))
}

/// Runs `serving` to its end on a fresh multi-threaded runtime and turns the outcome into the
/// process's exit code: success, or 1 with the error logged and printed on stderr.
pub(super) fn run_to_exit(serving: impl Future<Output = Result<(), ServeError>>) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        // Plugin work is I/O-bound; two workers suffice, and a fixed count spares the
        // cgroup probing of `available_parallelism` at start-up.
        .worker_threads(WORKER_THREADS)
        .enable_all()
        .build()
        .map_err(ServeError::Runtime);
    match runtime.and_then(|rt| rt.block_on(serving)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            eprintln!("Error: {e}");
            ExitCode::from(1)
        }
    }
}

/// [`serve`] inside an existing runtime, without the cookie check or logger setup.
pub async fn serve_async<P: Provider>(provider: P) -> Result<(), ServeError> {
    ignore_sigint();
    handshake::check_protocol_versions(std::env::var("PLUGIN_PROTOCOL_VERSIONS").ok().as_deref())?;
    let listener = handshake::bind_listener(
        std::env::var("PLUGIN_MIN_PORT").ok().as_deref(),
        std::env::var("PLUGIN_MAX_PORT").ok().as_deref(),
    )?;
    listener
        .set_nonblocking(true)
        .map_err(HandshakeError::Bind)?;
    let listener = TcpListener::from_std(listener).map_err(HandshakeError::Bind)?;
    let addr = listener.local_addr().map_err(HandshakeError::Bind)?;

    let (acceptor, cert) = match std::env::var("PLUGIN_CLIENT_CERT") {
        Ok(pem) if !pem.trim().is_empty() => {
            let client = tls::parse_pem_cert(&pem)?;
            let server = tls::generate_server_cert()?;
            let config = tls::server_config(&server, client)?;
            (Some(TlsAcceptor::from(Arc::new(config))), Some(server.cert))
        }
        _ => (None, None),
    };
    let service = ProviderService::new(Arc::new(provider));
    handshake::announce(&handshake::handshake_line(addr, cert.as_deref()))?;
    info!(address = %addr, tls = acceptor.is_some(), "Plugin listening");

    let shutdown = CancellationToken::new();
    let router = services(service, &shutdown).await;
    run_server(listener, acceptor, router, shutdown).await;
    Ok(())
}

/// The five gRPC services behind one [`Router`]: health, tfplugin6 `Provider` and
/// go-plugin's controller, stdio and broker.
pub(crate) async fn services<P: Provider>(
    service: ProviderService<P>,
    shutdown: &CancellationToken,
) -> Router<Incoming> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;
    let provider = tfplugin6::provider_server::ProviderServer::new(service)
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE);
    Router::builder()
        .add(health_service)
        .add(provider)
        .add(plugin::grpc_controller_server::GrpcControllerServer::new(
            Controller {
                shutdown: shutdown.clone(),
            },
        ))
        .add(plugin::grpc_stdio_server::GrpcStdioServer::new(Stdio {
            shutdown: shutdown.clone(),
        }))
        .add(plugin::grpc_broker_server::GrpcBrokerServer::new(Broker {
            shutdown: shutdown.clone(),
        }))
        .build()
}

/// Serves `router` on every connection `listener` accepts until `shutdown` is cancelled,
/// then lets open connections finish their calls for up to [`SHUTDOWN_GRACE`].
pub(crate) async fn run_server(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    router: Router<Incoming>,
    shutdown: CancellationToken,
) {
    let mut connections = JoinSet::new();
    let mut http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    http2.max_header_list_size(MAX_HEADER_LIST_SIZE);
    let http2 = Arc::new(http2);
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    debug!("accept failed: {e}");
                    continue;
                }
            },
        };
        // reap the connections that ended
        while connections.try_join_next().is_some() {}
        let _ = stream.set_nodelay(true);
        let (acceptor, router, http2, shutdown) = (
            acceptor.clone(),
            router.clone(),
            Arc::clone(&http2),
            shutdown.clone(),
        );
        connections.spawn(async move {
            let conn = match acceptor {
                None => Conn::Plain(stream),
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                    match handshake.await {
                        Ok(Ok(tls)) => Conn::Tls(Box::new(tls)),
                        Ok(Err(e)) => return debug!(peer = %peer, "TLS handshake failed: {e}"),
                        Err(_) => return debug!(peer = %peer, "TLS handshake timed out"),
                    }
                }
            };
            serve_connection(conn, &http2, router, &shutdown).await;
            debug!(peer = %peer, "Connection closed");
        });
    }
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drained).await.is_err() {
        // dropping the set aborts what is left
        debug!("Shutdown grace period over");
    }
    info!("Plugin stopped");
}

/// HTTP/2 on one connection; at shutdown, sends GOAWAY and lets in-flight calls finish.
async fn serve_connection(
    conn: Conn,
    http2: &hyper::server::conn::http2::Builder<TokioExecutor>,
    router: Router<Incoming>,
    shutdown: &CancellationToken,
) {
    let service = hyper::service::service_fn(move |req| {
        let response = router.call(req);
        async move { Ok::<_, Infallible>(response.await) }
    });
    let connection = http2.serve_connection(TokioIo::new(conn), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        debug!("HTTP/2 connection error: {e}");
    }
}

/// Terraform forwards Ctrl-C as `StopProvider`; the signal itself must not kill us.
fn ignore_sigint() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::interrupt()) {
            Ok(mut sigint) => {
                tokio::spawn(async move {
                    while sigint.recv().await.is_some() {
                        debug!("Ignoring SIGINT; Terraform sends StopProvider");
                    }
                });
            }
            Err(e) => debug!("Could not install a SIGINT handler: {e}"),
        }
    }
}

/// An accepted connection, plaintext or TLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(s) => s.is_write_vectored(),
            Conn::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
