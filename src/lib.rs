//! Trigger imports and wait for them: Woosmap dataset imports and Rocket.Chat bulk user
//! imports, each behind a Terraform provider, a CLI and a GitHub Action.
//!
//! A shared core and one vertical slice per service. Data flows one way: a front end drives
//! the [`engine`] (reconcile-and-wait, generic over a backend), whose backend talks to its
//! service through the slice's API client.
//! - Core: [`engine`], [`frontend`] (what every front end shares: exit codes, generic value
//!   parsers, signals, logging, GitHub Actions commands and outputs), [`tfglue`] (what the
//!   Terraform providers share on the `tfplugin` crate), [`secret`]; the plugin protocol is
//!   the `tfplugin` crate, the local stand-in APIs the `woosmap-sandbox` crate.
//! - Slices: [`woosmap`], [`rocketchat`].

pub mod engine;
pub mod frontend;
#[cfg(feature = "fuzz")]
#[doc(hidden)]
pub mod fuzzing;
pub mod rocketchat;
pub mod secret;
#[cfg(feature = "sim")]
pub mod sim;
#[cfg(test)]
mod test_dirs;
pub mod tfglue;
pub mod woosmap;
