//! Turns successive status snapshots of one run into step and entry events, each exactly once
//! (log entries are de-duplicated across polls by their content, counting repeats).

use std::collections::HashMap;

use super::events::{Event, EventSink};
use crate::woosmap::api::{DatasetId, Run};

#[derive(Debug, Default)]
struct StepSeen {
    started: bool,
    finished: bool,
    /// (created_at, level, detail) → how many such entries were already reported.
    entries: HashMap<(String, String, String), usize>,
}

/// What was already reported about the run being followed.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    run_id: Option<String>,
    steps: HashMap<String, StepSeen>,
    finished: bool,
}

impl Progress {
    /// Reports what `run` shows that earlier snapshots did not. A different run id starts over
    /// (with a new `RunIdentified`).
    pub fn update(&mut self, dataset_id: &DatasetId, run: &Run, sink: &EventSink) {
        if self.run_id.as_deref() != Some(run.id.as_str()) {
            *self = Progress {
                run_id: Some(run.id.clone()),
                ..Default::default()
            };
            sink.emit(Event::RunIdentified {
                dataset_id: dataset_id.clone(),
                run_id: run.id.clone(),
            });
        }
        for step in &run.steps {
            let seen = self.steps.entry(step.name.clone()).or_default();
            if !seen.started {
                seen.started = true;
                sink.emit(Event::StepStarted {
                    dataset_id: dataset_id.clone(),
                    run_id: run.id.clone(),
                    step: step.name.clone(),
                    start: step.start.clone(),
                });
            }
            let mut counts: HashMap<(String, String, String), usize> = HashMap::new();
            for entry in &step.entries {
                let key = (
                    entry.created_at.clone(),
                    entry.level.clone(),
                    entry.detail.clone(),
                );
                let n = counts.entry(key.clone()).or_insert(0);
                *n += 1;
                let already = seen.entries.entry(key).or_insert(0);
                if *n > *already {
                    *already = *n;
                    sink.emit(Event::Entry {
                        dataset_id: dataset_id.clone(),
                        run_id: run.id.clone(),
                        step: step.name.clone(),
                        entry: entry.clone(),
                    });
                }
            }
            let step_ended =
                step.status.is_terminal() || (step.status.is_undocumented() && step.end.is_some());
            if step_ended && !seen.finished {
                seen.finished = true;
                sink.emit(Event::StepFinished {
                    dataset_id: dataset_id.clone(),
                    run_id: run.id.clone(),
                    step: step.name.clone(),
                    status: step.status,
                    end: step.end.clone(),
                });
            }
        }
        if run.is_finished() && !self.finished {
            self.finished = true;
            sink.emit(Event::Finished {
                dataset_id: dataset_id.clone(),
                run_id: run.id.clone(),
                status: run.status,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::woosmap::api::{Entry, RunStatus, Step};
    use std::sync::{Arc, Mutex};

    fn entry(t: &str, d: &str) -> Entry {
        Entry {
            created_at: t.into(),
            level: "info".into(),
            detail: d.into(),
        }
    }

    fn collect() -> (EventSink, Arc<Mutex<Vec<Event>>>) {
        let out = Arc::new(Mutex::new(Vec::new()));
        let o = out.clone();
        (EventSink::new(move |e| o.lock().unwrap().push(e)), out)
    }

    #[test]
    fn each_entry_once_and_steps_in_order() {
        let id = DatasetId::parse("8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0").unwrap();
        let (sink, out) = collect();
        let mut p = Progress::default();
        let mut run = Run {
            id: "r1".into(),
            status: RunStatus::InProgress,
            steps: vec![Step {
                name: "fetch".into(),
                status: RunStatus::InProgress,
                start: Some("t0".into()),
                end: None,
                entries: vec![entry("t0", "a"), entry("t0", "a")],
            }],
        };
        p.update(&id, &run, &sink);
        p.update(&id, &run, &sink);
        run.steps[0].entries.push(entry("t1", "b"));
        run.steps[0].status = RunStatus::Success;
        run.steps.push(Step {
            name: "import".into(),
            status: RunStatus::Success,
            start: Some("t1".into()),
            end: Some("t2".into()),
            entries: vec![entry("t2", "done")],
        });
        run.status = RunStatus::Success;
        p.update(&id, &run, &sink);
        p.update(&id, &run, &sink);
        let names: Vec<String> = out
            .lock()
            .unwrap()
            .iter()
            .map(|e| match e {
                Event::RunIdentified { run_id, .. } => format!("run {run_id}"),
                Event::StepStarted { step, .. } => format!("start {step}"),
                Event::StepFinished { step, status, .. } => format!("end {step} {status}"),
                Event::Entry { entry, .. } => format!("entry {}", entry.detail),
                Event::Finished { status, .. } => format!("finished {status}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            [
                "run r1",
                "start fetch",
                "entry a",
                "entry a",
                "entry b",
                "end fetch success",
                "start import",
                "entry done",
                "end import success",
                "finished success"
            ]
        );
    }
}
