//! The management side of the sandbox's state (the `catalog` of [`crate::state::State`],
//! reset with it): each dataset's name, URL, reimport key, dates and deletion schedule, and
//! the last admitted call of each management endpoint. The endpoints that read and change it
//! are `datasets.rs`; this module only holds the data, so that the state does not depend on
//! the handlers.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use tokio::time::Instant;
use uuid::Uuid;

/// One of the five management endpoints (each has its own rate-limit window).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Op {
    Create,
    List,
    Get,
    Update,
    Delete,
}

/// What the management endpoints know of a dataset beyond its runs.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub(crate) name: String,
    pub(crate) url: String,
    pub(crate) reimport_key: String,
    pub(crate) created_at: SystemTime,
    pub(crate) updated_at: SystemTime,
    /// `YYYY-MM-DD` once deletion is scheduled.
    pub(crate) scheduled_for_deletion_after: Option<String>,
    /// In creation order (for a stable list order).
    pub(crate) seq: u64,
}

/// The management side of the sandbox's state (part of `State`, reset with it).
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    pub(crate) meta: BTreeMap<Uuid, Meta>,
    /// When each endpoint last admitted a call (its 1-per-second window).
    pub(crate) last: HashMap<Op, Instant>,
    next_seq: u64,
    pub(crate) calls: u64,
    pub(crate) rate_limited: u64,
    pub(crate) created: u64,
    pub(crate) deletions_scheduled: u64,
}

impl Catalog {
    /// `scheduled_for_deletion_after` of a dataset, if its deletion is scheduled.
    pub(crate) fn deletion_date(&self, id: &Uuid) -> Option<String> {
        self.meta
            .get(id)
            .and_then(|m| m.scheduled_for_deletion_after.clone())
    }

    /// The dataset's meta, generated (name, URL, key) the first time it is asked for.
    pub(crate) fn meta_for(&mut self, id: Uuid, reimport_key: Option<&str>) -> &mut Meta {
        let seq = &mut self.next_seq;
        self.meta.entry(id).or_insert_with(|| {
            *seq += 1;
            let now = SystemTime::now();
            Meta {
                name: format!("Sandbox dataset {}", &id.to_string()[..8]),
                url: format!("https://example.com/sandbox/{id}.geojson"),
                reimport_key: reimport_key
                    .map(str::to_owned)
                    .unwrap_or_else(|| Uuid::from_u128(fastrand::u128(..)).to_string()),
                created_at: now,
                updated_at: now,
                scheduled_for_deletion_after: None,
                seq: *seq,
            }
        })
    }
}
