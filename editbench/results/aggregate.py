"""Per-category and overall aggregates of judge scores, with bootstrap intervals.

Only judgements with status ``ok`` contribute numbers. Every other status, including
``missing`` for a sample that was never judged, counts as a failure of its category and lowers
its coverage; it is never turned into a score.

Rows may carry more than a score: rubric ``criteria`` are summarised each on its own, and the
``samples`` of repeated judging measure how much of a category's score variance is the
judge's own (:func:`_judge_noise`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from editbench.records import OK
from editbench.results.bootstrap import (
    bootstrap_means,
    bootstrap_ratios,
    category_rng,
    percentile_interval,
    two_sided_p,
)
from editbench.sources.selection import fields_match


def benchmark_results(
    rows: Sequence[Mapping[str, Any]],
    categories: Sequence[str],
    headline: str = "mean_of_categories",
    subsets: Mapping[str, Mapping[str, Any]] | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """:func:`aggregate` over every row, and over the rows of each subset (a filter on the
    samples' fields, as :func:`~editbench.sources.selection.matches` reads it) under
    ``subsets``, each with the categories its rows have."""
    results = aggregate(rows, categories, n_bootstrap, seed, headline)
    if subsets:
        results["subsets"] = {}
        for name, where in subsets.items():
            members = [row for row in rows if row_matches(row, where)]
            present = [c for c in categories if any(row["category"] == c for row in members)]
            results["subsets"][name] = aggregate(members, present, n_bootstrap, seed, headline)
    return results


def row_matches(row: Mapping[str, Any], where: Mapping[str, Any]) -> bool:
    """Whether a row's sample fields (its extra fields, id, category, instruction, reference
    text) match ``where``, as a sample's do in the selection."""
    names = ("id", "category", "instruction", "reference_text")
    return fields_match({**(row.get("extra") or {}), **{n: row.get(n) for n in names}}, where)


def aggregate(
    rows: Sequence[Mapping[str, Any]],
    categories: Sequence[str],
    n_bootstrap: int = 1000,
    seed: int = 0,
    headline: str = "mean_of_categories",
) -> dict[str, Any]:
    """Summarise judged samples per category and overall.

    ``rows`` are the per-sample records of samples.jsonl (``id``, ``category``, ``status``,
    ``score``, and optionally ``criteria`` and ``samples``). Every name in ``categories``
    appears in the result, with ``n == 0`` and None statistics when it has no samples; a row of
    a category not listed is still reported, after the listed ones. Intervals are 95%
    percentile bootstraps with ``n_bootstrap`` resamples, reproducible for a given ``seed``.
    The result is plain JSON data: ``{"categories": {name: {...}}, "overall": {...}}``, with
    None wherever a value is undefined.

    A category whose ok rows carry rubric ``criteria`` also gets ``criteria``: per criterion
    ``judged``, ``mean``, ``std`` and ``ci95``; ``overall["criteria"]`` is then the mean of the
    category means of each criterion. A category whose rows carry judge ``samples`` (repeated
    judging) also gets ``judge_spread_mean`` and ``judge_variance_share`` (see
    :func:`_judge_noise`).
    """
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be at least 1, got {n_bootstrap}")
    names = list(dict.fromkeys([*categories, *(row["category"] for row in rows)]))
    rows_by_category: dict[str, list[Mapping[str, Any]]] = {name: [] for name in names}
    for row in rows:
        rows_by_category[row["category"]].append(row)

    summaries: dict[str, dict[str, Any]] = {}
    replicates: list[np.ndarray] = []  # per judged category, for the overall interval
    all_scores: list[np.ndarray] = []
    for name in names:
        scores = _ok_scores(rows_by_category[name])
        failures = Counter(row["status"] for row in rows_by_category[name] if row["status"] != OK)
        summary = _describe(scores, n=len(rows_by_category[name]))
        summary["ci95"] = None
        summary["failures"] = dict(sorted(failures.items()))
        if scores.size:
            means = bootstrap_means(scores, n_bootstrap, category_rng(seed, name))
            summary["ci95"] = percentile_interval(means)
            replicates.append(means)
            all_scores.append(scores)
        criteria = _criteria(rows_by_category[name], n_bootstrap, seed, name)
        if criteria:
            summary["criteria"] = criteria
        if any(row.get("samples") is not None for row in rows_by_category[name]):
            summary.update(_judge_noise(rows_by_category[name]))
        if any(row.get("pooled") for row in rows):
            summary.update(_pooled(rows_by_category[name], n_bootstrap, seed, name))
        summaries[name] = summary

    n = sum(summary["n"] for summary in summaries.values())
    judged = sum(summary["judged"] for summary in summaries.values())
    category_means = [s["mean"] for s in summaries.values() if s["mean"] is not None]
    overall = {
        "mean_of_categories": float(np.mean(category_means)) if category_means else None,
        "sample_mean": float(np.concatenate(all_scores).mean()) if all_scores else None,
        "n": n,
        "judged": judged,
        "coverage": judged / n if n else None,
        # Each category is resampled on its own, so averaging the categories' replicates
        # gives a stratified bootstrap of the mean of category means.
        "ci95_mean_of_categories": (
            percentile_interval(np.mean(replicates, axis=0)) if replicates else None
        ),
    }
    if all_scores:
        rng = category_rng(seed, "<overall sample mean>")
        scores = np.concatenate(all_scores)
        overall["ci95_sample_mean"] = percentile_interval(bootstrap_means(scores, n_bootstrap, rng))
    else:
        overall["ci95_sample_mean"] = None
    if any(row.get("pooled") for row in rows):
        overall.update(_pooled(rows, n_bootstrap, seed, "<overall pooled>"))
    if headline not in ("mean_of_categories", "sample_mean", "pooled"):
        raise ValueError(f"Unknown headline {headline!r}")
    overall["headline"] = overall.get(headline)
    overall["ci95_headline"] = overall.get(f"ci95_{headline}")
    criterion_means: dict[str, list[float]] = {}
    for summary in summaries.values():
        for criterion, stats in summary.get("criteria", {}).items():
            criterion_means.setdefault(criterion, []).append(stats["mean"])
    if criterion_means:
        overall["criteria"] = {c: float(np.mean(m)) for c, m in criterion_means.items()}
    return {"categories": summaries, "overall": overall}


def paired_bootstrap(
    a: Mapping[str, float],
    b: Mapping[str, float],
    n_bootstrap: int = 10000,
    seed: int = 0,
) -> dict[str, Any]:
    """Compare two runs on the samples that both scored: the mean of ``b - a`` per sample.

    ``a`` and ``b`` map sample id to score and should hold ``ok`` judgements only. Pairs are
    resampled together, so the interval reflects the per-sample differences rather than the
    spread of either run. Returns ``n_shared``, ``mean_a`` and ``mean_b`` (over the shared ids),
    ``mean_diff`` (b - a), ``ci95`` and a two-sided bootstrap ``p_value``; all but ``n_shared``
    are None when no id is shared.
    """
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be at least 1, got {n_bootstrap}")
    shared = sorted(a.keys() & b.keys())  # sorted: the resamples must not depend on dict order
    if not shared:
        return {
            "n_shared": 0,
            "mean_a": None,
            "mean_b": None,
            "mean_diff": None,
            "ci95": None,
            "p_value": None,
        }
    scores_a = np.array([a[key] for key in shared], dtype=float)
    scores_b = np.array([b[key] for key in shared], dtype=float)
    diffs = scores_b - scores_a
    means = bootstrap_means(diffs, n_bootstrap, np.random.default_rng(seed))
    return {
        "n_shared": len(shared),
        "mean_a": float(scores_a.mean()),
        "mean_b": float(scores_b.mean()),
        "mean_diff": float(diffs.mean()),
        "ci95": percentile_interval(means),
        "p_value": two_sided_p(means),
    }


def _pooled(
    rows: Sequence[Mapping[str, Any]], n_bootstrap: int, seed: int, name: str
) -> dict[str, Any]:
    """The mean of every value the ok rows pool, and its bootstrap interval over the rows."""
    pooled = [row["pooled"] for row in rows if row["status"] == OK and row.get("pooled")]
    if not pooled:
        return {"pooled": None, "ci95_pooled": None}
    sums = np.array([sum(values) for values in pooled], dtype=float)
    counts = np.array([len(values) for values in pooled], dtype=float)
    ratios = bootstrap_ratios(sums, counts, n_bootstrap, category_rng(seed, f"{name}/pooled"))
    return {
        "pooled": float(sums.sum() / counts.sum()),
        "ci95_pooled": percentile_interval(ratios),
    }


def _ok_scores(rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """The scores of the rows judged ``ok``; a failed row's score, if any, is never read."""
    scores = []
    for row in rows:
        if row["status"] != OK:
            continue
        if row["score"] is None:
            raise ValueError(f"Sample {row['id']!r} has status 'ok' but no score")
        scores.append(row["score"])
    return np.array(scores, dtype=float)


def _criteria(
    rows: Sequence[Mapping[str, Any]], n_bootstrap: int, seed: int, category: str
) -> dict[str, dict[str, Any]]:
    """Each rubric criterion of one category's ok rows, summarised on its own, in the order the
    criteria first appear; empty when no ok row carries criteria."""
    values: dict[str, list[float]] = {}
    for row in rows:
        if row["status"] == OK:
            for criterion, value in (row.get("criteria") or {}).items():
                values.setdefault(criterion, []).append(value)
    summaries = {}
    for criterion, criterion_values in values.items():
        scores = np.array(criterion_values, dtype=float)
        # Named apart from the category's own stream, and stable when criteria are added.
        rng = category_rng(seed, f"{category}/{criterion}")
        summaries[criterion] = {
            "judged": int(scores.size),
            "mean": float(scores.mean()),
            "std": float(scores.std(ddof=1)) if scores.size >= 2 else None,
            "ci95": percentile_interval(bootstrap_means(scores, n_bootstrap, rng)),
        }
    return summaries


def _judge_noise(rows: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """How much the judge disagrees with itself, from the repeated judge samples of one
    category's edits (those with at least two scored samples; failed samples are left out).

    ``judge_spread_mean`` is the mean over edits of the standard deviation of an edit's
    samples. ``judge_variance_share`` is the mean within-edit variance divided by the variance
    of all the individual samples together. By the law of total variance, the variance of one
    judge sample is the judge's own variance around an edit's mean score plus the variance of
    those means from edit to edit; the share estimates the first part's fraction: near 0, the
    scores tell edits apart; near 1, they are mostly the judge's noise. Both are sample
    variances (ddof 1), so the ratio is consistent as edits accumulate but not bounded: with
    few edits that hardly differ it can come out above 1, and is reported as it is rather than
    clipped. None where undefined (no edit with two scored samples, or all samples equal).
    """
    repeated = []
    for row in rows:
        scored = [score for score in row.get("samples") or [] if score is not None]
        if row["status"] == OK and len(scored) >= 2:
            repeated.append(np.array(scored, dtype=float))
    if not repeated:
        return {"judge_spread_mean": None, "judge_variance_share": None}
    within = float(np.mean([samples.var(ddof=1) for samples in repeated]))
    total = float(np.concatenate(repeated).var(ddof=1))
    return {
        "judge_spread_mean": float(np.mean([samples.std(ddof=1) for samples in repeated])),
        "judge_variance_share": within / total if total > 0 else None,
    }


def _describe(scores: np.ndarray, n: int) -> dict[str, Any]:
    """Counts and descriptive statistics of one category's ok scores."""
    judged = int(scores.size)
    return {
        "n": n,
        "judged": judged,
        "coverage": judged / n if n else None,
        "mean": float(scores.mean()) if judged else None,
        "std": float(scores.std(ddof=1)) if judged >= 2 else None,
        "min": float(scores.min()) if judged else None,
        "max": float(scores.max()) if judged else None,
    }
