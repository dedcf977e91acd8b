"""The leaderboard: entries from runs, ranks and their intervals, the outputs, the CLI on real
demo runs, hostile runs, and a sweep's parent run."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from editbench.errors import EditbenchError
from editbench.leaderboard import build_leaderboard, load_finished_run, write_leaderboard
from editbench.leaderboard.__main__ import main
from editbench.leaderboard.ranking import competition_ranks, rank_entries
from editbench.results.aggregate import aggregate
from editbench.results.tracking import MlflowTracker

from .rows import sample_row as row

CATEGORIES = ("physical", "social")
LEADERBOARD_S = 120  # python -m editbench.leaderboard on two demo runs: about 2 s
HOSTILE_ID = "<script>window.injected = 1</script>|a|b"


def scored_rows(mean: float, n: int = 10, spread: float = 1.0) -> list[dict[str, Any]]:
    """``n`` samples per category, scores ``mean`` ± ``spread`` alternately (the same ids in
    every run)."""
    return [
        row(f"{category}-{i:02d}", category, mean + (spread if i % 2 else -spread))
        for category in CATEGORIES
        for i in range(n)
    ]


def write_run(
    folder: Path,
    rows: list[dict[str, Any]],
    *,
    editor: dict[str, Any] | None = None,
    protocol: str = "editbench",
    headline: str = "mean_of_categories",
    judge: str = "judge-1",
    choices: dict[str, str] | None = None,
    results: dict[str, Any] | None = None,
) -> str:
    """A finished run folder as run() writes it: samples.jsonl, results.json and config.yaml
    (editor and scorer settings, protocol), with .hydra/hydra.yaml where ``choices`` are given.
    Its rows point to no store, so its editor is known by its config."""
    folder.mkdir(parents=True)
    with open(folder / "samples.jsonl", "w", encoding="utf-8") as f:
        for sample in rows:
            f.write(json.dumps(sample) + "\n")
    if results is None:
        categories = list(dict.fromkeys(sample["category"] for sample in rows))
        results = aggregate(rows, categories, headline=headline)
        results["protocol"] = {"name": protocol, "headline": headline}
    (folder / "results.json").write_text(json.dumps(results))
    config = {
        "editor": editor or {"_target_": "x.Editor", "model": "editor-a", "call": {"steps": 4}},
        "scorer": {"_target_": "x.Judge", "model": judge, "batch_size": 4},
        "protocol": {"name": protocol, "headline": headline},
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    if choices is not None:
        (folder / ".hydra").mkdir()
        hydra = {"hydra": {"runtime": {"choices": choices}}}
        (folder / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump(hydra))
    return str(folder)


def editor(model: str, steps: int = 4) -> dict[str, Any]:
    return {"_target_": "x.Editor", "model": model, "call": {"steps": steps}}


def leaderboard_of(*folders: str, **options: Any) -> dict[str, Any]:
    runs = [load_finished_run(folder) for folder in folders]
    return build_leaderboard(runs, n_bootstrap=options.pop("n_bootstrap", 500), **options).document


# Ranks and their intervals, from hand-made values.


def values_of(scores: dict[str, float]) -> dict[str, tuple[float, int]]:
    return {key: (score, 1) for key, score in scores.items()}


def test_competition_ranks_let_ties_share_the_better_place():
    assert competition_ranks(np.array([9.0, 7.0, 7.0, 5.0])).tolist() == [1, 2, 2, 4]
    assert competition_ranks(np.array([[1.0, 2.0], [3.0, 3.0]])).tolist() == [[2, 1], [1, 1]]


def test_a_clear_winner_ranks_first_in_every_replicate():
    category = {f"s{i}": CATEGORIES[i % 2] for i in range(20)}
    rng = np.random.default_rng(0)
    values = [
        values_of({key: 8.0 + rng.uniform(-0.5, 0.5) for key in category}),
        values_of({key: 4.0 + rng.uniform(-2, 2) for key in category}),
        values_of({key: 4.0 + rng.uniform(-2, 2) for key in category}),
    ]
    standings, overall = rank_entries(values, category, CATEGORIES, "mean_of_categories", 500, 0)

    assert overall.ranks[0] == 1 and overall.intervals[0] == [1, 1]
    assert all(standings[name].intervals[0] == [1, 1] for name in CATEGORIES)
    # The two close entries cannot be told apart: each may be second or third.
    assert overall.intervals[1] == overall.intervals[2] == [2, 3]
    assert overall.n_common == 20


def test_identical_entries_tie_and_their_intervals_overlap():
    category = {f"s{i}": CATEGORIES[i % 2] for i in range(10)}
    same = values_of({key: float(i % 4) for i, key in enumerate(category)})
    lower = values_of({key: score - 1.0 for key, (score, _) in same.items()})
    _, overall = rank_entries(
        [same, dict(same), lower], category, CATEGORIES, "sample_mean", 300, 0
    )

    assert overall.ranks == [1, 1, 3]
    assert overall.intervals[0] == overall.intervals[1] == [1, 1]
    assert overall.intervals[2] == [3, 3]


def test_overall_follows_the_headline():
    """A: 10 on the small category, 4 on the large; B: 2 and 6. Over the category means A
    leads (7 vs 4); over the samples B does (5.6 vs 4.5)."""
    category = {"x0": "small", "x1": "small", **{f"y{i}": "large" for i in range(20)}}
    a = values_of({key: 10.0 if key.startswith("x") else 4.0 for key in category})
    b = values_of({key: 2.0 if key.startswith("x") else 6.0 for key in category})
    names = ["small", "large"]

    _, by_categories = rank_entries([a, b], category, names, "mean_of_categories", 200, 0)
    _, by_samples = rank_entries([a, b], category, names, "sample_mean", 200, 0)

    assert by_categories.ranks == [1, 2] and by_categories.figures == [7.0, 4.0]
    assert by_samples.ranks == [2, 1]
    assert by_samples.figures[1] == pytest.approx((2 * 2 + 20 * 6) / 22)


def test_ranks_are_over_the_samples_every_entry_judged():
    """B skipped the hard samples: its own mean is higher, but on the shared samples A leads."""
    category = {f"s{i}": "physical" for i in range(10)}
    a = values_of({key: 6.0 if i < 5 else 2.0 for i, key in enumerate(category)})
    b = values_of({key: 5.0 for i, key in enumerate(category) if i < 5})
    standings, overall = rank_entries([a, b], category, ["physical"], "sample_mean", 200, 0)

    assert overall.n_common == 5 and standings["physical"].n_common == 5
    assert overall.figures == [6.0, 5.0] and overall.ranks == [1, 2]


def test_the_same_seed_gives_the_same_ranks():
    category = {f"s{i}": CATEGORIES[i % 2] for i in range(12)}
    rng = np.random.default_rng(1)
    values = [values_of({key: rng.uniform(0, 10) for key in category}) for _ in range(4)]
    first = rank_entries(values, category, CATEGORIES, "mean_of_categories", 300, 7)
    again = rank_entries(values, category, CATEGORIES, "mean_of_categories", 300, 7)
    assert first == again


# Entries and the leaderboard from run folders.


def test_two_settings_of_one_editor_are_told_apart_and_ranked(tmp_path: Path):
    choices = {"editor": "qwen_image_edit", "scorer": "qwen3_vl", "prompts/physical": "v1"}
    good = write_run(
        tmp_path / "good",
        scored_rows(8.0),
        editor=editor("Qwen/Qwen-Image-Edit", 50),
        choices=choices,
    )
    poor = write_run(
        tmp_path / "poor",
        scored_rows(3.0),
        editor=editor("Qwen/Qwen-Image-Edit", 20),
        choices=choices,
    )

    document = leaderboard_of(poor, good)

    (board,) = document["boards"]
    assert board["protocol"]["label"] == "editbench (prompts v1)"
    assert board["judge"]["label"] == "qwen3_vl (judge-1)" and board["same_samples"]
    labels = [entry["label"] for entry in board["entries"]]
    assert labels == [
        "qwen_image_edit (Qwen/Qwen-Image-Edit) call/steps=50",
        "qwen_image_edit (Qwen/Qwen-Image-Edit) call/steps=20",
    ]
    best, second = board["entries"]
    assert (best["rank"], best["rank_ci95"], second["rank"], second["rank_ci95"]) == (
        1,
        [1, 1],
        2,
        [2, 2],
    )
    assert best["headline"] == pytest.approx(8.0) and best["runs"] == [good]
    assert best["editor"]["from"] == "config.yaml"
    for name in CATEGORIES:
        assert best["categories"][name]["rank"] == 1
        assert best["categories"][name]["rank_ci95"] == [1, 1]
        assert best["categories"][name]["figure"] == pytest.approx(8.0)
    # As the run's results.json has it, at the same seed and bootstrap count.
    results = json.loads((Path(good) / "results.json").read_text())
    same = leaderboard_of(good, poor, n_bootstrap=1000)["boards"][0]["entries"][0]
    assert same["ci95"] == results["overall"]["ci95_headline"]


def test_shards_of_one_entry_are_merged(tmp_path: Path):
    rows = scored_rows(6.0)
    first = write_run(tmp_path / "shard0", rows[::2])
    second = write_run(tmp_path / "shard1", rows[1::2])
    other = write_run(tmp_path / "other", scored_rows(5.0), editor=editor("editor-b"))

    (board,) = leaderboard_of(first, other, second)["boards"]

    merged = next(entry for entry in board["entries"] if len(entry["runs"]) == 2)
    assert merged["runs"] == [first, second] and merged["n"] == len(rows)
    assert merged["headline"] == pytest.approx(6.0) and merged["rank"] == 1
    assert board["same_samples"]


def test_two_runs_of_one_entry_sharing_samples_are_refused(tmp_path: Path):
    first = write_run(tmp_path / "a", scored_rows(6.0))
    again = write_run(tmp_path / "b", scored_rows(6.5))
    other = write_run(tmp_path / "c", scored_rows(5.0), editor=editor("editor-b"))

    with pytest.raises(EditbenchError) as refused:
        leaderboard_of(first, other, again)
    message = str(refused.value)
    assert first in message and again in message and "share 20 sample(s)" in message


def test_entries_that_judged_different_samples_are_marked(tmp_path: Path):
    rows = scored_rows(6.0)
    failed = [dict(r, status="parse_error", score=None) if i < 3 else r for i, r in enumerate(rows)]
    full = write_run(tmp_path / "full", scored_rows(5.0), editor=editor("editor-b"))
    partial = write_run(tmp_path / "partial", failed)

    (board,) = leaderboard_of(full, partial)["boards"]

    assert not board["same_samples"] and board["n_common"] == 17 and board["n_samples"] == 20
    assert board["n_common_by_category"] == {"physical": 7, "social": 10}
    by_label = {entry["label"]: entry for entry in board["entries"]}
    marked = by_label["editor-a"]
    assert marked["different_samples"] and marked["not_judged"] == 3
    assert (marked["judged"], marked["n"]) == (17, 20)
    assert marked["failures"] == {"parse_error": 3}
    assert not by_label["editor-b"]["different_samples"]
    assert by_label["editor-b"]["headline_common"] == pytest.approx(
        (5.0 + sum(r["score"] for r in scored_rows(5.0)[3:10]) / 7) / 2
    )


def test_a_pooled_headline_ranks_by_pooled_means(tmp_path: Path):
    def pooled(values: list[float]) -> list[dict[str, Any]]:
        rows = []
        for i, value in enumerate(values):
            sample = row(f"s{i}", "physical", value)
            sample["pooled"] = [value, value + 2.0]
            rows.append(sample)
        return rows

    low = write_run(tmp_path / "low", pooled([1.0, 2.0, 3.0]), headline="pooled")
    high = write_run(
        tmp_path / "high", pooled([5.0, 6.0, 7.0]), headline="pooled", editor=editor("editor-b")
    )

    (board,) = leaderboard_of(low, high)["boards"]

    assert board["headline"] == "pooled"
    assert [entry["headline"] for entry in board["entries"]] == [
        pytest.approx(7.0),
        pytest.approx(3.0),
    ]


def test_cost_is_shown_where_results_json_has_it(tmp_path: Path):
    rows = scored_rows(5.0)
    results = aggregate(rows, list(CATEGORIES))
    results["cost"] = {
        "edit": {"device_s_per_sample": 2.5},
        "judge": {"money_per_1000": 1.25, "currency": "USD"},
    }
    priced = write_run(tmp_path / "priced", rows, results=results)
    unpriced = write_run(tmp_path / "unpriced", scored_rows(4.0), editor=editor("editor-b"))

    document = leaderboard_of(priced, unpriced)
    entries = {entry["label"]: entry for entry in document["boards"][0]["entries"]}
    assert entries["editor-a"]["cost"] == {
        "edit_device_s_per_sample": 2.5,
        "judge_money_per_1000": 1.25,
        "currency": "USD",
    }
    assert entries["editor-b"]["cost"] is None
    files = write_leaderboard(
        tmp_path / "out",
        build_leaderboard([load_finished_run(priced), load_finished_run(unpriced)]),
    )
    markdown = files[1].read_text()
    assert "edit device-s/sample" in markdown and "1.25 USD" in markdown


# Hostile runs: each refused with one line naming it, exit 2; or, where a ranking still
# makes sense, ranked with the culprit shown for what it is.


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([*args, "--bootstrap", "200"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, _, err = cli(capsys, *args)
    assert code == 2
    assert err.startswith("editbench.leaderboard: error:") and len(err.strip().splitlines()) == 1
    return err


def test_a_folder_that_is_no_run_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    run = write_run(tmp_path / "run", scored_rows(5.0))
    (tmp_path / "empty").mkdir()
    assert "has no samples.jsonl" in refused(capsys, run, str(tmp_path / "empty"))
    assert "does not exist" in refused(capsys, run, str(tmp_path / "nowhere"))


def test_a_run_without_results_json_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    run = write_run(tmp_path / "run", scored_rows(5.0))
    unfinished = write_run(tmp_path / "unfinished", scored_rows(4.0), editor=editor("editor-b"))
    (Path(unfinished) / "results.json").unlink()
    err = refused(capsys, run, unfinished)
    assert unfinished in err and "no results.json" in err


def test_one_run_only_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    run = write_run(tmp_path / "run", scored_rows(5.0))
    assert "a leaderboard ranks at least two" in refused(capsys, run)
    assert not (tmp_path / "outputs").exists()


def test_runs_of_different_protocols_are_refused_unless_mixed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    runs = [
        write_run(tmp_path / "a", scored_rows(5.0), protocol="viescore"),
        write_run(tmp_path / "b", scored_rows(6.0), editor=editor("editor-b"), protocol="viescore"),
        write_run(tmp_path / "c", scored_rows(7.0), protocol="kris"),
    ]
    err = refused(capsys, *runs)
    assert "judged in 2 ways" in err and "--allow-mixed" in err and "kris" in err

    code, out, _ = cli(capsys, *runs, "--allow-mixed", "--out", str(tmp_path / "out"))
    assert code == 0
    document = json.loads((tmp_path / "out" / "leaderboard.json").read_text())
    assert [board["protocol"]["name"] for board in document["boards"]] == ["viescore", "kris"]
    assert [len(board["entries"]) for board in document["boards"]] == [2, 1]
    assert "protocol viescore" in out and "protocol kris" in out


def test_an_ok_row_without_a_finite_score_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    rows = scored_rows(5.0)
    rows[3]["score"] = math.nan
    run = write_run(tmp_path / "run", rows, results={})
    other = write_run(tmp_path / "other", scored_rows(4.0), editor=editor("editor-b"))
    err = refused(capsys, run, other)
    assert repr(rows[3]["id"]) in err and "nan" in err


def test_an_entry_that_judged_nothing_is_listed_unranked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    failed = [dict(r, status="api_error", score=None) for r in scored_rows(5.0)]
    runs = [
        write_run(tmp_path / "failed", failed),
        write_run(tmp_path / "b", scored_rows(6.0), editor=editor("editor-b")),
        write_run(tmp_path / "c", scored_rows(4.0), editor=editor("editor-c")),
    ]
    code, _, _ = cli(capsys, *runs, "--out", str(tmp_path / "out"))

    assert code == 0
    (board,) = json.loads((tmp_path / "out" / "leaderboard.json").read_text())["boards"]
    assert [entry["label"] for entry in board["entries"]] == ["editor-b", "editor-c", "editor-a"]
    unranked = board["entries"][-1]
    assert unranked["rank"] is None and unranked["rank_ci95"] is None
    assert unranked["headline"] is None and unranked["failures"] == {"api_error": 20}
    assert board["n_common"] == 20  # the others' samples: the failed entry is not ranked
    assert [entry["rank"] for entry in board["entries"][:2]] == [1, 2]


def test_ids_and_labels_from_the_runs_are_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    rows = scored_rows(5.0)
    rows[0]["id"] = HOSTILE_ID
    other = [dict(r) for r in scored_rows(6.0)]
    other[0]["id"] = HOSTILE_ID
    runs = [
        write_run(tmp_path / "a", rows, editor=editor("<b>bold</b>|editor")),
        write_run(tmp_path / "b", other, editor=editor("editor-b")),
    ]
    code, _, _ = cli(capsys, *runs, "--out", str(tmp_path / "out"))

    assert code == 0
    html = (tmp_path / "out" / "leaderboard.html").read_text()
    assert html.count("<script") == 1  # the page's own
    assert "&lt;script&gt;window.injected = 1&lt;/script&gt;|a|b" in html
    assert "<b>" not in html and "&lt;b&gt;bold&lt;/b&gt;|editor" in html
    assert "http://" not in html and "https://" not in html  # opens offline
    markdown = (tmp_path / "out" / "leaderboard.md").read_text()
    assert "&lt;b&gt;bold&lt;/b&gt;\\|editor" in markdown and "<b>" not in markdown
    document = json.loads((tmp_path / "out" / "leaderboard.json").read_text())
    assert document["boards"][0]["entries"][1]["editor"]["model"] == "<b>bold</b>|editor"


# The done-when: two real demo runs of different editor settings on one store.


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Two demo runs (tiny models, CPU, 4 samples in two categories), 2 and 3 denoising steps,
    on one store."""
    from hydra import compose, initialize_config_dir

    from editbench.run import run

    from .conftest import CONF, local_overrides

    root = tmp_path_factory.mktemp("demo")
    folders = []
    for steps in (2, 3):
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            overrides = ["experiment=demo", "tracking=none", "dataset.limit=4"]
            overrides.append(f"editor.call.num_inference_steps={steps}")
            cfg = compose("config", overrides=[*local_overrides(root), *overrides])
        folder = root / f"steps-{steps}"
        run(cfg, folder)
        folders.append(str(folder))
    return folders


@pytest.mark.slow
def test_cli_ranks_two_demo_runs_per_category_with_a_gallery(demo_runs: list[str], tmp_path: Path):
    folders = demo_runs
    out = tmp_path / "leaderboard"
    command = [sys.executable, "-m", "editbench.leaderboard", *folders, "--out", str(out)]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=LEADERBOARD_S, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr

    document = json.loads((out / "leaderboard.json").read_text())
    (board,) = document["boards"]
    assert board["protocol"]["name"] == "editbench" and board["same_samples"]
    assert board["n_common"] == 4 and board["judge"]["from"] == "store"
    labels = sorted(entry["label"] for entry in board["entries"])
    assert [label.rsplit(" ", 1)[1] for label in labels] == [
        "num_inference_steps=2",
        "num_inference_steps=3",
    ]
    assert sorted(entry["rank"] for entry in board["entries"]) in ([1, 2], [1, 1])
    for entry in board["entries"]:
        assert entry["editor"]["from"] == "store" and entry["judged"] == 4
        assert 1 <= entry["rank_ci95"][0] <= entry["rank"] <= entry["rank_ci95"][1] <= 2
        assert len(entry["categories"]) == 2
        for stats in entry["categories"].values():
            assert stats["rank_ci95"] is not None and stats["figure"] is not None
        # The figure its run published: same rows, seed and bootstrap count.
        results = json.loads((Path(entry["runs"][0]) / "results.json").read_text())
        assert entry["headline"] == pytest.approx(results["overall"]["headline"])
        assert entry["ci95"] == pytest.approx(results["overall"]["ci95_headline"])
    assert "95% rank interval" in result.stdout and "num_inference_steps=3" in result.stdout

    markdown = (out / "leaderboard.md").read_text()
    assert "| rank | 95% rank interval | entry |" in markdown
    # Titles are escaped like every cell (a board's title names its judge): "\[" shows "[".
    assert ", per category: figure #rank \\[95% rank interval\\]" in markdown
    html = (out / "leaderboard.html").read_text()
    assert html.count('<article class="sample"') == 4
    assert html.count('<div class="cell"') == 8  # both edits of every sample
    assert html.count("data:image/jpeg;base64,") == 4 + 8  # the sources and the edits


# A sweep's parent run gets the leaderboard.


def test_a_sweeps_parent_run_gets_the_leaderboard(tmp_path: Path):
    tracker = MlflowTracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "sweep", str(tmp_path / "art"))
    tracker.start("sweep", {}, {})
    client = tracker.client
    jobs = [("0", 4.0, "editor-a"), ("1", 7.0, "editor-b")]
    for name, mean, model in jobs:
        folder = Path(
            write_run(
                tmp_path / name,
                scored_rows(mean),
                editor=editor(model),
                choices={"editor": "custom", "scorer": "openai_api"},
            )
        )
        tags = {"mlflow.parentRunId": tracker.run_id}
        run_id = client.create_run(tracker.experiment_id(), run_name=name, tags=tags).info.run_id
        for artifact in ("samples.jsonl", "results.json", "config.yaml"):
            client.log_artifact(run_id, str(folder / artifact))
        client.log_artifacts(run_id, str(folder / ".hydra"), artifact_path=".hydra")
        client.set_terminated(run_id, "FINISHED")

    from editbench.compare.sweep import summarize_sweep

    summarize_sweep(tracker)

    logged = {Path(info.path).name for info in client.list_artifacts(tracker.run_id, "leaderboard")}
    assert logged == {"leaderboard.json", "leaderboard.md", "leaderboard.html"}
    path = client.download_artifacts(tracker.run_id, "leaderboard/leaderboard.json", str(tmp_path))
    (board,) = json.loads(Path(path).read_text())["boards"]
    assert [entry["label"] for entry in board["entries"]] == [
        "custom (editor-b)",
        "custom (editor-a)",
    ]
    assert board["judge"]["label"] == "openai_api (judge-1)"
