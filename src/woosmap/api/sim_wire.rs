//! What the simulated network and the client say to each other (feature `sim`): one request,
//! its answer or fault, and the [`Transport`] that answers in place of HTTP. Kept apart from
//! `sim_transport` (the client's side) so that the client's state can hold a transport
//! without the two modules importing each other.

use std::future::Future;
use std::pin::Pin;

use super::error::Endpoint;
use super::types::DatasetId;

/// One request, as the simulated server sees it.
#[derive(Debug, Clone)]
pub struct SimRequest {
    pub endpoint: Endpoint,
    pub dataset_id: DatasetId,
    /// The client's base URL (tells simulated machines apart).
    pub base_url: String,
}

/// A simulated answer.
#[derive(Debug, Clone)]
pub struct SimAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// How a simulated exchange failed instead of answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimFault {
    /// The connection was refused: nothing reached the server.
    Refused,
    /// The connection broke after the request was sent (it may have been processed).
    Reset,
}

/// A boxed answer future.
pub type SimFuture = Pin<Box<dyn Future<Output = Result<SimAnswer, SimFault>> + Send>>;

/// Answers requests in place of the network. A future that never completes is a silent server
/// (the request timeout then applies).
pub trait Transport: Send + Sync {
    fn exchange(&self, request: SimRequest) -> SimFuture;
}
