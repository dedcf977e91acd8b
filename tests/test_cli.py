"""The CLI as a user runs it: ``python -m editbench ...`` in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, local_overrides

CATEGORIES = ("physical", "environment", "social", "causal", "referential")
# A hang guard, ten times the slowest call's normal time on an idle 2-core machine: the demo
# with MLflow tracking, 46 s.
RUN_S = 480


def editbench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "editbench", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=RUN_S,
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store and MLflow database shared by the runs of this module, as a user's outputs/ is."""
    return tmp_path_factory.mktemp("workspace")


@pytest.fixture(scope="module")
def demo_run(workspace: Path) -> Path:
    run_dir = workspace / "demo"
    result = editbench(
        "experiment=demo", f"hydra.run.dir={run_dir}", *local_overrides(workspace), cwd=workspace
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


@pytest.mark.slow
def test_demo_writes_every_output(demo_run: Path):
    rows = [json.loads(line) for line in (demo_run / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 10
    for row in rows:
        assert Path(row["edited_image"]).is_file()
        assert row["status"] == "ok"  # expected-score mode reads every reply
        assert 0.0 <= row["score"] <= 10.0
        assert row["reply"] is not None and row["edit_key"] and row["judgement_key"]

    results = json.loads((demo_run / "results.json").read_text())
    assert set(results["categories"]) == set(CATEGORIES)
    for stats in results["categories"].values():
        assert stats["n"] == stats["judged"] == 2 and stats["coverage"] == 1.0
        lo, hi = stats["ci95"]
        assert lo <= stats["mean"] <= hi
        assert stats["min"] <= stats["mean"] <= stats["max"]
    assert results["overall"]["n"] == 10 and results["overall"]["coverage"] == 1.0
    assert results["work"] == {
        "edits_done": 10,
        "edits_reused": 0,
        "judgements_done": 10,
        "judgements_reused": 0,
    }
    assert set(results["timing"]) >= {"wall_s", "load_s", "edit_s", "score_s"}
    edit_worker = results["throughput"]["edit"]["workers"]["edit-0"]
    assert edit_worker["images"] == 10 and edit_worker["images_per_s"] > 0
    assert edit_worker["gpu_utilization_pct"] is None  # a CPU run has none to report

    report = (demo_run / "report.html").read_text()
    assert all(row["id"] in report for row in rows)
    assert (
        "editor:" not in (demo_run / "config.yaml").read_text()
        or "${" not in (demo_run / "config.yaml").read_text()
    )
    assert (demo_run / "edit-0.log").is_file() and (demo_run / "score-0.log").is_file()


@pytest.mark.slow
def test_demo_is_logged_to_mlflow(demo_run: Path, workspace: Path):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{workspace / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("editbench")
    (run,) = client.search_runs(
        [experiment.experiment_id], filter_string="tags.`editbench.experiment` = 'demo'"
    )
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "tiny × tiny · prompts v1"
    assert run.data.params["editor/call/num_inference_steps"] == "2"
    assert run.data.tags["editbench.prompts"] == "v1"
    assert run.data.tags["editbench.protocol"] == "editbench"
    results = json.loads((demo_run / "results.json").read_text())
    assert run.data.metrics["score/overall"] == pytest.approx(
        results["overall"]["mean_of_categories"]
    )
    for category in CATEGORIES:
        assert run.data.metrics[f"score/{category}/coverage"] == 1.0
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {
        "results.json",
        "samples.jsonl",
        "report.html",
        "config.yaml",
        "categories.png",
    } <= artifacts
    assert "samples_table.json" in artifacts  # the per-sample table of MLflow's evaluation view


@pytest.mark.slow
def test_rerun_reuses_everything(demo_run: Path, workspace: Path):
    run_dir = workspace / "again"
    result = editbench(
        "experiment=demo", f"hydra.run.dir={run_dir}", *local_overrides(workspace), cwd=workspace
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["work"] == {
        "edits_done": 0,
        "edits_reused": 10,
        "judgements_done": 0,
        "judgements_reused": 10,
    }
    first = json.loads((demo_run / "results.json").read_text())
    assert results["categories"] == first["categories"]


@pytest.mark.slow
def test_prompt_sweep_rejudges_only_physical(demo_run: Path, workspace: Path):
    sweep_dir = workspace / "sweep"
    result = editbench(
        "-m",
        "experiment=demo",
        "prompts/physical=v1,v2",
        f"hydra.sweep.dir={sweep_dir}",
        *local_overrides(workspace),
        cwd=workspace,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    v1, v2 = (json.loads((sweep_dir / str(job) / "results.json").read_text()) for job in (0, 1))
    assert v1["work"] == {
        "edits_done": 0,
        "edits_reused": 10,
        "judgements_done": 0,
        "judgements_reused": 10,
    }
    assert v2["work"] == {
        "edits_done": 0,
        "edits_reused": 10,
        "judgements_done": 2,
        "judgements_reused": 8,
    }
    for category in CATEGORIES[1:]:
        assert v2["categories"][category] == v1["categories"][category]

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{workspace / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("editbench")
    (parent,) = client.search_runs(
        [experiment.experiment_id], filter_string="tags.`editbench.sweep_dir` != ''"
    )
    children = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    assert sorted(run.data.tags["editbench.prompts"] for run in children) == [
        "causal=v1,environment=v1,physical=v2,referential=v1,social=v1",  # by category name
        "v1",
    ]
    # the parent summarises its jobs; each later job carries its comparison with the first
    assert parent.info.status == "FINISHED"
    best = max(run.data.metrics["score/overall"] for run in children)
    assert parent.data.metrics["best/score/overall"] == pytest.approx(best)
    assert "sweep_table.json" in {a.path for a in client.list_artifacts(parent.info.run_id)}
    second = next(run for run in children if run.data.tags["editbench.prompts"] != "v1")
    assert second.data.metrics["compare/vs_first_job/environment/diff"] == pytest.approx(0.0)
    pages = {a.path for a in client.list_artifacts(second.info.run_id, "compare/vs_first_job")}
    assert "compare/vs_first_job/comparison.html" in pages


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("dataset.root=/no/such/folder", "/no/such/folder"),
        ("dataset.categories=[physics]", "physics"),
        ("gpus=64", "gpus=64 asks for more GPUs than this machine has"),
    ],
)
def test_bad_input_fails_before_any_model_loads(tmp_path: Path, override: str, message: str):
    result = editbench(
        "experiment=demo",
        override,
        f"hydra.run.dir={tmp_path / 'run'}",
        *local_overrides(tmp_path),
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "store").exists()  # nothing was edited or judged


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "editor.dtype=float8",
            "Invalid value 'float8', expected one of [bfloat16, float16, float32]",
        ),
        ("scorer.score_mode=vibes", "Invalid value 'vibes', expected one of [generate, expected]"),
        ("scorer.placement=everywhere", "Invalid value 'everywhere', expected one of [replica,"),
    ],
)
def test_a_value_outside_a_choice_fails_at_compose_time(
    tmp_path: Path, override: str, message: str
):
    result = editbench(
        "experiment=demo",
        override,
        f"hydra.run.dir={tmp_path / 'run'}",
        *local_overrides(tmp_path),
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert message in result.stderr
    assert f"full_key: {override.split('=')[0]}" in result.stderr
    assert not (tmp_path / "store").exists()


def test_misspelt_key_names_the_key(tmp_path: Path):
    result = editbench("experiment=demo", "editor.num_inference_step=3", cwd=tmp_path)
    assert result.returncode != 0
    assert "Key 'num_inference_step' not in 'DiffusersEditorSchema'" in result.stderr


def test_help_lists_the_groups():
    result = editbench("--help", cwd=ROOT)
    assert result.returncode == 0
    for group in ("editor:", "scorer:", "prompts/physical:", "layout:", "dataset:", "experiment:"):
        assert group in result.stdout
