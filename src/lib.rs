//! Woosmap dataset imports: trigger an import, identify the new run, wait for it at the API's
//! pace and report the outcome with its step log.
//!
//! Data flows one way: a front end (`cli`, `action`, `provider` over the `tfplugin` crate)
//! drives the `engine`, which talks to Woosmap through `api`. `frontend` holds what the CLI
//! and action mode share. The local stand-in API is the `woosmap-sandbox` crate.

pub mod action;
pub mod api;
pub mod cli;
pub mod engine;
pub mod frontend;
#[cfg(feature = "fuzz")]
#[doc(hidden)]
pub mod fuzzing;
pub mod knobs;
pub mod provider;
pub mod rocketchat;
