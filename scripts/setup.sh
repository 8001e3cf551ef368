#!/usr/bin/env bash
# Set up transmodal on a fresh Debian machine with Python 3.11: Debian packages (apt-get), a virtual
# environment in .venv with pinned Python packages, and the package itself (editable).
# Safe to run again: it skips what is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=$(grep -v '^\s*#' scripts/debian-packages.txt | xargs || true)
if [ -n "$pkgs" ]; then
  missing=$(for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
  if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
  fi
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.transmodal-installed
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip setuptools wheel
  .venv/bin/python -m pip install -q -r requirements.txt
  .venv/bin/python -m pip install -q --no-deps -e .
  echo "$want" > "$stamp"
fi
echo "transmodal is set up in .venv (run .venv/bin/transmodal --help)"
