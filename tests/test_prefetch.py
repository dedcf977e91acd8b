"""Prefetching the next judge batch on a background thread."""

from __future__ import annotations

import queue
import threading
import time

import pytest

from editbench.launch.prefetch import prefetched

# A guard against a thread that never comes: each wait here normally ends within milliseconds.
HANG_S = 30


def test_yields_every_batch_in_order_with_its_preparation() -> None:
    batches = [[1, 2], [3], [4, 5, 6]]
    assert list(prefetched(batches, sum)) == [([1, 2], 3), ([3], 3), ([4, 5, 6], 15)]


def test_prepares_the_next_batch_while_the_caller_works_on_this_one() -> None:
    prepared = [threading.Event() for _ in range(3)]

    def prepare(batch: int) -> int:
        prepared[batch].set()
        return batch

    for batch, _ in prefetched(range(3), prepare):
        if batch < 2:
            # Batch k + 1 is prepared while the caller, still busy with batch k, waits for it.
            assert prepared[batch + 1].wait(timeout=HANG_S)


def test_pulls_at_most_one_batch_ahead() -> None:
    pulled: list[int] = []
    next_pulled = threading.Event()

    def source():
        for i in range(10):
            pulled.append(i)
            if i == 1:
                next_pulled.set()
            yield i

    batches = prefetched(source(), lambda batch: batch)
    assert next(batches) == (0, 0)
    assert next_pulled.wait(timeout=HANG_S)
    time.sleep(0.2)  # time for the thread to run further ahead, if it would
    assert pulled == [0, 1]  # the current batch and the next one, never more


def test_an_error_while_preparing_reaches_the_caller_at_its_batch() -> None:
    def prepare(batch: int) -> int:
        if batch == 2:
            raise ValueError("broken image in batch 2")
        return batch

    seen = []
    with pytest.raises(ValueError, match="broken image in batch 2"):
        for batch, _ in prefetched(range(5), prepare):
            seen.append(batch)
    assert seen == [0, 1]


def test_a_caller_that_stops_early_leaves_no_thread_to_wait_for() -> None:
    blocked: queue.Queue[int] = queue.Queue()  # never fed: the pull blocks forever

    def source():
        yield 0
        yield blocked.get()

    for _ in prefetched(source(), lambda batch: batch):
        break
    stuck = [t for t in threading.enumerate() if t.name == "prefetch"]
    assert stuck and all(t.daemon for t in stuck)  # a daemon: the process can still exit


def test_the_first_batch_is_prepared_before_the_caller_asks_for_it() -> None:
    prepared = threading.Event()

    def prepare(batch):
        prepared.set()
        return batch

    batches = prefetched([[1], [2]], prepare)
    assert prepared.wait(timeout=HANG_S)  # while the caller does other work (fitting a batch size)
    assert list(batches) == [([1], [1]), ([2], [2])]
