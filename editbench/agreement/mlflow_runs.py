"""Which MLflow run an agreement report belongs to, and logging it there.

A run given as an MLflow run id is that run. A run folder names its run in
``mlflow_run.json``, which a run tracked in MLflow writes when it opens its MLflow run. A
folder tracked nowhere, or whose file is missing or damaged, is said so and nothing is logged.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from editbench.results.tracking import DEFAULT_TRACKING_URI, TRACKING_FILE, metric_name

log = logging.getLogger(__name__)

_RUN_ID = re.compile(r"[0-9a-f]{32}")  # what MLflow's run ids look like, as compare reads them
_SQLITE = "sqlite:///"
_BATCH = 100  # metrics per MLflow call: well under its limit of 1000
ARTIFACT_PATH = "agreement"


@dataclass(frozen=True)
class MlflowLink:
    """Where a run's report is logged: ``run_id`` in ``tracking_uri``, or nowhere (None), and
    a note saying which, or why not."""

    run_id: str | None
    tracking_uri: str | None
    note: str


def find_mlflow_run(value: str, tracking_uri: str | None) -> MlflowLink:
    """The MLflow run of ``value`` (a run folder or an MLflow run id, as ``load_run`` takes).
    ``tracking_uri`` overrides the store a folder's config.yaml names. Never raises: a problem
    becomes the note of a link to nothing."""
    folder = Path(value)
    if not folder.is_dir() and _RUN_ID.fullmatch(value):
        uri = tracking_uri or DEFAULT_TRACKING_URI
        return MlflowLink(value, uri, f"MLflow run {value}")
    try:
        return _folder_link(folder, tracking_uri)
    except Exception as error:  # a lookup that fails (a damaged store) must not stop the report
        return MlflowLink(None, None, f"not logged: looking up its MLflow run failed: {error}")


def _folder_link(folder: Path, tracking_uri: str | None) -> MlflowLink:
    """The MLflow run a run folder names in its ``mlflow_run.json`` (written by a tracked
    run)."""
    path = folder / TRACKING_FILE
    if not path.is_file():
        return MlflowLink(
            None, None, f"not logged: the run folder has no {TRACKING_FILE} (tracking=none?)"
        )
    where = json.loads(path.read_text(encoding="utf-8"))
    run_id = where.get("run_id") if isinstance(where, dict) else None
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        return MlflowLink(None, None, f"not logged: {path} names no MLflow run id")
    uri = tracking_uri or where.get("tracking_uri") or DEFAULT_TRACKING_URI
    # Opening a missing sqlite store would create an empty one.
    if uri.startswith(_SQLITE) and not Path(uri[len(_SQLITE) :]).is_file():
        return MlflowLink(None, None, f"not logged: its tracking store {uri!r} does not exist")
    return MlflowLink(run_id, uri, f"MLflow run {run_id}")


def log_agreement(link: MlflowLink, metrics: Mapping[str, float], files: Sequence[Path]) -> None:
    """Log ``metrics`` and ``files`` (under ``agreement/``) to the linked run."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(tracking_uri=link.tracking_uri)
    now = int(time.time() * 1000)
    items = [Metric(key, value, now, 0) for key, value in sorted(metrics.items())]
    for start in range(0, len(items), _BATCH):
        client.log_batch(link.run_id, metrics=items[start : start + _BATCH])
    for path in files:
        client.log_artifact(link.run_id, str(path), artifact_path=ARTIFACT_PATH)


def agreement_metrics(run: Mapping[str, Any], judges: Mapping[str, Any] | None) -> dict[str, float]:
    """A run's figures as MLflow metrics: ``agreement/human/overall/spearman``,
    ``.../category/<name>/...``, ``.../criterion/<name>/overall/...``, with ``_ci95_lo|hi``
    and the raters' ``ceiling_alpha`` and ``ceiling_spearman``;
    ``agreement/preferences/overall/pairwise_accuracy``; and the panel's
    ``agreement/judges/overall/alpha`` and ``mean_spearman``. Undefined figures are left out."""
    metrics: dict[str, float] = {}
    human = run.get("human") or {}
    if "overall" in human:
        _human_metrics(metrics, "agreement/human", human)
        for name, cells in human["criteria"].items():
            _human_metrics(metrics, f"agreement/human/criterion/{metric_name(name)}", cells)
    preferences = human.get("preferences")
    if preferences is not None:
        _cells_metrics(metrics, "agreement/preferences", preferences, ("pairwise_accuracy",))
        for name, cells in preferences["criteria"].items():
            prefix = f"agreement/preferences/criterion/{metric_name(name)}"
            _cells_metrics(metrics, prefix, cells, ("pairwise_accuracy",))
    if judges is not None:
        _cells_metrics(metrics, "agreement/judges", judges, ("alpha", "mean_spearman"))
    return metrics


def _human_metrics(metrics: dict[str, float], prefix: str, cells: Mapping[str, Any]) -> None:
    _cells_metrics(metrics, prefix, cells, ("spearman", "kendall", "pairwise_accuracy"))
    for key, cell in _keyed(prefix, cells):
        ceiling = cell["ceiling"]
        for name, value in (
            ("ceiling_alpha", ceiling["alpha"]),
            ("ceiling_spearman", ceiling["leave_one_out_spearman"]),
        ):
            if value is not None:
                metrics[f"{key}/{name}"] = value


def _cells_metrics(
    metrics: dict[str, float], prefix: str, cells: Mapping[str, Any], figures: Sequence[str]
) -> None:
    for key, cell in _keyed(prefix, cells):
        metrics[f"{key}/n"] = float(cell["n"])
        for figure in figures:
            if cell.get(figure) is None:
                continue
            metrics[f"{key}/{figure}"] = cell[figure]
            interval = cell.get(f"{figure}_ci95")
            if interval is not None:
                metrics[f"{key}/{figure}_ci95_lo"], metrics[f"{key}/{figure}_ci95_hi"] = interval


def _keyed(prefix: str, cells: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    return [
        (f"{prefix}/overall", cells["overall"]),
        *((f"{prefix}/category/{metric_name(n)}", c) for n, c in cells["categories"].items()),
    ]
