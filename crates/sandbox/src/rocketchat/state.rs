//! The Rocket.Chat sandbox's model: import operations and how their status moves with time,
//! the per-route limiter, queued faults and counters. Statuses are computed from timestamps
//! on each request; nothing runs in the background.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::{ForeignOperation, RcFault, RcStats, RocketChatConfig};

/// One staged user: whether the import will fail it.
#[derive(Debug, Clone)]
pub(crate) struct StagedUser {
    pub(crate) fails: bool,
}

/// One import operation.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub(crate) id: String,
    ts: String,
    user: String,
    pub(crate) users: Vec<StagedUser>,
    /// Foreign operations: preparing until then.
    loading_until: Option<Instant>,
    /// Foreign operations being staged: `new` (nothing added yet) until then.
    staging_until: Option<Instant>,
    /// When `import.run` was (or will be) called.
    run_at: Option<Instant>,
    duration: Duration,
    /// Set when the operation was invalidated: the status it had then.
    frozen: Option<&'static str>,
}

/// The documented `state` for a status string and validity.
pub(crate) fn state_of(status: &str, valid: bool) -> &'static str {
    if !valid && status != "importer_done" {
        return "error";
    }
    match status {
        "importer_new" => "new",
        "importer_user_selection" => "ready",
        "importer_done" => "done",
        "importer_import_failed" => "error",
        "importer_import_cancelled" => "canceled",
        s if s.starts_with("importer_importing_") || s == "importer_finishing" => "importing",
        _ => "loading",
    }
}

impl Operation {
    fn new(user: &str) -> Operation {
        Operation {
            id: format!("{:024x}", fastrand::u128(..) >> 32),
            ts: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            user: user.to_owned(),
            users: Vec::new(),
            loading_until: None,
            staging_until: None,
            run_at: None,
            duration: Duration::from_secs(1),
            frozen: None,
        }
    }

    pub(crate) fn valid(&self) -> bool {
        self.frozen.is_none()
    }

    /// Fraction of the import elapsed, if it has started.
    fn progress(&self, now: Instant) -> Option<f64> {
        let start = self.run_at?;
        if now < start {
            return None;
        }
        Some(((now - start).as_secs_f64() / self.duration.as_secs_f64()).min(1.0))
    }

    pub(crate) fn status(&self, now: Instant) -> &'static str {
        if let Some(frozen) = self.frozen {
            return frozen;
        }
        if self.loading_until.is_some_and(|t| now < t) {
            return "importer_preparing_users";
        }
        if self.staging_until.is_some_and(|t| now < t) {
            return "importer_new";
        }
        match self.progress(now) {
            None if self.users.is_empty() && self.loading_until.is_none() => "importer_new",
            None => "importer_user_selection",
            Some(f) if f < 0.15 => "importer_importing_started",
            Some(f) if f < 0.75 => "importer_importing_users",
            Some(f) if f < 0.85 => "importer_importing_channels",
            Some(f) if f < 1.0 => "importer_finishing",
            Some(_) => "importer_done",
        }
    }

    /// Users processed so far: counts move in steps of 50, as the server writes them.
    fn processed(&self, now: Instant) -> usize {
        let n = self.users.len();
        match self.progress(now) {
            None => 0,
            Some(f) if f >= 1.0 => n,
            Some(f) => {
                let p = ((f - 0.15) / 0.6).clamp(0.0, 1.0);
                (((p * n as f64) as usize) / 50 * 50).min(n)
            }
        }
    }

    /// The `operation` object of the answers.
    pub(crate) fn to_json(&self, now: Instant) -> Value {
        let mut op = Map::new();
        op.insert("_id".into(), json!(self.id));
        op.insert("type".into(), json!("api"));
        op.insert("importerKey".into(), json!("api"));
        op.insert("ts".into(), json!(self.ts));
        op.insert("status".into(), json!(self.status(now)));
        op.insert("valid".into(), json!(self.valid()));
        op.insert("user".into(), json!(self.user));
        op.insert("_updatedAt".into(), json!(self.ts));
        if !self.users.is_empty() {
            let n = self.users.len();
            let mut count = json!({"total": n, "users": n});
            if self.progress(now).is_some() {
                let done = self.processed(now);
                let errors = self.users[..done].iter().filter(|u| u.fails).count();
                count["completed"] = json!(done - errors);
                count["error"] = json!(errors);
            }
            op.insert("count".into(), count);
        }
        Value::Object(op)
    }
}

/// Everything that changes.
#[derive(Default)]
pub(crate) struct RcState {
    /// Oldest first; the last one is the current operation.
    pub(crate) operations: Vec<Operation>,
    /// Per route: when its window opened and how many calls it has seen.
    limiter: HashMap<String, (Instant, u32)>,
    pub(crate) faults: Vec<RcFault>,
    pub(crate) stats: RcStats,
}

/// The limiter's verdict, with the values of its headers.
pub(crate) struct Limit {
    pub(crate) allowed: bool,
    pub(crate) limit: u32,
    pub(crate) remaining: u32,
    /// Milliseconds since the Unix epoch when the window resets.
    pub(crate) reset_ms: u128,
    pub(crate) wait: Duration,
}

/// `instant` on the wall clock, in ms since the epoch.
pub(crate) fn epoch_ms(now: Instant, at: Instant) -> u128 {
    let wall = SystemTime::now() + at.saturating_duration_since(now);
    wall.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

impl RcState {
    pub(crate) fn current(&self) -> Option<&Operation> {
        self.operations.last()
    }

    pub(crate) fn current_mut(&mut self) -> Option<&mut Operation> {
        self.operations.last_mut()
    }

    /// Counts one call on `route`; `None` when the limiter is off.
    pub(crate) fn limit(
        &mut self,
        cfg: &RocketChatConfig,
        route: &str,
        now: Instant,
    ) -> Option<Limit> {
        if cfg.limit_calls == 0 || cfg.limit_window.is_zero() {
            return None;
        }
        let entry = self.limiter.entry(route.to_owned()).or_insert((now, 0));
        if now >= entry.0 + cfg.limit_window {
            *entry = (now, 0);
        }
        let reset = entry.0 + cfg.limit_window;
        let allowed = entry.1 < cfg.limit_calls;
        if allowed {
            entry.1 += 1;
        }
        Some(Limit {
            allowed,
            limit: cfg.limit_calls,
            remaining: cfg.limit_calls - entry.1.min(cfg.limit_calls),
            reset_ms: epoch_ms(now, reset),
            wait: reset.saturating_duration_since(now),
        })
    }

    /// The first queued fault for `route`, consumed.
    pub(crate) fn take_fault(&mut self, route: &str) -> Option<RcFault> {
        let i = self
            .faults
            .iter()
            .position(|f| f.endpoint == "any" || f.endpoint == route)?;
        let fault = self.faults[i].clone();
        if self.faults[i].count <= 1 {
            self.faults.remove(i);
        } else {
            self.faults[i].count -= 1;
        }
        Some(fault)
    }

    /// True when the current operation is still going (being staged included).
    fn current_in_progress(&self, now: Instant) -> bool {
        self.current().is_some_and(|op| {
            op.valid()
                && matches!(
                    state_of(op.status(now), true),
                    "new" | "loading" | "ready" | "importing"
                )
        })
    }

    /// `import.clear`: invalidates every operation, counting a clear of one still going.
    pub(crate) fn clear(&mut self, now: Instant) {
        if self.current_in_progress(now) {
            self.stats.cleared += 1;
        }
        self.invalidate_all(now);
    }

    /// Invalidates every operation, counting an abort if the current one was still going.
    pub(crate) fn abort_all(&mut self, now: Instant) {
        if self.current_in_progress(now) {
            self.stats.aborts += 1;
        }
        self.invalidate_all(now);
    }

    fn invalidate_all(&mut self, now: Instant) {
        for op in &mut self.operations {
            if op.frozen.is_none() {
                op.frozen = Some(op.status(now));
            }
        }
    }

    /// `import.new`: aborts what runs, starts a fresh operation.
    pub(crate) fn new_operation(&mut self, user: &str, now: Instant) -> &Operation {
        self.abort_all(now);
        self.stats.operations += 1;
        self.operations.push(Operation::new(user));
        self.operations.last().expect("just pushed")
    }

    /// The control API's operation started by someone else.
    pub(crate) fn foreign(
        &mut self,
        cfg: &RocketChatConfig,
        spec: &ForeignOperation,
        now: Instant,
    ) -> Result<String, String> {
        let d = Duration::from_millis(spec.duration_ms.unwrap_or(2000));
        let mut op = Operation::new(spec.user.as_deref().unwrap_or("someone-else"));
        op.users = vec![StagedUser { fails: false }; spec.users.unwrap_or(5).max(1) as usize];
        op.duration = cfg.import_duration.max(d);
        match spec.state.as_str() {
            "new" => {
                op.staging_until = Some(now + d);
                op.run_at = Some(now + d * 2);
                op.duration = d;
            }
            "loading" => {
                op.loading_until = Some(now + d);
                op.run_at = Some(now + d * 2);
                op.duration = d;
            }
            "ready" => {
                op.run_at = Some(now + d);
                op.duration = d;
            }
            "importing" => {
                op.run_at = Some(now);
                op.duration = d;
            }
            other => {
                return Err(format!(
                    "state {other:?} is not one of \"new\", \"loading\", \"ready\", \"importing\""
                ));
            }
        }
        self.abort_all(now);
        self.stats.operations += 1;
        let id = op.id.clone();
        self.operations.push(op);
        Ok(id)
    }

    /// The owner of the current operation sees its import end now (`done`), as if it had been
    /// given exactly this long; an operation not yet running, or invalidated, is left as is.
    pub(crate) fn finish_current(&mut self, now: Instant) {
        if let Some(op) = self.current_mut()
            && op.valid()
            && let Some(start) = op.run_at.filter(|s| *s <= now)
        {
            // It ends at `now` exactly, so a status read right after shows it done (a
            // duration of at least 1 ms: one started this very instant starts 1 ms earlier).
            let min = Duration::from_millis(1);
            if now - start < min {
                op.run_at = Some(now.checked_sub(min).unwrap_or(start));
            }
            op.duration = (now - op.run_at.unwrap_or(start)).max(min);
        }
    }

    /// The current operation, valid and not ended, ends now (`done`) whatever its stage.
    pub(crate) fn end_current(&mut self, now: Instant) {
        let min = Duration::from_millis(1);
        if let Some(op) = self.current_mut()
            && op.valid()
            && op.progress(now).is_none_or(|f| f < 1.0)
        {
            if op.users.is_empty() {
                op.users = vec![StagedUser { fails: false }];
            }
            op.loading_until = None;
            op.staging_until = None;
            let start = op.run_at.filter(|s| *s <= now).unwrap_or(now);
            op.run_at = Some(now.checked_sub(min).unwrap_or(start).min(start));
            op.duration = (now - op.run_at.unwrap_or(start)).max(min);
        }
    }

    /// `import.run` on the current operation with `duration`.
    pub(crate) fn run(&mut self, now: Instant, duration: Duration) {
        if let Some(op) = self.current_mut() {
            op.run_at = Some(now);
            op.duration = duration;
            let end = epoch_ms(now, now + duration);
            self.stats.last_import_end_ms = Some(u64::try_from(end).unwrap_or(u64::MAX));
        }
        self.stats.runs += 1;
    }
}

/// Whether the import of this user object will fail: a malformed first email, or a username
/// containing `fail`.
pub(crate) fn user_fails(user: &Value) -> bool {
    let email_ok = user
        .get("emails")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
        .and_then(Value::as_str)
        .is_some_and(|e| {
            let mut parts = e.split('@');
            matches!((parts.next(), parts.next(), parts.next()),
                (Some(l), Some(d), None) if !l.is_empty() && d.contains('.') && !e.contains(char::is_whitespace))
        });
    let name_fails = user
        .get("username")
        .and_then(Value::as_str)
        .is_some_and(|u| u.to_ascii_lowercase().contains("fail"));
    !email_ok || name_fails
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_records_when_its_import_will_end() {
        let mut state = RcState::default();
        let now = Instant::now();
        state.run(now, Duration::from_secs(3));
        assert_eq!(
            state.stats.last_import_end_ms, None,
            "no operation: nothing ran"
        );
        state.new_operation("admin", now);
        let before = epoch_ms(now, now);
        state.run(now, Duration::from_secs(3));
        let end = u128::from(state.stats.last_import_end_ms.expect("recorded"));
        assert!(
            (before + 2_900..=before + 3_100).contains(&end),
            "{end} vs {before} + 3 s"
        );
    }
}
