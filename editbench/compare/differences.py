"""Per-category and overall score differences between two runs, on the samples both judged."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from editbench.errors import EditbenchError
from editbench.records import CATEGORIES, OK
from editbench.results.aggregate import paired_bootstrap
from editbench.results.bootstrap import (
    bootstrap_means,
    category_rng,
    percentile_interval,
    two_sided_p,
)


def compare_runs(
    rows_a: Sequence[Mapping[str, Any]],
    rows_b: Sequence[Mapping[str, Any]],
    n_bootstrap: int = 10_000,
    seed: int = 0,
    top: int = 10,
) -> dict[str, Any]:
    """Per-category and overall differences (B - A) between two runs' samples.jsonl rows.

    Every category holds ``n_shared`` (judged ok by both), ``only_a`` / ``only_b`` (judged ok by
    one run alone, including samples the other run does not have), ``mean_a``, ``mean_b``,
    ``mean_diff``, ``ci95`` and ``p_value``, None where no sample is shared; ``overall`` holds
    the same keys (see the module's docstring). ``top_movers`` are up to ``top`` shared samples
    whose score changed, largest ``|score_B - score_A|`` first. Reproducible for a ``seed``.
    Raises :class:`EditbenchError` when a sample id repeats in a run, changes category between
    runs, or is judged ok without a score.
    """
    if top < 0:
        raise ValueError(f"top must be at least 0, got {top}")
    by_id_a, by_id_b = _by_id(rows_a, "A"), _by_id(rows_b, "B")
    category = _categories(by_id_a, by_id_b)
    ok_a, ok_b = _ok_scores(by_id_a, "A"), _ok_scores(by_id_b, "B")
    present = dict.fromkeys(category.values())
    names = [c for c in CATEGORIES if c in present] + [c for c in present if c not in CATEGORIES]

    categories: dict[str, dict[str, Any]] = {}
    replicates = []  # per category with shared samples, for the overall interval
    for name in names:
        a = {key: score for key, score in ok_a.items() if category[key] == name}
        b = {key: score for key, score in ok_b.items() if category[key] == name}
        stats = paired_bootstrap(a, b, n_bootstrap, seed)
        categories[name] = {
            "n_shared": stats["n_shared"],
            "only_a": len(a.keys() - b.keys()),
            "only_b": len(b.keys() - a.keys()),
            **{key: stats[key] for key in ("mean_a", "mean_b", "mean_diff", "ci95", "p_value")},
        }
        if stats["n_shared"]:
            diffs = np.array([b[key] - a[key] for key in sorted(a.keys() & b.keys())])
            replicates.append(bootstrap_means(diffs, n_bootstrap, category_rng(seed, name)))

    return {
        "n_bootstrap": n_bootstrap,
        "seed": seed,
        "categories": categories,
        "overall": _overall(categories, replicates),
        "top_movers": _top_movers(by_id_a, by_id_b, ok_a, ok_b, top),
    }


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
    """Every sample id of either run mapped to its category, which both runs must agree on."""
    category = {key: row["category"] for key, row in by_id_b.items()}
    for key, row in by_id_a.items():
        if category.setdefault(key, row["category"]) != row["category"]:
            raise EditbenchError(
                f"sample {key!r} is in category {row['category']!r} in run A but "
                f"{category[key]!r} in run B; expected runs of the same benchmark"
            )
    return category


def _ok_scores(by_id: Mapping[str, Mapping[str, Any]], side: str) -> dict[str, float]:
    """Sample id → score of the samples judged ok; a failure's score, if any, is never read."""
    scores = {}
    for key, row in by_id.items():
        if row["status"] != OK:
            continue
        if row["score"] is None:
            raise EditbenchError(f"sample {key!r} of run {side} has status 'ok' but no score")
        scores[key] = float(row["score"])
    return scores


def _overall(
    categories: Mapping[str, Mapping[str, Any]], replicates: list[np.ndarray]
) -> dict[str, Any]:
    compared = [stats for stats in categories.values() if stats["n_shared"]]
    overall: dict[str, Any] = {
        "n_shared": sum(stats["n_shared"] for stats in categories.values()),
        "only_a": sum(stats["only_a"] for stats in categories.values()),
        "only_b": sum(stats["only_b"] for stats in categories.values()),
        "mean_a": None,
        "mean_b": None,
        "mean_diff": None,
        "ci95": None,
        "p_value": None,
    }
    if not compared:
        return overall
    for key in ("mean_a", "mean_b", "mean_diff"):
        overall[key] = float(np.mean([stats[key] for stats in compared]))
    # Averaging the categories' replicates, each resampled within its category, is a
    # stratified bootstrap of the mean of category differences (as aggregate's overall).
    means = np.mean(replicates, axis=0)
    overall["ci95"] = percentile_interval(means)
    overall["p_value"] = two_sided_p(means)
    return overall


def _top_movers(
    by_id_a: Mapping[str, Mapping[str, Any]],
    by_id_b: Mapping[str, Mapping[str, Any]],
    ok_a: Mapping[str, float],
    ok_b: Mapping[str, float],
    top: int,
) -> list[dict[str, Any]]:
    """The shared samples whose score moved most; ties go by id so the list is stable."""
    moved = [key for key in ok_a.keys() & ok_b.keys() if ok_b[key] != ok_a[key]]
    moved.sort(key=lambda key: (-abs(ok_b[key] - ok_a[key]), key))
    movers = []
    for key in moved[:top]:
        a, b = by_id_a[key], by_id_b[key]
        movers.append(
            {
                "id": key,
                "category": a["category"],
                "instruction": a.get("instruction"),
                "source_image": a.get("source_image"),
                "score_a": ok_a[key],
                "score_b": ok_b[key],
                "diff": ok_b[key] - ok_a[key],
                # A prompt or judge sweep re-judges the very same edit: worth saying so.
                "same_edit": a.get("edit_key") is not None
                and a.get("edit_key") == b.get("edit_key"),
                "edited_image_a": a.get("edited_image"),
                "edited_image_b": b.get("edited_image"),
                "reply_a": a.get("reply"),
                "reply_b": b.get("reply"),
            }
        )
    return movers
