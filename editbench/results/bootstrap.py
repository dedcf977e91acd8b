"""Percentile bootstrap primitives shared by the aggregates and the run comparison."""

from __future__ import annotations

import zlib

import numpy as np

# Resampled values drawn per block: bounds memory at a few MB whatever the sample count.
BLOCK_DRAWS = 1_000_000


def category_rng(seed: int, name: str) -> np.random.Generator:
    """A generator for one category's resamples.

    Seeded from the run seed and the category's name (crc32, stable across processes unlike
    ``hash``), so a category's interval does not change when other categories are added,
    removed or reordered.
    """
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def bootstrap_means(values: np.ndarray, n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``n_bootstrap`` resamples, with replacement, of ``values``."""
    size = values.size
    block = max(1, BLOCK_DRAWS // size)
    means = np.empty(n_bootstrap)
    for start in range(0, n_bootstrap, block):
        stop = min(start + block, n_bootstrap)
        means[start:stop] = values[rng.integers(0, size, size=(stop - start, size))].mean(axis=1)
    return means


def bootstrap_ratios(
    sums: np.ndarray, counts: np.ndarray, n_bootstrap: int, rng: np.random.Generator
) -> np.ndarray:
    """Pooled means (sum of sums over sum of counts) of ``n_bootstrap`` resamples, with
    replacement, of the items: each item holds ``counts[i]`` values summing to ``sums[i]``."""
    size = sums.size
    block = max(1, BLOCK_DRAWS // size)
    ratios = np.empty(n_bootstrap)
    for start in range(0, n_bootstrap, block):
        stop = min(start + block, n_bootstrap)
        picks = rng.integers(0, size, size=(stop - start, size))
        ratios[start:stop] = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    return ratios


def percentile_interval(means: np.ndarray) -> list[float]:
    """The central 95% percentile interval of bootstrap replicates."""
    low, high = np.percentile(means, [2.5, 97.5])
    return [float(low), float(high)]


def two_sided_p(means: np.ndarray) -> float:
    """The bootstrap p-value of "the mean is 0": twice the smaller tail beyond zero, so that
    p < 0.05 about when 0 lies outside the 95% interval. The +1 keeps finitely many resamples
    from claiming p == 0."""
    below = (np.count_nonzero(means <= 0) + 1) / (means.size + 1)
    above = (np.count_nonzero(means >= 0) + 1) / (means.size + 1)
    return min(1.0, 2 * min(below, above))
