//! Ephemeral resource `woosmap_dataset_reimport_key` under real Terraform 1.15 against the
//! sandbox over loopback: `terraform providers schema -json` lists it; a `dataset_id` that is
//! not a UUID fails at validate, before any request; an apply whose
//! `woosmap_dataset_import.reimport_key` comes from it triggers through the reimport webhook
//! (the sandbox's request log shows which endpoint was hit), and the key is in no plan, state,
//! log or output, while the next plan is empty; the action's `reimport_key` takes it as well;
//! with a private key known only at apply, the plan reads nothing and the apply reads the key.

mod common;

use common::terraform::{Import, Terraform, action_config, blocking, case, flatten};
use common::{KEY, assert_no_secrets, assert_no_secrets_in_dir};
use woosmap_sandbox::{DatasetConfig, SandboxHandle};

/// The ephemeral resource `stores` on dataset `id`.
fn ephemeral(id: &str) -> String {
    format!(
        "\nephemeral \"woosmap_dataset_reimport_key\" \"stores\" {{\n  dataset_id = \"{id}\"\n}}\n"
    )
}

/// Where the configurations take the key from.
const FROM_EPHEMERAL: &str = "ephemeral.woosmap_dataset_reimport_key.stores.reimport_key";

/// The import `stores` on dataset `id`, its `reimport_key` from the ephemeral resource.
fn import(id: &str) -> Import {
    Import::new(id).attr("reimport_key", FROM_EPHEMERAL)
}

fn config(id: &str, version: &str) -> String {
    let import = import(id).version(version).fast_poll();
    format!(
        "{}{}",
        import.outputs(&["run_id", "status"]).hcl(),
        ephemeral(id)
    )
}

/// How many requests `method path` the sandbox has seen.
fn requests_to(sb: &SandboxHandle, method: &str, path: &str) -> usize {
    sb.requests()
        .iter()
        .filter(|r| r.method == method && r.path == path)
        .count()
}

/// A sandbox and a Terraform directory for dataset `id`, whose reimport key is [`RK`], with a
/// pacer folder of the test's own.
async fn rk_case() -> (SandboxHandle, String, Terraform, tempfile::TempDir) {
    let (sb, id, tf) = case(Some(DatasetConfig::default().reimport_key(RK))).await;
    (sb, id, tf, tempfile::tempdir().unwrap())
}

/// The reimport key of the test's dataset.
const RK: &str = "rk-ephemeral-5e1f-never-stored";

/// Runs `args` with a pacer folder of the test's own and Terraform's trace log on. The output
/// (printed by the assertions that follow) is first checked for the keys.
fn run(tf: &Terraform, pacer: &std::path::Path, args: &[&str]) -> common::Ran {
    let mut cmd = tf.command(args);
    cmd.env("WOOSMAP_PACER_DIR", pacer).env("TF_LOG", "trace");
    let ran: common::Ran = cmd.output().expect("terraform runs").into();
    assert_no_secrets(&format!("terraform {args:?} output"), &ran.all(), &[RK]);
    ran
}

#[tokio::test(flavor = "multi_thread")]
async fn the_schema_lists_it_and_a_bad_dataset_id_fails_at_validate() {
    let (sb, _, tf) = case(None).await;
    let pacer = tempfile::tempdir().unwrap();
    tf.write(&format!(
        "provider \"woosmap\" {{}}\n{}",
        ephemeral("stores")
    ));
    let (tf, schema, validate) = blocking(move || {
        let schema = run(&tf, pacer.path(), &["providers", "schema", "-json"]);
        let validate = run(&tf, pacer.path(), &["validate", "-no-color"]);
        (tf, schema, validate)
    })
    .await;
    assert_eq!(schema.code, 0, "{schema:?}");
    let v: serde_json::Value = serde_json::from_str(&schema.stdout).unwrap();
    let block = &v["provider_schemas"]["registry.terraform.io/woosmap/woosmap"]["ephemeral_resource_schemas"]
        ["woosmap_dataset_reimport_key"]["block"];
    assert_eq!(block["attributes"]["dataset_id"]["required"], true, "{v}");
    let key = &block["attributes"]["reimport_key"];
    assert_eq!(key["computed"], true, "{v}");
    assert_eq!(key["sensitive"], true, "{v}");

    assert_ne!(validate.code, 0, "{validate:?}");
    let err = flatten(&validate.stderr);
    assert!(err.contains("Invalid dataset_id"), "{validate:?}");
    assert!(
        err.contains("dataset_id = \"stores\""),
        "points at the attribute: {validate:?}"
    );
    assert!(sb.requests().is_empty(), "validate sent requests");
    drop(tf);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_apply_fed_by_it_triggers_through_the_webhook_and_stores_no_key() {
    let rk = RK;
    let (sb, id, tf, pacer) = rk_case().await;
    tf.write(&config(&id, "1"));
    let (tf, pacer, plan_json) = blocking(move || {
        let plan = run(&tf, pacer.path(), &["plan", "-no-color", "-out=tfplan"]);
        assert_eq!(plan.code, 0, "{plan:?}");
        let show = run(&tf, pacer.path(), &["show", "-json", "tfplan"]);
        assert_eq!(show.code, 0, "{show:?}");
        let apply = run(&tf, pacer.path(), &["apply", "-no-color", "tfplan"]);
        assert_eq!(apply.code, 0, "{apply:?}");
        (tf, pacer, show.stdout)
    })
    .await;

    // Triggered through the webhook with the key read from the dataset, not with the private
    // key; the key was read at plan and again at apply.
    let hit = |method: &str, path: &str| requests_to(&sb, method, path);
    assert_eq!(
        hit("POST", &format!("/datasets/hooks/reimport/{rk}")),
        1,
        "one trigger through the reimport webhook"
    );
    assert_eq!(hit("POST", &format!("/datasets/{id}/import")), 0);
    assert_eq!(
        hit("GET", &format!("/datasets/{id}")),
        2,
        "read at plan and apply"
    );
    let runs = sb.stats().dataset(&id).unwrap().runs.clone();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let out = tf.outputs();
    assert_eq!(out["run_id"]["value"], runs[0].as_str(), "{out}");
    assert_eq!(out["status"]["value"], "success", "{out}");

    // The plan JSON shows the resource, not the key; no file of the directory (state, its
    // backup, the plan file, Terraform's trace log) holds the key or the private key.
    assert!(plan_json.contains("woosmap_dataset_import.stores"));
    assert_no_secrets("the plan JSON", &plan_json, &[rk]);
    let state = tf.file("terraform.tfstate");
    assert!(state.contains("woosmap_dataset_import"), "{state}");
    assert!(
        !state.contains("\"mode\": \"ephemeral\""),
        "an ephemeral resource in the state"
    );
    let log = tf.file("terraform.log");
    assert!(
        log.contains("tf_rpc=OpenEphemeralResource"),
        "the provider's open is not in Terraform's log"
    );
    let scanned = assert_no_secrets_in_dir(tf.dir.path(), &[rk, KEY]);
    assert!(scanned >= 4, "only {scanned} files scanned");

    // Converged: re-reading the same key plans nothing; a new trigger value imports again,
    // through the webhook again.
    let tf = blocking(move || {
        let plan = run(
            &tf,
            pacer.path(),
            &["plan", "-detailed-exitcode", "-no-color"],
        );
        assert_eq!(plan.code, 0, "changes after apply: {plan:?}");
        tf.write(&config(&id, "2"));
        let apply = run(&tf, pacer.path(), &["apply", "-auto-approve", "-no-color"]);
        assert_eq!(apply.code, 0, "{apply:?}");
        tf
    })
    .await;
    let webhook = requests_to(&sb, "POST", &format!("/datasets/hooks/reimport/{rk}"));
    assert_eq!(webhook, 2, "the second import went through the webhook too");
    assert_no_secrets_in_dir(tf.dir.path(), &[rk]);
}

/// The `woosmap_dataset_import` action's write-only `reimport_key` takes the key from the
/// ephemeral resource too: `-invoke` triggers through the webhook.
#[tokio::test(flavor = "multi_thread")]
async fn the_action_takes_the_key_from_it_too() {
    let (sb, id, tf, pacer) = rk_case().await;
    let key = format!("    reimport_key  = {FROM_EPHEMERAL}");
    tf.write(&format!("{}{}", action_config(&id, &key), ephemeral(&id)));
    let tf = blocking(move || {
        let args = [
            "apply",
            "-auto-approve",
            "-no-color",
            "-invoke=action.woosmap_dataset_import.stores",
        ];
        let ran = run(&tf, pacer.path(), &args);
        assert_eq!(ran.code, 0, "{ran:?}");
        assert!(ran.stdout.contains("ended: success"), "{ran:?}");
        tf
    })
    .await;
    let requests = sb.requests();
    let webhook = format!("/datasets/hooks/reimport/{RK}");
    let posts: Vec<bool> = requests
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.path == webhook)
        .collect();
    assert_eq!(posts, [true], "one trigger, through the reimport webhook");
    assert_no_secrets_in_dir(tf.dir.path(), &[RK]);
}

/// A private key known only at apply (it comes from another resource): the plan leaves the
/// reimport key unknown without reading it, and the apply reads it and triggers through the
/// webhook.
#[tokio::test(flavor = "multi_thread")]
async fn a_private_key_known_only_at_apply_defers_the_read_to_the_apply() {
    let (sb, id, tf, pacer) = rk_case().await;
    // The provider's key comes from a resource, known only once it is applied.
    let import = import(&id).provider("  private_key = terraform_data.key.output");
    let config = import.fast_poll().hcl();
    tf.write(&format!(
        "resource \"terraform_data\" \"key\" {{\n  input = sensitive(\"{KEY}\")\n}}\n{config}{}",
        ephemeral(&id)
    ));
    let (tf, pacer) = blocking(move || {
        let plan = run(&tf, pacer.path(), &["plan", "-no-color", "-out=tfplan"]);
        assert_eq!(plan.code, 0, "{plan:?}");
        (tf, pacer)
    })
    .await;
    assert!(sb.requests().is_empty(), "the plan sent requests");
    let tf = blocking(move || {
        let apply = run(&tf, pacer.path(), &["apply", "-no-color", "tfplan"]);
        assert_eq!(apply.code, 0, "{apply:?}");
        tf
    })
    .await;
    let count = |method: &str, path: &str| requests_to(&sb, method, path);
    assert_eq!(count("GET", &format!("/datasets/{id}")), 1, "read at apply");
    assert_eq!(count("POST", &format!("/datasets/hooks/reimport/{RK}")), 1);
    assert_eq!(count("POST", &format!("/datasets/{id}/import")), 0);
    // The state holds the private key by this configuration's choice (terraform_data), never
    // the reimport key.
    let state = tf.file("terraform.tfstate");
    assert!(state.contains("woosmap_dataset_import"), "{state}");
    assert!(!state.contains(RK), "the reimport key is in the state");
}
