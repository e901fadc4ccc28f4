//! Response interpretation: a received answer of an import call (other than a 429, which the
//! retry loop handles) mapped to the call's result, and any call's error answer mapped to one
//! `ApiError` variant per documented cause, with any text from the server scrubbed of both
//! keys.

use super::error::{Action, ApiError, Endpoint, ErrorBody};
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
            Action::import(endpoint, id),
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
                action: Action::import(endpoint, id),
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
        action: Action::import(endpoint, id),
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

/// The error of a non-2xx answer other than a 429 (and other than the 404s a call reads as
/// "none"), for any call: one variant per documented cause, server text scrubbed of `secrets`.
pub(super) fn error_for_status(
    action: Action,
    code: u16,
    raw_body: &[u8],
    secrets: &[&Secret],
) -> ApiError {
    if let Action::Import {
        endpoint: Endpoint::Webhook,
        dataset_id,
    } = &action
        && matches!(code, 401 | 403 | 404)
    {
        // The key in the path is the credential: any refusal is about it.
        return ApiError::WebhookKeyRejected {
            dataset_id: dataset_id.clone(),
            status: code,
        };
    }
    let body = ErrorBody::parse(raw_body);
    let detail = body.summary().map(|d| scrub(&d, secrets));
    match code {
        401 => ApiError::Unauthorized { action },
        402 => ApiError::QuotaExceeded { action, detail },
        403 => ApiError::Forbidden { action },
        404 if action.dataset_id().is_some() => ApiError::NotFound { action },
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
            ApiError::Validation { action, errors }
        }
        500..=599 => ApiError::Server {
            action,
            status: code,
            detail,
        },
        _ => ApiError::UnexpectedStatus {
            action,
            status: code,
            detail,
        },
    }
}
