//! Response interpretation: a received answer (other than a 429, which the retry loop
//! handles) mapped to the call's result or to one `ApiError` variant per documented cause,
//! with any text from the server scrubbed of both keys.

use super::error::{ApiError, Endpoint, ErrorBody};
use super::handle::Client;
use super::request::Exchange;
use super::types::{DatasetId, Run, Scheduled};
use crate::secret::{Secret, scrub};

impl Client {
    /// Maps a received response (not a 429) to the call's result.
    pub(super) fn interpret(
        &self,
        endpoint: Endpoint,
        id: &DatasetId,
        reimport_key: Option<&Secret>,
        exchange: Exchange,
    ) -> Result<Option<Run>, ApiError> {
        let secrets = self.secrets(reimport_key);
        if exchange.status.is_success() {
            return success(endpoint, id, &exchange, &secrets);
        }
        let code = exchange.status.as_u16();
        if code == 404 && endpoint == Endpoint::Status {
            // No run yet (or no such dataset): the status read answers "none".
            return Ok(None);
        }
        Err(error_for_status(
            endpoint,
            id.clone(),
            code,
            &exchange.body,
            &secrets,
        ))
    }

    /// The fuzz targets' way in (`crate::fuzzing::api_response`): one received response,
    /// mapped exactly as [`Client::call`] maps it (a 429 included), without the network.
    #[cfg(feature = "fuzz")]
    pub(crate) fn interpret_for_fuzzing(
        &self,
        endpoint: Endpoint,
        id: &DatasetId,
        reimport_key: Option<&Secret>,
        status: u16,
        retry_after: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Option<Run>, ApiError> {
        use reqwest::StatusCode;
        use reqwest::header::HeaderMap;
        use std::time::SystemTime;

        use super::retry::parse_retry_after;

        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT);
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(ApiError::RateLimited {
                dataset_id: id.clone(),
                endpoint,
                retry_after: retry_after.and_then(|v| parse_retry_after(v, SystemTime::now())),
            });
        }
        let exchange = Exchange {
            status,
            headers: HeaderMap::new(),
            body,
            sent: SystemTime::now(),
            sent_mono: None,
        };
        self.interpret(endpoint, id, reimport_key, exchange)
    }
}

/// A 2xx answer: the run read, or the acknowledgement of a trigger (checked to name the
/// dataset asked for; a webhook's answer for another dataset is an error).
fn success(
    endpoint: Endpoint,
    id: &DatasetId,
    exchange: &Exchange,
    secrets: &[&Secret],
) -> Result<Option<Run>, ApiError> {
    let invalid = |reason: String| ApiError::InvalidResponse {
        dataset_id: id.clone(),
        endpoint,
        status: exchange.status.as_u16(),
        reason: scrub(&reason, secrets),
    };
    match endpoint {
        Endpoint::Status => match serde_json::from_slice::<Run>(&exchange.body) {
            Ok(run) => Ok(Some(run)),
            Err(e) => Err(invalid(format!("not a run status: {e}"))),
        },
        Endpoint::Trigger | Endpoint::Webhook => {
            let scheduled = match serde_json::from_slice::<Scheduled>(&exchange.body) {
                Ok(s) => s,
                Err(e) => return Err(invalid(format!("not a scheduled import: {e}"))),
            };
            let same = DatasetId::parse(&scheduled.dataset_id)
                .map(|d| &d == id)
                .unwrap_or(false);
            if same {
                Ok(None)
            } else if endpoint == Endpoint::Webhook {
                Err(ApiError::WebhookDatasetMismatch {
                    expected: id.clone(),
                    actual: scrub(
                        &scheduled.dataset_id.chars().take(80).collect::<String>(),
                        secrets,
                    ),
                })
            } else {
                tracing::warn!(
                    dataset_id = %id,
                    "Woosmap acknowledged the import of another dataset id ({})",
                    scrub(&scheduled.dataset_id, secrets)
                );
                Ok(None)
            }
        }
    }
}

/// The error of a non-2xx answer other than a 429 (and other than a status read's 404, which
/// means no run): one variant per documented cause, server text scrubbed of both keys.
fn error_for_status(
    endpoint: Endpoint,
    dataset_id: DatasetId,
    code: u16,
    raw_body: &[u8],
    secrets: &[&Secret],
) -> ApiError {
    let body = ErrorBody::parse(raw_body);
    let detail = body.summary().map(|d| scrub(&d, secrets));
    let webhook = endpoint == Endpoint::Webhook;
    match code {
        401 | 403 if webhook => ApiError::WebhookKeyRejected {
            dataset_id,
            status: code,
        },
        401 => ApiError::Unauthorized {
            dataset_id,
            endpoint,
        },
        402 => ApiError::QuotaExceeded {
            dataset_id,
            endpoint,
            detail,
        },
        403 => ApiError::Forbidden {
            dataset_id,
            endpoint,
        },
        404 if webhook => ApiError::WebhookKeyRejected {
            dataset_id,
            status: code,
        },
        404 => ApiError::NotFound {
            dataset_id,
            endpoint,
        },
        422 => {
            let mut errors: Vec<(String, String)> = body
                .validation
                .iter()
                .map(|(l, m)| (scrub(l, secrets), scrub(m, secrets)))
                .collect();
            if errors.is_empty()
                && let Some(d) = detail
            {
                errors.push((String::new(), d));
            }
            ApiError::Validation {
                dataset_id,
                endpoint,
                errors,
            }
        }
        500..=599 => ApiError::Server {
            dataset_id,
            endpoint,
            status: code,
            detail,
        },
        _ => ApiError::UnexpectedStatus {
            dataset_id,
            endpoint,
            status: code,
            detail,
        },
    }
}
