#!/usr/bin/env bash
# Packages a Terraform provider of this repository the way the Terraform registry (and a
# filesystem mirror) expects it, into dist/ (or --out DIR). NAME is terraform-provider-woosmap
# (the default) or, with --name, terraform-provider-rocketchat:
#   NAME_VERSION_OS_ARCH.zip    holding NAME_vVERSION (.exe on Windows)
#   NAME_VERSION_manifest.json  a copy of the provider's terraform-registry-manifest.json (at
#                               the root for woosmap, in providers/rocketchat/ for rocketchat)
#   NAME_VERSION_SHA256SUMS     every such zip of NAME in the directory + the manifest
#
# Usage:
#   scripts/package-provider.sh [--name NAME] [--profile release|dev] [--target TRIPLE] [--out DIR]
#       builds with cargo (default: the release profile — slow, it has LTO — for the host),
#       then packages. PROFILE=dev in the environment sets the default profile.
#   scripts/package-provider.sh [--name NAME] --binary PATH --platform OS_ARCH [--out DIR]
#       packages a binary built elsewhere (the release workflow does this per platform).
# Prints the path of the zip on stdout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
name=terraform-provider-woosmap
tool=package-provider
# shellcheck source=lib/package-common.sh
source "$root/scripts/lib/package-common.sh"
package_parse_args "$@"
case "$name" in
  terraform-provider-woosmap) manifest="$root/terraform-registry-manifest.json" ;;
  terraform-provider-rocketchat) manifest="$root/providers/rocketchat/terraform-registry-manifest.json" ;;
  *) echo "$tool: --name must be terraform-provider-woosmap or terraform-provider-rocketchat, not '$name'" >&2; exit 2 ;;
esac
package_binary

exe=""
[ "${platform%%_*}" = windows ] && exe=.exe
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$binary" "$stage/${name}_v$version$exe"
chmod 755 "$stage/${name}_v$version$exe"
zipfile="$out/${name}_${version}_$platform.zip"
rm -f "$zipfile"
zip_one "$zipfile" "$stage" "${name}_v$version$exe"
cp "$manifest" "$out/${name}_${version}_manifest.json"

(cd "$out" && sha256 "${name}_${version}"_*.zip "${name}_${version}_manifest.json" > "${name}_${version}_SHA256SUMS")
echo "$zipfile"
