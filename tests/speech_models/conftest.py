import sys
from pathlib import Path

import pytest
import torch

# Make the shared float64 references (sm_reference.py) importable in any pytest import mode.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    # Small tensors, and the CPUs are shared with a long training job: one intra-op thread.
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
