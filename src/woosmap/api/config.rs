//! What a [`Client`](super::Client) is built from: the API root and its checks, the private
//! key, the per-request timeout and Woosmap's published rate limits, with the environment
//! variables that override the last two (`WOOSMAP_REQUEST_TIMEOUT`,
//! `WOOSMAP_TRIGGER_INTERVAL`, `WOOSMAP_STATUS_INTERVAL`).

use std::time::Duration;

use super::error::ApiError;
use crate::secret::Secret;

/// The Woosmap API root.
pub const DEFAULT_BASE_URL: &str = "https://api.woosmap.com";
/// Default per-request timeout.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Woosmap's published rate limits, per dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Between two triggers (API or webhook). Published: 1 per 90 s.
    pub trigger: Duration,
    /// Between two status reads. Published: 1 per 5 s.
    pub status: Duration,
}

impl RateLimits {
    /// The published limits: 90 s between triggers, 5 s between status reads.
    pub const PUBLISHED: RateLimits = RateLimits {
        trigger: Duration::from_secs(90),
        status: Duration::from_secs(5),
    };

    /// The published limits, overridden by `WOOSMAP_TRIGGER_INTERVAL` /
    /// `WOOSMAP_STATUS_INTERVAL` (humantime, e.g. `2s`, `300ms`) for sandboxes with shorter
    /// windows. An unreadable value is ignored with a warning (the published limit is safe).
    pub fn from_env() -> RateLimits {
        let mut limits = RateLimits::PUBLISHED;
        if let Some(d) = env_duration("WOOSMAP_TRIGGER_INTERVAL") {
            limits.trigger = d;
        }
        if let Some(d) = env_duration("WOOSMAP_STATUS_INTERVAL") {
            limits.status = d;
        }
        limits
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits::PUBLISHED
    }
}

/// Environment variable that shortens (or lengthens) the per-request timeout, e.g. `2s`.
pub const REQUEST_TIMEOUT_ENV: &str = "WOOSMAP_REQUEST_TIMEOUT";

/// The per-request timeout: `WOOSMAP_REQUEST_TIMEOUT` (humantime, e.g. `10s`) when set to a
/// readable, non-zero duration, else [`DEFAULT_REQUEST_TIMEOUT`] (an unreadable value is
/// ignored with a warning). Front ends use it when they build their [`ClientConfig`]; tests
/// set it to ride out slow-answer faults in seconds.
pub fn request_timeout_from_env() -> Duration {
    env_duration(REQUEST_TIMEOUT_ENV)
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_REQUEST_TIMEOUT)
}

fn env_duration(name: &str) -> Option<Duration> {
    let raw = std::env::var(name).ok()?;
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match humantime::parse_duration(raw) {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::warn!(
                "ignoring {name}={raw:?}: {e} (expected a duration such as 5s or 300ms)"
            );
            None
        }
    }
}

/// How to reach Woosmap.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// API root, default `https://api.woosmap.com`; a trailing slash is ignored.
    pub base_url: String,
    /// Sent as `X-Api-Key`, never in a URL. Needed for `trigger_import` and `status`.
    pub private_key: Option<Secret>,
    /// Per HTTP request (further capped by each call's deadline). Default 30 s.
    pub request_timeout: Duration,
    pub limits: RateLimits,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            private_key: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            limits: RateLimits::PUBLISHED,
        }
    }
}

/// Parses a base URL as the client uses it: http(s), a host, and no query, fragment or
/// credentials (keys never travel in URLs).
pub(super) fn parse_base_url(url: &str) -> Result<reqwest::Url, ApiError> {
    let trimmed = url.trim().trim_end_matches('/');
    let shown = shown_base_url(trimmed);
    let bad = |reason: &str| ApiError::InvalidBaseUrl {
        base_url: shown.clone(),
        reason: reason.to_owned(),
    };
    let base = reqwest::Url::parse(trimmed).map_err(|e| bad(&e.to_string()))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if base.host_str().is_none() {
        return Err(bad("it has no host"));
    }
    if base.query().is_some() || base.fragment().is_some() {
        return Err(bad(
            "it must not have a query or fragment (credentials never go in a URL)",
        ));
    }
    if !base.username().is_empty() || base.password().is_some() {
        return Err(bad("it must not hold credentials"));
    }
    Ok(base)
}

/// Checks a base URL the way [`Client::new`] will, so front ends can refuse a bad one before
/// anything runs. Returns it without trailing slashes.
pub fn check_base_url(url: &str) -> Result<String, ApiError> {
    parse_base_url(url).map(|u| u.as_str().trim_end_matches('/').to_owned())
}

/// Environment variable that allows plain `http://` to a host other than this machine.
pub const ALLOW_INSECURE_HTTP_ENV: &str = "WOOSMAP_ALLOW_INSECURE_HTTP";

/// Whether `WOOSMAP_ALLOW_INSECURE_HTTP` opts in to plain `http://` to other machines: `1`,
/// `true` or `yes` (any case). Front ends check the variable's spelling up front
/// (`woosmap::settings`); here anything else means no.
pub fn allow_insecure_http_from_env() -> bool {
    std::env::var(ALLOW_INSECURE_HTTP_ENV)
        .ok()
        .and_then(|v| parse_opt_in(&v))
        .unwrap_or(false)
}

/// `1` / `true` / `yes` → yes, `0` / `false` / `no` / blank → no (any case), else `None`.
pub fn parse_opt_in(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" => Some(true),
        "" | "0" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// Refuses a base URL that would carry a key unencrypted to another machine: `http://` to a
/// host that is not loopback (`localhost`, `127.0.0.0/8`, `::1`), unless `allow_insecure`.
/// Every request carries a key (the private key in a header, or a reimport key in the path).
pub fn check_transport(base_url: &str, allow_insecure: bool) -> Result<(), ApiError> {
    let url = parse_base_url(base_url)?;
    if url.scheme() != "http" || allow_insecure {
        return Ok(());
    }
    let host = url.host_str().unwrap_or_default();
    let loopback = match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
    {
        Ok(ip) => ip.is_loopback(),
        Err(_) => {
            let name = host.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
    };
    if loopback {
        return Ok(());
    }
    Err(ApiError::InvalidBaseUrl {
        base_url: shown_base_url(url.as_str().trim_end_matches('/')),
        reason: format!(
            "plain http:// to another machine would send the keys unencrypted; use https://, \
             or set {ALLOW_INSECURE_HTTP_ENV}=1 to send them anyway (e.g. to a sandbox on a \
             trusted network)"
        ),
    })
}

/// A base URL as shown in an error: without query, fragment or userinfo, which might hold a
/// credential someone pasted there.
pub(super) fn shown_base_url(raw: &str) -> String {
    let cut = raw.find(['?', '#']).map_or(raw, |i| &raw[..i]);
    match (cut.find("://"), cut.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}***@{}", &cut[..scheme_end + 3], &cut[at + 1..])
        }
        _ => cut.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::woosmap::api::Client;

    #[test]
    fn base_url_validation() {
        let ok = |u: &str| {
            Client::new(ClientConfig {
                base_url: u.into(),
                ..Default::default()
            })
        };
        assert_eq!(
            ok("https://api.woosmap.com/").unwrap().base_url(),
            "https://api.woosmap.com"
        );
        assert_eq!(
            ok("http://127.0.0.1:8080/prefix/").unwrap().base_url(),
            "http://127.0.0.1:8080/prefix"
        );
        for bad in [
            "api.woosmap.com",
            "ftp://x",
            "https://x/?private_key=abcd1234",
            "https://u:pw@x",
        ] {
            let err = ok(bad).unwrap_err();
            assert!(matches!(err, ApiError::InvalidBaseUrl { .. }), "{bad}");
            let text = err.to_string();
            assert!(
                !text.contains("abcd1234") && !text.contains("pw@"),
                "{text}"
            );
        }
    }

    /// Set in the child process of [`rate_limits_from_env_values`]: the test then checks
    /// `RateLimits::from_env` against the environment it was given.
    const CHILD: &str = "RATE_LIMITS_TEST_CHILD";

    /// `RateLimits::from_env` itself, in child processes of this test binary (the process
    /// environment cannot be changed safely while other tests run in this one).
    #[test]
    fn rate_limits_from_env_values() {
        if let Ok(expected) = std::env::var(CHILD) {
            let limits = RateLimits::from_env();
            let got = format!("{:?} {:?}", limits.trigger, limits.status);
            assert_eq!(got, expected);
            return;
        }
        assert_eq!(RateLimits::default(), RateLimits::PUBLISHED);
        assert_eq!(RateLimits::PUBLISHED.trigger, Duration::from_secs(90));
        let cases: [(&[(&str, &str)], &str); 4] = [
            (&[], "90s 5s"),
            (
                &[
                    ("WOOSMAP_TRIGGER_INTERVAL", "2s"),
                    ("WOOSMAP_STATUS_INTERVAL", "300ms"),
                ],
                "2s 300ms",
            ),
            // An unreadable value is ignored: the published limit is safe.
            (&[("WOOSMAP_TRIGGER_INTERVAL", "soon")], "90s 5s"),
            (&[("WOOSMAP_STATUS_INTERVAL", " 1m ")], "90s 60s"),
        ];
        let me = std::env::current_exe().unwrap();
        for (vars, expected) in cases {
            let mut child = std::process::Command::new(&me);
            child
                .args([
                    "--exact",
                    "woosmap::api::config::tests::rate_limits_from_env_values",
                    "--test-threads=1",
                ])
                .env_remove("WOOSMAP_TRIGGER_INTERVAL")
                .env_remove("WOOSMAP_STATUS_INTERVAL")
                .env(CHILD, expected)
                .envs(vars.iter().copied());
            let out = child.output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{vars:?}: {text}");
            assert!(text.contains("1 passed"), "the child ran the check: {text}");
        }
    }
}
