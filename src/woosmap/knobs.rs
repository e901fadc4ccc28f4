//! How each front end (CLI, GitHub Action, Terraform provider) names its own settings in
//! messages. The API client and the engine are
//! shared by the CLI, the action and the Terraform provider, so their sentences name a setting
//! with one fixed phrase for all of them ("WOOSMAP_BASE_URL / base_url", "timeouts / --timeout
//! / timeout"…). Before a front end shows such a sentence it passes it through its own
//! [`Knobs`], which puts the name the user actually types in that front end in its place.

/// The names one front end gives to the settings that shared messages point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Knobs {
    /// The overall wait limit.
    pub timeout: &'static str,
    /// The API root.
    pub base_url: &'static str,
    /// The private key.
    pub private_key: &'static str,
    /// The reimport (webhook) key.
    pub reimport_key: &'static str,
    /// The dataset id.
    pub dataset_id: &'static str,
}

/// The phrases shared messages use for each setting (see `src/woosmap/api/error.rs` and
/// `src/woosmap/import/mod.rs`), longest first where one contains another.
const TIMEOUT: &str = "timeouts / --timeout / timeout";
const BASE_URL: &str = "WOOSMAP_BASE_URL / base_url";
const PRIVATE_KEY: &str = "WOOSMAP_PRIVATE_KEY / private_key";
const REIMPORT_KEY: &str = "reimport_key / --reimport-key";
const DATASET_ID: &str = "Check dataset_id";

impl Knobs {
    /// `woosmap-import run` / `status`.
    pub const CLI: Knobs = Knobs {
        timeout: "--timeout",
        base_url: "WOOSMAP_BASE_URL (or --base-url)",
        private_key: "WOOSMAP_PRIVATE_KEY",
        reimport_key: "--reimport-key (or WOOSMAP_REIMPORT_KEY)",
        dataset_id: "--dataset-id",
    };

    /// The GitHub Action (`action.yml` inputs).
    pub const ACTION: Knobs = Knobs {
        timeout: "the timeout input",
        base_url: "the base-url input",
        private_key: "the private-key input",
        reimport_key: "the reimport-key input",
        dataset_id: "the dataset-id input",
    };

    /// The Terraform provider (resource arguments and provider configuration).
    pub const TERRAFORM: Knobs = Knobs {
        timeout: "the resource's `timeouts` block",
        base_url: "the provider's base_url (or WOOSMAP_BASE_URL)",
        private_key: "the provider's private_key (or WOOSMAP_PRIVATE_KEY)",
        reimport_key: "reimport_key",
        dataset_id: "dataset_id",
    };

    /// The Terraform action `woosmap_dataset_import` (its `config` block).
    pub const TERRAFORM_ACTION: Knobs = Knobs {
        timeout: "the action's `timeout`",
        ..Knobs::TERRAFORM
    };

    /// `message` with every shared setting phrase replaced by this front end's name for it.
    pub fn word(&self, message: &str) -> String {
        message
            .replace(TIMEOUT, self.timeout)
            .replace(BASE_URL, self.base_url)
            .replace(PRIVATE_KEY, self.private_key)
            .replace(REIMPORT_KEY, self.reimport_key)
            .replace(DATASET_ID, &format!("Check {}", self.dataset_id))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::woosmap::api::{Action, ApiError, DatasetId, Endpoint};
    use crate::woosmap::import::EngineError;

    /// Real messages of the shared layers, one per setting phrase: if one is reworded, the
    /// phrase here no longer matches and these tests say so.
    fn shared_messages() -> Vec<String> {
        let id = DatasetId::parse("8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0").unwrap();
        vec![
            EngineError::TimedOut {
                run: None,
                waited: Duration::from_secs(60),
                sent: crate::woosmap::import::Sent::Accepted,
                previous_run_id: None,
            }
            .to_string(),
            ApiError::Connect {
                action: Action::import(Endpoint::Status, &id),
                origin: "http://127.0.0.1:9".into(),
                reason: "connection refused".into(),
            }
            .to_string(),
            ApiError::MissingPrivateKey {
                action: Action::import(Endpoint::Trigger, &id),
            }
            .to_string(),
            ApiError::MissingReimportKey {
                dataset_id: id.clone(),
            }
            .to_string(),
            ApiError::NotFound {
                action: Action::import(Endpoint::Status, &id),
            }
            .to_string(),
        ]
    }

    #[test]
    fn every_shared_phrase_is_found_in_a_real_message() {
        let all = shared_messages().join("\n");
        for phrase in [TIMEOUT, BASE_URL, PRIVATE_KEY, REIMPORT_KEY, DATASET_ID] {
            assert!(all.contains(phrase), "no shared message says {phrase:?}");
        }
    }

    #[test]
    fn each_front_end_names_only_its_own_knobs() {
        let fronts = [
            (
                "cli",
                Knobs::CLI,
                ["--timeout", "--base-url"],
                ["timeouts", "base_url"],
            ),
            (
                "action",
                Knobs::ACTION,
                ["timeout input", "base-url input"],
                ["--timeout", "--base-url"],
            ),
            (
                "terraform",
                Knobs::TERRAFORM,
                ["`timeouts` block", "base_url"],
                ["--timeout", "--base-url"],
            ),
            (
                "terraform action",
                Knobs::TERRAFORM_ACTION,
                ["action's `timeout`", "base_url"],
                ["--timeout", "`timeouts` block"],
            ),
        ];
        for (name, knobs, wanted, foreign) in fronts {
            let text = shared_messages()
                .iter()
                .map(|m| knobs.word(m))
                .collect::<Vec<_>>()
                .join("\n");
            for w in wanted {
                assert!(text.contains(w), "{name}: {w:?} missing in {text}");
            }
            for f in foreign {
                assert!(!text.contains(f), "{name}: {f:?} shown in {text}");
            }
            assert!(
                !text.contains(" / "),
                "{name}: a combined name is left: {text}"
            );
        }
    }
}
