"""Turn a validated, planned run into worker phases, and run them per the layout."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from editbench.config.validate import Interpreter, Setup
from editbench.launch.pool import Phase, PhaseStats, run_phases
from editbench.launch.worker import EDIT, SCORE, WorkerSpec
from editbench.plan import JudgeTask, Plan, pending
from editbench.store import Store

log = logging.getLogger(__name__)


def execute(
    cfg: DictConfig, setup: Setup, plan: Plan, store: Store, output_dir: Path
) -> tuple[dict[str, PhaseStats], dict[str, int]]:
    """Edit what the store lacks, then judge what the store lacks (at the same time under the
    split layout). Returns each phase's timing (its ``items``: the edits and judgements it stored)
    and how many edits and judgements it had to do (a judgement of an edit that fails is left
    undone)."""
    edits, judgements = pending(plan, store, cfg.store.max_attempts)
    log.info("edit: %d to do, %d in the store", len(edits), len(plan.edits) - len(edits))
    log.info(
        "score: %d to do, %d in the store", len(judgements), len(plan.judgements) - len(judgements)
    )
    to_do = {"edits": len(edits), "judgements": len(judgements)}
    stats = {EDIT: PhaseStats(EDIT), SCORE: PhaseStats(SCORE)}
    if not edits and not judgements:
        return stats, to_do

    per_device = cfg.layout.workers_per_device
    # Judge work goes on the queue in batches of the judge's size; with "auto" the size is
    # known only inside the workers, which gather single tasks up to it.
    batch_size = setup.judge_config.get("batch_size", 1)
    if not isinstance(batch_size, int):
        batch_size = 1
    edit_groups = _replicas(setup.edit_devices, per_device)[: len(edits)]
    if setup.placement == "spread":
        score_groups = [tuple(setup.score_devices)]
    elif setup.placement == "single":  # an API judge: one worker, no device of its own
        score_groups = [("cpu",)]
    else:
        batches = -(-len(judgements) // batch_size)
        score_groups = _replicas(setup.score_devices, per_device)[:batches]
    together = cfg.layout.name == "split" and edits and judgements
    threads = cfg.layout.cpu_threads or _threads_per_worker(edit_groups, score_groups, together)
    edit_phase = Phase(
        _specs(
            EDIT, setup.editor_config, edit_groups, setup.editor_python, store, output_dir, threads
        ),
        [[task] for task in edits],
        1,
        _executable(setup.editor_python),
    )
    score_specs = _specs(
        SCORE, setup.judge_config, score_groups, setup.judge_python, store, output_dir, threads
    )

    if together:
        # Judge at once what is already edited; the rest as its edit lands.
        being_edited = {task.key for task in edits}
        waiting: dict[str, list[JudgeTask]] = {}
        for task in judgements:
            waiting.setdefault(task.edit_key, []).append(task)
        ready = [task for task in judgements if task.edit_key not in being_edited]

        def feed(phase: str, keys: list[str]) -> tuple[str, list[Any]] | None:
            if phase != EDIT:
                return None
            return SCORE, [task for key in keys for task in waiting.pop(key, [])]

        score_phase = Phase(
            score_specs, _batches(ready, batch_size), batch_size, _executable(setup.judge_python)
        )
        stats.update(run_phases([edit_phase, score_phase], cfg.layout.load, feed))
        return stats, to_do
    score_phase = Phase(
        score_specs,
        _batches(judgements, batch_size),
        batch_size,
        _executable(setup.judge_python),
        # Judges load once the editors have ended and freed the devices; they start before.
        after=EDIT if edits else None,
    )
    phases = ([edit_phase] if edits else []) + ([score_phase] if judgements else [])
    stats.update(run_phases(phases, cfg.layout.load))
    return stats, to_do


def _executable(python: Interpreter | None) -> str | None:
    return python.executable if python else None


def _batches(tasks: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(tasks[i : i + size]) for i in range(0, len(tasks), size)]


def _replicas(devices: Sequence[str], per_device: int) -> list[tuple[str, ...]]:
    return [(device,) for device in devices for _ in range(per_device)]


def _threads_per_worker(
    edit_groups: Sequence[tuple[str, ...]], score_groups: Sequence[tuple[str, ...]], together: bool
) -> int:
    """Share the cores among the workers that run at the same time."""
    at_once = (
        len(edit_groups) + len(score_groups)
        if together
        else max(len(edit_groups), len(score_groups))
    )
    return max(1, (os.cpu_count() or 1) // max(1, at_once))


def _specs(
    phase: str,
    config: dict[str, Any],
    groups: Sequence[tuple[str, ...]],
    python: Interpreter | None,
    store: Store,
    output_dir: Path,
    threads: int,
) -> list[WorkerSpec]:
    return [
        WorkerSpec(
            name=f"{phase}-{i}",
            phase=phase,
            devices=devices,
            model_config=config,
            store_root=str(store.root),
            log_file=str(output_dir / f"{phase}-{i}.log"),
            cpu_threads=threads,
            sys_path=python.sys_path if python else None,
            peers=len(groups),
        )
        for i, devices in enumerate(groups)
    ]
