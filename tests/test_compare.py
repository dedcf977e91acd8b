"""Comparing two runs: the paired differences, their intervals, the outputs and the CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from editbench.compare import (
    compare_loaded_runs,
    compare_runs,
    format_table,
    load_run,
    log_comparison,
    write_comparison,
)
from editbench.compare.sweep import summarize_sweep
from editbench.errors import EditbenchError
from editbench.results.aggregate import aggregate
from editbench.results.summary import metric_name
from editbench.results.tracking import MlflowTracker

from .rows import sample_row as sample

CATEGORIES = ("physical", "environment", "social", "causal", "referential")
SHIFT = 2.0  # B scores this much above A on physical, and the same as A elsewhere
SCRIPT = "<script>alert('judge')</script>"


def shifted_runs(per_category: int = 30, physical: int = 30) -> tuple[list[dict], list[dict]]:
    """Runs A and B of the same samples. Every difference B - A is its category's shift ± 0.5,
    alternately, so each category's mean difference is exactly SHIFT on physical and 0 elsewhere
    (an even number of samples per category)."""
    rows_a, rows_b = [], []
    for category in CATEGORIES:
        shift = SHIFT if category == "physical" else 0.0
        for i in range(physical if category == "physical" else per_category):
            key = f"{category}-{i:02d}"
            score = 3.0 + i % 5
            rows_a.append(sample(key, category, score))
            rows_b.append(sample(key, category, score + shift + (0.5 if i % 2 else -0.5)))
    return rows_a, rows_b


def by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in rows}


def test_a_shift_in_one_category_is_found_and_nowhere_else():
    comparison = compare_runs(*shifted_runs(), n_bootstrap=2000, seed=0, top=5)

    physical = comparison["categories"]["physical"]
    assert physical["n_shared"] == 30 and physical["mean_diff"] == pytest.approx(SHIFT)
    low, high = physical["ci95"]
    assert 0 < low < SHIFT < high
    assert physical["p_value"] < 0.01
    for name in CATEGORIES[1:]:
        stats = comparison["categories"][name]
        assert stats["mean_diff"] == pytest.approx(0.0, abs=1e-12)
        low, high = stats["ci95"]
        assert low < 0 < high
        assert stats["p_value"] > 0.5
    assert list(comparison["categories"]) == list(CATEGORIES)


def test_overall_is_the_mean_of_the_categories_differences():
    # physical has fewer samples: a pooled mean would give it less weight than 1/5
    rows_a, rows_b = shifted_runs(per_category=30, physical=10)
    overall = compare_runs(rows_a, rows_b, n_bootstrap=2000, seed=0)["overall"]

    assert overall["mean_diff"] == pytest.approx(SHIFT / len(CATEGORIES))
    assert overall["n_shared"] == 4 * 30 + 10
    results_a = aggregate(rows_a, CATEGORIES)["overall"]
    results_b = aggregate(rows_b, CATEGORIES)["overall"]
    # with every sample shared, the means are results.json's mean of category means
    assert overall["mean_a"] == pytest.approx(results_a["mean_of_categories"])
    assert overall["mean_b"] == pytest.approx(results_b["mean_of_categories"])
    low, high = overall["ci95"]
    assert 0 < low < overall["mean_diff"] < high
    assert overall["p_value"] < 0.01


def test_the_same_seed_gives_the_same_comparison():
    rows_a, rows_b = shifted_runs()
    first = compare_runs(rows_a, rows_b, n_bootstrap=500, seed=7)
    assert compare_runs(rows_a, rows_b, n_bootstrap=500, seed=7) == first
    other = compare_runs(rows_a, rows_b, n_bootstrap=500, seed=8)
    assert other["categories"]["physical"]["ci95"] != first["categories"]["physical"]["ci95"]
    assert other["overall"]["ci95"] != first["overall"]["ci95"]


def test_samples_judged_by_one_run_are_counted_not_paired():
    rows_a, rows_b = shifted_runs()
    rows_a.append(sample("social-only-a", "social", 9.0))
    rows_b.append(sample("causal-only-b", "causal", 1.0))
    rows_b.append(sample("causal-failed-b", "causal", None, status="parse_error"))  # nobody's
    comparison = compare_runs(rows_a, rows_b, n_bootstrap=500)

    social, causal = comparison["categories"]["social"], comparison["categories"]["causal"]
    assert (social["n_shared"], social["only_a"], social["only_b"]) == (30, 1, 0)
    assert (causal["n_shared"], causal["only_a"], causal["only_b"]) == (30, 0, 1)
    assert social["mean_diff"] == causal["mean_diff"] == pytest.approx(0.0, abs=1e-12)
    assert (comparison["overall"]["only_a"], comparison["overall"]["only_b"]) == (1, 1)


def test_failed_judgements_are_excluded():
    rows_a, rows_b = shifted_runs()
    failed = by_id(rows_b)["physical-00"]
    failed.update(status="parse_error", score=99.0)  # a stray score on a failure is never read
    by_id(rows_a)["physical-01"].update(status="refusal", score=None)
    comparison = compare_runs(rows_a, rows_b, n_bootstrap=500)

    physical = comparison["categories"]["physical"]
    assert (physical["n_shared"], physical["only_a"], physical["only_b"]) == (28, 1, 1)
    kept = [i for i in range(30) if i not in (0, 1)]
    expected_b = sum(3.0 + i % 5 + SHIFT + (0.5 if i % 2 else -0.5) for i in kept) / len(kept)
    assert physical["mean_b"] == pytest.approx(expected_b)
    assert all(m["id"] not in ("physical-00", "physical-01") for m in comparison["top_movers"])


def test_top_movers_are_the_largest_changes():
    rows_a, rows_b = shifted_runs()
    by_id(rows_b)["social-03"]["score"] += 6.0
    by_id(rows_b)["causal-07"]["score"] -= 4.0
    movers = compare_runs(rows_a, rows_b, n_bootstrap=100, top=3)["top_movers"]

    # then the physical samples that moved by SHIFT + 0.5, ties broken by id
    assert [m["id"] for m in movers] == ["social-03", "causal-07", "physical-01"]
    assert [m["diff"] for m in movers] == pytest.approx([6.5, -3.5, 2.5])
    assert movers[0]["score_a"] == 6.0 and movers[0]["score_b"] == 12.5
    assert movers[0]["same_edit"] is True


def test_nothing_shared_leaves_every_statistic_undefined():
    rows_a, _ = shifted_runs()
    rows_b = [{**row, "id": row["id"] + "-b"} for row in rows_a]
    comparison = compare_runs(rows_a, rows_b, n_bootstrap=100)

    assert comparison["overall"]["n_shared"] == 0
    assert comparison["overall"]["mean_diff"] is None and comparison["overall"]["ci95"] is None
    assert comparison["overall"]["only_a"] == comparison["overall"]["only_b"] == 150
    assert comparison["top_movers"] == []


def test_inconsistent_runs_are_refused():
    rows_a, rows_b = shifted_runs()
    with pytest.raises(EditbenchError, match="'physical-00' appears twice in run A"):
        compare_runs([*rows_a, rows_a[0]], rows_b)
    by_id(rows_b)["social-02"]["category"] = "causal"
    with pytest.raises(EditbenchError, match="'social-02' is in category 'social' in run A"):
        compare_runs(rows_a, rows_b)


# The outputs and the CLI, on run folders written here.


def write_run(folder: Path, rows: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True)
    with open(folder / "samples.jsonl", "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    results = aggregate(rows, CATEGORIES)
    (folder / "results.json").write_text(json.dumps(results))
    return folder


@pytest.fixture(scope="module")
def run_folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Runs A and B as folders, with images, and a top mover whose reply is a script."""
    root = tmp_path_factory.mktemp("compare")
    rows_a, rows_b = shifted_runs()
    for side, rows in (("a", rows_a), ("b", rows_b)):
        for row in rows:
            row["source_image"] = str(root / f"{row['id']}.png")
            row["edited_image"] = str(root / f"{row['id']}-{side}.png")
            row["edit_key"] = f"{side}-{row['id']}"
    paths = {row[key] for row in rows_a + rows_b for key in ("source_image", "edited_image")}
    for index, path in enumerate(sorted(paths)):
        Image.new("RGB", (32, 24), (index % 256, 80, 160)).save(path)
    by_id(rows_b)["social-03"].update(score=10.0, reply=SCRIPT)
    return write_run(root / "runs" / "a", rows_a), write_run(root / "runs" / "b", rows_b)


def compare_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "editbench.compare", *args, "--bootstrap", "1000"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_cli_compares_two_folders(run_folders: tuple[Path, Path], tmp_path: Path):
    run_a, run_b = run_folders
    result = compare_cli(str(run_a), str(run_b), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr

    assert "B - A" in result.stdout and "physical" in result.stdout and "+2.00" in result.stdout
    assert "social-03" in result.stdout  # the top mover
    comparison = json.loads((tmp_path / "out" / "comparison.json").read_text())
    assert comparison["run_a"] == str(run_a) and comparison["run_b"] == str(run_b)
    assert comparison["categories"]["physical"]["mean_diff"] == pytest.approx(SHIFT)
    assert comparison["top_movers"][0]["id"] == "social-03"
    markdown = (tmp_path / "out" / "comparison.md").read_text()
    assert "| physical | 30 | 0 | 0 |" in markdown

    html = (tmp_path / "out" / "comparison.html").read_text()
    assert "http://" not in html and "https://" not in html  # opens offline
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "<svg" in html and html.count("data:image/jpeg;base64,") >= 3  # source | A | B


@pytest.mark.slow
def test_cli_writes_under_outputs_compare_by_default(
    run_folders: tuple[Path, Path], tmp_path: Path
):
    result = compare_cli(*map(str, run_folders), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "outputs" / "compare" / "runs_a-vs-runs_b"
    assert sorted(path.name for path in out.iterdir()) == [
        "comparison.html",
        "comparison.json",
        "comparison.md",
    ]


@pytest.fixture(scope="module")
def mlflow_runs(run_folders: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory):
    """A sqlite MLflow store holding runs A and B, each with its samples.jsonl as an artifact."""
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("compare", (root / "artifacts").as_uri())
    ids = []
    for folder in run_folders:
        run_id = client.create_run(experiment, run_name=f"run {folder.name}").info.run_id
        client.log_artifact(run_id, str(folder / "samples.jsonl"))
        ids.append(run_id)
    return client, uri, experiment, ids


@pytest.mark.slow
def test_cli_compares_mlflow_runs_by_id(mlflow_runs, tmp_path: Path):
    _, uri, _, (id_a, id_b) = mlflow_runs
    result = compare_cli(id_a, id_b, "--tracking-uri", uri, cwd=tmp_path)
    assert result.returncode == 0, result.stderr

    out = tmp_path / "outputs" / "compare" / f"{id_a}-vs-{id_b}"
    comparison = json.loads((out / "comparison.json").read_text())
    assert comparison["run_a"] == f"MLflow run {id_a} (run a)"
    assert comparison["categories"]["physical"]["mean_diff"] == pytest.approx(SHIFT)
    assert "+2.00" in result.stdout


def test_log_comparison_puts_metrics_and_files_on_a_run(mlflow_runs, tmp_path: Path):
    client, _, experiment, _ = mlflow_runs
    comparison = compare_runs(*shifted_runs(), n_bootstrap=500)
    files = write_comparison(tmp_path, comparison, "run a", "run b")
    run_id = client.create_run(experiment, run_name="sweep").info.run_id

    log_comparison(client, run_id, comparison, files)

    metrics = client.get_run(run_id).data.metrics
    assert metrics["compare/physical/diff"] == pytest.approx(SHIFT)
    assert metrics["compare/physical/ci95_lo"] > 0
    assert metrics["compare/overall/diff"] == pytest.approx(SHIFT / len(CATEGORIES))
    assert {"compare/social/ci95_hi", "compare/overall/p_value"} <= metrics.keys()
    logged = {Path(info.path).name for info in client.list_artifacts(run_id, "compare")}
    assert logged == {"comparison.json", "comparison.md", "comparison.html"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "case", ["missing folder", "no samples.jsonl", "unknown run id", "nothing shared"]
)
def test_cli_errors_name_the_value_and_exit_2(
    case: str, run_folders: tuple[Path, Path], mlflow_runs, tmp_path: Path
):
    run_a, _ = run_folders
    _, uri, _, _ = mlflow_runs
    (tmp_path / "empty").mkdir()
    write_run(tmp_path / "other", [sample("elsewhere", "physical", 5.0)])
    bad, args = {
        "missing folder": ("no-such-run", [str(run_a), "no-such-run"]),
        "no samples.jsonl": ("empty", ["empty", str(run_a)]),
        "unknown run id": ("0" * 32, [str(run_a), "0" * 32]),
        "nothing shared": ("other", [str(run_a), "other"]),
    }[case]

    result = compare_cli(*args, "--tracking-uri", uri, cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.startswith("editbench.compare: error:")
    assert bad in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "outputs").exists()


# Criteria, subsets, the benchmark's headline figure and the protocol of each run.


def rubric_runs() -> tuple[list[dict], list[dict]]:
    """Runs A and B of a two-call protocol: B raises SC by 1 on every sample and leaves PQ as it
    is; the samples come in two languages (a subset each), and B judges no "cn" sample."""
    rows_a, rows_b = [], []
    for i in range(12):
        category = ("subject-add", "多元素组合", SCRIPT)[i % 3]
        language = "en" if i < 8 else "cn"
        sc, pq = 2.0 + i % 4, 5.0 + i % 3
        for rows, shift in ((rows_a, 0.0), (rows_b, 1.0)):
            row = sample(f"s{i:02d}", category, sc + shift)
            row.update(criteria={"SC": sc + shift, "PQ": pq}, extra={"lang": language})
            rows.append(row)
    for row in rows_b:
        if row["extra"]["lang"] == "cn":
            row.update(status="parse_error", score=None, criteria=None)
    return rows_a, rows_b


def test_each_criterion_is_compared_per_category_and_overall():
    rows_a, rows_b = rubric_runs()
    comparison = compare_runs(rows_a, rows_b, n_bootstrap=500)

    assert list(comparison["criteria"]) == ["SC", "PQ"]
    sc, pq = comparison["criteria"]["SC"], comparison["criteria"]["PQ"]
    assert list(sc["categories"]) == ["subject-add", "多元素组合", SCRIPT]
    assert sc["overall"]["mean_diff"] == pytest.approx(1.0)
    assert sc["overall"]["ci95"] == pytest.approx([1.0, 1.0])
    assert pq["overall"]["mean_diff"] == pytest.approx(0.0, abs=1e-12)
    assert pq["overall"]["n_shared"] == 8 and pq["overall"]["only_a"] == 4
    # per category: its own samples only
    assert sc["categories"]["多元素组合"]["mean_a"] == pytest.approx(
        sum(2.0 + i % 4 for i in range(1, 8, 3)) / 3
    )


def test_a_criterion_that_one_run_lacks_is_counted_not_compared():
    rows_a, rows_b = rubric_runs()
    for row in rows_b:
        if row["criteria"]:
            row["criteria"]["B only"] = 1.0
            row["criteria"]["PQ"] = float("nan")  # not a number: as if not reported
    comparison = compare_runs(rows_a, rows_b, n_bootstrap=200)

    only_b, pq = (
        comparison["criteria"]["B only"]["overall"],
        comparison["criteria"]["PQ"]["overall"],
    )
    assert (only_b["n_shared"], only_b["only_a"], only_b["only_b"]) == (0, 0, 8)
    assert only_b["mean_diff"] is None and only_b["ci95"] is None and only_b["p_value"] is None
    assert (pq["n_shared"], pq["only_a"], pq["only_b"]) == (0, 12, 0)
    tables = format_table(comparison)
    assert re.search(r"B only\s+0\s+0\s+8\s+–\s+–\s+–\s+–\s+–", tables)


def test_each_subset_is_compared_over_its_own_samples():
    rows_a, rows_b = rubric_runs()
    subsets = {"en": {"lang": "en"}, "cn": {"lang": "cn"}, "none": {"lang": "fr"}}
    comparison = compare_runs(rows_a, rows_b, n_bootstrap=200, subsets=subsets)

    en, cn, none = (comparison["subsets"][name]["overall"] for name in ("en", "cn", "none"))
    assert en["n_shared"] == 8 and en["mean_diff"] == pytest.approx(1.0)
    # B judged no cn sample: the subset is empty on its side
    assert (cn["n_shared"], cn["only_a"], cn["only_b"]) == (0, 4, 0) and cn["mean_diff"] is None
    assert none["n_shared"] == none["only_a"] == none["only_b"] == 0


def test_overall_follows_the_published_headline():
    # physical: 2 samples moved by +3; social: 6 samples that did not move
    rows_a = [sample(f"p{i}", "physical", 5.0) for i in range(2)]
    rows_a += [sample(f"s{i}", "social", 5.0) for i in range(6)]
    rows_b = [{**row, "score": 8.0 if row["category"] == "physical" else 5.0} for row in rows_a]

    by_category = compare_runs(rows_a, rows_b, n_bootstrap=200)["overall"]
    by_sample = compare_runs(rows_a, rows_b, n_bootstrap=200, headline="sample_mean")
    assert by_category["mean_diff"] == pytest.approx(3.0 / 2)  # each category weighs the same
    assert by_sample["overall"]["mean_diff"] == pytest.approx(3.0 * 2 / 8)  # each sample does
    assert by_sample["headline"] == "sample_mean"


def test_a_pooled_headline_compares_pooled_means():
    """KRIS-Bench pools every criterion value over the samples: a sample with more values
    weighs more."""
    rows_a, rows_b = [], []
    for key, pooled_a, pooled_b in (
        ("k1", [0.0, 50.0], [50.0, 50.0]),
        ("k2", [100.0, 100.0, 100.0], [100.0, 100.0, 100.0]),
        ("k3", [25.0], [75.0]),
    ):
        rows_a.append({**sample(key, "physics", 50.0), "pooled": pooled_a})
        rows_b.append({**sample(key, "physics", 60.0), "pooled": pooled_b})
    comparison = compare_runs(rows_a, rows_b, n_bootstrap=300, headline="pooled")

    for stats in (comparison["categories"]["physics"], comparison["overall"]):
        assert stats["mean_a"] == pytest.approx(375 / 6)
        assert stats["mean_b"] == pytest.approx(475 / 6)
        assert stats["mean_diff"] == pytest.approx(100 / 6)
    assert "Difference of pooled scores, B - A" in format_table(comparison)


def test_categories_keep_the_order_the_runs_show_them():
    rows_a = [sample("z1", "zebra", 5.0), sample("a1", "apple", 5.0)]
    rows_b = [sample("m1", "mango", 5.0), *rows_a]
    comparison = compare_runs(rows_a, rows_b, n_bootstrap=100)
    assert list(comparison["categories"]) == ["zebra", "apple", "mango"]


def test_a_category_named_overall_keeps_its_row():
    rows_a = [sample("o1", "overall", 5.0), sample("p1", "physical", 5.0)]
    rows_b = [{**row, "score": 6.0} for row in rows_a]
    tables = format_table(compare_runs(rows_a, rows_b, n_bootstrap=100))
    assert len(re.findall(r"^overall\s+1\s", tables, flags=re.MULTILINE)) == 1  # the category
    assert len(re.findall(r"^overall\s+2\s", tables, flags=re.MULTILINE)) == 1  # the total


def test_a_score_that_is_not_a_number_is_refused():
    rows_a, rows_b = shifted_runs()
    by_id(rows_b)["social-02"]["score"] = float("nan")
    with pytest.raises(EditbenchError, match="'social-02' of run B has status 'ok' but no finite"):
        compare_runs(rows_a, rows_b)


def run_config(protocol: str, headline: str, subsets: dict | None = None) -> str:
    """The part of a run's config.yaml that a comparison reads, as run() writes it."""
    return yaml.safe_dump(
        {"protocol": {"name": protocol, "headline": headline}, "dataset": {"subsets": subsets}}
    )


def test_runs_of_different_protocols_are_refused(tmp_path: Path):
    rows_a, rows_b = rubric_runs()
    folders = []
    for side, rows, protocol in (("a", rows_a, "viescore"), ("b", rows_b, "editbench")):
        folder = write_run(tmp_path / side, rows)
        (folder / "config.yaml").write_text(run_config(protocol, "mean_of_categories"))
        folders.append(str(folder))
    run_a, run_b = (load_run(folder) for folder in folders)
    assert (run_a.protocol, run_a.headline) == ("viescore", "mean_of_categories")

    with pytest.raises(EditbenchError) as refused:
        compare_loaded_runs(run_a, run_b)
    message = str(refused.value)
    assert folders[0] in message and folders[1] in message
    assert "'viescore'" in message and "'editbench'" in message


def test_loaded_runs_share_their_protocols_headline_and_subsets(tmp_path: Path):
    rows_a, rows_b = rubric_runs()
    subsets = {"en": {"lang": "en"}, "cn": {"lang": "cn"}}
    folders = [write_run(tmp_path / side, rows) for side, rows in (("a", rows_a), ("b", rows_b))]
    (folders[0] / "config.yaml").write_text(run_config("viescore", "sample_mean", subsets))
    # B's dataset defines "cn" otherwise and has one more: only "en" is compared
    other = {"en": {"lang": "en"}, "cn": {"lang": ["cn", "zh"]}, "all": {}}
    (folders[1] / "config.yaml").write_text(run_config("viescore", "sample_mean", other))

    comparison = compare_loaded_runs(*(load_run(str(f)) for f in folders), n_bootstrap=100)
    assert comparison["protocol"] == "viescore" and comparison["headline"] == "sample_mean"
    assert list(comparison["subsets"]) == ["en"]


def test_outputs_show_criteria_and_subsets_escaped_and_without_nan(tmp_path: Path):
    rows_a, rows_b = rubric_runs()
    for row in rows_b:
        if row["criteria"]:
            row["criteria"][SCRIPT] = float("inf")  # one run alone, and not a number
    subsets = {"en": {"lang": "en"}, "cn": {"lang": "cn"}}
    comparison = compare_runs(rows_a, rows_b, n_bootstrap=200, subsets=subsets)
    write_comparison(tmp_path, comparison, "run <a>", "run b")

    document = json.loads((tmp_path / "comparison.json").read_text(), parse_constant=pytest.fail)
    assert document["criteria"]["SC"]["overall"]["mean_diff"] == pytest.approx(1.0)
    markdown = (tmp_path / "comparison.md").read_text()
    assert "## Criteria, B - A" in markdown and "## Subsets, B - A" in markdown
    assert re.search(r"\| SC \| 8 \| 4 \| 0 \| [\d.]+ \| [\d.]+ \| \+1\.00 \|", markdown)
    assert re.search(r"\| cn \| 0 \| 4 \| 0 \| – \| – \| – \| – \| – \|", markdown)
    html = (tmp_path / "comparison.html").read_text()
    assert "<script" not in html and "run &lt;a&gt;" in html
    assert html.count("&lt;script&gt;alert(&#39;judge&#39;)&lt;/script&gt;") >= 3
    assert '<table class="summary criteria">' in html and '<table class="summary subsets">' in html
    assert '<details class="criterion">' in html
    for text in (markdown, html, format_table(comparison)):
        assert re.search(r"\b(nan|inf|NaN|Infinity)\b", text) is None


def test_log_comparison_logs_criteria_and_subsets_under_safe_names(mlflow_runs, tmp_path: Path):
    client, _, experiment, _ = mlflow_runs
    rows_a, rows_b = rubric_runs()
    subsets = {"en": {"lang": "en"}, "cn": {"lang": "cn"}}
    comparison = compare_runs(rows_a, rows_b, n_bootstrap=200, subsets=subsets)
    files = write_comparison(tmp_path, comparison, "run a", "run b")
    run_id = client.create_run(experiment, run_name="rubric").info.run_id

    log_comparison(client, run_id, comparison, files, "compare/vs_first_job")

    metrics = client.get_run(run_id).data.metrics
    assert metrics["compare/vs_first_job/criterion/SC/overall/diff"] == pytest.approx(1.0)
    assert "compare/vs_first_job/criterion/PQ/overall/p_value" in metrics
    assert metrics["compare/vs_first_job/subset/en/diff"] == pytest.approx(1.0)
    assert not any(key.startswith("compare/vs_first_job/subset/cn/") for key in metrics)
    # a category's name as the benchmark spells it, less what MLflow refuses, and in one part
    unicode = metric_name("多元素组合")
    assert metrics[f"compare/vs_first_job/{unicode}/diff"] == pytest.approx(1.0)
    assert "compare/vs_first_job/_script_alert__judge____script_/diff" in metrics

    # names that a path would read otherwise, which MLflow refuses as they are
    odd = [sample(f"k{i}", name, 5.0) for i, name in enumerate(("a/../b", "..", "", "x//y"))]
    moved = [{**row, "score": 6.0} for row in odd]
    log_comparison(client, run_id, compare_runs(odd, moved, n_bootstrap=50), [], "odd")
    logged = {key for key in client.get_run(run_id).data.metrics if key.startswith("odd/")}
    parts = {key.split("/")[1] for key in logged if key.endswith("/diff")}
    assert parts == {"a_.._b", "__", "_", "x__y", "overall"}


@pytest.mark.slow
def test_cli_refuses_runs_of_different_protocols(tmp_path: Path):
    rows_a, rows_b = rubric_runs()
    for side, rows, protocol in (("a", rows_a, "kris"), ("b", rows_b, "rise")):
        folder = write_run(tmp_path / side, rows)
        (folder / "config.yaml").write_text(run_config(protocol, "pooled"))

    result = compare_cli("a", "b", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.startswith("editbench.compare: error: run A 'a' used protocol 'kris'")
    assert "run B 'b' used protocol 'rise'" in result.stderr
    assert not (tmp_path / "outputs").exists()


def test_a_category_that_no_run_judged_keeps_its_row():
    rows_a, rows_b = shifted_runs()
    for rows in (rows_a, rows_b):
        for row in rows:
            if row["category"] == "causal":
                row.update(status="refusal", score=None)
    comparison = compare_runs(rows_a, rows_b, n_bootstrap=100)

    assert list(comparison["categories"]) == list(CATEGORIES)
    causal = comparison["categories"]["causal"]
    assert causal["n_shared"] == causal["only_a"] == causal["only_b"] == 0
    assert causal["mean_diff"] is None
    assert comparison["overall"]["mean_diff"] == pytest.approx(SHIFT / 4)  # four compared


def test_a_sweep_compares_each_job_of_the_first_jobs_protocol(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    """A sweep over protocols: the job judged like the first is compared with it (criteria
    and subsets included, read from the jobs' MLflow artifacts); the other is left alone."""
    tracker = MlflowTracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "sweep", str(tmp_path / "art"))
    tracker.start("sweep", {}, {})
    client = tracker.client
    rows_a, rows_b = rubric_runs()
    subsets = {"en": {"lang": "en"}}
    jobs = [("first", rows_a, "viescore"), ("same", rows_b, "viescore"), ("other", rows_b, "kris")]
    for name, rows, protocol in jobs:
        folder = write_run(tmp_path / name, rows)
        (folder / "config.yaml").write_text(run_config(protocol, "mean_of_categories", subsets))
        tags = {"mlflow.parentRunId": tracker.run_id}
        run_id = client.create_run(tracker.experiment_id(), run_name=name, tags=tags).info.run_id
        client.log_artifact(run_id, str(folder / "samples.jsonl"))
        client.log_artifact(run_id, str(folder / "config.yaml"))
        client.set_terminated(run_id, "FINISHED")

    with caplog.at_level("WARNING", logger="editbench.compare.sweep"):
        summarize_sweep(tracker)

    metrics = {
        run.info.run_name: run.data.metrics for run in client.search_runs([tracker.experiment_id()])
    }
    assert metrics["same"]["compare/vs_first_job/criterion/SC/overall/diff"] == pytest.approx(1.0)
    assert metrics["same"]["compare/vs_first_job/subset/en/diff"] == pytest.approx(1.0)
    assert not any(key.startswith("compare/") for key in metrics["other"])
    assert "not compared with the first job" in caplog.text and "'kris'" in caplog.text
