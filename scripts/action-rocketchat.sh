#!/usr/bin/env bash
# Runs `rocketchat-import run` for the action's `service: rocketchat` (action.yml): inputs come
# in INPUT_* variables (never interpolated into the script), outputs go to $GITHUB_OUTPUT.
# The `users` input reaches the binary on its standard input (`--users -`): no user record is
# written to disk, so none is left behind, whichever way the step ends.
set -euo pipefail

if [ -n "$INPUT_AUTH_TOKEN" ]; then
  echo "::add-mask::$INPUT_AUTH_TOKEN"
  export ROCKETCHAT_AUTH_TOKEN="$INPUT_AUTH_TOKEN"
fi
[ -n "$INPUT_URL" ] && export ROCKETCHAT_URL="$INPUT_URL"
[ -n "$INPUT_USER_ID" ] && export ROCKETCHAT_USER_ID="$INPUT_USER_ID"

# The install step's binary (scripts/action-install.sh); else one on PATH.
bin="${ROCKETCHAT_IMPORT_BIN:-$(command -v rocketchat-import || true)}"
if [ -z "$bin" ]; then
  echo "::error::rocketchat-import was not installed and is not on PATH: see the install step's log"
  exit 2
fi

if [ -n "$INPUT_USERS" ] && [ -n "$INPUT_USERS_FILE" ]; then
  echo "::error::give either the users input or users-file, not both"
  exit 2
fi
users="$INPUT_USERS_FILE"
if [ -n "$INPUT_USERS" ]; then
  users=-
elif [ -z "$users" ]; then
  echo "::error::the users input (a JSON array of user objects) or users-file is required"
  exit 2
fi

args=(run --users "$users" --json --github-output --timeout "$INPUT_TIMEOUT" --poll-interval "$INPUT_POLL_INTERVAL")
case "$INPUT_ABORT_RUNNING" in
  true) args+=(--abort-running) ;;
  false | "") ;;
  *) echo "::error::abort-running must be true or false, not '$INPUT_ABORT_RUNNING'"; exit 2 ;;
esac
case "$INPUT_ALLOW_USER_ERRORS" in
  true) args+=(--allow-user-errors) ;;
  false | "") ;;
  *) echo "::error::allow-user-errors must be true or false, not '$INPUT_ALLOW_USER_ERRORS'"; exit 2 ;;
esac

status=0
if [ "$users" = - ]; then
  printf '%s' "$INPUT_USERS" | "$bin" "${args[@]}" || status=$?
else
  "$bin" "${args[@]}" < /dev/null || status=$?
fi
if [ "$status" -ne 0 ]; then
  message="$(grep '^message=' "$GITHUB_OUTPUT" 2>/dev/null | tail -n 1 | cut -d= -f2- || true)"
  echo "::error title=Rocket.Chat import (exit $status)::${message:-see the log above}"
fi
exit "$status"
