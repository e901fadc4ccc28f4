#!/usr/bin/env bash
# Packages the woosmap-import CLI as the GitHub Action downloads it, into dist/ (or --out DIR):
#   woosmap-import_VERSION_OS_ARCH.tar.gz   (linux, darwin) or .zip (windows), holding
#                                           woosmap-import (woosmap-import.exe on Windows)
#   woosmap-import_VERSION_SHA256SUMS       every such archive in the directory
# OS is linux, darwin or windows and ARCH amd64 or arm64, as scripts/action-install.sh asks.
#
# Usage:
#   scripts/package-cli.sh [--profile release|dev] [--target TRIPLE] [--out DIR]
#       builds with cargo (default: the release profile; PROFILE=dev in the environment sets
#       the default), for the host or TRIPLE, then packages.
#   scripts/package-cli.sh --binary PATH --platform OS_ARCH [--out DIR]
#       packages a binary built elsewhere (the release workflow does this per platform).
# Prints the path of the archive on stdout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
name=woosmap-import

profile=${PROFILE:-release}
target=""
out="$root/dist"
binary=""
platform=""
version=""
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --platform) platform=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "package-cli: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ -z "$version" ]; then
  version=$(sed -n '/^\[package\]/,/^\[/ s/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)
fi

# zip_one ZIPFILE DIR NAME: a zip of DIR/NAME holding NAME (zip, else 7-Zip on Windows runners).
zip_one() {
  if command -v zip > /dev/null; then
    (cd "$2" && zip -q -X "$1" "$3")
  elif command -v 7z > /dev/null; then
    (cd "$2" && 7z a -tzip -bd "$1" "$3" > /dev/null)
  else
    echo "$(basename "$0"): zip or 7z is needed" >&2
    return 1
  fi
}

platform_of() {
  local os arch
  case "$1" in
    *-linux-*) os=linux ;;
    *-apple-darwin) os=darwin ;;
    *-windows-*) os=windows ;;
    *) echo "package-cli: no platform name for target $1" >&2; return 1 ;;
  esac
  case "$1" in
    x86_64-*) arch=amd64 ;;
    aarch64-*) arch=arm64 ;;
    *) echo "package-cli: no platform name for target $1" >&2; return 1 ;;
  esac
  echo "${os}_$arch"
}

if [ -z "$binary" ]; then
  host=$(rustc -vV | sed -n 's/^host: //p')
  platform=$(platform_of "${target:-$host}")
  args=(build --locked --profile "$profile" --bin "$name")
  [ -n "$target" ] && args+=(--target "$target")
  (cd "$root" && cargo "${args[@]}" >&2)
  case "$profile" in dev | test) dir=debug ;; bench) dir=release ;; *) dir=$profile ;; esac
  target_dir=${CARGO_TARGET_DIR:-$root/target}
  [ -n "$target" ] && target_dir="$target_dir/$target"
  binary="$target_dir/$dir/$name"
  [ "${platform%%_*}" = windows ] && binary="$binary.exe"
elif [ -z "$platform" ]; then
  echo "package-cli: --binary needs --platform OS_ARCH (e.g. linux_amd64)" >&2
  exit 2
fi
[ -f "$binary" ] || { echo "package-cli: $binary not found" >&2; exit 1; }

mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
if [ "${platform%%_*}" = windows ]; then
  cp "$binary" "$stage/$name.exe"
  archive="$out/${name}_${version}_$platform.zip"
  rm -f "$archive"
  zip_one "$archive" "$stage" "$name.exe"
else
  cp "$binary" "$stage/$name"
  chmod 755 "$stage/$name"
  archive="$out/${name}_${version}_$platform.tar.gz"
  tar -czf "$archive" -C "$stage" "$name"
fi

sha256() { if command -v sha256sum > /dev/null; then sha256sum "$@"; else shasum -a 256 "$@"; fi; }
(
  cd "$out"
  shopt -s nullglob
  sha256 "${name}_${version}"_*.tar.gz "${name}_${version}"_*.zip > "${name}_${version}_SHA256SUMS"
)
echo "$archive"
