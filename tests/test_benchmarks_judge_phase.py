"""The judge-phase benchmark's code path on the tiny judge: CLI runs, then the bare forward on
the run's own requests at the run's batch size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import judge_phase


@pytest.mark.slow
def test_tiny_phase_and_bare_forward_at_the_runs_batch_size(tmp_path: Path) -> None:
    argv = ["--tiny", "--samples", "20", "--runs", "first", "--bare-batches", "1"]
    judge_phase.main([*argv, "--out", str(tmp_path)])
    report = json.loads((tmp_path / "judge_phase.json").read_text())
    (run,) = report["runs"]
    assert run["judged"] == 20 and run["phase_img_per_s"] > 0
    # The CPU judge takes batches of 8; the bare forward times one after its warm-up batch,
    # each prepared as a single pass of that size.
    assert report["request_batch"] == 8
    assert report["bare_judged"] == 8 and report["bare_img_per_s"] > 0
    log = (tmp_path / "judge_phase.log").read_text()
    assert "bare: batch 1 of 8 requests" in log and log.count("bare: batch") == 2
    assert run["ratio_to_bare"] == pytest.approx(run["phase_img_per_s"] / report["bare_img_per_s"])


def test_the_batch_size_is_the_one_the_run_judged_at_not_the_larger_fit() -> None:
    lines = [
        "INFO editbench.judges.batch_fit: batch_size auto on cuda:0: 0.47 GiB per request",
        "INFO editbench.judges.qwen3_vl: batch_size auto: 64",
    ]
    assert judge_phase.batch_size_used(lines) == 64
    assert judge_phase.batch_size_used(["... batch_size auto: 64 (remembered)"]) == 64
