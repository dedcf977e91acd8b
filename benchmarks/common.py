"""What the benchmark scripts share: random weights on a device, inputs, timing, logging."""

from __future__ import annotations

import gc
import logging
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from importlib.resources import files
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from editbench.records import Sample
from editbench.sources.manifest import load_manifest


def fill_random(model: torch.nn.Module, device: str, seed: int = 0) -> torch.nn.Module:
    """``model``, built on the meta device with its buffers on the CPU, materialised on
    ``device`` with random weights: parameters never exist on the CPU.

    Buffers (rotary inverse frequencies: computed, not loaded) are copied over. Matrices get
    N(0, 0.02) noise, norm weights 1, biases 0: the values do not change the cost of dense
    compute, and an MoE router stays near uniform as in a real load.
    """
    buffers = {name: buffer.clone() for name, buffer in model.named_buffers()}
    model.to_empty(device=device)
    generator = torch.Generator(device).manual_seed(seed)
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            buffer.copy_(buffers[name])
        for name, param in model.named_parameters():
            if param.dim() > 1:
                param.normal_(0.0, 0.02, generator=generator)
            elif "norm" in name:
                param.fill_(1.0)
            else:
                param.zero_()
    return model.eval()


def sample_scenes(folder: Path, side: int) -> list[Sample]:
    """The package's sample items, each image resized to ``side``² and written to ``folder``
    as ``<id>.png`` (the samples point at those files)."""
    folder.mkdir(parents=True, exist_ok=True)
    scenes = []
    for sample in load_manifest(files("editbench") / "sample_data"):
        path = folder / f"{sample.id}.png"
        with Image.open(sample.image) as image:
            image.convert("RGB").resize((side, side), Image.BICUBIC).save(path)
        scenes.append(replace(sample, images=(str(path),)))
    return scenes


def timed(step: Callable[[], Any], repeats: int, device: str) -> tuple[float, Any]:
    """Median seconds of ``step`` over ``repeats`` runs after one warm-up, and its last result."""
    result = step()
    seconds = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        result = step()
        sync(device)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def release(device: str) -> None:
    """Free what the last model left on ``device`` and restart its peak-memory count."""
    gc.collect()
    if torch.device(device).type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def log_to(folder: Path, name: str) -> None:
    """Log with timestamps to stdout and ``folder/name.log``."""
    folder.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(message)s",
        handlers=[logging.StreamHandler(sys.stdout), logging.FileHandler(folder / f"{name}.log")],
        force=True,
    )


def parameter_counts(pipe: Any, names: Iterable[str]) -> dict[str, int]:
    """Parameters of each named model of ``pipe`` (a tied matrix once)."""
    return {name: sum(p.numel() for p in getattr(pipe, name).parameters()) for name in names}


def check_parameter_counts(
    counts: dict[str, int], published: dict[str, tuple[float, float]]
) -> None:
    """Raise unless every model's count lies in its ``published`` range."""
    for name, (low, high) in published.items():
        if not low <= counts[name] <= high:
            raise ValueError(f"{name}: {counts[name]} parameters, expected {low:.4g}..{high:.4g}")
