//! The Woosmap Datasets API client: typed requests and responses, authentication, error
//! mapping, retries, and the process-wide pacer that keeps every call inside the published
//! rate limits (1 trigger per 90 s, 1 status read per 5 s, per dataset).
//!
//! - [`types`]: `DatasetId`, `Run`, `Step`, `Entry`, `RunStatus`.
//! - [`secret`]: `Secret`, a credential that never prints.
//! - [`error`]: `ApiError` (one variant per cause), `ErrorKind`, `Endpoint`.
//! - [`client`]: `Client`, `ClientConfig`, `RateLimits`, the retry policy.
//! - [`datasets`]: the dataset management calls (create, get, update, delete, list) and
//!   `DatasetError`.
//! - `pacer`, `retry`: pacing slots and backoff / Retry-After timing (internal).
//!
//! Deadlines are `tokio::time::Instant`s (convert a `std::time::Instant` with `.into()`).

pub mod client;
pub mod datasets;
pub mod error;
mod pacer;
mod pacer_file;
pub(crate) mod retry;
pub mod secret;
pub mod types;

#[cfg(test)]
mod loopback_tests;
#[cfg(test)]
pub(crate) mod testserver;

pub use client::{
    Client, ClientConfig, DEFAULT_BASE_URL, DEFAULT_REQUEST_TIMEOUT, REQUEST_TIMEOUT_ENV,
    RateLimits, RetryNotice, STATUS_MARGIN, TRIGGER_MARGIN, check_base_url,
    request_timeout_from_env,
};
pub use datasets::{
    Dataset, DatasetChanges, DatasetError, DatasetOp, DatasetPage, DatasetSummary, Deletion,
    NewDataset, SchemaMapping,
};
pub use error::{ApiError, Endpoint, ErrorKind};
pub use secret::Secret;
pub use tokio::time::Instant;
pub use types::{DatasetId, Entry, InvalidDatasetId, Run, RunStatus, Step};
