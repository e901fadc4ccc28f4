//! One HTTP exchange with the Datasets API: the URL and headers of each endpoint (the private
//! key only in `X-Api-Key`, the reimport key only in the webhook path), the body read with a
//! size cap, at most `MAX_IN_FLIGHT` exchanges of a client at once, and transport failures
//! turned into `ApiError`s free of URLs and keys.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, DATE, HeaderMap};
use tokio::time::Instant;

use std::sync::atomic::Ordering;

use super::error::{ApiError, Endpoint};
use super::handle::{CONTACT_ANSWERED, CONTACT_NONE, CONTACT_REFUSED, Client, Silence};
use super::types::DatasetId;
use crate::secret::{Secret, scrub};

/// Largest response body read (the documented bodies are a few kB).
const MAX_BODY: usize = 4 << 20;

/// What one HTTP exchange gave.
pub(super) struct Exchange {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: Vec<u8>,
    /// When the request left (read just before sending), on the wall clock and on the
    /// machine's monotonic clock (see `pacer::mono_now`).
    pub(super) sent: std::time::SystemTime,
    pub(super) sent_mono: Option<u64>,
}

impl Client {
    /// Sends one request and reads the whole response. Transport faults become `ApiError`s.
    pub(super) async fn exchange(
        &self,
        endpoint: Endpoint,
        id: &DatasetId,
        reimport_key: Option<&Secret>,
        timeout: Duration,
    ) -> Result<Exchange, ApiError> {
        let inner = &self.inner;
        let mut url = inner.base.clone();
        let log_path = {
            // `base` always has a path (http/https), so path_segments_mut cannot fail.
            let mut segs = url
                .path_segments_mut()
                .expect("http(s) URLs can have path segments");
            segs.pop_if_empty();
            match endpoint {
                Endpoint::Trigger => {
                    segs.extend(["datasets", id.as_str(), "import"]);
                    format!("/datasets/{id}/import")
                }
                Endpoint::Webhook => {
                    let key = reimport_key.map(Secret::expose).unwrap_or_default();
                    segs.extend(["datasets", "hooks", "reimport", key]);
                    "/datasets/hooks/reimport/***".to_owned()
                }
                Endpoint::Status => {
                    segs.extend(["datasets", id.as_str(), "status"]);
                    format!("/datasets/{id}/status")
                }
            }
        };
        let method = match endpoint {
            Endpoint::Status => reqwest::Method::GET,
            _ => reqwest::Method::POST,
        };
        let mut req = inner
            .http
            .request(method.clone(), url)
            .timeout(timeout)
            .header(ACCEPT, "application/json");
        if endpoint != Endpoint::Webhook
            && let Some((value, _)) = &inner.api_key
        {
            req = req.header("X-Api-Key", value.clone());
        }
        if method == reqwest::Method::POST {
            req = req.header(CONTENT_TYPE, "application/json").body("{}");
        }

        tracing::debug!(dataset_id = %id, "{method} {log_path}");
        let started = Instant::now();
        let secrets = self.secrets(reimport_key);
        let transport =
            |e: reqwest::Error| self.transport_error(endpoint, id, e, timeout, &secrets);

        // At most MAX_IN_FLIGHT on the wire; the semaphore is never closed.
        let _on_the_wire = inner.in_flight.acquire().await.ok();
        let sent_mono = pacer::mono_now();
        let sent_wall = std::time::SystemTime::now();
        let silence = |f: &dyn Fn(&mut Silence)| {
            f(&mut inner.silence.lock().unwrap_or_else(|p| p.into_inner()));
        };
        silence(&|s| s.sent(endpoint));
        let mut resp = req.send().await.map_err(|e| {
            if e.is_timeout() && !e.is_connect() {
                silence(&|s| s.timed_out = true);
            } else {
                silence(&Silence::ended);
            }
            if is_refused(&e) {
                let _ = inner.contact.compare_exchange(
                    CONTACT_NONE,
                    CONTACT_REFUSED,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            transport(e)
        })?;
        inner.contact.store(CONTACT_ANSWERED, Ordering::Relaxed);
        silence(&Silence::ended);
        let status = resp.status();
        let headers = std::mem::take(resp.headers_mut());
        if let Some(date) = headers.get(DATE).and_then(|v| v.to_str().ok()) {
            inner.server_clock.observe(date, sent_wall);
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(ApiError::InvalidResponse {
                    dataset_id: id.clone(),
                    endpoint,
                    status: status.as_u16(),
                    reason: format!("the body is larger than {} MiB", MAX_BODY >> 20),
                });
            }
            body.extend_from_slice(&chunk);
        }
        tracing::debug!(
            dataset_id = %id,
            status = status.as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "{method} {log_path} -> {status}"
        );
        tracing::trace!(dataset_id = %id, body_len = body.len(), "response body received");
        Ok(Exchange {
            status,
            headers,
            body,
            sent: sent_wall,
            sent_mono,
        })
    }

    fn transport_error(
        &self,
        endpoint: Endpoint,
        id: &DatasetId,
        err: reqwest::Error,
        timeout: Duration,
        secrets: &[&Secret],
    ) -> ApiError {
        let err = err.without_url();
        let dataset_id = id.clone();
        if let Some(reason) = certificate_failure(&err) {
            ApiError::Tls {
                dataset_id,
                endpoint,
                origin: self.inner.origin.clone(),
                reason: scrub(&reason, secrets),
            }
        } else if err.is_connect() {
            ApiError::Connect {
                dataset_id,
                endpoint,
                origin: self.inner.origin.clone(),
                reason: scrub(&chain(&err), secrets),
            }
        } else if err.is_timeout() {
            ApiError::Timeout {
                dataset_id,
                endpoint,
                origin: self.inner.origin.clone(),
                after: timeout,
                cut_short: timeout < self.inner.request_timeout,
            }
        } else {
            ApiError::Transport {
                dataset_id,
                endpoint,
                reason: scrub(&chain(&err), secrets),
            }
        }
    }
}

/// Whether the connection was refused (nothing listens at the address).
fn is_refused(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        cur = e.source();
    }
    false
}

/// The certificate verification failure in an error's source chain, if that is what failed.
/// rustls reports it inside (possibly nested) `io::Error`s of the connector, whose `source()`
/// skips the wrapped error itself, so those are unwrapped with `get_ref`.
pub(super) fn certificate_failure(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(tls @ rustls::Error::InvalidCertificate(_)) = e.downcast_ref::<rustls::Error>()
        {
            return Some(tls.to_string());
        }
        cur = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

/// An error and its sources, joined with ": ", skipping repeats.
pub(super) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = e.source();
    }
    parts.join(": ")
}
