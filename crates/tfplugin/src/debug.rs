//! Debug mode, as terraform-plugin-go offers it: the provider runs on its own (started by hand
//! or under a debugger, no magic cookie, plaintext on loopback), prints the
//! `TF_REATTACH_PROVIDERS` value that tells Terraform where it listens, and serves every
//! Terraform run that reattaches to it until Ctrl-C.
//!
//! Terraform reattaches "test" providers without owning them: it neither starts nor kills the
//! process, so one debug session serves any number of `terraform plan` / `apply` runs. A
//! `GRPCController/Shutdown` is logged and otherwise ignored; only Ctrl-C (SIGINT) stops it.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::grpc::ProviderService;
use super::handshake::{APP_PROTOCOL_VERSION, HandshakeError};
use super::provider::Provider;
use super::serve::{ServeError, run_server, run_to_exit, services};

/// The environment variable Terraform reads to reattach to running providers.
pub const REATTACH_ENV: &str = "TF_REATTACH_PROVIDERS";

/// The `TF_REATTACH_PROVIDERS` JSON for one provider at `address` (its full source address,
/// e.g. `registry.terraform.io/NAMESPACE/NAME`) listening on `addr`, served by process `pid`.
pub fn reattach_json(address: &str, pid: u32, addr: SocketAddr) -> String {
    let config = serde_json::json!({
        address: {
            "Protocol": "grpc",
            "ProtocolVersion": APP_PROTOCOL_VERSION,
            "Pid": pid,
            "Test": true,
            "Addr": { "Network": "tcp", "String": addr.to_string() },
        }
    });
    config.to_string()
}

/// What debug mode prints on start: how to attach, with the line to copy.
fn banner(reattach: &str) -> String {
    format!(
        "Provider started. To attach Terraform CLI, set the {REATTACH_ENV} environment variable \
         with the following:\n\n\t{REATTACH_ENV}='{reattach}'\n\nPress Ctrl-C to stop the \
         provider.\n"
    )
}

/// Runs `provider` in debug mode (see the module docs) until Ctrl-C; the binary's `main`
/// returns this when asked for `-debug`. `address` is the provider's source address.
pub fn serve_debug<P: Provider>(provider: P, address: &str) -> ExitCode {
    super::log::init();
    let stop = CancellationToken::new();
    run_to_exit(async {
        let on_ctrl_c = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                info!("Ctrl-C: stopping the provider");
                on_ctrl_c.cancel();
            }
        });
        serve_debug_async(provider, address, &mut io::stdout(), stop).await
    })
}

/// [`serve_debug`] inside an existing runtime: binds 127.0.0.1 on a free port, writes the
/// banner with the reattach line to `out`, and serves until `stop` is cancelled.
pub async fn serve_debug_async<P: Provider>(
    provider: P,
    address: &str,
    out: &mut (impl Write + Send),
    stop: CancellationToken,
) -> Result<(), ServeError> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(HandshakeError::Bind)?;
    let addr = listener.local_addr().map_err(HandshakeError::Bind)?;
    let service = ProviderService::new(Arc::new(provider));
    // Controller/stdio/broker streams end on this token; only `stop` ends the server, so
    // a Terraform run that asks for a shutdown does not end the debug session.
    let services_token = stop.child_token();
    let router = services(service, &services_token).await;
    let reattach = reattach_json(address, std::process::id(), addr);
    out.write_all(banner(&reattach).as_bytes())
        .and_then(|()| out.flush())
        .map_err(HandshakeError::Stdout)?;
    info!(address = %addr, "Provider serving in debug mode");
    run_server(listener, None, router, stop).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reattach_line_has_terraforms_shape() {
        let addr: SocketAddr = "127.0.0.1:4242".parse().unwrap();
        let json = reattach_json("registry.terraform.io/acme/thing", 77, addr);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let p = &v["registry.terraform.io/acme/thing"];
        assert_eq!(p["Protocol"], "grpc");
        assert_eq!(p["ProtocolVersion"], 6);
        assert_eq!(p["Pid"], 77);
        assert_eq!(p["Test"], true);
        assert_eq!(p["Addr"]["Network"], "tcp");
        assert_eq!(p["Addr"]["String"], "127.0.0.1:4242");
        let b = banner(&json);
        let line = b
            .lines()
            .find(|l| l.starts_with("\tTF_REATTACH_PROVIDERS='"))
            .unwrap();
        assert_eq!(line, format!("\tTF_REATTACH_PROVIDERS='{json}'"));
    }
}
