#!/usr/bin/env bash
# Deterministic simulation of imports (issues 20 and 21), both services, each seed run twice
# (the same seed must give the same trace), on tokio's paused clock in one process:
# - Woosmap: the real engine, Woosmap backend and API client (pacing, retries, answers, server
#   clock) against a simulated Datasets API, with faults drawn from each seed: 429s with and
#   without Retry-After, answers lost after the server processed the request, resets, 5xx
#   before and after processing, slow and silent answers, stale status reads, a lagging or
#   missing `Date` header, steps listed out of order, undocumented statuses, runs started by
#   others, Ctrl-C, and several invocations at once on one machine (sharing the process's
#   pacer) and on two (separate pacers).
# - Rocket.Chat: the real run (engine, ownership rule, staging and clean-up) and client
#   (X-RateLimit-* pacing, 429 waits on the server's clock, retries) against a simulated
#   import API (new/loading/ready/importing/done/error/canceled, import.new and import.clear
#   aborting the current operation), with other administrators' operations appearing at any
#   moment, a rate limiter on a server clock skewed from ours, answers lost after the server
#   acted, resets, 5xx, slow and silent answers, deadlines and Ctrl-C.
# See src/sim/ (Woosmap) and src/sim/rc/ (Rocket.Chat) for the invariants checked on every trace.
#
#   scripts/simulate.sh [--seeds N] [--from S]    seeds S..S+N (default 0..500) of both services
#   scripts/simulate.sh --seed S                  replays one seed and prints its traces
#   scripts/simulate.sh --only rocketchat ...     one service (woosmap or rocketchat)
#
# Prints a line per service and ends with `simulation: N seeds, 0 invariant violations
# (woosmap, rocketchat; … s)` (exit 0), or prints the failing service and seed, the invariant
# and the trace (exit 1). A benchmark-style run: `scripts/simulate.sh --seeds 10000`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ $# -eq 0 ]; then set -- --seeds 500; fi
# `fuzz` implies `sim`: the same features as the test build (scripts/test.sh), whose artifacts
# this then reuses instead of building the library a second time.
cargo build --quiet --locked --features fuzz --bin woosmap-simulate
target=${CARGO_TARGET_DIR:-$root/target}
exec "$target/debug/woosmap-simulate" "$@"
