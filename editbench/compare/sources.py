"""Where the rows of a compared run come from: a run folder, or an MLflow run's artifacts; and
which protocol judged them and which subsets its dataset defines, from the run's config.yaml."""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from editbench.errors import EditbenchError
from editbench.results.tracking import DEFAULT_TRACKING_URI

_RUN_ID = re.compile(r"[0-9a-f]{32}")  # what MLflow's run ids look like


CONFIG = "config.yaml"  # the run's resolved config, which run() writes first


@dataclass(frozen=True)
class LoadedRun:
    """The samples.jsonl rows of one run, where they came from, and, where the run has its
    config.yaml, the protocol that judged it (its name and headline) and its dataset's
    subsets (name → filter on the samples' fields); None and empty where it has none."""

    name: str  # short and path-safe, for the default output folder
    source: str  # the folder, or the MLflow run, as shown in the outputs
    rows: list[dict[str, Any]]
    protocol: str | None = None
    headline: str | None = None
    subsets: dict[str, dict[str, Any]] = field(default_factory=dict)


def load_run(value: str, tracking_uri: str = DEFAULT_TRACKING_URI) -> LoadedRun:
    """The run at ``value``: a run folder, or else, if it is 32 hex digits, an MLflow run id
    whose samples.jsonl artifact is read from ``tracking_uri``."""
    path = Path(value)
    if not path.is_dir() and _RUN_ID.fullmatch(value):
        return _load_mlflow_run(value, tracking_uri)
    if not path.is_dir():
        state = "is not a directory" if path.exists() else "does not exist"
        raise EditbenchError(f"run folder {value!r} {state}; expected a run folder or run id")
    samples = path / "samples.jsonl"
    if not samples.is_file():
        raise EditbenchError(
            f"run folder {value!r} has no samples.jsonl; expected the folder of a finished run"
        )
    resolved = path.resolve()
    # The parent's name too: a sweep's job folders are called 0, 1, ...
    name = f"{resolved.parent.name}_{resolved.name}"
    source = f"run folder {value!r}"
    config = path / CONFIG
    setup = _read_setup(config, source) if config.is_file() else {}
    return LoadedRun(name, str(path), _read_samples(samples, source), **setup)


def _load_mlflow_run(run_id: str, tracking_uri: str) -> LoadedRun:
    prefix = "sqlite:///"
    # Opening a missing sqlite store would create an empty one, and then report a missing run.
    if tracking_uri.startswith(prefix) and not Path(tracking_uri[len(prefix) :]).is_file():
        raise EditbenchError(
            f"MLflow run {run_id!r}: tracking store {tracking_uri!r} does not exist; "
            "pass --tracking-uri"
        )
    from mlflow import MlflowClient  # heavy import: only when a run id is given
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise EditbenchError(f"MLflow run {run_id!r} not found in {tracking_uri!r}") from None
    artifacts = {artifact.path for artifact in client.list_artifacts(run_id)}
    if "samples.jsonl" not in artifacts:
        raise EditbenchError(f"MLflow run {run_id!r} has no samples.jsonl artifact")
    source = f"MLflow run {run_id!r}"
    with tempfile.TemporaryDirectory() as folder:
        rows = _read_samples(
            Path(client.download_artifacts(run_id, "samples.jsonl", folder)), source
        )
        setup = {}
        if CONFIG in artifacts:
            setup = _read_setup(Path(client.download_artifacts(run_id, CONFIG, folder)), source)
    return LoadedRun(run_id, f"MLflow run {run_id} ({run.info.run_name})", rows, **setup)


def _read_setup(path: Path, source: str) -> dict[str, Any]:
    """The protocol's name and headline and the dataset's subsets from a run's config.yaml;
    no protocol where the config names none (a run from before protocols)."""
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise EditbenchError(f"{source}: cannot read {CONFIG}: {error}") from None
    if not isinstance(config, dict):
        config = {}
    protocol = config.get("protocol") if isinstance(config.get("protocol"), dict) else {}
    dataset = config.get("dataset") if isinstance(config.get("dataset"), dict) else {}
    subsets = dataset.get("subsets") or {}
    if not isinstance(subsets, dict) or not all(isinstance(w, dict) for w in subsets.values()):
        raise EditbenchError(
            f"{source}: {CONFIG} dataset.subsets is {subsets!r}; expected name: filter mappings"
        )
    setup: dict[str, Any] = {"subsets": subsets}
    if isinstance(protocol.get("name"), str):
        setup["protocol"] = protocol["name"]
        setup["headline"] = str(protocol.get("headline") or "mean_of_categories")
    return setup


def _read_samples(path: Path, source: str) -> list[dict[str, Any]]:
    rows = []
    # Split on "\n" alone: str.splitlines() also splits on U+2028, U+2029, \x85 and the other
    # separators that json.dumps(ensure_ascii=False) leaves raw inside a string. Each line is
    # decoded on its own, so a bad byte is reported by its line number.
    for number, line in enumerate(path.read_bytes().split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as error:  # UnicodeDecodeError too
            raise EditbenchError(f"{source}: samples.jsonl line {number}: {error}") from None
        if not isinstance(row, dict):
            raise EditbenchError(
                f"{source}: samples.jsonl line {number} is a JSON {type(row).__name__}; "
                "expected an object"
            )
        missing = [key for key in ("id", "category", "status", "score") if key not in row]
        if missing:
            raise EditbenchError(f"{source}: samples.jsonl line {number} lacks {missing}")
        rows.append(row)
    return rows
