"""Ranks and how sure each one is, by a paired bootstrap over the samples the entries share.

Entries are ranked on the samples that every one of them judged ok (the common samples), so
that none gains by having failed on hard ones. Each bootstrap replicate draws one resample of
the common samples and applies it to every entry (paired: a draw of easy samples is easy for
all), recomputes each entry's figure and ranks the entries; an entry's rank interval is the
2.5th to the 97.5th percentile of its ranks over the replicates. Ranks are competition ranks,
1 plus the number of entries strictly above, so entries that tie share the better place.

A category's figure is the mean score over its common samples, or, where the benchmark pools
(KRIS-Bench), the sum of the pooled values over their count. Overall is the benchmark's
headline: the mean of the category figures, each category resampled on its own (a stratified
bootstrap, as aggregate's overall interval), over the categories where the entries share
samples; or the figure over all common samples, resampled together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from editbench.results.bootstrap import BLOCK_DRAWS, category_rng

# What one sample adds to a figure: the sum and the count of its values (a score: itself and 1;
# a pooled figure: its pooled values and how many).
Values = dict[str, tuple[float, int]]
# Figures over the common samples: each member's, its bootstrap replicates, how many samples.
_Figures = tuple[np.ndarray, np.ndarray, int]


@dataclass(frozen=True)
class Standing:
    """The entries' places in one scope (a category, or overall), by entry index. None for an
    entry that judged no sample there, and for every entry when those that did share none."""

    figures: list[float | None]  # over the common samples
    ranks: list[int | None]
    intervals: list[list[int] | None]  # 95% bootstrap interval of the rank
    n_common: int  # samples that every ranked entry judged


def rank_entries(
    values: Sequence[Values],
    category: Mapping[str, str],
    categories: Sequence[str],
    headline: str,
    n_bootstrap: int,
    seed: int,
) -> tuple[dict[str, Standing], Standing]:
    """The standing of the entries (each one's values by sample id) in every category of
    ``categories`` (``category`` maps a sample id to its own), and overall by ``headline``
    (``mean_of_categories``, ``sample_mean`` or ``pooled``). Reproducible for a ``seed``; every
    scope draws from its own stream, so adding a category changes no other's replicates."""
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be at least 1, got {n_bootstrap}")
    scoped = {
        name: [{k: v for k, v in own.items() if category[k] == name} for own in values]
        for name in categories
    }
    standings = {}
    for name in categories:
        members = [i for i, own in enumerate(scoped[name]) if own]
        rng = category_rng(seed, f"<ranks>/{name}")
        standings[name] = _standing(
            len(values), members, _figures(scoped[name], members, n_bootstrap, rng)
        )
    members = [i for i, own in enumerate(values) if own]
    if headline == "mean_of_categories":
        parts = [
            _figures(scoped[name], members, n_bootstrap, category_rng(seed, f"<overall>/{name}"))
            for name in categories
        ]
        parts = [part for part in parts if part is not None]
        overall = None
        if parts:
            overall = (
                np.mean([part[0] for part in parts], axis=0),
                np.mean([part[1] for part in parts], axis=0),
                sum(part[2] for part in parts),
            )
    else:
        overall = _figures(values, members, n_bootstrap, category_rng(seed, "<overall>"))
    return standings, _standing(len(values), members, overall)


def _figures(
    values: Sequence[Values], members: Sequence[int], n_bootstrap: int, rng: np.random.Generator
) -> _Figures | None:
    """Each member's figure over the samples all members have, and its paired bootstrap
    replicates (``n_bootstrap`` × members); None when they share no sample."""
    if not members:
        return None
    # Sorted: the resamples must not depend on the order the rows came in.
    common = sorted(set.intersection(*(set(values[i]) for i in members)))
    if not common:
        return None
    sums = np.array([[values[i][key][0] for key in common] for i in members], dtype=float)
    counts = np.array([[values[i][key][1] for key in common] for i in members], dtype=float)
    size = len(common)
    replicates = np.empty((n_bootstrap, len(members)))
    block = max(1, BLOCK_DRAWS // (size * len(members)))  # bounds memory at a few MB
    for start in range(0, n_bootstrap, block):
        stop = min(start + block, n_bootstrap)
        picks = rng.integers(0, size, size=(stop - start, size))  # one draw for every member
        replicates[start:stop] = (sums[:, picks].sum(axis=2) / counts[:, picks].sum(axis=2)).T
    return sums.sum(axis=1) / counts.sum(axis=1), replicates, size


def competition_ranks(figures: np.ndarray) -> np.ndarray:
    """Along the last axis, 1 plus the number of figures strictly higher: ties share the
    better place (figures 9, 7, 7, 5 rank 1, 2, 2, 4)."""
    return 1 + (figures[..., None, :] > figures[..., :, None]).sum(axis=-1)


def _standing(size: int, members: Sequence[int], figures: _Figures | None) -> Standing:
    """The standing of ``size`` entries, of which ``members`` have ``figures``."""
    values: list[float | None] = [None] * size
    ranks: list[int | None] = [None] * size
    intervals: list[list[int] | None] = [None] * size
    if figures is None:
        return Standing(values, ranks, intervals, 0)
    points, replicates, n_common = figures
    point_ranks, replicate_ranks = competition_ranks(points), competition_ranks(replicates)
    for column, index in enumerate(members):
        drawn = replicate_ranks[:, column]
        values[index] = float(points[column])
        ranks[index] = int(point_ranks[column])
        # The outer percentiles ("lower", "higher"): the interval's ends are places drawn.
        intervals[index] = [
            int(np.percentile(drawn, 2.5, method="lower")),
            int(np.percentile(drawn, 97.5, method="higher")),
        ]
    return Standing(values, ranks, intervals, n_common)
