"""What a worker tells the pool on the event queue: one record per kind of event.

Each names the worker that sends it (:attr:`WorkerSpec.name <editbench.launch.worker.WorkerSpec>`).
They are pickled across the process boundary, so they hold plain data only.

Standard library only: the worker imports this before it restores another interpreter's path.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class WorkerLoaded:
    """The worker's model is loaded; it starts pulling work."""

    worker: str
    load_s: float


@dataclass(frozen=True)
class BatchStarted:
    """The worker took a batch of these samples."""

    worker: str
    sample_ids: list[str]


@dataclass(frozen=True)
class StepDone:
    """An editor finished denoising step ``step`` of ``total`` on its batch."""

    worker: str
    step: int
    total: int


@dataclass(frozen=True)
class BatchDone:
    """The worker stored the results of the tasks with these keys, in ``seconds``: ``failed``
    of them as the failure of their sample (edit_error, judge_error). ``skipped``: tasks it was
    handed and did not run (judgements of an edit that failed)."""

    worker: str
    keys: list[str]
    seconds: float
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WorkerFinished:
    """No work is left for the worker; it is about to exit."""

    worker: str
    gpu_utilization_pct: float | None  # mean over its life after loading


@dataclass(frozen=True)
class WorkerCrashed:
    """The worker raised on these samples (none while starting or loading) and exits."""

    worker: str
    sample_ids: list[str]
    cause: str  # "ExceptionType: message"
    traceback: str


WorkerEvent = WorkerLoaded | BatchStarted | StepDone | BatchDone | WorkerFinished | WorkerCrashed
