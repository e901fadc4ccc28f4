//! The dataset management calls against the real sandbox (`woosmap_sandbox`) over loopback,
//! plus a scripted server for the faults the sandbox does not model on these endpoints.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::woosmap::api::{ClientConfig, ErrorKind, RateLimits};
use woosmap_sandbox::{DatasetConfig, Sandbox, SandboxConfig, SandboxHandle};

const KEY: &str = "datasets-unit-key-7f3a";

async fn sandbox() -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        private_keys: vec![KEY.to_owned()],
        import_on_create: false,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

fn client(base: &str, key: Option<&str>) -> Client {
    Client::new(ClientConfig {
        base_url: base.to_owned(),
        private_key: key.map(Secret::new),
        limits: RateLimits::PUBLISHED,
        ..ClientConfig::default()
    })
    .unwrap()
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(120)
}

fn new(name: &str) -> NewDataset {
    NewDataset {
        name: name.to_owned(),
        url: "https://example.com/stores.geojson".to_owned(),
        schema_mapping: Some(vec![SchemaMapping {
            schema_key: "title".to_owned(),
            data_key: "name".to_owned(),
        }]),
    }
}

#[tokio::test]
async fn full_lifecycle_without_429() {
    let sb = sandbox().await;
    let c = client(&sb.base_url(), Some(KEY));
    let created = c.create_dataset(&new("Stores"), soon()).await.unwrap();
    assert_eq!(created.name, "Stores");
    let key = created.reimport_key.clone().expect("a reimport key");
    assert!(
        !format!("{created:?}").contains(key.expose()),
        "Debug hides the key"
    );

    let read = c.dataset(&created.id, soon()).await.unwrap().unwrap();
    assert_eq!(read, created);

    let updated = c
        .update_dataset(
            &created.id,
            &DatasetChanges {
                name: Some("Shops".into()),
                url: None,
            },
            soon(),
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "Shops");
    assert_eq!(updated.url, created.url);

    assert_eq!(
        c.delete_dataset(&created.id, soon()).await.unwrap(),
        Deletion::Scheduled
    );
    assert_eq!(
        c.delete_dataset(&created.id, soon()).await.unwrap(),
        Deletion::AlreadyScheduled
    );
    let read = c.dataset(&created.id, soon()).await.unwrap().unwrap();
    assert!(read.scheduled_for_deletion_after.is_some());

    // Gone behind our back: a read says so, a delete is NotFound.
    sb.configure_dataset(created.id.as_str(), DatasetConfig::missing())
        .unwrap();
    assert_eq!(c.dataset(&created.id, soon()).await.unwrap(), None);
    let err = c.delete_dataset(&created.id, soon()).await.unwrap_err();
    assert!(matches!(err, ApiError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains(created.id.as_str()), "{err}");

    let stats = sb.stats();
    assert_eq!(
        stats.dataset_api_rate_limited, 0,
        "paced below 1/s per endpoint"
    );
    assert_eq!(stats.dataset_api_calls, 8);
}

#[tokio::test]
async fn concurrent_creates_are_paced_and_pages_followed() {
    let sb = sandbox().await;
    let c = client(&sb.base_url(), Some(KEY));
    let mut tasks = Vec::new();
    for i in 0..4 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.create_dataset(&new(&format!("ds {i}")), soon()).await
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap().unwrap().id);
    }
    // Two pages of 3 through the raw call, then everything.
    let page = c.list_datasets_page(1, 3, soon()).await.unwrap();
    assert_eq!((page.page, page.next, page.datasets.len()), (1, Some(2), 3));
    let all = c.list_all_datasets(soon()).await.unwrap();
    let mut listed: Vec<DatasetId> = all.iter().map(|d| d.id.clone()).collect();
    listed.sort();
    ids.sort();
    assert_eq!(listed, ids);
    assert_eq!(sb.stats().dataset_api_rate_limited, 0);
}

#[tokio::test]
async fn a_429_is_waited_out_and_retried() {
    let sb = sandbox().await;
    // Someone else used the list window just now.
    let other = reqwest::Client::new()
        .get(format!("{}/datasets/", sb.base_url()))
        .header("X-Api-Key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    let c = client(&sb.base_url(), Some(KEY));
    let t0 = Instant::now();
    c.list_datasets_page(1, 20, soon()).await.unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(900));
    assert_eq!(sb.stats().dataset_api_rate_limited, 1);
}

#[tokio::test]
async fn documented_errors_are_sentences() {
    let sb = sandbox().await;
    let wrong = client(&sb.base_url(), Some("not-the-key-5e1f"));
    let err = wrong.list_all_datasets(soon()).await.unwrap_err();
    assert!(matches!(err, ApiError::Forbidden { .. }), "{err}");
    assert!(err.to_string().contains("HTTP 403"), "{err}");
    assert_eq!(err.kind(), ErrorKind::Auth);

    let none = client(&sb.base_url(), None);
    let err = none.create_dataset(&new("x"), soon()).await.unwrap_err();
    assert!(matches!(err, ApiError::MissingPrivateKey { .. }), "{err}");
    assert!(err.to_string().contains("WOOSMAP_PRIVATE_KEY"), "{err}");

    let c = client(&sb.base_url(), Some(KEY));
    let mut bad = new("bad");
    bad.url = "not a url".into();
    bad.schema_mapping = Some(vec![SchemaMapping {
        schema_key: "name".into(),
        data_key: "n".into(),
    }]);
    let err = c.create_dataset(&bad, soon()).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ApiError::Validation { .. }), "{text}");
    assert!(text.contains("body.url"), "{text}");
    assert!(text.contains("body.schema_mapping.0.schema_key"), "{text}");
    assert!(!text.contains(KEY));
    assert_eq!(sb.stats().datasets_created, 0);
}

#[test]
fn url_checks_name_the_expected_value() {
    assert!(check_dataset_url("https://example.com/a.geojson").is_ok());
    assert!(
        check_dataset_url("")
            .unwrap_err()
            .contains("must not be empty")
    );
    assert!(
        check_dataset_url("ftp://x/y")
            .unwrap_err()
            .contains("http or https")
    );
    assert!(
        check_dataset_url("example.com/a")
            .unwrap_err()
            .contains("absolute")
    );
    let long = format!("https://example.com/{}", "a".repeat(2100));
    assert!(
        check_dataset_url(&long)
            .unwrap_err()
            .contains("at most 2083")
    );
}

/// A bare HTTP/1.1 server (one request per connection): `POST /datasets/` always answers
/// 502; `GET /datasets/{id}` answers 503 `failures` times, then the dataset.
async fn flaky(failures: usize) -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let creates = Arc::new(AtomicUsize::new(0));
    let reads = Arc::new(AtomicUsize::new(0));
    let (c2, r2) = (creates.clone(), reads.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (c, r) = (c2.clone(), r2.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Headers, then the body announced by Content-Length.
                let (head_end, length) = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..at]).to_ascii_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break (at + 4, length);
                    }
                };
                while buf.len() < head_end + length {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let (status, body) = if head.starts_with("POST") {
                    c.fetch_add(1, Ordering::SeqCst);
                    ("502 Bad Gateway", "<html>502</html>".to_owned())
                } else if r.fetch_add(1, Ordering::SeqCst) < failures {
                    ("503 Service Unavailable", String::new())
                } else {
                    let id = path.trim_start_matches("/datasets/");
                    (
                        "200 OK",
                        format!(
                            r#"{{"id":"{id}","name":"n","url":null,"reimport_key":null,"created_at":"2026-01-01T00:00:00Z","updated_at":null}}"#
                        ),
                    )
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(answer.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (format!("http://{addr}"), creates, reads)
}

#[tokio::test]
async fn a_create_is_not_repeated_but_a_read_is() {
    let (base, creates, reads) = flaky(2).await;
    let c = client(&base, Some(KEY));
    let err = c.create_dataset(&new("once"), soon()).await.unwrap_err();
    assert!(err.may_have_been_processed(), "{err}");
    assert!(err.to_string().contains("may have been created"), "{err}");
    assert_eq!(creates.load(Ordering::SeqCst), 1, "never blindly repeated");

    let id = DatasetId::parse("8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0").unwrap();
    let got = c.dataset(&id, soon()).await.unwrap().unwrap();
    assert_eq!(got.id, id);
    assert_eq!(reads.load(Ordering::SeqCst), 3, "two 503s, then the answer");
}

/// Every documented error of every dataset call (401, 402, 403, 404, 422 as the server sends
/// them, a 429 still in effect at the deadline) is one sentence naming the call and what it
/// was about, in the same `ApiError` as the import calls.
#[test]
fn every_documented_error_names_the_call() {
    use crate::woosmap::api::interpret::error_for_status;
    let id = DatasetId::parse("8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0").unwrap();
    let calls = [
        (
            DatasetOp::Create,
            Subject::Named("Stores".into()),
            "creating a dataset named \"Stores\"",
        ),
        (
            DatasetOp::List,
            Subject::Page(2),
            "listing the datasets (page 2)",
        ),
        (
            DatasetOp::Get,
            Subject::Dataset(id.clone()),
            "reading dataset",
        ),
        (
            DatasetOp::Update,
            Subject::Dataset(id.clone()),
            "updating dataset",
        ),
        (
            DatasetOp::Delete,
            Subject::Dataset(id.clone()),
            "scheduling the deletion of dataset",
        ),
    ];
    let body_422 = br#"{"detail":[{"loc":["body","url"],"msg":"invalid or missing URL scheme"}]}"#;
    for (op, subject, doing) in calls {
        let action = Action::Manage { op, subject };
        let mut errors = vec![
            (401, error_for_status(action.clone(), 401, b"{}", &[])),
            (
                402,
                error_for_status(
                    action.clone(),
                    402,
                    br#"{"detail":"Out of free quota"}"#,
                    &[],
                ),
            ),
            (403, error_for_status(action.clone(), 403, b"{}", &[])),
            (422, error_for_status(action.clone(), 422, body_422, &[])),
            (
                429,
                ApiError::RateLimited {
                    action: action.clone(),
                    retry_after: Some(Duration::from_secs(2)),
                },
            ),
        ];
        if action.dataset_id().is_some() {
            errors.push((404, error_for_status(action.clone(), 404, b"{}", &[])));
        }
        for (status, err) in errors {
            let text = err.to_string();
            assert!(text.contains(&format!("HTTP {status}")), "{text}");
            assert!(text.ends_with('.'), "a sentence: {text}");
            assert!(text.chars().next().unwrap().is_uppercase(), "{text}");
            assert_eq!(err.action(), Some(&action), "{text}");
            match status {
                401 => assert!(text.contains(doing) && text.contains("WOOSMAP_PRIVATE_KEY")),
                402 => assert!(text.contains("Out of free quota") && text.contains("billing")),
                403 => assert!(text.contains(doing) && text.contains("write permission")),
                404 => assert!(
                    text.contains(&format!("Dataset {id} was not found"))
                        && text.contains(&format!("the {op} endpoint")),
                    "{text}"
                ),
                422 => assert!(text.contains(doing) && text.contains("body.url: invalid")),
                _ => assert!(text.contains(&format!("the {op} endpoint")) && text.contains("2s")),
            }
        }
    }
}
