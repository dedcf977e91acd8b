"""Per-category, overall, per-criterion and per-subset differences between two runs, on the
samples both judged."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from editbench.compare.failures import failure_counts, judged_by_one_run
from editbench.compare.sources import LoadedRun
from editbench.compare.speed import speed_difference
from editbench.errors import EditbenchError
from editbench.records import OK
from editbench.results.aggregate import row_matches
from editbench.results.bootstrap import (
    bootstrap_ratios,
    category_rng,
    percentile_interval,
    two_sided_p,
)
from editbench.results.chart import finite
from editbench.results.report import REPLY_EXCERPT_CHARS, excerpt

HEADLINES = ("mean_of_categories", "sample_mean", "pooled")
# What one sample brings to a figure: the sum and the count of the values it adds (a score:
# itself and 1; KRIS-Bench's pooled figure: its criterion values and how many).
Values = dict[str, tuple[float, int]]
Figure = Callable[[Mapping[str, Any]], tuple[float, int] | None]


def compare_loaded_runs(
    run_a: LoadedRun, run_b: LoadedRun, n_bootstrap: int = 10_000, seed: int = 0, top: int = 10
) -> dict[str, Any]:
    """:func:`compare_runs` of two loaded runs, under the protocol they share (its headline,
    and the subsets both runs' datasets define alike). Raises :class:`EditbenchError` naming
    both runs when their protocols differ: their scores are not on the same footing."""
    protocols = {run.protocol for run in (run_a, run_b)} - {None}
    headlines = {run.headline for run in (run_a, run_b)} - {None}
    if len(protocols) > 1 or len(headlines) > 1:
        raise EditbenchError(
            f"run A {run_a.source!r} used protocol {_described(run_a)} but run B "
            f"{run_b.source!r} used protocol {_described(run_b)}; only runs judged by the "
            "same protocol can be compared"
        )
    if run_a.protocol is None or run_b.protocol is None:
        subsets = run_a.subsets or run_b.subsets  # the run that says, if either does
    else:
        subsets = {
            name: where for name, where in run_a.subsets.items() if run_b.subsets.get(name) == where
        }
    return compare_runs(
        run_a.rows,
        run_b.rows,
        n_bootstrap,
        seed,
        top,
        headline=next(iter(headlines), "mean_of_categories"),
        subsets=subsets,
        protocol=next(iter(protocols), None),
    )


def _described(run: LoadedRun) -> str:
    if run.protocol is None:
        return "(not recorded)"
    return f"{run.protocol!r} (headline {run.headline})"


def compare_runs(
    rows_a: Sequence[Mapping[str, Any]],
    rows_b: Sequence[Mapping[str, Any]],
    n_bootstrap: int = 10_000,
    seed: int = 0,
    top: int = 10,
    headline: str = "mean_of_categories",
    subsets: Mapping[str, Mapping[str, Any]] | None = None,
    protocol: str | None = None,
) -> dict[str, Any]:
    """Differences (B - A) between two runs' samples.jsonl rows, paired by sample id.

    ``categories`` (in the order the runs first show them) and ``overall`` each hold
    ``n_shared`` (judged ok by both), ``only_a`` / ``only_b`` (judged ok by one run alone,
    including samples the other run does not have), ``mean_a``, ``mean_b``, ``mean_diff``,
    ``ci95`` and ``p_value``, None where no sample is shared. A category's figure is its mean
    score, or its pooled mean where the ``headline`` is ``pooled``; ``overall`` is the
    benchmark's ``headline`` over the shared samples (see the package's docstring).
    ``criteria`` holds, per criterion of the rows, the same statistics per category and
    overall (the mean of the categories' differences, as results.json's overall criteria);
    ``subsets`` the overall difference over each subset's samples (``subsets`` maps a name to
    a filter on the samples' fields, as the dataset config writes it). ``speed`` is how much
    faster B's edits were (:func:`~editbench.compare.speed.speed_difference`). ``top_movers``
    are up to ``top`` shared samples whose score changed, largest ``|score_B - score_A|``
    first, their replies cut as report.html cuts them. ``failures`` counts, per status other
    than ok, the samples of each run that have it; ``judged_by_one_run`` counts the samples
    that one run judged ok and the other did not, and lists the first ``top`` by id with each
    run's status and error.
    Reproducible for a ``seed``. Raises :class:`EditbenchError` when a sample id repeats in a
    run, changes category between runs, or is judged ok without a finite score.
    """
    if top < 0:
        raise ValueError(f"top must be at least 0, got {top}")
    if headline not in HEADLINES:
        raise ValueError(f"Unknown headline {headline!r}; expected one of {list(HEADLINES)}")
    by_id_a, by_id_b = _by_id(rows_a, "A"), _by_id(rows_b, "B")
    category = _categories(by_id_a, by_id_b)
    ok_a, ok_b = _ok_rows(by_id_a, "A"), _ok_rows(by_id_b, "B")
    figure = _pooled_values if headline == "pooled" else _score
    categories, overall = _differences(
        _values(ok_a, figure),
        _values(ok_b, figure),
        category,
        headline,
        n_bootstrap,
        seed,
        names=list(dict.fromkeys(category.values())),  # a category no run judged too
    )
    subset_differences = {}
    for name, where in (subsets or {}).items():
        a, b = (_values(_members(ok, where), figure) for ok in (ok_a, ok_b))
        _, subset_overall = _differences(
            a, b, category, headline, n_bootstrap, seed, stream=f"{name}/"
        )
        subset_differences[name] = {"overall": subset_overall}
    return {
        "protocol": protocol,
        "headline": headline,
        "n_bootstrap": n_bootstrap,
        "seed": seed,
        "categories": categories,
        "overall": overall,
        "criteria": _criteria(ok_a, ok_b, category, n_bootstrap, seed),
        "subsets": subset_differences,
        "speed": speed_difference(ok_a, ok_b, n_bootstrap, seed),
        "top_movers": _top_movers(by_id_a, by_id_b, ok_a, ok_b, top),
        "failures": failure_counts(by_id_a, by_id_b),
        "judged_by_one_run": judged_by_one_run(by_id_a, by_id_b, ok_a, ok_b, top),
    }


def _differences(
    a: Values,
    b: Values,
    category: Mapping[str, str],
    headline: str,
    n_bootstrap: int,
    seed: int,
    stream: str = "",
    names: Sequence[str] | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The paired difference of every category in ``names`` (by default, those that either
    side has a sample of), and overall by ``headline``. Every resampling stream is named
    ``stream`` + what it resamples."""
    if names is None:
        names = list(dict.fromkeys(category[key] for key in [*a, *b]))
    categories, replicates = {}, []
    for name in names:
        stats, diffs = _paired(
            {k: v for k, v in a.items() if category[k] == name},
            {k: v for k, v in b.items() if category[k] == name},
            n_bootstrap,
            category_rng(seed, stream + name),
        )
        categories[name] = stats
        if diffs is not None:
            replicates.append(diffs)
    if headline == "mean_of_categories":
        overall = _mean_of(list(categories.values()), replicates)
    else:
        overall, _ = _paired(a, b, n_bootstrap, category_rng(seed, f"{stream}<overall>"))
    return categories, overall


def _paired(
    a: Values, b: Values, n_bootstrap: int, rng: np.random.Generator
) -> tuple[dict[str, Any], np.ndarray | None]:
    """The difference B - A of the figure (sum of sums over sum of counts) over the samples
    both sides have, with its bootstrap replicates (None when no sample is shared)."""
    shared = sorted(a.keys() & b.keys())  # sorted: the resamples must not depend on dict order
    stats: dict[str, Any] = {
        "n_shared": len(shared),
        "only_a": len(a.keys() - b.keys()),
        "only_b": len(b.keys() - a.keys()),
        "mean_a": None,
        "mean_b": None,
        "mean_diff": None,
        "ci95": None,
        "p_value": None,
    }
    if not shared:
        return stats, None
    sums_a, counts_a = (np.array([a[k][i] for k in shared], dtype=float) for i in (0, 1))
    sums_b, counts_b = (np.array([b[k][i] for k in shared], dtype=float) for i in (0, 1))
    # Two generators in the same state draw the same resamples: each replicate takes the same
    # samples from both runs, which is what makes the bootstrap paired.
    twin = copy.deepcopy(rng)
    diffs = bootstrap_ratios(sums_b, counts_b, n_bootstrap, rng) - bootstrap_ratios(
        sums_a, counts_a, n_bootstrap, twin
    )
    mean_a, mean_b = sums_a.sum() / counts_a.sum(), sums_b.sum() / counts_b.sum()
    stats.update(
        mean_a=float(mean_a),
        mean_b=float(mean_b),
        mean_diff=float(mean_b - mean_a),
        ci95=percentile_interval(diffs),
        p_value=two_sided_p(diffs),
    )
    return stats, diffs


def _mean_of(
    categories: Sequence[Mapping[str, Any]], replicates: list[np.ndarray]
) -> dict[str, Any]:
    """Overall as the mean over the categories with shared samples of their figures and
    differences. Averaging the categories' replicates, each resampled within its category, is
    a stratified bootstrap of the mean of category differences (as aggregate's overall)."""
    overall: dict[str, Any] = {
        key: sum(stats[key] for stats in categories) for key in ("n_shared", "only_a", "only_b")
    }
    compared = [stats for stats in categories if stats["n_shared"]]
    overall.update(dict.fromkeys(("mean_a", "mean_b", "mean_diff", "ci95", "p_value")))
    if not compared:
        return overall
    for key in ("mean_a", "mean_b", "mean_diff"):
        overall[key] = float(np.mean([stats[key] for stats in compared]))
    means = np.mean(replicates, axis=0)
    overall["ci95"] = percentile_interval(means)
    overall["p_value"] = two_sided_p(means)
    return overall


def _criteria(
    ok_a: Mapping[str, Mapping[str, Any]],
    ok_b: Mapping[str, Mapping[str, Any]],
    category: Mapping[str, str],
    n_bootstrap: int,
    seed: int,
) -> dict[str, dict[str, Any]]:
    """Per criterion that either run's ok rows carry (in the order they first show it), the
    differences per category and, as the mean of those, overall. A sample counts for a
    criterion where its row has a finite value of it."""
    names = list(
        dict.fromkeys(
            name for ok in (ok_a, ok_b) for row in ok.values() for name in row.get("criteria") or {}
        )
    )
    criteria = {}
    for name in names:

        def criterion(row: Mapping[str, Any], name: str = name) -> tuple[float, int] | None:
            value = finite((row.get("criteria") or {}).get(name))
            return None if value is None else (value, 1)

        categories, overall = _differences(
            _values(ok_a, criterion),
            _values(ok_b, criterion),
            category,
            "mean_of_categories",
            n_bootstrap,
            seed,
            stream=f"<criterion {name}>/",
        )
        criteria[name] = {"categories": categories, "overall": overall}
    return criteria


def _score(row: Mapping[str, Any]) -> tuple[float, int]:
    return float(row["score"]), 1


def _pooled_values(row: Mapping[str, Any]) -> tuple[float, int] | None:
    """A row's pooled criterion values (KRIS-Bench's figure pools them over samples); None
    when it has none."""
    values = [finite(value) for value in row.get("pooled") or []]
    if not values or None in values:
        return None
    return math.fsum(values), len(values)


def _values(ok: Mapping[str, Mapping[str, Any]], figure: Figure) -> Values:
    """Sample id → what its row brings to ``figure``, for the rows that bring something."""
    values = {key: figure(row) for key, row in ok.items()}
    return {key: value for key, value in values.items() if value is not None}


def _members(
    ok: Mapping[str, Mapping[str, Any]], where: Mapping[str, Any]
) -> dict[str, Mapping[str, Any]]:
    return {key: row for key, row in ok.items() if row_matches(row, where)}


def _by_id(rows: Sequence[Mapping[str, Any]], side: str) -> dict[str, Mapping[str, Any]]:
    by_id: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        if row["id"] in by_id:
            raise EditbenchError(f"sample id {row['id']!r} appears twice in run {side}")
        by_id[row["id"]] = row
    return by_id


def _categories(
    by_id_a: Mapping[str, Mapping[str, Any]], by_id_b: Mapping[str, Mapping[str, Any]]
) -> dict[str, str]:
    """Every sample id of either run (A's first) mapped to its category, which both runs must
    agree on."""
    category = {key: row["category"] for key, row in by_id_a.items()}
    for key, row in by_id_b.items():
        if category.setdefault(key, row["category"]) != row["category"]:
            raise EditbenchError(
                f"sample {key!r} is in category {category[key]!r} in run A but "
                f"{row['category']!r} in run B; expected runs of the same benchmark"
            )
    return category


def _ok_rows(by_id: Mapping[str, Mapping[str, Any]], side: str) -> dict[str, Mapping[str, Any]]:
    """The rows judged ok, by sample id; a failure's score, if any, is never read."""
    ok = {}
    for key, row in by_id.items():
        if row["status"] != OK:
            continue
        if finite(row["score"]) is None:
            raise EditbenchError(
                f"sample {key!r} of run {side} has status 'ok' but no finite score "
                f"({row['score']!r})"
            )
        ok[key] = row
    return ok


def _top_movers(
    by_id_a: Mapping[str, Mapping[str, Any]],
    by_id_b: Mapping[str, Mapping[str, Any]],
    ok_a: Mapping[str, Mapping[str, Any]],
    ok_b: Mapping[str, Mapping[str, Any]],
    top: int,
) -> list[dict[str, Any]]:
    """The shared samples whose score moved most; ties go by id so the list is stable."""
    score_a = {key: float(row["score"]) for key, row in ok_a.items()}
    score_b = {key: float(row["score"]) for key, row in ok_b.items()}
    moved = [key for key in score_a.keys() & score_b.keys() if score_b[key] != score_a[key]]
    moved.sort(key=lambda key: (-abs(score_b[key] - score_a[key]), key))
    movers = []
    for key in moved[:top]:
        a, b = by_id_a[key], by_id_b[key]
        movers.append(
            {
                "id": key,
                "category": a["category"],
                "instruction": a.get("instruction"),
                "source_image": a.get("source_image"),
                "score_a": score_a[key],
                "score_b": score_b[key],
                "diff": score_b[key] - score_a[key],
                # A prompt or judge sweep re-judges the very same edit: worth saying so.
                "same_edit": a.get("edit_key") is not None
                and a.get("edit_key") == b.get("edit_key"),
                "edited_image_a": a.get("edited_image"),
                "edited_image_b": b.get("edited_image"),
                "reply_a": excerpt(a.get("reply"), REPLY_EXCERPT_CHARS),
                "reply_b": excerpt(b.get("reply"), REPLY_EXCERPT_CHARS),
            }
        )
    return movers
