//! Woosmap's use of the shared pacer (`crates/pacer`): its folder (`WOOSMAP_PACER_DIR`, else
//! `$XDG_RUNTIME_DIR/woosmap`, else `<temp>/woosmap-pacer-<uid>`), one slot per (base URL,
//! dataset, endpoint kind), and the status answers shared per (base URL, key, dataset).

use std::sync::Arc;

use pacer::{AnswerKey, FolderSpec, Service, SlotKey};

use super::types::DatasetId;
use crate::secret::Secret;

/// The variable that moves the folder (`off`: no sharing).
pub(crate) const PACER_DIR_ENV: &str = "WOOSMAP_PACER_DIR";

/// The library's unit tests pace in a folder of the test process's own, removed at exit.
#[cfg(test)]
const UNIT_TESTS: Option<fn() -> std::path::PathBuf> =
    Some(|| crate::test_dirs::private("woosmap"));
#[cfg(not(test))]
const UNIT_TESTS: Option<fn() -> std::path::PathBuf> = None;

/// Woosmap in the shared pacer.
pub(crate) static WOOSMAP: Service = Service::new(
    "woosmap",
    FolderSpec {
        env: Some(PACER_DIR_ENV),
        env_subfolder: None,
        runtime_name: "woosmap",
        temp_prefix: "woosmap-pacer",
        unit_tests: UNIT_TESTS,
    },
);

/// Which rate limit a request counts against. Both trigger endpoints share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum PaceKind {
    Trigger,
    Status,
    /// The dataset management endpoints (`datasets.rs`), one slot per endpoint whatever the
    /// dataset (their keys use the nil dataset id).
    DatasetCreate,
    DatasetList,
    DatasetRead,
    DatasetUpdate,
    DatasetDelete,
}

impl PaceKind {
    fn route(self) -> &'static str {
        match self {
            PaceKind::Trigger => "trigger",
            PaceKind::Status => "status",
            PaceKind::DatasetCreate => "dataset-create",
            PaceKind::DatasetList => "dataset-list",
            PaceKind::DatasetRead => "dataset-read",
            PaceKind::DatasetUpdate => "dataset-update",
            PaceKind::DatasetDelete => "dataset-delete",
        }
    }
}

/// The slot of `kind` for `dataset` at `base_url`.
pub(crate) fn slot_key(base_url: &str, dataset: &DatasetId, kind: PaceKind) -> SlotKey {
    SlotKey {
        service: &WOOSMAP,
        scope: Arc::from(format!("{base_url}\n{dataset}")),
        route: kind.route(),
    }
}

/// The file of the status answers to `private_key` about `dataset` at `base_url`.
pub(crate) fn answer_key(base_url: &str, private_key: &Secret, dataset: &DatasetId) -> AnswerKey {
    AnswerKey::new(
        "woosmap status answer",
        &[base_url, private_key.expose(), dataset.as_str()],
    )
}

/// Whether a status answer with this HTTP status may be shared (what the client reads as a
/// result: a run, or 404 "no run yet").
pub(crate) fn shareable(status: u16) -> bool {
    (200..300).contains(&status) || status == 404
}
