#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz + libFuzzer) of the parsers that read untrusted input:
# Terraform's msgpack/JSON values, the API's answers, and values users type (see fuzz/ and
# src/fuzzing.rs).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]    SECONDS per target (default 20); all targets by default
#
# scripts/test.sh runs it briefly after the tests; run it longer by hand, e.g.
# `scripts/fuzz.sh 600`. A crash stops with the reproducer saved under fuzz/artifacts/TARGET/;
# copy it to fuzz/regressions/TARGET/ once fixed, and `cargo test --features fuzz --test fuzz_entries`
# replays it from then on.
#
# Stable Rust is enough: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags (sanitizer
# coverage), and no sanitizer is used (AddressSanitizer needs a nightly standard library; the
# code under test is safe Rust, where panics and aborts are what there is to find). cargo-fuzz
# is installed into .tools on first use.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

seconds=${1:-20}
if [ $# -gt 0 ]; then shift; fi
cargo_fuzz_version=0.13.2
export PATH="$root/.tools/bin:$PATH"
export RUSTC_BOOTSTRAP=1

if [ "$(cargo fuzz --version 2> /dev/null || true)" != "cargo-fuzz $cargo_fuzz_version" ]; then
  echo "fuzz: installing cargo-fuzz $cargo_fuzz_version into .tools"
  cargo install --locked --quiet --root "$root/.tools" cargo-fuzz --version "$cargo_fuzz_version"
fi

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

# One build for every target (the first one compiles the dependencies, a few minutes).
build=(--sanitizer none --target-dir "$root/target/fuzz")
started=$(date +%s)
cargo fuzz build "${build[@]}"
echo "fuzz: built ${#targets[@]} targets in $(($(date +%s) - started))s"

status=0
for target in "${targets[@]}"; do
  corpus="$root/target/fuzz-corpus/$target"
  mkdir -p "$corpus"
  echo "fuzz: $target for ${seconds}s"
  log="$root/target/fuzz-$target.log"
  # The corpus grows in target/ (kept between runs); the committed seeds start it.
  if cargo fuzz run "${build[@]}" "$target" "$corpus" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    > "$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
    echo "fuzz: $target ok: ${runs:-?} executions, ${cov:-cov: ?}, corpus $(find "$corpus" -type f | wc -l) inputs"
  else
    status=1
    echo "fuzz: $target FAILED (full log: $log):" >&2
    grep -E -A20 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | head -n 60 >&2 || tail -n 40 "$log" >&2
  fi
done
exit "$status"
