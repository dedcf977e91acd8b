"""Judge batch sizes fitted once and remembered, so that later runs start at the fitted size.

Fitting a batch size from free memory scores the largest request several times over: about
8 s for Qwen3-VL-8B on an H200, paid by every worker of every run. The fitted size depends on
the model and its settings, the card, the free memory and the size of the largest request;
those make the key. A size is reused only where at least as much memory is free as when it was
fitted; one that ran out of memory later in a run is remembered at the size that worked.

Kept as small JSON files under the editbench cache (``batch-sizes/``), one per key; a file
that cannot be read or written costs a fit, nothing more.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from editbench.cache import cache_dir
from editbench.files import atomic_write_json

log = logging.getLogger(__name__)

# A remembered size is reused while this share of the memory then free is free now: another
# process holding a little more must not send a run out of memory on its first batch.
FREE_MEMORY_SLACK = 0.97


@dataclass(frozen=True)
class Remembered:
    batch_size: int
    free_bytes: int  # the least free memory of the devices when it was fitted


def _path(key: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return cache_dir("batch-sizes") / f"{digest[:32]}.json"


def recall(key: dict[str, Any], free_bytes: int) -> Remembered | None:
    """The size remembered under ``key``, if one was fitted with no more memory free than
    ``free_bytes`` (allowing :data:`FREE_MEMORY_SLACK`)."""
    try:
        stored = json.loads(_path(key).read_text())
        remembered = Remembered(int(stored["batch_size"]), int(stored["free_bytes"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if stored.get("key") != key or remembered.batch_size < 1:
        return None
    if free_bytes < remembered.free_bytes * FREE_MEMORY_SLACK:
        log.info(
            "remembered batch size %d was fitted with %.1f GiB free, %.1f GiB now: fitting again",
            remembered.batch_size,
            remembered.free_bytes / 2**30,
            free_bytes / 2**30,
        )
        return None
    return remembered


def remember(key: dict[str, Any], batch_size: int, free_bytes: int) -> None:
    """Keep ``batch_size`` under ``key``, fitted with ``free_bytes`` free."""
    try:
        atomic_write_json(
            _path(key), {"key": key, "batch_size": batch_size, "free_bytes": free_bytes}
        )
    except OSError as error:  # a cache that cannot be written costs a fit next time
        log.warning("could not remember the batch size: %s", error)
