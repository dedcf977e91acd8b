"""The scaling benchmark's code path on the tiny models: real CLI runs, figures read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import scaling


@pytest.mark.slow
def test_tiny_judge_part_runs_editbench_and_reads_its_throughput(tmp_path: Path) -> None:
    scaling.main(["--tiny", "--parts", "judge", "--judge-samples", "4", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "scaling.json").read_text())
    (run,) = report["results"]
    assert run["name"] == "judge-shared-cpu" and run["exit_code"] == 0, run
    assert run["throughput"]["score"]["images"] == 4  # every item judged, through the CLI
    assert run["throughput"]["score"]["images_per_s"] > 0
    assert run["process_wall_s"] >= run["timing"]["wall_s"] > 0
    assert (tmp_path / "judge-shared-cpu" / "results.json").exists()
    assert "judge-shared-cpu" in scaling.table(report["results"], report)


@pytest.mark.slow
def test_a_run_that_is_not_a_result_keeps_its_figures_and_its_exit_code(tmp_path: Path) -> None:
    """The tiny random judge writes no VIEScore reply: the run ends, says it is not a result
    and exits 1, and its two calls per sample are still timed."""
    argv = ["--tiny", "--parts", "judge", "--judge-samples", "3", "--protocol", "viescore"]
    scaling.main([*argv, "--out", str(tmp_path)])
    report = json.loads((tmp_path / "scaling.json").read_text())
    (run,) = report["results"]
    assert report["protocol"] == "viescore"
    assert run["exit_code"] == 1 and "error" not in run, run
    assert run["throughput"]["score"]["images"] == 6  # SC and PQ for each of the 3 samples
    assert "judge-shared-cpu (exit code 1)" in scaling.table(report["results"], report)


def test_a_failed_run_is_recorded_not_raised(tmp_path: Path) -> None:
    failed = scaling.run_editbench("broken", ["no_such_group=x"], tmp_path)
    assert failed == {"name": "broken", "error": "exit code 1"}  # Hydra's unknown group
    assert "no_such_group" in (tmp_path / "broken.log").read_text()


def test_per_gpu_counts_grow_with_the_gpus_and_fixed_counts_do_not() -> None:
    assert scaling.items(256, 4, per_gpu=True) == 1024
    assert scaling.items(256, 4, per_gpu=False) == 256
    assert scaling.items(256, "cpu", per_gpu=True) == 256
