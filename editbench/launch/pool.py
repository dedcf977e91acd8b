"""Run the edit and score phases on spawned workers that pull batches from one queue per phase.

The parent only hands out work and listens: it starts the workers (all at once, or each after
the previous one's model has loaded), feeds the progress display from their events, and stops
every worker as soon as one fails, is killed, or the user presses Ctrl-C.

Phases run one after the other (``shared`` layout: the later phase's workers start at once
and load when the earlier phase has ended) or together (``split``): then a ``feed`` function
turns every finished edit into judge work, so scoring consumes edits as they land.
"""

from __future__ import annotations

import logging
import queue
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch.multiprocessing as mp
from tqdm import tqdm

from editbench.launch.messages import (
    BatchDone,
    BatchStarted,
    StepDone,
    WorkerCrashed,
    WorkerEvent,
    WorkerFinished,
    WorkerLoaded,
)
from editbench.launch.worker import WorkerSpec, worker_main

if TYPE_CHECKING:
    from multiprocessing.queues import Queue

log = logging.getLogger(__name__)

POLL_S = 0.5
STOP_GRACE_S = 5.0
EXIT_WAIT_S = 60.0  # for a finished worker to exit and free its device


@dataclass
class WorkerStats:
    name: str
    devices: list[str]
    python: str
    load_s: float = 0.0
    items: int = 0
    busy_s: float = 0.0
    gpu_utilization_pct: float | None = None  # mean over the worker's life after loading

    @property
    def items_per_s(self) -> float | None:
        return self.items / self.busy_s if self.busy_s > 0 else None


@dataclass
class PhaseStats:
    phase: str
    items: int = 0
    wall_s: float = 0.0
    load_s: float = 0.0  # from the phase's start until every one of its models was loaded
    workers: list[WorkerStats] = field(default_factory=list)

    @property
    def items_per_s(self) -> float | None:
        """Throughput once loaded: items over the wall time after the last model loaded."""
        busy = self.wall_s - self.load_s
        return self.items / busy if self.items and busy > 0 else None


@dataclass
class Phase:
    """One phase's workers and the work known when it starts."""

    specs: list[WorkerSpec]
    batches: list[list[Any]]
    batch_size: int = 1  # for work fed while the phase runs
    python: str | None = None  # interpreter for this phase's workers (None: this one)
    # The phase whose end lets this one's workers load their models. They start (spawn,
    # imports, CUDA context) with the run, so that start-up overlaps the phase before.
    after: str | None = None

    @property
    def name(self) -> str:
        return self.specs[0].phase


class WorkerFailed(RuntimeError):
    """A worker raised, ran out of memory or was killed. The message names the worker, its
    devices, the samples it was on, and the cause."""

    def __init__(
        self, worker: str, devices: Sequence[str], samples: Sequence[str], cause: str
    ) -> None:
        self.worker, self.devices, self.samples, self.cause = (
            worker,
            list(devices),
            list(samples),
            cause,
        )
        on = f"sample(s) {', '.join(samples)}" if samples else "no sample (starting or loading)"
        super().__init__(f"worker {worker} on {','.join(devices)} failed on {on}: {cause}")


# A feed maps the keys of finished tasks of one phase to (phase name, new tasks) for another.
Feed = Callable[[str, list[Any]], tuple[str, list[Any]] | None]


def run_phases(
    phases: Sequence[Phase], load: str = "parallel", feed: Feed | None = None
) -> dict[str, PhaseStats]:
    """Run ``phases`` at the same time until all their work is done; returns their timing.

    A phase that ``feed`` sends work to stays open until every phase feeding it has finished.
    Raises :class:`WorkerFailed` (after stopping every worker) if any worker fails.
    """
    return _Run(phases, load, feed).go()


class _Run:
    def __init__(self, phases: Sequence[Phase], load: str, feed: Feed | None) -> None:
        self.context = mp.get_context("spawn")
        self.phases = {p.name: p for p in phases}
        self.load, self.feed = load, feed
        self.events: Queue[WorkerEvent] = self.context.Queue()
        self.tasks: dict[str, Queue[list[Any] | None]] = {
            p.name: self.context.Queue() for p in phases
        }
        self.specs = {s.name: s for p in phases for s in p.specs}
        self.stats = {
            p.name: PhaseStats(
                p.name,
                workers=[
                    WorkerStats(s.name, list(s.devices), p.python or sys.executable)
                    for s in p.specs
                ],
            )
            for p in phases
        }
        self.worker_stats = {w.name: w for st in self.stats.values() for w in st.workers}
        self.processes: dict[str, Any] = {}
        self.current: dict[str, list[Any]] = {name: [] for name in self.specs}
        self.finished: set[str] = set()
        self.loaded: set[str] = set()
        self.pending = [s for p in phases for s in p.specs]
        self.held: dict[str, list[Any]] = {p.name: [] for p in phases}  # fed, not yet a full batch
        # Only a phase that nothing feeds can be closed from the start; with a feed, the first
        # phase feeds the others, which close when it has finished.
        self.open = {p.name for p in phases[1:]} if feed else set()
        self.started = time.perf_counter()
        self.gates = {p.name: self.context.Event() for p in phases if p.after}
        # A phase's clock starts with the run, or when the phase it waits for has ended.
        self.phase_started = {p.name: self.started for p in phases if not p.after}
        self.bars = _Bars(
            {p.name: sum(len(b) for b in p.batches) for p in phases},
            {s.name: p.name for p in phases for s in p.specs},
        )

    def go(self) -> dict[str, PhaseStats]:
        try:
            for name, phase in self.phases.items():
                for batch in phase.batches:
                    self.tasks[name].put(list(batch))
                if name not in self.open:
                    self._close(name)
            while self.pending and (self.load == "parallel" or not self.processes):
                self._start_next()
            while len(self.finished) < len(self.specs):
                try:
                    event = self.events.get(timeout=POLL_S)
                except queue.Empty:
                    self._check_alive()
                    continue
                self._handle(event)
        except BaseException:
            self._stop()
            raise
        finally:
            self.bars.close()
            for q in (self.events, *self.tasks.values()):
                q.cancel_join_thread()  # never block on a queue whose readers are gone
                q.close()
        for process in self.processes.values():
            process.join()
        return self.stats

    def _start_next(self) -> None:
        spec = self.pending.pop(0)
        phase = self.phases[spec.phase]
        # spawn reads the interpreter when a process starts, so each phase can have its own.
        self.context.set_executable(phase.python or sys.executable)
        try:
            process = self.context.Process(
                target=worker_main,
                args=(spec, self.tasks[spec.phase], self.events, self.gates.get(spec.phase)),
                name=spec.name,
                # Not a daemon: a worker may start processes of its own (a judge's preparing
                # process). The parent stops and joins every worker itself, also on errors.
                daemon=False,
            )
            process.start()
        finally:
            self.context.set_executable(sys.executable)
        self.processes[spec.name] = process

    def _close(self, phase: str) -> None:
        """No more work for ``phase``: hand out what is held and one end marker per worker."""
        held, batch_size = self.held[phase], self.phases[phase].batch_size
        for i in range(0, len(held), batch_size):
            self.tasks[phase].put(held[i : i + batch_size])
        held.clear()
        for _ in self.phases[phase].specs:
            self.tasks[phase].put(None)
        self.open.discard(phase)

    def _handle(self, event: WorkerEvent) -> None:
        name = event.worker
        phase = self.specs[name].phase
        if isinstance(event, WorkerLoaded):
            self.worker_stats[name].load_s = event.load_s
            self.loaded.add(name)
            if all(s.name in self.loaded for s in self.phases[phase].specs):
                self.stats[phase].load_s = time.perf_counter() - self.phase_started[phase]
            if self.pending:
                self._start_next()
        elif isinstance(event, BatchStarted):
            self.current[name] = event.sample_ids
        elif isinstance(event, StepDone):
            self.bars.step(name, event.step, event.total)
        elif isinstance(event, BatchDone):
            self.worker_stats[name].items += len(event.keys)
            self.worker_stats[name].busy_s += event.seconds
            self.stats[phase].items += len(event.keys)
            self.current[name] = []
            self.bars.done(name, len(event.keys) + len(event.skipped))
            failed = set(event.failed)
            made = [key for key in event.keys if key not in failed]
            if self.feed and (fed := self.feed(phase, made)):
                self._hand_out(*fed)
        elif isinstance(event, WorkerFinished):
            self.finished.add(name)
            self.worker_stats[name].gpu_utilization_pct = event.gpu_utilization_pct
            if all(s.name in self.finished for s in self.phases[phase].specs):
                now = time.perf_counter()
                self.stats[phase].wall_s = now - self.phase_started[phase]
                for other in list(self.open):
                    self._close(other)
                later = [p.name for p in self.phases.values() if p.after == phase]
                if later:
                    self._release_devices(phase)
                for next_phase in later:
                    self.phase_started[next_phase] = time.perf_counter()
                    self.gates[next_phase].set()
        elif isinstance(event, WorkerCrashed):
            raise WorkerFailed(name, self.specs[name].devices, event.sample_ids, event.cause)

    def _release_devices(self, phase: str) -> None:
        """Wait for ``phase``'s workers to exit, so that their device memory is free before
        the next phase loads. They exit right after saying they have finished."""
        for spec in self.phases[phase].specs:
            process = self.processes[spec.name]
            process.join(EXIT_WAIT_S)
            if process.is_alive():
                log.warning("%s has not exited %.0f s after finishing", spec.name, EXIT_WAIT_S)

    def _hand_out(self, phase: str, tasks: list[Any]) -> None:
        self.bars.grow(phase, len(tasks))
        held, batch_size = self.held[phase], self.phases[phase].batch_size
        held.extend(tasks)
        while len(held) >= batch_size:
            self.tasks[phase].put(held[:batch_size])
            del held[:batch_size]

    def _check_alive(self) -> None:
        """Raise :class:`WorkerFailed` for a worker that exited without saying so (killed by
        a signal or the OOM killer). Its last events may still be in flight: read them first."""
        for name, process in self.processes.items():
            if name in self.finished or process.exitcode is None:
                continue
            deadline = time.perf_counter() + 1.0
            while time.perf_counter() < deadline:
                try:
                    self._handle(self.events.get(timeout=0.1))
                except queue.Empty:
                    continue
                if name in self.finished:
                    return
            code = process.exitcode
            cause = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
            raise WorkerFailed(name, self.specs[name].devices, self.current[name], cause)

    def _stop(self) -> None:
        """Stop every live worker: SIGTERM, then SIGKILL after a grace period. No orphans."""
        for process in self.processes.values():
            if process.is_alive():
                process.terminate()
        deadline = time.perf_counter() + STOP_GRACE_S
        for process in self.processes.values():
            process.join(max(0.0, deadline - time.perf_counter()))
            if process.is_alive():
                process.kill()
                process.join()


class _Bars:
    """A total bar per phase and one bar per worker (with its denoising step)."""

    def __init__(self, totals: dict[str, int], workers: dict[str, str]) -> None:
        options = {"file": sys.stderr, "dynamic_ncols": True, "mininterval": 0.5}
        self.totals = {
            phase: tqdm(total=total, desc=f"{phase} total", unit="img", position=i, **options)
            for i, (phase, total) in enumerate(totals.items())
        }
        self.workers = {
            name: tqdm(desc=name, unit="img", position=len(totals) + i, leave=False, **options)
            for i, name in enumerate(workers)
        }
        self.phase_of = workers

    def grow(self, phase: str, items: int) -> None:
        self.totals[phase].total += items
        self.totals[phase].refresh()

    def step(self, name: str, step: int, total: int) -> None:
        self.workers[name].set_postfix_str(f"step {step}/{total}")

    def done(self, name: str, items: int) -> None:
        self.workers[name].set_postfix_str("", refresh=False)
        self.workers[name].update(items)
        self.totals[self.phase_of[name]].update(items)

    def close(self) -> None:
        for bar in (*self.workers.values(), *self.totals.values()):
            bar.close()
