#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the real tools the tests drive (Terraform, act,
# the workflow linters, cargo-fuzz) into .venv and .tools, checks formatting and lints, runs
# every test, then fuzzes each target briefly, and fails if the run left files in the user's
# default pacer folders (scripts/lib/pacer-folders.sh). Extra arguments go to `cargo test`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup-tools.sh
export PATH="$root/scripts:$root/.venv/bin:$PATH"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --features fuzz --locked -- -D warnings
mkdir -p target
log="$root/target/test-output.log"
status=0
# Most tests wait on the sandbox's windows and on Terraform, not on the CPU: more of them at
# once than the 2 cores libtest defaults to on a 2-core machine (2026-12-03, 2 cores under load:
# terraform_semantics 41 -> 21 s, pacer_processes 30 -> 14 s, cli 43 -> 31 s,
# rocketchat_terraform_action 27 -> 16 s at 8). RUST_TEST_THREADS from the caller wins.
export RUST_TEST_THREADS=${RUST_TEST_THREADS:-8}
# Tests pace in private folders; what they add to the user's default ones fails the run.
pacer_mark="$root/target/pacer-folders.mark"
scripts/lib/pacer-folders.sh mark "$pacer_mark"
cargo test --workspace --features fuzz --locked --no-fail-fast "$@" 2>&1 | tee "$log" || status=$?
scripts/fuzz.sh 20 || status=$?
scripts/lib/pacer-folders.sh check "$pacer_mark" || status=$?
# One closing line for the whole run (cargo prints one per test binary, fuzzing came after),
# printed whether or not something failed.
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, i }' "$log"
exit "$status"
