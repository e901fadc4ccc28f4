//! Security properties across the front ends: TLS verification on (a self-signed server is
//! refused before any request, so no key leaves), keys only in headers (the sandbox counts keys
//! in query strings), keys absent from every `Debug` rendering and from every log level of
//! the CLI and the action mode, and no switch that turns certificate checks off.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{KEY, assert_no_secrets, cli, dataset, run, sandbox};
use tokio::io::AsyncReadExt;
use woosmap_import::woosmap::api::{ApiError, ClientConfig, DatasetId, RateLimits, Secret};
use woosmap_import::woosmap::import::{ImportSpec, TriggerVia};
use woosmap_sandbox::{DatasetConfig, Fault, FaultEndpoint, FaultKind};

const RK: &str = "rk-fault-matrix-5d2e";
const RK2: &str = "rk-security-action-8b1f";

/// An HTTPS server on loopback with a self-signed certificate for `localhost` (what a
/// man-in-the-middle or a misconfigured proxy would present). Counts handshakes that
/// completed and requests that carried a key.
struct SelfSignedServer {
    port: u16,
    connections: Arc<AtomicUsize>,
    handshakes: Arc<AtomicUsize>,
    keys_received: Arc<AtomicUsize>,
}

async fn self_signed_server() -> SelfSignedServer {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(signing_key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = SelfSignedServer {
        port,
        connections: Arc::default(),
        handshakes: Arc::default(),
        keys_received: Arc::default(),
    };
    let (connections, handshakes, keys) = (
        server.connections.clone(),
        server.handshakes.clone(),
        server.keys_received.clone(),
    );
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            connections.fetch_add(1, Ordering::SeqCst);
            let (acceptor, handshakes, keys) = (acceptor.clone(), handshakes.clone(), keys.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                handshakes.fetch_add(1, Ordering::SeqCst);
                let mut buf = vec![0; 8192];
                if let Ok(n) = tls.read(&mut buf).await {
                    let text = String::from_utf8_lossy(&buf[..n]).to_lowercase();
                    if text.contains("x-api-key") || text.contains(&KEY.to_lowercase()) {
                        keys.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    server
}

#[tokio::test(flavor = "multi_thread")]
async fn a_self_signed_server_is_refused_before_any_request() {
    let server = self_signed_server().await;
    let base = format!("https://localhost:{}", server.port);
    let id = dataset();

    // `run`: the status read fails on the certificate; no request, no key, a clear message.
    let mut cmd = std::process::Command::new(common::bin("woosmap-import"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("WOOSMAP_PRIVATE_KEY", KEY)
        .env("WOOSMAP_BASE_URL", &base)
        .env("WOOSMAP_LOG", "debug")
        .args(["run", "--dataset-id", &id, "--timeout", "20s"]);
    common::pacer::private_pacer(&mut cmd);
    let started = Instant::now();
    let ran = run(cmd).await;
    let took = started.elapsed();
    eprintln!("{ran:?} after {took:?}");
    assert_eq!(ran.code, 6, "{ran:?}");
    let text = ran.all();
    assert!(
        text.contains(&format!(
            "The TLS certificate of https://localhost:{} was not accepted",
            server.port
        )),
        "no clear TLS message: {ran:?}"
    );
    assert!(text.contains("UnknownIssuer"), "{ran:?}");
    assert!(text.contains("Nothing was sent"), "{ran:?}");
    // A certificate does not become valid by waiting: no retry, an answer at once.
    assert!(!text.contains("retrying in"), "{ran:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(
        server.connections.load(Ordering::SeqCst) >= 1,
        "never connected"
    );
    assert_eq!(
        server.handshakes.load(Ordering::SeqCst),
        0,
        "a TLS handshake with a self-signed server completed"
    );
    assert_eq!(server.keys_received.load(Ordering::SeqCst), 0);
    assert_no_secrets("CLI output against a self-signed server", &text, &[]);

    // The library says the same to every front end, for the status and the trigger alike.
    common::pacer::in_process();
    let client = woosmap_import::woosmap::api::Client::new(ClientConfig {
        base_url: base.clone(),
        private_key: Some(Secret::new(KEY)),
        ..ClientConfig::default()
    })
    .unwrap();
    let id = DatasetId::parse(&dataset()).unwrap();
    let deadline = woosmap_import::woosmap::api::Instant::now() + Duration::from_secs(20);
    let status = client
        .status(&id, Duration::from_millis(300), deadline)
        .await
        .unwrap_err();
    let trigger = client.trigger_import(&id, deadline).await.unwrap_err();
    for err in [status, trigger] {
        assert!(matches!(err, ApiError::Tls { .. }), "{err:?}");
        assert!(!err.is_retryable() && !err.may_have_been_processed());
    }
    assert_eq!(server.handshakes.load(Ordering::SeqCst), 0);
    assert_eq!(server.keys_received.load(Ordering::SeqCst), 0);
}

#[test]
fn there_is_no_switch_that_turns_certificate_checks_off() {
    // The client is built in one place; nothing in the sources may weaken its TLS checks.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![root];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            files += 1;
            let text = std::fs::read_to_string(&path).unwrap();
            for weak in [
                "danger_accept_invalid_certs",
                "danger_accept_invalid_hostnames",
                "tls_built_in_root_certs(false)",
                "add_root_certificate",
                "dangerous()",
            ] {
                assert!(
                    !text.contains(weak),
                    "{} weakens TLS verification ({weak})",
                    path.display()
                );
            }
        }
    }
    assert!(files > 20);
}

#[test]
fn debug_renderings_never_show_a_key() {
    let config = ClientConfig {
        base_url: "https://api.woosmap.com".into(),
        private_key: Some(Secret::new(KEY)),
        request_timeout: Duration::from_secs(3),
        limits: RateLimits::PUBLISHED,
    };
    let client = woosmap_import::woosmap::api::Client::new(config.clone()).unwrap();
    let spec = ImportSpec {
        via: TriggerVia::Webhook(Secret::new(RK)),
        ..ImportSpec::new(DatasetId::parse(&dataset()).unwrap())
    };
    let cli = <woosmap_import::woosmap::cli::Cli as clap::Parser>::try_parse_from([
        "woosmap-import",
        "run",
        "--dataset-id",
        &dataset(),
        "--reimport-key",
        RK,
    ])
    .unwrap();
    for (what, text) in [
        ("ClientConfig", format!("{config:?} {config:#?}")),
        ("Client", format!("{client:?} {client:#?}")),
        ("ImportSpec", format!("{spec:?} {spec:#?}")),
        ("Cli arguments", format!("{cli:?} {cli:#?}")),
        (
            "Secret",
            format!("{:?} {}", Secret::new(KEY), Secret::new(KEY)),
        ),
    ] {
        assert_no_secrets(what, &text, &[RK, RK2]);
        assert!(text.contains("***"), "{what} shows no redaction: {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_travel_in_headers_only_and_never_reach_a_log_at_any_level() {
    let sb = sandbox().await;
    let (hooked, failing) = (dataset(), dataset());
    sb.configure_dataset(&hooked, DatasetConfig::default().reimport_key(RK))
        .unwrap();
    sb.inject(
        Fault::new(FaultKind::Http500)
            .on(FaultEndpoint::Status)
            .for_dataset(&failing),
    );
    sb.inject(
        Fault::new(FaultKind::Http403)
            .on(FaultEndpoint::Trigger)
            .for_dataset(&failing),
    );
    // The CLI at every level, each run on its own dataset so that all run at once: the
    // private key, the reimport webhook (at trace), an error path (at trace).
    let mut runs = Vec::new();
    for level in ["error", "warn", "info", "debug", "trace"] {
        let mut cmd = cli(&sb);
        cmd.env("WOOSMAP_LOG", level).args([
            "run",
            "--poll-interval",
            "300ms",
            "--dataset-id",
            &dataset(),
        ]);
        runs.push((format!("CLI run at {level}"), tokio::spawn(run(cmd))));
    }
    let mut cmd = cli(&sb);
    cmd.env("WOOSMAP_LOG", "trace")
        .env("WOOSMAP_REIMPORT_KEY", RK)
        .args(["run", "--poll-interval", "300ms", "--dataset-id", &hooked]);
    runs.push(("CLI webhook run at trace".into(), tokio::spawn(run(cmd))));
    let mut cmd = cli(&sb);
    cmd.env("WOOSMAP_LOG", "trace").args([
        "run",
        "--poll-interval",
        "300ms",
        "--dataset-id",
        &failing,
    ]);
    runs.push(("CLI 403 at trace".into(), tokio::spawn(run(cmd))));
    let mut outputs = Vec::new();
    for (what, handle) in runs {
        outputs.push((what, handle.await.unwrap()));
    }
    let codes: Vec<i32> = outputs.iter().map(|(_, r)| r.code).collect();
    assert_eq!(codes, [0, 0, 0, 0, 0, 0, 4], "{outputs:?}");

    // The action mode at trace, as action.yml runs it: after its `::add-mask::` lines (which
    // the runner consumes), nothing may show either key.
    let action_ds = dataset();
    sb.configure_dataset(&action_ds, DatasetConfig::default().reimport_key(RK2))
        .unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let inputs = common::action_step::Inputs {
        dataset_id: &action_ds,
        private_key: KEY,
        reimport_key: RK2,
        timeout: "1m",
        base_url: &sb.base_url(),
    };
    let mut cmd = common::action_step::command(&inputs, scratch.path());
    cmd.env("WOOSMAP_LOG", "trace");
    let action = run(cmd).await;
    assert_eq!(action.code, 0, "{action:?}");
    let masks: Vec<&str> = action
        .stdout
        .lines()
        .take_while(|l| l.starts_with("::add-mask::"))
        .collect();
    assert_eq!(masks.len(), 2, "both keys are masked first: {action:?}");
    let rest: String = action
        .stdout
        .lines()
        .skip(masks.len())
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(action.stderr.contains("TRACE"), "{action:?}");
    assert_no_secrets("action step log at trace", &rest, &[RK, RK2]);
    assert_no_secrets("action stderr at trace", &action.stderr, &[RK, RK2]);
    for file in ["output", "summary"] {
        let text = std::fs::read_to_string(scratch.path().join(file)).unwrap_or_default();
        assert_no_secrets(&format!("GITHUB_{file}"), &text, &[RK, RK2]);
    }

    for (what, ran) in &outputs {
        assert_no_secrets(what, &ran.all(), &[RK, RK2]);
    }
    assert!(
        outputs.iter().any(|(_, r)| r.stderr.contains("TRACE")),
        "no trace output seen"
    );
    let stats = sb.stats();
    assert!(stats.requests > 20, "{stats:?}");
    assert_eq!(stats.query_keys, 0, "a key travelled in a query string");
}
