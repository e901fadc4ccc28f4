//! Rocket.Chat bulk user import, the second backend: the REST client ([`api`]), pacing by the
//! `X-RateLimit-*` headers shared across processes (`pacer::budget`, from `crates/pacer`),
//! reconcile-and-wait for one
//! import ([`run`]), the `rocketchat-import` command line ([`cli`]) and the Terraform provider
//! `rocketchat` ([`provider`]).
//!
//! Facts: `import.new` aborts the operation in progress, so one this invocation did not create
//! is waited on unless the user explicitly asks to abort it ([`ownership`]); the user list is
//! checked by [`userlist`].

pub mod action;
pub mod api;
pub mod cli;
pub mod ownership;
pub mod progress;
pub mod provider;
pub mod report;
pub mod run;
#[cfg(feature = "sim")]
pub mod sim_transport;
pub mod userlist;

/// The server's base URL.
pub const URL_ENV: &str = "ROCKETCHAT_URL";
/// `X-User-Id`.
pub const USER_ID_ENV: &str = "ROCKETCHAT_USER_ID";
/// `X-Auth-Token` (a secret).
pub const AUTH_TOKEN_ENV: &str = "ROCKETCHAT_AUTH_TOKEN";
