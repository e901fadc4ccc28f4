#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the real tools the tests drive (Terraform, act,
# the workflow linters, cargo-fuzz) into .venv and .tools, checks formatting and lints, runs
# every test, then fuzzes each target briefly. Extra arguments go to `cargo test`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup-tools.sh
export PATH="$root/scripts:$root/.venv/bin:$PATH"
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
mkdir -p target
log="$root/target/test-output.log"
cargo test --locked --no-fail-fast "$@" 2>&1 | tee "$log"
scripts/fuzz.sh 20
# One closing line for the whole run (cargo prints one per test binary, fuzzing came after).
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
