"""Worker processes: one per device (or device group) and phase.

A worker gets plain data only (a :class:`WorkerSpec` and the resolved model config), sets its
device, opens its log file, loads its model once, then pulls batches from the shared queue
until it reads the end marker. Every result is written to the store as soon as it exists, and
every step is reported to the parent on the event queue.

This module imports only the standard library at the top: a worker started under another
interpreter (``editor.python``) must restore that interpreter's own ``sys.path`` — spawn
hands every child the parent's — before it imports editbench's libraries.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from editbench.launch.failures import (
    attempts_after,
    describe,
    each_result,
    stops_the_worker,
    storable,
)
from editbench.launch.messages import (
    BatchDone,
    BatchStarted,
    StepDone,
    WorkerCrashed,
    WorkerFinished,
    WorkerLoaded,
)
from editbench.records import (
    EDIT_ERROR,
    JUDGE_ERROR,
    OK,
    Judgement,
)

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Event

    from editbench.editors.base import Editor
    from editbench.judges.base import Judge
    from editbench.launch.messages import WorkerEvent
    from editbench.plan import EditTask, JudgeTask
    from editbench.records import JudgeRequest
    from editbench.store import Store

    # A phase's queue: lists of its tasks, then one None per worker.
    TaskQueue = Queue[list[EditTask] | list[JudgeTask] | None]

log = logging.getLogger(__name__)

EDIT, SCORE = "edit", "score"


@dataclass(frozen=True)
class WorkerSpec:
    name: str  # "edit-0", "score-1": how the parent and the logs name this worker
    phase: str  # EDIT or SCORE
    devices: tuple[str, ...]  # one device, or several for a judge spread with device_map
    model_config: dict[str, Any]  # resolved editor / scorer config with its _target_
    store_root: str
    log_file: str
    cpu_threads: int  # torch threads, so that CPU workers share the cores instead of fighting
    # The interpreter's own sys.path when the phase runs under another interpreter, else None.
    sys_path: tuple[str, ...] | None = None
    peers: int = 1  # workers of this phase, this one included: they share the queue's tail


def worker_main(
    spec: WorkerSpec,
    tasks: TaskQueue,
    events: Queue[WorkerEvent],
    gate: Event | None = None,
) -> None:
    """Entry point of a spawned worker (module scope, so that spawn can import it).

    With a ``gate`` (an event), the worker starts and imports its libraries at once but loads
    its model only once the gate opens: the parent opens it when the phase before has ended
    and freed the device.
    """
    # Ctrl-C reaches the whole process group; the parent alone decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if spec.sys_path is not None:
        sys.path[:] = spec.sys_path
    current: list[str] = []
    try:
        _set_device(spec)
        _open_log(spec.log_file)
        log.info("interpreter %s; sys.path %s", sys.executable, sys.path)
        log.info(
            "worker %s: phase=%s devices=%s pid=%d",
            spec.name,
            spec.phase,
            spec.devices,
            os.getpid(),
        )
        from hydra.utils import instantiate

        from editbench.launch.utilization import UtilizationSampler
        from editbench.store import Store

        log.info("building %s", spec.model_config["_target_"])
        # Cheap: imports its libraries, loads nothing. Plain data in, as validate's _build.
        model = instantiate(spec.model_config, _convert_="all")
        if spec.phase == SCORE:
            model.start(list(spec.devices))  # helper processes, while the device may be busy
        if gate is not None:
            log.info("started; waiting for the phase before to end")
            _wait_for(gate)
        started = time.perf_counter()
        log.info("loading onto %s", ", ".join(spec.devices))
        if spec.phase == EDIT:
            model.step_callback = lambda step, total: events.put(StepDone(spec.name, step, total))
            model.load(spec.devices[0])
        else:
            model.load(list(spec.devices))
        load_s = time.perf_counter() - started
        log.info("loaded in %.1f s", load_s)
        events.put(WorkerLoaded(spec.name, load_s))
        store = Store(spec.store_root)
        utilization = UtilizationSampler(spec.devices).start()
        if spec.phase == EDIT:
            work = (((batch, []), None) for batch in iter(tasks.get, None))
        else:
            work = _judge_batches(model, tasks, spec.peers, store)
        for (batch, skipped), prepared in work:
            if not batch:
                events.put(BatchDone(spec.name, [], 0.0, skipped=skipped))
                continue
            current = [task.sample_id for task in batch]
            events.put(BatchStarted(spec.name, current))
            started = time.perf_counter()
            if spec.phase == EDIT:
                failed = _edit(model, batch, store, spec)
            else:
                failed = _score(model, batch, prepared, store, spec)
            seconds = time.perf_counter() - started
            log.info("%s %s in %.2f s", spec.phase, current, seconds)
            keys = [task.key for task in batch]
            events.put(BatchDone(spec.name, keys, seconds, failed=failed, skipped=skipped))
            current = []
        if spec.phase == SCORE:
            # Its helper processes: this process would wait for them when it exits. (After a
            # failure the parent stops it, and they exit with it.)
            model.close()
        events.put(WorkerFinished(spec.name, utilization.stop()))
    except BaseException as error:  # report anything, including SystemExit from a library
        log.exception("worker %s failed", spec.name)
        cause = f"{type(error).__name__}: {error}".strip()
        events.put(WorkerCrashed(spec.name, current, cause, traceback.format_exc()))
        raise SystemExit(1) from None


def _judge_batches(
    judge: Judge, tasks: TaskQueue, peers: int, store: Store
) -> Iterator[tuple[tuple[list[JudgeTask], list[str]], Any]]:
    """The judge's batches, each with its CPU work done ahead (see
    :mod:`editbench.launch.prefetch`), gathered as :mod:`editbench.launch.batching` says; the
    first one settles the judge's batch size where the judge chooses it from free memory.

    Each batch comes as the tasks whose edit is stored whole and the keys of the others: an
    edit that failed has nothing to judge (a re-run redoes the edit, then its judgements)."""
    from editbench.launch.batching import gathered, judge_capacity
    from editbench.launch.prefetch import prefetched

    capacity = judge_capacity(
        tasks,
        peers,
        lambda: judge.batch_size,
        lambda first: judge.decode_bound([task.request for task in first]),
    )
    batches = (_with_edits(batch, store) for batch in gathered(tasks, capacity))
    first = next(batches, None)
    if first is None:
        return
    ahead = prefetched(
        itertools.chain([first], batches),
        lambda split: _attempt(judge.prepare, [task.request for task in split[0]]),
    )
    # On the GPU, while the CPU prepares the first batch (a small one: the ramp's first).
    if first[0]:
        _fit_batch_size(judge, [task.request for task in first[0]])
    yield from ahead


class _Failed:
    """What a batch's preparation raised, for its batch to meet in :func:`_score`."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def _attempt(prepare: Any, requests: list[Any]) -> Any:
    if not requests:
        return None
    try:
        return prepare(requests)
    except Exception as error:
        if stops_the_worker(error):
            raise
        return _Failed(error)


def _fit_batch_size(judge: Judge, requests: list[Any]) -> None:
    """Settle the judge's batch size on the first requests; where one of them cannot be judged
    (a damaged edit), on the first that can, alone. That request's own failure is met again,
    and stored, when its batch is judged."""
    try:
        judge.fit_batch_size(requests)
        return
    except Exception as error:
        if stops_the_worker(error):
            raise
        log.warning("fitting the batch size failed (%s); trying each request", describe(error))
    for request in requests if len(requests) > 1 else ():
        try:
            judge.fit_batch_size([request])
            return
        except Exception as error:
            if stops_the_worker(error):
                raise
    log.warning("no first request could fit the batch size; kept %s", judge.batch_size)


def _wait_for(gate: Event) -> None:
    """Wait for ``gate`` to open; leave if the parent is gone (it would never open)."""
    parent = os.getppid()
    while not gate.wait(timeout=1.0):
        if os.getppid() != parent:
            raise SystemExit(1)


def _set_device(spec: WorkerSpec) -> None:
    import torch

    torch.set_num_threads(spec.cpu_threads)
    if spec.devices[0].startswith("cuda"):
        torch.cuda.set_device(spec.devices[0])


def _open_log(path: str) -> None:
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _edit(editor: Editor, batch: Sequence[EditTask], store: Store, spec: WorkerSpec) -> list[str]:
    """Edit and store ``batch``; returns the keys of the edits that failed on their sample,
    stored as such (see :func:`~editbench.launch.failures.stops_the_worker`)."""
    failed = []
    for task, result, seconds in each_result(editor.edit, [task.request for task in batch], batch):
        record = {
            "sample_id": task.sample_id,
            "editor": editor.fingerprint(),
            "instruction": task.request.instruction,
            "seed": task.request.seed,
            "source_sha256": task.source_sha256,
            "device": spec.devices[0],
            "seconds": round(seconds, 4),
            "created": _now(),
        }
        if isinstance(result, Exception):
            failed.append(task.key)
            log.warning("edit of %r failed: %s", task.sample_id, describe(result))
            previous = store.read_edit(task.key)
            store.write_edit_failure(
                task.key,
                {
                    **record,
                    "status": EDIT_ERROR,
                    "error": describe(result),
                    "attempts": attempts_after(previous),
                },
            )
        else:
            store.write_edit(task.key, result, record)
    return failed


def _score(
    judge: Judge, batch: Sequence[JudgeTask], prepared: Any, store: Store, spec: WorkerSpec
) -> list[str]:
    """Judge and store ``batch``; returns the keys of the judgements that failed on their
    sample (judge_error)."""

    def judged(requests: list[JudgeRequest]) -> list[Judgement]:
        if len(requests) == len(batch):  # the whole batch: what was prepared ahead, if it was
            if isinstance(prepared, _Failed):
                raise prepared.error
            return judge.score(requests, prepared)
        return judge.score(requests)

    failed = []
    for task, verdict, seconds in each_result(judged, [task.request for task in batch], batch):
        attempts = None
        if isinstance(verdict, Exception):
            failed.append(task.key)
            log.warning("judging %r failed: %s", task.sample_id, describe(verdict))
            attempts = attempts_after(store.read_judgement(task.key))
            verdict = Judgement(JUDGE_ERROR, "", error=describe(verdict))
        store.write_judgement(
            task.key,
            {
                "sample_id": task.sample_id,
                "edit_key": task.edit_key,
                "judge": judge.fingerprint(),
                "prompt_sha256": task.prompt_sha256,
                **asdict(storable(verdict)),
                **({"attempts": attempts} if attempts else {}),
                "device": ",".join(spec.devices),
                "seconds": round(seconds, 4),
                "created": _now(),
            },
        )
    return failed


def _with_edits(batch: Sequence[JudgeTask], store: Store) -> tuple[list[JudgeTask], list[str]]:
    """The tasks of ``batch`` whose edit is stored whole, and the keys of the others. Each edit
    is read (its image hashed) once, however many of the protocol's calls judge it."""
    ready, skipped = [], []
    whole: dict[str, bool] = {}
    for task in batch:
        if task.edit_key not in whole:
            edit = store.read_edit(task.edit_key)
            whole[task.edit_key] = edit is not None and edit["status"] == OK
        if whole[task.edit_key]:
            ready.append(task)
        else:
            skipped.append(task.key)
    return ready, skipped
