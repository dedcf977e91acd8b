"""Shards across machines and runs sharing one store."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from editbench.config.resolvers import SAMPLE_DATA
from editbench.errors import EditbenchError
from editbench.sources.manifest import load_manifest
from editbench.store import Store

from .conftest import ROOT, local_overrides
from .test_workers import finish, start_cli

SMALL = ["experiment=demo", "tracking=none", "dataset.limit=6", "layout.cpu_threads=1"]
# Hang guards, ten times the normal time on an idle 2-core machine (30 s at least): the sweep
# of two shards takes 45 s, composing a launcher's config 0.4 s.
SWEEP_S = 480
COMPOSE_S = 30


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_shards_partition_the_samples(count):
    everything = [s.id for s in load_manifest(SAMPLE_DATA)]
    parts = [[s.id for s in load_manifest(SAMPLE_DATA, shard=f"{i}/{count}")] for i in range(count)]
    assert sorted(i for part in parts for i in part) == sorted(everything)
    assert sum(len(p) for p in parts) == len(everything)


def test_shard_does_not_depend_on_manifest_order(tmp_path):
    lines = (SAMPLE_DATA / "manifest.jsonl").read_text().splitlines()
    shutil.copytree(SAMPLE_DATA / "images", tmp_path / "images")
    (tmp_path / "manifest.jsonl").write_text("\n".join(reversed(lines)) + "\n")
    for i in range(3):
        forward = {s.id for s in load_manifest(SAMPLE_DATA, shard=f"{i}/3")}
        backward = {s.id for s in load_manifest(tmp_path, shard=f"{i}/3")}
        assert forward == backward


@pytest.mark.parametrize("shard", ["2/2", "1", "a/b", "-1/2", "0/0"])
def test_bad_shard_is_named(shard):
    with pytest.raises(EditbenchError, match=f"shard: {shard!r}"):
        load_manifest(SAMPLE_DATA, shard=shard)


def store_records(root: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in root.rglob("*.json")}


@pytest.mark.slow
def test_submitit_shards_then_merged_run_reports_everything(tmp_path):
    sweep = tmp_path / "sweep"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "editbench",
            "-m",
            "--config-dir",
            str(ROOT / "launchers"),
            "hydra/launcher=local",
            "dataset.shard=0/2,1/2",
            f"hydra.sweep.dir={sweep}",
            *SMALL,
            *local_overrides(tmp_path),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=SWEEP_S,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    shards = [json.loads((sweep / str(job) / "results.json").read_text()) for job in (0, 1)]
    assert sum(r["overall"]["n"] for r in shards) == 6
    assert all(r["work"]["edits_reused"] == 0 for r in shards)

    process = start_cli(
        *SMALL, f"hydra.run.dir={tmp_path / 'merged'}", *local_overrides(tmp_path), cwd=tmp_path
    )
    stderr = finish(process)
    assert process.returncode == 0, stderr[-3000:]
    merged = json.loads((tmp_path / "merged" / "results.json").read_text())
    assert merged["work"] == {
        "edits_done": 0,
        "edits_reused": 6,
        "judgements_done": 0,
        "judgements_reused": 6,
    }
    assert merged["overall"]["n"] == merged["overall"]["judged"] == 6


def test_slurm_example_composes(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "editbench",
            "--config-dir",
            str(ROOT / "launchers"),
            "hydra/launcher=slurm",
            "--cfg",
            "hydra",
            "--package",
            "hydra.launcher",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=COMPOSE_S,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "partition: gpu" in result.stdout and "gpus_per_node: 8" in result.stdout
    assert "SlurmLauncher" in result.stdout


@pytest.mark.slow
def test_two_runs_share_one_store_at_the_same_time(tmp_path):
    runs = [
        start_cli(
            *SMALL, f"hydra.run.dir={tmp_path / name}", *local_overrides(tmp_path), cwd=tmp_path
        )
        for name in ("first", "second")
    ]
    for process in runs:
        stderr = finish(process)
        assert process.returncode == 0, stderr[-3000:]
    first, second = (
        json.loads((tmp_path / n / "results.json").read_text()) for n in ("first", "second")
    )
    assert first["categories"] == second["categories"]
    store = Store(tmp_path / "store")
    edits = [p.stem for p in (tmp_path / "store" / "edits").rglob("*.json")]
    assert len(edits) == 6 and all(store.read_edit(key) for key in edits)
    assert len(list((tmp_path / "store" / "judgements").rglob("*.json"))) == 6
    assert not list((tmp_path / "store").rglob("*.tmp"))
