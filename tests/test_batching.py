"""How a judge worker gathers its batches: ramp, guided tail, whole lists."""

from __future__ import annotations

import queue
from collections.abc import Callable

from editbench.batching import RAMP_START, gathered, judge_capacity


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
    assert list(gathered(tasks, lambda: 2)) == [[1, 2], [3, 4], [5]]


def test_a_full_list_is_taken_as_it_is() -> None:
    tasks = _queue([1, 2, 3], [4, 5, 6], None)
    assert list(gathered(tasks, lambda: 3)) == [[1, 2, 3], [4, 5, 6]]
    tasks = _queue([1, 2, 3], [4, 5, 6], None, None)  # a set batch size: no ramp, no split
    assert list(gathered(tasks, judge_capacity(tasks, 2, lambda: 3))) == [[1, 2, 3], [4, 5, 6]]


def test_the_end_marker_ends_gathering_once_and_is_not_taken_twice() -> None:
    tasks = _queue([1], None, [2], None)  # two workers' end markers, work between
    assert list(gathered(tasks, lambda: 8)) == [[1]]
    assert list(gathered(tasks, lambda: 8)) == [[2]]


def test_the_capacity_is_read_for_every_batch() -> None:
    sizes = iter([3, 1, 1])
    tasks = _queue([1], [2], [3], [4], [5], None)
    assert list(gathered(tasks, lambda: next(sizes, 1))) == [[1, 2, 3], [4], [5]]


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


def _finish_times(workers: int, count: int, capacity: Callable) -> list[float]:
    """Workers sharing one queue, each batch taking as long as its size plus a fixed cost,
    the next batch always going to the worker that is free first: when each one ends."""
    tasks = _singles(count, workers)
    streams = [gathered(tasks, capacity(tasks, workers)) for _ in range(workers)]
    clocks, done = [0.0] * workers, [False] * workers
    while not all(done):
        free = min((c, w) for w, c in enumerate(clocks) if not done[w])[1]
        batch = next(streams[free], None)
        if batch is None:
            done[free] = True
        else:
            clocks[free] += len(batch) + 0.5
    return clocks


def test_the_guided_tail_lets_workers_finish_together() -> None:
    def guided(tasks, workers):
        return judge_capacity(tasks, workers, lambda: 64)

    def full_batches(tasks, workers):
        return lambda: 64

    for workers, count in [(2, 200), (4, 300), (3, 1000)]:
        ends = _finish_times(workers, count, guided)
        assert max(ends) - min(ends) <= 3, (workers, count, ends)
        # Whole batches of 64 would leave a worker idle for most of a batch.
        plain = _finish_times(workers, count, full_batches)
        assert max(plain) - min(plain) > 20
