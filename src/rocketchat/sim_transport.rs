//! An in-process stand-in for the network and the wall clock, for the deterministic
//! simulation (`crate::sim`, feature `sim`): a [`Transport`] answers each exchange instead of
//! HTTP and tells the time on this machine's simulated wall clock. Everything above one
//! exchange stays the real code (pacing, 429 waits, retries, the server clock, the run).
//!
//! The budgets of the simulated client live in an in-memory book on the simulated clock
//! ([`Book`], the rules of `pacer::budget`): the shared book compares resets with the real
//! wall clock, which a paused clock does not move.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use pacer::budget::Budget;

/// One request, as the simulated server sees it.
#[derive(Debug, Clone)]
pub struct SimRequest {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// `import.new`, `import.status`, ...
    pub route: String,
    pub body: Option<Value>,
    /// `X-User-Id`.
    pub user_id: String,
}

/// A simulated answer.
#[derive(Debug, Clone)]
pub struct SimAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// The future of one exchange; `Err` when the connection was reset (no answer).
pub type SimFuture = Pin<Box<dyn Future<Output = Result<SimAnswer, String>> + Send>>;

/// The simulated network of one machine.
pub trait Transport: Send + Sync {
    /// Sends `request`; the answer, or why none came. Never answering is allowed: the client
    /// applies its request timeout on tokio's clock.
    fn exchange(&self, request: SimRequest) -> SimFuture;
    /// Now on this machine's wall clock, in milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The budgets of one simulated client, on its simulated clock, by `pacer::budget`'s own rules (`wait_in`, `reserve_in`).
#[derive(Debug, Default)]
pub(super) struct Book(Mutex<BTreeMap<String, Budget>>);

impl Book {
    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<String, Budget>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub(super) fn wait(&self, route: &str, now: u64) -> Option<Duration> {
        self.with(|routes| pacer::budget::wait_in(routes, route, now))
    }

    pub(super) fn reserve(&self, route: &str, now: u64) -> Option<Duration> {
        self.with(|routes| pacer::budget::reserve_in(routes, route, now))
    }

    pub(super) fn record(&self, route: &str, budget: Budget) {
        self.with(|routes| routes.insert(route.to_owned(), budget));
    }

    pub(super) fn budget(&self, route: &str) -> Option<Budget> {
        self.with(|routes| routes.get(route).copied())
    }
}

/// What a simulated client has instead of HTTP and the wall clock (see
/// `RcClient::with_transport`).
pub(crate) struct Sim {
    transport: Arc<dyn Transport>,
    pub(super) book: Book,
}

impl Sim {
    pub(super) fn new(transport: Arc<dyn Transport>) -> Sim {
        Sim {
            transport,
            book: Book::default(),
        }
    }

    pub(super) fn now_ms(&self) -> u64 {
        self.transport.now_ms()
    }

    /// One exchange (the status, headers and body of its answer), with the request timeout
    /// applied on tokio's clock as reqwest applies it.
    pub(super) async fn exchange(
        &self,
        method: &Method,
        route: &str,
        body: Option<&Value>,
        user_id: &str,
        timeout: Duration,
    ) -> Result<(StatusCode, HeaderMap, String), String> {
        let request = SimRequest {
            method: if *method == Method::GET {
                "GET"
            } else {
                "POST"
            },
            route: route.to_owned(),
            body: body.cloned(),
            user_id: user_id.to_owned(),
        };
        let answer = match tokio::time::timeout(timeout, self.transport.exchange(request)).await {
            Err(_) => return Err("operation timed out (simulated)".to_owned()),
            Ok(Err(reason)) => return Err(reason),
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
        let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
        Ok((status, headers, answer.body))
    }
}
