#!/usr/bin/env bash
# The user's default pacer folders, and whether a run added to them:
#
#   scripts/lib/pacer-folders.sh list             the folders, one a line (existing or not)
#   scripts/lib/pacer-folders.sh mark FILE        remembers now (FILE's time) and which exist
#   scripts/lib/pacer-folders.sh check FILE       fails, naming them, if files there are newer
#                                                 than FILE or a folder appeared since `mark`;
#                                                 also names private test folders left behind
#
# The defaults are those of the code (crates/pacer/src/folder.rs `default_dir`, with each
# service's names in src/woosmap/api/pacing.rs and src/rocketchat/api.rs): `$XDG_RUNTIME_DIR/woosmap` and
# `$XDG_RUNTIME_DIR/rocketchat-import` when XDG_RUNTIME_DIR is set, otherwise
# `woosmap-pacer-$UID` and `rocketchat-import-$UID` in the temporary directory; plus
# `woosmap-pacer-test-$UID` there, the unit tests' shared folder until they got one per
# process. Every test paces in a folder of its own (tests/common/pacer.rs for the integration
# tests, src/test_dirs.rs for the unit tests), so a test run must leave all of these as they
# were.
set -euo pipefail

tmp=${TMPDIR:-/tmp}
tmp=${tmp%/}
uid=$(id -u)

folders() {
  echo "$tmp/woosmap-pacer-$uid"
  echo "$tmp/woosmap-pacer-test-$uid"
  echo "$tmp/rocketchat-import-$uid"
  if [ -n "${XDG_RUNTIME_DIR:-}" ]; then
    echo "${XDG_RUNTIME_DIR%/}/woosmap"
    echo "${XDG_RUNTIME_DIR%/}/rocketchat-import"
  fi
}

case "${1:-}" in
  list) folders ;;
  mark)
    : >"$2"
    folders | while read -r d; do if [ -e "$d" ]; then echo "$d"; fi; done >"$2"
    ;;
  check)
    stamp=$2
    found=()
    while read -r d; do
      if [ -e "$d" ] && ! grep -qxF "$d" "$stamp"; then
        found+=("$d/ (created)")
      fi
      if [ -d "$d" ]; then
        while IFS= read -r f; do found+=("$f"); done < <(find "$d" -newer "$stamp" ! -path "$d" 2>/dev/null)
      fi
    done < <(folders)
    # A private folder of a test binary (tests/common/pacer.rs, src/test_dirs.rs) outlives it
    # only if the binary was killed.
    while IFS= read -r f; do found+=("$f/ (a test binary's private folder, left behind)"); done \
      < <(find "$tmp" -maxdepth 1 \( -name 'woosmap-tests-*' -o -name 'woosmap-unit-tests-*' \) -newer "$stamp" 2>/dev/null)
    if [ ${#found[@]} -gt 0 ]; then
      echo "the tests wrote to the user's pacer folders (${#found[@]} entries; each test must pace in its own folder, tests/common/pacer.rs):" >&2
      printf '  %s\n' "${found[@]}" >&2
      exit 1
    fi
    echo "pacer folders: nothing added to $(folders | tr '\n' ' ')"
    ;;
  *) echo "usage: $0 list | mark FILE | check FILE" >&2; exit 2 ;;
esac
