use super::*;

fn key(name: &str) -> AnswerKey {
    AnswerKey::new(
        "test",
        &["http://x", name, &format!("{:x}", fastrand::u128(..))],
    )
}

fn answer(sent: SystemTime) -> SharedAnswer {
    let back = SystemTime::now().duration_since(sent).unwrap_or_default();
    SharedAnswer {
        sent,
        sent_mono: mono_now().map(|m| m.saturating_sub(crate::stamp::ns(back))),
        received: sent + Duration::from_millis(3),
        status: 200,
        date: Some("Wed, 02 Dec 2026 03:00:00 GMT".into()),
        body: br#"{"id":"run-1","status":"in_progress","steps":[]}"#.to_vec(),
    }
}

fn private_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    dir
}

/// A private folder, a fresh key, and the path its answer is stored at in that folder.
fn answer_file() -> (tempfile::TempDir, AnswerKey, std::path::PathBuf) {
    let dir = private_dir();
    let key = key("k");
    let path = dir.path().join(&key.file);
    (dir, key, path)
}

/// The bytes of a well-formed answer sent a second ago; `None` without a boot id (nothing is
/// shared then).
fn good_answer() -> Option<Vec<u8>> {
    encode(&answer(SystemTime::now() - Duration::from_secs(1)))
}

fn plant(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[test]
fn keys_separate_their_parts_and_hide_them() {
    let base = AnswerKey::new("s", &["https://api", "a-private-key-7f3e", "d1"]);
    assert_eq!(
        base,
        AnswerKey::new("s", &["https://api", "a-private-key-7f3e", "d1"])
    );
    for other in [
        AnswerKey::new("s", &["https://api", "a-private-key-7f3e", "d2"]),
        AnswerKey::new("s", &["http://127.0.0.1:1", "a-private-key-7f3e", "d1"]),
        AnswerKey::new("t", &["https://api", "a-private-key-7f3e", "d1"]),
        AnswerKey::new("s", &["a", "bc"]),
    ] {
        assert_ne!(base, other);
    }
    // Concatenations that collide without length prefixes do not here.
    assert_ne!(
        AnswerKey::new("s", &["a", "bc"]),
        AnswerKey::new("s", &["ab", "c"])
    );
    assert!(!base.file.contains("a-private-key"), "{}", base.file);
}

#[test]
fn an_answer_round_trips_and_keeps_the_body_as_received() {
    let dir = private_dir();
    let key = key("k");
    assert_eq!(load(dir.path(), &key), None);
    let mut a = answer(SystemTime::now() - Duration::from_secs(1));
    a.body = b"{\"id\":\"r\"}\n\xff not utf-8 after a newline".to_vec();
    store(dir.path(), &key, &a);
    if Stamp::now().is_none() {
        return; // nothing is shared without a boot id
    }
    let back = load(dir.path(), &key).unwrap();
    assert_eq!(back.body, a.body);
    assert_eq!((back.status, &back.date), (200, &a.date));
    assert_eq!(micros(back.sent), micros(a.sent));
    assert_eq!(back.sent_mono, a.sent_mono);
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
}

#[test]
fn a_later_answer_replaces_an_earlier_one_never_the_reverse() {
    let dir = private_dir();
    let key = key("k");
    let now = SystemTime::now() - Duration::from_secs(5);
    let (early, late) = (answer(now), answer(now + Duration::from_secs(1)));
    store(dir.path(), &key, &late);
    store(dir.path(), &key, &early);
    if Stamp::now().is_none() {
        return;
    }
    assert_eq!(
        micros(load(dir.path(), &key).unwrap().sent),
        micros(late.sent)
    );
    let later = answer(now + Duration::from_secs(2));
    store(dir.path(), &key, &later);
    assert_eq!(
        micros(load(dir.path(), &key).unwrap().sent),
        micros(later.sent)
    );
}

#[test]
fn only_answers_sent_after_the_call_asked_are_accepted() {
    let asked = SystemTime::now() - Duration::from_secs(10);
    let wish = AnswerWish {
        key: key("k"),
        asked,
        asked_mono: Some(5_000),
    };
    let at = |sent, mono| SharedAnswer {
        sent_mono: Some(mono),
        ..answer(sent)
    };
    assert!(!wish.accepts(&at(asked - Duration::from_millis(1), 6_000)));
    assert!(!wish.accepts(&at(asked, 6_000)), "sent in the same instant");
    let later = asked + Duration::from_millis(1);
    assert!(wish.accepts(&at(later, 6_000)));
    // The wall clock says later, the monotonic clock earlier (the wall clock was set back).
    assert!(!wish.accepts(&at(later, 4_000)));
    // No monotonic time: not accepted.
    let bare = SharedAnswer {
        sent_mono: None,
        ..answer(later)
    };
    assert!(!wish.accepts(&bare));
}

#[test]
fn garbage_cut_future_or_other_version_files_are_ignored_and_newer_ones_kept() {
    let (dir, key, path) = answer_file();
    let Some(good) = good_answer() else {
        return; // no boot id: nothing is shared
    };
    let text = String::from_utf8(good.clone()).unwrap();
    let stamp = Stamp::now().unwrap();
    let hour_ms = 3_600_000u64;
    let future = text.replacen(
        &format!("\"wall_ms\":{}", stamp.wall_ms),
        &format!("\"wall_ms\":{}", stamp.wall_ms + hour_ms),
        1,
    );
    let boot = text.replacen(&stamp.boot, "00000000-0000-0000-0000-000000000000", 1);
    let mut longer = good.clone();
    longer.push(b'x');
    for (what, bytes) in [
        ("garbage", b"\x00garbage{{{".to_vec()),
        ("cut", good[..good.len() - 3].to_vec()),
        ("longer than said", longer),
        (
            "older version",
            text.replacen("\"v\":2", "\"v\":1", 1).into_bytes(),
        ),
        ("another boot", boot.into_bytes()),
        ("empty", Vec::new()),
    ] {
        plant(&path, &bytes);
        assert_eq!(load(dir.path(), &key), None, "{what}");
    }
    // Dated in the future: ignored (the stamp is re-read, so only when it did change).
    if future != text {
        plant(&path, future.as_bytes());
        assert_eq!(load(dir.path(), &key), None, "future");
    }
    plant(&path, &good);
    assert!(load(dir.path(), &key).is_some(), "the good one is read");
    // A newer version's answer is neither used nor overwritten.
    let newer = text.replacen("\"v\":2", "\"v\":3", 1);
    plant(&path, newer.as_bytes());
    assert_eq!(load(dir.path(), &key), None);
    store(dir.path(), &key, &answer(SystemTime::now()));
    assert_eq!(std::fs::read(&path).unwrap(), newer.as_bytes());
}

#[test]
fn an_answer_planted_ahead_of_time_is_ignored_when_its_time_comes() {
    let (_dir, _key, path) = answer_file();
    let Some(mut stamp) = Stamp::now() else {
        return;
    };
    // Written now, but claiming to be written (and sent) two seconds from now: consistent
    // clocks, yet dated after the file last changed.
    let ahead = Duration::from_secs(2);
    stamp.mono_ns += crate::stamp::ns(ahead);
    stamp.wall_ms += ahead.as_millis() as u64;
    let sent = SystemTime::now() + ahead;
    let header = Header {
        v: FORMAT,
        stamp: stamp.clone(),
        sent_us: micros(sent),
        sent_mono_ns: stamp.mono_ns,
        received_us: micros(sent),
        status: 200,
        date: None,
        body_len: 2,
    };
    let mut bytes = serde_json::to_vec(&header).unwrap();
    bytes.extend_from_slice(b"\n{}");
    plant(&path, &bytes);
    let changed = std::fs::metadata(&path).unwrap().modified().unwrap();
    // Read as if its time had come: still not believed.
    let verdict = decode(&bytes, Some(changed));
    assert!(verdict.is_err());
}

#[cfg(unix)]
#[test]
fn symlinked_open_or_foreign_owned_files_are_ignored() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, key, path) = answer_file();
    let Some(good) = good_answer() else {
        return; // no boot id: nothing is shared
    };
    let elsewhere = private_dir();
    let target = elsewhere.path().join("answer");
    plant(&target, &good);
    std::os::unix::fs::symlink(&target, &path).unwrap();
    assert_eq!(load(dir.path(), &key), None, "symlink followed");
    // Storing replaces the link itself, never writes through it.
    store(dir.path(), &key, &answer(SystemTime::now()));
    assert_eq!(std::fs::read(&target).unwrap(), good);
    assert!(
        !std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    std::fs::remove_file(&path).unwrap();
    for mode in [0o644, 0o622, 0o604] {
        plant(&path, &good);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        assert_eq!(load(dir.path(), &key), None, "mode {mode:o}");
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(load(dir.path(), &key).is_some());
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
        assert_eq!(load(dir.path(), &key), None, "foreign owner");
    }
    std::fs::remove_file(&path).unwrap();
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    assert_eq!(load(dir.path(), &key), None, "a FIFO (must not block)");
}
