"""Sweeps: one MLflow parent run per Hydra multirun, its jobs nested under it, and at the end a
table of the jobs, each job's comparison with the first, and the leaderboard of all of them."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from hydra.utils import instantiate
from omegaconf import DictConfig

from editbench.errors import EditbenchError
from editbench.results.tracking import PARENT_RUN_ENV, MlflowTracker

log = logging.getLogger(__name__)


class MlflowSweepCallback(Callback):
    """Opens a parent MLflow run for a Hydra multirun; each job's run is nested under it."""

    def __init__(self) -> None:
        self.tracker: MlflowTracker | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        tracker = instantiate(config.tracking)
        if not isinstance(tracker, MlflowTracker):
            return
        sweep = config.hydra.sweep.dir
        tracker.start(f"sweep {Path(sweep).name}", {"editbench.sweep_dir": str(sweep)}, {})
        os.environ[PARENT_RUN_ENV] = tracker.run_id
        self.tracker = tracker

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.tracker is None:
            return
        try:
            summarize_sweep(self.tracker)
        finally:
            self.tracker.finish("FINISHED")
            os.environ.pop(PARENT_RUN_ENV, None)


def summarize_sweep(tracker: MlflowTracker) -> None:
    """Give a sweep's parent run a table of its jobs (tags and score metrics), the best job's
    overall score and the leaderboard of its jobs, so the parent alone tells how the sweep
    went."""
    client, parent = tracker.client, tracker.run_id
    jobs = client.search_runs(
        [tracker.experiment_id()],
        filter_string=f"tags.mlflow.parentRunId = '{parent}'",
        order_by=["attributes.start_time ASC"],
    )
    if not jobs:
        return
    rows = [
        {
            "run": job.info.run_name,
            "run_id": job.info.run_id,
            "status": job.info.status,
            **{
                k.removeprefix("editbench."): v
                for k, v in job.data.tags.items()
                if k.startswith("editbench.")
            },
            **{
                k: v
                for k, v in job.data.metrics.items()
                if k.startswith("score/") and k.endswith(("mean", "overall"))
            },
        }
        for job in jobs
    ]
    columns = sorted(
        {key for row in rows for key in row}, key=lambda k: (k.startswith("score/"), k)
    )
    client.log_table(
        parent,
        data={c: [row.get(c) for row in rows] for c in columns},
        artifact_file="sweep_table.json",
    )
    scored = [row for row in rows if row.get("score/overall") is not None]
    if scored:
        best = max(scored, key=lambda row: row["score/overall"])
        client.log_metric(parent, "best/score/overall", best["score/overall"])
        client.set_tag(parent, "editbench.best_run", best["run"])
    client.log_metric(parent, "sweep/jobs", len(rows))
    finished = [job for job in jobs if job.info.status == "FINISHED"]
    _compare_to_first_job(tracker, finished)
    _log_leaderboard(tracker, finished)


def _compare_to_first_job(tracker: MlflowTracker, jobs: list[Any]) -> None:
    """Log on every job after the first its paired comparison with the first job
    (``compare/vs_first_job/<category>/diff``, interval, p-value, and the comparison pages), so
    MLflow's run comparison view shows how sure each difference is. A job judged by another
    protocol than the first (a sweep over protocols) is not comparable, and says so in the log."""
    from editbench.compare import compare_loaded_runs, load_run, log_comparison, write_comparison

    if len(jobs) < 2:
        return
    first = load_run(jobs[0].info.run_id, tracker.uri)
    for job in jobs[1:]:
        other = load_run(job.info.run_id, tracker.uri)
        try:
            comparison = compare_loaded_runs(first, other)
        except EditbenchError as error:
            log.warning("sweep: job %s not compared with the first job: %s", other.name, error)
            continue
        with tempfile.TemporaryDirectory() as folder:
            files = write_comparison(Path(folder), comparison, first.name, other.name)
            log_comparison(
                tracker.client, job.info.run_id, comparison, files, "compare/vs_first_job"
            )


def _log_leaderboard(tracker: MlflowTracker, jobs: list[Any]) -> None:
    """Log on the parent run the leaderboard of the finished jobs (``leaderboard/`` artifacts:
    leaderboard.json, .md and .html). A sweep over judges or protocols gets a board for each,
    every one ranked on its own; jobs that make no leaderboard (one entry, or two jobs of one
    editor, judge and protocol judging the same samples) are said so in the log."""
    from editbench.leaderboard import (
        build_leaderboard,
        load_finished_run,
        log_leaderboard,
        write_leaderboard,
    )

    if len(jobs) < 2:
        return
    try:
        runs = [load_finished_run(job.info.run_id, tracker.uri) for job in jobs]
        leaderboard = build_leaderboard(runs, allow_mixed=True)
    except EditbenchError as error:
        log.warning("sweep: no leaderboard for the parent run: %s", error)
        return
    with tempfile.TemporaryDirectory() as folder:
        files = write_leaderboard(Path(folder), leaderboard)
        log_leaderboard(tracker.client, tracker.run_id, files)
