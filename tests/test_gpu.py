"""Two GPUs: both layouts end to end on the tiny models, and a killed GPU worker.

Run on a machine with 2+ GPUs: ``pytest -m gpu``. Skipped elsewhere (CI has no GPU).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from .test_workers import edit_workers, finish, start_cli, stored_edits, wait_for_edits

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 visible CUDA GPUs"),
]


def gpu_args(tmp_path: Path, run: str, *extra: str) -> list[str]:
    return [
        "experiment=demo",
        "gpus=2",
        "tracking=none",
        f"hydra.run.dir={tmp_path / run}",
        f"store.root={tmp_path / 'store'}",
        *extra,
    ]


@pytest.mark.parametrize(
    ("layout", "edit_devices", "score_devices"),
    [("shared", {"cuda:0", "cuda:1"}, {"cuda:0", "cuda:1"}), ("split", {"cuda:0"}, {"cuda:1"})],
)
def test_both_layouts_on_two_gpus(tmp_path, layout, edit_devices, score_devices):
    process = start_cli(
        *gpu_args(tmp_path, "run", f"layout={layout}", "scorer.batch_size=2"), cwd=tmp_path
    )
    stderr = finish(process)
    assert process.returncode == 0, stderr[-3000:]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["overall"]["judged"] == 10
    for phase, devices in (("edit", edit_devices), ("score", score_devices)):
        workers = results["throughput"][phase]["workers"].values()
        assert {d for w in workers for d in w["devices"]} == devices
        assert all(w["images"] >= 1 for w in workers)  # every device did work
        assert all(0 <= w["gpu_utilization_pct"] <= 100 for w in workers)
    records = [json.loads(p.read_text()) for p in (tmp_path / "store" / "edits").rglob("*.json")]
    assert {r["device"] for r in records} == edit_devices


def test_killed_gpu_worker_stops_the_run_and_a_rerun_resumes(tmp_path):
    slow = "editor._target_=tests.faulty.SlowEditor"  # still editing when one is killed
    process = start_cli(*gpu_args(tmp_path, "killed", slow), cwd=tmp_path)
    wait_for_edits(process, tmp_path / "store", 2)
    edit_workers(process, tmp_path / "killed")[0].kill()
    stderr = finish(process)
    assert process.returncode == 1
    assert "killed by signal 9" in stderr and "worker edit-" in stderr and "on cuda:" in stderr
    kept = stored_edits(tmp_path / "store")
    process = start_cli(*gpu_args(tmp_path, "resumed", slow), cwd=tmp_path)
    stderr = finish(process)
    assert process.returncode == 0, stderr[-3000:]
    results = json.loads((tmp_path / "resumed" / "results.json").read_text())
    assert results["work"]["edits_reused"] == kept
    assert results["work"]["edits_done"] == 10 - kept


def test_one_judge_spread_over_two_gpus(tmp_path):
    process = start_cli(*gpu_args(tmp_path, "run", "scorer.placement=spread"), cwd=tmp_path)
    stderr = finish(process)
    assert process.returncode == 0, stderr[-3000:]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["overall"]["judged"] == 10
    (judge,) = results["throughput"]["score"]["workers"].values()
    assert judge["devices"] == ["cuda:0", "cuda:1"] and judge["images"] == 10
