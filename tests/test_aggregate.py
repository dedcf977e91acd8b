"""Aggregates: hand-computed statistics, failures kept out of the numbers, bootstrap intervals,
rubric criteria and the judge's own variance."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from editbench.config.resolvers import SAMPLE_DATA
from editbench.plan import make_plan
from editbench.protocols.spec import Protocol
from editbench.results.aggregate import aggregate, benchmark_results, paired_bootstrap
from editbench.results.summary import collect_rows
from editbench.sources.manifest import load_manifest
from editbench.store import Store


def row(
    sample_id: str,
    category: str,
    status: str = "ok",
    score: float | None = None,
    **more: object,
) -> dict:
    """A samples.jsonl record reduced to what aggregation reads (``criteria``, ``samples``)."""
    return {"id": sample_id, "category": category, "status": status, "score": score, **more}


@pytest.fixture
def rows() -> list[dict]:
    return [
        row("a1", "color", score=8.0),
        row("a2", "color", score=6.0),
        row("a3", "color", score=7.0),
        row("a4", "color", "parse_error"),
        row("b1", "physical", score=4.0),
        row("b2", "physical", "refusal"),
        row("b3", "physical", "refusal"),
        row("b4", "physical", "missing"),
    ]


def test_category_statistics_by_hand(rows: list[dict]) -> None:
    color = aggregate(rows, ["color", "physical"])["categories"]["color"]

    assert color["n"] == 4
    assert color["judged"] == 3
    assert color["coverage"] == pytest.approx(0.75)
    assert color["mean"] == pytest.approx(7.0)
    assert color["std"] == pytest.approx(1.0)  # sample std of 8, 6, 7
    assert (color["min"], color["max"]) == (6.0, 8.0)
    assert color["failures"] == {"parse_error": 1}


def test_overall_by_hand(rows: list[dict]) -> None:
    overall = aggregate(rows, ["color", "physical"])["overall"]

    assert overall["n"] == 8
    assert overall["judged"] == 4
    assert overall["coverage"] == pytest.approx(0.5)
    assert overall["mean_of_categories"] == pytest.approx((7.0 + 4.0) / 2)
    assert overall["sample_mean"] == pytest.approx((8 + 6 + 7 + 4) / 4)


def test_failures_are_counted_never_scored(rows: list[dict]) -> None:
    # A failed judgement that carries a stray score must still not count as a number.
    rows.append(row("b5", "physical", "api_error", score=0.0))
    physical = aggregate(rows, ["color", "physical"])["categories"]["physical"]

    assert physical["judged"] == 1
    assert physical["mean"] == 4.0
    assert physical["min"] == 4.0
    assert physical["std"] is None  # a single score has no sample std
    assert physical["ci95"] == [4.0, 4.0]
    assert physical["failures"] == {"api_error": 1, "missing": 1, "refusal": 2}


def test_ok_without_score_is_an_error() -> None:
    with pytest.raises(ValueError, match="'x1'"):
        aggregate([row("x1", "color", "ok", None)], ["color"])


def test_empty_and_unjudged_categories(rows: list[dict]) -> None:
    rows.append(row("c1", "text", "parse_error"))
    results = aggregate(rows, ["color", "physical", "style", "text"])
    style, text = results["categories"]["style"], results["categories"]["text"]

    assert style == {
        "n": 0,
        "judged": 0,
        "coverage": None,
        "mean": None,
        "std": None,
        "min": None,
        "max": None,
        "ci95": None,
        "failures": {},
    }
    assert (text["n"], text["coverage"], text["mean"], text["ci95"]) == (1, 0.0, None, None)
    # Only categories with a mean enter the mean of categories.
    assert results["overall"]["mean_of_categories"] == pytest.approx((7.0 + 4.0) / 2)


def test_nothing_at_all() -> None:
    results = aggregate([], ["color"])

    assert results["overall"] == {
        "mean_of_categories": None,
        "sample_mean": None,
        "n": 0,
        "judged": 0,
        "coverage": None,
        "ci95_mean_of_categories": None,
        "ci95_sample_mean": None,
        "headline": None,
        "ci95_headline": None,
    }


def test_unlisted_category_is_reported_after_the_listed_ones(rows: list[dict]) -> None:
    assert list(aggregate(rows, ["physical"])["categories"]) == ["physical", "color"]


def test_result_is_plain_json(rows: list[dict]) -> None:
    results = aggregate(rows, ["color", "physical"])

    assert json.loads(json.dumps(results)) == results


def noisy_rows(seed: int = 1) -> list[dict]:
    scores = np.random.default_rng(seed).uniform(0, 10, size=(2, 40))
    return [
        row(f"{category}{i}", category, score=float(score))
        for category, category_scores in zip(("color", "physical"), scores, strict=True)
        for i, score in enumerate(category_scores)
    ]


def test_bootstrap_is_reproducible_and_follows_the_seed() -> None:
    rows = noisy_rows()
    first = aggregate(rows, ["color", "physical"], seed=3)
    again = aggregate(rows, ["color", "physical"], seed=3)
    other = aggregate(rows, ["color", "physical"], seed=4)

    assert first == again
    assert first["categories"]["color"]["ci95"] != other["categories"]["color"]["ci95"]
    assert (
        first["overall"]["ci95_mean_of_categories"] != other["overall"]["ci95_mean_of_categories"]
    )


def test_category_interval_does_not_depend_on_other_categories() -> None:
    rows = noisy_rows()
    alone = aggregate([r for r in rows if r["category"] == "color"], ["color"])
    together = aggregate(rows, ["physical", "color"])

    assert alone["categories"]["color"]["ci95"] == together["categories"]["color"]["ci95"]


def test_intervals_contain_the_means() -> None:
    results = aggregate(noisy_rows(), ["color", "physical"])

    for summary in results["categories"].values():
        low, high = summary["ci95"]
        assert low < summary["mean"] < high
    low, high = results["overall"]["ci95_mean_of_categories"]
    assert low < results["overall"]["mean_of_categories"] < high
    # Averaging two categories narrows the interval of either one.
    assert high - low < min(s["ci95"][1] - s["ci95"][0] for s in results["categories"].values())


def test_paired_bootstrap_finds_a_known_shift() -> None:
    base = np.random.default_rng(0).uniform(2, 8, size=60)
    noise = np.random.default_rng(1).normal(0, 0.3, size=60)
    a = {f"s{i}": float(score) for i, score in enumerate(base)}
    b = {
        f"s{i}": float(score + 1.0 + e)
        for i, (score, e) in enumerate(zip(base, noise, strict=True))
    }
    b["only_in_b"] = 10.0

    result = paired_bootstrap(a, b, seed=0)

    assert result["n_shared"] == 60
    assert result["mean_diff"] == pytest.approx(1.0 + noise.mean())
    assert result["mean_b"] - result["mean_a"] == pytest.approx(result["mean_diff"])
    low, high = result["ci95"]
    assert low < 1.0 < high
    assert result["p_value"] < 0.001
    assert paired_bootstrap(a, b, seed=0) == result


def test_paired_bootstrap_without_difference() -> None:
    scores = {f"s{i}": float(i % 11) for i in range(30)}
    result = paired_bootstrap(scores, dict(scores))

    assert result["mean_diff"] == 0.0
    assert result["ci95"] == [0.0, 0.0]
    assert result["p_value"] == 1.0


def test_paired_bootstrap_with_nothing_shared() -> None:
    result = paired_bootstrap({"a": 1.0}, {"b": 2.0})

    assert result["n_shared"] == 0
    assert result["mean_diff"] is None and result["ci95"] is None and result["p_value"] is None


def test_each_rubric_criterion_is_summarised_on_its_own() -> None:
    rows = [
        row("a1", "color", score=7.0, criteria={"follows": 8.0, "quality": 6.0}),
        row("a2", "color", score=5.0, criteria={"follows": 6.0, "quality": 4.0}),
        row("a3", "color", score=7.5, criteria={"follows": 7.0, "quality": 8.0}),
        # a failure's criteria, if any, never count
        row("a4", "color", "parse_error", criteria={"follows": 0.0, "quality": 0.0}),
        row("b1", "physical", score=3.0, criteria={"follows": 4.0, "physics": 2.0}),
        row("c1", "style", score=5.0, criteria=None),
    ]
    results = aggregate(rows, ["color", "physical", "style"])
    color = results["categories"]["color"]["criteria"]

    assert list(color) == ["follows", "quality"]
    assert color["follows"]["judged"] == 3
    assert color["follows"]["mean"] == pytest.approx(7.0)
    assert color["follows"]["std"] == pytest.approx(1.0)
    assert color["quality"]["mean"] == pytest.approx(6.0)
    assert color["quality"]["std"] == pytest.approx(2.0)
    low, high = color["quality"]["ci95"]
    assert 4.0 <= low < 6.0 < high <= 8.0
    physical = results["categories"]["physical"]["criteria"]
    assert physical["physics"] == {"judged": 1, "mean": 2.0, "std": None, "ci95": [2.0, 2.0]}
    assert "criteria" not in results["categories"]["style"]
    # Overall: the mean of the category means of each criterion, over the categories it has.
    assert results["overall"]["criteria"] == pytest.approx(
        {"follows": (7.0 + 4.0) / 2, "quality": 6.0, "physics": 2.0}
    )
    # The combined score is summarised as before.
    assert results["categories"]["color"]["mean"] == pytest.approx(6.5)
    assert json.loads(json.dumps(results)) == results


def test_rows_without_criteria_or_samples_add_no_keys(rows: list[dict]) -> None:
    plain = aggregate(rows, ["color", "physical"])
    for r in rows:
        r.update(criteria=None, samples=None, spread=None)  # as samples.jsonl writes them

    assert aggregate(rows, ["color", "physical"]) == plain
    assert "criteria" not in plain["overall"]
    assert "judge_variance_share" not in plain["categories"]["color"]


def test_judge_spread_and_variance_share_by_hand() -> None:
    rows = [
        row("a1", "color", score=7.0, samples=[6.0, 8.0], spread=math.sqrt(2)),
        row("a2", "color", score=3.0, samples=[2.0, None, 4.0], spread=math.sqrt(2)),
        # one scored sample says nothing of the judge's spread; a failure nothing at all
        row("a3", "color", score=5.0, samples=[5.0, None], spread=None),
        row("a4", "color", "parse_error", samples=[None, None], spread=None),
    ]
    color = aggregate(rows, ["color"])["categories"]["color"]

    # within-edit variances: var(6, 8) = var(2, 4) = 2; all samples 6, 8, 2, 4: 20 / 3
    assert color["judge_spread_mean"] == pytest.approx(math.sqrt(2))
    assert color["judge_variance_share"] == pytest.approx(2 / (20 / 3))
    assert color["judged"] == 3  # the scores themselves are summarised as before
    assert color["mean"] == pytest.approx(5.0)


def test_variance_share_is_not_clipped() -> None:
    # Two edits the judge cannot tell apart: every sample's variance is the judge's own, and
    # with so few edits the estimate overshoots 1 (var 2 within, 4 / 3 over all four).
    rows = [row(f"a{i}", "color", score=5.0, samples=[4.0, 6.0]) for i in range(2)]
    assert aggregate(rows, ["color"])["categories"]["color"]["judge_variance_share"] == (
        pytest.approx(1.5)
    )


def test_undefined_judge_noise_is_none() -> None:
    no_two_scored = [
        row("a1", "color", score=5.0, samples=[5.0, None]),
        row("a2", "color", "parse_error", samples=[None, None]),
    ]
    never_varies = [row(f"a{i}", "color", score=5.0, samples=[5.0, 5.0]) for i in range(2)]

    first = aggregate(no_two_scored, ["color"])["categories"]["color"]
    assert (first["judge_spread_mean"], first["judge_variance_share"]) == (None, None)
    second = aggregate(never_varies, ["color"])["categories"]["color"]
    assert (second["judge_spread_mean"], second["judge_variance_share"]) == (0.0, None)


# -- the published overall figure and subsets -----------------------------------------------------


@pytest.mark.parametrize("headline", ["mean_of_categories", "sample_mean"])
def test_the_headline_is_the_overall_figure_the_benchmark_publishes(
    rows: list[dict], headline: str
) -> None:
    overall = aggregate(rows, ["color", "physical"], headline=headline)["overall"]
    assert overall["headline"] == overall[headline]
    assert overall["ci95_headline"] == overall[f"ci95_{headline}"]
    assert overall["sample_mean"] == pytest.approx(6.25)  # (8 + 6 + 7 + 4) / 4
    assert overall["mean_of_categories"] == pytest.approx(5.5)  # (7 + 4) / 2


def test_the_sample_mean_has_a_reproducible_interval() -> None:
    overall = aggregate(noisy_rows(), ["color", "physical"], seed=3)["overall"]
    low, high = overall["ci95_sample_mean"]
    assert low < overall["sample_mean"] < high
    assert aggregate(noisy_rows(), ["color", "physical"], seed=3)["overall"] == overall
    assert aggregate(noisy_rows(), ["color", "physical"], seed=4)["overall"] != overall


def test_pooled_is_the_mean_of_every_pooled_value_of_the_ok_samples() -> None:
    rows = [
        row("a1", "color", score=50.0, pooled=[100.0, 50.0, 25.0]),
        row("a2", "color", score=75.0, pooled=[75.0]),
        row("b1", "style", score=50.0, pooled=[0.0, 100.0]),
        row("b2", "style", "parse_error", pooled=[100.0, 100.0]),  # a failure pools nothing
    ]
    results = aggregate(rows, ["color", "style"], headline="pooled")
    overall = results["overall"]
    assert overall["pooled"] == pytest.approx(350 / 6)
    assert overall["headline"] == overall["pooled"]
    assert overall["ci95_headline"] == overall["ci95_pooled"]
    low, high = overall["ci95_pooled"]
    assert 0.0 <= low <= overall["pooled"] <= high <= 100.0
    assert results["categories"]["color"]["pooled"] == pytest.approx(250 / 4)
    assert results["categories"]["style"]["pooled"] == pytest.approx(50.0)
    # The scores are summarised as ever beside it.
    assert overall["mean_of_categories"] == pytest.approx((62.5 + 50.0) / 2)


def test_a_headline_without_values_is_none_and_an_unknown_one_an_error() -> None:
    unjudged = [row("a1", "color", "refusal")]
    overall = aggregate(unjudged, ["color"], headline="pooled")["overall"]
    assert (overall["headline"], overall["ci95_headline"]) == (None, None)
    with pytest.raises(ValueError, match="Unknown headline 'best'"):
        aggregate(unjudged, ["color"], headline="best")


def test_subsets_are_aggregated_over_their_rows_and_categories() -> None:
    rows = [
        row("a-en", "color", score=8.0, extra={"language": "en", "hard": True}),
        row("a-cn", "color", score=4.0, extra={"language": "cn", "hard": True}),
        row("b-en", "style", score=6.0, extra={"language": "en"}),
        row("b-cn", "style", "parse_error", extra={"language": "cn"}),
        row("c-de", "text", score=1.0, extra={"language": "de"}),
    ]
    subsets = {
        "en": {"language": "en"},
        "asia": {"language": ["cn"]},
        "hard color": {"hard": True, "category": "color"},
        "none": {"language": "fr"},
    }
    results = benchmark_results(rows, ["color", "style", "text"], subsets=subsets)
    assert results["overall"]["n"] == 5
    en, asia, hard, none = (results["subsets"][name] for name in subsets)
    assert list(en["categories"]) == ["color", "style"]
    assert en["overall"]["mean_of_categories"] == pytest.approx(7.0)
    assert (asia["overall"]["n"], asia["overall"]["judged"]) == (2, 1)
    assert asia["categories"]["style"]["failures"] == {"parse_error": 1}
    assert hard["overall"]["sample_mean"] == pytest.approx(6.0)
    assert none["overall"]["n"] == 0 and none["categories"] == {}
    assert "subsets" not in benchmark_results(rows, ["color", "style", "text"])


def test_a_subset_may_filter_on_any_sample_field(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    shutil.copy(SAMPLE_DATA / "images" / "physical-chrome-ball.png", tmp_path / "images" / "a.png")
    line = {"id": "a", "category": "c", "instruction": "i", "image": "images/a.png"}
    (tmp_path / "manifest.jsonl").write_text(json.dumps({**line, "reference_text": "red"}) + "\n")
    subsets = {"hinted": {"reference_text": "red"}}
    samples = load_manifest(tmp_path, subsets=subsets)  # the field exists: accepted
    protocol = Protocol.editbench({"c": {"user_prompt_template": "{{instruction}}"}})
    store = Store(tmp_path / "store")
    plan = make_plan(samples, protocol, {"name": "e"}, {"name": "j"}, 0, store)
    rows = collect_rows(plan, store, protocol)
    assert benchmark_results(rows, ["c"], subsets=subsets)["subsets"]["hinted"]["overall"]["n"] == 1
