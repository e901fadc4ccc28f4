//! `woosmap-import datasets [--json]` (the real binary) against the sandbox: every dataset
//! with its id, name, URL, last update and deletion date, across pages, without a 429.

mod common;

use common::{KEY, cli, fast_config, run};
use woosmap_sandbox::{Sandbox, SandboxConfig};

/// Calls the sandbox's dataset API directly (one call per second per endpoint).
async fn call(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<String>,
) -> serde_json::Value {
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let mut req = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .header("X-Api-Key", KEY);
    if let Some(body) = body {
        req = req.header("content-type", "application/json").body(body);
    }
    let resp = req.send().await.unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    serde_json::from_str(&resp.text().await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_ids_names_urls_updates_and_deletion_dates() {
    let sb = Sandbox::start(SandboxConfig {
        import_on_create: false,
        ..fast_config()
    })
    .await
    .unwrap();
    let base = sb.base_url();
    let mut ids = Vec::new();
    for i in 0..3 {
        let body =
            format!(r#"{{"name": "Dataset {i}", "url": "https://example.com/{i}.geojson"}}"#);
        let created = call(&base, reqwest::Method::POST, "/datasets/", Some(body)).await;
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let deleted = call(
        &base,
        reqwest::Method::DELETE,
        &format!("/datasets/{}", ids[1]),
        None,
    )
    .await;
    let date = deleted["scheduled_for_deletion_after"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = sb.stats();

    let mut cmd = cli(&sb);
    cmd.args(["datasets", "--json"]);
    let ran = run(cmd).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    let rows = ran.json();
    assert_eq!(rows.len(), 3, "{ran:?}");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["id"], ids[i].as_str());
        assert_eq!(row["name"], format!("Dataset {i}"));
        assert_eq!(row["url"], format!("https://example.com/{i}.geojson"));
        assert!(row["updated_at"].as_str().is_some(), "{row}");
    }
    assert_eq!(rows[1]["scheduled_for_deletion_after"], date.as_str());
    assert_eq!(
        rows[0]["scheduled_for_deletion_after"],
        serde_json::Value::Null
    );
    common::assert_no_secrets("datasets --json", &ran.all(), &[]);

    let mut cmd = cli(&sb);
    cmd.arg("datasets");
    let ran = run(cmd).await;
    assert_eq!(ran.code, 0, "{ran:?}");
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("URL"),
        "{ran:?}"
    );
    assert_eq!(lines.len(), 4, "{ran:?}");
    assert!(
        lines[2].contains(&ids[1]) && lines[2].contains(&format!("deleted after {date}")),
        "{ran:?}"
    );
    assert!(
        lines[3].contains("https://example.com/2.geojson"),
        "{ran:?}"
    );

    let stats = sb.stats();
    assert_eq!(stats.dataset_api_rate_limited, 0, "{stats:?}");
    assert!(stats.dataset_api_calls > before.dataset_api_calls);

    // Without a key nothing is sent.
    let mut cmd = cli(&sb);
    cmd.env_remove("WOOSMAP_PRIVATE_KEY").arg("datasets");
    let ran = run(cmd).await;
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("WOOSMAP_PRIVATE_KEY"), "{ran:?}");
}
