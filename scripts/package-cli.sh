#!/usr/bin/env bash
# Packages a CLI of this repository as its GitHub Action downloads it, into dist/ (or --out
# DIR); the CLI is woosmap-import (action.yml), or rocketchat-import (action.yml with
# `service: rocketchat`) with --name rocketchat-import. For NAME:
#   NAME_VERSION_OS_ARCH.tar.gz   (linux, darwin) or .zip (windows), holding
#                                 NAME (NAME.exe on Windows)
#   NAME_VERSION_SHA256SUMS       every such archive of NAME in the directory
# OS is linux, darwin or windows and ARCH amd64 or arm64, as scripts/action-install.sh asks.
#
# Usage:
#   scripts/package-cli.sh [--name NAME] [--profile release|dev] [--target TRIPLE] [--out DIR]
#       builds with cargo (default: the release profile; PROFILE=dev in the environment sets
#       the default), for the host or TRIPLE, then packages.
#   scripts/package-cli.sh [--name NAME] --binary PATH --platform OS_ARCH [--out DIR]
#       packages a binary built elsewhere (the release workflow does this per platform).
# Prints the path of the archive on stdout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
name=woosmap-import
tool=package-cli
# shellcheck source=lib/package-common.sh
source "$root/scripts/lib/package-common.sh"
package_parse_args "$@"
case "$name" in
  woosmap-import | rocketchat-import) ;;
  *) echo "$tool: --name must be woosmap-import or rocketchat-import, not '$name'" >&2; exit 2 ;;
esac
package_binary

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

(
  cd "$out"
  shopt -s nullglob
  sha256 "${name}_${version}"_*.tar.gz "${name}_${version}"_*.zip > "${name}_${version}_SHA256SUMS"
)
echo "$archive"
