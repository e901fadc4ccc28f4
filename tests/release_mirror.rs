//! The release packaging, end to end, for both providers: `scripts/package-provider.sh`
//! packages the provider binaries of this build (dev profile) as the release does — per
//! provider the zip, its SHA256SUMS and the registry manifest. Real `terraform init` installs
//! them from one Terraform filesystem mirror through a CLI config that sends `woosmap/*` and
//! `rocketchat/*` to the mirror and nothing to the network — the Woosmap zip unpacked
//! (`registry.terraform.io/woosmap/woosmap/VERSION/OS_ARCH/`), the Rocket.Chat zip as
//! downloaded (`registry.terraform.io/rocketchat/rocketchat/NAME_VERSION_OS_ARCH.zip`, the
//! packed layout README's install section shows) — and `terraform apply` then runs a
//! `woosmap_dataset_import` and a `rocketchat_user_import` against the sandboxes. This is how
//! a user installs a release without the registry.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{KEY, Ran, dataset, sandbox};
use woosmap_sandbox::rocketchat::{
    DEFAULT_AUTH_TOKEN, DEFAULT_USER_ID, RocketChatConfig, RocketChatSandbox,
};

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

/// Runs the packaging script for the provider `name` built at `binary` into `out`; returns
/// the zip it made.
///
/// The script is given the provider binary this `cargo test` built (`--binary`) rather than
/// building it (`PROFILE=dev`): a nested `cargo build` would not reuse the test build, whose
/// dev-dependencies turn on extra tokio features, and would compile tokio and everything on it
/// a second time — minutes on two cores. The release workflow packages the same way.
fn package(out: &Path, name: &str, binary: &str) -> PathBuf {
    let mut cmd = Command::new(root().join("scripts/package-provider.sh"));
    cmd.current_dir(root())
        .args(["--name", name, "--binary", binary])
        .args(["--platform", &common::platform(), "--out"])
        .arg(out);
    let r = ran(cmd);
    assert_eq!(r.code, 0, "package-provider.sh failed: {r:?}");
    PathBuf::from(r.stdout.trim().lines().last().expect("the zip path"))
}

/// Packages the provider `name` into `dist` and checks what the release publishes: the zip
/// holding only `NAME_vVERSION`, the manifest, and SHA256SUMS naming both, which verify.
/// Returns the zip and its platform.
async fn package_and_check(
    dist: &Path,
    name: &'static str,
    binary: &'static str,
) -> (PathBuf, String) {
    let v = version();
    let zip = {
        let dist = dist.to_path_buf();
        blocking(move || package(&dist, name, binary)).await
    };
    let file = zip.file_name().unwrap().to_string_lossy().into_owned();
    let prefix = format!("{name}_{v}_");
    let platform = file
        .strip_prefix(&prefix)
        .and_then(|s| s.strip_suffix(".zip"))
        .unwrap_or_else(|| panic!("unexpected zip name {file}"))
        .to_owned();
    let sums = std::fs::read_to_string(dist.join(format!("{prefix}SHA256SUMS"))).unwrap();
    assert!(sums.contains(&format!("  {file}\n")), "{sums}");
    assert_eq!(sums.lines().count(), 2, "one zip and the manifest: {sums}");
    assert!(
        sums.contains(&format!("  {prefix}manifest.json\n")),
        "{sums}"
    );
    let mut check = Command::new("sha256sum");
    check
        .current_dir(dist)
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
    assert_eq!(listing.stdout.trim(), format!("{name}_v{v}"), "{listing:?}");
    (zip, platform)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_packaged_release_installs_from_a_filesystem_mirror_and_applies() {
    let sb = sandbox().await;
    let rc = RocketChatSandbox::start(RocketChatConfig {
        import_duration: Duration::from_millis(300),
        ..RocketChatConfig::default()
    })
    .await
    .unwrap();
    let id = dataset();
    let work = tempfile::tempdir().unwrap();
    let dist = work.path().join("dist");
    let v = version();

    // Package both providers into one folder, as the release does.
    let (zip, platform) = package_and_check(
        &dist,
        "terraform-provider-woosmap",
        env!("CARGO_BIN_EXE_terraform-provider-woosmap"),
    )
    .await;
    let (rc_zip, rc_platform) = package_and_check(
        &dist,
        "terraform-provider-rocketchat",
        env!("CARGO_BIN_EXE_terraform-provider-rocketchat"),
    )
    .await;
    assert_eq!(platform, rc_platform);

    // The mirror: Woosmap unpacked, Rocket.Chat packed (the zip as downloaded).
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
    let packed = mirror.join("registry.terraform.io/rocketchat/rocketchat");
    std::fs::create_dir_all(&packed).unwrap();
    std::fs::copy(&rc_zip, packed.join(rc_zip.file_name().unwrap())).unwrap();

    let tf_dir = work.path().join("config");
    std::fs::create_dir_all(&tf_dir).unwrap();
    std::fs::write(
        work.path().join("cli.tfrc"),
        format!(
            r#"provider_installation {{
  filesystem_mirror {{
    path    = "{}"
    include = ["registry.terraform.io/woosmap/*", "registry.terraform.io/rocketchat/*"]
  }}
  direct {{
    exclude = ["registry.terraform.io/woosmap/*", "registry.terraform.io/rocketchat/*"]
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
    rocketchat = {{
      source  = "rocketchat/rocketchat"
      version = "{v}"
    }}
  }}
}}

provider "woosmap" {{}}

provider "rocketchat" {{}}

resource "rocketchat_user_import" "team" {{
  users_json = jsonencode([{{ username = "ann", emails = ["ann@example.com"], importIds = ["ann"] }}])
}}

output "users_state" {{
  value = rocketchat_user_import.team.state
}}

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
            .env_remove("TF_LOG");
        // The key, the sandbox and its windows; then this test's own pacer folders.
        common::sandbox_env(&mut cmd, &sb.base_url())
            .env("XDG_RUNTIME_DIR", work.path())
            .env("WOOSMAP_PACER_DIR", work.path().join("pacer"))
            .env("ROCKETCHAT_URL", rc.base_url())
            .env("ROCKETCHAT_USER_ID", DEFAULT_USER_ID)
            .env("ROCKETCHAT_AUTH_TOKEN", DEFAULT_AUTH_TOKEN);
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
    for p in ["woosmap", "rocketchat"] {
        assert!(
            init.stdout.contains(&format!("Installed {p}/{p} v{v}")),
            "{init:?}"
        );
        let installed = tf_dir
            .join(format!(
                ".terraform/providers/registry.terraform.io/{p}/{p}"
            ))
            .join(v)
            .join(&platform)
            .join(format!("terraform-provider-{p}_v{v}"));
        assert!(installed.exists(), "{} missing", installed.display());
    }
    let lock = std::fs::read_to_string(tf_dir.join(".terraform.lock.hcl")).unwrap();
    for p in ["woosmap", "rocketchat"] {
        assert!(
            lock.contains(&format!("provider \"registry.terraform.io/{p}/{p}\"")),
            "{lock}"
        );
    }
    assert!(lock.contains("h1:"), "{lock}");

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
    assert_eq!(outputs["users_state"]["value"], "done", "{outputs}");
    assert_eq!(rc.stats().operations, 1);
    assert_eq!(outputs["run_id"]["value"], ds.runs[0].as_str(), "{outputs}");
    assert_eq!(ds.triggers, 1);
    assert_eq!(stats.rate_limited, 0);
    assert!(!apply.all().contains(KEY), "the key leaked: {apply:?}");
    assert!(
        !apply.all().contains(DEFAULT_AUTH_TOKEN),
        "the token leaked: {apply:?}"
    );
}

/// The `run:` script of the step `name` in a workflow file (a `run: |` block).
fn workflow_step_script(workflow: &str, name: &str) -> String {
    let text = std::fs::read_to_string(root().join(workflow)).unwrap();
    let mut lines = text
        .lines()
        .skip_while(|l| l.trim() != format!("- name: {name}"))
        .skip(1)
        .skip_while(|l| l.trim() != "run: |");
    assert!(
        lines.next().is_some(),
        "{workflow}: no `run: |` in step {name}"
    );
    let body: Vec<&str> = lines
        .take_while(|l| l.is_empty() || l.starts_with("          "))
        .collect();
    body.iter()
        .map(|l| l.get(10..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The release workflow's `Package` step, run as written in `.github/workflows/release.yml`
/// (the build step's output stood in for by the binaries of this build, in the layout it
/// reads: `target/TARGET/release/`): it leaves in `dist/` both providers' zips, manifests and
/// SHA256SUMS, and both CLIs' archives and SHA256SUMS, every sum verifying.
#[test]
fn the_release_package_step_packages_both_providers_and_both_clis() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let target = "x86_64-unknown-linux-musl";
    let release = w.join("target").join(target).join("release");
    std::fs::create_dir_all(&release).unwrap();
    for (name, built) in [
        (
            "terraform-provider-woosmap",
            env!("CARGO_BIN_EXE_terraform-provider-woosmap"),
        ),
        (
            "terraform-provider-rocketchat",
            env!("CARGO_BIN_EXE_terraform-provider-rocketchat"),
        ),
        ("woosmap-import", env!("CARGO_BIN_EXE_woosmap-import")),
        ("rocketchat-import", env!("CARGO_BIN_EXE_rocketchat-import")),
    ] {
        std::os::unix::fs::symlink(built, release.join(name)).unwrap();
    }
    // What the packaging scripts read from the checkout.
    std::os::unix::fs::symlink(root().join("scripts"), w.join("scripts")).unwrap();
    for file in [
        "Cargo.toml",
        "terraform-registry-manifest.json",
        "providers/rocketchat/terraform-registry-manifest.json",
    ] {
        std::fs::create_dir_all(w.join(file).parent().unwrap()).unwrap();
        std::fs::copy(root().join(file), w.join(file)).unwrap();
    }

    let script = workflow_step_script(".github/workflows/release.yml", "Package");
    let mut cmd = Command::new("bash");
    cmd.args(["-euo", "pipefail", "-c", &script])
        .current_dir(w)
        .env("TARGET", target)
        .env("PLATFORM", "linux_amd64");
    let r = ran(cmd);
    assert_eq!(r.code, 0, "the Package step failed: {r:?}");

    let v = version();
    let dist = w.join("dist");
    let mut files: Vec<String> = std::fs::read_dir(&dist)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut want = Vec::new();
    for p in ["rocketchat", "woosmap"] {
        want.push(format!("terraform-provider-{p}_{v}_SHA256SUMS"));
        want.push(format!("terraform-provider-{p}_{v}_linux_amd64.zip"));
        want.push(format!("terraform-provider-{p}_{v}_manifest.json"));
    }
    for c in ["rocketchat-import", "woosmap-import"] {
        want.push(format!("{c}_{v}_SHA256SUMS"));
        want.push(format!("{c}_{v}_linux_amd64.tar.gz"));
    }
    want.sort();
    assert_eq!(files, want);
    for sums in files.iter().filter(|f| f.ends_with("_SHA256SUMS")) {
        let mut check = Command::new("sha256sum");
        check.current_dir(&dist).args(["--check", "--strict", sums]);
        let checked = ran(check);
        assert_eq!(checked.code, 0, "{sums}: {checked:?}");
    }
}
