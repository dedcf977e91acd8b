"""A finished run as the leaderboard reads it: its samples.jsonl rows (read by
:func:`editbench.compare.sources.load_run`), its results.json, its config.yaml and the config
options it chose (.hydra/hydra.yaml), from a run folder or from an MLflow run's artifacts."""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from editbench.compare.differences import HEADLINES
from editbench.compare.sources import CONFIG, LoadedRun, load_run
from editbench.errors import EditbenchError
from editbench.records import OK
from editbench.results.chart import finite
from editbench.results.tracking import DEFAULT_TRACKING_URI

log = logging.getLogger(__name__)

RESULTS = "results.json"  # written last by a run: its presence says the run finished
CHOICES = ".hydra/hydra.yaml"  # Hydra's record of the options chosen (editor: qwen_image_edit)


@dataclass(frozen=True)
class FinishedRun:
    """One run's rows and what it says about itself. ``config`` is empty where the run has no
    config.yaml; ``choices`` (config group → option) where it has no .hydra folder, as when
    ``editbench.run.run`` is called from Python."""

    loaded: LoadedRun
    results: dict[str, Any]
    config: dict[str, Any]
    choices: dict[str, str]

    @property
    def source(self) -> str:
        return self.loaded.source

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self.loaded.rows

    @property
    def protocol(self) -> str | None:
        """The protocol's name: from config.yaml, else from results.json."""
        if self.loaded.protocol is not None:
            return self.loaded.protocol
        name = (self.results.get("protocol") or {}).get("name")
        return name if isinstance(name, str) else None

    @property
    def headline(self) -> str:
        """The overall figure the protocol publishes (mean_of_categories, sample_mean, pooled)."""
        headline = self.loaded.headline or (self.results.get("protocol") or {}).get("headline")
        return headline or "mean_of_categories"


def load_finished_run(value: str, tracking_uri: str = DEFAULT_TRACKING_URI) -> FinishedRun:
    """The run at ``value``: a run folder, or an MLflow run id read from ``tracking_uri``.
    Raises :class:`EditbenchError` naming the run when it is not a finished run (no
    samples.jsonl or results.json) or a row is not one a run writes."""
    loaded = load_run(value, tracking_uri)
    names = (RESULTS, CONFIG, CHOICES)
    if Path(value).is_dir():  # load_run's own rule: a folder first, else a run id
        texts = {name: _read_file(Path(value) / name) for name in names}
    else:
        texts = _download(value, tracking_uri, names)
    if texts[RESULTS] is None:
        raise EditbenchError(
            f"{loaded.source!r} has no {RESULTS}; expected a finished run (a run writes it last)"
        )
    results = _results(texts[RESULTS], loaded.source)
    run = FinishedRun(
        loaded, results, _config(texts[CONFIG]), _choices(texts[CHOICES], loaded.source)
    )
    if run.headline not in HEADLINES:
        raise EditbenchError(
            f"{loaded.source!r}: protocol headline {run.headline!r}; expected one of "
            f"{list(HEADLINES)}"
        )
    check_rows(run.rows, loaded.source)
    return run


def check_rows(rows: Sequence[Mapping[str, Any]], source: str) -> None:
    """Raise :class:`EditbenchError` naming ``source`` and the sample unless every row has a
    string id, category and status, no id repeats, and every ok row has a finite score (and,
    where it pools values, a list of finite numbers): a failure is never read as a number."""
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        for name in ("id", "category", "status"):
            if not isinstance(row[name], str):
                raise EditbenchError(
                    f"{source!r}: samples.jsonl row {number} has {name} {row[name]!r}; "
                    "expected a string"
                )
        if row["id"] in seen:
            raise EditbenchError(f"{source!r}: sample id {row['id']!r} appears twice")
        seen.add(row["id"])
        if row["status"] != OK:
            continue
        if finite(row["score"]) is None:
            raise EditbenchError(
                f"{source!r}: sample {row['id']!r} has status 'ok' but score {row['score']!r}; "
                "expected a finite number"
            )
        pooled = row.get("pooled")
        if pooled is not None and (
            not isinstance(pooled, list) or any(finite(value) is None for value in pooled)
        ):
            raise EditbenchError(
                f"{source!r}: sample {row['id']!r} pools {pooled!r}; expected a list of finite "
                "numbers"
            )


def _read_file(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise EditbenchError(f"cannot read {str(path)!r}: {error}") from None


def _download(run_id: str, tracking_uri: str, names: Sequence[str]) -> dict[str, str | None]:
    """The text of each artifact of ``names`` that the MLflow run has; None for the others."""
    from mlflow import MlflowClient  # heavy import: only when a run id is given

    client = MlflowClient(tracking_uri=tracking_uri)
    texts: dict[str, str | None] = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            parent = str(Path(name).parent)
            listed = client.list_artifacts(run_id, None if parent == "." else parent)
            if name not in {artifact.path for artifact in listed}:
                texts[name] = None
                continue
            texts[name] = _read_file(Path(client.download_artifacts(run_id, name, folder)))
    return texts


def _results(text: str, source: str) -> dict[str, Any]:
    try:
        results = json.loads(text)
    except ValueError as error:
        raise EditbenchError(f"{source!r}: {RESULTS} is not JSON ({error})") from None
    if not isinstance(results, dict):
        raise EditbenchError(
            f"{source!r}: {RESULTS} holds a JSON {type(results).__name__}; expected an object"
        )
    return results


def _config(text: str | None) -> dict[str, Any]:
    """The run's resolved config; load_run has already refused one that is not YAML."""
    config = yaml.safe_load(text) if text else None
    return config if isinstance(config, dict) else {}


def _choices(text: str | None, source: str) -> dict[str, str]:
    """Config group → the option chosen, from Hydra's record; empty where there is none. Only
    labels come from it, so a damaged record is logged and left out, not refused."""
    if text is None:
        return {}
    try:
        hydra = yaml.safe_load(text)
        choices = hydra["hydra"]["runtime"]["choices"]
    except (yaml.YAMLError, KeyError, TypeError) as error:
        log.warning(
            "%s: %s holds no config choices (%s); labels from fingerprints", source, CHOICES, error
        )
        return {}
    if not isinstance(choices, dict):
        return {}
    return {str(k): v for k, v in choices.items() if isinstance(v, str)}
