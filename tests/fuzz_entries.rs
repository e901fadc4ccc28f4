//! The fuzz targets' entry points (`woosmap_import::fuzzing`, see `fuzz/` and `scripts/fuzz.sh`)
//! under plain `cargo test`: every committed seed (`fuzz/seeds/<target>/`) and every saved
//! crash reproducer (`fuzz/regressions/<target>/`) is replayed, then a few thousand random
//! mutations of the seeds run through each entry. No nightly, no libFuzzer: a quick guard that
//! runs everywhere; the coverage-guided runs are `scripts/fuzz.sh`.
//!
//! `WOOSMAP_WRITE_FUZZ_SEEDS=1` (re)writes `fuzz/seeds/` from the seeds built here.
//! `WOOSMAP_FUZZ_SEED=N` changes the mutation seed (the default is fixed, so CI is repeatable);
//! `WOOSMAP_FUZZ_ITERATIONS=N` changes the count per target.

use std::path::{Path, PathBuf};

use tfplugin::{AttrType, Value, codec};
use woosmap_import::fuzzing::{self, FUZZ_PRIVATE_KEY, FUZZ_REIMPORT_KEY};

type Entry = fn(&[u8]);

const TARGETS: [(&str, Entry); 4] = [
    ("msgpack_value", fuzzing::msgpack_value),
    ("state_json", fuzzing::state_json),
    ("api_response", fuzzing::api_response),
    ("cli_values", fuzzing::cli_values),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// A value of type `ty` with something in every attribute (an unknown now and then).
fn sample(ty: &AttrType, n: &mut u32) -> Value {
    *n += 1;
    if (*n).is_multiple_of(11) {
        return Value::Unknown;
    }
    match ty {
        AttrType::String => Value::string(format!("s{n}")),
        AttrType::Bool => Value::Bool((*n).is_multiple_of(2)),
        AttrType::Number => {
            if (*n).is_multiple_of(3) {
                Value::float(0.5 + f64::from(*n))
            } else {
                Value::int(i64::from(*n))
            }
        }
        AttrType::List(e) => Value::List(vec![sample(e, n), sample(e, n)]),
        AttrType::Set(e) => Value::Set(vec![sample(e, n)]),
        AttrType::Map(e) => Value::map([("a", sample(e, n)), ("b", sample(e, n))]),
        AttrType::Object(attrs) => Value::Object(
            attrs
                .iter()
                .map(|(k, t)| (k.clone(), sample(t, n)))
                .collect(),
        ),
    }
}

/// The same as state JSON (unknowns become null there).
fn sample_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null | Value::Unknown => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Number(tfplugin::Number::Int(i)) => (*i).into(),
        Value::Number(tfplugin::Number::Float(f)) => (*f).into(),
        Value::String(s) => s.clone().into(),
        Value::List(items) | Value::Set(items) => items.iter().map(sample_json).collect(),
        Value::Map(m) | Value::Object(m) => m
            .iter()
            .map(|(k, v)| (k.clone(), sample_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

fn response(endpoint: u8, status: u16, retry_after: &str, body: &str) -> Vec<u8> {
    let mut out = vec![endpoint];
    out.extend_from_slice(&status.to_be_bytes());
    out.push(u8::try_from(retry_after.len()).unwrap());
    out.extend_from_slice(retry_after.as_bytes());
    out.extend_from_slice(body.as_bytes());
    out
}

fn with_selector(selector: u8, rest: &[u8]) -> Vec<u8> {
    let mut out = vec![selector];
    out.extend_from_slice(rest);
    out
}

/// Realistic inputs per target, the starting points of the mutations (and of libFuzzer).
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let types = fuzzing::provider_types();
    match target {
        "msgpack_value" => types
            .iter()
            .enumerate()
            .flat_map(|(i, ty)| {
                let mut n = u32::try_from(i).unwrap();
                let v = sample(ty, &mut n);
                let sel = u8::try_from(i).unwrap();
                [
                    with_selector(sel, &codec::to_msgpack(&v, ty).unwrap()),
                    with_selector(sel, &codec::to_msgpack(&Value::Null, ty).unwrap()),
                ]
            })
            .collect(),
        "state_json" => types
            .iter()
            .enumerate()
            .map(|(i, ty)| {
                let mut n = u32::try_from(i).unwrap() + 3;
                let json = sample_json(&sample(ty, &mut n));
                with_selector(u8::try_from(i).unwrap(), json.to_string().as_bytes())
            })
            .collect(),
        "api_response" => {
            let run = |status: &str, step_status: &str, level: &str| {
                format!(
                    r#"{{"id":"0b9d4f4e-1111-2222-3333-444455556666","status":"{status}","steps":[{{"name":"fetch","start":"2024-05-01T10:00:00.000Z","end":"2024-05-01T10:00:02Z","status":"success","entries":[{{"created_at":"2024-05-01T10:00:01Z","detail":"fetched","level":"info"}}]}},{{"name":"import","start":"2024-05-01T10:00:02Z","end":null,"status":"{step_status}","entries":[{{"created_at":"2024-05-01T10:00:05Z","detail":"::error::row 3\n##[warning]x","level":"{level}"}}]}}]}}"#
                )
            };
            vec![
                response(0, 200, "", &run("success", "success", "info")),
                response(0, 200, "", &run("failed", "failed", "error")),
                response(0, 200, "", &run("in_progress", "in_progress", "warning")),
                response(0, 200, "", "<html>maintenance</html>"),
                response(
                    1,
                    202,
                    "",
                    r#"{"dataset_id":"8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0"}"#,
                ),
                response(
                    2,
                    202,
                    "",
                    r#"{"dataset_id":"0b5d3c4e-1f2a-4b3c-8d4e-5f6a7b8c9d0e"}"#,
                ),
                response(1, 401, "", r#"{"detail":"Unable to locate credentials"}"#),
                response(
                    0,
                    403,
                    "",
                    &format!(r#"{{"detail":"key {FUZZ_PRIVATE_KEY} not matching"}}"#),
                ),
                response(
                    2,
                    404,
                    "",
                    &format!(r#"{{"details":"no hook {FUZZ_REIMPORT_KEY}"}}"#),
                ),
                response(
                    1,
                    422,
                    "",
                    r#"{"detail":[{"type":"missing","loc":["body","source"],"msg":"Field required","input":{}}]}"#,
                ),
                response(1, 429, "120", r#"{"details":"Rate limit reached"}"#),
                response(0, 429, "Sun, 06 Nov 1994 08:49:37 GMT", ""),
                response(0, 502, "", "<html><h1>502 Bad Gateway</h1></html>"),
                response(1, 500, "", r#"{"message":{"nested":[1,2]}}"#),
            ]
        }
        "cli_values" => [
            (0, "30m"),
            (0, "1h 30m"),
            (0, "0s"),
            (1, "300ms"),
            (1, " 5s "),
            (2, "8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0"),
            (2, "8C4C51F1F6F343BCB65D7415E8EF22C0"),
            (3, "https://api.woosmap.com/"),
            (3, "http://127.0.0.1:8080/prefix?private_key=x"),
            (3, "Sun, 06 Nov 1994 08:49:37 GMT"),
        ]
        .iter()
        .map(|(s, t)| with_selector(*s, t.as_bytes()))
        .collect(),
        other => panic!("unknown target {other}"),
    }
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// One random change: flip, insert, delete, duplicate a chunk, splice another seed, or set a
/// byte to an interesting value.
fn mutate(rng: &mut fastrand::Rng, input: &mut Vec<u8>, pool: &[Vec<u8>]) {
    const INTERESTING: [u8; 10] = [0, 1, 0x7f, 0x80, 0xc0, 0xd4, 0xdc, 0xff, b'"', b'\\'];
    let len = input.len();
    match rng.u8(..7) {
        0 if len > 0 => {
            let i = rng.usize(..len);
            input[i] ^= 1 << rng.u8(..8);
        }
        1 => {
            let i = rng.usize(..=len);
            input.insert(i, rng.u8(..));
        }
        2 if len > 1 => {
            let i = rng.usize(..len);
            let n = rng.usize(1..=(len - i).min(16));
            input.drain(i..i + n);
        }
        3 if len > 0 => {
            let i = rng.usize(..len);
            let n = rng.usize(1..=(len - i).min(32));
            let chunk: Vec<u8> = input[i..i + n].to_vec();
            let at = rng.usize(..=input.len());
            input.splice(at..at, chunk);
        }
        4 if !pool.is_empty() => {
            let other = &pool[rng.usize(..pool.len())];
            if !other.is_empty() {
                let from = rng.usize(..other.len());
                let cut = rng.usize(..=len);
                input.truncate(cut);
                input.extend_from_slice(&other[from..]);
            }
        }
        5 if len > 0 => {
            let i = rng.usize(..len);
            input[i] = INTERESTING[rng.usize(..INTERESTING.len())];
        }
        _ => {
            // Keep the selector byte, replace the rest by random bytes.
            input.truncate(1);
            let n = rng.usize(..64);
            input.extend((0..n).map(|_| rng.u8(..)));
        }
    }
}

#[test]
fn seeds_and_saved_crashes_replay_cleanly() {
    let write = std::env::var("WOOSMAP_WRITE_FUZZ_SEEDS").is_ok_and(|v| v == "1");
    for (name, entry) in TARGETS {
        let dir = fuzz_dir().join("seeds").join(name);
        if write {
            std::fs::create_dir_all(&dir).unwrap();
            for (i, seed) in seeds(name).iter().enumerate() {
                std::fs::write(dir.join(format!("seed-{i:02}")), seed).unwrap();
            }
        }
        let committed = files_in(&dir);
        assert!(
            !committed.is_empty(),
            "{} has no seeds: run with WOOSMAP_WRITE_FUZZ_SEEDS=1",
            dir.display()
        );
        for seed in seeds(name) {
            entry(&seed);
        }
        for file in committed
            .iter()
            .chain(&files_in(&fuzz_dir().join("regressions").join(name)))
        {
            let bytes = std::fs::read(file).unwrap();
            let replay = std::panic::catch_unwind(|| entry(&bytes));
            assert!(replay.is_ok(), "{} panics on {}", name, file.display());
        }
    }
}

#[test]
fn random_mutations_of_the_seeds_never_panic() {
    let seed: u64 = std::env::var("WOOSMAP_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f00d);
    let iterations: usize = std::env::var("WOOSMAP_FUZZ_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    for (name, entry) in TARGETS {
        let pool = seeds(name);
        let mut rng = fastrand::Rng::with_seed(seed);
        for i in 0..iterations {
            let mut input = pool[rng.usize(..pool.len())].clone();
            for _ in 0..rng.usize(1..=4) {
                mutate(&mut rng, &mut input, &pool);
            }
            let outcome = std::panic::catch_unwind(|| entry(&input));
            assert!(
                outcome.is_ok(),
                "{name} panicked on iteration {i} (WOOSMAP_FUZZ_SEED={seed}); input: {input:?}"
            );
        }
    }
}
