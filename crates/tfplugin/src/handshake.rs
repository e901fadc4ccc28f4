//! The go-plugin handshake, plugin side: refuse to run unless Terraform launched us (magic
//! cookie), agree on protocol 6, bind a loopback TCP port in the allowed range, and print
//! the one handshake line `1|6|tcp|127.0.0.1:PORT|grpc|CERT` on stdout.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};

use base64::Engine;

/// The environment variable Terraform sets to prove it launched us.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
/// Its value.
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// go-plugin's core protocol version.
pub const CORE_PROTOCOL_VERSION: u32 = 1;
/// The Terraform plugin protocol major version we speak.
pub const APP_PROTOCOL_VERSION: u32 = 6;

/// What we print when run by hand, unless the provider says more
/// ([`crate::Provider::run_by_hand_message`]).
pub const NOT_A_PLUGIN_MESSAGE: &str = "This binary is a plugin for Terraform; it is not meant \
to be run by hand. Configure it in Terraform (a required_providers entry, or a dev_overrides \
entry in a CLI configuration file) and run terraform plan or apply, which launches it.";

/// Why the handshake could not happen.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("{NOT_A_PLUGIN_MESSAGE}")]
    NotLaunchedByTerraform,
    #[error(
        "this provider speaks Terraform plugin protocol {APP_PROTOCOL_VERSION} (Terraform 1.0 \
         or later), but Terraform offered protocol version(s) {0:?}; upgrade Terraform"
    )]
    UnsupportedProtocol(String),
    #[error("{name} is not a port number: {value:?}")]
    BadPort { name: &'static str, value: String },
    #[error("no free TCP port on 127.0.0.1 between {min} and {max}")]
    NoPortAvailable { min: u16, max: u16 },
    #[error("could not listen on 127.0.0.1: {0}")]
    Bind(std::io::Error),
    #[error("could not write the handshake line: {0}")]
    Stdout(std::io::Error),
}

/// True if Terraform's magic cookie is set in the environment.
pub fn launched_by_terraform() -> bool {
    std::env::var(MAGIC_COOKIE_KEY).is_ok_and(|v| v == MAGIC_COOKIE_VALUE)
}

/// Checks `PLUGIN_PROTOCOL_VERSIONS` (comma-separated) includes 6. Unset means the client
/// did not negotiate, and 6 is assumed.
pub fn check_protocol_versions(offered: Option<&str>) -> Result<(), HandshakeError> {
    let Some(offered) = offered else {
        return Ok(());
    };
    let ok = offered
        .split(',')
        .any(|v| v.trim().parse::<u32>() == Ok(APP_PROTOCOL_VERSION));
    if ok {
        Ok(())
    } else {
        Err(HandshakeError::UnsupportedProtocol(offered.to_owned()))
    }
}

fn port_var(name: &'static str, value: Option<&str>) -> Result<u16, HandshakeError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(0),
        Some(v) => v.parse().map_err(|_| HandshakeError::BadPort {
            name,
            value: v.to_owned(),
        }),
    }
}

/// Binds 127.0.0.1 on the first free port in `PLUGIN_MIN_PORT..=PLUGIN_MAX_PORT` (given
/// as raw env values), or on any port when neither is set.
pub fn bind_listener(min: Option<&str>, max: Option<&str>) -> Result<TcpListener, HandshakeError> {
    let min = port_var("PLUGIN_MIN_PORT", min)?;
    let max = port_var("PLUGIN_MAX_PORT", max)?;
    if min == 0 && max == 0 {
        return TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(HandshakeError::Bind);
    }
    let max = if max == 0 { u16::MAX } else { max };
    for port in min.max(1)..=max {
        if let Ok(l) = TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            return Ok(l);
        }
    }
    Err(HandshakeError::NoPortAvailable { min, max })
}

/// The handshake line (with its newline). `cert` is the server certificate's DER, or
/// `None` for plaintext.
pub fn handshake_line(addr: SocketAddr, cert: Option<&[u8]>) -> String {
    let cert = cert
        .map(|der| base64::engine::general_purpose::STANDARD_NO_PAD.encode(der))
        .unwrap_or_default();
    format!("{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|tcp|{addr}|grpc|{cert}\n")
}

/// Writes the handshake line to stdout and flushes. The only stdout write ever.
pub fn announce(line: &str) -> Result<(), HandshakeError> {
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes())
        .and_then(|()| out.flush())
        .map_err(HandshakeError::Stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(check_protocol_versions(None).is_ok());
        assert!(check_protocol_versions(Some("5,6")).is_ok());
        assert!(check_protocol_versions(Some("6")).is_ok());
        let e = check_protocol_versions(Some("4,5")).unwrap_err();
        assert!(e.to_string().contains("\"4,5\""));
    }

    #[test]
    fn line() {
        let addr: SocketAddr = "127.0.0.1:1234".parse().unwrap();
        assert_eq!(handshake_line(addr, None), "1|6|tcp|127.0.0.1:1234|grpc|\n");
        // 4 bytes -> 6 chars without padding
        assert_eq!(
            handshake_line(addr, Some(&[1, 2, 3, 4])),
            "1|6|tcp|127.0.0.1:1234|grpc|AQIDBA\n"
        );
    }

    #[test]
    fn port_range() {
        let l = bind_listener(None, None).unwrap();
        assert_ne!(l.local_addr().unwrap().port(), 0);
        let taken = l.local_addr().unwrap().port().to_string();
        // the only port of the range is taken
        assert!(matches!(
            bind_listener(Some(&taken), Some(&taken)),
            Err(HandshakeError::NoPortAvailable { .. })
        ));
        assert!(matches!(
            bind_listener(Some("x"), None),
            Err(HandshakeError::BadPort { .. })
        ));
    }
}
