//! An in-process stand-in for the network, for the deterministic simulation (`crate::sim`,
//! feature `sim`): a [`Transport`] answers each exchange instead of HTTP. Everything above one
//! exchange stays the real code: the pacing and retry loop, the interpretation of answers, the
//! server clock, the engine. Time is tokio's (paused in the simulation), so the per-request
//! timeout is applied here the way reqwest applies it.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{DATE, HeaderMap, HeaderName, HeaderValue};
use tokio::time::Instant;

use super::client::Client;
use super::error::{Action, ApiError, Endpoint};
use super::request::Exchange;
use super::types::DatasetId;

pub use super::sim_wire::{SimAnswer, SimFault, SimFuture, SimRequest, Transport};

impl Client {
    /// A client whose requests go to `transport` instead of the network.
    pub fn with_transport(mut self, transport: Arc<dyn Transport>) -> Client {
        let inner = Arc::get_mut(&mut self.inner)
            .expect("with_transport is called on a fresh client, before any clone");
        inner.transport = Some(transport);
        self
    }

    /// One exchange through the simulated transport (see [`Client::exchange`]).
    pub(super) async fn sim_exchange(
        &self,
        transport: &Arc<dyn Transport>,
        endpoint: Endpoint,
        id: &DatasetId,
        timeout: Duration,
    ) -> Result<Exchange, ApiError> {
        let request = SimRequest {
            endpoint,
            dataset_id: id.clone(),
            base_url: self.inner.base_key.to_string(),
        };
        let sent_local = Instant::now();
        let sent = std::time::UNIX_EPOCH;
        let answer = match tokio::time::timeout(timeout, transport.exchange(request)).await {
            Err(_) => {
                return Err(ApiError::Timeout {
                    action: Action::import(endpoint, id),
                    origin: self.inner.origin.clone(),
                    after: timeout,
                    cut_short: timeout < self.inner.request_timeout,
                });
            }
            Ok(Err(SimFault::Refused)) => {
                return Err(ApiError::Connect {
                    action: Action::import(endpoint, id),
                    origin: self.inner.origin.clone(),
                    reason: "connection refused (simulated)".to_owned(),
                });
            }
            Ok(Err(SimFault::Reset)) => {
                return Err(ApiError::Transport {
                    action: Action::import(endpoint, id),
                    reason: "connection reset (simulated)".to_owned(),
                });
            }
            Ok(Ok(answer)) => answer,
        };
        let mut headers = HeaderMap::new();
        for (name, value) in &answer.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.insert(n, v);
            }
        }
        if let Some(date) = headers.get(DATE).and_then(|v| v.to_str().ok()) {
            self.inner
                .server_clock
                .observe(date, sent_local, Instant::now());
        }
        Ok(Exchange {
            status: StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY),
            headers,
            body: answer.body,
            sent,
            sent_mono: None,
        })
    }
}
