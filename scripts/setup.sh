#!/usr/bin/env bash
# Set up transmodal on a fresh Debian machine with Python 3.11: Debian packages (apt-get), a virtual
# environment in .venv with pinned Python packages, and the package itself (editable).
# Safe to run again: it skips what is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
missing_of() { for p in $(grep -v '^\s*#' "$1" | xargs); do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done; }

missing=$(missing_of scripts/debian-packages.txt)
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi

# MBROLA voices (Debian contrib/non-free, non-commercial licence): skipped with TRANSMODAL_NO_MBROLA=1, and
# anywhere but Debian. They need the contrib and non-free sections, added as a source of their own.
if [ "${TRANSMODAL_NO_MBROLA:-0}" != "1" ] && [ -r /etc/os-release ] && grep -q '^ID=debian' /etc/os-release; then
  missing=$(missing_of scripts/debian-packages-nonfree.txt)
  if [ -n "$missing" ]; then
    codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
    list=/etc/apt/sources.list.d/transmodal-contrib-non-free.sources
    if [ ! -f "$list" ]; then
      printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: contrib non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$codename" | $SUDO tee "$list" >/dev/null
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing \
      || echo "setup: the MBROLA voices could not be installed; pt-quiz evaluates without br4 and recipes use the other voices" >&2
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
