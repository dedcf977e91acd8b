"""Where a run is logged: MLflow (the parent process alone talks to it), or nowhere.

A job of a sweep nests its run under the sweep's parent run, whose id it finds in
``PARENT_RUN_ENV`` (see :mod:`editbench.compare.sweep`).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PARENT_RUN_ENV = "EDITBENCH_MLFLOW_PARENT_RUN_ID"
# The local MLflow store and artifact folder that runs log to, and that comparisons read, unless
# told otherwise (tracking.uri, tracking.artifact_root; --tracking-uri).
DEFAULT_TRACKING_URI = "sqlite:///outputs/mlflow.db"
# In a tracked run's folder: its MLflow store and run id ({"tracking_uri", "run_id"}).
TRACKING_FILE = "mlflow_run.json"
DEFAULT_ARTIFACT_ROOT = "outputs/mlartifacts"
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

    def where(self) -> dict[str, str] | None:
        """Where the run is logged: nowhere."""
        return None


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

    def where(self) -> dict[str, str] | None:
        """The tracking store and the run id, once started: written into the run folder, so
        that tools run later (agreement) log to the same MLflow run."""
        if self.run_id is None:
            return None
        return {"tracking_uri": self.uri or DEFAULT_TRACKING_URI, "run_id": self.run_id}

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


def _absolute_sqlite(uri: str) -> str:
    """Anchor a relative ``sqlite:///path`` at the working directory and create its folder, so
    the store is the same wherever MLflow later changes directory."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix) or uri.startswith(prefix + "/"):
        return uri
    path = Path(uri[len(prefix) :]).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return prefix + str(path)


def metric_name(name: str) -> str:
    """``name`` (a category, criterion or subset as the benchmark spells it) as one part of an
    MLflow metric key: letters of any script, digits, ``_ - .`` and spaces kept, anything else
    ``_``, and ``/`` too, so that no name reads as a path MLflow refuses (``a/../b``, ``.``)."""
    part = re.sub(r"[^\w\-. ]", "_", name)
    return "_" * max(1, len(part)) if part.strip(".") == "" else part
