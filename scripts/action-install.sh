#!/usr/bin/env bash
# Finds or installs the binary an action of this repository runs — woosmap-import for
# action.yml, rocketchat-import for its `service: rocketchat` ($ACTION_BINARY, default
# woosmap-import) — and writes its path as the step output `path`. In order:
#   1. that binary on PATH whose `--version` is the wanted version;
#   2. the release archive for this runner's OS/arch, checksum-verified against the release's
#      BINARY_VERSION_SHA256SUMS (cached under $RUNNER_TEMP for later steps of the job);
#   3. `cargo install --locked --path` from the action's own source.
# The wanted version is $WOOSMAP_IMPORT_VERSION (the action's `version` input), else the
# version in the Cargo.toml of the action's source ($ACTION_SOURCE_DIR, default
# $GITHUB_ACTION_PATH; every binary of the package shares its version and its releases).
# Releases are read from the `repository` of Cargo.toml, or from $WOOSMAP_IMPORT_RELEASES (a
# base URL, e.g. a mirror or a file:// directory, holding vVERSION/ASSET). Runs on Linux,
# macOS and Windows (Git Bash) runners.
set -euo pipefail

name=${ACTION_BINARY:-woosmap-import}
case "$name" in
  woosmap-import | rocketchat-import) ;;
  *) echo "::error title=action-install::ACTION_BINARY must be woosmap-import or rocketchat-import, not '$name'"; exit 1 ;;
esac
action_path=${ACTION_SOURCE_DIR:-${GITHUB_ACTION_PATH:-$(cd "$(dirname "$0")/.." && pwd)}}
tmp_root=${RUNNER_TEMP:-${TMPDIR:-/tmp}}
if command -v cygpath > /dev/null 2>&1; then
  # Windows runners give D:\a\... paths; Git Bash tools want /d/a/...
  action_path=$(cygpath -u "$action_path")
  tmp_root=$(cygpath -u "$tmp_root")
fi
manifest="$action_path/Cargo.toml"

log() { echo "$name: $*"; }

output() {
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    echo "path=$1" >> "$GITHUB_OUTPUT"
  fi
  log "using $1"
}

# The first `key = "value"` of Cargo.toml's [package] table.
package_field() {
  sed -n "/^\[package\]/,/^\[/ s/^$1 *= *\"\(.*\)\"/\1/p" "$manifest" | head -n 1
}

version=${WOOSMAP_IMPORT_VERSION:-}
version=${version#v}
if [ -z "$version" ]; then
  version=$(package_field version)
fi
if [ -z "$version" ]; then
  echo "::error title=$name::could not tell which version to use: no version input and no version in $manifest"
  exit 1
fi

exe=""
case "${RUNNER_OS:-$(uname -s)}" in
  Linux) os=linux ;;
  macOS | Darwin) os=darwin ;;
  Windows | MINGW* | MSYS* | CYGWIN*) os=windows; exe=.exe ;;
  *) os=unknown ;;
esac
case "${RUNNER_ARCH:-$(uname -m)}" in
  X64 | x86_64 | amd64) arch=amd64 ;;
  ARM64 | aarch64 | arm64) arch=arm64 ;;
  *) arch=unknown ;;
esac

# 1. Already on PATH with the right version?
if found=$(command -v "$name" 2> /dev/null); then
  have=$("$found" --version 2> /dev/null || true)
  if [ "$have" = "$name $version" ]; then
    output "$found"
    exit 0
  fi
  log "ignoring $found (${have:-no version}): version $version is wanted"
fi

dir="$tmp_root/$name/$version/${os}_$arch"
bin="$dir/$name$exe"
if [ -x "$bin" ] && [ "$("$bin" --version 2> /dev/null || true)" = "$name $version" ]; then
  output "$bin"
  exit 0
fi

sha256() {
  if command -v sha256sum > /dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  else
    shasum -a 256 "$1" | cut -d ' ' -f 1
  fi
}

# 2. The release archive, verified against the release's checksums.
download() {
  local base asset sums tmp want got
  if [ "$os" = unknown ] || [ "$arch" = unknown ]; then
    log "no release build for this runner (${RUNNER_OS:-?}/${RUNNER_ARCH:-?})"
    return 1
  fi
  if [ -n "${WOOSMAP_IMPORT_RELEASES:-}" ]; then
    base="${WOOSMAP_IMPORT_RELEASES%/}/v$version"
  else
    base="$(package_field repository)/releases/download/v$version"
  fi
  if [ "$os" = windows ]; then
    asset="${name}_${version}_${os}_$arch.zip"
  else
    asset="${name}_${version}_${os}_$arch.tar.gz"
  fi
  sums="${name}_${version}_SHA256SUMS"
  tmp=$(mktemp -d "$tmp_root/$name-download.XXXXXX")
  log "downloading $base/$asset"
  if ! curl -fsSL --retry 3 -o "$tmp/$asset" "$base/$asset" ||
    ! curl -fsSL --retry 3 -o "$tmp/$sums" "$base/$sums"; then
    log "could not download release $version"
    rm -rf "$tmp"
    return 1
  fi
  want=$(awk -v f="$asset" '$2 == f || $2 == "*" f { print $1 }' "$tmp/$sums")
  got=$(sha256 "$tmp/$asset")
  if [ -z "$want" ] || [ "$want" != "$got" ]; then
    echo "::error title=$name::checksum mismatch for $asset (expected ${want:-no entry in $sums}, got $got): not using it"
    rm -rf "$tmp"
    exit 1
  fi
  mkdir -p "$dir"
  if [ "$os" = windows ]; then
    if command -v unzip > /dev/null 2>&1; then
      unzip -o -q "$tmp/$asset" -d "$dir"
    else
      pwsh -NoProfile -Command "Expand-Archive -Force -LiteralPath '$(cygpath -w "$tmp/$asset")' -DestinationPath '$(cygpath -w "$dir")'"
    fi
  else
    tar -xzf "$tmp/$asset" -C "$dir"
  fi
  rm -rf "$tmp"
  chmod +x "$bin" 2> /dev/null || true
  [ -x "$bin" ]
}

if download; then
  output "$bin"
  exit 0
fi

# 3. Build from the action's own source.
if ! command -v cargo > /dev/null 2>&1; then
  echo "::error title=$name::no release $version for ${os}_$arch could be downloaded and cargo is not installed to build it; set up Rust (e.g. rustup) before this step, or put $name $version on PATH"
  exit 1
fi
log "building version $version from $action_path with cargo (this takes a few minutes)"
cargo install --locked --quiet --path "$action_path" --bin "$name" --root "$dir.cargo"
mkdir -p "$dir"
cp "$dir.cargo/bin/$name$exe" "$bin"
output "$bin"
