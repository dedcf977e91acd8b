"""How a judge worker forms its batches from its phase's queue.

With ``batch_size=auto`` the parent queues single tasks and each worker gathers what is ready,
up to a capacity that follows two rules, both there to keep every GPU busy:

- **Ramp.** The first batches grow from :data:`RAMP_START` tasks, doubling up to the judge's
  size. The GPU starts once a small batch's CPU work is done instead of a full one's, and each
  next batch's CPU work (at most twice the last one's) runs while the GPU judges the last one
  (:mod:`editbench.launch.prefetch`).
- **Guided tail.** A worker takes at most its share of what is left, as OpenMP's ``guided``
  schedule does: near the end the batches shrink, so the workers finish together instead of
  one judging a last full batch while the others idle. Each worker holds two batches, the one
  its GPU judges and the next one, prepared ahead (:mod:`editbench.launch.prefetch`), so a batch's
  share is ``ceil(pending / (2 * peers))``. With ``pending / peers``, a worker that prepared
  its next batch early kept work that the others then lacked: the last worker finished about 20
  tasks' time after the rest in a simulation (``tests/test_batching.py``), 5 s after the other
  on two H200s.

Both rules suit a batch whose cost grows with its size: one forward per batch (expected mode).
A batch whose replies are generated costs about its decoding steps whatever its size (the 8B
judge on an H200, 512 new tokens: 39 s for 4 requests, 51 s for 20), so cutting its requests
into more batches adds a full decode per batch: such batches (:meth:`Judge.decode_bound`) are
taken whole, up to the judge's size, with no ramp and no share. Simulated
(``benchmarks/batch_schedule.py``) with a batch costing 37 s plus 0.7 s per request and each
worker's next batch pulled at once, whole batches end 512 to 1,800 requests on 1, 2 and 4
workers within 7% of a lower bound (the fewest decodes, the requests shared evenly), where the
ramp and the share took 1.05 to 3 times as long. In a run of about two batches per worker or
fewer, a worker can hold the next batch while another has none.

A queued list longer than the capacity (a batch size the user set) is taken whole.

Standard library only: the worker imports this before it restores another interpreter's path.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from typing import Any

RAMP_START = 4  # tasks in a worker's first batch
BATCHES_HELD = 2  # by each worker: the one judged and the next one, prepared ahead


def gathered(tasks: Any, capacity: Callable[[list[Any]], int]) -> Iterator[list[Any]]:
    """Lists of tasks from ``tasks`` (a queue of task lists ending with None): each waits for
    one list, then adds the lists that are already there while it holds fewer than
    ``capacity(first)`` tasks (read once per batch, after the wait, given the list waited
    for)."""
    while (batch := tasks.get()) is not None:
        batch, limit, end = list(batch), capacity(batch), False
        while len(batch) < limit:
            try:
                more = tasks.get_nowait()
            except queue.Empty:
                break
            if more is None:
                end = True
                break
            batch += more
        yield batch
        if end:
            return


def judge_capacity(
    tasks: Any,
    peers: int,
    batch_size: Callable[[], int],
    decode_bound: Callable[[list[Any]], bool] = lambda first: False,
) -> Callable[[list[Any]], int]:
    """The capacity of each next batch of a worker with ``peers - 1`` others on ``tasks``:
    the ramp's size, at most ``batch_size()`` (read each time: the judge may settle or lower
    it) and, with others, at most this worker's share of the pending tasks; where
    ``decode_bound(first)`` says the batch's cost is its decoding, ``batch_size()``. Called
    once per batch, as :func:`gathered` does, just after the batch's first list was taken."""
    ramp = RAMP_START

    def capacity(first: list[Any]) -> int:
        nonlocal ramp
        if decode_bound(first):
            return batch_size()
        limit, ramp = min(ramp, batch_size()), ramp * 2
        left = pending(tasks)
        if left is None or peers == 1:
            return limit
        share = -(-(left + 1) // (BATCHES_HELD * peers))  # + 1: the list just taken
        return max(1, min(limit, share))

    return capacity


def pending(tasks: Any) -> int | None:
    """About how many lists wait on ``tasks``; None where the platform cannot say (macOS)."""
    try:
        return tasks.qsize()
    except NotImplementedError:
        return None
