"""How long a score phase takes under each batching rule, simulated: editbench's own batching
(:mod:`editbench.launch.batching`) driven by workers whose batches cost ``fixed + per_request``
seconds each, as generated replies do (the fixed part is the decoding).

Each worker pulls its first batch when it starts and its next one as soon as it starts on one,
as :func:`editbench.launch.prefetch.prefetched` does. Rules: ``cut`` (the ramp and the guided
share, for one forward per batch) and ``whole`` (the rule for decode-bound batches). The lower
bound is the fewest decodes with the requests shared evenly.

    python -m benchmarks.batch_schedule                      # 8B judge, 512 new tokens, H200
    python -m benchmarks.batch_schedule --fixed 0 --per-request 0.15   # a forward-bound judge
"""

from __future__ import annotations

import argparse
import heapq
import queue
from collections.abc import Callable

from editbench.launch.batching import gathered, judge_capacity

Capacity = Callable[[queue.Queue, int, int], Callable[[list], int]]
RULES: dict[str, Capacity] = {
    "cut": lambda tasks, peers, size: judge_capacity(tasks, peers, lambda: size),
    "whole": lambda tasks, peers, size: judge_capacity(tasks, peers, lambda: size, lambda f: True),
}


def phase_seconds(
    rule: Capacity,
    requests: int,
    starts: list[float],
    batch_size: int,
    fixed: float,
    per_request: float,
) -> tuple[float, list[int]]:
    """When the last worker ends, and how many batches each judged, for ``requests`` single
    tasks shared by workers starting at ``starts``."""
    tasks: queue.Queue = queue.Queue()
    for i in range(requests):
        tasks.put([i])
    for _ in starts:
        tasks.put(None)
    streams = [gathered(tasks, rule(tasks, len(starts), batch_size)) for _ in starts]
    held: list[list | None] = [None] * len(starts)
    started = [False] * len(starts)
    batches = [0] * len(starts)
    end = 0.0
    free = [(start, worker) for worker, start in enumerate(starts)]
    heapq.heapify(free)
    while free:
        now, worker = heapq.heappop(free)
        if not started[worker]:
            held[worker], started[worker] = next(streams[worker], None), True
        batch = held[worker]
        if batch is None:
            end = max(end, now)
            continue
        held[worker] = next(streams[worker], None)  # the next batch, pulled ahead
        batches[worker] += 1
        heapq.heappush(free, (now + fixed + per_request * len(batch), worker))
    return end, batches


def lower_bound(requests: int, workers: int, batch_size: int, fixed: float, per: float) -> float:
    """The fewest decodes any worker must run, each with an even share of the requests."""
    rounds = -(-requests // (workers * batch_size))
    return rounds * fixed + per * requests / workers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, nargs="+", default=[48, 96, 200, 512, 900, 1800])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--fixed", type=float, default=37.0, help="seconds per batch")
    parser.add_argument("--per-request", type=float, default=0.7, help="seconds per request")
    parser.add_argument("--stagger", type=float, default=1.0, help="s between worker starts")
    args = parser.parse_args(argv)
    costs = (args.batch_size, args.fixed, args.per_request)
    print(
        "| requests | workers | lower bound s | "
        + " | ".join(f"{r} s (batches)" for r in RULES)
        + " |"
    )
    print("| --- | --- | --- |" + " --- |" * len(RULES))
    for requests in args.requests:
        for workers in args.workers:
            starts = [i * args.stagger for i in range(workers)]
            cells = []
            for rule in RULES.values():
                seconds, batches = phase_seconds(rule, requests, starts, *costs)
                cells.append(f"{seconds:.0f} ({', '.join(map(str, batches))})")
            bound = lower_bound(requests, workers, *costs)
            print(f"| {requests} | {workers} | {bound:.0f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
