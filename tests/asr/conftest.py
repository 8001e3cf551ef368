import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    # Tiny tensors: one intra-op thread is faster, and the CPUs are shared with a training job.
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
