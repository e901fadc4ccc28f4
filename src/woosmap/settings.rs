//! The Woosmap settings read from the environment: the variables in one list ([`VARIABLES`],
//! shown by `--help` and mirrored by README's table), their up-front check ([`check`]), the
//! private key ([`private_key_from_env`]) and the API client built from them ([`client`]).
//! A value that cannot be used is an error naming the variable, before any request, rather
//! than a warning followed by a default; a value that is not UTF-8 text is such an error too
//! ([`check_utf8`]), never read as unset. The layers that use the values
//! (`crate::woosmap::api`, `crate::frontend::logging`) read them again; the check only makes
//! sure that what they read is valid.

use std::time::Duration;

use crate::frontend::env;
pub use crate::frontend::env::{EnvError, NOT_UTF8, Variable};
use crate::frontend::logging;
use crate::woosmap::api::{Client, ClientConfig, RateLimits, Secret};

/// The variable that sets the log level ([`crate::frontend::logging`]).
pub const LOG_ENV: &str = "WOOSMAP_LOG";

/// The environment variable holding the private key.
pub const PRIVATE_KEY_ENV: &str = "WOOSMAP_PRIVATE_KEY";

/// The private key from the environment, if set and not blank.
pub fn private_key_from_env() -> Option<Secret> {
    std::env::var(PRIVATE_KEY_ENV)
        .ok()
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty())
        .map(Secret::new)
}

/// Builds the API client, or says why not. A connection refused before the API ever answered
/// is reported at once (a wrong base URL), not retried for a minute. Plain `http://` to
/// another machine is refused unless `WOOSMAP_ALLOW_INSECURE_HTTP` allows it.
pub fn client(base_url: &str, private_key: Option<Secret>) -> Result<Client, String> {
    crate::woosmap::api::check_transport(
        base_url,
        crate::woosmap::api::allow_insecure_http_from_env(),
    )
    .map_err(|e| e.to_string())?;
    Client::new(ClientConfig {
        base_url: base_url.to_owned(),
        private_key,
        limits: RateLimits::from_env(),
        request_timeout: crate::woosmap::api::request_timeout_from_env(),
    })
    .map(|c| c.failing_fast_on_first_refusal())
    .map_err(|e| e.to_string())
}

/// Every variable `woosmap-import` reads, in the order `--help` and README list them.
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "WOOSMAP_PRIVATE_KEY",
        help: "private key with write permission (sent as the X-Api-Key header)",
    },
    Variable {
        name: "WOOSMAP_BASE_URL",
        help: "API root, like --base-url (default https://api.woosmap.com)",
    },
    Variable {
        name: "WOOSMAP_REIMPORT_KEY",
        help: "reimport (webhook) key, like --reimport-key (one dataset)",
    },
    Variable {
        name: "WOOSMAP_REQUEST_TIMEOUT",
        help: "limit on each HTTP request, a duration (default 30s)",
    },
    Variable {
        name: "WOOSMAP_TRIGGER_INTERVAL",
        help: "a sandbox's trigger window (default 90s, the published limit)",
    },
    Variable {
        name: "WOOSMAP_STATUS_INTERVAL",
        help: "a sandbox's status window (default 5s, the published limit)",
    },
    Variable {
        name: "WOOSMAP_PACER_DIR",
        help: "where processes share their pacing, or `off` (default: temp dir)",
    },
    Variable {
        name: "WOOSMAP_ALLOW_INSECURE_HTTP",
        help: "`1` to allow plain http:// to another machine (keys travel unencrypted)",
    },
    Variable {
        name: "WOOSMAP_LOG",
        help: "log level on stderr: off, error, warn (default), info, debug, trace",
    },
    Variable {
        name: "NO_COLOR",
        help: "set and not empty: no colour on the terminal (unless --color always)",
    },
];

/// Checks that every variable of [`VARIABLES`] that `lookup` finds set is UTF-8 text: a value
/// that is not would otherwise read as unset, and the default would silently apply (the
/// production API for `WOOSMAP_BASE_URL`, the private key for `WOOSMAP_REIMPORT_KEY`).
pub fn check_utf8(lookup: impl Fn(&str) -> Option<std::ffi::OsString>) -> Result<(), EnvError> {
    env::check_utf8(VARIABLES, lookup)
}

/// Checks every variable of [`VARIABLES`] that `lookup` finds set and not blank. Blank
/// values count as unset, as everywhere else in the program.
pub fn check_with(lookup: impl Fn(&str) -> Option<String>) -> Result<(), EnvError> {
    for var in VARIABLES {
        let Some(raw) = lookup(var.name) else {
            continue;
        };
        let value = raw.trim();
        if value.is_empty() {
            continue;
        }
        let fail = |expected: String| EnvError {
            name: var.name,
            shown: format!("{raw:?}"),
            expected,
        };
        match var.name {
            "WOOSMAP_REQUEST_TIMEOUT" => match duration(value) {
                Ok(d) if d.is_zero() => {
                    return Err(fail("the request timeout must be longer than zero".into()));
                }
                Ok(_) => {}
                Err(e) => return Err(fail(e)),
            },
            "WOOSMAP_TRIGGER_INTERVAL" | "WOOSMAP_STATUS_INTERVAL" => {
                duration(value).map_err(fail)?;
            }
            "WOOSMAP_PACER_DIR" => {
                let path = std::path::Path::new(value);
                if !value.eq_ignore_ascii_case("off") && path.exists() && !path.is_dir() {
                    return Err(fail(
                        "expected a directory (created if missing) or `off`, but this is a file"
                            .into(),
                    ));
                }
            }
            "WOOSMAP_LOG" if logging::parse_level(value).is_none() => {
                return Err(fail(
                    "expected a log level: off, error, warn, info, debug or trace".into(),
                ));
            }
            "WOOSMAP_PRIVATE_KEY" | "WOOSMAP_REIMPORT_KEY"
                if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) =>
            {
                return Err(EnvError {
                    name: var.name,
                    shown: "(hidden)".into(),
                    expected: "a key is printable ASCII without line breaks (check for \
                               stray quotes or control characters)"
                        .into(),
                });
            }
            "WOOSMAP_ALLOW_INSECURE_HTTP" if crate::woosmap::api::parse_opt_in(value).is_none() => {
                return Err(fail("expected 1, true or yes (or 0, false, no)".into()));
            }
            // WOOSMAP_BASE_URL is checked by the argument parser, like --base-url.
            _ => {}
        }
    }
    Ok(())
}

/// [`check_utf8`], then [`check_with`], on the process environment.
pub fn check() -> Result<(), EnvError> {
    check_utf8(|name| std::env::var_os(name))?;
    check_with(|name| std::env::var(name).ok())
}

fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("expected a duration such as 30s, 5m or 300ms ({e})"))
}

/// The `Environment:` section of `--help`.
pub fn help_section() -> String {
    env::help_section(VARIABLES)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_one(name: &str, value: &str) -> Result<(), EnvError> {
        check_with(|n| (n == name).then(|| value.to_owned()))
    }

    #[test]
    fn bad_values_are_errors_naming_the_variable() {
        for (name, value) in [
            ("WOOSMAP_REQUEST_TIMEOUT", "abc"),
            ("WOOSMAP_REQUEST_TIMEOUT", "0s"),
            ("WOOSMAP_TRIGGER_INTERVAL", "10"),
            ("WOOSMAP_STATUS_INTERVAL", "soon"),
            ("WOOSMAP_LOG", "verbose"),
            ("WOOSMAP_PACER_DIR", "/etc/hostname"),
        ] {
            let err = check_one(name, value).unwrap_err();
            assert_eq!(err.name, name);
            assert!(err.to_string().starts_with(name), "{err}");
        }
    }

    #[test]
    fn good_and_blank_values_pass() {
        for (name, value) in [
            ("WOOSMAP_REQUEST_TIMEOUT", "10s"),
            ("WOOSMAP_TRIGGER_INTERVAL", "0s"),
            ("WOOSMAP_STATUS_INTERVAL", "300ms"),
            ("WOOSMAP_LOG", "DEBUG"),
            ("WOOSMAP_PACER_DIR", "off"),
            ("WOOSMAP_PACER_DIR", "/nonexistent/pacer"),
            ("WOOSMAP_LOG", "  "),
        ] {
            assert_eq!(check_one(name, value), Ok(()), "{name}={value}");
        }
    }

    #[test]
    fn a_value_that_is_not_utf8_is_an_error_naming_the_variable() {
        use std::os::unix::ffi::OsStringExt;
        for var in VARIABLES {
            let err = check_utf8(|n| {
                (n == var.name).then(|| std::ffi::OsString::from_vec(b"http://\xff".to_vec()))
            })
            .unwrap_err();
            assert_eq!(err.name, var.name);
            assert!(err.to_string().contains("UTF-8"), "{err}");
        }
        assert_eq!(check_utf8(|_| Some("ok".into())), Ok(()));
    }

    #[test]
    fn the_insecure_http_opt_in_is_spelled_out() {
        for ok in ["1", "true", "YES", "0", "no", "False"] {
            assert_eq!(check_one("WOOSMAP_ALLOW_INSECURE_HTTP", ok), Ok(()), "{ok}");
        }
        let err = check_one("WOOSMAP_ALLOW_INSECURE_HTTP", "please").unwrap_err();
        assert_eq!(err.name, "WOOSMAP_ALLOW_INSECURE_HTTP");
    }

    #[test]
    fn a_bad_key_is_refused_without_showing_it() {
        let err = check_one("WOOSMAP_PRIVATE_KEY", "secret\u{7}key").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
