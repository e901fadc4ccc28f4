#!/usr/bin/env bash
# Deterministic simulation of Woosmap imports (issue 20): the real engine, Woosmap backend and
# API client (pacing, retries, answers, server clock) run on tokio's paused clock against a
# simulated Datasets API in the same process, with faults drawn from each seed: 429s with and
# without Retry-After, answers lost after the server processed the request, resets, 5xx before
# and after processing, slow and silent answers, stale status reads, a lagging or missing
# `Date` header, steps listed out of order, undocumented statuses, runs started by others,
# Ctrl-C, and several invocations at once on one machine (sharing the process's pacer) and on
# two (separate pacers). See src/sim/ for the invariants checked on every trace.
#
#   scripts/simulate.sh [--seeds N] [--from S]    seeds S..S+N (default 0..500), each run twice
#   scripts/simulate.sh --seed S                  replays one seed and prints its trace
#
# Ends with `simulation: N seeds, 0 invariant violations` (exit 0), or prints the failing seed,
# the invariant and the trace (exit 1). A benchmark-style run: `scripts/simulate.sh --seeds 10000`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ $# -eq 0 ]; then set -- --seeds 500; fi
# `fuzz` implies `sim`: the same features as the test build (scripts/test.sh), whose artifacts
# this then reuses instead of building the library a second time.
cargo build --quiet --locked --features fuzz --bin woosmap-simulate
target=${CARGO_TARGET_DIR:-$root/target}
exec "$target/debug/woosmap-simulate" "$@"
