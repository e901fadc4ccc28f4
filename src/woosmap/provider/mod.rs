//! Provider `woosmap`: its configuration (private key, base URL, with environment fallbacks)
//! and the dispatch of Terraform operations to resource `woosmap_dataset_import`
//! (resource.rs), data source `woosmap_dataset_status` (data_source.rs), action
//! `woosmap_dataset_import` (import_action.rs), resource `woosmap_dataset` (dataset.rs),
//! data sources `woosmap_dataset` / `woosmap_datasets` (datasets_data.rs) and ephemeral
//! resource `woosmap_dataset_reimport_key` (reimport_key.rs). Everything here speaks engine
//! and `tfplugin` values; protobuf stays in `tfplugin`.

pub(crate) mod convert;
mod data_source;
mod dataset;
mod datasets_data;
mod import_action;
mod reimport_key;
mod resource;
pub mod schema;

use std::sync::{Arc, RwLock};

use tokio_util::sync::CancellationToken;

use crate::woosmap::api::{Client, ClientConfig, RateLimits, Secret};
use tfplugin::{
    self, ActionProgress, AttrPath, ConfigureProviderRequest, Diagnostic, Diagnostics,
    InvokeActionRequest, PlanActionRequest, ProviderSchema, ValidateRequest, Value,
};

/// The provider's source address, as Terraform names it (debug mode's reattach line).
pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/woosmap/woosmap";

/// Default API root.
pub const DEFAULT_BASE_URL: &str = "https://api.woosmap.com";

/// What `ConfigureProvider` settled.
#[derive(Clone)]
pub(crate) struct Configured {
    pub client: Client,
    /// A private key is configured, or will be once its value is known (apply).
    pub has_private_key: bool,
    /// The private key is known now: reads can be sent. False while the provider block's
    /// `private_key` is unknown (plan), when reads are skipped.
    pub key_known: bool,
}

#[cfg(test)]
impl Configured {
    /// A configuration for unit tests against the sandbox at `base_url`: the test private key
    /// (known now when `key_known`, else still unknown), the sandbox's short windows.
    pub(crate) fn for_tests(base_url: &str, key_known: bool) -> Self {
        use crate::woosmap::api::test_support::{PRIVATE_KEY, test_client};
        let key = key_known.then_some(PRIVATE_KEY);
        Configured {
            client: test_client(base_url.to_owned(), key, std::time::Duration::from_secs(60)),
            has_private_key: true,
            key_known,
        }
    }
}

/// The `woosmap` provider.
#[derive(Default)]
pub struct WoosmapProvider {
    configured: RwLock<Option<Configured>>,
    /// Cancelled by `StopProvider` (Ctrl-C in Terraform): every wait in flight ends.
    stop: Arc<RwLock<CancellationToken>>,
}

impl WoosmapProvider {
    pub fn new() -> WoosmapProvider {
        WoosmapProvider::default()
    }

    fn configured(&self) -> Result<Configured, Diagnostic> {
        self.configured
            .read()
            .expect("config lock")
            .clone()
            .ok_or_else(|| {
                Diagnostic::error(
                    "Provider not configured",
                    "Terraform called the woosmap provider before configuring it.",
                )
            })
    }

    fn has_private_key(&self) -> bool {
        self.configured
            .read()
            .expect("config lock")
            .as_ref()
            .is_some_and(|c| c.has_private_key)
    }

    fn stop_token(&self) -> CancellationToken {
        self.stop.read().expect("stop lock").clone()
    }
}

/// The diagnostic of a read that `StopProvider` ended.
fn stopped(what: &str) -> Diagnostic {
    Diagnostic::error(
        "Stopped",
        format!("Terraform asked the provider to stop while {what}; nothing was changed."),
    )
}

/// A non-empty environment variable.
fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Checks a base URL the way the client will use it; the error names the provider's settings.
fn check_base_url(url: &str) -> Result<String, String> {
    crate::woosmap::api::check_base_url(url)
        .map_err(|e| crate::woosmap::knobs::Knobs::TERRAFORM.word(&e.to_string()))
}

impl tfplugin::Provider for WoosmapProvider {
    fn run_by_hand_message(&self) -> String {
        format!(
            "{} The provider's address is woosmap/woosmap. To debug it, run it with -debug and \
             set TF_REATTACH_PROVIDERS as it prints. For the command-line tool, use \
             woosmap-import.",
            tfplugin::handshake::NOT_A_PLUGIN_MESSAGE
        )
    }

    fn get_schema(&self) -> ProviderSchema {
        schema::all()
    }

    async fn validate_provider_config(&self, req: ValidateRequest) -> Diagnostics {
        let mut diags = Diagnostics::new();
        if let Some(url) = req.config.attr("base_url").as_str()
            && let Err(e) = check_base_url(url)
        {
            diags.push(Diagnostic::error("Invalid base_url", e).at(AttrPath::attr("base_url")));
        }
        if convert::is_blank(&req.config, "private_key") {
            let why = "private_key is empty: set it to a Woosmap private key with write permission, or leave it out to use WOOSMAP_PRIVATE_KEY.";
            diags.push(
                Diagnostic::error("Empty private_key", why).at(AttrPath::attr("private_key")),
            );
        }
        diags
    }

    async fn configure_provider(&self, req: ConfigureProviderRequest) -> Diagnostics {
        let mut diags = Diagnostics::new();
        // The WOOSMAP_* variables, checked as the CLI checks them: a value that is not UTF-8
        // (or not valid) is an error naming it, never read as unset.
        if let Err(e) = crate::woosmap::settings::check() {
            diags.error("Invalid environment variable", format!("{e}."));
            return diags;
        }
        let key = match req.config.attr("private_key") {
            Value::String(k) if !k.trim().is_empty() => Some(k.trim().to_owned()),
            // Unknown until apply: assume it will be there; apply configures again.
            Value::Unknown => Some(String::new()),
            _ => env("WOOSMAP_PRIVATE_KEY"),
        };
        let base_url = req
            .config
            .attr("base_url")
            .as_str()
            .map(str::to_owned)
            .or_else(|| env("WOOSMAP_BASE_URL"))
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let base_url = match check_base_url(&base_url).and_then(|u| {
            crate::woosmap::api::check_transport(
                &u,
                crate::woosmap::api::allow_insecure_http_from_env(),
            )
            .map_err(|e| crate::woosmap::knobs::Knobs::TERRAFORM.word(&e.to_string()))
            .map(|()| u)
        }) {
            Ok(u) => u,
            Err(e) => {
                diags.push(Diagnostic::error("Invalid base_url", e).at(AttrPath::attr("base_url")));
                return diags;
            }
        };
        let has_private_key = key.is_some();
        let key_known = key.as_ref().is_some_and(|k| !k.is_empty());
        let client = Client::new(ClientConfig {
            base_url,
            private_key: key.filter(|k| !k.is_empty()).map(Secret::new),
            limits: RateLimits::from_env(),
            request_timeout: crate::woosmap::api::request_timeout_from_env(),
        });
        match client {
            Ok(client) => {
                *self.configured.write().expect("config lock") = Some(Configured {
                    client,
                    has_private_key,
                    key_known,
                });
            }
            Err(e) => diags.error("Cannot configure the woosmap provider", e.to_string()),
        }
        diags
    }

    async fn validate_resource_config(&self, req: ValidateRequest) -> Diagnostics {
        if req.type_name == dataset::DATASET_RESOURCE {
            return dataset::validate(&req.config);
        }
        resource::validate(&req.config, Some(req.client_capabilities))
    }

    async fn validate_data_resource_config(&self, req: ValidateRequest) -> Diagnostics {
        if req.type_name != schema::STATUS_DATA_SOURCE {
            return datasets_data::validate(&req.type_name, &req.config);
        }
        let mut diags = Diagnostics::new();
        if let Err(d) = convert::dataset_id(&req.config) {
            diags.push(d);
        }
        diags
    }

    async fn upgrade_resource_state(
        &self,
        req: tfplugin::UpgradeResourceStateRequest,
    ) -> tfplugin::UpgradeResourceStateResponse {
        if req.type_name == dataset::DATASET_RESOURCE {
            return tfplugin::default_upgrade(&req);
        }
        resource::upgrade(&req)
    }

    async fn read_resource(
        &self,
        req: tfplugin::ReadResourceRequest,
    ) -> tfplugin::ReadResourceResponse {
        let mut resp = match self.configured() {
            Ok(c) if req.type_name == dataset::DATASET_RESOURCE => {
                let mut resp = dataset::read(&c, req).await;
                resp.new_identity = resp.new_state.as_ref().and_then(dataset::identity_of);
                return resp;
            }
            Ok(c) => {
                let (state, private) = (req.current_state.clone(), req.private.clone());
                let stop = self.stop_token();
                tokio::select! {
                    resp = resource::read(&c, req) => resp,
                    () = stop.cancelled() => tfplugin::ReadResourceResponse {
                        new_state: Some(state),
                        private,
                        diagnostics: stopped("refreshing the import run").into(),
                        ..Default::default()
                    },
                }
            }
            Err(d) => tfplugin::ReadResourceResponse {
                diagnostics: d.into(),
                ..tfplugin::ReadResourceResponse::unchanged(req)
            },
        };
        resp.new_identity = resp.new_state.as_ref().and_then(resource::identity_of);
        resp
    }

    async fn plan_resource_change(
        &self,
        req: tfplugin::PlanResourceChangeRequest,
    ) -> tfplugin::PlanResourceChangeResponse {
        if req.type_name == dataset::DATASET_RESOURCE {
            return dataset::plan(self.has_private_key(), req);
        }
        resource::plan(self.has_private_key(), req)
    }

    async fn apply_resource_change(
        &self,
        req: tfplugin::ApplyResourceChangeRequest,
    ) -> tfplugin::ApplyResourceChangeResponse {
        if req.type_name == dataset::DATASET_RESOURCE {
            return match self.configured() {
                Ok(c) => {
                    let mut resp = dataset::apply(&c, req, self.stop_token()).await;
                    resp.new_identity = dataset::identity_of(&resp.new_state);
                    resp
                }
                Err(d) => tfplugin::ApplyResourceChangeResponse {
                    new_state: req.prior_state,
                    diagnostics: d.into(),
                    ..Default::default()
                },
            };
        }
        if req.planned_state.is_null() {
            // Destroy: the API has no "un-import"; forgetting is all there is to do.
            return tfplugin::ApplyResourceChangeResponse::default();
        }
        let mut resp = match self.configured() {
            Ok(c) => resource::apply(&c, req, self.stop_token()).await,
            Err(d) => tfplugin::ApplyResourceChangeResponse {
                new_state: req.prior_state,
                diagnostics: d.into(),
                ..Default::default()
            },
        };
        resp.new_identity = resource::identity_of(&resp.new_state);
        pacing_warnings(&mut resp.diagnostics);
        resp
    }

    async fn import_resource_state(
        &self,
        req: tfplugin::ImportResourceStateRequest,
    ) -> tfplugin::ImportResourceStateResponse {
        if req.type_name == dataset::DATASET_RESOURCE {
            return dataset::import(req);
        }
        resource::import(req)
    }

    async fn list_resource(
        &self,
        req: tfplugin::ListResourceRequest,
    ) -> tfplugin::ListResourceResponse {
        match self.configured() {
            Ok(c) if req.type_name == dataset::DATASET_RESOURCE => dataset::list(&c, req).await,
            Ok(_) => tfplugin::ListResourceResponse {
                diagnostics: Diagnostic::error(
                    "Unsupported list resource type",
                    format!("This provider does not list {:?}.", req.type_name),
                )
                .into(),
                ..Default::default()
            },
            Err(d) => tfplugin::ListResourceResponse {
                diagnostics: d.into(),
                ..Default::default()
            },
        }
    }

    async fn read_data_source(
        &self,
        req: tfplugin::ReadDataSourceRequest,
    ) -> tfplugin::ReadDataSourceResponse {
        match self.configured() {
            Ok(c) if req.type_name == datasets_data::DATASET_DATA_SOURCE => {
                datasets_data::read_dataset(&c, req).await
            }
            Ok(c) if req.type_name == datasets_data::DATASETS_DATA_SOURCE => {
                datasets_data::read_datasets(&c, req).await
            }
            Ok(c) => {
                let config = req.config.clone();
                let stop = self.stop_token();
                tokio::select! {
                    resp = data_source::read(&c, req) => resp,
                    () = stop.cancelled() => tfplugin::ReadDataSourceResponse {
                        state: config,
                        diagnostics: stopped("reading the dataset status").into(),
                    },
                }
            }
            Err(d) => tfplugin::ReadDataSourceResponse {
                state: req.config,
                diagnostics: d.into(),
            },
        }
    }

    async fn validate_action_config(&self, req: ValidateRequest) -> Diagnostics {
        import_action::validate(&req.config)
    }

    async fn plan_action(&self, req: PlanActionRequest) -> Diagnostics {
        import_action::plan(self.has_private_key(), &req.config)
    }

    async fn invoke_action(
        &self,
        req: InvokeActionRequest,
        progress: ActionProgress,
        cancel: CancellationToken,
    ) -> Diagnostics {
        // `cancel` is cancelled by tfplugin on StopProvider and when Terraform goes away.
        let mut diagnostics = match self.configured() {
            Ok(c) => import_action::invoke(&c, &req.config, progress, cancel).await,
            Err(d) => d.into(),
        };
        pacing_warnings(&mut diagnostics);
        diagnostics
    }

    async fn validate_ephemeral_resource_config(&self, req: ValidateRequest) -> Diagnostics {
        reimport_key::validate(&req.config)
    }

    async fn open_ephemeral_resource(
        &self,
        req: tfplugin::OpenEphemeralResourceRequest,
    ) -> tfplugin::OpenEphemeralResourceResponse {
        let c = match self.configured() {
            Ok(c) => c,
            Err(d) => {
                return tfplugin::OpenEphemeralResourceResponse {
                    diagnostics: d.into(),
                    ..Default::default()
                };
            }
        };
        let stop = self.stop_token();
        tokio::select! {
            resp = reimport_key::open(&c, req) => resp,
            () = stop.cancelled() => tfplugin::OpenEphemeralResourceResponse {
                diagnostics: stopped("reading the dataset's reimport key").into(),
                ..Default::default()
            },
        }
    }

    async fn stop_provider(&self) -> Result<(), String> {
        let mut token = self.stop.write().expect("stop lock");
        token.cancel();
        // Operations that start after the stop get a fresh token.
        *token = CancellationToken::new();
        Ok(())
    }
}

/// The shared pacer's warnings (a folder not used, a lock busy, a record not written) as
/// warning diagnostics, each once per provider process: they are also in the provider's log,
/// which Terraform hides unless `TF_LOG` is set.
fn pacing_warnings(diagnostics: &mut tfplugin::Diagnostics) {
    for warning in pacer::take_warnings() {
        diagnostics.push(tfplugin::Diagnostic::warning(
            "Rate-limit pacing is not shared with other processes",
            warning,
        ));
    }
}

#[cfg(test)]
mod stop_tests {
    use std::time::Duration;

    use tfplugin::Provider as _;
    use woosmap_sandbox::{Fault, FaultEndpoint, FaultKind};

    use super::*;
    use crate::woosmap::api::test_support::{imported_dataset, start_for_provider};

    /// `StopProvider` ends a `ReadDataSource` / `ReadResource` whose status read is held by a
    /// slow server, at once and with a diagnostic.
    #[tokio::test]
    async fn stop_provider_cancels_reads_in_progress() {
        let sb = start_for_provider().await;
        let id = imported_dataset(&sb).to_string();
        let provider = Arc::new(WoosmapProvider::new());
        *provider.configured.write().unwrap() = Some(Configured::for_tests(&sb.base_url(), true));
        let config = Value::object([("dataset_id", Value::string(&id))]);
        for which in ["data source", "resource"] {
            sb.inject(
                Fault::new(FaultKind::Slow)
                    .on(FaultEndpoint::Status)
                    .delay(Duration::from_secs(30)),
            );
            let p = provider.clone();
            let config = config.clone();
            let read = tokio::spawn(async move {
                let started = tokio::time::Instant::now();
                let diags = if which == "data source" {
                    p.read_data_source(tfplugin::ReadDataSourceRequest {
                        type_name: "woosmap_dataset_status".into(),
                        config,
                    })
                    .await
                    .diagnostics
                } else {
                    p.read_resource(tfplugin::ReadResourceRequest {
                        type_name: "woosmap_dataset_import".into(),
                        current_state: config,
                        private: Vec::new(),
                        client_capabilities: Default::default(),
                        current_identity: Value::Null,
                    })
                    .await
                    .diagnostics
                };
                (started.elapsed(), diags)
            });
            // Let the read reach the held status request.
            while sb.requests().len() < if which == "data source" { 1 } else { 2 } {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            provider.stop_provider().await.unwrap();
            let (took, diags) = tokio::time::timeout(Duration::from_secs(10), read)
                .await
                .expect("the read ended")
                .unwrap();
            assert!(took < Duration::from_secs(10), "{which}: {took:?}");
            assert!(
                diags.iter().any(|d| d.summary == "Stopped"),
                "{which}: {diags:?}"
            );
        }
    }
}
