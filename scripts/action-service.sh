#!/usr/bin/env bash
# First step of the repository's action (action.yml): checks the `service` input and that no
# input of the other service was given, then writes the step outputs `service` (woosmap or
# rocketchat) and `binary` (the CLI the install step finds or installs). It reads
# INPUT_SERVICE and, for each service-specific input, GIVEN_<INPUT> (`true` when the input
# differs from its default): action.yml never hands it a key or a user record. A bad input
# stops the job here, before anything is installed or sent, with an ::error annotation that
# names the input (exit 2, as the CLIs do for invalid input).
set -euo pipefail

fail() {
  echo "::error title=Invalid input \`$1\`::$2"
  exit 2
}

# Fails when an input of service $1 was given while service $2 runs.
refuse_inputs_of() {
  local other=$1 service=$2 input var
  shift 2
  for input in "$@"; do
    var="GIVEN_$(echo "$input" | tr 'a-z-' 'A-Z_')"
    if [ "${!var:-false}" = true ]; then
      fail "$input" "$input is an input of service $other, but service is $service: remove it, or set service: $other"
    fi
  done
}

service=${INPUT_SERVICE:-woosmap}
case "$service" in
  woosmap)
    binary=woosmap-import
    refuse_inputs_of rocketchat woosmap users users-file url user-id auth-token abort-running allow-user-errors keep-staged
    ;;
  rocketchat)
    binary=rocketchat-import
    refuse_inputs_of woosmap rocketchat dataset-id private-key reimport-key base-url wait
    ;;
  *) fail service "service must be woosmap or rocketchat, not '$service'" ;;
esac

if [ -n "${GITHUB_OUTPUT:-}" ]; then
  {
    echo "service=$service"
    echo "binary=$binary"
  } >> "$GITHUB_OUTPUT"
fi
echo "service $service: runs $binary"
