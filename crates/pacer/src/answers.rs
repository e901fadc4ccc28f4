//! Answers shared across processes: the last answer a process received to a read that others
//! make too (for Woosmap, a dataset's status), kept in the folder so that the others use it
//! instead of each spending a window of their own.
//!
//! An answer may serve a call only if its request was **sent after the call asked**, on the
//! wall clock and on the boot's monotonic clock (so a wall clock set back cannot make an older
//! answer look new); when it may be used instead of a read of one's own is decided in `slots`
//! (only while the caller's own slot is not free). An answer never crosses keys: the file name
//! is a SHA-256 of the service and the caller's key parts (which may hold a credential: it
//! never appears in clear).
//!
//! File: `<hash>.answer`, a line of JSON (`v`, `stamp`, `sent_us`, `sent_mono_ns`,
//! `received_us`, `status`, `date`, `body_len`; unknown fields ignored) followed by the body
//! exactly as received. Written only under the key's slot lock, atomically, never over an
//! answer sent later nor over an answer of a newer format. Read without following symlinks;
//! a file that is not a regular file of this user closed to others, too large, cut, of
//! another format, or whose stamp is not believable (another boot, dated in the future or
//! after its file last changed) is ignored: the caller then reads for itself.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::file;
use crate::stamp::{Stamp, mono_now};

/// The answer files' format.
const FORMAT: u32 = 2;
/// Largest body shared.
pub const MAX_BODY: usize = 4 << 20;
/// Longest first line (the JSON header).
const MAX_HEADER: usize = 1024;
/// Longest `Date` value kept.
const MAX_DATE: usize = 64;

/// Which file holds the answers for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerKey {
    file: String,
}

impl AnswerKey {
    /// The file for the answers of `service` to the key made of `parts` (hashed with their
    /// lengths: no two lists of parts share a file).
    pub fn new(service: &str, parts: &[&str]) -> AnswerKey {
        let mut hash = Sha256::new();
        for part in std::iter::once(service).chain(parts.iter().copied()) {
            hash.update(u64::try_from(part.len()).unwrap_or(u64::MAX).to_le_bytes());
            hash.update(part.as_bytes());
        }
        let digest = hash.finalize();
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        AnswerKey {
            file: format!("{hex}.answer"),
        }
    }

    /// The file's name in the folder.
    pub fn file_name(&self) -> &str {
        &self.file
    }
}

/// An answer as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedAnswer {
    /// When the request left (taken just before sending: never later than the departure).
    pub sent: SystemTime,
    /// The same moment on the boot's monotonic clock ([`mono_now`]).
    pub sent_mono: Option<u64>,
    /// When the answer arrived.
    pub received: SystemTime,
    /// The HTTP status.
    pub status: u16,
    /// The server's `Date` header, if any.
    pub date: Option<String>,
    pub body: Vec<u8>,
}

/// A call that is willing to take another caller's answer: the key's file, and when the call
/// asked (an answer counts only if its request was sent after that).
#[derive(Debug, Clone)]
pub struct AnswerWish {
    pub key: AnswerKey,
    pub asked: SystemTime,
    pub asked_mono: Option<u64>,
}

impl AnswerWish {
    /// A wish for `key`, asked now.
    pub fn now(key: AnswerKey) -> AnswerWish {
        AnswerWish {
            key,
            asked: SystemTime::now(),
            asked_mono: mono_now(),
        }
    }

    /// Whether `answer` is fresh enough for this call: sent after it asked, on both clocks.
    pub fn accepts(&self, answer: &SharedAnswer) -> bool {
        // Compared in whole microseconds, strictly: `sent_us > asked_us` implies sent > asked.
        let wall = micros(answer.sent) > micros(self.asked);
        let mono = matches!((answer.sent_mono, self.asked_mono), (Some(s), Some(a)) if s > a);
        wall && mono
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    v: u32,
    stamp: Stamp,
    sent_us: u64,
    sent_mono_ns: u64,
    received_us: u64,
    status: u16,
    #[serde(default)]
    date: Option<String>,
    body_len: usize,
}

fn micros(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn from_micros(us: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(us)
}

/// The file's bytes for an answer (`None`: it cannot be shared).
fn encode(answer: &SharedAnswer) -> Option<Vec<u8>> {
    let stamp = Stamp::now()?;
    if answer.body.len() > MAX_BODY
        || answer.received < answer.sent
        || answer.date.as_ref().is_some_and(|d| d.len() > MAX_DATE)
        || answer.sent_mono.is_none_or(|m| m > stamp.mono_ns)
    {
        return None;
    }
    let header = Header {
        v: FORMAT,
        stamp,
        sent_us: micros(answer.sent),
        sent_mono_ns: answer.sent_mono?,
        received_us: micros(answer.received),
        status: answer.status,
        date: answer.date.clone(),
        body_len: answer.body.len(),
    };
    let mut out = serde_json::to_vec(&header).ok()?;
    out.push(b'\n');
    out.extend_from_slice(&answer.body);
    Some(out)
}

/// What a file holds.
enum Decoded {
    Answer(SharedAnswer),
    /// Of a newer format: neither used nor overwritten.
    Newer,
}

/// Why a file's bytes are not an answer to use now.
fn decode(bytes: &[u8], changed: Option<SystemTime>) -> Result<Decoded, &'static str> {
    let newline = bytes
        .iter()
        .take(MAX_HEADER)
        .position(|b| *b == b'\n')
        .ok_or("no header line")?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes[..newline]).map_err(|_| "the header does not parse")?;
    match value.get("v").and_then(|v| v.as_u64()) {
        Some(v) if v > u64::from(FORMAT) => return Ok(Decoded::Newer),
        Some(v) if v == u64::from(FORMAT) => {}
        _ => return Err("another format version"),
    }
    let header: Header = serde_json::from_value(value).map_err(|_| "the header does not parse")?;
    let body = &bytes[newline + 1..];
    if header.body_len != body.len() || body.len() > MAX_BODY {
        return Err("the body is cut or too long");
    }
    header.stamp.check(changed)?;
    if header.sent_us > header.received_us
        || header.received_us > header.stamp.wall_ms.saturating_add(1) * 1000
        || header.sent_mono_ns > header.stamp.mono_ns
    {
        return Err("its times are inconsistent or dated after it was written");
    }
    if header.date.as_ref().is_some_and(|d| d.len() > MAX_DATE) {
        return Err("the Date value is too long");
    }
    Ok(Decoded::Answer(SharedAnswer {
        sent: from_micros(header.sent_us),
        sent_mono: Some(header.sent_mono_ns),
        received: from_micros(header.received_us),
        status: header.status,
        date: header.date,
        body: body.to_vec(),
    }))
}

fn load_decoded(dir: &Path, key: &AnswerKey) -> Option<Decoded> {
    let verdict = match file::read(&dir.join(&key.file)) {
        Ok(None) => return None,
        Ok(Some(content)) => decode(&content.bytes, content.changed),
        Err(why) => Err(why),
    };
    match verdict {
        Ok(decoded) => Some(decoded),
        Err(why) => {
            tracing::debug!("shared answer ignored: {why}");
            None
        }
    }
}

/// The answer recorded in `dir` for `key`, if there is a usable one.
pub fn load(dir: &Path, key: &AnswerKey) -> Option<SharedAnswer> {
    match load_decoded(dir, key)? {
        Decoded::Answer(answer) => Some(answer),
        Decoded::Newer => None,
    }
}

/// Records `answer` for `key` in `dir`, unless the file holds an answer sent later or one of
/// a newer format. The caller holds the key's slot lock, so writers do not race; readers see
/// the old file or the new one, never a mix.
pub fn store(dir: &Path, key: &AnswerKey, answer: &SharedAnswer) {
    let Some(bytes) = encode(answer) else {
        return;
    };
    match load_decoded(dir, key) {
        Some(Decoded::Newer) => return,
        Some(Decoded::Answer(held))
            if held.sent_mono > answer.sent_mono
                || (held.sent_mono == answer.sent_mono && held.sent > answer.sent) =>
        {
            return;
        }
        _ => {}
    }
    if let Err(e) = file::write_atomic(&dir.join(&key.file), &bytes) {
        crate::warnings::warn(format!(
            "could not share an answer with other processes in {} ({e})",
            dir.display()
        ));
    }
}

#[cfg(test)]
mod tests;
