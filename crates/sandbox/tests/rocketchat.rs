//! The Rocket.Chat mode over real HTTP: auth and its documented bodies, the import flow and
//! its states, per-user failures, `import.new` aborting a running operation, the limiter and
//! its headers, faults and the control API.

mod common;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use woosmap_sandbox::rocketchat::{
    DEFAULT_AUTH_TOKEN, DEFAULT_USER_ID, ForeignOperation, RcFault, RcFaultKind, RocketChatConfig,
    RocketChatHandle,
};

type Api = common::Api<RocketChatHandle>;

impl Api {
    async fn fast() -> Api {
        Api::start(RocketChatConfig {
            limit_calls: 0,
            import_duration: Duration::from_millis(400),
            ..RocketChatConfig::default()
        })
        .await
    }

    /// A request to `route` (`import.status` is a GET, the others POSTs) as the admin.
    fn request(&self, route: &str) -> reqwest::RequestBuilder {
        let url = format!("{}/api/v1/{route}", self.sb.base_url());
        let req = if route == "import.status" {
            self.http.get(url)
        } else {
            self.http.post(url)
        };
        req.header("X-User-Id", DEFAULT_USER_ID)
            .header("X-Auth-Token", DEFAULT_AUTH_TOKEN)
    }

    async fn call(&self, route: &str, body: Option<Value>) -> (StatusCode, Value) {
        let req = self.request(route);
        let req = match body {
            Some(b) => with_json(req, &b),
            None => req,
        };
        let resp = req.send().await.expect("send");
        let status = resp.status();
        (status, read_json(resp).await)
    }

    async fn state(&self) -> String {
        let (_, body) = self.call("import.status", None).await;
        body["state"].as_str().unwrap_or_default().to_owned()
    }

    async fn wait_terminal(&self) -> Value {
        for _ in 0..200 {
            let (_, body) = self.call("import.status", None).await;
            if matches!(body["state"].as_str(), Some("done" | "error" | "canceled")) {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the import never ended");
    }
}

/// The default sandbox with a limiter of `calls` per route per `window`.
fn limited(calls: u32, window: Duration) -> RocketChatConfig {
    RocketChatConfig {
        limit_calls: calls,
        limit_window: window,
        ..RocketChatConfig::default()
    }
}

/// An operation by someone else (`user` unset), `users` (default 5) staged, `duration_ms` in
/// each state.
fn foreign(state: &str, duration_ms: u64, users: Option<u32>) -> ForeignOperation {
    ForeignOperation {
        state: state.into(),
        duration_ms: Some(duration_ms),
        users,
        user: None,
    }
}

/// The operation in `body` (an `import.status` answer) ended `done`, `completed` users imported.
fn assert_done(body: &Value, completed: u64) {
    assert_eq!(body["state"], "done", "{body}");
    assert_eq!(body["operation"]["count"]["completed"], completed, "{body}");
}

fn with_json(req: reqwest::RequestBuilder, body: &Value) -> reqwest::RequestBuilder {
    req.header("content-type", "application/json")
        .body(body.to_string())
}

async fn read_json(resp: reqwest::Response) -> Value {
    serde_json::from_slice(&resp.bytes().await.expect("body")).unwrap_or(Value::Null)
}

fn users(names: &[&str]) -> Value {
    let users: Vec<Value> = names
        .iter()
        .map(|n| json!({"username": n, "emails": [format!("{n}@example.com")], "importIds": [n]}))
        .collect();
    json!({ "users": users })
}

#[tokio::test]
async fn auth_errors_have_the_documented_bodies() {
    let api = Api::fast().await;
    let url = format!("{}/api/v1/import.status", api.sb.base_url());
    let resp = api.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = read_json(resp).await;
    assert_eq!(
        body,
        json!({"status": "error", "message": "You must be logged in to do this."})
    );
    let resp = api
        .http
        .get(&url)
        .header("X-User-Id", "sandbox-user")
        .header("X-Auth-Token", "sandbox-user-token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let body: Value = read_json(resp).await;
    assert_eq!(body["success"], json!(false));
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("[error-unauthorized]")
    );
}

#[tokio::test]
async fn a_full_import_moves_through_the_states_and_counts_user_errors() {
    let api = Api::fast().await;
    assert_eq!(api.state().await, "none");
    let (code, body) = api.call("import.new", None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(body["operation"]["status"], "importer_new");
    assert_eq!(body["operation"]["valid"], true);
    let id = body["operation"]["_id"].as_str().unwrap().to_owned();
    assert_eq!(api.state().await, "new");
    // run before any user: not ready.
    let (code, body) = api.call("import.run", None).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(body["success"], false);
    let (code, _) = api
        .call("import.addUsers", Some(users(&["ann", "bob"])))
        .await;
    assert_eq!(code, StatusCode::OK);
    let (code, _) = api
        .call("import.addUsers", Some(users(&["will-fail"])))
        .await;
    assert_eq!(code, StatusCode::OK);
    let bad = json!({"users": [{"username": "x", "emails": ["not-an-email"], "importIds": ["x"]}]});
    assert_eq!(
        api.call("import.addUsers", Some(bad)).await.0,
        StatusCode::OK
    );
    let (_, status) = api.call("import.status", None).await;
    assert_eq!(status["state"], "ready");
    assert_eq!(status["operation"]["status"], "importer_user_selection");
    assert_eq!(status["operation"]["count"]["total"], 4);
    // a user without importIds is a 400 naming the field.
    let (code, body) = api
        .call(
            "import.addUsers",
            Some(json!({"users": [{"emails": ["a@b.c"]}]})),
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("importIds"));
    assert_eq!(api.call("import.run", None).await.0, StatusCode::OK);
    assert_eq!(api.state().await, "importing");
    let done = api.wait_terminal().await;
    assert_done(&done, 2);
    assert_eq!(done["operation"]["_id"], json!(id));
    assert_eq!(done["operation"]["count"]["error"], 2);
    let stats = api.sb.stats();
    assert_eq!((stats.aborts, stats.operations, stats.runs), (0, 1, 1));
}

#[tokio::test]
async fn import_new_aborts_a_running_operation_and_counts_it() {
    let api = Api::fast().await;
    let foreign = api
        .sb
        .start_foreign(&foreign("importing", 60_000, Some(3)))
        .unwrap();
    assert_eq!(api.state().await, "importing");
    let (_, body) = api.call("import.new", None).await;
    assert_ne!(body["operation"]["_id"], json!(foreign));
    assert_eq!(api.sb.stats().aborts, 1);
    // an operation being staged (`new`, nothing added yet) is someone's work too: counted.
    assert_eq!(api.state().await, "new");
    api.call("import.new", None).await;
    assert_eq!(api.sb.stats().aborts, 2);
    // an ended one is not.
    api.sb.end_current();
    assert_eq!(api.state().await, "done");
    api.call("import.new", None).await;
    assert_eq!(api.sb.stats().aborts, 2);
}

#[tokio::test]
async fn finish_current_ends_an_importing_operation_and_leaves_a_ready_one() {
    let api = Api::fast().await;
    api.sb
        .start_foreign(&foreign("ready", 600_000, Some(2)))
        .unwrap();
    api.sb.finish_current();
    assert_eq!(api.state().await, "ready", "not importing yet: left as is");
    api.sb
        .start_foreign(&foreign("importing", 600_000, Some(2)))
        .unwrap();
    assert_eq!(api.state().await, "importing");
    api.sb.finish_current();
    let (_, body) = api.call("import.status", None).await;
    assert_done(&body, 2);
}

#[tokio::test]
async fn a_foreign_ready_operation_is_run_by_its_owner_and_ends() {
    let api = Api::fast().await;
    api.sb
        .start_foreign(&foreign("loading", 100, None))
        .unwrap();
    assert_eq!(api.state().await, "loading");
    assert_done(&api.wait_terminal().await, 5);
}

#[tokio::test]
async fn the_limiter_sends_its_headers_and_429s_over_the_limit() {
    let api = Api::start(limited(3, Duration::from_millis(600))).await;
    let mut remaining = Vec::new();
    for _ in 0..4 {
        let resp = api.request("import.status").send().await.unwrap();
        let h = |n: &str| resp.headers()[n].to_str().unwrap().to_owned();
        assert_eq!(h("x-ratelimit-limit"), "3");
        let reset: u128 = h("x-ratelimit-reset").parse().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        assert!(
            reset > now - 1000 && reset < now + 5_000,
            "reset is a ms epoch"
        );
        remaining.push((resp.status(), h("x-ratelimit-remaining")));
    }
    assert_eq!(remaining[2], (StatusCode::OK, "0".to_owned()));
    assert_eq!(remaining[3].0, StatusCode::TOO_MANY_REQUESTS);
    // another route has its own budget.
    assert_eq!(api.call("import.new", None).await.0, StatusCode::OK);
    assert_eq!(api.sb.stats().rate_limited, 1);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(api.call("import.status", None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn faults_are_served_once_then_the_api_answers_again() {
    let api = Api::fast().await;
    api.sb
        .inject(RcFault::new("import.status", RcFaultKind::Http500, 1));
    assert_eq!(
        api.call("import.status", None).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(api.call("import.status", None).await.0, StatusCode::OK);
    let stats = api.sb.stats();
    assert_eq!((stats.injected, stats.requests), (1, 2));
}

#[tokio::test]
async fn the_control_api_starts_foreign_operations_and_reports_stats() {
    let api = Api::fast().await;
    let base = api.sb.base_url();
    let resp = api
        .http
        .post(format!("{base}/_sandbox/operation"))
        .header("content-type", "application/json")
        .body(json!({"state": "ready", "duration_ms": 50_000}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(api.state().await, "ready");
    let resp = api
        .http
        .post(format!("{base}/_sandbox/operation"))
        .header("content-type", "application/json")
        .body(json!({"state": "bogus"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let stats = read_json(
        api.http
            .get(format!("{base}/_sandbox/stats"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(stats["operations"], 1);
    assert_eq!(stats["aborts"], 0);
}

/// `woosmap-sandbox --rocketchat` prints its address and `export` lines that a shell reads
/// back to credentials the sandbox accepts.
#[tokio::test]
async fn the_binary_serves_rocketchat_and_prints_ready_to_paste_exports() {
    use std::process::Command;
    let mut child = common::binary(&["--quiet", "--rocketchat"])
        .spawn()
        .expect("binary starts");
    let printed = common::Lines::of(&mut child).first(3);
    let export = printed
        .iter()
        .find(|l| l.starts_with("export "))
        .unwrap_or_else(|| panic!("{printed:?}"))
        .clone();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{export}\nprintf '%s|%s|%s' \"$ROCKETCHAT_URL\" \"$ROCKETCHAT_USER_ID\" \"$ROCKETCHAT_AUTH_TOKEN\""
        ))
        .output()
        .unwrap();
    let read = String::from_utf8(out.stdout).unwrap();
    let parts: Vec<&str> = read.split('|').collect();
    assert_eq!(parts.len(), 3, "{read}");
    let resp = reqwest::Client::new()
        .get(format!("{}/api/v1/import.status", parts[0]))
        .header("X-User-Id", parts[1])
        .header("X-Auth-Token", parts[2])
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body = read_json(resp).await;
    child.kill().ok();
    child.wait().ok();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"state": "none", "success": true}));
}

#[tokio::test]
async fn a_foreign_operation_being_staged_is_new_then_ready_then_imports() {
    let api = Api::fast().await;
    api.sb
        .start_foreign(&ForeignOperation {
            user: Some("another-admin".into()),
            ..foreign("new", 200, Some(2))
        })
        .unwrap();
    let (_, body) = api.call("import.status", None).await;
    assert_eq!(body["state"], "new", "{body}");
    assert_eq!(body["operation"]["user"], "another-admin", "{body}");
    assert_done(&api.wait_terminal().await, 2);
}

#[tokio::test]
async fn a_server_clock_behind_shows_in_date_and_the_rate_limit_reset() {
    let api = Api::start(RocketChatConfig {
        clock_offset_ms: -600_000,
        ..limited(3, Duration::from_secs(60))
    })
    .await;
    let resp = api.request("import.status").send().await.unwrap();
    let now = std::time::SystemTime::now();
    let date = resp.headers()["date"].to_str().unwrap().to_owned();
    let date = httpdate::parse_http_date(&date).unwrap();
    let behind = now.duration_since(date).unwrap();
    assert!(
        (Duration::from_secs(599)..=Duration::from_secs(602)).contains(&behind),
        "{behind:?}"
    );
    let reset: u128 = resp.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now_ms = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    assert!(
        reset < now_ms - 500_000,
        "reset {reset} is on the server's clock"
    );
}
