//! What a seed draws: the machines, datasets and invocations, the dataset's history, the runs
//! others start, and the fault rates and timings of the simulated API.

use std::time::Duration;

use crate::woosmap::api::DatasetId;
use crate::woosmap::import::DATE_LAG_TOLERANCE;

/// Dataset `n` of every simulation (fixed ids: traces name them).
pub(crate) fn dataset(n: usize) -> DatasetId {
    DatasetId::parse(&format!("00000000-0000-4000-8000-{n:012}")).expect("a valid UUID")
}

/// One invocation of `run_import`.
#[derive(Debug, Clone)]
pub(crate) struct Invocation {
    pub machine: usize,
    pub dataset: usize,
    /// When it begins, after the simulation's start.
    pub offset: Duration,
    pub timeout: Duration,
    pub request_timeout: Duration,
    pub wait: bool,
    /// Ctrl-C this long after it began.
    pub cancel_after: Option<Duration>,
}

/// The latest run of a dataset when the simulation starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum History {
    /// Never imported (404).
    None,
    /// Ended long ago.
    Old,
    /// Started this long before the simulation, ended just before it.
    EndedJustBefore(Duration),
    /// Started this long before the simulation and still running.
    Running(Duration),
}

/// The network faults both simulated APIs draw for each request: rates per mille, and how
/// slow a slow answer may be.
#[derive(Debug, Clone, Default)]
pub(crate) struct NetFaults {
    /// 429 without processing.
    pub rate_limit: u32,
    /// Processed, then the answer is lost (connection reset).
    pub lost_after: u32,
    /// Not processed, connection reset.
    pub reset: u32,
    /// 502/503 without processing.
    pub http_5xx: u32,
    /// Processed, then 502 (the work happened, the answer says it failed).
    pub http_5xx_after: u32,
    /// Processed; the answer comes after up to `slow_max`.
    pub slow: u32,
    pub slow_max: Duration,
    /// Never answered, not processed.
    pub silent: u32,
}

impl NetFaults {
    /// Draws each rate as 0 half of the time, else up to its `most` (in the order
    /// `[rate_limit, lost_after, reset, http_5xx, http_5xx_after, slow, silent]`), and
    /// `slow_max` with `slow_max`; in the fields' order, so a seed draws what it always drew.
    pub(crate) fn draw(
        rng: &mut fastrand::Rng,
        most: [u32; 7],
        slow_max: impl FnOnce(&mut fastrand::Rng) -> Duration,
    ) -> NetFaults {
        let rate =
            |rng: &mut fastrand::Rng, max: u32| if rng.bool() { rng.u32(0..=max) } else { 0 };
        let [
            rate_limit,
            lost_after,
            reset,
            http_5xx,
            http_5xx_after,
            slow,
            silent,
        ] = most;
        NetFaults {
            rate_limit: rate(rng, rate_limit),
            lost_after: rate(rng, lost_after),
            reset: rate(rng, reset),
            http_5xx: rate(rng, http_5xx),
            http_5xx_after: rate(rng, http_5xx_after),
            slow: rate(rng, slow),
            slow_max: slow_max(rng),
            silent: rate(rng, silent),
        }
    }
}

/// Per-request fault rates (per mille) and timings of the simulated API.
#[derive(Debug, Clone)]
pub(crate) struct Faults {
    /// The network's faults; half of the 429s come with a `Retry-After`.
    pub net: NetFaults,
    /// Answered with the run before the latest visible one (while the latest is fresh).
    pub stale: u32,
    /// One-way network delay, each way.
    pub latency: Duration,
    /// The `Date` header lags the clock that stamps steps by this much.
    pub date_lag: Duration,
    /// No `Date` header at all.
    pub no_date: bool,
    /// Steps listed latest first.
    pub steps_reversed: bool,
    /// How long a run takes to show after its trigger.
    pub start_delay_max: Duration,
    /// Runs end with an undocumented status (per mille): `cancelled` (every step ended) or
    /// `queued` (steps open forever).
    pub undocumented: u32,
}

/// Everything a seed decides.
#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    pub datasets: usize,
    pub history: Vec<History>,
    pub invocations: Vec<Invocation>,
    /// Triggers by others: (dataset, when).
    pub others: Vec<(usize, Duration)>,
    pub faults: Faults,
    /// The server's clock at the simulation's start, ms since the Unix epoch.
    pub server_epoch_ms: u64,
}

impl Scenario {
    pub(crate) fn draw(seed: u64) -> Scenario {
        let mut rng = fastrand::Rng::with_seed(seed ^ 0x005e_ed0f_51a1);
        let secs =
            |rng: &mut fastrand::Rng, lo: u64, hi: u64| Duration::from_secs(rng.u64(lo..=hi));
        let datasets = rng.usize(1..=2);
        let history = (0..datasets)
            .map(|_| match rng.u32(0..4) {
                0 => History::None,
                1 => History::Old,
                2 => History::EndedJustBefore(secs(&mut rng, 5, 60)),
                _ => History::Running(secs(&mut rng, 1, 120)),
            })
            .collect();
        let machines = rng.usize(1..=2);
        let invocations = (0..rng.usize(1..=4))
            .map(|_| Invocation {
                machine: rng.usize(0..machines),
                dataset: rng.usize(0..datasets),
                offset: Duration::from_millis(rng.u64(0..=120_000)),
                timeout: secs(&mut rng, 10, 900),
                request_timeout: secs(&mut rng, 2, 30),
                wait: rng.u32(0..10) != 0,
                cancel_after: (rng.u32(0..10) == 0)
                    .then(|| Duration::from_millis(rng.u64(0..=300_000))),
            })
            .collect();
        let others = (0..rng.usize(0..=2))
            .map(|_| {
                (
                    rng.usize(0..datasets),
                    Duration::from_millis(rng.u64(0..=400_000)),
                )
            })
            .collect();
        let rate =
            |rng: &mut fastrand::Rng, max: u32| if rng.bool() { rng.u32(0..=max) } else { 0 };
        let faults = Faults {
            net: NetFaults::draw(&mut rng, [150, 150, 100, 150, 100, 150, 60], |rng| {
                secs(rng, 1, 60)
            }),
            stale: rate(&mut rng, 200),
            latency: Duration::from_millis(rng.u64(1..=400)),
            // Within the engine's tolerance (a larger lag is outside what it promises).
            date_lag: if rng.u32(0..3) == 0 {
                let most = DATE_LAG_TOLERANCE.as_millis() as u64 - 1;
                Duration::from_millis(rng.u64(1..=most))
            } else {
                Duration::ZERO
            },
            no_date: rng.u32(0..8) == 0,
            steps_reversed: rng.bool(),
            start_delay_max: secs(&mut rng, 0, 30),
            undocumented: rate(&mut rng, 200),
        };
        Scenario {
            datasets,
            history,
            invocations,
            others,
            faults,
            server_epoch_ms: 1_767_225_600_000 + rng.u64(0..=86_400_000),
        }
    }
}
