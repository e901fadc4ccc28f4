//! Live progress while imports run, on stderr: a spinner line per dataset (indicatif) on a
//! terminal, plain timestamped lines otherwise (CI logs, pipes). Both say the same things: each
//! event's `Display` sentence.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::woosmap::api::DatasetId;
use crate::woosmap::import::{Event, EventSink};

/// A spinner whose last frame (shown once finished) is `done`.
fn spinner_style(done: &str) -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix:.bold} {elapsed:>4} {msg}")
        .expect("static template")
        .tick_strings(&["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏", done])
}

/// How progress is shown.
pub enum Progress {
    /// One spinner per dataset; log entries scroll above them.
    Tty {
        multi: MultiProgress,
        bars: Mutex<HashMap<DatasetId, ProgressBar>>,
    },
    /// Timestamped lines on stderr.
    Plain,
    /// Nothing (e.g. `--json` without a terminal: stdout is for machines, stderr stays quiet
    /// but for errors).
    Quiet,
}

impl Progress {
    /// A spinner display on a terminal, plain lines otherwise.
    pub fn for_stderr(quiet: bool) -> Progress {
        use std::io::IsTerminal;
        if std::io::stderr().is_terminal() {
            Progress::Tty {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: Mutex::new(HashMap::new()),
            }
        } else if quiet {
            Progress::Quiet
        } else {
            Progress::Plain
        }
    }

    /// Prepares the display for these datasets (spinners appear in this order).
    pub fn start(&self, ids: &[DatasetId]) {
        if let Progress::Tty { multi, bars } = self {
            let style = spinner_style("✓");
            let mut bars = bars.lock().expect("progress lock");
            for id in ids {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(style.clone());
                bar.set_prefix(id.to_string());
                bar.set_message("reading status");
                bar.enable_steady_tick(Duration::from_millis(120));
                bars.insert(id.clone(), bar);
            }
        }
    }

    /// Shows one event.
    pub fn show(&self, event: &Event) {
        let text = event.to_string();
        match self {
            Progress::Tty { multi, bars } => {
                let bars = bars.lock().expect("progress lock");
                let Some(bar) = bars.get(event.dataset_id()) else {
                    return;
                };
                match event {
                    Event::Entry { .. } | Event::Retrying { .. } => {
                        let _ = multi.println(format!("  {}: {text}", event.dataset_id()));
                    }
                    Event::Finished { status, .. } => {
                        if *status == crate::woosmap::api::RunStatus::Failed {
                            bar.set_style(spinner_style("✗"));
                        }
                        bar.finish_with_message(text)
                    }
                    _ => bar.set_message(text),
                }
            }
            Progress::Plain => {
                let now = humantime::format_rfc3339_seconds(SystemTime::now());
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{now} {}: {text}", event.dataset_id());
            }
            Progress::Quiet => {}
        }
    }

    /// Stops every spinner that is still turning (an error or Ctrl-C ended the wait).
    pub fn finish(&self) {
        if let Progress::Tty { bars, .. } = self {
            for bar in bars.lock().expect("progress lock").values() {
                if !bar.is_finished() {
                    bar.abandon();
                }
            }
        }
    }

    /// An event sink that shows events here.
    pub fn sink(self: &std::sync::Arc<Self>) -> EventSink {
        let me = self.clone();
        EventSink::new(move |e| me.show(&e))
    }
}
