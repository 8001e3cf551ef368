"""Shared test set-up: data sets come from $TRANSMODAL_DATA, defaulting to ../shared/data beside the checkout."""

import os
from pathlib import Path

_shared = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if "TRANSMODAL_DATA" not in os.environ and _shared.is_dir():
    os.environ["TRANSMODAL_DATA"] = str(_shared)
