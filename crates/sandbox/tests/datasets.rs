//! The sandbox's dataset management endpoints over real HTTP: create / read / update / delete
//! / list with their documented bodies and errors, the 1-per-second window per endpoint,
//! pagination, deletion scheduling (409 the second time), created datasets being importable
//! like configured ones, and the stats that count it all.

mod common;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use woosmap_sandbox::{DatasetConfig, KeyState, SandboxConfig, SandboxHandle};

type Api = common::Api<SandboxHandle>;

const KEY: &str = "sandbox-private-key";
/// Short windows so that the tests take little time; the rate-limit test uses its own.
const WINDOW: Duration = Duration::from_millis(150);

fn fast() -> SandboxConfig {
    SandboxConfig {
        trigger_window: Duration::from_millis(300),
        status_window: Duration::from_millis(100),
        start_delay: Duration::from_millis(200),
        import_duration: Duration::from_millis(600),
        datasets_window: WINDOW,
        ..SandboxConfig::default()
    }
}

impl Api {
    /// Sends with the key after waiting out the (short) window, so tests see no 429.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        tokio::time::sleep(WINDOW + Duration::from_millis(20)).await;
        self.raw(method, path, body, Some(KEY)).await
    }

    /// [`Api::call`] on `/datasets/{id}`.
    async fn dataset(
        &self,
        method: reqwest::Method,
        id: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call(method, &format!("/datasets/{id}"), body).await
    }

    /// [`Api::call`]: the status of the dataset's latest run.
    async fn status(&self, id: &str) -> (StatusCode, Value) {
        let path = format!("/datasets/{id}/status");
        self.call(Method::GET, &path, None).await
    }

    /// [`Api::call`]: triggers the dataset's import.
    async fn trigger(&self, id: &str) -> (StatusCode, Value) {
        let path = format!("/datasets/{id}/import");
        self.call(Method::POST, &path, None).await
    }

    /// The webhook of `key` (it takes no private key).
    async fn webhook(&self, key: &str) -> (StatusCode, Value) {
        let path = format!("/datasets/hooks/reimport/{key}");
        self.raw(reqwest::Method::POST, &path, None, None).await
    }

    async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.sb.base_url()));
        if let Some(key) = key {
            req = req.header("X-Api-Key", key);
        }
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        common::answer(req).await
    }

    async fn create(&self, name: &str) -> Value {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/datasets/",
                Some(
                    json!({"name": name, "url": "https://example.com/stores.geojson",
                            "schema_mapping": [{"schema_key": "title", "data_key": "name"}]}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

use reqwest::Method;

#[tokio::test]
async fn create_read_update_delete_lifecycle() {
    let api = Api::start(fast()).await;
    let created = api.create("Stores").await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{created}");
    assert_eq!(created["name"], "Stores");
    assert_eq!(created["url"], "https://example.com/stores.geojson");
    assert!(
        created["reimport_key"]
            .as_str()
            .is_some_and(|k| !k.is_empty())
    );
    assert!(created["created_at"].as_str().is_some());
    assert!(created["updated_at"].as_str().is_some());
    assert_eq!(created["scheduled_for_deletion_after"], Value::Null);

    let (status, read) = api.dataset(Method::GET, &id, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, created);

    let (status, updated) = api
        .dataset(Method::PUT, &id, Some(json!({"name": "Shops"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], "Shops");
    assert_eq!(
        updated["url"], created["url"],
        "PUT keeps what it is not given"
    );
    assert_ne!(updated["updated_at"], created["updated_at"]);

    let (status, body) = api.dataset(Method::DELETE, &id, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let date = body["scheduled_for_deletion_after"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(date.len(), 10, "a date: {date}");
    let (_, read) = api.dataset(Method::GET, &id, None).await;
    assert_eq!(read["scheduled_for_deletion_after"], date.as_str());

    let (status, body) = api.dataset(Method::DELETE, &id, None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body,
        json!({"details": "The Dataset was already scheduled for deletion."})
    );

    let stats = api.sb.stats();
    assert_eq!(stats.datasets_created, 1);
    assert_eq!(stats.deletions_scheduled, 1);
    assert_eq!(stats.dataset_api_calls, 6);
    assert_eq!(stats.dataset_api_rate_limited, 0);
    assert_eq!(
        stats
            .dataset(&id)
            .unwrap()
            .scheduled_for_deletion_after
            .as_deref(),
        Some(date.as_str())
    );
}

#[tokio::test]
async fn documented_errors() {
    let api = Api::start(fast()).await;
    let (status, body) = api.raw(Method::GET, "/datasets/", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({"detail": "Unable to locate credentials"}));
    tokio::time::sleep(WINDOW * 2).await;
    let (status, body) = api
        .raw(Method::GET, "/datasets/", None, Some("wrong-key"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({"detail": "Credentials found, but not matching"})
    );
    api.sb.set_key_state("poor-key", KeyState::NoQuota);
    tokio::time::sleep(WINDOW * 2).await;
    let (status, body) = api
        .raw(Method::GET, "/datasets/", None, Some("poor-key"))
        .await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(body, json!({"detail": "Out of free quota"}));

    let unknown = "8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0";
    for method in [Method::GET, Method::DELETE] {
        let (status, body) = api.dataset(method, unknown, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body, json!({"details": "Dataset was not found"}));
    }
    let (status, _) = api
        .dataset(Method::PUT, unknown, Some(json!({"name": "x"})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body) = api.call(Method::GET, "/datasets/not-a-uuid", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], json!(["path", "dataset_id"]));

    let (status, body) = api
        .call(
            Method::POST,
            "/datasets/",
            Some(json!({"url": "not a url",
            "schema_mapping": [{"schema_key": "name", "data_key": "n"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let locs: Vec<&Value> = body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["loc"])
        .collect();
    assert!(locs.contains(&&json!(["body", "name"])), "{body}");
    assert!(locs.contains(&&json!(["body", "url"])), "{body}");
    assert!(
        locs.contains(&&json!(["body", "schema_mapping", 0, "schema_key"])),
        "{body}"
    );
    let long = format!("https://example.com/{}", "a".repeat(2083));
    let (status, body) = api
        .call(
            Method::POST,
            "/datasets/",
            Some(json!({"name": "n", "url": long})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (status, body) = api.call(Method::GET, "/datasets/?per_page=21", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], json!(["query", "per_page"]));
    let (status, _) = api.call(Method::GET, "/datasets/?page=0", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(api.sb.stats().datasets_created, 0);
}

#[tokio::test]
async fn one_call_per_second_per_endpoint() {
    let api = Api::start(SandboxConfig {
        datasets_window: Duration::from_secs(1),
        ..fast()
    })
    .await;
    let (status, _) = api.raw(Method::GET, "/datasets/", None, Some(KEY)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api.raw(Method::GET, "/datasets/", None, Some(KEY)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body, json!({"details": "Rate limit reached"}));
    // Another endpoint has its own window.
    let (status, _) = api
        .raw(
            Method::POST,
            "/datasets/",
            Some(json!({"name": "a", "url": "https://example.com/a.json"})),
            Some(KEY),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _) = api.raw(Method::GET, "/datasets/", None, Some(KEY)).await;
    assert_eq!(status, StatusCode::OK);
    let stats = api.sb.stats();
    assert_eq!(stats.dataset_api_rate_limited, 1);
    assert_eq!(stats.rate_limited, 1);
    assert_eq!(stats.dataset_api_calls, 4);
}

#[tokio::test]
async fn pages_of_at_most_twenty() {
    let api = Api::start(fast()).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            api.create(&format!("ds {i}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let (status, body) = api
        .call(Method::GET, "/datasets/?per_page=2&page=1", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["pagination"],
        json!({"page": 1, "next": 2, "prev": null})
    );
    let mut seen: Vec<String> = Vec::new();
    let mut page = 1;
    loop {
        let (_, body) = api
            .call(
                Method::GET,
                &format!("/datasets/?per_page=2&page={page}"),
                None,
            )
            .await;
        for d in body["datasets"].as_array().unwrap() {
            assert!(
                d.get("reimport_key").is_none(),
                "summaries carry no key: {d}"
            );
            seen.push(d["id"].as_str().unwrap().to_owned());
        }
        match body["pagination"]["next"].as_u64() {
            Some(next) => page = next,
            None => break,
        }
    }
    assert_eq!(seen, ids, "every dataset once, in creation order");
    let (_, body) = api.call(Method::GET, "/datasets/?page=9", None).await;
    assert_eq!(body["datasets"], json!([]));
    assert_eq!(body["pagination"]["next"], Value::Null);
    // A dataset removed behind the API's back is no longer listed.
    api.sb
        .configure_dataset(&ids[0], DatasetConfig::missing())
        .unwrap();
    let (_, body) = api.call(Method::GET, "/datasets/?per_page=20", None).await;
    assert_eq!(body["datasets"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn created_datasets_import_like_configured_ones() {
    let api = Api::start(SandboxConfig {
        import_on_create: false,
        ..fast()
    })
    .await;
    let created = api.create("Importable").await;
    let id = created["id"].as_str().unwrap();
    let key = created["reimport_key"].as_str().unwrap();
    // Never imported: the status answers 404 until a run appears.
    let (status, _) = api.status(id).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = api.webhook(key).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["dataset_id"], id);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, body) = api.trigger(id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let stats = api.sb.stats();
    let ds = stats.dataset(id).unwrap();
    assert_eq!(ds.triggers, 2);
    assert_eq!(ds.runs.len(), 2);

    // A configured dataset gets a name, URL and key the first time these endpoints see it.
    let configured = "0b5d3c4e-1f2a-4b3c-8d4e-5f6a7b8c9d0e";
    api.sb
        .configure_dataset(configured, DatasetConfig::default())
        .unwrap();
    let (status, body) = api.dataset(Method::GET, configured, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let key = body["reimport_key"].as_str().unwrap();
    let (status, _) = api.webhook(key).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn creation_can_start_the_first_import() {
    let api = Api::start(fast()).await; // import_on_create is the default
    let created = api.create("Auto").await;
    let id = created["id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = api.status(id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stats = api.sb.stats();
    let ds = stats.dataset(id).unwrap();
    assert_eq!(ds.triggers, 0, "not a trigger");
    assert_eq!(ds.runs, vec![body["id"].as_str().unwrap().to_owned()]);
}
