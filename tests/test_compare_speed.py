"""The edit speed in a comparison: how much faster B's editor made the edits than A's, on the
samples both runs judged, beside the change in score; in the tables, the pages and MLflow, and
end to end from two real runs of the tiny models."""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from editbench.compare import (
    compare_runs,
    format_markdown,
    format_table,
    log_comparison,
    write_comparison,
)
from editbench.compare.__main__ import main as compare_main
from editbench.compare.speed import speed_difference
from editbench.compare.tables import format_seconds, format_times, format_times_ci
from editbench.results.summary import _edit_device_seconds

from .conftest import local_overrides

SCRIPT = "<script>alert('run')</script>"
# A's and B's device-seconds per edit: B is twice as fast overall (21 / 10.5), not per sample.
TIMES_A = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
TIMES_B = (0.4, 1.1, 1.3, 2.2, 2.4, 3.1)
SPEEDUP = sum(TIMES_A) / sum(TIMES_B)


def row(key: str, seconds: Any, score: float = 5.0, status: str = "ok") -> dict[str, Any]:
    """One samples.jsonl row; ``seconds`` is its edit_device_s (``...``: no such key, as the
    rows of runs from before edit times were recorded)."""
    fields = {
        "id": key,
        "category": "physical" if key.endswith(("0", "2", "4")) else "social",
        "status": status,
        "score": score if status == "ok" else None,
        "edit_key": f"edit-{key}",
    }
    return fields if seconds is ... else {**fields, "edit_device_s": seconds}


def timed_runs() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Runs A and B of six samples, timed as TIMES_A and TIMES_B; B scores 1 more on each."""
    rows_a = [row(f"s{i}", t, score=3.0 + i % 3) for i, t in enumerate(TIMES_A)]
    rows_b = [row(f"s{i}", t, score=4.0 + i % 3) for i, t in enumerate(TIMES_B)]
    return rows_a, rows_b


def by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in rows}


def speed_of(rows_a: list[dict], rows_b: list[dict], seed: int = 0) -> dict[str, Any] | None:
    return speed_difference(by_id(rows_a), by_id(rows_b), n_bootstrap=2000, seed=seed)


# --- speed_difference on hand-made rows ---------------------------------------------------


def test_the_speedup_is_the_ratio_of_the_mean_edit_times():
    speed = speed_of(*timed_runs())

    assert speed["n"] == 6 and speed["untimed"] == 0
    assert speed["edit_s_a"] == pytest.approx(sum(TIMES_A) / 6)
    assert speed["edit_s_b"] == pytest.approx(sum(TIMES_B) / 6)
    assert speed["speedup"] == pytest.approx(SPEEDUP)  # of the means, not the mean of ratios
    low, high = speed["ci95"]
    assert 1 < low < SPEEDUP < high


def test_the_same_seed_gives_the_same_interval():
    rows_a, rows_b = timed_runs()
    first = speed_of(rows_a, rows_b, seed=3)
    assert speed_of(rows_a, rows_b, seed=3) == first
    other = speed_of(rows_a, rows_b, seed=4)
    assert other["speedup"] == first["speedup"] and other["ci95"] != first["ci95"]


@pytest.mark.parametrize("bad", [..., None, math.nan, math.inf, -0.5, True, "0.5"], ids=repr)
def test_a_sample_without_a_usable_time_is_counted_not_timed(bad: Any):
    rows_a, rows_b = timed_runs()
    rows_a.append(row("x1", bad))  # A's time unusable
    rows_b.append(row("x1", 0.2))
    rows_a.append(row("x2", 7.0))  # B's
    rows_b.append(row("x2", bad))
    rows_a.append(row("x3", bad))  # both
    rows_b.append(row("x3", bad))

    speed = speed_of(rows_a, rows_b)

    assert speed["n"] == 6 and speed["untimed"] == 3
    assert speed["speedup"] == pytest.approx(SPEEDUP)
    assert speed == speed_of(*timed_runs()) | {"untimed": 3}


def test_samples_of_one_run_only_are_not_used():
    rows_a, rows_b = timed_runs()
    rows_a.append(row("only-a", 100.0))
    rows_b.append(row("only-b", 0.001))
    assert speed_of(rows_a, rows_b) == speed_of(*timed_runs())


def test_no_shared_timed_sample_gives_no_speed():
    rows_a, rows_b = timed_runs()
    assert speed_of(rows_a, [row(r["id"], ...) for r in rows_b]) is None  # B untimed
    assert speed_of(rows_a, [row(f"other-{r['id']}", 1.0) for r in rows_b]) is None
    assert speed_of([], []) is None


@pytest.mark.filterwarnings("error")
def test_b_edits_that_took_no_time_give_no_speedup_and_no_warning():
    rows_a, _ = timed_runs()
    speed = speed_of(rows_a, [row(r["id"], 0.0) for r in rows_a])

    assert speed["n"] == 6 and speed["edit_s_b"] == 0.0
    assert speed["edit_s_a"] == pytest.approx(sum(TIMES_A) / 6)
    assert speed["speedup"] is None and speed["ci95"] is None


@pytest.mark.filterwarnings("error")
def test_resamples_of_b_zero_times_only_are_left_out_of_the_interval():
    """Most of B's edits took no time (read, not made): the resamples that draw only those
    have no ratio, and the interval is of the others."""
    rows_a = [row(f"s{i}", 1.0) for i in range(4)]
    rows_b = [row(f"s{i}", 2.0 if i == 3 else 0.0) for i in range(4)]
    speed = speed_of(rows_a, rows_b)

    assert speed["speedup"] == pytest.approx(2.0)
    low, high = speed["ci95"]
    assert math.isfinite(low) and math.isfinite(high) and low <= 2.0 <= high


def test_compare_runs_times_only_the_samples_both_judged_ok():
    rows_a, rows_b = timed_runs()
    rows_a.append(row("failed-b", 1.0))
    rows_b.append(row("failed-b", 1.0, status="parse_error"))  # timed, but not judged
    comparison = compare_runs(rows_a, rows_b, n_bootstrap=2000, seed=0)

    assert comparison["speed"] == speed_of(*timed_runs())
    assert comparison["overall"]["mean_diff"] == pytest.approx(1.0)


def test_the_edit_time_of_a_row_is_its_edits_device_seconds():
    two_gpus = {"status": "ok", "seconds": 0.25, "device": "cuda:0,cuda:1"}
    assert _edit_device_seconds(two_gpus) == 0.5
    assert _edit_device_seconds({"status": "ok", "seconds": 0.123456, "device": "cpu"}) == 0.1235
    assert _edit_device_seconds({"status": "edit_error", "seconds": 0.3, "device": "cpu"}) is None
    assert _edit_device_seconds({"status": "ok", "device": "cpu"}) is None  # an older record
    assert _edit_device_seconds(None) is None  # no edit


# --- the tables, the pages and MLflow --------------------------------------------------------


def test_the_formatters_show_seconds_and_times_and_a_dash_for_no_number():
    assert format_seconds(0.61) == "0.61 s" and format_seconds(12.345) == "12.3 s"
    assert format_times(1.1056) == "1.11×" and format_times_ci([1.08, 1.134]) == "[1.08×, 1.13×]"
    for missing in (None, math.nan, math.inf):
        assert format_seconds(missing) == format_times(missing) == "–"
    assert format_times_ci(None) == format_times_ci([math.nan, 1.0]) == "–"


def test_the_tables_show_the_speedup_beside_the_score_difference():
    rows_a, rows_b = timed_runs()
    rows_a.append(row("x1", ...))
    rows_b.append(row("x1", 0.5, score=6.0))
    comparison = compare_runs(rows_a, rows_b, n_bootstrap=2000, seed=0)
    low, high = comparison["speed"]["ci95"]
    times_ci = re.escape(f"[{low:.2f}×, {high:.2f}×]")

    table = format_table(comparison)
    assert "Edit speed, A / B:" in table
    assert re.search(
        rf"^ +6 +3\.5 s +1\.75 s +2\.00× +{times_ci} +\+1\.00 +\[\+1\.00, \+1\.00\]$",
        table,
        flags=re.MULTILINE,
    )
    assert "(1 shared samples without an edit time left out)" in table

    markdown = format_markdown(comparison, "run a", "run b")
    assert "## Edit speed, A / B" in markdown
    cells = f"| 6 | 3.5 s | 1.75 s | 2.00× | \\[{low:.2f}×, {high:.2f}×\\] | +1.00 |"
    assert cells in markdown


def test_runs_without_edit_times_compare_as_before():
    rows_a, rows_b = ([row(r["id"], ..., r["score"]) for r in rows] for rows in timed_runs())
    comparison = compare_runs(rows_a, rows_b, n_bootstrap=200)

    assert comparison["speed"] is None
    assert "Edit speed" not in format_table(comparison)
    assert "Edit speed" not in format_markdown(comparison, "a", "b")


def test_the_page_has_an_edit_speed_section_and_stays_escaped(tmp_path: Path):
    comparison = compare_runs(*timed_runs(), n_bootstrap=2000, seed=0)
    write_comparison(tmp_path, comparison, SCRIPT, "run b")

    html = (tmp_path / "comparison.html").read_text()
    assert "<h2>Edit speed</h2>" in html and '<table class="summary speed">' in html
    assert '<td class="num">2.00×</td>' in html and '<td class="num">1.75 s</td>' in html
    assert "the price of the speed-up in benchmark points" in html
    assert "<script" not in html and "&lt;script&gt;alert(&#39;run&#39;)&lt;/script&gt;" in html
    document = json.loads((tmp_path / "comparison.json").read_text())
    assert document["speed"]["speedup"] == pytest.approx(SPEEDUP)

    untimed = compare_runs(*([row(r["id"], ...) for r in rows] for rows in timed_runs()))
    write_comparison(tmp_path / "untimed", untimed, "a", "b")
    assert "Edit speed" not in (tmp_path / "untimed" / "comparison.html").read_text()


def test_no_speedup_shows_as_a_dash_never_as_nan(tmp_path: Path):
    rows_a, _ = timed_runs()
    comparison = compare_runs(rows_a, [row(r["id"], 0.0, 6.0) for r in rows_a], n_bootstrap=200)
    write_comparison(tmp_path, comparison, "a", "b")

    markdown = (tmp_path / "comparison.md").read_text()
    assert "| 6 | 3.5 s | 0 s | – | – | +" in markdown
    html = (tmp_path / "comparison.html").read_text()
    for text in (markdown, html, format_table(comparison)):
        assert re.search(r"\b(nan|inf|NaN|Infinity|None)\b", text) is None


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory):
    """A sqlite MLflow store with one experiment to log comparisons to."""
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("mlflow")
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    return client, client.create_experiment("speed", (root / "artifacts").as_uri())


def test_log_comparison_logs_the_speedup_and_its_interval(mlflow_store, tmp_path: Path):
    client, experiment = mlflow_store
    comparison = compare_runs(*timed_runs(), n_bootstrap=2000, seed=0)
    files = write_comparison(tmp_path, comparison, "run a", "run b")
    run_id = client.create_run(experiment, run_name="timed").info.run_id

    log_comparison(client, run_id, comparison, files)
    log_comparison(client, run_id, comparison, [], "compare/vs_first_job")

    metrics = client.get_run(run_id).data.metrics
    low, high = comparison["speed"]["ci95"]
    for prefix in ("compare", "compare/vs_first_job"):
        assert metrics[f"{prefix}/edit/speedup"] == pytest.approx(SPEEDUP)
        assert metrics[f"{prefix}/edit/speedup_ci95_lo"] == pytest.approx(low)
        assert metrics[f"{prefix}/edit/speedup_ci95_hi"] == pytest.approx(high)
    assert metrics["compare/overall/diff"] == pytest.approx(1.0)


def test_log_comparison_logs_no_speedup_where_there_is_none(mlflow_store):
    client, experiment = mlflow_store
    rows_a, _ = timed_runs()
    untimed = compare_runs(rows_a, [row(r["id"], ...) for r in rows_a], n_bootstrap=100)
    instant = compare_runs(rows_a, [row(r["id"], 0.0) for r in rows_a], n_bootstrap=100)
    run_id = client.create_run(experiment, run_name="untimed").info.run_id

    log_comparison(client, run_id, untimed, [], "untimed")
    log_comparison(client, run_id, instant, [], "instant")

    metrics = client.get_run(run_id).data.metrics
    assert "untimed/overall/diff" in metrics and "instant/overall/diff" in metrics
    assert not [key for key in metrics if "/edit/" in key]


# --- end to end: the exact tiny editor against a cached one, on the same samples ------------

CACHED = "{method:taylorseer,cache_interval:2,disable_cache_before_step:1}"
# Four steps, so that the cache computes some and predicts others.
RUN = ["experiment=demo", "dataset.limit=4", "editor.call.num_inference_steps=4"]


def editbench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "editbench", *args], cwd=cwd, capture_output=True, text=True
    )


def rows_of(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store and MLflow database shared by the runs of this module."""
    return tmp_path_factory.mktemp("speed-workspace")


@pytest.fixture(scope="module")
def exact_and_cached_runs(workspace: Path) -> tuple[Path, Path]:
    """Run A with the exact tiny editor and run B with a TaylorSeer step cache, each in its own
    folder, sharing one store."""
    folders = []
    for name, options in (("exact", []), ("cached", [f"editor.step_cache={CACHED}"])):
        run_dir = workspace / name
        result = editbench(
            *RUN,
            *options,
            "tracking=none",
            f"hydra.run.dir={run_dir}",
            *local_overrides(workspace),
            cwd=workspace,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        folders.append(run_dir)
    return folders[0], folders[1]


@pytest.fixture(scope="module")
def cli_comparison(
    exact_and_cached_runs: tuple[Path, Path], workspace: Path
) -> tuple[dict[str, Any], str]:
    """``python -m editbench.compare A B``: comparison.json, and what it printed."""
    run_a, run_b = exact_and_cached_runs
    out = workspace / "comparison"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = compare_main([str(run_a), str(run_b), "--out", str(out), "--bootstrap", "2000"])
    assert code == 0
    return json.loads((out / "comparison.json").read_text()), printed.getvalue()


@pytest.mark.slow
def test_the_cached_run_makes_its_own_edits(exact_and_cached_runs: tuple[Path, Path]):
    """The step cache is in the edits' key: B reuses none of A's edits from the shared store,
    and every row of both runs carries its edit's device-seconds."""
    run_a, run_b = exact_and_cached_runs
    work = json.loads((run_b / "results.json").read_text())["work"]
    assert (work["edits_done"], work["edits_reused"]) == (4, 0)
    rows_a, rows_b = rows_of(run_a), rows_of(run_b)
    assert [r["id"] for r in rows_a] == [r["id"] for r in rows_b]
    for a, b in zip(rows_a, rows_b, strict=True):
        assert a["edit_key"] != b["edit_key"] and a["seed"] == b["seed"]
        for r in (a, b):
            assert r["status"] == "ok" and r["edit_device_s"] > 0


@pytest.mark.slow
def test_the_cli_compares_the_edit_speed_of_two_runs(
    exact_and_cached_runs: tuple[Path, Path],
    cli_comparison: tuple[dict[str, Any], str],
):
    run_a, run_b = exact_and_cached_runs
    rows_a, rows_b = rows_of(run_a), rows_of(run_b)
    comparison, printed = cli_comparison
    speed, overall = comparison["speed"], comparison["overall"]

    assert speed["n"] == overall["n_shared"] == len(rows_a) == 4 and speed["untimed"] == 0
    expected = sum(r["edit_device_s"] for r in rows_a) / sum(r["edit_device_s"] for r in rows_b)
    assert speed["speedup"] == pytest.approx(expected)
    assert len(speed["ci95"]) == 2 and all(math.isfinite(v) for v in speed["ci95"])
    assert speed["ci95"][0] <= speed["speedup"] <= speed["ci95"][1]
    assert overall["mean_diff"] is not None and len(overall["ci95"]) == 2
    assert "Edit speed, A / B:" in printed


@pytest.mark.slow
def test_a_sweep_over_the_step_cache_logs_the_speedup_on_the_cached_job(
    exact_and_cached_runs: tuple[Path, Path],
    cli_comparison: tuple[dict[str, Any], str],
    workspace: Path,
):
    """The sweep's jobs are the two runs again (their edits and judgements come from the
    store, with the times of the runs that made them): the cached job carries its speed-up
    over the exact one, as the CLI computed it."""
    sweep_dir = workspace / "sweep"
    result = editbench(
        "-m",
        *RUN,
        f"editor.step_cache=null,{CACHED}",
        f"hydra.sweep.dir={sweep_dir}",
        *local_overrides(workspace),
        cwd=workspace,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for job in (0, 1):
        work = json.loads((sweep_dir / str(job) / "results.json").read_text())["work"]
        assert work["edits_reused"] == 4 and work["edits_done"] == 0

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{workspace / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("editbench")
    (parent,) = client.search_runs(
        [experiment.experiment_id], filter_string="tags.`editbench.sweep_dir` != ''"
    )
    jobs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    (cached,) = [job for job in jobs if "editor/step_cache/method" in job.data.params]
    (exact,) = [job for job in jobs if job is not cached]
    speed = cli_comparison[0]["speed"]
    assert cached.data.params["editor/step_cache/method"] == "taylorseer"
    metrics = cached.data.metrics
    assert metrics["compare/vs_first_job/edit/speedup"] == pytest.approx(speed["speedup"])
    speedup = "compare/vs_first_job/edit/speedup"
    assert metrics[f"{speedup}_ci95_lo"] <= metrics[speedup] <= metrics[f"{speedup}_ci95_hi"]
    assert "compare/vs_first_job/overall/diff" in metrics
    assert not [key for key in exact.data.metrics if key.startswith("compare/")]
