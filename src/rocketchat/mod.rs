//! Rocket.Chat bulk user import, the second backend: the REST client ([`api`]), pacing by the
//! `X-RateLimit-*` headers shared across processes (`pacer::budget`, from `crates/pacer`),
//! reconcile-and-wait for one
//! import ([`run`]), the `rocketchat-import` command line ([`cli`]) and the Terraform provider
//! `rocketchat` ([`provider`]).
//!
//! Facts: `import.new` aborts a running operation, so a running one is waited on unless the
//! user explicitly asks to abort it.

pub mod api;
pub mod cli;
pub mod provider;
pub mod run;

/// The server's base URL.
pub const URL_ENV: &str = "ROCKETCHAT_URL";
/// `X-User-Id`.
pub const USER_ID_ENV: &str = "ROCKETCHAT_USER_ID";
/// `X-Auth-Token` (a secret).
pub const AUTH_TOKEN_ENV: &str = "ROCKETCHAT_AUTH_TOKEN";
