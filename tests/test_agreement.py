"""Agreement of judges with people and with each other: the figures, the ratings files (and
their hostile shapes), the outputs, MLflow, and the CLI over a real demo run."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from editbench.agreement import agreement_report, read_human, write_agreement
from editbench.agreement.__main__ import main
from editbench.agreement.mlflow_runs import MlflowLink, find_mlflow_run
from editbench.agreement.statistics import (
    _replicates,
    human_ceiling,
    judge_vs_human,
    pairwise_accuracy,
)
from editbench.compare import load_run
from editbench.errors import EditbenchError

from .conftest import local_overrides

SCRIPT_ID = "<script>alert(1)</script>|x"
NO_LINK = MlflowLink(None, None, "not logged: test")
RUN_S = 480  # a hang guard for the demo run, as tests/test_cli.py's


def sample(key: str, category: str, score: float | None, **fields: Any) -> dict[str, Any]:
    """One samples.jsonl row; a failure (``status`` other than ok) has no score."""
    status = fields.pop("status", "ok")
    return {
        "id": key,
        "category": category,
        "status": status,
        "score": score if status == "ok" else None,
        "criteria": fields.pop("criteria", None),
        "edit_key": fields.pop("edit_key", f"edit-{key}"),
        **fields,
    }


def write_run(folder: Path, rows: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True)
    (folder / "samples.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


def write_ratings(path: Path, rows: list[tuple[Any, ...]], header: str = "id,rater,score") -> Path:
    lines = [header, *(",".join(map(str, row)) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# Six samples per category, each with a distinct human mean: v - 0.5 and v + 0.5 from two raters.
VALUES = {"physical": [1, 2, 3, 4, 5, 6], "social | weird": [2.5, 3.5, 4.5, 5.5, 6.5, 7.5]}


def known_run(tmp_path: Path, judge: Any) -> tuple[Path, Path]:
    """A run whose judge gives ``judge(v)`` to the sample of human mean v, and its ratings."""
    rows, ratings = [], []
    for category, values in VALUES.items():
        for i, value in enumerate(values):
            key = f"{category[:3]}-{i}"
            rows.append(sample(key, category, judge(value)))
            ratings += [(key, "ann", value - 0.5), (key, "bob", value + 0.5)]
    run = write_run(tmp_path / "run", rows)
    return run, write_ratings(tmp_path / "ratings.csv", ratings)


def report(runs: list[Path], human: list[Path] | None, **options: Any) -> dict[str, Any]:
    loaded = [load_run(str(run)) for run in runs]
    people = read_human(human, options.pop("imagenhub_model", None)) if human else None
    document = agreement_report(loaded, people, [NO_LINK] * len(runs), **options)
    json.dumps(document, allow_nan=False)  # no NaN or infinity anywhere
    return document


# Known numbers.


def test_a_judge_equal_to_the_human_mean_agrees_perfectly(tmp_path: Path):
    run, ratings = known_run(tmp_path, judge=lambda v: v)
    human = report([run], [ratings], n_bootstrap=200)["runs"][0]["human"]

    for cell in (human["overall"], *human["categories"].values()):
        assert cell["spearman"] == pytest.approx(1.0)
        assert cell["kendall"] == pytest.approx(1.0)
        assert cell["pairwise_accuracy"] == pytest.approx(1.0)
        assert cell["spearman_ci95"] == pytest.approx([1.0, 1.0])
        assert cell["pairwise_accuracy_ci95"] == pytest.approx([1.0, 1.0])
        assert cell["reason"] is None
        # The raters, half a point either side, order every sample alike.
        assert cell["ceiling"]["leave_one_out_spearman"] == pytest.approx(1.0)
        assert 0 < cell["ceiling"]["alpha"] < 1
    assert human["overall"]["n"] == 12 and human["categories"]["physical"]["n"] == 6
    assert list(human["categories"]) == ["physical", "social | weird"]


def test_a_reversed_judge_disagrees_perfectly(tmp_path: Path):
    run, ratings = known_run(tmp_path, judge=lambda v: 10 - v)
    human = report([run], [ratings], n_bootstrap=200)["runs"][0]["human"]

    for cell in (human["overall"], *human["categories"].values()):
        assert cell["spearman"] == pytest.approx(-1.0)
        assert cell["kendall"] == pytest.approx(-1.0)
        assert cell["pairwise_accuracy"] == pytest.approx(0.0)


@pytest.mark.parametrize("seed", range(5))
def test_pairwise_accuracy_is_somers_d_rescaled_with_ties(seed: int):
    rng = np.random.default_rng(seed)
    human = rng.integers(0, 5, 40) / 2  # many ties
    judge = human + rng.integers(-2, 3, 40)  # ties too
    expected = (1 + stats.somersd(human, judge).statistic) / 2

    assert pairwise_accuracy(human, judge) == pytest.approx(expected)


def test_pairwise_accuracy_counts_judge_ties_half_and_skips_human_ties():
    human = np.array([1.0, 2.0, 3.0, 3.0])
    judge = np.array([1.0, 1.0, 2.0, 0.0])
    # Pairs with different human scores: (1,2) tie → ½, (1,3) ✓, (1,4) ✗, (2,3) ✓, (2,4) ✗.
    assert pairwise_accuracy(human, judge) == pytest.approx(2.5 / 5)


def test_bootstrap_figures_match_scipy_resample_by_resample():
    rng = np.random.default_rng(3)
    human, judge = rng.integers(0, 4, 12) / 2, rng.integers(0, 3, 12) * 1.0
    replicates = _replicates(human, judge, 50, np.random.default_rng(9))
    picks = np.random.default_rng(9).integers(0, 12, size=(50, 12))
    for row, pick in zip(replicates, picks, strict=True):
        h, j = human[pick], judge[pick]
        with warnings.catch_warnings():  # a constant resample: NaN, as the figure
            warnings.simplefilter("ignore")
            expected = [
                stats.spearmanr(j, h).statistic,
                stats.kendalltau(j, h).statistic,
                (1 + stats.somersd(h, j).statistic) / 2 if len(set(h)) > 1 else np.nan,
            ]
        assert row == pytest.approx(expected, nan_ok=True)


def test_the_same_seed_gives_the_same_intervals():
    rng = np.random.default_rng(0)
    human, judge = rng.normal(size=30), rng.normal(size=30)
    first = judge_vs_human(judge, human, 300, np.random.default_rng(7))
    again = judge_vs_human(judge, human, 300, np.random.default_rng(7))
    assert first == again


# Cells too small or too flat for a figure: a reason, never NaN.


def test_constant_judge_scores_have_no_correlation_and_half_accuracy():
    cell = judge_vs_human(np.full(8, 5.0), np.arange(8.0), 100, np.random.default_rng(0))
    assert cell["spearman"] is None and cell["kendall"] is None
    assert cell["pairwise_accuracy"] == 0.5
    assert "same score" in cell["reason"]


def test_constant_human_means_give_no_figure():
    cell = judge_vs_human(np.arange(8.0), np.full(8, 3.0), 100, np.random.default_rng(0))
    assert cell["spearman"] is None and cell["pairwise_accuracy"] is None
    assert cell["pairwise_accuracy_ci95"] is None and "same human mean" in cell["reason"]


def test_a_category_of_one_sample_is_reported_as_too_small(tmp_path: Path):
    run, ratings = known_run(tmp_path, judge=lambda v: v)
    rows = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    rows.append(sample("lonely", "solo", 4.0))
    (run / "samples.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    with ratings.open("a") as f:
        f.write("lonely,ann,4\nlonely,bob,5\n")

    document = report([run], [ratings], n_bootstrap=100)
    solo = document["runs"][0]["human"]["categories"]["solo"]

    assert solo["n"] == 1 and solo["spearman"] is None and "only 1 sample" in solo["reason"]
    files = write_agreement(tmp_path / "out", document)
    assert "only 1 sample" in files[1].read_text()  # agreement.md
    assert "NaN" not in files[0].read_text()


def test_all_ratings_equal_leave_alpha_undefined():
    ceiling = human_ceiling(np.full((2, 6), 3.0), ["ann", "bob"])
    assert ceiling["alpha"] is None and "same" in ceiling["reason"]


def test_one_rater_only_has_no_ceiling(tmp_path: Path):
    run, _ = known_run(tmp_path, judge=lambda v: v)
    ratings = write_ratings(
        tmp_path / "one.csv", [(f"phy-{i}", "ann", v) for i, v in enumerate(VALUES["physical"])]
    )
    overall = report([run], [ratings], n_bootstrap=100)["runs"][0]["human"]["overall"]

    assert overall["spearman"] == pytest.approx(1.0)
    assert overall["ceiling"]["alpha"] is None
    assert "one rater only ('ann')" in overall["ceiling"]["reason"]


def test_rated_ids_missing_from_the_run_are_counted(tmp_path: Path):
    run, ratings = known_run(tmp_path, judge=lambda v: v)
    with ratings.open("a") as f:
        f.write("ghost-1,ann,3\nghost-2,bob,4\n")
    human = report([run], [ratings], n_bootstrap=100)["runs"][0]["human"]
    assert human["not_in_run"] == {"count": 2, "examples": ["ghost-1", "ghost-2"]}
    assert human["overall"]["n"] == 12


def test_no_rated_id_in_the_run_is_an_error(tmp_path: Path):
    run, _ = known_run(tmp_path, judge=lambda v: v)
    ratings = write_ratings(tmp_path / "other.csv", [("ghost", "ann", 3)])
    with pytest.raises(EditbenchError, match=r"none of the 1 rated ids.*'ghost'"):
        report([run], [ratings])


def test_failed_samples_are_left_out_and_counted(tmp_path: Path):
    run, ratings = known_run(tmp_path, judge=lambda v: v)
    rows = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    rows[0].update(status="parse_error", score=None)
    (run / "samples.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))

    human = report([run], [ratings], n_bootstrap=100)["runs"][0]["human"]
    assert human["not_ok"] == {"parse_error": 1} and human["overall"]["n"] == 11


# Hostile ratings files: every problem named with its file and line.


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.csv", b"", ["empty.csv", "is empty", "id, rater, score"]),
        ("latin.csv", b"id,rater,score\ncaf\xe9,ann,3\n", ["latin.csv", "line 2 is not UTF-8"]),
        (
            "columns.csv",
            b"sample,who,value\na,ann,3\n",
            ["columns.csv", "['sample', 'who', 'value']", "lack ['id', 'rater', 'score']"],
        ),
        (
            "words.csv",
            b"id,rater,score\na,ann,good\n",
            ["words.csv line 2", "'good'", "not a number"],
        ),
        (
            "list.csv",
            b'id,rater,score\na,ann,"[0.5, 1]"\n',
            ["list.csv line 2", "'[0.5, 1]'", "criteria are unknown"],
        ),
        ("nan.csv", b"id,rater,score\na,ann,3\nb,ann,nan\n", ["nan.csv line 3", "not finite"]),
        ("inf.csv", b"id,rater,score\na,ann,-inf\n", ["inf.csv line 2", "not finite"]),
        (
            "nan.jsonl",
            b'{"id": "a", "rater": "ann", "score": NaN}\n',
            ["nan.jsonl line 1", "not finite"],
        ),
        (
            "twice.csv",
            b"id,rater,criterion,score\na,ann,SC,3\na,bob,SC,3\na,ann,SC,4\n",
            ["twice.csv line 4", "rated again by rater 'ann' on criterion 'SC'", "line 2"],
        ),
        ("short.csv", b"id,rater,score\na,ann\n", ["short.csv line 2", "has 2 cells"]),
        ("blank.csv", b"id,rater,score\n,ann,3\n", ["blank.csv line 2", "id ''"]),
        ("header.csv", b"id,rater,score\n", ["header.csv", "no rows"]),
        ("notes.txt", b"id,rater,score\na,ann,3\n", ["notes.txt", "unknown file type"]),
        (
            "winner.csv",
            b"id_a,id_b,winner\na,b,left\n",
            ["winner.csv line 2", "'left'", "['a', 'b', 'tie']"],
        ),
        ("list.jsonl", b"[1, 2]\n", ["list.jsonl line 1", "JSON list"]),
    ],
)
def test_bad_ratings_files_are_refused_by_name(
    tmp_path: Path, name: str, content: bytes, expected: list[str]
):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(EditbenchError) as error:
        read_human([path])
    for fragment in expected:
        assert fragment in str(error.value)


def test_a_missing_file_is_named(tmp_path: Path):
    with pytest.raises(EditbenchError, match=r"absent\.csv: does not exist"):
        read_human([tmp_path / "absent.csv"])


def test_every_problem_is_listed_at_once(tmp_path: Path):
    bad = write_ratings(tmp_path / "bad.csv", [("a", "ann", "x"), ("b", "ann", "nan")])
    with pytest.raises(EditbenchError) as error:
        read_human([bad, tmp_path / "absent.csv"])
    message = str(error.value)
    assert "3 problem(s)" in message
    assert "bad.csv line 2" in message and "bad.csv line 3" in message and "absent.csv" in message


def test_jsonl_and_csv_with_a_bom_and_criteria_are_read(tmp_path: Path):
    jsonl = tmp_path / "r.jsonl"
    jsonl.write_text('{"id": "a", "rater": 7, "score": 3}\n{"id": "a", "rater": 8, "score": 4.5}\n')
    csv_path = tmp_path / "r.csv"
    csv_path.write_bytes("\ufeffid,rater,criterion,score,note\na,7,SC,1,fine\n".encode())

    human = read_human([jsonl, csv_path])

    assert human.raters == ["7", "8"] and human.criteria == [None, "SC"]
    assert [(r.id, r.criterion, r.score) for r in human.ratings] == [
        ("a", None, 3.0),
        ("a", None, 4.5),
        ("a", "SC", 1.0),
    ]


# ImagenHub's rater TSVs.

IMAGENHUB = {
    1: "uid\tMagicBrush\tInstructPix2Pix\n"
    "sample_1.jpg\t[0, 1]\t[0.5, 0.5]\n"
    "sample_2.jpg\t[1,1]\t[0 , 0.5]\n",
    2: "uid\tMagicBrush\tInstructPix2Pix\n"
    "sample_1.jpg\t[0.5, 1]\t[1, 1]\n"
    "sample_2.jpg\t[1, 0.5]\t\n",
}


def imagenhub_files(tmp_path: Path) -> list[Path]:
    paths = []
    for rater, text in IMAGENHUB.items():
        path = tmp_path / f"Text-Guided_IE_rater{rater}.tsv"
        path.write_text(text)
        paths.append(path)
    return paths


def test_imagenhub_cells_are_sc_pq_and_their_geometric_mean(tmp_path: Path):
    human = read_human(imagenhub_files(tmp_path))

    assert human.raters == ["rater1", "rater2"] and human.criteria == [None, "PQ", "SC"]
    scores = {(r.id, r.rater, r.criterion): r.score for r in human.ratings}
    assert scores["MagicBrush/sample_1", "rater2", None] == pytest.approx(math.sqrt(0.5))
    assert scores["MagicBrush/sample_1", "rater2", "SC"] == 0.5
    assert scores["InstructPix2Pix/sample_2", "rater1", "PQ"] == 0.5
    assert ("InstructPix2Pix/sample_2", "rater2", None) not in scores  # an empty cell


def test_imagenhub_model_picks_one_column_by_uid(tmp_path: Path):
    human = read_human(imagenhub_files(tmp_path), imagenhub_model="MagicBrush")
    assert {r.id for r in human.ratings} == {"sample_1", "sample_2"}
    with pytest.raises(EditbenchError, match=r"no column for model 'Nope'.*MagicBrush"):
        read_human(imagenhub_files(tmp_path), imagenhub_model="Nope")


@pytest.mark.parametrize("cell", ["[0.7, 1]", "[1]", "0.5", "[true, 1]"])
def test_a_bad_imagenhub_cell_is_named(tmp_path: Path, cell: str):
    path = tmp_path / "Task_rater1.tsv"
    path.write_text(f"uid\tMagicBrush\nsample_1.jpg\t[0, 1]\nsample_2.jpg\t{cell}\n")
    with pytest.raises(EditbenchError) as error:
        read_human([path])
    assert "Task_rater1.tsv line 3, column 'MagicBrush'" in str(error.value)
    assert repr(cell) in str(error.value)


def test_imagenhub_criteria_are_compared_with_the_judges(tmp_path: Path):
    """Five edits rated by two ImagenHub raters, judged by a run that reports SC and PQ."""
    cells = [("[0, 0]", "[0, 0.5]"), ("[0, 1]", "[0.5, 1]"), ("[0.5, 0.5]", "[0.5, 1]")]
    cells += [("[1, 0.5]", "[1, 1]"), ("[1, 1]", "[1, 1]")]
    for rater in (0, 1):
        lines = ["uid\tMagicBrush", *(f"s{i}.png\t{c[rater]}" for i, c in enumerate(cells))]
        (tmp_path / f"T_rater{rater + 1}.tsv").write_text("\n".join(lines) + "\n")
    rows = []
    for i, pair in enumerate(cells):
        (sc1, pq1), (sc2, pq2) = (json.loads(c) for c in pair)
        sc, pq = (sc1 + sc2) / 2, (pq1 + pq2) / 2
        rows.append(sample(f"s{i}", "edit", 10 * math.sqrt(sc * pq), criteria={"SC": sc, "PQ": pq}))
    run = write_run(tmp_path / "run", rows)

    human = report(
        [run], sorted(tmp_path.glob("*.tsv")), imagenhub_model="MagicBrush", n_bootstrap=100
    )["runs"][0]["human"]

    assert human["criteria"]["SC"]["overall"]["spearman"] == pytest.approx(1.0)
    assert human["criteria"]["PQ"]["overall"]["pairwise_accuracy"] == pytest.approx(1.0)
    assert human["overall"]["n"] == 5 and human["overall"]["ceiling"]["raters"] == 2


# Preferences.


def test_preference_accuracy_counts_judge_ties_half(tmp_path: Path):
    run = write_run(tmp_path / "run", [sample(f"s{i}", "c", float(min(i, 5))) for i in range(8)])
    preferences = [("s1", "s0", "a"), ("s2", "s1", "a"), ("s3", "s2", "a"), ("s0", "s4", "a")]
    preferences += [("s6", "s7", "b"), ("s3", "s4", "tie"), ("s5", "ghost", "a")]
    path = write_ratings(tmp_path / "prefs.csv", preferences, header="id_a,id_b,winner")

    cell = report([run], [path], n_bootstrap=100)["runs"][0]["human"]["preferences"]

    overall = cell["overall"]
    # Right on s1>s0, s2>s1, s3>s2; wrong on s0>s4; s6, s7 both score 5: a tie, one half.
    assert overall["n"] == 5 and overall["human_ties"] == 1 and overall["judge_ties"] == 1
    assert overall["pairwise_accuracy"] == pytest.approx(3.5 / 5)
    assert cell["not_compared"] == 1


# Judge panels.


def panel_runs(tmp_path: Path) -> list[Path]:
    """Three judges of twelve edits: B is A plus one point (the same order), C reverses the
    social samples; one sample's edit differs in C, one sample is hostile text."""
    runs = {"a": [], "b": [], "c": []}
    for i in range(12):
        category = "physical" if i < 6 else "social|x"
        key = SCRIPT_ID if i == 3 else f"s{i}"
        score = float(i % 6)
        runs["a"].append(sample(key, category, score))
        runs["b"].append(sample(key, category, score + 1))
        reverse = category != "physical"
        edit = "other-edit" if i == 5 else f"edit-{key}"
        runs["c"].append(sample(key, category, 5 - score if reverse else score, edit_key=edit))
    return [write_run(tmp_path / name / "run", rows) for name, rows in runs.items()]


def test_judges_are_compared_on_the_same_edits(tmp_path: Path):
    panel = report(panel_runs(tmp_path), None)["judges"]

    assert panel["judges"] == ["a_run", "b_run", "c_run"]
    assert panel["n_shared"] == 11
    assert panel["not_comparable"]["count"] == 1
    assert panel["not_comparable"]["samples"][0]["id"] == "s5"
    physical, social = panel["categories"]["physical"], panel["categories"]["social|x"]
    rho = {tuple(p["judges"]): p["spearman"] for p in social["pairs"]}
    assert rho["a_run", "b_run"] == pytest.approx(1.0)
    assert rho["a_run", "c_run"] == pytest.approx(-1.0)
    assert physical["mean_spearman"] == pytest.approx(1.0)
    assert physical["alpha"] < 1  # B's level differs by one point
    assert panel["categories_by_agreement"][0]["category"] == "social|x"
    assert panel["most_disagreed_samples"][0]["category"] == "social|x"
    assert panel["most_disagreed_samples"][0]["range"] == pytest.approx(6.0)


def test_outputs_escape_hostile_ids_and_categories(tmp_path: Path):
    document = report(panel_runs(tmp_path), None)
    json_path, markdown_path, html_path = write_agreement(tmp_path / "out", document)

    assert json.loads(json_path.read_text())["judges"]["n_shared"] == 11
    markdown = markdown_path.read_text()
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown
    assert "social\\|x" in markdown and "\\|x" in markdown
    html = html_path.read_text()
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;|x" in html
    assert "http://" not in html and "https://" not in html


def test_nothing_to_measure_is_an_error(tmp_path: Path):
    run, _ = known_run(tmp_path, judge=lambda v: v)
    with pytest.raises(EditbenchError, match="nothing to measure"):
        report([run], None)


# The CLI and MLflow.


def test_cli_writes_beside_the_run_and_says_it_has_no_mlflow_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    run, ratings = known_run(tmp_path, judge=lambda v: v)

    assert main([str(run), "--human", str(ratings), "--bootstrap", "100"]) == 0

    out = capsys.readouterr().out
    assert "Spearman 1.00" in out and "no mlflow_run.json" in out
    document = json.loads((run / "agreement" / "agreement.json").read_text())
    assert document["runs"][0]["mlflow"] == {
        "run_id": None,
        "note": "not logged: the run folder has no mlflow_run.json (tracking=none?)",
    }


def test_a_folder_names_its_mlflow_run_or_is_not_logged(tmp_path: Path):
    run, _ = known_run(tmp_path, judge=lambda v: v)
    assert "no mlflow_run.json" in find_mlflow_run(str(run), None).note
    (run / "mlflow_run.json").write_text('{"run_id": "not an id"}')
    assert "names no MLflow run id" in find_mlflow_run(str(run), None).note
    store = tmp_path / "mlflow.db"
    (run / "mlflow_run.json").write_text(
        json.dumps({"tracking_uri": f"sqlite:///{store}", "run_id": "a" * 32})
    )
    assert "does not exist" in find_mlflow_run(str(run), None).note  # never made up
    store.touch()
    link = find_mlflow_run(str(run), None)
    assert (link.run_id, link.tracking_uri) == ("a" * 32, f"sqlite:///{store}")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--human", "absent.csv"], "absent.csv: does not exist"),
        ([], "nothing to measure"),
    ],
)
def test_cli_errors_exit_2_with_one_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
):
    run, _ = known_run(tmp_path, judge=lambda v: v)
    args = [str(tmp_path / arg) if arg.endswith(".csv") else arg for arg in args]
    assert main([str(run), *args, "--bootstrap", "50"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("editbench.agreement: error:") and expected in error


@pytest.mark.slow
def test_cli_subprocess_refuses_bad_input_without_a_traceback(tmp_path: Path):
    run, _ = known_run(tmp_path, judge=lambda v: v)
    bad = write_ratings(tmp_path / "bad.csv", [("phy-0", "ann", "[0.5, 1]")])
    result = agreement_cli(str(run), "--human", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert "bad.csv line 2" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_an_mlflow_run_id_gets_the_figures_and_files(tmp_path: Path):
    from mlflow import MlflowClient

    run, ratings = known_run(tmp_path, judge=lambda v: v)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("agreement", (tmp_path / "artifacts").as_uri())
    run_id = client.create_run(experiment, run_name="judged").info.run_id
    client.log_artifact(run_id, str(run / "samples.jsonl"))

    result = agreement_cli(
        run_id, "--human", str(ratings), "--tracking-uri", uri, "--out", "out", cwd=tmp_path
    )

    assert result.returncode == 0, result.stderr
    metrics = client.get_run(run_id).data.metrics
    assert metrics["agreement/human/overall/spearman"] == pytest.approx(1.0)
    assert metrics["agreement/human/category/physical/kendall"] == pytest.approx(1.0)
    assert "agreement/human/overall/ceiling_alpha" in metrics
    logged = {Path(a.path).name for a in client.list_artifacts(run_id, "agreement")}
    assert logged == {"agreement.json", "agreement.md", "agreement.html"}


def agreement_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "editbench.agreement", *args, "--bootstrap", "200"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


# Done when: the CLI over a real demo run, with two raters per sample.


@pytest.mark.slow
def test_agreement_of_a_demo_run_with_two_raters(tmp_path: Path):
    demo = tmp_path / "demo"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "editbench",
            "experiment=demo",
            f"hydra.run.dir={demo}",
            *local_overrides(tmp_path),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=RUN_S,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in (demo / "samples.jsonl").read_text().splitlines()]
    ratings = [(SCRIPT_ID.replace("|", ""), "ann", 3)]  # not a sample: shown, escaped
    for rank, row in enumerate(sorted(rows, key=lambda row: row["score"])):
        ratings += [(row["id"], "ann", 1 + rank // 2), (row["id"], "bob", 1 + (rank + 1) // 2)]
    ratings_path = write_ratings(tmp_path / "ratings.csv", ratings)
    hostile = tmp_path / "hostile.jsonl"
    hostile.write_text(json.dumps({"id": SCRIPT_ID, "rater": "cy", "score": 2}) + "\n")

    result = agreement_cli(str(demo), "--human", str(ratings_path), str(hostile), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    out = demo / "agreement"
    document = json.loads((out / "agreement.json").read_text())
    human = document["runs"][0]["human"]
    overall = human["overall"]
    assert overall["n"] == 10
    for name in ("spearman", "kendall", "pairwise_accuracy"):
        assert overall[name] > 0.5  # the raters follow the judge's order
        low, high = overall[f"{name}_ci95"]
        assert low <= overall[name] <= high
    assert overall["ceiling"]["raters"] == 2
    assert overall["ceiling"]["alpha"] is not None
    assert overall["ceiling"]["leave_one_out_spearman"] is not None
    assert set(human["categories"]) == {row["category"] for row in rows}
    for cell in human["categories"].values():  # two samples each: too few for a figure
        assert cell["n"] == 2 and cell["spearman"] is None and cell["reason"]
        assert "spearman_ci95" in cell and "pairwise_accuracy_ci95" in cell
    assert human["not_in_run"]["count"] == 2
    assert document["runs"][0]["mlflow"]["run_id"] is not None

    markdown = (out / "agreement.md").read_text()
    html = (out / "agreement.html").read_text()
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown and "\\|x" in markdown
    assert "<script" not in html and "&lt;script&gt;" in html

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    metrics = client.get_run(document["runs"][0]["mlflow"]["run_id"]).data.metrics
    assert metrics["agreement/human/overall/spearman"] == pytest.approx(overall["spearman"])
