//! What a Rocket.Chat seed draws: the invocations of `rocketchat-import` (their settings, when
//! they begin, Ctrl-C), the operation on the server when the simulation starts, the
//! operations other administrators create and how they progress, the server's rate limiter
//! and clock skew, and the fault rates and timings of the simulated import API.

use std::time::Duration;

use crate::sim::scenario::NetFaults;

/// One invocation of the Rocket.Chat run (`rocketchat::run::import_with`).
#[derive(Debug, Clone)]
pub(crate) struct Invocation {
    /// `X-User-Id`: often the same for every invocation (one set of CI credentials).
    pub user: String,
    /// When it begins, after the simulation's start.
    pub offset: Duration,
    pub timeout: Duration,
    pub request_timeout: Duration,
    pub poll_interval: Duration,
    pub users: usize,
    pub batch_size: usize,
    pub abort_running: bool,
    pub keep_staged: bool,
    pub wait: bool,
    /// Ctrl-C this long after it began.
    pub cancel_after: Option<Duration>,
}

/// An operation of another administrator: created at `at` (by `import.new`, which aborts the
/// current one), then through `steps` (time after creation, state); it stays in its last
/// state.
#[derive(Debug, Clone)]
pub(crate) struct Foreign {
    pub user: String,
    pub at: Duration,
    pub steps: Vec<(Duration, &'static str)>,
}

/// Per-request fault rates (per mille) and timings.
#[derive(Debug, Clone)]
pub(crate) struct Faults {
    /// The network's faults; a 429 means another client behind the same address spent the
    /// window.
    pub net: NetFaults,
    /// One-way network delay.
    pub latency: Duration,
}

/// The server's rate limiter: `calls` per route per `window`, per client (invocation).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub calls: u64,
    pub window: Duration,
}

/// Everything a Rocket.Chat seed decides.
#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    pub invocations: Vec<Invocation>,
    /// The operation current at the start (created before it), if any.
    pub initial: Option<Foreign>,
    pub others: Vec<Foreign>,
    pub faults: Faults,
    /// `None`: the limiter is off (users with `api-bypass-rate-limit`).
    pub limits: Option<Limits>,
    /// Our wall clock at the simulation's start, ms since the Unix epoch.
    pub local_epoch_ms: u64,
    /// How far the server's clock is ahead of ours (negative: behind).
    pub skew_ms: i64,
    /// How long importing one user takes.
    pub per_user: Duration,
    /// Our imports that end in `error` (per mille), and users that fail (per mille).
    pub import_fails: u32,
    pub user_fails: u32,
    /// Faults forced on given requests (route, its n-th request from 0, fault), for tests:
    /// `lost`, `reset`, `5xx`, `hang` (processed, never answered).
    pub forced: Vec<(&'static str, usize, &'static str)>,
}

fn secs(rng: &mut fastrand::Rng, lo: u64, hi: u64) -> Duration {
    Duration::from_millis(rng.u64(lo * 1000..=hi * 1000))
}

fn rate(rng: &mut fastrand::Rng, max: u32) -> u32 {
    if rng.bool() { rng.u32(0..=max) } else { 0 }
}

/// Another administrator's operation: staged for a while (sometimes abandoned while staged),
/// then imported to an end.
fn foreign(rng: &mut fastrand::Rng, at: Duration, our_user: &str) -> Foreign {
    let user = if rng.u32(0..5) == 0 {
        our_user.to_owned()
    } else {
        "u-other-admin".to_owned()
    };
    let mut t = Duration::ZERO;
    let mut steps = vec![(t, if rng.u32(0..4) == 0 { "loading" } else { "new" })];
    t += secs(rng, 0, 90);
    steps.push((t, "ready"));
    if rng.u32(0..6) != 0 {
        t += secs(rng, 0, 60);
        steps.push((t, "importing"));
        t += secs(rng, 1, 240);
        let end = match rng.u32(0..10) {
            0 => "error",
            1 => "canceled",
            _ => "done",
        };
        steps.push((t, end));
    }
    Foreign { user, at, steps }
}

impl Scenario {
    pub(crate) fn draw(seed: u64) -> Scenario {
        let mut rng = fastrand::Rng::with_seed(seed ^ 0x0c4a_7100_0001);
        let shared_user = rng.u32(0..4) != 0;
        let invocations: Vec<Invocation> = (0..rng.usize(1..=3))
            .map(|i| Invocation {
                user: if shared_user {
                    "u-ci".to_owned()
                } else {
                    format!("u-ci{i}")
                },
                offset: Duration::from_millis(rng.u64(0..=90_000)),
                timeout: secs(&mut rng, 20, 900),
                request_timeout: secs(&mut rng, 2, 30),
                poll_interval: secs(&mut rng, 1, 10),
                users: rng.usize(1..=30),
                batch_size: rng.usize(1..=12),
                abort_running: rng.u32(0..5) == 0,
                keep_staged: rng.u32(0..8) == 0,
                wait: rng.u32(0..10) != 0,
                cancel_after: (rng.u32(0..8) == 0)
                    .then(|| Duration::from_millis(rng.u64(0..=200_000))),
            })
            .collect();
        let ours = invocations[0].user.clone();
        let initial = match rng.u32(0..4) {
            0 => None,
            _ => {
                let mut f = foreign(&mut rng, Duration::ZERO, &ours);
                // Created some time before the start: drop the steps already past.
                let before = secs(&mut rng, 0, 120);
                let mut steps: Vec<_> = f
                    .steps
                    .iter()
                    .map(|&(t, s)| (t.saturating_sub(before), s))
                    .collect();
                while steps.len() > 1 && steps[1].0.is_zero() {
                    steps.remove(0);
                }
                steps[0].0 = Duration::ZERO;
                f.steps = steps;
                Some(f)
            }
        };
        let others = (0..rng.usize(0..=2))
            .map(|_| {
                let at = Duration::from_millis(rng.u64(0..=300_000));
                foreign(&mut rng, at, &ours)
            })
            .collect();
        let faults = Faults {
            net: NetFaults::draw(&mut rng, [100, 120, 100, 120, 80, 150, 50], |rng| {
                secs(rng, 1, 45)
            }),
            latency: Duration::from_millis(rng.u64(1..=300)),
        };
        let limits = rng.bool().then(|| Limits {
            calls: rng.u64(2..=12),
            window: secs(&mut rng, 5, 60),
        });
        let skew_ms = match rng.u32(0..3) {
            0 => rng.i64(-900_000..=900_000),
            1 => rng.i64(-3_000..=3_000),
            _ => 0,
        };
        Scenario {
            invocations,
            initial,
            others,
            faults,
            limits,
            local_epoch_ms: 1_767_225_600_000 + rng.u64(0..=86_400_000),
            skew_ms,
            per_user: Duration::from_millis(rng.u64(10..=2_000)),
            import_fails: rate(&mut rng, 200),
            user_fails: rate(&mut rng, 100),
            forced: Vec::new(),
        }
    }

    /// One invocation on a calm server (no faults, no limiter, nobody else), for tests.
    #[cfg(test)]
    pub(crate) fn calm() -> Scenario {
        Scenario {
            invocations: vec![Invocation {
                user: "u-ci".to_owned(),
                offset: Duration::ZERO,
                timeout: Duration::from_secs(300),
                request_timeout: Duration::from_secs(10),
                poll_interval: Duration::from_secs(1),
                users: 3,
                batch_size: 2,
                abort_running: false,
                keep_staged: false,
                wait: true,
                cancel_after: None,
            }],
            initial: None,
            others: Vec::new(),
            faults: Faults {
                net: NetFaults::default(),
                latency: Duration::from_millis(20),
            },
            limits: None,
            local_epoch_ms: 1_767_225_600_000,
            skew_ms: 0,
            per_user: Duration::from_millis(100),
            import_fails: 0,
            user_fails: 0,
            forced: Vec::new(),
        }
    }
}
