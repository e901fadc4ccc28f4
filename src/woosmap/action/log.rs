//! The action's step log: the engine's events as lines, one `::group::` per dataset (the
//! folding itself is [`crate::frontend::github::log`]).

use std::io::Write;
use std::sync::Arc;

use crate::frontend::github::log::GroupedLog;
use crate::woosmap::api::DatasetId;
use crate::woosmap::import::{Event, EventSink};

/// The step log of the datasets of one action run.
pub type DatasetLog<W> = GroupedLog<DatasetId, W>;

/// The group title of a dataset.
pub fn title(id: &DatasetId) -> String {
    format!("Dataset {id}")
}

/// One group per dataset, in this order; the first opens at once.
pub fn grouped<W: Write + Send + 'static>(out: W, ids: &[DatasetId]) -> Arc<DatasetLog<W>> {
    GroupedLog::new(out, ids.iter().map(|id| (id.clone(), title(id))).collect())
}

/// Shows one engine event; a finished run closes its dataset's group.
pub fn show<W: Write + Send + 'static>(log: &DatasetLog<W>, event: &Event) {
    log.line(event.dataset_id(), &event.to_string());
    if matches!(event, Event::Finished { .. }) {
        log.ended(event.dataset_id());
    }
}

/// An event sink writing to `log`.
pub fn sink<W: Write + Send + 'static>(log: &Arc<DatasetLog<W>>) -> EventSink {
    let log = log.clone();
    EventSink::new(move |e| show(&log, &e))
}
