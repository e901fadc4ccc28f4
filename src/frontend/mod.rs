//! What the command line and action mode share, so that neither imports the other: exit
//! codes ([`exit`]), the per-dataset report and its renderings ([`report`]), values typed by
//! users ([`values`]), the environment variables and their check ([`env`]), diagnostic
//! logging ([`logging`]), the signals that stop a wait ([`signals`]), and reading the key and
//! building the API client from the environment (here). Settings are named in messages
//! through [`crate::woosmap::knobs`], which the provider uses too.

pub mod env;
pub mod exit;
pub mod logging;
pub mod report;
pub mod signals;
pub mod values;

use crate::woosmap::api::{Client, ClientConfig, RateLimits, Secret};
pub use exit::ExitCode;

/// The environment variable holding the private key.
pub const PRIVATE_KEY_ENV: &str = "WOOSMAP_PRIVATE_KEY";

/// The private key from the environment, if set and not blank.
pub fn private_key_from_env() -> Option<Secret> {
    std::env::var(PRIVATE_KEY_ENV)
        .ok()
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty())
        .map(Secret::new)
}

/// Builds the API client, or says why not. A connection refused before the API ever answered
/// is reported at once (a wrong base URL), not retried for a minute.
pub fn client(base_url: &str, private_key: Option<Secret>) -> Result<Client, String> {
    Client::new(ClientConfig {
        base_url: base_url.to_owned(),
        private_key,
        limits: RateLimits::from_env(),
        request_timeout: crate::woosmap::api::request_timeout_from_env(),
    })
    .map(|c| c.failing_fast_on_first_refusal())
    .map_err(|e| e.to_string())
}
