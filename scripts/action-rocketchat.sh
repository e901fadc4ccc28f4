#!/usr/bin/env bash
# The action's `service: rocketchat` step (action.yml): finds the binary the install step chose
# and hands over to `rocketchat-import action`, which reads the INPUT_* variables (never
# interpolated into this script; the `users` input is read from the environment, never written
# to disk), masks the token, checks the inputs, folds the progress in a log group, and writes
# the outputs, the job summary and the error annotation.
set -euo pipefail

# The install step's binary (scripts/action-install.sh); else one on PATH.
bin="${ROCKETCHAT_IMPORT_BIN:-$(command -v rocketchat-import || true)}"
if [ -z "$bin" ]; then
  echo "::error::rocketchat-import was not installed and is not on PATH: see the install step's log"
  exit 2
fi
exec "$bin" action < /dev/null
