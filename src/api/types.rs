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
/// Deserialising is lenient: `success` and `failed` are terminal; `in_progress` and any status
/// this client does not know yet count as in progress (the engine keeps waiting, bounded by its
/// deadline) rather than making the whole response unreadable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Success,
    InProgress,
    Failed,
}

impl RunStatus {
    /// `success` or `failed`.
    pub fn is_terminal(self) -> bool {
        !matches!(self, RunStatus::InProgress)
    }

    /// The API's spelling: `success`, `in_progress`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Success => "success",
            RunStatus::InProgress => "in_progress",
            RunStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RunStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.to_ascii_lowercase().as_str() {
            "success" | "succeeded" | "done" => RunStatus::Success,
            "failed" | "failure" | "error" => RunStatus::Failed,
            _ => RunStatus::InProgress,
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
    /// The start of the first step, if any.
    pub fn started_at(&self) -> Option<&str> {
        self.steps.iter().find_map(|s| s.start.as_deref())
    }

    /// The end of the last step, once the run is terminal.
    pub fn finished_at(&self) -> Option<&str> {
        if !self.status.is_terminal() {
            return None;
        }
        self.steps.iter().rev().find_map(|s| s.end.as_deref())
    }

    /// The `error` entries of the failed steps (what to show when an import failed).
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
    fn running_run_has_no_end() {
        let body = r#"{"id":"r1","status":"in_progress","steps":[
            {"name":"fetch","start":"t0","end":null,"status":"in_progress","entries":[]}]}"#;
        let run: Run = serde_json::from_str(body).unwrap();
        assert_eq!(run.finished_at(), None);
        assert_eq!(run.steps[0].end, None);
        let unknown: RunStatus = serde_json::from_str("\"queued\"").unwrap();
        assert_eq!(unknown, RunStatus::InProgress);
        assert_eq!(
            serde_json::to_string(&RunStatus::InProgress).unwrap(),
            "\"in_progress\""
        );
    }
}
