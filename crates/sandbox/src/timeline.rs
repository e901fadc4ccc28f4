//! Import runs and their timelines: what a run looks like at a given instant (steps, entries,
//! status), computed from its start time, duration and outcome. Also the JSON shape of the
//! status endpoint's 200 answer.

use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::time::Instant;
use uuid::Uuid;

use super::control::Outcome;

/// One import run of a dataset.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub(crate) id: Uuid,
    /// When the `fetch` step starts; the run is visible from then on.
    pub(crate) t0: Instant,
    /// Wall-clock time of `t0`, for the timestamps.
    pub(crate) wall_t0: SystemTime,
    pub(crate) duration: Duration,
    pub(crate) outcome: Outcome,
    /// A run seeded as history: always shown as finished.
    pub(crate) historic: bool,
    /// Offset from `t0` at which a newer trigger cancelled it.
    pub(crate) aborted_at: Option<Duration>,
    /// Replaced before it became visible: never shown.
    pub(crate) hidden: bool,
}

/// A fresh random (version 4) UUID.
pub(crate) fn new_run_id() -> Uuid {
    let mut bytes = [0u8; 16];
    fastrand::fill(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

impl Run {
    /// A run that starts `start_delay` after `now` (a trigger arriving now).
    pub(crate) fn scheduled(
        now: Instant,
        start_delay: Duration,
        duration: Duration,
        outcome: Outcome,
    ) -> Run {
        Run {
            id: new_run_id(),
            t0: now + start_delay,
            wall_t0: SystemTime::now() + start_delay,
            duration,
            outcome,
            historic: false,
            aborted_at: None,
            hidden: false,
        }
    }

    /// A finished run from an hour ago.
    pub(crate) fn historic(now: Instant, duration: Duration, outcome: Outcome) -> Run {
        let ago = Duration::from_secs(3600);
        Run {
            id: new_run_id(),
            t0: now,
            wall_t0: SystemTime::now()
                .checked_sub(ago)
                .unwrap_or(SystemTime::UNIX_EPOCH),
            duration,
            outcome,
            historic: true,
            aborted_at: None,
            hidden: false,
        }
    }

    pub(crate) fn is_visible(&self, now: Instant) -> bool {
        !self.hidden && (self.historic || self.t0 <= now)
    }

    /// Scheduled or in progress at `now` (a trigger now would replace it).
    pub(crate) fn is_active(&self, now: Instant) -> bool {
        if self.hidden || self.historic || self.aborted_at.is_some() {
            return false;
        }
        self.t0 > now || !self.outcome.finishes() || now - self.t0 < self.duration
    }

    /// Cancels an active run because a newer one replaces it.
    pub(crate) fn supersede(&mut self, now: Instant) {
        if self.t0 > now {
            self.hidden = true;
        } else {
            self.aborted_at = Some(now - self.t0);
        }
    }

    /// The run as the status endpoint shows it at `now`.
    pub(crate) fn view(&self, now: Instant) -> RunView {
        let elapsed = if self.historic {
            self.duration
        } else {
            now.saturating_duration_since(self.t0)
        };
        // How far into the run what is shown goes.
        let horizon = self.aborted_at.map_or(elapsed, |a| a.min(elapsed));
        let fetch_end = self.duration / 5;

        let fetch = self.fetch_step(horizon, fetch_end);
        let mut run_status = match fetch.status {
            Status::Success => Status::InProgress,
            other => other,
        };
        let fetched = fetch.status == Status::Success;
        let mut steps = vec![fetch];
        if fetched {
            let import = self.import_step(horizon, fetch_end);
            run_status = import.status;
            steps.push(import);
        }

        if self.outcome == Outcome::Queued && run_status == Status::InProgress {
            run_status = Status::Queued;
        }
        RunView {
            id: self.id.to_string(),
            status: run_status,
            steps,
        }
    }

    /// The wall-clock time `offset` into the run.
    fn stamp(&self, offset: Duration) -> String {
        rfc3339(self.wall_t0 + offset)
    }

    fn entry(&self, offset: Duration, level: &'static str, detail: String) -> EntryView {
        EntryView {
            created_at: self.stamp(offset),
            detail,
            level,
        }
    }

    /// The entries of a step's script written by `horizon`.
    fn entries_until(&self, script: Vec<ScriptLine>, horizon: Duration) -> Vec<EntryView> {
        script
            .into_iter()
            .filter(|(offset, _, _)| *offset <= horizon)
            .map(|(offset, level, detail)| self.entry(offset, level, detail))
            .collect()
    }

    /// The `fetch` step: the first fifth of the run.
    fn fetch_step(&self, horizon: Duration, fetch_end: Duration) -> StepView {
        let script = vec![
            (
                Duration::ZERO,
                "info",
                "Downloading https://example.com/stores.json".to_owned(),
            ),
            (fetch_end / 2, "info", "Downloaded 1.8 MB".to_owned()),
            (fetch_end, "info", "Fetched 1,204 features".to_owned()),
        ];
        let mut entries = self.entries_until(script, horizon);
        let (status, end) = match self.aborted_at {
            Some(a) if a < fetch_end => {
                entries.push(self.entry(a, "error", CANCELLED.to_owned()));
                (Status::Failed, Some(a))
            }
            _ if horizon >= fetch_end => (Status::Success, Some(fetch_end)),
            _ => (Status::InProgress, None),
        };
        StepView {
            name: "fetch",
            start: self.stamp(Duration::ZERO),
            end: end.map(|o| self.stamp(o)),
            status,
            entries,
        }
    }

    /// What the `import` step logs, and when, for the run's outcome.
    fn import_script(&self, fetch_end: Duration) -> Vec<ScriptLine> {
        let total = self.duration;
        let import_len = total - fetch_end;
        let at = |fraction: u32| fetch_end + import_len * fraction / 8;
        let mut script = vec![
            (fetch_end, "info", "Importing 1,204 features".to_owned()),
            (at(2), "info", "Imported 300/1204".to_owned()),
        ];
        if self.outcome == Outcome::Failed {
            script.push((
                at(3),
                "warning",
                "Feature 9: property 'phone' is not a valid phone number; ignored".to_owned(),
            ));
        }
        script.push((at(4), "info", "Imported 600/1204".to_owned()));
        script.push((at(6), "info", "Imported 900/1204".to_owned()));
        match self.outcome {
            Outcome::Success => script.push((total, "info", "Imported 1204/1204".to_owned())),
            Outcome::Failed => {
                script.push((
                    total,
                    "error",
                    "Feature 17: missing required property 'storeId'".to_owned(),
                ));
                script.push((
                    total,
                    "error",
                    "Import failed: 1 feature rejected; the dataset keeps its previous data"
                        .to_owned(),
                ));
            }
            Outcome::Cancelled => script.push((
                total,
                "warning",
                "Import cancelled by an administrator".to_owned(),
            )),
            Outcome::Never | Outcome::Queued => {}
        }
        script
    }

    /// The `import` step, once `fetch` succeeded: the rest of the run.
    fn import_step(&self, horizon: Duration, fetch_end: Duration) -> StepView {
        let total = self.duration;
        let mut entries = self.entries_until(self.import_script(fetch_end), horizon);
        let finishes = self.outcome.finishes();
        let (status, end) = match self.aborted_at {
            Some(a) if !finishes || a < total => {
                entries.push(self.entry(a, "error", CANCELLED.to_owned()));
                (Status::Failed, Some(a))
            }
            _ if finishes && horizon >= total => match self.outcome {
                Outcome::Failed => (Status::Failed, Some(total)),
                Outcome::Cancelled => (Status::Cancelled, Some(total)),
                _ => (Status::Success, Some(total)),
            },
            _ => (Status::InProgress, None),
        };
        StepView {
            name: "import",
            start: self.stamp(fetch_end),
            end: end.map(|o| self.stamp(o)),
            status,
            entries,
        }
    }
}

/// One scripted log entry: its offset into the run, level and text.
type ScriptLine = (Duration, &'static str, String);

/// The entry a run superseded by a newer trigger ends with.
const CANCELLED: &str = "Import cancelled: a new import was requested";

/// `2026-01-02T03:04:05.678Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    Success,
    InProgress,
    Failed,
    /// Undocumented (outcome `cancelled`).
    Cancelled,
    /// Undocumented (outcome `queued`).
    Queued,
}

impl Outcome {
    /// Whether runs with this outcome end.
    pub(crate) fn finishes(self) -> bool {
        !matches!(self, Outcome::Never | Outcome::Queued)
    }
}

/// The 200 body of `GET /datasets/{id}/status`.
#[derive(Debug, Serialize)]
pub(crate) struct RunView {
    pub(crate) id: String,
    pub(crate) status: Status,
    pub(crate) steps: Vec<StepView>,
}

#[derive(Debug, Serialize)]
pub(crate) struct StepView {
    name: &'static str,
    start: String,
    end: Option<String>,
    status: Status,
    entries: Vec<EntryView>,
}

#[derive(Debug, Serialize)]
pub(crate) struct EntryView {
    created_at: String,
    detail: String,
    level: &'static str,
}
