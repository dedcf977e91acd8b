"""Turn the ``gpus`` config value into a list of devices, without initialising CUDA."""

from __future__ import annotations

import os
from typing import Any

from editbench.errors import EditbenchError

EXPECTED = "a GPU count (gpus=2), auto, cpu, or a list of GPU ids (gpus=[0,2])"


def visible_gpu_count() -> int:
    """GPUs this process may use (``CUDA_VISIBLE_DEVICES`` applies). Creates no CUDA context."""
    import torch

    return torch.cuda.device_count()


def resolve_devices(gpus: Any, visible: int | None = None) -> list[str]:
    """``"cpu"`` → ``["cpu"]``; ``"auto"`` → every visible GPU; ``N`` → the first N GPUs;
    ``[i, j]`` → those GPUs. Raises :class:`EditbenchError` naming the value otherwise."""
    if isinstance(gpus, str) and gpus.strip().lower() == "cpu":
        return ["cpu"]
    if visible is None:
        visible = visible_gpu_count()
    mask = os.environ.get("CUDA_VISIBLE_DEVICES", "unset")
    where = f"{visible} GPU(s) visible (CUDA_VISIBLE_DEVICES={mask})"
    if isinstance(gpus, str) and gpus.strip().lower() == "auto":
        if visible == 0:
            raise EditbenchError(
                f"gpus=auto but no GPU is visible; use gpus=cpu to run on the CPU ({where})"
            )
        return [f"cuda:{i}" for i in range(visible)]
    if isinstance(gpus, bool):
        raise EditbenchError(f"gpus={gpus!r} is not valid; expected {EXPECTED}")
    if isinstance(gpus, int):
        if gpus < 1:
            raise EditbenchError(f"gpus={gpus} must be at least 1; expected {EXPECTED}")
        if gpus > visible:
            raise EditbenchError(f"gpus={gpus} asks for more GPUs than this machine has: {where}")
        return [f"cuda:{i}" for i in range(gpus)]
    if (
        isinstance(gpus, (list, tuple))
        and gpus
        and all(isinstance(i, int) and not isinstance(i, bool) for i in gpus)
    ):
        if len(set(gpus)) != len(gpus):
            raise EditbenchError(f"gpus={list(gpus)} names a GPU twice; expected distinct ids")
        missing = [i for i in gpus if not 0 <= i < visible]
        if missing:
            raise EditbenchError(f"gpus={list(gpus)}: no GPU with id {missing}; {where}")
        return [f"cuda:{i}" for i in gpus]
    raise EditbenchError(f"gpus={gpus!r} is not valid; expected {EXPECTED}")
