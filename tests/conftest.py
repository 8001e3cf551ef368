"""Shared test set-up.

* Data sets come from $TRANSMODAL_DATA, defaulting to ../shared/data beside the checkout.
* One intra-op thread per test module: the tensors are tiny (threads cost more than they save) and
  CI's two cores are shared with the processes some tests spawn.
"""

import os
from pathlib import Path

import pytest
import torch

_shared = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if "TRANSMODAL_DATA" not in os.environ and _shared.is_dir():
    os.environ["TRANSMODAL_DATA"] = str(_shared)


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
