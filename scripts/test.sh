#!/usr/bin/env bash
# Run the test suite (sets up .venv first if needed). Data sets are read from $TRANSMODAL_DATA,
# which defaults to ../shared/data when that folder exists.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh > /dev/null
exec .venv/bin/python -m pytest "$@"
