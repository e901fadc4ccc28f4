# Shared by scripts/package-provider.sh and scripts/package-cli.sh (sourced, not run): their
# arguments, the version, the platform name of a Rust target, building or finding the binary,
# zipping and checksums. The sourcing script sets `root`, `name` (the binary) and `tool` (its
# own name, for messages), then calls `package_parse_args "$@"` and `package_binary`; after
# that `binary`, `platform`, `version` and `out` (an absolute, existing directory) are set.

profile=${PROFILE:-release}
target=""
out="$root/dist"
binary=""
platform=""
version=""

package_parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --profile) profile=$2; shift 2 ;;
      --target) target=$2; shift 2 ;;
      --out) out=$2; shift 2 ;;
      --binary) binary=$2; shift 2 ;;
      --platform) platform=$2; shift 2 ;;
      --version) version=$2; shift 2 ;;
      --name) name=$2; shift 2 ;;
      -h | --help) sed -n '2,/^set -e/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
      *) echo "$tool: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
  done
  if [ -z "$version" ]; then
    version=$(sed -n '/^\[package\]/,/^\[/ s/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)
  fi
}

# zip_one ZIPFILE DIR NAME: a zip of DIR/NAME holding NAME (zip, else 7-Zip on Windows runners).
zip_one() {
  if command -v zip > /dev/null; then
    (cd "$2" && zip -q -X "$1" "$3")
  elif command -v 7z > /dev/null; then
    (cd "$2" && 7z a -tzip -bd "$1" "$3" > /dev/null)
  else
    echo "$tool: zip or 7z is needed" >&2
    return 1
  fi
}

# OS_ARCH (Terraform's and the action's words) for a Rust target triple.
platform_of() {
  local os arch
  case "$1" in
    *-linux-*) os=linux ;;
    *-apple-darwin) os=darwin ;;
    *-windows-*) os=windows ;;
    *-freebsd) os=freebsd ;;
    *) echo "$tool: no platform name for target $1" >&2; return 1 ;;
  esac
  case "$1" in
    x86_64-*) arch=amd64 ;;
    aarch64-*) arch=arm64 ;;
    i686-*) arch=386 ;;
    *) echo "$tool: no platform name for target $1" >&2; return 1 ;;
  esac
  echo "${os}_$arch"
}

# Builds the binary with cargo (unless --binary named one), and prepares the output directory.
package_binary() {
  if [ -z "$binary" ]; then
    local host dir target_dir args
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
    echo "$tool: --binary needs --platform OS_ARCH (e.g. linux_amd64)" >&2
    exit 2
  fi
  [ -f "$binary" ] || { echo "$tool: $binary not found" >&2; exit 1; }
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
}

sha256() { if command -v sha256sum > /dev/null; then sha256sum "$@"; else shasum -a 256 "$@"; fi; }
