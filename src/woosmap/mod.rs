//! Woosmap dataset imports and datasets, one vertical slice: the API client and its types
//! ([`api`]), the backend of the engine ([`import`]), the Terraform provider `woosmap`
//! ([`provider`]), the `woosmap-import` command line ([`cli`]) and its GitHub Action mode
//! ([`action`]). What the CLI and the action share: [`knobs`] names each front end's settings
//! in shared messages, [`settings`] reads and checks the environment and builds the client,
//! [`values`] parses typed values, [`report`] renders the final word on each dataset and
//! [`exit`] maps results onto the shared exit codes.

pub mod action;
pub mod api;
pub mod cli;
pub mod exit;
pub mod import;
pub mod knobs;
pub mod provider;
pub mod report;
pub mod settings;
pub mod values;
