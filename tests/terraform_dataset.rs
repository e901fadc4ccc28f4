//! `woosmap_dataset` (and the `woosmap_dataset` / `woosmap_datasets` data sources) under real
//! Terraform 1.15 against the sandbox over loopback: create with a chained import in one
//! apply, an empty second plan, rename in place, replacement on a `schema_mapping` change,
//! destroy scheduling deletion, re-destroy of an already scheduled dataset, drift and
//! deletion behind Terraform's back, import by id, and ten datasets at `-parallelism=10`
//! without a single 429. Each case has its own sandbox and runs concurrently with the others.

mod common;

use common::terraform::{Terraform, blocking};
use common::{KEY, Ran, fast_config};
use woosmap_sandbox::{DatasetConfig, Sandbox, SandboxConfig, SandboxHandle};

async fn start(import_on_create: bool) -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        import_on_create,
        ..fast_config()
    })
    .await
    .expect("sandbox starts")
}

/// The provider block and the dataset `stores` named `name`, its title read from `data_key`.
fn dataset(name: &str, data_key: &str) -> String {
    format!(
        r#"
provider "woosmap" {{}}

resource "woosmap_dataset" "stores" {{
  name           = "{name}"
  url            = "https://example.com/stores.geojson"
  schema_mapping = [{{ schema_key = "title", data_key = "{data_key}" }}]
}}
"#
    )
}

/// A dataset, an import chained on its id, and the data sources reading it back.
fn chained(name: &str, data_key: &str) -> String {
    format!(
        r#"{}
resource "woosmap_dataset_import" "stores" {{
  dataset_id    = woosmap_dataset.stores.id
  poll_interval = "300ms"
}}

data "woosmap_dataset" "stores" {{
  id         = woosmap_dataset_import.stores.dataset_id
  depends_on = [woosmap_dataset.stores]
}}

output "id" {{ value = woosmap_dataset.stores.id }}
output "run_id" {{ value = woosmap_dataset_import.stores.run_id }}
output "status" {{ value = woosmap_dataset_import.stores.status }}
output "read_name" {{ value = data.woosmap_dataset.stores.name }}
"#,
        dataset(name, data_key)
    )
}

/// A sandbox (`import_on_create` as given) and a Terraform directory on it where `config`
/// was applied, with the apply's output.
async fn applied(import_on_create: bool, config: String) -> (SandboxHandle, Terraform, Ran) {
    let sb = start(import_on_create).await;
    let tf = Terraform::new(&sb.base_url());
    tf.write(&config);
    let (tf, apply) = blocking(move || {
        let apply = tf.apply();
        (tf, apply)
    })
    .await;
    (sb, tf, apply)
}

fn id_of(tf: &Terraform) -> String {
    tf.outputs()["id"]["value"].as_str().unwrap().to_owned()
}

/// Schedules a deletion (or renames) through the API directly, as another tool would.
async fn api(sb: &SandboxHandle, method: reqwest::Method, path: &str, body: Option<&str>) -> u16 {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", sb.base_url()))
        .header("X-Api-Key", KEY);
    if let Some(body) = body {
        req = req
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    // The sandbox allows one call per second per endpoint; the provider paces, we wait.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn chained_import_rename_replace_destroy_and_redestroy() {
    let (sb, tf, apply) = applied(true, chained("Stores", "name")).await;
    let out = tf.outputs();
    let id = out["id"]["value"].as_str().unwrap().to_owned();
    let stats = sb.stats();
    let ds = stats.dataset(&id).expect("the sandbox knows the dataset");
    assert_eq!(stats.datasets_created, 1);
    assert_eq!(
        ds.triggers, 0,
        "the creation's import was adopted, not repeated: {ds:?}"
    );
    assert_eq!(ds.runs.len(), 1, "{ds:?}");
    assert_eq!(stats.triggers_while_running, 0);
    assert_eq!(out["run_id"]["value"], ds.runs[0].as_str());
    assert_eq!(out["status"]["value"], "success");
    assert_eq!(out["read_name"]["value"], "Stores");
    assert!(
        apply.all().contains("Adopted the import Woosmap started"),
        "the import says what it found: {apply:?}"
    );
    common::assert_no_secrets("apply output", &apply.all(), &[]);

    // Second plan: nothing to do. Then a rename, in place.
    let (tf, rename) = blocking(move || {
        tf.plan_exit(0);
        tf.write(&chained("Shops", "name"));
        let apply = tf.apply();
        (tf, apply)
    })
    .await;
    assert!(rename.stdout.contains("updated in-place"), "{rename:?}");
    assert!(
        rename.stdout.contains("0 added, 1 changed, 0 destroyed"),
        "{rename:?}"
    );
    assert_eq!(id_of(&tf), id, "same dataset");
    assert_eq!(tf.outputs()["read_name"]["value"], "Shops");
    assert_eq!(sb.stats().datasets_created, 1);

    // A schema_mapping change replaces the dataset (and the import chained on it).
    let (tf, replace) = blocking(move || {
        tf.write(&chained("Shops", "title"));
        let apply = tf.apply();
        (tf, apply)
    })
    .await;
    assert!(replace.stdout.contains("must be replaced"), "{replace:?}");
    let new_id = id_of(&tf);
    assert_ne!(new_id, id);
    let stats = sb.stats();
    assert_eq!(stats.datasets_created, 2);
    assert!(
        stats
            .dataset(&id)
            .unwrap()
            .scheduled_for_deletion_after
            .is_some(),
        "the replaced dataset's deletion is scheduled"
    );
    assert_eq!(stats.dataset(&new_id).unwrap().triggers, 0);

    // Destroy schedules the deletion.
    let tf = blocking(move || {
        tf.ok(&["destroy", "-auto-approve", "-no-color"]);
        tf
    })
    .await;
    let stats = sb.stats();
    assert!(
        stats
            .dataset(&new_id)
            .unwrap()
            .scheduled_for_deletion_after
            .is_some()
    );
    assert_eq!(stats.deletions_scheduled, 2);

    // Re-destroy of a dataset whose deletion is already scheduled (by someone else after the
    // last refresh): the 409 is success.
    let tf = blocking(move || {
        tf.apply();
        tf
    })
    .await;
    let third = id_of(&tf);
    let code = api(
        &sb,
        reqwest::Method::DELETE,
        &format!("/datasets/{third}"),
        None,
    )
    .await;
    assert_eq!(code, 200);
    // That DELETE came from outside the provider, like another client's: let the endpoint's
    // 1-per-second window pass, so that a 429 below could only come from our own pacing.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let destroy = blocking(move || {
        let destroy = tf.ok(&["destroy", "-auto-approve", "-refresh=false", "-no-color"]);
        assert!(destroy.stdout.contains("Destroy complete"), "{destroy:?}");
        destroy
    })
    .await;
    common::assert_no_secrets("destroy output", &destroy.all(), &[]);
    let stats = sb.stats();
    assert_eq!(
        stats.deletions_scheduled, 3,
        "the provider's DELETE got the 409"
    );
    assert_eq!(stats.dataset_api_rate_limited, 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn chained_import_triggers_once_when_creation_imports_nothing() {
    let (sb, tf, apply) = applied(false, chained("Plain", "name")).await;
    let id = id_of(&tf);
    let stats = sb.stats();
    let ds = stats.dataset(&id).unwrap();
    assert_eq!(ds.triggers, 1, "{ds:?}");
    assert_eq!(ds.runs.len(), 1);
    assert_eq!(ds.triggers_while_running, 0);
    assert_eq!(tf.outputs()["status"]["value"], "success");
    assert!(
        apply.all().contains("had no import yet: triggered one"),
        "{apply:?}"
    );
}

fn single(name: &str) -> String {
    format!(
        r#"{}
data "woosmap_datasets" "all" {{
  depends_on = [woosmap_dataset.stores]
}}

output "id" {{ value = woosmap_dataset.stores.id }}
output "listed" {{ value = data.woosmap_datasets.all.datasets[*].id }}
"#,
        dataset(name, "name")
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn import_drift_and_deletion_behind_terraforms_back() {
    let (sb, tf, _) = applied(false, single("Stores")).await;
    let id = id_of(&tf);
    assert_eq!(tf.outputs()["listed"]["value"], serde_json::json!([id]));

    // Import by id. The API does not return schema_mapping: the first apply records the
    // configured one in place (no replacement, no API write), then the plan is empty.
    let id2 = id.clone();
    let tf = blocking(move || {
        tf.ok(&["state", "rm", "woosmap_dataset.stores"]);
        tf.ok(&["import", "-no-color", "woosmap_dataset.stores", &id2]);
        let apply = tf.apply();
        assert!(
            apply.stdout.contains("0 added, 1 changed, 0 destroyed"),
            "{apply:?}"
        );
        // After the import, an empty plan.
        tf.plan_exit(0);
        tf
    })
    .await;
    assert_eq!(id_of(&tf), id, "the imported dataset is kept");
    assert_eq!(sb.stats().datasets_created, 1);

    // Renamed outside Terraform: the plan shows the drift and puts the name back in place.
    let code = api(
        &sb,
        reqwest::Method::PUT,
        &format!("/datasets/{id}"),
        Some(r#"{"name": "Renamed elsewhere"}"#),
    )
    .await;
    assert_eq!(code, 200);
    let tf = blocking(move || {
        let plan = tf.plan_exit(2);
        assert!(
            plan.stdout.contains("\"Renamed elsewhere\" -> \"Stores\""),
            "{plan:?}"
        );
        assert!(plan.stdout.contains("updated in-place"), "{plan:?}");
        tf
    })
    .await;

    // Deleted outside Terraform: the next plan creates it again, with a warning.
    sb.configure_dataset(&id, DatasetConfig::missing()).unwrap();
    let tf = blocking(move || {
        let plan = tf.plan_exit(2);
        assert!(plan.stdout.contains("will be created"), "{plan:?}");
        assert!(
            plan.all().contains("no longer exists on Woosmap"),
            "{plan:?}"
        );
        tf.apply();
        tf
    })
    .await;
    assert_ne!(id_of(&tf), id);
    let stats = sb.stats();
    assert_eq!(stats.datasets_created, 2);
    assert_eq!(stats.dataset_api_rate_limited, 0);
}

/// How many datasets the parallel test creates and destroys at once. The Datasets API admits
/// one call per second per endpoint, so each apply and destroy takes about this many seconds;
/// ten concurrent creates, reads and deletes are enough to draw a 429 if pacing failed (the
/// larger runs are benchmarks: `scripts/bench.sh`).
const PARALLEL: usize = 10;

#[tokio::test(flavor = "multi_thread")]
async fn ten_datasets_at_parallelism_ten_without_a_429() {
    let sb = start(false).await;
    let tf = Terraform::new(&sb.base_url());
    tf.write(&format!(
        r#"
provider "woosmap" {{}}

resource "woosmap_dataset" "many" {{
  count = {PARALLEL}
  name  = "dataset ${{count.index}}"
  url   = "https://example.com/many/${{count.index}}.geojson"
}}

output "ids" {{ value = woosmap_dataset.many[*].id }}
"#
    ));
    let parallelism = format!("-parallelism={PARALLEL}");
    let flag = parallelism.clone();
    let tf = blocking(move || {
        let apply = tf.ok(&["apply", "-auto-approve", &flag, "-no-color"]);
        assert!(
            apply.stdout.contains(&format!("{PARALLEL} added")),
            "{apply:?}"
        );
        tf
    })
    .await;
    let ids = tf.outputs()["ids"]["value"].as_array().unwrap().len();
    assert_eq!(ids, PARALLEL);
    let stats = sb.stats();
    assert_eq!(stats.datasets_created, PARALLEL as u64);
    assert_eq!(
        stats.dataset_api_rate_limited, 0,
        "no 429 from our own calls"
    );
    assert_eq!(stats.rate_limited, 0);
    blocking(move || {
        tf.ok(&[
            "destroy",
            "-auto-approve",
            "-refresh=false",
            &parallelism,
            "-no-color",
        ]);
    })
    .await;
    let stats = sb.stats();
    assert_eq!(stats.deletions_scheduled, PARALLEL as u64);
    assert_eq!(
        stats.dataset_api_rate_limited, 0,
        "no 429 from our own calls"
    );
    eprintln!(
        "{PARALLEL} datasets: {} dataset-API calls, {} rate limited",
        stats.dataset_api_calls, stats.dataset_api_rate_limited
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn terraform_query_lists_datasets_and_generates_config_that_plans_clean() {
    let sb = start(false).await;
    let mut ids = Vec::new();
    for name in ["Stores", "Shops"] {
        let body = format!(r#"{{"name": "{name}", "url": "https://example.com/{name}.geojson"}}"#);
        let code = api(&sb, reqwest::Method::POST, "/datasets/", Some(&body)).await;
        assert_eq!(code, 200);
    }
    // A third one, scheduled for deletion: not listed.
    let body = r#"{"name": "Old", "url": "https://example.com/old.geojson"}"#;
    assert_eq!(
        api(&sb, reqwest::Method::POST, "/datasets/", Some(body)).await,
        200
    );
    let listed = reqwest::Client::new()
        .get(format!("{}/datasets/?per_page=20", sb.base_url()))
        .header("X-Api-Key", KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    for d in listed["datasets"].as_array().unwrap() {
        ids.push(d["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 3, "{listed}");
    let old = ids.pop().unwrap();
    assert_eq!(
        api(
            &sb,
            reqwest::Method::DELETE,
            &format!("/datasets/{old}"),
            None
        )
        .await,
        200
    );

    let tf = Terraform::new(&sb.base_url());
    tf.write("provider \"woosmap\" {}\n");
    std::fs::write(
        tf.dir.path().join("datasets.tfquery.hcl"),
        "list \"woosmap_dataset\" \"all\" {\n  provider = woosmap\n}\n",
    )
    .unwrap();
    let (ids, old) = (ids.clone(), old.clone());
    blocking(move || {
        let query = tf.ok(&["query", "-no-color"]);
        for id in &ids {
            assert!(
                query.stdout.contains(id.as_str()),
                "{id} not listed: {query:?}"
            );
        }
        assert!(
            query.stdout.contains("Stores") && query.stdout.contains("Shops"),
            "{query:?}"
        );
        assert!(
            !query.stdout.contains(&old),
            "a scheduled dataset is listed: {query:?}"
        );

        tf.ok(&["query", "-no-color", "-generate-config-out=generated.tf"]);
        let generated = tf.file("generated.tf");
        assert!(
            generated.contains("resource \"woosmap_dataset\""),
            "{generated}"
        );
        assert!(generated.contains("import {"), "{generated}");
        common::assert_no_secrets("generated.tf", &generated, &[]);
        let plan = tf.run(&["plan", "-no-color"]);
        assert_eq!(plan.code, 0, "{plan:?}");
        assert!(
            plan.stdout
                .contains("2 to import, 0 to add, 0 to change, 0 to destroy"),
            "the generated config must plan with no changes: {plan:?}"
        );
    })
    .await;
}
