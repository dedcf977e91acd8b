"""Where a run is logged: MLflow (the parent process alone talks to it), or nowhere.

Sweeps: :class:`MlflowSweepCallback` opens one parent run per Hydra multirun and every job's
run is nested under it.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from hydra.utils import instantiate
from omegaconf import DictConfig

log = logging.getLogger(__name__)

PARENT_RUN_ENV = "EDITBENCH_MLFLOW_PARENT_RUN_ID"
# MLflow's limits (mlflow.utils.validation): keys up to 250 characters, values up to 6000.
MAX_PARAM_KEY = 250
MAX_PARAM_VALUE = 6000
BATCH = 100
TABLE_COLUMNS = (
    "id",
    "category",
    "instruction",
    "status",
    "score",
    "entropy",
    "spread",
    "reply",
    "edited_image",
)


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"editor": {"model": "x"}}`` → ``{"editor/model": "x"}``; lists are kept whole."""
    if not isinstance(tree, Mapping):
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(flatten(value, f"{prefix}/{key}" if prefix else str(key)))
    return flat


class NoTracking:
    """Logs nothing beyond the run folder."""

    def __init__(self, **_: Any) -> None:
        pass

    def start(self, run_name: str, tags: Mapping[str, str], params: Mapping[str, Any]) -> None:
        pass

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        pass

    def log_artifacts(self, paths: list[Path]) -> None:
        pass

    def log_table(self, rows: list[dict[str, Any]]) -> None:
        pass

    def finish(self, status: str) -> None:
        pass


class MlflowTracker:
    """One MLflow run per editbench run, nested under the sweep's parent run in a multirun."""

    def __init__(self, uri: str | None, experiment: str, artifact_root: str | None) -> None:
        self.uri = _absolute_sqlite(uri) if uri else None
        self.experiment = experiment
        self.artifact_root = artifact_root
        self.run_id: str | None = None
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from mlflow import MlflowClient  # heavy import: only when a run is actually logged

            self._client = MlflowClient(tracking_uri=self.uri)
        return self._client

    def experiment_id(self) -> str:
        found = self.client.get_experiment_by_name(self.experiment)
        if found is not None:
            return found.experiment_id
        location = Path(self.artifact_root).resolve().as_uri() if self.artifact_root else None
        return self.client.create_experiment(self.experiment, artifact_location=location)

    def start(self, run_name: str, tags: Mapping[str, str], params: Mapping[str, Any]) -> None:
        all_tags = dict(tags)
        if parent := os.environ.get(PARENT_RUN_ENV):
            all_tags["mlflow.parentRunId"] = parent
        run = self.client.create_run(self.experiment_id(), run_name=run_name, tags=all_tags)
        self.run_id = run.info.run_id
        from mlflow.entities import Param

        items = [
            Param(key[:MAX_PARAM_KEY], str(value)[:MAX_PARAM_VALUE])
            for key, value in sorted(params.items())
        ]
        for i in range(0, len(items), BATCH):
            self.client.log_batch(self.run_id, params=items[i : i + BATCH])
        log.info("MLflow run %s (%s) in %s", self.run_id, run_name, self.uri)

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, 0) for k, v in sorted(metrics.items()) if v is not None]
        for i in range(0, len(items), BATCH):
            self.client.log_batch(self.run_id, metrics=items[i : i + BATCH])

    def log_artifacts(self, paths: list[Path]) -> None:
        for path in paths:
            if path.is_dir():
                self.client.log_artifacts(self.run_id, str(path), artifact_path=path.name)
            elif path.exists():
                self.client.log_artifact(self.run_id, str(path))

    def log_table(self, rows: list[dict[str, Any]]) -> None:
        """Per-sample results as an MLflow table, so the UI's evaluation view lists them."""
        columns = {name: [row.get(name) for row in rows] for name in TABLE_COLUMNS}
        self.client.log_table(self.run_id, data=columns, artifact_file="samples_table.json")

    def finish(self, status: str) -> None:
        if self.run_id is not None:
            self.client.set_terminated(self.run_id, status=status)


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
    """Give a sweep's parent run a table of its jobs (tags and score metrics) and the best
    job's overall score, so the parent alone tells how the sweep went."""
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
    _compare_to_first_job(tracker, [job for job in jobs if job.info.status == "FINISHED"])


def _compare_to_first_job(tracker: MlflowTracker, jobs: list[Any]) -> None:
    """Log on every job after the first its paired comparison with the first job
    (``compare/vs_first_job/<category>/diff``, interval, p-value, and the comparison pages), so
    MLflow's run comparison view shows how sure each difference is."""
    from editbench.compare import compare_runs, load_run, log_comparison, write_comparison

    if len(jobs) < 2:
        return
    first = load_run(jobs[0].info.run_id, tracker.uri)
    for job in jobs[1:]:
        other = load_run(job.info.run_id, tracker.uri)
        comparison = compare_runs(first.rows, other.rows)
        with tempfile.TemporaryDirectory() as folder:
            files = write_comparison(Path(folder), comparison, first.name, other.name)
            log_comparison(
                tracker.client, job.info.run_id, comparison, files, "compare/vs_first_job"
            )


def _absolute_sqlite(uri: str) -> str:
    """Anchor a relative ``sqlite:///path`` at the working directory and create its folder, so
    the store is the same wherever MLflow later changes directory."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix) or uri.startswith(prefix + "/"):
        return uri
    path = Path(uri[len(prefix) :]).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return prefix + str(path)
