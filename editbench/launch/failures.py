"""What a worker does when something fails: whether an error is the worker's own (the run
stops) or one sample's (that sample gets a status and the run goes on), how a failed batch is
run again one request at a time to find the samples that fail alone, and what a judgement may
be stored as.

Standard library only (and editbench's plain records): the worker imports this before it
restores another interpreter's path.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Sequence
from typing import Any

from editbench.errors import SampleError
from editbench.records import (
    JUDGE_ERROR,
    MAX_REPLY_CHARS,
    REPLY_TOO_LONG,
    RETRIED_STATUSES,
    Judgement,
)

log = logging.getLogger(__name__)


def stops_the_worker(error: BaseException) -> bool:
    """Whether ``error`` is the worker's own failure rather than one sample's: memory, a device
    that is no longer usable, or a fault in the code (which every sample would meet). Anything
    else raised on a sample (a shape the model refuses, a damaged image, NaN output) fails that
    sample alone."""
    if isinstance(
        error,
        MemoryError
        | ImportError
        | NameError
        | AttributeError
        | TypeError
        | AssertionError
        | NotImplementedError
        | RecursionError,
    ):
        return True
    if type(error).__name__ == "OutOfMemoryError":  # torch's, without importing torch here
        return True
    text = str(error)
    return "CUDA error" in text or "device-side assert" in text or "NCCL" in text


def describe(error: Exception) -> str:
    """An error as a failure record keeps it: editbench's own sample errors say everything in
    their message; any other error is named by its type."""
    if isinstance(error, SampleError):
        return str(error)
    return f"{type(error).__name__}: {error}".strip()


def attempts_after(previous: dict[str, Any] | None) -> int:
    """The attempt count of a failure about to be stored over ``previous``, the stored record
    of the same key (None when there is none)."""
    if previous is None or previous.get("status") not in RETRIED_STATUSES:
        return 1
    return previous.get("attempts", 1) + 1


def each_result(
    run: Any, requests: list[Any], tasks: Sequence[Any]
) -> Iterator[tuple[Any, Any, float]]:
    """Each task with its result from ``run(requests)`` and the seconds it took; where ``run``
    raises for a sample's reason, each request is run again alone, so that only the ones that
    fail alone get their exception as the result."""
    started = time.perf_counter()
    try:
        results = run(requests)
    except Exception as error:
        if stops_the_worker(error):
            raise
        if len(requests) == 1:
            yield tasks[0], error, time.perf_counter() - started
            return
        log.warning("a batch of %d failed (%s); each alone", len(requests), describe(error))
        for task, request in zip(tasks, requests, strict=True):
            yield from each_result(run, [request], [task])
        return
    seconds = (time.perf_counter() - started) / len(requests)
    for task, result in zip(tasks, results, strict=True):
        yield task, result, seconds


def storable(verdict: Judgement) -> Judgement:
    """``verdict`` as it may be stored. A reply longer than any judge writes comes from a broken
    server or model: kept cut, as its own status, and not read. A score that is not a finite
    number is the judge's failure on this sample, not a score."""
    reply = verdict.reply or ""
    if len(reply) > MAX_REPLY_CHARS:
        return Judgement(
            REPLY_TOO_LONG,
            reply[:MAX_REPLY_CHARS],
            error=(
                f"the reply has {len(reply):,} characters, over the {MAX_REPLY_CHARS:,} kept; "
                "it is cut there and not read"
            ),
            usage=verdict.usage,  # a runaway reply is the dearest kind: its cost is kept
            latency_s=verdict.latency_s,
        )
    numbers = [
        verdict.score,
        verdict.entropy,
        verdict.spread,
        *(verdict.criteria or {}).values(),
        *(verdict.distribution or ()),
        *(verdict.samples or ()),
    ]
    if not all(math.isfinite(value) for value in numbers if value is not None):
        return Judgement(
            JUDGE_ERROR,
            reply,
            error=f"the judge gave a number that is not finite (score {verdict.score})",
            usage=verdict.usage,
            latency_s=verdict.latency_s,
        )
    return verdict
