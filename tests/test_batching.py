"""How a judge worker gathers its batches: ramp, guided tail, whole lists."""

from __future__ import annotations

import queue
from collections.abc import Callable

import pytest

from editbench.launch.batching import RAMP_START, gathered, judge_capacity


def _queue(*items):
    tasks: queue.Queue = queue.Queue()
    for item in items:
        tasks.put(item)
    return tasks


def _singles(count: int, workers: int = 1) -> queue.Queue:
    """``count`` single tasks then each worker's end marker, as the parent queues them."""
    return _queue(*([i] for i in range(count)), *[None] * workers)


def test_gathers_ready_tasks_up_to_the_capacity() -> None:
    tasks = _queue([1], [2], [3], [4], [5], None)
    assert list(gathered(tasks, lambda first: 2)) == [[1, 2], [3, 4], [5]]


def test_a_full_list_is_taken_as_it_is() -> None:
    tasks = _queue([1, 2, 3], [4, 5, 6], None)
    assert list(gathered(tasks, lambda first: 3)) == [[1, 2, 3], [4, 5, 6]]
    tasks = _queue([1, 2, 3], [4, 5, 6], None, None)  # a set batch size: no ramp, no split
    assert list(gathered(tasks, judge_capacity(tasks, 2, lambda: 3))) == [[1, 2, 3], [4, 5, 6]]


def test_the_end_marker_ends_gathering_once_and_is_not_taken_twice() -> None:
    tasks = _queue([1], None, [2], None)  # two workers' end markers, work between
    assert list(gathered(tasks, lambda first: 8)) == [[1]]
    assert list(gathered(tasks, lambda first: 8)) == [[2]]


def test_the_capacity_is_read_for_every_batch() -> None:
    sizes = iter([3, 1, 1])
    tasks = _queue([1], [2], [3], [4], [5], None)
    assert list(gathered(tasks, lambda first: next(sizes, 1))) == [[1, 2, 3], [4], [5]]


def test_a_lone_worker_ramps_up_to_the_batch_size() -> None:
    tasks = _singles(70)
    sizes = [len(b) for b in gathered(tasks, judge_capacity(tasks, 1, lambda: 16))]
    assert RAMP_START == 4
    assert sizes == [4, 8, 16, 16, 16, 10]


def test_the_ramp_follows_a_batch_size_the_judge_lowers() -> None:
    tasks, size = _singles(40), {"now": 64}
    batches = gathered(tasks, judge_capacity(tasks, 1, lambda: size["now"]))
    assert len(next(batches)) == 4
    size["now"] = 5  # settled by fit_batch_size, or lowered after running out of memory
    assert [len(b) for b in batches] == [5] * 7 + [1]


def test_without_a_queue_size_the_ramp_and_batch_size_still_hold() -> None:
    class NoSize(queue.Queue):
        def qsize(self) -> int:
            raise NotImplementedError  # as multiprocessing's queue on macOS

    tasks = NoSize()
    for i in range(20):
        tasks.put([i])
    tasks.put(None)
    assert [len(b) for b in gathered(tasks, judge_capacity(tasks, 4, lambda: 8))] == [4, 8, 8]


def _finish_times(workers: int, count: int, capacity: Callable, starts: list[float]) -> list:
    """Workers sharing one queue, each starting at its time in ``starts``, each batch taking as
    long as its size plus a fixed cost. As :func:`editbench.launch.prefetch.prefetched` does, a
    worker takes its next batch as soon as it starts on one. When each worker ends."""
    tasks = _singles(count, workers)
    streams = [gathered(tasks, capacity(tasks, workers)) for _ in range(workers)]
    ahead: list = [next(stream, None) for stream in streams]  # pulled as the worker starts
    free = list(starts)
    ends = [0.0] * workers
    while busy := [w for w in range(workers) if ahead[w] is not None]:
        worker = min(busy, key=lambda w: free[w])
        batch, ahead[worker] = ahead[worker], next(streams[worker], None)
        free[worker] += len(batch) + 2.0
        ends[worker] = free[worker]
    return ends


@pytest.mark.parametrize(
    ("workers", "count", "starts"),
    [(2, 200, [0, 0]), (2, 416, [0, 2]), (4, 800, [0, 1, 2, 3]), (3, 1000, [0, 0, 0])],
)
def test_the_guided_tail_lets_workers_finish_together(
    workers: int, count: int, starts: list[float]
) -> None:
    def guided(tasks, workers):
        return judge_capacity(tasks, workers, lambda: 64)

    def full_batches(tasks, workers):
        return lambda first: 64

    ends = _finish_times(workers, count, guided, starts)
    assert max(ends) - min(ends) <= 3, ends
    # Whole batches of 64 would leave a worker idle for most of a batch.
    plain = _finish_times(workers, count, full_batches, starts)
    assert max(plain) - min(plain) > 20, plain


def test_decode_bound_batches_are_taken_whole_with_no_ramp_and_no_share() -> None:
    tasks = _singles(20, 4)
    capacity = judge_capacity(tasks, 4, lambda: 8, lambda first: True)
    assert [len(b) for b in gathered(tasks, capacity)] == [8, 8, 4]


def test_the_decode_bound_rule_is_read_per_batch_from_its_first_list() -> None:
    tasks = _queue(["g"], ["g"], ["g"], ["e"], ["e"], ["e"], ["e"], ["e"], None)
    capacity = judge_capacity(tasks, 1, lambda: 8, lambda first: first[0] == "g")
    batches = list(gathered(tasks, capacity))
    assert [len(b) for b in batches] == [8]  # the first list decides: all taken whole
    tasks = _queue(["e"], ["e"], ["e"], ["e"], ["e"], ["g"], ["g"], None)
    capacity = judge_capacity(tasks, 1, lambda: 8, lambda first: first[0] == "g")
    assert [len(b) for b in gathered(tasks, capacity)] == [4, 3]  # a ramp of 4, then the rest
