//! The provider binary's go-plugin handshake, as Terraform performs it: the magic cookie
//! check, the handshake line, AutoMTLS with a pinned client certificate, the health
//! service, the tfplugin6 service and `GRPCController/Shutdown`.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tfplugin::proto::{plugin, tfplugin6};
use tonic::transport::{Channel, Endpoint, Uri};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-woosmap");
const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// A client certificate and key, as go-plugin makes one (ours is P-256).
struct ClientCert {
    pem: String,
    der: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

fn client_cert() -> ClientCert {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.self_signed(&key).unwrap();
    ClientCert {
        pem: cert.pem(),
        der: cert.der().clone(),
        key: PrivatePkcs8KeyDer::from(key.serialize_der()),
    }
}

fn plugin_command() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("PLUGIN_CLIENT_CERT")
        .env_remove("PLUGIN_MIN_PORT")
        .env_remove("PLUGIN_MAX_PORT")
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
        .env("TF_LOG", "off")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// A running plugin and what its handshake line said.
struct Plugin {
    child: Child,
    stdout: BufReader<ChildStdout>,
    addr: String,
    cert: Option<Vec<u8>>,
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(cmd: &mut Command) -> Plugin {
    let mut child = cmd.spawn().expect("spawn the provider");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let line = line
        .strip_suffix('\n')
        .expect("handshake line ends in a newline");
    let parts: Vec<&str> = line.split('|').collect();
    assert_eq!(parts.len(), 6, "handshake line {line:?}");
    assert_eq!(&parts[..3], ["1", "6", "tcp"]);
    assert_eq!(parts[4], "grpc");
    let addr = parts[3].to_owned();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    let cert = (!parts[5].is_empty()).then(|| {
        assert!(
            !parts[5].contains('='),
            "certificate is base64 without padding"
        );
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(parts[5])
            .expect("standard base64 alphabet")
    });
    Plugin {
        child,
        stdout,
        addr,
        cert,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn plain_channel(addr: &str) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// A gRPC channel over TLS trusting `server_cert`, presenting `client` if given.
async fn tls_channel(
    addr: &str,
    server_cert: &[u8],
    client: Option<&ClientCert>,
) -> Result<Channel, tonic::transport::Error> {
    // Like Go's client: trust exactly the certificate from the handshake line (webpki
    // would refuse it as a CA used as an end entity, which Go allows).
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinnedServer {
        cert: server_cert.to_vec(),
        algorithms: provider.signature_verification_algorithms,
    });
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match client {
        Some(c) => builder
            .with_client_auth_cert(vec![c.der.clone()], PrivateKeyDer::Pkcs8(c.key.clone_key()))
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let addr = addr.to_owned();
    Endpoint::from_static("http://localhost")
        .connect_timeout(Duration::from_secs(5))
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let connector = connector.clone();
            let addr = addr.clone();
            async move {
                let tcp = tokio::net::TcpStream::connect(&addr).await?;
                let name = ServerName::try_from("localhost").unwrap();
                let tls = connector.connect(name, tcp).await?;
                assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
                Ok::<_, std::io::Error>(TokioIo::new(tls))
            }
        }))
        .await
}

/// Accepts only the server certificate printed in the handshake line.
#[derive(Debug)]
struct PinnedServer {
    cert: Vec<u8>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl rustls::client::danger::ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        assert_eq!(server_name.to_str(), "localhost");
        if end_entity.as_ref() == self.cert.as_slice() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

async fn health(channel: Channel) -> Result<ServingStatus, tonic::Status> {
    let resp = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: "plugin".into(),
        })
        .await?;
    Ok(resp.into_inner().status())
}

/// Calls Shutdown and checks the process exits by itself, cleanly, having printed nothing
/// more. Nothing else ends it: a server whose graceful shutdown waited on a stream still open
/// (go-plugin's stdio stream stays open for the plugin's life) would run forever, which the
/// limit, far above any real exit, only turns into a failure.
async fn shutdown(channel: Channel, plugin: &mut Plugin) {
    const HANG: Duration = Duration::from_secs(60);
    plugin::grpc_controller_client::GrpcControllerClient::new(channel)
        .shutdown(plugin::Empty {})
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = plugin.child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            start.elapsed() < HANG,
            "still running {HANG:?} after Shutdown: it does not end by itself"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut rest = String::new();
    plugin.stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "", "nothing but the handshake line on stdout");
}

#[test]
fn run_by_hand_explains_and_exits_1() {
    let out = Command::new(BIN)
        .env_remove("TF_PLUGIN_MAGIC_COOKIE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("This binary is a plugin for Terraform"),
        "{err}"
    );
    assert!(err.contains("not meant to be run by hand"), "{err}");
}

#[test]
fn refuses_without_protocol_6() {
    let out = plugin_command()
        .env("PLUGIN_PROTOCOL_VERSIONS", "4,5")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("protocol 6"), "{err}");
}

#[test]
fn plaintext_without_client_cert() {
    let mut plugin = start(&mut plugin_command());
    assert!(
        plugin.cert.is_none(),
        "no PLUGIN_CLIENT_CERT: empty certificate field"
    );
    runtime().block_on(async {
        let channel = plain_channel(&plugin.addr).await;
        assert_eq!(
            health(channel.clone()).await.unwrap(),
            ServingStatus::Serving
        );
        let schema = tfplugin6::provider_client::ProviderClient::new(channel.clone())
            .get_provider_schema(tfplugin6::get_provider_schema::Request {})
            .await
            .unwrap()
            .into_inner();
        assert!(schema.provider.is_some());
        let caps = schema.server_capabilities.unwrap();
        assert!(!caps.plan_destroy);
        // RPCs we do not serve answer Unimplemented
        let err = tfplugin6::provider_client::ProviderClient::new(channel.clone())
            .move_resource_state(tfplugin6::move_resource_state::Request::default())
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unimplemented);
        shutdown(channel, &mut plugin).await;
    });
}

#[test]
fn port_range_is_honoured() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let plugin = start(
        plugin_command()
            .env("PLUGIN_MIN_PORT", port.to_string())
            .env("PLUGIN_MAX_PORT", port.to_string()),
    );
    assert_eq!(plugin.addr, format!("127.0.0.1:{port}"));
}

#[test]
fn auto_mtls_with_pinned_client_certificate() {
    let client = client_cert();
    let mut plugin = start(plugin_command().env("PLUGIN_CLIENT_CERT", &client.pem));
    let der = plugin
        .cert
        .clone()
        .expect("a certificate in the handshake line");

    let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("DER certificate");
    let cn = cert.subject().iter_common_name().next().unwrap();
    assert_eq!(cn.as_str().unwrap(), "localhost");
    let san = cert.subject_alternative_name().unwrap().unwrap();
    assert!(san.value.general_names.iter().any(|n| matches!(
        n,
        x509_parser::extensions::GeneralName::DNSName("localhost")
    )));
    assert!(cert.is_ca());
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && eku.client_auth);
    assert!(cert.validity().is_valid());

    runtime().block_on(async {
        // with the pinned certificate
        let channel = tls_channel(&plugin.addr, &der, Some(&client))
            .await
            .unwrap();
        assert_eq!(
            health(channel.clone()).await.unwrap(),
            ServingStatus::Serving
        );

        // without a client certificate: refused
        let refused = match tls_channel(&plugin.addr, &der, None).await {
            Err(_) => true,
            Ok(ch) => health(ch).await.is_err(),
        };
        assert!(refused, "a client without a certificate was served");

        // with another certificate: refused
        let other = client_cert();
        let refused = match tls_channel(&plugin.addr, &der, Some(&other)).await {
            Err(_) => true,
            Ok(ch) => health(ch).await.is_err(),
        };
        assert!(refused, "a client with an unpinned certificate was served");

        // plaintext to a TLS server: refused
        let plain = Endpoint::from_shared(format!("http://{}", plugin.addr))
            .unwrap()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(5))
            .connect()
            .await;
        let refused = match plain {
            Err(_) => true,
            Ok(ch) => health(ch).await.is_err(),
        };
        assert!(refused, "plaintext served although TLS is on");

        shutdown(channel, &mut plugin).await;
    });
}

#[test]
fn ignores_sigint_and_shuts_down_with_open_streams() {
    let mut plugin = start(&mut plugin_command());
    runtime().block_on(async {
        let channel = plain_channel(&plugin.addr).await;
        // Terraform forwards Ctrl-C as StopProvider; the signal must not kill the plugin
        let status = Command::new("kill")
            .args(["-INT", &plugin.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            plugin.child.try_wait().unwrap().is_none(),
            "SIGINT killed the plugin"
        );
        let stop = tfplugin6::provider_client::ProviderClient::new(channel.clone())
            .stop_provider(tfplugin6::stop_provider::Request {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(stop.error, "");
        assert_eq!(
            health(channel.clone()).await.unwrap(),
            ServingStatus::Serving
        );

        // go-plugin keeps a stdio stream open for the plugin's whole life
        let mut stdio = plugin::grpc_stdio_client::GrpcStdioClient::new(channel.clone())
            .stream_stdio(plugin::Empty {})
            .await
            .unwrap()
            .into_inner();
        shutdown(channel, &mut plugin).await;
        assert!(matches!(stdio.message().await, Ok(None) | Err(_)));
    });
}
