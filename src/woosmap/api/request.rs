//! One HTTP exchange with the Datasets API: the URL and headers of each import endpoint (the
//! private key only in `X-Api-Key`, the reimport key only in the webhook path), at most
//! `MAX_IN_FLIGHT` import exchanges of a client at once, and what every exchange shares (the
//! dataset management calls included): the body read with a size cap, and transport failures
//! turned into `ApiError`s free of URLs and keys.

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, DATE, HeaderMap};
use reqwest::{RequestBuilder, Response, StatusCode, Url};
use tokio::time::Instant;

use std::sync::atomic::Ordering;

use super::error::{Action, ApiError, Endpoint};
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
    /// Sends one import request and reads the whole response. Transport faults become
    /// `ApiError`s.
    pub(super) async fn exchange(
        &self,
        endpoint: Endpoint,
        id: &DatasetId,
        reimport_key: Option<&Secret>,
        timeout: Duration,
    ) -> Result<Exchange, ApiError> {
        #[cfg(feature = "sim")]
        if let Some(transport) = &self.inner.transport {
            return self.sim_exchange(transport, endpoint, id, timeout).await;
        }
        let (url, log_path) = self.import_url(endpoint, id, reimport_key);
        let req = self.import_request(endpoint, url, timeout);
        let method = if endpoint == Endpoint::Status {
            "GET"
        } else {
            "POST"
        };
        tracing::debug!(dataset_id = %id, "{method} {log_path}");
        let started = Instant::now();
        let action = Action::import(endpoint, id);
        let secrets = self.secrets(reimport_key);
        let transport = |e: reqwest::Error| self.transport_error(&action, e, timeout, &secrets);

        // At most MAX_IN_FLIGHT on the wire; the semaphore is never closed.
        let _on_the_wire = self.inner.in_flight.acquire().await.ok();
        let sent_mono = pacer::mono_now();
        let sent_wall = std::time::SystemTime::now();
        let sent_local = Instant::now();
        let mut resp = self.send_watched(endpoint, req).await.map_err(transport)?;
        let status = resp.status();
        let headers = std::mem::take(resp.headers_mut());
        if let Some(date) = headers.get(DATE).and_then(|v| v.to_str().ok()) {
            self.inner
                .server_clock
                .observe(date, sent_local, Instant::now());
        }
        let body = read_body(resp, &action, transport).await?;
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

    /// The URL of an import endpoint, and the path to log (the reimport key masked).
    fn import_url(
        &self,
        endpoint: Endpoint,
        id: &DatasetId,
        reimport_key: Option<&Secret>,
    ) -> (Url, String) {
        let mut url = self.inner.base.clone();
        // `base` always has a path (http/https), so path_segments_mut cannot fail.
        let mut segs = url
            .path_segments_mut()
            .expect("http(s) URLs can have path segments");
        segs.pop_if_empty();
        let log_path = match endpoint {
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
        };
        drop(segs);
        (url, log_path)
    }

    /// The request of an import endpoint: a GET for the status, a POST of `{}` for the
    /// triggers; the private key in `X-Api-Key` except for the webhook.
    fn import_request(&self, endpoint: Endpoint, url: Url, timeout: Duration) -> RequestBuilder {
        let method = match endpoint {
            Endpoint::Status => reqwest::Method::GET,
            _ => reqwest::Method::POST,
        };
        let mut req = self
            .inner
            .http
            .request(method.clone(), url)
            .timeout(timeout)
            .header(ACCEPT, "application/json");
        if endpoint != Endpoint::Webhook
            && let Some((value, _)) = &self.inner.api_key
        {
            req = req.header("X-Api-Key", value.clone());
        }
        if method == reqwest::Method::POST {
            req = req.header(CONTENT_TYPE, "application/json").body("{}");
        }
        req
    }

    /// Sends `req`, keeping the client's record of the server: how long it has been silent
    /// (see [`Client::silent_status`]) and whether it ever answered or refused at first
    /// contact.
    async fn send_watched(
        &self,
        endpoint: Endpoint,
        req: RequestBuilder,
    ) -> Result<Response, reqwest::Error> {
        let inner = &self.inner;
        let silence = |f: &dyn Fn(&mut Silence)| {
            f(&mut inner.silence.lock().unwrap_or_else(|p| p.into_inner()));
        };
        silence(&|s| s.sent(endpoint));
        let resp = req.send().await.inspect_err(|e| {
            if e.is_timeout() && !e.is_connect() {
                silence(&|s| s.timed_out = true);
            } else {
                silence(&Silence::ended);
            }
            if is_refused(e) {
                let _ = inner.contact.compare_exchange(
                    CONTACT_NONE,
                    CONTACT_REFUSED,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
        })?;
        inner.contact.store(CONTACT_ANSWERED, Ordering::Relaxed);
        silence(&Silence::ended);
        Ok(resp)
    }

    /// A transport failure of `action` as an `ApiError`, free of the URL and of `secrets`.
    pub(super) fn transport_error(
        &self,
        action: &Action,
        err: reqwest::Error,
        timeout: Duration,
        secrets: &[&Secret],
    ) -> ApiError {
        let err = err.without_url();
        let action = action.clone();
        if let Some(reason) = certificate_failure(&err) {
            ApiError::Tls {
                action,
                origin: self.inner.origin.clone(),
                reason: scrub(&reason, secrets),
            }
        } else if err.is_connect() {
            ApiError::Connect {
                action,
                origin: self.inner.origin.clone(),
                reason: scrub(&chain(&err), secrets),
            }
        } else if err.is_timeout() {
            ApiError::Timeout {
                action,
                origin: self.inner.origin.clone(),
                after: timeout,
                cut_short: timeout < self.inner.request_timeout,
            }
        } else {
            ApiError::Transport {
                action,
                reason: scrub(&chain(&err), secrets),
            }
        }
    }
}

/// The whole body of `resp`, up to [`MAX_BODY`]; a larger one is an unreadable answer.
pub(super) async fn read_body(
    mut resp: Response,
    action: &Action,
    transport: impl Fn(reqwest::Error) -> ApiError,
) -> Result<Vec<u8>, ApiError> {
    let status = resp.status();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(&transport)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(ApiError::InvalidResponse {
                action: action.clone(),
                status: status.as_u16(),
                reason: format!("the body is larger than {} MiB", MAX_BODY >> 20),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
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
