//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz, `scripts/fuzz.sh`) and for the
//! randomized test `tests/fuzz_entries.rs`. Each takes untrusted bytes the way the program
//! receives them, runs them through the real parsing and presentation code, and checks the
//! properties that must hold for any input. None may panic; a broken property panics with
//! a message (which the fuzzer reports as a crash).
//!
//! Untrusted inputs covered:
//! - [`msgpack_value`], [`state_json`]: DynamicValues from Terraform (msgpack) and raw state
//!   (JSON), decoded with the provider's own schema types.
//! - [`api_response`]: anything the Woosmap API (or a proxy in front of it) may answer: status
//!   code, body and `Retry-After`, mapped exactly as a call maps it; the resulting run is then
//!   shown by the CLI (text and `--json`) and the action (step log, outputs, summary).
//! - [`cli_values`]: the values a user types for durations, dataset ids and the base URL, as
//!   the CLI, the action inputs and the provider's attributes check them.
//!
//! Not a stable API: hidden from the docs, used by the project's own fuzzing only.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use crate::woosmap::api::{ApiError, Client, ClientConfig, DatasetId, Endpoint, Run, Secret};
use crate::woosmap::import::{EngineError, Event, Outcome};
use tfplugin::{AttrType, Value, codec};

/// The private key of the fuzzing client: must never show in an error.
pub const FUZZ_PRIVATE_KEY: &str = "fuzz-private-key-5e1f0a";
/// The reimport key of the fuzzing client's webhook calls: must never show in an error.
pub const FUZZ_REIMPORT_KEY: &str = "fuzz-reimport-key-c0d3";
const FUZZ_DATASET: &str = "8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0";

/// The schema types the provider decodes DynamicValues with: the provider block, each
/// resource and each data source.
pub fn provider_types() -> &'static [AttrType] {
    static TYPES: OnceLock<Vec<AttrType>> = OnceLock::new();
    TYPES.get_or_init(|| {
        let schema = crate::woosmap::provider::schema::all();
        std::iter::once(&schema.provider)
            .chain(schema.resources.values())
            .chain(schema.data_sources.values())
            .map(|s| s.value_type())
            .collect()
    })
}

fn pick_type(selector: u8) -> &'static AttrType {
    let types = provider_types();
    &types[usize::from(selector) % types.len()]
}

/// Msgpack DynamicValue: the first byte picks the schema type, the rest is the value. A value
/// that decodes must encode again, and re-decoding that encoding must give the same bytes.
pub fn msgpack_value(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let ty = pick_type(selector);
    let Ok(value) = codec::from_msgpack(bytes, ty) else {
        return;
    };
    check_round_trip(&value, ty);
}

/// Raw state JSON (UpgradeResourceState): the first byte picks the schema type.
pub fn state_json(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let ty = pick_type(selector);
    if let Ok(value) = codec::from_json_bytes(bytes, ty) {
        check_round_trip(&value, ty);
    }
}

fn check_round_trip(value: &Value, ty: &AttrType) {
    let encoded = codec::to_msgpack(value, ty)
        .unwrap_or_else(|e| panic!("a decoded value does not encode: {e}: {value:?}"));
    let again = codec::from_msgpack(&encoded, ty)
        .unwrap_or_else(|e| panic!("our own encoding does not decode: {e}"));
    let encoded_again = codec::to_msgpack(&again, ty).expect("re-encodes");
    assert_eq!(encoded, encoded_again, "msgpack round trip is not stable");
}

fn client() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        Client::new(ClientConfig {
            base_url: "https://api.woosmap.invalid".into(),
            private_key: Some(Secret::new(FUZZ_PRIVATE_KEY)),
            ..ClientConfig::default()
        })
        .expect("the fuzzing client builds")
    })
}

fn dataset() -> DatasetId {
    DatasetId::parse(FUZZ_DATASET).expect("a valid id")
}

/// A response of the API. Layout: byte 0 picks the endpoint (status, trigger, webhook); bytes
/// 1–2 are the HTTP status (big endian); byte 3 is the length of a `Retry-After` value that
/// follows; the rest is the body. Checks: the result maps as documented, no error text holds
/// either key, and a run shows in the CLI and the action without panicking or emitting a
/// workflow command.
pub fn api_response(data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let endpoint = match data[0] % 3 {
        0 => Endpoint::Status,
        1 => Endpoint::Trigger,
        _ => Endpoint::Webhook,
    };
    let status = u16::from_be_bytes([data[1], data[2]]);
    let rest = &data[4..];
    let header_len = usize::from(data[3]).min(rest.len());
    let (header, body) = rest.split_at(header_len);
    let retry_after = std::str::from_utf8(header).ok();
    let key = Secret::new(FUZZ_REIMPORT_KEY);
    let reimport_key = (endpoint == Endpoint::Webhook).then_some(&key);
    let id = dataset();

    let result = client().interpret_for_fuzzing(
        endpoint,
        &id,
        reimport_key,
        status,
        retry_after,
        body.to_vec(),
    );
    match result {
        Ok(Some(run)) => {
            assert_eq!(
                endpoint,
                Endpoint::Status,
                "only a status read yields a run"
            );
            show_run(&id, run);
        }
        Ok(None) => {}
        Err(e) => {
            check_error(&e, reimport_key.is_some());
            if (200..300).contains(&status) {
                assert!(
                    matches!(
                        e,
                        ApiError::InvalidResponse { .. } | ApiError::WebhookDatasetMismatch { .. }
                    ),
                    "a 2xx mapped to {e:?}"
                );
            }
            if status == 429 {
                assert!(matches!(e, ApiError::RateLimited { .. }), "{e:?}");
            }
            let result: Result<Outcome, EngineError> = Err(EngineError::Api(e));
            show_result(&id, &result, &[]);
        }
    }
    if let Some(value) = retry_after {
        retry_after_value(value);
    }
}

/// A `Retry-After` header value: never more than the cap, never a panic.
pub fn retry_after_value(value: &str) {
    if let Some(d) = crate::woosmap::api::retry::parse_retry_after(value, SystemTime::now()) {
        assert!(
            d <= crate::woosmap::api::retry::RETRY_AFTER_CAP,
            "{value:?} → {d:?}"
        );
    }
}

/// No key the call held may show in its error. (A call holds the reimport key only when it
/// is a webhook call: a status answer quoting a reimport key it was never sent is no leak.)
fn check_error(e: &ApiError, holds_reimport_key: bool) {
    for shown in [e.to_string(), format!("{e:?}")] {
        assert!(
            !shown.contains(FUZZ_PRIVATE_KEY),
            "private key in {shown:?}"
        );
        if holds_reimport_key {
            assert!(
                !shown.contains(FUZZ_REIMPORT_KEY),
                "reimport key in {shown:?}"
            );
        }
    }
    let _ = (e.kind(), e.is_retryable(), e.may_have_been_processed());
}

/// A run read from the status, as every front end shows it.
fn show_run(id: &DatasetId, run: Run) {
    let _ = (run.started_at(), run.finished_at(), run.failed_entries());
    let mut events = vec![
        Event::Observed {
            dataset_id: id.clone(),
            previous: Some(run.clone()),
        },
        Event::WaitingForRunning {
            dataset_id: id.clone(),
            run_id: run.id.clone(),
        },
        Event::RunIdentified {
            dataset_id: id.clone(),
            run_id: run.id.clone(),
        },
    ];
    for step in &run.steps {
        events.push(Event::StepStarted {
            dataset_id: id.clone(),
            run_id: run.id.clone(),
            step: step.name.clone(),
            start: step.start.clone(),
        });
        for entry in &step.entries {
            events.push(Event::Entry {
                dataset_id: id.clone(),
                run_id: run.id.clone(),
                step: step.name.clone(),
                entry: entry.clone(),
            });
        }
        events.push(Event::StepFinished {
            dataset_id: id.clone(),
            run_id: run.id.clone(),
            step: step.name.clone(),
            status: step.status,
            end: step.end.clone(),
        });
    }
    events.push(Event::Finished {
        dataset_id: id.clone(),
        run_id: run.id.clone(),
        status: run.status,
    });
    let result: Result<Outcome, EngineError> = Ok(Outcome {
        dataset_id: id.clone(),
        previous_run_id: Some(run.id.clone()),
        run: Some(run.clone()),
        triggered: true,
    });
    show_result(id, &result, &events);
    let timed_out: Result<Outcome, EngineError> = Err(EngineError::TimedOut {
        run: Some(run),
        waited: Duration::from_secs(1),
        sent: crate::woosmap::import::Sent::Accepted,
        previous_run_id: None,
    });
    show_result(id, &timed_out, &[]);
}

/// A `Write` whose bytes stay readable after the log that owns it is gone.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn show_result(id: &DatasetId, result: &Result<Outcome, EngineError>, events: &[Event]) {
    use crate::frontend::github::{commands, outputs as files};
    use crate::woosmap::action::{log, outputs, summary};
    use crate::woosmap::report::{DatasetReport, write_json, write_text};

    let report = DatasetReport::new(id, result);
    let mut text = Vec::new();
    write_text(&mut text, &report).expect("writes to memory");
    let mut json = Vec::new();
    write_json(&mut json, &report).expect("writes to memory");
    let line = std::str::from_utf8(&json).expect("JSON is UTF-8");
    assert_eq!(line.matches('\n').count(), 1, "--json must be one line");
    serde_json::from_str::<serde_json::Value>(line).expect("--json is JSON");

    let buf = SharedBuf::default();
    let step_log = log::grouped(buf.clone(), std::slice::from_ref(id));
    for event in events {
        log::show(&step_log, event);
    }
    let result_row = outputs::DatasetResult::new(id, result);
    if let Some(reason) = &result_row.error {
        step_log.line(id, reason);
    }
    step_log.finish();
    let logged =
        String::from_utf8(buf.0.lock().expect("buffer lock").clone()).expect("the log is UTF-8");
    for line in logged.split(['\n', '\r']) {
        let start = line.trim_start();
        if start.starts_with("::") {
            assert!(
                start.starts_with("::group::Dataset ") || start == "::endgroup::",
                "server text became a workflow command: {line:?}"
            );
        }
        assert!(!line.contains("##["), "legacy command marker in {line:?}");
    }
    let results = [result_row];
    let mut out = Vec::new();
    files::write_outputs(&mut out, &outputs::step_outputs(&results)).expect("writes");
    let _ = summary::render(&results);
    let _ = commands::error(
        Some("Woosmap import"),
        results[0].error.as_deref().unwrap_or(""),
    );
    let _ = results[0].duration_text();
}

/// Values a user types. The first byte picks what the rest is read as; the text is checked
/// the way the CLI flags, the action inputs and the provider attributes check it, and every
/// accepted value must respect its documented bounds.
pub fn cli_values(data: &[u8]) {
    use crate::woosmap::values as args;
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match selector % 4 {
        0 => {
            if let Ok(d) = args::parse_timeout(text) {
                assert!(
                    !d.is_zero() && d <= Duration::from_secs(24 * 3600),
                    "{text:?}"
                );
            }
            let provider = crate::woosmap::provider::convert::timeout(
                &Value::object([("timeouts", Value::object([("create", Value::string(text))]))]),
                "create",
            );
            if let Ok(Some(d)) = provider {
                assert!(d >= Duration::from_secs(1) && d <= Duration::from_secs(24 * 3600));
            }
        }
        1 => {
            if let Ok(d) = args::parse_poll_interval(text) {
                assert!(!d.is_zero(), "{text:?}");
            }
            let provider = crate::woosmap::provider::convert::poll_interval(&Value::object([(
                "poll_interval",
                Value::string(text),
            )]));
            if let Ok(Some(d)) = provider {
                assert!(d >= Duration::from_millis(100) && d <= Duration::from_secs(3600));
            }
            if let Ok(d) = args::parse_duration(text) {
                let _ = humantime::format_duration(d).to_string();
            }
        }
        2 => {
            if let Ok(id) = args::parse_dataset_id(text) {
                assert_eq!(id.as_str().len(), 36, "{text:?}");
                assert_eq!(DatasetId::parse(id.as_str()).as_ref(), Ok(&id));
            }
        }
        _ => {
            if let Ok(url) = args::parse_base_url(text) {
                assert!(!url.contains(['?', '#']), "{text:?} → {url:?}");
                let built = Client::new(ClientConfig {
                    base_url: url,
                    ..ClientConfig::default()
                });
                if let Err(e) = built {
                    let _ = e.to_string();
                }
            }
            retry_after_value(text);
        }
    }
}
