"""Run one phase (edit or score) on a set of spawned workers pulling batches from one queue.

The parent only hands out work and listens: it starts the workers (all at once, or one after
another's model has loaded), feeds the progress display from their events, and stops every
worker as soon as one fails, is killed, or the user presses Ctrl-C.
"""

from __future__ import annotations

import logging
import queue
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch.multiprocessing as mp
from tqdm import tqdm

from editbench.worker import WorkerSpec, worker_main

log = logging.getLogger(__name__)

POLL_S = 0.5
STOP_GRACE_S = 5.0


@dataclass
class WorkerStats:
    name: str
    devices: list[str]
    load_s: float = 0.0
    items: int = 0
    busy_s: float = 0.0

    @property
    def items_per_s(self) -> float | None:
        return self.items / self.busy_s if self.busy_s > 0 else None


@dataclass
class PhaseStats:
    phase: str
    items: int = 0
    wall_s: float = 0.0
    load_s: float = 0.0  # from the first worker's start until every model was loaded
    workers: list[WorkerStats] = field(default_factory=list)

    @property
    def items_per_s(self) -> float | None:
        """Throughput once loaded: items over the wall time after the last model loaded."""
        busy = self.wall_s - self.load_s
        return self.items / busy if self.items and busy > 0 else None


class WorkerFailed(RuntimeError):
    """A worker raised, ran out of memory or was killed. The message names the worker, its
    devices, the samples it was on, and the cause."""

    def __init__(self, worker: str, devices: Sequence[str], samples: Sequence[str], cause: str) -> None:
        self.worker, self.devices, self.samples, self.cause = worker, list(devices), list(samples), cause
        on = f"samples {', '.join(samples)}" if samples else "no sample (while starting or loading)"
        super().__init__(f"worker {worker} on {','.join(devices)} failed on {on}: {cause}")


def run_phase(specs: Sequence[WorkerSpec], batches: Sequence[Sequence[Any]], load: str = "parallel") -> PhaseStats:
    """Process every batch on the workers of ``specs``; returns the phase's timing.

    Raises :class:`WorkerFailed` (after stopping every worker) if any worker fails.
    """
    phase = specs[0].phase
    stats = PhaseStats(phase, workers=[WorkerStats(s.name, list(s.devices)) for s in specs])
    total = sum(len(b) for b in batches)
    if not batches:
        return stats
    context = mp.get_context("spawn")
    tasks, events = context.Queue(), context.Queue()
    for batch in batches:
        tasks.put(list(batch))
    for _ in specs:
        tasks.put(None)  # one end marker per worker

    by_name = {s.name: s for s in specs}
    worker_stats = {w.name: w for w in stats.workers}
    processes: dict[str, Any] = {}
    current: dict[str, list[str]] = {s.name: [] for s in specs}
    finished: set[str] = set()
    pending = list(specs)
    started = time.perf_counter()
    bars = _Bars(phase, total, [s.name for s in specs])

    def start_next() -> None:
        spec = pending.pop(0)
        process = context.Process(target=worker_main, args=(spec, tasks, events), name=spec.name, daemon=True)
        process.start()
        processes[spec.name] = process

    try:
        while pending and (load == "parallel" or not processes):
            start_next()
        loaded = 0
        while len(finished) < len(specs):
            try:
                event = events.get(timeout=POLL_S)
            except queue.Empty:
                _check_alive(processes, finished, current, by_name, events)
                continue
            kind, name = event[0], event[1]
            if kind == "loaded":
                worker_stats[name].load_s = event[2]
                loaded += 1
                if loaded == len(specs):
                    stats.load_s = time.perf_counter() - started
                if pending:
                    start_next()
            elif kind == "started":
                current[name] = event[2]
            elif kind == "step":
                bars.step(name, event[2], event[3])
            elif kind == "done":
                worker_stats[name].items += event[2]
                worker_stats[name].busy_s += event[3]
                stats.items += event[2]
                current[name] = []
                bars.done(name, event[2])
            elif kind == "finished":
                finished.add(name)
            elif kind == "failed":
                raise WorkerFailed(name, by_name[name].devices, event[2], event[3])
    except BaseException:
        _stop(processes)
        raise
    finally:
        bars.close()
        for q in (tasks, events):
            q.cancel_join_thread()  # never block the parent on a queue whose readers are gone
            q.close()
    for process in processes.values():
        process.join()
    stats.wall_s = time.perf_counter() - started
    return stats


def _check_alive(processes, finished, current, by_name, events) -> None:
    """Raise :class:`WorkerFailed` for a worker that exited without saying so (killed by a
    signal or the OOM killer). Its last events may still be in flight, so read them first."""
    for name, process in processes.items():
        if name in finished or process.exitcode is None:
            continue
        deadline = time.perf_counter() + 1.0
        while time.perf_counter() < deadline:
            try:
                event = events.get(timeout=0.1)
            except queue.Empty:
                continue
            if event[0] == "failed":
                raise WorkerFailed(event[1], by_name[event[1]].devices, event[2], event[3])
            if event[0] == "finished" and event[1] == name:
                finished.add(name)
                return
            if event[0] == "started":
                current[event[1]] = event[2]
        code = process.exitcode
        cause = f"killed by signal {-code}" if code < 0 else f"exited with code {code} without reporting"
        raise WorkerFailed(name, by_name[name].devices, current[name], cause)


def _stop(processes: dict[str, Any]) -> None:
    """Stop every live worker: SIGTERM, then SIGKILL after a grace period. Leaves no orphans."""
    for process in processes.values():
        if process.is_alive():
            process.terminate()
    deadline = time.perf_counter() + STOP_GRACE_S
    for process in processes.values():
        process.join(max(0.0, deadline - time.perf_counter()))
        if process.is_alive():
            process.kill()
            process.join()


class _Bars:
    """One progress bar for the phase's total and one per worker (with denoising steps)."""

    def __init__(self, phase: str, total: int, workers: Sequence[str]) -> None:
        options = {"file": sys.stderr, "dynamic_ncols": True, "mininterval": 0.5}
        self.total = tqdm(total=total, desc=f"{phase} total", unit="img", position=0, **options)
        self.workers = {
            name: tqdm(total=None, desc=name, unit="img", position=i + 1, leave=False, **options)
            for i, name in enumerate(workers)
        }

    def step(self, name: str, step: int, total: int) -> None:
        self.workers[name].set_postfix_str(f"step {step}/{total}", refresh=False)
        self.workers[name].refresh()

    def done(self, name: str, items: int) -> None:
        self.workers[name].set_postfix_str("", refresh=False)
        self.workers[name].update(items)
        self.total.update(items)

    def close(self) -> None:
        for bar in self.workers.values():
            bar.close()
        self.total.close()
