//! The typed values of the Datasets API: dataset ids, and the run reported by
//! `GET /datasets/{id}/status` (status, steps, log entries).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A Woosmap dataset id: a UUID, normalised to lowercase hyphenated form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DatasetId(String);

/// The text given as a dataset id is not a UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{input}` is not a valid Woosmap dataset id: expected a UUID such as \
     8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0"
)]
pub struct InvalidDatasetId {
    /// What was given (trimmed, at most 80 characters).
    pub input: String,
}

impl DatasetId {
    /// Parses a UUID (any form the `uuid` crate accepts: hyphenated, simple, braced, urn),
    /// ignoring surrounding whitespace.
    pub fn parse(input: &str) -> Result<Self, InvalidDatasetId> {
        let trimmed = input.trim();
        match uuid::Uuid::parse_str(trimmed) {
            Ok(u) => Ok(DatasetId(u.hyphenated().to_string())),
            Err(_) => Err(InvalidDatasetId {
                input: trimmed.chars().take(80).collect(),
            }),
        }
    }

    /// The normalised id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DatasetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DatasetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatasetId({})", self.0)
    }
}

impl std::str::FromStr for DatasetId {
    type Err = InvalidDatasetId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DatasetId::parse(s)
    }
}

impl Serialize for DatasetId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DatasetId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DatasetId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The status of a run or of one of its steps.
///
/// Deserialising is lenient: `success` (also `succeeded`, `done`), `failed` (also `failure`,
/// `error`) and `in_progress` are the documented values; any other value is kept verbatim as
/// [`RunStatus::Undocumented`] (at most [`MAX_STATUS_LEN`] characters) rather than making the
/// whole response unreadable. Whether such a run has ended is read from its steps
/// ([`Run::is_finished`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    Success,
    InProgress,
    Failed,
    /// A value the API documentation does not list (e.g. `cancelled`), lowercase, verbatim.
    Undocumented(&'static str),
}

/// Longest undocumented status kept verbatim (longer ones are cut).
pub const MAX_STATUS_LEN: usize = 40;
/// Distinct undocumented statuses kept per process; later ones read as `undocumented`.
const MAX_UNDOCUMENTED: usize = 32;

/// An undocumented status as a `&'static str`: each distinct value is stored once per process
/// (bounded by [`MAX_UNDOCUMENTED`]), which keeps `RunStatus` `Copy`.
fn intern(value: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static SEEN: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let value: String = value
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_STATUS_LEN)
        .collect();
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(known) = seen.get(value.as_str()) {
        return known;
    }
    if seen.len() >= MAX_UNDOCUMENTED {
        return "undocumented";
    }
    let leaked: &'static str = Box::leak(value.into_boxed_str());
    seen.insert(leaked);
    leaked
}

impl RunStatus {
    /// `success` or `failed`. An undocumented status is not known to be terminal by itself:
    /// see [`Run::is_finished`].
    pub fn is_terminal(self) -> bool {
        matches!(self, RunStatus::Success | RunStatus::Failed)
    }

    /// The API's spelling: `success`, `in_progress`, `failed`, or the undocumented value.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Success => "success",
            RunStatus::InProgress => "in_progress",
            RunStatus::Failed => "failed",
            RunStatus::Undocumented(value) => value,
        }
    }

    /// A value the documentation does not list.
    pub fn is_undocumented(self) -> bool {
        matches!(self, RunStatus::Undocumented(_))
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RunStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RunStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let lower = s.trim().to_ascii_lowercase();
        Ok(match lower.as_str() {
            "success" | "succeeded" | "done" => RunStatus::Success,
            "failed" | "failure" | "error" => RunStatus::Failed,
            "in_progress" => RunStatus::InProgress,
            other => RunStatus::Undocumented(intern(other)),
        })
    }
}

/// One log entry of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub created_at: String,
    /// `info`, `warning` or `error`.
    pub level: String,
    pub detail: String,
}

/// One step of a run (`fetch` or `import`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub status: RunStatus,
    #[serde(default)]
    pub start: Option<String>,
    /// `None` while the step runs.
    #[serde(default)]
    pub end: Option<String>,
    #[serde(default)]
    pub entries: Vec<Entry>,
}

/// The latest import run of a dataset, as `GET /datasets/{id}/status` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// The run id (a UUID; kept as the server spelled it).
    pub id: String,
    pub status: RunStatus,
    /// Ordered by start date.
    #[serde(default)]
    pub steps: Vec<Step>,
}

impl Run {
    /// The earliest start over all steps (whatever their order in the list), as the server
    /// wrote it; a start that is not an RFC 3339 time is passed over.
    pub fn started_at(&self) -> Option<&str> {
        self.steps
            .iter()
            .filter_map(|s| {
                let text = s.start.as_deref()?;
                Some((super::clock::parse_rfc3339(text)?, text))
            })
            .min_by_key(|(at, _)| *at)
            .map(|(_, text)| text)
    }

    /// When the run started, as evidence: the earliest step start, and only when every listed
    /// step has a readable start (a step without one may have started earlier than any other,
    /// so the run's start is then unknown). `None` without steps.
    pub fn started_at_evidence(&self) -> Option<std::time::SystemTime> {
        let mut earliest = None;
        for step in &self.steps {
            let at = super::clock::parse_rfc3339(step.start.as_deref()?)?;
            earliest = Some(earliest.map_or(at, |e: std::time::SystemTime| e.min(at)));
        }
        earliest
    }

    /// The end of the last step, once the run is terminal.
    pub fn finished_at(&self) -> Option<&str> {
        if !self.status.is_terminal() {
            return None;
        }
        self.steps.iter().rev().find_map(|s| s.end.as_deref())
    }

    /// The `error` entries of the failed steps (what to show when an import failed).
    /// Whether the run has ended: its status is `success` or `failed`, or it is an
    /// undocumented value and every step has ended (has an `end` and a status other than
    /// `in_progress`). A run with an undocumented status and open steps is still going.
    pub fn is_finished(&self) -> bool {
        match self.status {
            RunStatus::Success | RunStatus::Failed => true,
            RunStatus::InProgress => false,
            RunStatus::Undocumented(_) => {
                !self.steps.is_empty()
                    && self
                        .steps
                        .iter()
                        .all(|s| s.end.is_some() && s.status != RunStatus::InProgress)
            }
        }
    }

    pub fn failed_entries(&self) -> Vec<(&Step, &Entry)> {
        self.steps
            .iter()
            .filter(|s| s.status == RunStatus::Failed)
            .flat_map(|s| {
                s.entries
                    .iter()
                    .filter(|e| e.level.eq_ignore_ascii_case("error"))
                    .map(move |e| (s, e))
            })
            .collect()
    }
}

/// The 202 body of both trigger endpoints.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Scheduled {
    pub dataset_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_id_normalises() {
        let id = DatasetId::parse(" 8C4C51F1F6F343BCB65D7415E8EF22C0 ").unwrap();
        assert_eq!(id.as_str(), "8c4c51f1-f6f3-43bc-b65d-7415e8ef22c0");
        assert_eq!(id.to_string(), id.as_str());
        let err = DatasetId::parse("not-a-uuid").unwrap_err();
        assert!(err.to_string().contains("`not-a-uuid`"), "{err}");
    }

    #[test]
    fn a_runs_start_is_the_earliest_step_start_and_needs_every_start() {
        let run = |steps: &str| -> Run {
            serde_json::from_str(&format!(
                r#"{{"id": "r", "status": "in_progress", "steps": [{steps}]}}"#
            ))
            .unwrap()
        };
        let fetch = r#"{"name": "fetch", "start": "2024-05-01T10:00:00+00:00", "end": "2024-05-01T10:00:02Z", "status": "success", "entries": []}"#;
        let import = r#"{"name": "import", "start": "2024-05-01T10:00:02Z", "end": null, "status": "in_progress", "entries": []}"#;
        // Listed latest first: the start is still the fetch's, not the first in the list.
        let unordered = run(&format!("{import}, {fetch}"));
        assert_eq!(unordered.started_at(), Some("2024-05-01T10:00:00+00:00"));
        assert_eq!(
            unordered.started_at_evidence(),
            super::super::clock::parse_rfc3339("2024-05-01T10:00:00Z")
        );
        // A step without a start is no evidence of when the run started.
        let no_start =
            r#"{"name": "fetch", "start": null, "end": null, "status": "success", "entries": []}"#;
        let missing = run(&format!("{no_start}, {import}"));
        assert_eq!(missing.started_at(), Some("2024-05-01T10:00:02Z"));
        assert_eq!(missing.started_at_evidence(), None);
        assert_eq!(run("").started_at_evidence(), None);
    }

    #[test]
    fn run_parses_documented_shape() {
        let body = r#"{
          "id": "0b9d4f4e-1111-2222-3333-444455556666",
          "status": "failed",
          "steps": [
            {"name": "fetch", "start": "2024-05-01T10:00:00Z", "end": "2024-05-01T10:00:02Z",
             "status": "success",
             "entries": [{"created_at": "2024-05-01T10:00:01Z", "detail": "fetched", "level": "info"}]},
            {"name": "import", "start": "2024-05-01T10:00:02Z", "end": "2024-05-01T10:00:09Z",
             "status": "failed",
             "entries": [{"created_at": "2024-05-01T10:00:05Z", "detail": "row 3: bad lat", "level": "error"},
                         {"created_at": "2024-05-01T10:00:06Z", "detail": "skipped", "level": "warning"}]}
          ]
        }"#;
        let run: Run = serde_json::from_str(body).unwrap();
        assert_eq!(run.status, RunStatus::Failed);
        assert_eq!(run.started_at(), Some("2024-05-01T10:00:00Z"));
        assert_eq!(run.finished_at(), Some("2024-05-01T10:00:09Z"));
        let failed = run.failed_entries();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].0.name, "import");
        assert_eq!(failed[0].1.detail, "row 3: bad lat");
    }

    #[test]
    fn undocumented_status_ends_when_every_step_has_ended() {
        let ended = r#"{"id":"r1","status":"cancelled","steps":[
            {"name":"fetch","start":"2024-05-01T10:00:00+00:00","end":"2024-05-01T10:00:01+00:00","status":"success","entries":[]},
            {"name":"import","start":"2024-05-01T10:00:01+00:00","end":"2024-05-01T10:00:02+00:00","status":"cancelled","entries":[]}]}"#;
        let run: Run = serde_json::from_str(ended).unwrap();
        assert_eq!(run.status.as_str(), "cancelled");
        assert!(run.status.is_undocumented());
        assert!(run.is_finished());
        let open = ended.replace(
            r#""end":"2024-05-01T10:00:02+00:00","status":"cancelled""#,
            r#""end":null,"status":"in_progress""#,
        );
        let run: Run = serde_json::from_str(&open).unwrap();
        assert!(!run.is_finished());
        let no_steps: Run = serde_json::from_str(r#"{"id":"r","status":"paused"}"#).unwrap();
        assert!(!no_steps.is_finished());
        let long: RunStatus = serde_json::from_str(&format!("\"{}\"", "x".repeat(500))).unwrap();
        assert_eq!(long.as_str().len(), MAX_STATUS_LEN);
    }

    #[test]
    fn running_run_has_no_end() {
        let body = r#"{"id":"r1","status":"in_progress","steps":[
            {"name":"fetch","start":"t0","end":null,"status":"in_progress","entries":[]}]}"#;
        let run: Run = serde_json::from_str(body).unwrap();
        assert_eq!(run.finished_at(), None);
        assert_eq!(run.steps[0].end, None);
        let unknown: RunStatus = serde_json::from_str("\"Queued\"").unwrap();
        assert_eq!(unknown, RunStatus::Undocumented("queued"));
        assert_eq!(serde_json::to_string(&unknown).unwrap(), "\"queued\"");
        assert!(!unknown.is_terminal());
        assert_eq!(
            serde_json::to_string(&RunStatus::InProgress).unwrap(),
            "\"in_progress\""
        );
    }
}
