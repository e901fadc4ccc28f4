//! Real Terraform (`scripts/terraform`) running `terraform-provider-rocketchat` through
//! `dev_overrides`, in a scratch directory, against a Rocket.Chat-mode sandbox; and
//! [`RcEnv`], the sandbox and scratch folder of the tests that run `rocketchat-import`, with
//! their users files, other people's operations, faults and exit checks.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use woosmap_sandbox::rocketchat::{
    DEFAULT_AUTH_TOKEN, DEFAULT_USER_ID, ForeignOperation, RcFault, RcFaultKind, RcStats,
    RocketChatConfig, RocketChatHandle, RocketChatSandbox,
};

/// A Terraform directory wired to the provider binary and one sandbox.
pub struct RcTerraform {
    pub dir: tempfile::TempDir,
    base_url: String,
}

/// One Terraform run: exit code, and stdout + stderr with the diagnostic boxes flattened to
/// single-spaced words (diagnostics wrap their lines).
#[derive(Debug)]
pub struct TfRun {
    pub code: i32,
    pub text: String,
}

impl RcTerraform {
    pub fn new(sb: &RocketChatHandle) -> RcTerraform {
        RcTerraform::at(&sb.base_url())
    }

    /// A directory whose provider block points at `base_url`.
    pub fn at(base_url: &str) -> RcTerraform {
        let dir = tempfile::tempdir().unwrap();
        super::terraform::write_dev_overrides(
            dir.path(),
            "registry.terraform.io/rocketchat/rocketchat",
            "terraform-provider-rocketchat",
        );
        RcTerraform {
            dir,
            base_url: base_url.to_owned(),
        }
    }

    /// `main.tf`: the provider block with `token`, then `body`.
    pub fn write(&self, token: &str, body: &str) {
        let main = format!(
            "terraform {{\n  required_providers {{\n    rocketchat = {{ source = \"rocketchat/rocketchat\" }}\n  }}\n}}\n\
             provider \"rocketchat\" {{\n  url = \"{}\"\n  user_id = \"{DEFAULT_USER_ID}\"\n  auth_token = \"{token}\"\n}}\n{body}",
            self.base_url
        );
        std::fs::write(self.dir.path().join("main.tf"), main).unwrap();
    }

    pub async fn run(&self, args: &[&str]) -> TfRun {
        let mut cmd = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/terraform"));
        super::pacer::private_pacer(&mut cmd)
            .args(args)
            .current_dir(self.dir.path())
            .env("TF_CLI_CONFIG_FILE", self.dir.path().join("cli.tfrc"))
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("XDG_RUNTIME_DIR", self.dir.path())
            .env_remove("ROCKETCHAT_AUTH_TOKEN")
            .stdin(Stdio::null());
        let out = tokio::task::spawn_blocking(move || cmd.output().expect("terraform runs"))
            .await
            .unwrap();
        let raw = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("$ terraform {}\n{raw}", args.join(" "));
        TfRun {
            code: out.status.code().unwrap_or(-1),
            text: super::terraform::flatten(&raw),
        }
    }

    /// `terraform output -json`, which must succeed.
    pub async fn outputs(&self) -> serde_json::Value {
        let ran = self.run(&["output", "-json", "-no-color"]).await;
        assert_eq!(ran.code, 0, "{ran:?}");
        let start = ran.text.find('{').unwrap();
        let end = ran.text.rfind('}').unwrap();
        serde_json::from_str(&ran.text[start..=end]).unwrap()
    }
}

/// A Rocket.Chat-mode sandbox and a scratch folder (users files, the pacer folder) for the
/// tests that run `rocketchat-import` itself; each test binary adds its own ways to run it.
pub struct RcEnv {
    pub sb: woosmap_sandbox::rocketchat::RocketChatHandle,
    pub dir: tempfile::TempDir,
}

impl RcEnv {
    pub async fn start(cfg: woosmap_sandbox::rocketchat::RocketChatConfig) -> RcEnv {
        RcEnv {
            sb: woosmap_sandbox::rocketchat::RocketChatSandbox::start(cfg)
                .await
                .expect("sandbox starts"),
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A sandbox with a short rate-limit window (10 calls per 2 s) and 300 ms imports.
    pub async fn fast() -> RcEnv {
        RcEnv::fast_with_imports(Duration::from_millis(300)).await
    }

    /// [`RcEnv::fast`] with imports lasting `import`.
    pub async fn fast_with_imports(import: Duration) -> RcEnv {
        RcEnv::start(RocketChatConfig {
            limit_calls: 10,
            limit_window: Duration::from_secs(2),
            import_duration: import,
            ..Default::default()
        })
        .await
    }

    /// A sandbox with no rate limit and imports lasting `import`.
    pub async fn unlimited_with_imports(import: Duration) -> RcEnv {
        RcEnv::start(RocketChatConfig {
            limit_calls: 0,
            import_duration: import,
            ..Default::default()
        })
        .await
    }
}

impl RcEnv {
    /// `rocketchat-import` with `args`, the sandbox's URL and credentials, no log level nor
    /// pacer folder of the user's and no terminal input; the caller names the pacer folder.
    pub fn import_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rocketchat-import"));
        cmd.args(args)
            .env("ROCKETCHAT_URL", self.sb.base_url())
            .env("ROCKETCHAT_USER_ID", DEFAULT_USER_ID)
            .env("ROCKETCHAT_AUTH_TOKEN", DEFAULT_AUTH_TOKEN)
            .env_remove("WOOSMAP_LOG")
            .env_remove("WOOSMAP_PACER_DIR")
            .stdin(Stdio::null());
        cmd
    }

    /// Writes `users` (a JSON array) to `name` in the scratch folder; returns its path.
    pub fn write_users(&self, name: &str, users: &Value) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, users.to_string()).unwrap();
        path.display().to_string()
    }

    /// Someone else's operation, now in `state` for `duration_ms`, staging `users` users,
    /// created by `by` (the sandbox's default other user when `None`); returns its id.
    pub fn foreign(&self, state: &str, duration_ms: u64, users: u32, by: Option<&str>) -> String {
        start_foreign(&self.sb, state, duration_ms, users, by)
    }

    /// Waits until the sandbox's counters satisfy `done`, for at most a minute; panics naming
    /// `what` past it.
    pub async fn until(&self, what: &str, done: impl Fn(&RcStats) -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !done(&self.sb.stats()) {
            assert!(
                std::time::Instant::now() < deadline,
                "waited too long for {what}: {:?}",
                self.sb.stats()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Asserts the sandbox's counters named in `expected` (`("aborts", 0)`, `("runs", 1)` …,
    /// the fields of [`RcStats`]).
    pub fn assert_stats(&self, expected: &[(&str, u64)]) {
        let stats = self.sb.stats();
        let counters = serde_json::to_value(&stats).unwrap();
        let actual: Vec<(&str, u64)> = expected
            .iter()
            .map(|(name, _)| {
                let value = counters[name].as_u64();
                (*name, value.unwrap_or_else(|| panic!("no counter {name}")))
            })
            .collect();
        assert_eq!(actual, expected, "{stats:?}");
    }

    /// The next `count` requests to `endpoint` (`import.new` …) meet `kind`.
    pub fn fault(&self, endpoint: &str, kind: RcFaultKind, count: u32) {
        self.sb.inject(RcFault {
            endpoint: endpoint.into(),
            kind,
            count,
        });
    }
}

/// A user record of the users file, imported under `name`.
pub fn user(name: &str) -> Value {
    json!({"username": name, "emails": [format!("{name}@example.com")], "importIds": [name]})
}

/// Asserts that the process exited with `code`, showing its stderr otherwise.
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts someone else's operation in `sb`, now in `state` for `duration_ms`, staging `users`
/// users, created by `by` (the sandbox's default other user when `None`); returns its id.
pub fn start_foreign(
    sb: &RocketChatHandle,
    state: &str,
    duration_ms: u64,
    users: u32,
    by: Option<&str>,
) -> String {
    sb.start_foreign(&ForeignOperation {
        state: state.into(),
        duration_ms: Some(duration_ms),
        users: Some(users),
        user: by.map(str::to_owned),
    })
    .unwrap()
}

/// A sandbox with the default call budget in a 2 s window and imports lasting `import`.
pub async fn sandbox_2s_window(import: Duration) -> RocketChatHandle {
    RocketChatSandbox::start(RocketChatConfig {
        limit_window: Duration::from_secs(2),
        import_duration: import,
        ..RocketChatConfig::default()
    })
    .await
    .expect("sandbox starts")
}

/// Asserts that a `--json` report's `message` holds `needle`.
pub fn assert_message(report: &Value, needle: &str) {
    let message = report["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "{needle:?} not in {report}");
}

/// Awaits `work`; returns its result and how long it took.
pub async fn timed<T>(work: impl std::future::Future<Output = T>) -> (T, Duration) {
    let started = std::time::Instant::now();
    let result = work.await;
    (result, started.elapsed())
}
