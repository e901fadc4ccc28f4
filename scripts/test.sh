#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the real tools the tests drive (Terraform, act)
# into .venv, checks formatting and lints, then runs every test.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup-tools.sh
export PATH="$root/scripts:$root/.venv/bin:$PATH"
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked --no-fail-fast "$@"
scripts/fuzz.sh 20
