//! Woosmap dataset imports and datasets, one vertical slice: the API client and its types
//! ([`api`]), the backend of the engine ([`import`]), the Terraform provider `woosmap`
//! ([`provider`]), the `woosmap-import` command line ([`cli`]) and its GitHub Action mode
//! ([`action`]). [`knobs`] names each front end's settings in shared messages.

pub mod action;
pub mod api;
pub mod cli;
pub mod import;
pub mod knobs;
pub mod provider;
