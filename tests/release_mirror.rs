//! The release packaging, end to end: `scripts/package-provider.sh` packages the provider
//! binary of this build (dev profile) as the release does — the zip, its SHA256SUMS and the
//! registry manifest; the zip, unpacked into a Terraform
//! filesystem mirror (`registry.terraform.io/woosmap/woosmap/VERSION/OS_ARCH/`), is what real
//! `terraform init` installs through a CLI config that sends `woosmap/*` to the mirror and
//! nothing to the network, and `terraform apply` then runs a `woosmap_dataset_import` against
//! the sandbox. This is how a user installs a release without the registry.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{KEY, Ran, STATUS_WINDOW, TRIGGER_WINDOW, dataset, sandbox};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("join")
}

fn ran(mut cmd: Command) -> Ran {
    cmd.stdin(Stdio::null())
        .output()
        .expect("command runs")
        .into()
}

/// The platform of this build in Terraform's words (`linux_amd64`).
fn platform() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("{os}_{arch}")
}

/// Runs the packaging script into `out`; returns the zip it made.
///
/// The script is given the provider binary this `cargo test` built (`--binary`) rather than
/// building it (`PROFILE=dev`): a nested `cargo build` would not reuse the test build, whose
/// dev-dependencies turn on extra tokio features, and would compile tokio and everything on it
/// a second time — minutes on two cores. The release workflow packages the same way.
fn package(out: &Path) -> PathBuf {
    let mut cmd = Command::new(root().join("scripts/package-provider.sh"));
    cmd.current_dir(root())
        .arg("--binary")
        .arg(env!("CARGO_BIN_EXE_terraform-provider-woosmap"))
        .args(["--platform", &platform(), "--out"])
        .arg(out);
    let r = ran(cmd);
    assert_eq!(r.code, 0, "package-provider.sh failed: {r:?}");
    PathBuf::from(r.stdout.trim().lines().last().expect("the zip path"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_packaged_release_installs_from_a_filesystem_mirror_and_applies() {
    let sb = sandbox().await;
    let id = dataset();
    let work = tempfile::tempdir().unwrap();
    let dist = work.path().join("dist");
    let v = version();

    // Package: the zip, the checksums (which verify) and the manifest.
    let zip = {
        let dist = dist.clone();
        blocking(move || package(&dist)).await
    };
    let name = zip.file_name().unwrap().to_string_lossy().into_owned();
    let prefix = format!("terraform-provider-woosmap_{v}_");
    let platform = name
        .strip_prefix(&prefix)
        .and_then(|s| s.strip_suffix(".zip"))
        .unwrap_or_else(|| panic!("unexpected zip name {name}"))
        .to_owned();
    let sums = std::fs::read_to_string(dist.join(format!("{prefix}SHA256SUMS"))).unwrap();
    assert!(sums.contains(&format!("  {name}\n")), "{sums}");
    assert!(
        sums.contains(&format!("  {prefix}manifest.json\n")),
        "{sums}"
    );
    let mut check = Command::new("sha256sum");
    check
        .current_dir(&dist)
        .args(["--check", "--strict"])
        .arg(format!("{prefix}SHA256SUMS"));
    let checked = ran(check);
    assert_eq!(checked.code, 0, "{checked:?}");
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dist.join(format!("{prefix}manifest.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(
        manifest,
        serde_json::json!({"version": 1, "metadata": {"protocol_versions": ["6.0"]}})
    );
    let listing = ran({
        let mut c = Command::new("unzip");
        c.arg("-Z1").arg(&zip);
        c
    });
    assert_eq!(
        listing.stdout.trim(),
        format!("terraform-provider-woosmap_v{v}"),
        "{listing:?}"
    );

    // The mirror, unpacked layout.
    let mirror = work.path().join("mirror");
    let target = mirror
        .join("registry.terraform.io/woosmap/woosmap")
        .join(v)
        .join(&platform);
    std::fs::create_dir_all(&target).unwrap();
    let unzipped = ran({
        let mut c = Command::new("unzip");
        c.arg("-q").arg(&zip).arg("-d").arg(&target);
        c
    });
    assert_eq!(unzipped.code, 0, "{unzipped:?}");

    let tf_dir = work.path().join("config");
    std::fs::create_dir_all(&tf_dir).unwrap();
    std::fs::write(
        work.path().join("cli.tfrc"),
        format!(
            r#"provider_installation {{
  filesystem_mirror {{
    path    = "{}"
    include = ["registry.terraform.io/woosmap/*"]
  }}
  direct {{
    exclude = ["registry.terraform.io/woosmap/*"]
  }}
}}
"#,
            mirror.display()
        ),
    )
    .unwrap();
    std::fs::write(
        tf_dir.join("main.tf"),
        format!(
            r#"terraform {{
  required_providers {{
    woosmap = {{
      source  = "woosmap/woosmap"
      version = "{v}"
    }}
  }}
}}

provider "woosmap" {{}}

resource "woosmap_dataset_import" "stores" {{
  dataset_id    = "{id}"
  poll_interval = "300ms"
}}

output "run_id" {{
  value = woosmap_dataset_import.stores.run_id
}}

output "status" {{
  value = woosmap_dataset_import.stores.status
}}
"#
        ),
    )
    .unwrap();

    let terraform = |args: &[&str]| {
        let mut cmd = Command::new(root().join("scripts/terraform"));
        cmd.args(args)
            .current_dir(&tf_dir)
            .env("TF_CLI_CONFIG_FILE", work.path().join("cli.tfrc"))
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("TF_LOG")
            .env("WOOSMAP_PRIVATE_KEY", KEY)
            .env("WOOSMAP_BASE_URL", sb.base_url())
            .env(
                "WOOSMAP_TRIGGER_INTERVAL",
                humantime::format_duration(TRIGGER_WINDOW).to_string(),
            )
            .env(
                "WOOSMAP_STATUS_INTERVAL",
                humantime::format_duration(STATUS_WINDOW).to_string(),
            );
        common::pacer::private_pacer(&mut cmd);
        cmd
    };

    let init = blocking({
        let cmd = terraform(&["init", "-input=false", "-no-color"]);
        move || ran(cmd)
    })
    .await;
    assert_eq!(init.code, 0, "terraform init failed: {init:?}");
    assert!(
        init.stdout
            .contains(&format!("Installing woosmap/woosmap v{v}")),
        "{init:?}"
    );
    assert!(
        init.stdout
            .contains(&format!("Installed woosmap/woosmap v{v}")),
        "{init:?}"
    );
    let installed = tf_dir
        .join(".terraform/providers/registry.terraform.io/woosmap/woosmap")
        .join(v)
        .join(&platform)
        .join(format!("terraform-provider-woosmap_v{v}"));
    assert!(installed.exists(), "{} missing", installed.display());
    let lock = std::fs::read_to_string(tf_dir.join(".terraform.lock.hcl")).unwrap();
    assert!(
        lock.contains("registry.terraform.io/woosmap/woosmap") && lock.contains("h1:"),
        "{lock}"
    );

    let apply = blocking({
        let cmd = terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
        move || ran(cmd)
    })
    .await;
    assert_eq!(apply.code, 0, "terraform apply failed: {apply:?}");
    let outputs = blocking({
        let cmd = terraform(&["output", "-json"]);
        move || ran(cmd)
    })
    .await;
    assert_eq!(outputs.code, 0, "{outputs:?}");
    let outputs: serde_json::Value = serde_json::from_str(&outputs.stdout).unwrap();
    let stats = sb.stats();
    let ds = stats.dataset(&id).expect("the apply reached the sandbox");
    assert_eq!(outputs["status"]["value"], "success", "{outputs}");
    assert_eq!(outputs["run_id"]["value"], ds.runs[0].as_str(), "{outputs}");
    assert_eq!(ds.triggers, 1);
    assert_eq!(stats.rate_limited, 0);
    assert!(!apply.all().contains(KEY), "the key leaked: {apply:?}");
}
