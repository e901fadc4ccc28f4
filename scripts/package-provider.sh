#!/usr/bin/env bash
# Packages the Terraform provider the way the Terraform registry (and a filesystem mirror)
# expects it, into dist/ (or --out DIR):
#   terraform-provider-woosmap_VERSION_OS_ARCH.zip    holding terraform-provider-woosmap_vVERSION
#                                                     (.exe on Windows)
#   terraform-provider-woosmap_VERSION_manifest.json  a copy of terraform-registry-manifest.json
#   terraform-provider-woosmap_VERSION_SHA256SUMS     every such zip in the directory + manifest
#
# Usage:
#   scripts/package-provider.sh [--profile release|dev] [--target TRIPLE] [--out DIR]
#       builds with cargo (default: the release profile — slow, it has LTO — for the host),
#       then packages. PROFILE=dev in the environment sets the default profile.
#   scripts/package-provider.sh --binary PATH --platform OS_ARCH [--out DIR]
#       packages a binary built elsewhere (the release workflow does this per platform).
# Prints the path of the zip on stdout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
name=terraform-provider-woosmap

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
    *) echo "package-provider: unknown argument $1 (see --help)" >&2; exit 2 ;;
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

# OS_ARCH in Terraform's words for a Rust target triple.
platform_of() {
  local os arch
  case "$1" in
    *-linux-*) os=linux ;;
    *-apple-darwin) os=darwin ;;
    *-windows-*) os=windows ;;
    *-freebsd) os=freebsd ;;
    *) echo "package-provider: no Terraform platform for target $1" >&2; return 1 ;;
  esac
  case "$1" in
    x86_64-*) arch=amd64 ;;
    aarch64-*) arch=arm64 ;;
    i686-*) arch=386 ;;
    *) echo "package-provider: no Terraform platform for target $1" >&2; return 1 ;;
  esac
  echo "${os}_$arch"
}

if [ -z "$binary" ]; then
  host=$(rustc -vV | sed -n 's/^host: //p')
  triple=${target:-$host}
  platform=$(platform_of "$triple")
  args=(build --locked --profile "$profile" --bin "$name")
  [ -n "$target" ] && args+=(--target "$target")
  (cd "$root" && cargo "${args[@]}" >&2)
  case "$profile" in dev | test) dir=debug ;; bench) dir=release ;; *) dir=$profile ;; esac
  target_dir=${CARGO_TARGET_DIR:-$root/target}
  [ -n "$target" ] && target_dir="$target_dir/$target"
  binary="$target_dir/$dir/$name"
  [ "${platform%%_*}" = windows ] && binary="$binary.exe"
elif [ -z "$platform" ]; then
  echo "package-provider: --binary needs --platform OS_ARCH (e.g. linux_amd64)" >&2
  exit 2
fi
[ -f "$binary" ] || { echo "package-provider: $binary not found" >&2; exit 1; }

exe=""
[ "${platform%%_*}" = windows ] && exe=.exe
mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$binary" "$stage/${name}_v$version$exe"
chmod 755 "$stage/${name}_v$version$exe"
zipfile="$out/${name}_${version}_$platform.zip"
rm -f "$zipfile"
zip_one "$zipfile" "$stage" "${name}_v$version$exe"
cp "$root/terraform-registry-manifest.json" "$out/${name}_${version}_manifest.json"

sha256() { if command -v sha256sum > /dev/null; then sha256sum "$@"; else shasum -a 256 "$@"; fi; }
(cd "$out" && sha256 "${name}_${version}"_*.zip "${name}_${version}_manifest.json" > "${name}_${version}_SHA256SUMS")
echo "$zipfile"
