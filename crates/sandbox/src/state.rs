//! The sandbox's mutable world: keys, datasets (settings, run history, rate-limit windows,
//! counters), the fault queue and the global counters. Everything here is synchronous and
//! guarded by one mutex in [`super::Shared`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use super::SandboxConfig;
use super::catalog::Catalog;
use super::control::{
    DatasetConfig, DatasetStats, KeyState, Outcome, PreviousRun, REQUEST_LOG_LIMIT, RequestRecord,
    Stats,
};
use super::faults::FaultQueue;
use super::timeline::Run;

pub(crate) struct State {
    keys: HashMap<String, KeyState>,
    datasets: BTreeMap<Uuid, Dataset>,
    pub(crate) faults: FaultQueue,
    pub(crate) counters: Counters,
    /// The request log, oldest first, at most [`REQUEST_LOG_LIMIT`] long.
    pub(crate) requests: VecDeque<RequestRecord>,
    /// Names, URLs and deletion dates of the management endpoints (`datasets.rs`).
    pub(crate) catalog: Catalog,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: u64,
    pub(crate) rate_limited: u64,
    pub(crate) injected: u64,
    pub(crate) triggers_while_running: u64,
    pub(crate) query_keys: u64,
    pub(crate) runs_triggered: u64,
    /// Requests being handled now, and the most at once.
    pub(crate) in_flight: u64,
    pub(crate) max_in_flight: u64,
}

pub(crate) struct Dataset {
    pub(crate) exists: bool,
    duration: Option<Duration>,
    outcome: Outcome,
    start_delay: Option<Duration>,
    pub(crate) reimport_key: Option<String>,
    runs: Vec<Run>,
    pub(crate) last_trigger: Option<Instant>,
    pub(crate) last_status: Option<Instant>,
    pub(crate) stats: DatasetStats,
    /// How far the `Date` header of its answers lags (`DatasetConfig::date_lag_ms`).
    pub(crate) date_lag: Duration,
    /// Steps listed latest first (`DatasetConfig::steps_reversed`).
    pub(crate) steps_reversed: bool,
}

impl State {
    pub(crate) fn new(cfg: &SandboxConfig) -> State {
        State {
            keys: cfg
                .initial_keys()
                .into_iter()
                .map(|k| (k, KeyState::Ok))
                .collect(),
            datasets: BTreeMap::new(),
            faults: FaultQueue::default(),
            counters: Counters::default(),
            requests: VecDeque::new(),
            catalog: Catalog::default(),
        }
    }

    pub(crate) fn log_request(&mut self, record: RequestRecord) {
        if self.requests.len() >= REQUEST_LOG_LIMIT {
            self.requests.pop_front();
        }
        self.requests.push_back(record);
    }

    pub(crate) fn reset(&mut self, cfg: &SandboxConfig) {
        *self = State::new(cfg);
    }

    pub(crate) fn stats(&self) -> Stats {
        Stats {
            requests: self.counters.requests,
            rate_limited: self.counters.rate_limited,
            injected: self.counters.injected,
            triggers_while_running: self.counters.triggers_while_running,
            query_keys: self.counters.query_keys,
            max_in_flight: self.counters.max_in_flight,
            runs_triggered: self.counters.runs_triggered,
            dataset_api_calls: self.catalog.calls,
            dataset_api_rate_limited: self.catalog.rate_limited,
            datasets_created: self.catalog.created,
            deletions_scheduled: self.catalog.deletions_scheduled,
            datasets: self
                .datasets
                .iter()
                .map(|(id, ds)| {
                    let mut stats = ds.stats.clone();
                    stats.scheduled_for_deletion_after = self.catalog.deletion_date(id);
                    (id.to_string(), stats)
                })
                .collect(),
        }
    }

    /// Every dataset known so far (existing or not).
    pub(crate) fn dataset_ids(&self) -> Vec<Uuid> {
        self.datasets.keys().copied().collect()
    }

    pub(crate) fn set_key(&mut self, key: &str, state: KeyState) {
        match state {
            KeyState::Removed => {
                self.keys.remove(key);
            }
            other => {
                self.keys.insert(key.to_owned(), other);
            }
        }
    }

    pub(crate) fn key_state(&self, key: &str) -> Option<KeyState> {
        self.keys.get(key).copied()
    }

    /// The dataset, created as the auto-created default when allowed and not yet known.
    pub(crate) fn dataset(
        &mut self,
        cfg: &SandboxConfig,
        id: Uuid,
        create: bool,
    ) -> Option<&mut Dataset> {
        if create && !self.datasets.contains_key(&id) {
            self.datasets
                .insert(id, Dataset::seeded(cfg, Instant::now()));
        }
        self.datasets.get_mut(&id)
    }

    pub(crate) fn dataset_for_reimport_key(&self, key: &str) -> Option<Uuid> {
        self.datasets
            .iter()
            .find(|(_, ds)| ds.reimport_key.as_deref() == Some(key))
            .map(|(id, _)| *id)
    }

    pub(crate) fn configure_dataset(&mut self, cfg: &SandboxConfig, id: Uuid, dc: &DatasetConfig) {
        let now = Instant::now();
        if let Some(key) = dc.reimport_key.as_deref().filter(|k| !k.is_empty()) {
            // A key belongs to one dataset.
            for ds in self.datasets.values_mut() {
                if ds.reimport_key.as_deref() == Some(key) {
                    ds.reimport_key = None;
                }
            }
        }
        let ds = self
            .dataset(cfg, id, true)
            .expect("dataset was just created");
        if let Some(exists) = dc.exists {
            ds.exists = exists;
        }
        if let Some(ms) = dc.duration_ms {
            ds.duration = Some(Duration::from_millis(ms.max(1)));
        }
        if let Some(outcome) = dc.outcome {
            ds.outcome = outcome;
        }
        if let Some(ms) = dc.start_delay_ms {
            ds.start_delay = Some(Duration::from_millis(ms));
        }
        if let Some(ms) = dc.date_lag_ms {
            ds.date_lag = Duration::from_millis(ms);
        }
        if let Some(reversed) = dc.steps_reversed {
            ds.steps_reversed = reversed;
        }
        if let Some(key) = &dc.reimport_key {
            ds.reimport_key = (!key.is_empty()).then(|| key.clone());
        }
        if let Some(previous) = dc.previous_run {
            ds.runs.clear();
            if let Some(previous) = previous {
                let outcome = match previous {
                    PreviousRun::Success => Outcome::Success,
                    PreviousRun::Failed => Outcome::Failed,
                };
                ds.runs.push(Run::historic(now, ds.duration(cfg), outcome));
            }
        }
        if dc.running == Some(true) {
            ds.start_run(cfg, now, Some(Duration::ZERO));
        }
        if let Some(ms) = dc.run_starts_in_ms {
            ds.start_run(cfg, now, Some(Duration::from_millis(ms)));
        }
    }
}

impl Dataset {
    /// The auto-created dataset: exists, one successful run an hour ago.
    fn seeded(cfg: &SandboxConfig, now: Instant) -> Dataset {
        Dataset {
            exists: true,
            duration: None,
            outcome: Outcome::Success,
            start_delay: None,
            reimport_key: None,
            runs: vec![Run::historic(now, cfg.import_duration, Outcome::Success)],
            last_trigger: None,
            last_status: None,
            stats: DatasetStats::default(),
            date_lag: Duration::ZERO,
            steps_reversed: false,
        }
    }

    fn duration(&self, cfg: &SandboxConfig) -> Duration {
        self.duration.unwrap_or(cfg.import_duration)
    }

    /// The latest visible run, or (with `skip = 1`) the one before it.
    pub(crate) fn visible_run(&self, now: Instant, skip: usize) -> Option<&Run> {
        self.runs
            .iter()
            .rev()
            .filter(|r| r.is_visible(now))
            .nth(skip)
    }

    /// Starts a run for a trigger arriving `now`, replacing any active one. Returns whether a
    /// run was active.
    pub(crate) fn start_run(
        &mut self,
        cfg: &SandboxConfig,
        now: Instant,
        start_delay: Option<Duration>,
    ) -> bool {
        let mut was_active = false;
        for run in self.runs.iter_mut().filter(|r| r.is_active(now)) {
            run.supersede(now);
            was_active = true;
        }
        let delay = start_delay.or(self.start_delay).unwrap_or(cfg.start_delay);
        let run = Run::scheduled(now, delay, self.duration(cfg), self.outcome);
        self.stats.runs.push(run.id.to_string());
        self.runs.push(run);
        was_active
    }

    /// The start delay a `status_stale` fault without `delay_ms` imposes.
    pub(crate) fn stale_delay(&self, cfg: &SandboxConfig) -> Duration {
        self.start_delay.unwrap_or(cfg.start_delay) * 10
    }
}
