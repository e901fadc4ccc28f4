//! A complete provider on `tfplugin`, small enough to read in one sitting: provider
//! `example/echo` with a managed resource `echo_thing` (create, in-place update of `tags`,
//! replacement when `name` changes, import by id, a computed list of objects, a `timeouts`
//! block), a data source `echo_message` that echoes its `input`, and an action `echo_say`
//! that reports its `message` as progress `times` times (`terraform apply
//! -invoke=action.echo_say.NAME`), and an ephemeral resource `echo_token` (Terraform 1.10+)
//! that hands out a made-up secret `token` on a lease Terraform renews and closes. Nothing is
//! stored anywhere: the resource's state is what Terraform keeps, and the token is in none of
//! it.
//!
//! Build it with `cargo build -p tfplugin --example echo`, point a CLI configuration's
//! `dev_overrides` for `registry.terraform.io/example/echo` at a folder holding the binary as
//! `terraform-provider-echo`, and run `terraform plan` on a configuration that uses it.
//! `tests/terraform_example.rs` does exactly that with real Terraform.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use tfplugin::{
    ActionProgress, ApplyResourceChangeRequest, ApplyResourceChangeResponse, AttrPath, AttrType,
    Attribute, Block, CancellationToken, CloseEphemeralResourceRequest, ConfigureProviderRequest,
    Diagnostic, Diagnostics, ImportResourceStateRequest, ImportResourceStateResponse,
    ImportedResource, InvokeActionRequest, NestedBlock, Nesting, OpenEphemeralResourceRequest,
    OpenEphemeralResourceResponse, PlanActionRequest, PlanResourceChangeRequest,
    PlanResourceChangeResponse, Provider, ProviderSchema, ReadDataSourceRequest,
    ReadDataSourceResponse, ReadResourceRequest, ReadResourceResponse,
    RenewEphemeralResourceRequest, RenewEphemeralResourceResponse, Schema, ValidateRequest, Value,
};

/// Resource `echo_thing`, data source `echo_message`, action `echo_say`, ephemeral resource
/// `echo_token`.
pub struct EchoProvider;

/// Leases handed out by this process (Terraform starts a fresh provider process for each of
/// validate, plan and apply, so lease ids also carry the process id).
static LEASES: AtomicU64 = AtomicU64::new(0);

/// An `echo_token` lease, as carried in the ephemeral resource's private data:
/// `ID LIFETIME_MS`.
struct Lease {
    id: String,
    lifetime: Duration,
}

impl Lease {
    fn to_private(&self) -> Vec<u8> {
        format!("{} {}", self.id, self.lifetime.as_millis()).into_bytes()
    }

    fn from_private(private: &[u8]) -> Option<Lease> {
        let text = std::str::from_utf8(private).ok()?;
        let (id, ms) = text.rsplit_once(' ')?;
        Some(Lease {
            id: id.to_owned(),
            lifetime: Duration::from_millis(ms.parse().ok()?),
        })
    }

    /// When Terraform should renew it: when it expires, if it expires at all; a zero lifetime
    /// is renewed once, at once.
    fn renew_at(&self) -> SystemTime {
        SystemTime::now() + self.lifetime
    }
}

/// `echo_token`'s `lifetime`: a duration such as `30s` or `1h` (default `1h`).
fn lifetime(config: &Value) -> Result<Duration, Diagnostic> {
    let Some(text) = config.attr("lifetime").as_str() else {
        return Ok(Duration::from_secs(3600));
    };
    humantime::parse_duration(text).map_err(|e| {
        Diagnostic::error(
            "Invalid lifetime",
            format!("lifetime must be a duration such as \"30s\" or \"1h\"; got {text:?} ({e})."),
        )
        .at(AttrPath::attr("lifetime"))
    })
}

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
        let token = Block::new()
            .attribute(Attribute::new("name", AttrType::String).required())
            .attribute(Attribute::new("lifetime", AttrType::String).optional())
            .attribute(
                Attribute::new("token", AttrType::String)
                    .computed()
                    .sensitive(),
            );
        ProviderSchema {
            provider: Schema::new(
                Block::new().attribute(Attribute::new("greeting", AttrType::String).optional()),
            ),
            resources: [("echo_thing".to_owned(), Schema::new(thing).version(1))].into(),
            data_sources: [("echo_message".to_owned(), Schema::new(echo))].into(),
            actions: [("echo_say".to_owned(), Schema::new(say))].into(),
            ephemeral_resources: [("echo_token".to_owned(), Schema::new(token))].into(),
            ..Default::default()
        }
    }

    async fn validate_ephemeral_resource_config(&self, req: ValidateRequest) -> Diagnostics {
        match lifetime(&req.config) {
            Ok(_) => Diagnostics::new(),
            Err(d) => d.into(),
        }
    }

    async fn open_ephemeral_resource(
        &self,
        req: OpenEphemeralResourceRequest,
    ) -> OpenEphemeralResourceResponse {
        let mut resp = OpenEphemeralResourceResponse::default();
        let lifetime = match lifetime(&req.config) {
            Ok(l) => l,
            Err(d) => {
                resp.diagnostics.push(d);
                return resp;
            }
        };
        let name = req.config.attr("name").as_str().unwrap_or_default();
        let serial = LEASES.fetch_add(1, Ordering::Relaxed) + 1;
        let lease = Lease {
            id: format!("{name}-{}-{serial}", std::process::id()),
            lifetime,
        };
        tracing::info!("Opened echo_token lease {}", lease.id);
        let mut result = req.config.clone();
        result.set("token", Value::string(format!("tok-{}", lease.id)));
        resp.result = result;
        resp.renew_at = Some(lease.renew_at());
        resp.private = lease.to_private();
        resp
    }

    async fn renew_ephemeral_resource(
        &self,
        req: RenewEphemeralResourceRequest,
    ) -> RenewEphemeralResourceResponse {
        let mut resp = RenewEphemeralResourceResponse::default();
        let Some(lease) = Lease::from_private(&req.private) else {
            resp.diagnostics.error(
                "Unreadable lease",
                "Terraform sent private data that echo_token did not write.",
            );
            return resp;
        };
        tracing::info!("Renewed echo_token lease {}", lease.id);
        if !lease.lifetime.is_zero() {
            resp.renew_at = Some(lease.renew_at());
            resp.private = req.private;
        }
        resp
    }

    async fn close_ephemeral_resource(&self, req: CloseEphemeralResourceRequest) -> Diagnostics {
        match Lease::from_private(&req.private) {
            Some(lease) => {
                tracing::info!("Closed echo_token lease {}", lease.id);
                Diagnostics::new()
            }
            None => Diagnostic::error(
                "Unreadable lease",
                "Terraform sent private data that echo_token did not write.",
            )
            .into(),
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

    /// Nothing exists outside Terraform's state, so there is nothing to refresh.
    async fn read_resource(&self, req: ReadResourceRequest) -> ReadResourceResponse {
        ReadResourceResponse::unchanged(req)
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
