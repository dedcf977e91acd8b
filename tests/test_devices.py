import re

import pytest

from editbench.config.devices import resolve_devices
from editbench.errors import EditbenchError


@pytest.mark.parametrize(
    ("gpus", "visible", "expected"),
    [
        ("cpu", 0, ["cpu"]),
        ("auto", 2, ["cuda:0", "cuda:1"]),
        (6, 8, [f"cuda:{i}" for i in range(6)]),
        ([1, 3], 4, ["cuda:1", "cuda:3"]),
    ],
)
def test_resolves(gpus, visible, expected):
    assert resolve_devices(gpus, visible=visible) == expected


@pytest.mark.parametrize(
    ("gpus", "visible", "message"),
    [
        (6, 2, "gpus=6 asks for more GPUs than this machine has: 2 GPU(s) visible"),
        ("auto", 0, "gpus=auto but no GPU is visible"),
        (0, 4, "gpus=0 must be at least 1"),
        ([0, 0], 4, "names a GPU twice"),
        ([5], 2, "no GPU with id [5]"),
        ("many", 2, "gpus='many' is not valid"),
        (True, 2, "gpus=True is not valid"),
    ],
)
def test_rejects_with_the_value(gpus, visible, message):
    with pytest.raises(EditbenchError, match=re.escape(message)):
        resolve_devices(gpus, visible=visible)


def test_counts_real_gpus_without_initialising_cuda():
    import torch

    resolve_devices("cpu")
    with pytest.raises(EditbenchError):
        resolve_devices(torch.cuda.device_count() + 1)
    assert not torch.cuda.is_initialized()
