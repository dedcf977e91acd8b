"""A judge's batch size fitted to its devices' free memory, by measuring what requests take.

The largest request of the first batch is scored alone and four times over
(:data:`PROBE_BATCHES`), then at half the size that fits (at most half of ``max_batch_size``):
the steepest growth of each device's peak memory per added request is one request's share, the
rest is what any batch needs. In ``generate`` mode, or with reasoning written first, each
request also holds ``max_new_tokens`` of KV cache. The size is the most requests that fit in
:data:`MEMORY_HEADROOM` of the least free memory, and is remembered for later runs
(:mod:`editbench.judges.batch_memory`).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from typing import Any

import torch

from editbench.judges.qwen3_vl_inputs import request_size
from editbench.records import JudgeRequest

log = logging.getLogger(__name__)

CPU_AUTO_BATCH_SIZE = 8  # batch_size=auto on the CPU, where no memory is measured
MEMORY_HEADROOM = 0.9  # of the free device memory: allocator fragmentation, other tensors
# The largest request is scored this many times over: the peak's growth between the two is one
# request's share. Small batches understate it (the 30B judge ran out of memory at the size a
# 1-and-2 probe gave), hence 1 and 4.
PROBE_BATCHES = (1, 4)

# Scores ``count`` copies of a request, for its peak memory.
Scorer = Callable[[int], None]
Peaks = dict[int, dict[torch.device, int]]


def batch_key(
    settings: dict[str, Any],
    probe: JudgeRequest,
    devices: Sequence[torch.device],
    generated: bool,
) -> dict[str, Any]:
    """What a fitted batch size depends on (see :mod:`editbench.judges.batch_memory`): the
    judge's settings, the cards, the probe's size, whether replies are generated, and how it
    is measured."""
    pixels, text = request_size(probe)
    return {
        "judge": settings,
        "devices": [
            [torch.cuda.get_device_name(d), torch.cuda.get_device_properties(d).total_memory]
            for d in devices
        ],
        "pixels": pixels,
        "text": -(-text // 512) * 512,
        "generated": generated,
        "probes": list(PROBE_BATCHES),
        "headroom": MEMORY_HEADROOM,
    }


def measured_size(
    score: Scorer,
    devices: Sequence[torch.device],
    free: dict[torch.device, int],
    cache_bytes: int,
    max_batch_size: int,
) -> int:
    """The most requests that fit in the ``free`` memory of every device, from the peaks of
    ``score`` at :data:`PROBE_BATCHES`, checked at half the size they give; ``cache_bytes``
    of KV cache added per request."""
    peaks = {count: peak_memory(score, count, devices) for count in PROBE_BATCHES}
    fitted = fitted_size(peaks, free, cache_bytes)
    # Activation memory can grow faster than linearly (the 30B's experts): the growth between
    # 1 and 4 requests is checked against half the fitted size before it is kept.
    check = min(fitted, max_batch_size) // 2
    if check > PROBE_BATCHES[-1]:
        peaks[check] = peak_memory(score, check, devices)
        fitted = fitted_size(peaks, free, cache_bytes)
    torch.cuda.empty_cache()
    return fitted


def peak_memory(
    score: Scorer, count: int, devices: Sequence[torch.device]
) -> dict[torch.device, int]:
    """Each device's peak memory, above what it held, while ``score`` scores ``count``
    requests."""
    torch.cuda.empty_cache()
    before = {device: torch.cuda.memory_allocated(device) for device in devices}
    for device in devices:
        torch.cuda.reset_peak_memory_stats(device)
    score(count)
    return {d: torch.cuda.max_memory_allocated(d) - before[d] for d in devices}


def fitted_size(peaks: Peaks, free: dict[torch.device, int], cache_bytes: int) -> int:
    """The most requests that fit in :data:`MEMORY_HEADROOM` of the ``free`` memory of every
    device, from the peaks measured at each count: one request's share is the steepest growth
    between successive counts."""
    counts = sorted(peaks)
    fits = []
    for device, free_bytes in free.items():
        growth = max(
            (peaks[b][device] - peaks[a][device]) / (b - a) for a, b in itertools.pairwise(counts)
        )
        # A growth lost in the allocator's rounding: count all of the first as the request's.
        per_request = (growth if growth > 0 else max(1, peaks[counts[0]][device])) + cache_bytes
        fixed = max(0, peaks[counts[0]][device] - counts[0] * per_request)
        fits.append(int((free_bytes * MEMORY_HEADROOM - fixed) // per_request))
        log.info(
            "batch_size auto on %s: %.2f GiB per request, %.2f GiB fixed, %.1f GiB free",
            device,
            per_request / 2**30,
            fixed / 2**30,
            free_bytes / 2**30,
        )
    return max(1, min(fits))


def kv_bytes_per_token(model: torch.nn.Module) -> int:
    """Bytes of KV cache one token takes in every layer of the language model."""
    text = model.config.get_text_config()
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
    element = torch.finfo(model.dtype).bits // 8
    return 2 * text.num_hidden_layers * text.num_key_value_heads * head_dim * element
