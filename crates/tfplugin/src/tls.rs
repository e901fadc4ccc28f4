//! go-plugin AutoMTLS, server side: a fresh self-signed server certificate per run, and a
//! client-certificate verifier pinned to the certificate Terraform passed in
//! `PLUGIN_CLIENT_CERT`.
//!
//! Facts: Terraform trusts exactly the certificate we print in the handshake line (CN and
//! SAN `localhost`, CA flag, server and client auth usages). Its own client certificate is
//! ECDSA P-521 signed with SHA-512, which ring cannot verify, so handshake signatures made
//! with a P-521 key are checked with the `p521` crate; all other schemes go through
//! rustls's ring provider. grpc-go requires the ALPN protocol `h2`.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use p521::ecdsa::signature::Verifier;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

use super::der;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("PLUGIN_CLIENT_CERT holds no PEM certificate")]
    NoClientCert,
    #[error("PLUGIN_CLIENT_CERT is not valid PEM: {0}")]
    ClientCertPem(std::io::Error),
    #[error("could not generate the server certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("TLS configuration failed: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A freshly generated server certificate and its PKCS#8 key.
pub struct ServerCert {
    pub cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl fmt::Debug for ServerCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerCert").finish_non_exhaustive()
    }
}

/// Generates the server certificate: ECDSA P-256, CN and SAN `localhost`, a CA (Terraform
/// uses it as its only root), server and client usages, valid from 30 s ago for a year.
pub fn generate_server_cert() -> Result<ServerCert, TlsError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    };
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned()])?;
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "HashiCorp");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let now = SystemTime::now();
    params.not_before = (now - Duration::from_secs(30)).into();
    params.not_after = (now + Duration::from_secs(365 * 24 * 3600)).into();
    let cert = params.self_signed(&key)?;
    Ok(ServerCert {
        cert: cert.der().clone(),
        key: PrivatePkcs8KeyDer::from(key.serialize_der()),
    })
}

/// Parses the first certificate of a PEM document (`PLUGIN_CLIENT_CERT`).
pub fn parse_pem_cert(pem: &str) -> Result<CertificateDer<'static>, TlsError> {
    let mut reader = pem.as_bytes();
    match rustls_pemfile::certs(&mut reader).next() {
        Some(Ok(cert)) => Ok(cert),
        Some(Err(e)) => Err(TlsError::ClientCertPem(e)),
        None => Err(TlsError::NoClientCert),
    }
}

/// The rustls server configuration: our certificate, TLS 1.3 and 1.2, ALPN `h2`, and a
/// client certificate required and pinned to `client_cert`.
pub fn server_config(
    server: &ServerCert,
    client_cert: CertificateDer<'static>,
) -> Result<rustls::ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinnedClientCert::new(client_cert, &provider));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![server.cert.clone()],
            PrivateKeyDer::Pkcs8(server.key.clone_key()),
        )?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// Accepts exactly one client certificate (byte-for-byte) and verifies handshake
/// signatures made with its key, P-521 included.
#[derive(Debug)]
pub struct PinnedClientCert {
    pinned: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedClientCert {
    /// A verifier pinned to `pinned`, using `provider`'s algorithms for non-P-521 keys.
    pub fn new(pinned: CertificateDer<'static>, provider: &CryptoProvider) -> PinnedClientCert {
        PinnedClientCert {
            pinned,
            algorithms: provider.signature_verification_algorithms,
        }
    }

    fn is_p521(cert: &CertificateDer<'_>) -> bool {
        matches!(der::cert_ec_public_key(cert), Ok(Some(k)) if k.curve == der::OID_SECP521R1)
    }
}

/// Verifies an ECDSA P-521 / SHA-512 signature (DER-encoded) by `cert`'s key over `message`.
pub fn verify_p521_sha512(
    message: &[u8],
    cert: &CertificateDer<'_>,
    signature: &[u8],
) -> Result<HandshakeSignatureValid, rustls::Error> {
    let bad = || rustls::Error::InvalidCertificate(CertificateError::BadSignature);
    let key = match der::cert_ec_public_key(cert) {
        Ok(Some(k)) if k.curve == der::OID_SECP521R1 => k,
        _ => return Err(bad()),
    };
    let vk = p521::ecdsa::VerifyingKey::from_sec1_bytes(key.point).map_err(|_| bad())?;
    let fixed = der::ecdsa_signature_fixed(signature, 66).map_err(|_| bad())?;
    let sig = p521::ecdsa::Signature::from_slice(&fixed).map_err(|_| bad())?;
    vk.verify(message, &sig).map_err(|_| bad())?;
    tracing::debug!("Verified the client's ECDSA P-521/SHA-512 handshake signature");
    Ok(HandshakeSignatureValid::assertion())
}

impl ClientCertVerifier for PinnedClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.pinned.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if dss.scheme == SignatureScheme::ECDSA_NISTP521_SHA512 || Self::is_p521(cert) {
            if dss.scheme != SignatureScheme::ECDSA_NISTP521_SHA512 {
                return Err(rustls::Error::InvalidCertificate(
                    CertificateError::BadSignature,
                ));
            }
            return verify_p521_sha512(message, cert, dss.signature());
        }
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if dss.scheme == SignatureScheme::ECDSA_NISTP521_SHA512 {
            return verify_p521_sha512(message, cert, dss.signature());
        }
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        let mut schemes = self.algorithms.supported_schemes();
        if !schemes.contains(&SignatureScheme::ECDSA_NISTP521_SHA512) {
            schemes.insert(0, SignatureScheme::ECDSA_NISTP521_SHA512);
        }
        schemes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_cert_has_p256_key() {
        let c = generate_server_cert().unwrap();
        let key = der::cert_ec_public_key(&c.cert).unwrap().unwrap();
        assert_eq!(key.point.len(), 65);
        assert_eq!(key.point[0], 4);
    }

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match content.len() {
            n if n < 0x80 => out.push(n as u8),
            n if n < 0x100 => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(content);
        out
    }

    fn der_int(bytes: &[u8]) -> Vec<u8> {
        let mut b: Vec<u8> = bytes.iter().copied().skip_while(|x| *x == 0).collect();
        if b.first().is_none_or(|x| x & 0x80 != 0) {
            b.insert(0, 0);
        }
        tlv(0x02, &b)
    }

    /// A skeletal certificate carrying a P-521 public key: enough for the key extraction.
    fn p521_cert(point: &[u8]) -> CertificateDer<'static> {
        let alg = [
            tlv(0x06, der::OID_EC_PUBLIC_KEY),
            tlv(0x06, der::OID_SECP521R1),
        ]
        .concat();
        let mut bits = vec![0];
        bits.extend_from_slice(point);
        let spki = tlv(0x30, &[tlv(0x30, &alg), tlv(0x03, &bits)].concat());
        let empty = tlv(0x30, &[]);
        let tbs = [
            tlv(0xa0, &der_int(&[2])),
            der_int(&[1]),
            empty.clone(),
            empty.clone(),
            empty.clone(),
            empty.clone(),
            spki,
        ]
        .concat();
        let cert = [tlv(0x30, &tbs), empty, tlv(0x03, &[0])].concat();
        CertificateDer::from(tlv(0x30, &cert))
    }

    #[test]
    fn p521_sha512_signatures() {
        use p521::ecdsa::signature::RandomizedSigner;
        let sk =
            p521::ecdsa::SigningKey::from_slice(&[[0u8].as_slice(), &[7u8; 65]].concat()).unwrap();
        let point = p521::ecdsa::VerifyingKey::from(&sk).to_encoded_point(false);
        let cert = p521_cert(point.as_bytes());
        let msg = b"TLS 1.3, client CertificateVerify";
        let sig: p521::ecdsa::Signature = sk.sign_with_rng(&mut Counter(1), msg);
        let raw = sig.to_bytes();
        let der_sig = tlv(0x30, &[der_int(&raw[..66]), der_int(&raw[66..])].concat());

        assert!(verify_p521_sha512(msg, &cert, &der_sig).is_ok());
        assert!(verify_p521_sha512(b"another message", &cert, &der_sig).is_err());
        let p256 = generate_server_cert().unwrap().cert;
        assert!(verify_p521_sha512(msg, &p256, &der_sig).is_err());
    }

    /// A predictable RNG for the ECDSA nonce (tests only).
    struct Counter(u64);

    impl p521::ecdsa::signature::rand_core::RngCore for Counter {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for chunk in dest.chunks_mut(8) {
                let v = self.next_u64().to_le_bytes();
                chunk.copy_from_slice(&v[..chunk.len()]);
            }
        }
        fn try_fill_bytes(
            &mut self,
            dest: &mut [u8],
        ) -> Result<(), p521::ecdsa::signature::rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    impl p521::ecdsa::signature::rand_core::CryptoRng for Counter {}

    #[test]
    fn verifier_pins_and_advertises_p521() {
        let a = generate_server_cert().unwrap();
        let b = generate_server_cert().unwrap();
        let provider = rustls::crypto::ring::default_provider();
        let v = PinnedClientCert::new(a.cert.clone(), &provider);
        assert!(v.verify_client_cert(&a.cert, &[], UnixTime::now()).is_ok());
        assert!(v.verify_client_cert(&b.cert, &[], UnixTime::now()).is_err());
        assert!(
            v.supported_verify_schemes()
                .contains(&SignatureScheme::ECDSA_NISTP521_SHA512)
        );
        assert!(v.client_auth_mandatory());
    }
}
