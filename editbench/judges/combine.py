"""Several numbers made one score: a judge's draws (repeated judging) and rubric criteria."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence

from editbench.choices import Combination, Reduction

REDUCTIONS = tuple(Reduction.values())
COMBINATIONS = tuple(Combination.values())


def reduce_draws(scores: Sequence[float | None], how: str) -> tuple[float | None, float | None]:
    """The reduced score and the spread (sample standard deviation) of the judge's draws that
    gave a score; ``(None, None)`` when none did. Failed draws (None) are left out, never
    counted as a number."""
    if how not in REDUCTIONS:
        raise ValueError(f"Unknown reduction {how!r}; expected one of {list(REDUCTIONS)}")
    valid = [s for s in scores if s is not None]
    if not valid:
        return None, None
    center = statistics.fmean(valid) if how == "mean" else statistics.median(valid)
    spread = statistics.stdev(valid) if len(valid) > 1 else None
    return center, spread


def combine_criteria(scores: Mapping[str, float], groups: Mapping[str, str], how: str) -> float:
    """One score from a rubric's criteria (each 0..10).

    ``mean``, ``min``, ``geometric_mean`` over all criteria; ``viescore``: the VIEScore overall
    score, √(min over the ``SC`` criteria · min over the ``PQ`` criteria), still on 0..10.
    """
    if how not in COMBINATIONS:
        raise ValueError(f"Unknown combination {how!r}; expected one of {list(COMBINATIONS)}")
    missing = sorted(set(groups) - set(scores))
    if missing:
        raise ValueError(f"Rubric scores missing for {missing}")
    values = [float(scores[name]) for name in groups]
    if how == "mean":
        return statistics.fmean(values)
    if how == "min":
        return min(values)
    if how == "geometric_mean":
        return math.prod(values) ** (1 / len(values))
    if how != "viescore":  # weighted: a protocol's calls have weights, a prompt's criteria none
        raise ValueError(f"Combination {how!r} does not apply to a prompt's criteria")
    by_group: dict[str, list[float]] = {}
    for name, group in groups.items():
        by_group.setdefault(group.upper(), []).append(float(scores[name]))
    if not {"SC", "PQ"} <= set(by_group):
        raise ValueError(f"viescore needs SC and PQ criteria; got groups {sorted(by_group)}")
    return math.sqrt(min(by_group["SC"]) * min(by_group["PQ"]))
