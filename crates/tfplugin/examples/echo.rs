//! A complete provider on `tfplugin`, small enough to read in one sitting: provider
//! `example/echo` with a managed resource `echo_thing` (create, in-place update of `tags`,
//! replacement when `name` changes, import by id, a computed list of objects, a `timeouts`
//! block), a data source `echo_message` that echoes its `input`, and an action `echo_say`
//! that reports its `message` as progress `times` times (`terraform apply
//! -invoke=action.echo_say.NAME`). Nothing is stored anywhere: the resource's state is what
//! Terraform keeps.
//!
//! Build it with `cargo build -p tfplugin --example echo`, point a CLI configuration's
//! `dev_overrides` for `registry.terraform.io/example/echo` at a folder holding the binary as
//! `terraform-provider-echo`, and run `terraform plan` on a configuration that uses it.
//! `tests/terraform_example.rs` does exactly that with real Terraform.

use tfplugin::{
    ActionProgress, ApplyResourceChangeRequest, ApplyResourceChangeResponse, AttrPath, AttrType,
    Attribute, Block, CancellationToken, ConfigureProviderRequest, Diagnostic, Diagnostics,
    ImportResourceStateRequest, ImportResourceStateResponse, ImportedResource, InvokeActionRequest,
    NestedBlock, Nesting, PlanActionRequest, PlanResourceChangeRequest, PlanResourceChangeResponse,
    Provider, ProviderSchema, ReadDataSourceRequest, ReadDataSourceResponse, ReadResourceRequest,
    ReadResourceResponse, Schema, ValidateRequest, Value,
};

/// Resource `echo_thing` and data source `echo_message`.
pub struct EchoProvider;

fn steps() -> Value {
    Value::list([Value::object([
        ("name", Value::from("fetch")),
        ("ok", Value::from(true)),
    ])])
}

impl Provider for EchoProvider {
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
        let say = Block::new()
            .attribute(Attribute::new("message", AttrType::String).required())
            .attribute(Attribute::new("times", AttrType::Number).optional());
        let echo = Block::new()
            .attribute(Attribute::new("input", AttrType::String).required())
            .attribute(Attribute::new("output", AttrType::String).computed());
        ProviderSchema {
            provider: Schema::new(
                Block::new().attribute(Attribute::new("greeting", AttrType::String).optional()),
            ),
            resources: [("echo_thing".to_owned(), Schema::new(thing).version(1))].into(),
            data_sources: [("echo_message".to_owned(), Schema::new(echo))].into(),
            actions: [("echo_say".to_owned(), Schema::new(say))].into(),
            ..Default::default()
        }
    }

    async fn plan_action(&self, req: PlanActionRequest) -> Diagnostics {
        let mut d = Diagnostics::new();
        if let Some(times) = req.config.attr("times").as_i64()
            && !(1..=10).contains(&times)
        {
            d.error_at(
                AttrPath::attr("times"),
                "Invalid times",
                format!("times must be between 1 and 10; got {times}."),
            );
        }
        d
    }

    async fn invoke_action(
        &self,
        req: InvokeActionRequest,
        progress: ActionProgress,
        cancel: CancellationToken,
    ) -> Diagnostics {
        let message = req.config.attr("message").as_str().unwrap_or_default();
        let times = req.config.attr("times").as_i64().unwrap_or(2);
        for i in 1..=times {
            if cancel.is_cancelled() {
                return Diagnostic::error("Interrupted", "echo_say was cancelled.").into();
            }
            progress.send(format!("say {i}/{times}: {message}"));
        }
        if message == "fail" {
            return Diagnostic::error("Echo failed", "echo_say was asked to fail.").into();
        }
        Diagnostics::new()
    }

    async fn validate_provider_config(&self, req: ValidateRequest) -> Diagnostics {
        let mut d = Diagnostics::new();
        if req.config.attr("greeting").as_str() == Some("bad") {
            d.error_at(
                AttrPath::attr("greeting"),
                "Greeting not allowed",
                "The example provider refuses the greeting \"bad\".",
            );
        }
        d
    }

    async fn configure_provider(&self, req: ConfigureProviderRequest) -> Diagnostics {
        tracing::info!(terraform_version = %req.terraform_version, "Configured the echo provider");
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
            ..Default::default()
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
                ..Default::default()
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
        // Shows how a provider bug reaches the user: Terraform reports a plugin crash with the
        // `panic:` line.
        assert_ne!(input, "panic", "echo provider asked to panic");
        let mut state = req.config;
        state.set("output", Value::string(format!("echo:{input}")));
        ReadDataSourceResponse {
            state,
            diagnostics: Diagnostics::new(),
        }
    }
}

/// Run by Terraform, this serves the provider; run by hand, it explains itself and exits 1.
#[allow(dead_code)]
fn main() -> std::process::ExitCode {
    tfplugin::serve(EchoProvider)
}
