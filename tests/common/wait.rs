//! Waiting for an event instead of sleeping: a run or a request in the sandbox's log, polled
//! every 20 ms up to a limit that only a failure reaches.

use std::time::{Duration, Instant};

use woosmap_sandbox::{RequestRecord, SandboxHandle};

const POLL: Duration = Duration::from_millis(20);

/// Waits until `done` holds, for at most `limit`; panics naming `what` past it.
pub fn until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(POLL);
    }
}

/// Waits for `child` to exit, for at most `limit`: its exit code (-1 when a signal ended it),
/// or `None` when it was still running at the limit (it is then killed).
pub fn exit_within(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status.code().unwrap_or(-1));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(POLL);
    }
}

/// Waits until the sandbox started a run of dataset `id` (a trigger was accepted); returns
/// when it was first seen.
pub fn until_run_started(sb: &SandboxHandle, id: &str, limit: Duration) -> Instant {
    until(&format!("a run of {id}"), limit, || {
        sb.stats().dataset(id).is_some_and(|d| !d.runs.is_empty())
    });
    Instant::now()
}

/// The status reads of dataset `id` that arrived at or after `since`.
pub fn status_reads_since(sb: &SandboxHandle, id: &str, since: Instant) -> Vec<RequestRecord> {
    let path = format!("/datasets/{id}/status");
    let since = tokio::time::Instant::from_std(since);
    sb.requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == path && r.at.is_some_and(|at| at >= since))
        .collect()
}

/// Waits until a front end is polling the run it triggered: the run started, then two status
/// reads of `id` arrived once the status shows it (`start_delay` after the run was seen), the
/// second of which means the answer to the first, with the new run, was taken in.
pub fn until_polling_new_run(sb: &SandboxHandle, id: &str, start_delay: Duration, limit: Duration) {
    let shown = until_run_started(sb, id, limit) + start_delay;
    until(
        &format!("two status reads of {id} showing its new run"),
        limit,
        || status_reads_since(sb, id, shown).len() >= 2,
    );
}

/// The last entry the sandbox's run shows when it never ends ([`woosmap_sandbox::Outcome::Never`]):
/// once it is out, nothing new comes.
pub const LAST_ENTRY_OF_A_NEVER_ENDING_RUN: &str = "Imported 900/1204";

/// Waits until the file at `path` (a front end's output) holds `line`, then until the next
/// status read of `id`: the front end took in that answer and reported it (Terraform prints an
/// action's progress line once the provider sent it), and is polling again.
pub fn until_printed_then_polled(
    path: &std::path::Path,
    line: &str,
    sb: &SandboxHandle,
    id: &str,
    limit: Duration,
) {
    until(&format!("{line:?} in {}", path.display()), limit, || {
        std::fs::read_to_string(path).is_ok_and(|t| t.contains(line))
    });
    let printed = Instant::now();
    until(
        &format!("a status read of {id} after {line:?}"),
        limit,
        || !status_reads_since(sb, id, printed).is_empty(),
    );
}

/// How many status reads of dataset `id` arrived after its first trigger: a count that proves
/// a front end stopped polling (when a run ended, when its timeout came) where a wall-clock
/// bound would only prove speed.
pub fn reads_after_trigger(sb: &SandboxHandle, id: &str) -> usize {
    let trigger = format!("/datasets/{id}/import");
    let Some(triggered) = sb
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path == trigger)
        .and_then(|r| r.at)
    else {
        panic!("{id} was never triggered");
    };
    status_reads_since(sb, id, triggered.into_std()).len()
}
