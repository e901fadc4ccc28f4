//! Woosmap dataset imports: trigger an import, identify the new run, wait for it at the API's
//! pace and report the outcome with its step log.
//!
//! Data flows one way: a front end (`cli`, `action`, `provider` over `tfplugin`) drives the
//! `engine`, which talks to Woosmap through `api`. `sandbox` is a local stand-in for the API.

pub mod action;
pub mod api;
pub mod cli;
pub mod engine;
#[doc(hidden)]
pub mod fuzzing;
pub mod provider;
pub mod sandbox;
pub mod tfplugin;
