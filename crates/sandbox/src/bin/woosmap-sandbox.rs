//! `woosmap-sandbox`: a local stand-in for the Woosmap Datasets API (see `woosmap_sandbox`).
//!
//! Prints `woosmap-sandbox listening on http://ADDR` as its first stdout line (scripts parse
//! it), then ready-to-paste `export` lines that point `woosmap-import`, Terraform or the action
//! at it; logs requests on stderr (coloured on a terminal unless `NO_COLOR` is set) and exits
//! cleanly on SIGINT/SIGTERM.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use woosmap_sandbox::{DEFAULT_PRIVATE_KEY, Sandbox, SandboxConfig};

const CONTROL_API: &str = "\
Control API (no auth, JSON bodies, every field optional unless noted):
  PUT    /_sandbox/datasets/{id}  {\"exists\": true, \"previous_run\": \"success\"|\"failed\"|null,
                                  \"duration_ms\": 20000, \"outcome\": \"success\"|\"failed\"|\"never\"|\"cancelled\"|\"queued\",
                                  \"start_delay_ms\": 3000, \"reimport_key\": \"...\", \"running\": false,
                                  \"run_starts_in_ms\": null (a run another client started)}
  POST   /_sandbox/keys           {\"key\": \"...\", \"state\": \"ok\"|\"no_quota\"|\"removed\"} (both required)
  POST   /_sandbox/faults         {\"endpoint\": \"status\"|\"trigger\"|\"webhook\"|\"any\", \"dataset_id\": null,
                                  \"kind\": \"http_500\"|\"http_502\"|\"http_503\"|\"reset\"|\"slow\"|\"garbage\"|
                                          \"rate_limit\"|\"status_stale\"|\"http_401\"|\"http_402\"|
                                          \"http_403\"|\"http_404\"|\"http_422\"|\"http_status\" (required),
                                  \"count\": 1, \"retry_after\": null, \"delay_ms\": null,
                                  \"body\": \"text\"|\"json\"|\"html\"|\"truncated\"|\"empty\",
                                  \"status\": 418, \"detail\": \"...\" (http_status),
                                  \"processed\": false (true: handle the request, then answer the fault)}
  DELETE /_sandbox/faults         drop queued faults
  GET    /_sandbox/stats          {\"requests\", \"rate_limited\", \"injected\", \"triggers_while_running\",
                                  \"query_keys\" (requests with ?private_key=), \"runs_triggered\",
                                  \"datasets\": {\"<id>\": {\"triggers\", \"status_calls\", \"rate_limited\",
                                  \"injected\", \"triggers_while_running\", \"runs\": [...]}}}
  GET    /_sandbox/requests       the API requests received: [{\"method\", \"path\", \"query\",
                                  \"headers\": [[name, value]], \"body\", \"at_ms\"}] (last 10000)
  POST   /_sandbox/reset          forget datasets, counters, faults and the request log

Dataset management (private key required, 1 call per second per endpoint):
  POST /datasets/ {name, url, schema_mapping}, GET /datasets/?page=&per_page= (at most 20),
  GET|PUT|DELETE /datasets/{id} (DELETE schedules deletion in 7 days; 409 when already scheduled).

Any UUID is a dataset with one previous successful run unless configured otherwise.";

/// A local sandbox of the Woosmap Datasets API (trigger, webhook, status) with rate limits,
/// import timelines and fault injection.
#[derive(Debug, Parser)]
#[command(name = "woosmap-sandbox", version, after_long_help = CONTROL_API)]
struct Args {
    /// Address to listen on (loopback by default; port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    listen: SocketAddr,

    /// An accepted private key (repeatable); default `sandbox-private-key`.
    #[arg(long = "private-key", value_name = "KEY", value_parser = non_empty)]
    private_keys: Vec<String>,

    /// One trigger (import or webhook) per dataset per this window; 0 disables.
    #[arg(long, value_name = "DURATION", default_value = "90s", value_parser = duration)]
    trigger_window: Duration,

    /// One status call per dataset per this window; 0 disables.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = duration)]
    status_window: Duration,

    /// How long after a trigger the status still shows the previous run.
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = duration)]
    start_delay: Duration,

    /// How long an import run takes.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = positive_duration)]
    import_duration: Duration,

    /// Send `Retry-After: SECS` with rate-limit (429) answers.
    #[arg(long, value_name = "SECS")]
    retry_after: Option<u64>,

    /// Unknown dataset ids answer 404 instead of being created on first reference.
    #[arg(long)]
    no_auto_create: bool,

    /// `POST /datasets/` does not start the new dataset's first import by itself.
    #[arg(long)]
    no_import_on_create: bool,

    /// Do not log requests on stderr.
    #[arg(short, long)]
    quiet: bool,

    /// Serve Rocket.Chat's bulk user import API (`/api/v1/import.*`) instead of Woosmap's;
    /// admin `X-User-Id: sandbox-admin`, `X-Auth-Token: sandbox-auth-token`. Control API:
    /// `POST /_sandbox/operation` {"state": "loading"|"ready"|"importing", "duration_ms",
    /// "users"}, `POST|DELETE /_sandbox/faults` {"endpoint": "import.status"|...|"any",
    /// "kind": "http_500"|"rate_limit"|"http_401"|"http_403"|"garbage", "count"},
    /// `GET /_sandbox/stats`, `POST /_sandbox/reset`.
    #[arg(long)]
    rocketchat: bool,

    /// Rocket.Chat mode: calls allowed per route per limiter window; 0 disables the limiter.
    #[arg(long, value_name = "N", default_value_t = 10)]
    rc_limit_calls: u32,

    /// Rocket.Chat mode: the limiter's window.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = duration)]
    rc_limit_window: Duration,
}

/// The lines a user pastes into a shell to use this sandbox: the address, an accepted key, and
/// its windows (so that the client paces to them instead of the published limits).
fn export_lines(base_url: &str, key: &str, trigger: Duration, status: Duration) -> String {
    format!(
        "# Point woosmap-import (or Terraform) at this sandbox: paste these lines into your shell.\n\
         export WOOSMAP_BASE_URL={base_url} WOOSMAP_PRIVATE_KEY={}\n\
         export WOOSMAP_TRIGGER_INTERVAL={} WOOSMAP_STATUS_INTERVAL={}\n",
        shell_word(key),
        shell_duration(trigger),
        shell_duration(status)
    )
}

/// A duration as one shell word that humantime reads back: `90s`, `1500ms`.
fn shell_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// `s` quoted for a POSIX shell when it holds anything but plain characters.
fn shell_word(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.:/@%+=".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (expected e.g. 500ms, 5s, 2m)"))
}

fn positive_duration(s: &str) -> Result<Duration, String> {
    let d = duration(s)?;
    if d.is_zero() {
        return Err("must be greater than zero".to_owned());
    }
    Ok(d)
}

fn non_empty(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("must not be empty".to_owned());
    }
    Ok(s.to_owned())
}

/// Whether the request log is coloured: on a terminal, unless `NO_COLOR` is set and not empty
/// (<https://no-color.org>) or `TERM` is `dumb`.
fn colour() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    std::io::stderr().is_terminal() && !no_color && !dumb
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    if !args.quiet {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(colour())
            .with_target(false)
            .with_max_level(tracing::Level::INFO)
            .init();
    }
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "woosmap-sandbox: warning: --listen {} is not a loopback address; anyone who can reach it can drive the control API",
            args.listen
        );
    }
    if args.rocketchat {
        return serve_rocketchat(&args).await;
    }
    let key = args
        .private_keys
        .first()
        .cloned()
        .unwrap_or_else(|| DEFAULT_PRIVATE_KEY.to_owned());
    let windows = (args.trigger_window, args.status_window);
    let cfg = SandboxConfig {
        listen: args.listen,
        private_keys: args.private_keys,
        trigger_window: args.trigger_window,
        status_window: args.status_window,
        start_delay: args.start_delay,
        import_duration: args.import_duration,
        retry_after: args.retry_after,
        auto_create: !args.no_auto_create,
        import_on_create: !args.no_import_on_create,
        ..SandboxConfig::default()
    };
    let handle = match Sandbox::start(cfg).await {
        Ok(handle) => handle,
        Err(err) => {
            eprintln!("woosmap-sandbox: cannot listen on {}: {err}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    {
        let mut stdout = std::io::stdout().lock();
        let printed = writeln!(stdout, "woosmap-sandbox listening on {}", handle.base_url())
            .and_then(|()| {
                write!(
                    stdout,
                    "{}",
                    export_lines(&handle.base_url(), &key, windows.0, windows.1)
                )
            })
            .and_then(|()| stdout.flush());
        if let Err(err) = printed {
            eprintln!("woosmap-sandbox: cannot write to stdout: {err}");
            return ExitCode::FAILURE;
        }
    }
    if let Err(err) = wait_for_signal().await {
        eprintln!("woosmap-sandbox: cannot listen for signals: {err}");
        return ExitCode::FAILURE;
    }
    tracing::info!("shutting down");
    handle.shutdown().await;
    ExitCode::SUCCESS
}

/// `--rocketchat`: serves the Rocket.Chat import API until a signal; the first stdout line is
/// the same `listening on` line, then the `export` lines for `rocketchat-import`.
async fn serve_rocketchat(args: &Args) -> ExitCode {
    use woosmap_sandbox::rocketchat::{RocketChatConfig, RocketChatSandbox};
    let cfg = RocketChatConfig {
        listen: args.listen,
        limit_calls: args.rc_limit_calls,
        limit_window: args.rc_limit_window,
        import_duration: args.import_duration,
        ..RocketChatConfig::default()
    };
    let (user, token) = (cfg.user_id.clone(), cfg.auth_token.clone());
    let handle = match RocketChatSandbox::start(cfg).await {
        Ok(handle) => handle,
        Err(err) => {
            eprintln!("woosmap-sandbox: cannot listen on {}: {err}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    let url = handle.base_url();
    println!("woosmap-sandbox listening on {url}");
    println!(
        "# Point rocketchat-import at this sandbox: paste these lines into your shell.\n\
         export ROCKETCHAT_URL={url} ROCKETCHAT_USER_ID={} ROCKETCHAT_AUTH_TOKEN={}",
        shell_word(&user),
        shell_word(&token)
    );
    if let Err(err) = wait_for_signal().await {
        eprintln!("woosmap-sandbox: cannot listen for signals: {err}");
        return ExitCode::FAILURE;
    }
    handle.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(unix)]
async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn wait_for_signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}
