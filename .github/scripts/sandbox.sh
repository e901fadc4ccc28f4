#!/usr/bin/env bash
# CI helper (.github/workflows/ci.yml): starts woosmap-sandbox in the background with short
# windows and, once it prints its address, exports that address and its pid to later steps.
#   .github/scripts/sandbox.sh woosmap      → WOOSMAP_BASE_URL, WOOSMAP_SANDBOX_PID
#   .github/scripts/sandbox.sh rocketchat   → ROCKETCHAT_URL, ROCKETCHAT_SANDBOX_PID
# The sandbox's log goes to $RUNNER_TEMP; the job's end (or the stop step) ends the process.
set -euo pipefail

# Its own session where setsid exists (Linux): act in host mode ends a step's process group
# with the step; GitHub's runners leave it running until the job ends.
detach=()
command -v setsid > /dev/null 2>&1 && detach=(setsid)

mode=${1:?usage: sandbox.sh woosmap|rocketchat}
log="${RUNNER_TEMP:?}/sandbox-$mode.log"
# Created before the sandbox starts, so the wait below never reads a file not yet there.
: > "$log"
case "$mode" in
  woosmap)
    "${detach[@]}" woosmap-sandbox --trigger-window 2s --status-window 1s --start-delay 1s --import-duration 3s > "$log" 2>&1 &
    url_var=WOOSMAP_BASE_URL pid_var=WOOSMAP_SANDBOX_PID
    ;;
  rocketchat)
    "${detach[@]}" woosmap-sandbox --rocketchat --rc-limit-window 2s --import-duration 2s > "$log" 2>&1 &
    url_var=ROCKETCHAT_URL pid_var=ROCKETCHAT_SANDBOX_PID
    ;;
  *) echo "::error::sandbox.sh: mode must be woosmap or rocketchat, not '$mode'"; exit 2 ;;
esac
pid=$!

# Wait for the line that gives the address (the sandbox prints it once it listens).
url=""
for _ in $(seq 600); do
  url=$(sed -n 's/^woosmap-sandbox listening on \(http[^ ]*\).*/\1/p' "$log" | head -n 1)
  [ -n "$url" ] && break
  if ! kill -0 "$pid" 2> /dev/null; then
    cat "$log"
    echo "::error::woosmap-sandbox ($mode) exited before listening"
    exit 1
  fi
  sleep 0.1
done
if [ -z "$url" ]; then
  cat "$log"
  echo "::error::woosmap-sandbox ($mode) printed no address within 60 s"
  exit 1
fi
echo "woosmap-sandbox ($mode) at $url (pid $pid)"
{
  echo "$url_var=$url"
  echo "$pid_var=$pid"
} >> "$GITHUB_ENV"
