//! The Woosmap Datasets API client: typed requests and responses, authentication, error
//! mapping, retries, and the process-wide pacer that keeps every call inside the published
//! rate limits (1 trigger per 90 s, 1 status read per 5 s, per dataset).
//!
//! - [`types`]: `DatasetId`, `Run`, `Step`, `Entry`, `RunStatus`.
//! - `Secret` (re-exported from `crate::secret`): a credential that never prints.
//! - [`error`]: `ApiError` (one variant per cause, for every call), `ErrorKind`, `Endpoint`,
//!   `DatasetOp` and `Action` (what a failed call was doing).
//! - [`client`]: `Client`, its three calls.
//! - [`clock`]: RFC 3339 timestamps (any offset) and the server's clock skew.
//! - `config`: `ClientConfig`, `RateLimits`, base URL checks, environment overrides.
//! - `call`: the pacing and retry loop every call runs through (the retry policy).
//! - `request`: one HTTP exchange; `interpret`: a response mapped to a result or `ApiError`.
//! - `pacing`: Woosmap's keys in the shared pacer (`crates/pacer`: slots in process and across
//!   processes, and the last status answer of a dataset shared with other processes, so that
//!   N processes following one dataset read its status about once per window in all);
//!   `retry`: backoff / Retry-After timing (internal).
//! - [`datasets`]: the dataset management calls (create, get, update, delete, list), through
//!   the same retry loop and with the same `ApiError` as the import calls.
//!
//! Deadlines are `tokio::time::Instant`s (convert a `std::time::Instant` with `.into()`).

mod call;
pub mod client;
pub mod clock;
mod config;
pub mod datasets;
pub mod error;
mod handle;
mod import_call;
mod interpret;
mod pacing;
mod request;
pub(crate) mod retry;
#[cfg(feature = "sim")]
pub mod sim_transport;
#[cfg(feature = "sim")]
mod sim_wire;
pub mod types;

#[cfg(test)]
mod loopback_tests;
#[cfg(test)]
pub(crate) mod test_support;

pub use crate::secret::Secret;
pub use call::{STATUS_MARGIN, TRIGGER_MARGIN};
pub use client::{Client, RetryNotice, TriggerAnswer, TriggerClaim};
pub use config::{
    ALLOW_INSECURE_HTTP_ENV, ClientConfig, DEFAULT_BASE_URL, DEFAULT_REQUEST_TIMEOUT,
    REQUEST_TIMEOUT_ENV, RateLimits, allow_insecure_http_from_env, check_base_url, check_transport,
    parse_opt_in, request_timeout_from_env,
};
pub use datasets::{
    Dataset, DatasetChanges, DatasetPage, DatasetSummary, Deletion, NewDataset, SchemaMapping,
};
pub use error::{Action, ApiError, DatasetOp, Endpoint, ErrorKind, Subject};
pub use handle::OnSend;
pub use tokio::time::Instant;
pub use types::{DatasetId, Entry, InvalidDatasetId, Run, RunStatus, Step};
