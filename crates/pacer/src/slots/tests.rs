use super::*;
use crate::folder::tests::TEST_SERVICE;

fn key(route: &'static str) -> SlotKey {
    SlotKey {
        service: &TEST_SERVICE,
        scope: Arc::from(format!("http://pacer.test\n{:032x}", fastrand::u128(..))),
        route,
    }
}

fn pace(interval: Duration) -> Pace {
    Pace {
        interval,
        window: interval,
        request_limit: Duration::from_secs(30),
    }
}

/// The in-process pacer alone (the tokio clock is paused here; the shared files are tested
/// with the real clock below and across real processes in the product's tests).
async fn local(k: &SlotKey, interval: Duration, deadline: Instant) -> Result<Slot, PaceError> {
    match acquire_with(k, pace(interval), deadline, false, Wants::default()).await? {
        Acquired::Slot(slot) => Ok(slot),
        _ => panic!("no claim was made"),
    }
}

fn claim(since: Instant, recheck: Duration) -> Wants {
    Wants {
        claim: Some((since, recheck)),
        wish: None,
    }
}

/// Takes a slot from the in-process pacer and answers it (its response came back).
async fn local_received(k: &SlotKey, interval: Duration, deadline: Instant) {
    local(k, interval, deadline).await.unwrap().received().await;
}

/// A claim that sleeps out the whole window.
const NO_RECHECK: Duration = Duration::MAX;

#[tokio::test(start_paused = true)]
async fn a_claim_waiting_for_the_slot_looks_again_after_each_recheck() {
    let k = key("trigger");
    let far = Instant::now() + Duration::from_secs(3600);
    let window = Duration::from_secs(90);
    let try_claim =
        |since, recheck| acquire_with(&k, pace(window), far, false, claim(since, recheck));
    let Acquired::Slot(slot) = try_claim(Instant::now(), NO_RECHECK).await.unwrap() else {
        panic!("nothing was claimed yet")
    };
    slot.claimed(None).await;
    tokio::time::sleep(Duration::from_millis(1)).await;
    let t0 = Instant::now();
    let recheck = Duration::from_secs(5);
    assert!(matches!(
        try_claim(t0, recheck).await.unwrap(),
        Acquired::Waited
    ));
    assert_eq!(
        Instant::now() - t0,
        recheck,
        "looks again after one recheck"
    );
    // Near the end of the window, the wait stops at the slot, which is then free.
    tokio::time::sleep(window - recheck - Duration::from_secs(1)).await;
    assert!(matches!(
        try_claim(t0, recheck).await.unwrap(),
        Acquired::Waited
    ));
    assert!(matches!(
        try_claim(t0, recheck).await.unwrap(),
        Acquired::Slot(_)
    ));
}

#[tokio::test(start_paused = true)]
async fn a_claim_accepted_since_the_moment_is_not_repeated() {
    let k = key("trigger");
    let far = Instant::now() + Duration::from_secs(3600);
    let window = pace(Duration::from_secs(90));
    let before = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let since = Instant::now();
    let first = acquire_with(&k, window, far, false, claim(since, NO_RECHECK));
    let Acquired::Slot(slot) = first.await.unwrap() else {
        panic!("nothing was claimed yet")
    };
    slot.claimed(Some("run-0".into())).await;
    // A claim from before the request left is served by it, at once.
    for moment in [since, before] {
        let again = acquire_with(&k, window, far, false, claim(moment, NO_RECHECK));
        match again.await.unwrap() {
            Acquired::AlreadyClaimed { note } => assert_eq!(note.as_deref(), Some("run-0")),
            _ => panic!("claimed twice"),
        }
    }
    assert_eq!(Instant::now(), since);
    // A claim from after it waits for the window, then is told to look again; claiming
    // again once the window is open gets the slot.
    let later = Instant::now() + Duration::from_millis(1);
    tokio::time::sleep(Duration::from_millis(1)).await;
    let try_claim = || acquire_with(&k, window, far, false, claim(later, NO_RECHECK));
    assert!(matches!(try_claim().await.unwrap(), Acquired::Waited));
    assert!(Instant::now() - since >= Duration::from_secs(90));
    let waited_until = Instant::now();
    assert!(matches!(try_claim().await.unwrap(), Acquired::Slot(_)));
    assert_eq!(Instant::now(), waited_until, "no second wait");
}

#[tokio::test(start_paused = true)]
async fn first_call_is_immediate_then_spaced_from_receipt() {
    let k = key("status");
    let far = Instant::now() + Duration::from_secs(3600);
    let t0 = Instant::now();
    let s = local(&k, Duration::from_secs(5), far).await.unwrap();
    assert_eq!(Instant::now(), t0);
    tokio::time::sleep(Duration::from_secs(2)).await; // the response takes 2 s
    s.received().await;
    let _s = local(&k, Duration::from_secs(5), far).await.unwrap();
    assert_eq!(Instant::now() - t0, Duration::from_secs(7));
}

#[tokio::test(start_paused = true)]
async fn concurrent_callers_queue() {
    let k = key("trigger");
    let far = Instant::now() + Duration::from_secs(3600);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let k = k.clone();
        tasks.push(tokio::spawn(async move {
            let s = local(&k, Duration::from_secs(10), far).await.unwrap();
            let at = Instant::now();
            s.received().await;
            at - t0
        }));
    }
    let mut times = Vec::new();
    for t in tasks {
        times.push(t.await.unwrap());
    }
    times.sort();
    let secs = |s| Duration::from_secs(s);
    assert_eq!(times, vec![secs(0), secs(10), secs(20)]);
}

#[tokio::test(start_paused = true)]
async fn deadline_fails_fast_without_sleeping() {
    let k = key("status");
    let t0 = Instant::now();
    local_received(&k, Duration::from_secs(5), t0 + Duration::from_secs(60)).await;
    let err = local(&k, Duration::from_secs(5), t0 + Duration::from_secs(3))
        .await
        .err()
        .unwrap();
    assert_eq!(err.ready_at, Some(t0 + Duration::from_secs(5)));
    assert_eq!(
        Instant::now(),
        t0,
        "must not sleep when the slot is too late"
    );
}

#[tokio::test(start_paused = true)]
async fn not_sent_keeps_slot_and_429_pushes_it() {
    let k = key("trigger");
    let far = Instant::now() + Duration::from_secs(3600);
    let t0 = Instant::now();
    local(&k, Duration::from_secs(90), far)
        .await
        .unwrap()
        .not_sent()
        .await;
    let s = local(&k, Duration::from_secs(90), far).await.unwrap();
    assert_eq!(Instant::now(), t0, "a request never sent uses no slot");
    s.rate_limited(Duration::from_secs(120), false).await;
    let s = local(&k, Duration::from_secs(90), far).await.unwrap();
    assert_eq!(Instant::now() - t0, Duration::from_secs(120));
    drop(s); // dropped mid-request: counts as used now
    let _s = local(&k, Duration::from_secs(90), far).await.unwrap();
    assert_eq!(Instant::now() - t0, Duration::from_secs(210));
}

#[tokio::test(start_paused = true)]
async fn keys_are_independent() {
    let a = key("status");
    let b = SlotKey {
        route: "trigger",
        ..a.clone()
    };
    let far = Instant::now() + Duration::from_secs(3600);
    let t0 = Instant::now();
    local_received(&a, Duration::from_secs(5), far).await;
    local_received(&b, Duration::from_secs(5), far).await;
    assert_eq!(Instant::now(), t0);
}

/// Shared answers, through the test folder on the wall clock: a call that asked before an
/// answer's request left takes it instead of waiting for its slot; a call that asked later,
/// or for another key, does not.
#[tokio::test]
async fn answers_serve_only_calls_that_asked_before_they_were_sent() {
    use std::time::SystemTime;
    if crate::Stamp::now().is_none() {
        return; // no boot id: nothing is shared
    }
    let k = key("status");
    let p = pace(Duration::from_secs(5));
    let far = Instant::now() + Duration::from_secs(60);
    let answers = AnswerKey::new("test", &[&k.scope, "a-private-key"]);
    let early = AnswerWish::now(answers.clone());
    tokio::time::sleep(Duration::from_millis(2)).await;
    let Acquired::Slot(slot) = acquire_or_answer(&k, p, far, Some(&early)).await.unwrap() else {
        panic!("nothing to share yet: the first call reads")
    };
    let (sent, sent_mono) = (SystemTime::now(), crate::mono_now());
    tokio::time::sleep(Duration::from_millis(2)).await;
    let late = AnswerWish::now(answers.clone());
    let body = br#"{"id":"run-1","status":"in_progress","steps":[]}"#.to_vec();
    slot.answered(
        answers.clone(),
        SharedAnswer {
            sent,
            sent_mono,
            received: SystemTime::now(),
            status: 200,
            date: None,
            body: body.clone(),
        },
    )
    .await;
    // Asked before that read left: served at once instead of waiting 5 s.
    match acquire_or_answer(&k, p, far, Some(&early)).await {
        Ok(Acquired::Shared(answer)) => assert_eq!(answer.body, body),
        _ => panic!("the shared answer was not used"),
    }
    let soon = || Instant::now() + Duration::from_millis(200);
    let other_key = AnswerWish {
        key: AnswerKey::new("test", &[&k.scope, "another-key"]),
        ..early.clone()
    };
    for (what, w) in [("asked later", &late), ("another key", &other_key)] {
        let got = acquire_or_answer(&k, p, soon(), Some(w)).await;
        assert!(
            matches!(got, Err(PaceError { ready_at: Some(_) })),
            "{what}"
        );
    }
    assert!(acquire(&k, p, soon()).await.is_err(), "no wish");
}

/// A reservation recorded by another process holds this one back; one of a process that is
/// gone does not.
#[cfg(unix)]
#[tokio::test]
async fn a_reservation_of_a_live_process_holds_and_of_a_gone_one_does_not() {
    if crate::Stamp::now().is_none() {
        return;
    }
    let p = pace(Duration::from_millis(10));
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let gone = child.id();
    child.wait().unwrap();
    for (pid, held) in [(gone, false), (1, true)] {
        let k = key("status");
        let path = TEST_SERVICE.dir().unwrap().join(k.file_name());
        let stamp = crate::Stamp::now().unwrap();
        let until = stamp.mono_ns + 20_000_000_000;
        let planted = serde_json::json!({
            "v": 2, "stamp": stamp, "inflight_until_ns": until, "inflight_pid": pid,
        });
        crate::file::write_atomic(&path, planted.to_string().as_bytes()).unwrap();
        let soon = Instant::now() + Duration::from_millis(200);
        assert_eq!(acquire(&k, p, soon).await.is_err(), held, "pid {pid}");
    }
}
