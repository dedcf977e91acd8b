"""The figures of agreement, each for one cell (a category, a criterion, overall): the judge
against the raters' mean, the raters against each other, judges against each other.

A figure that cannot be computed (too few samples, every score the same) is None with a reason
string: never NaN, never an error. Correlations come from scipy.stats, Krippendorff's alpha
from the ``krippendorff`` package.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from typing import Any

import krippendorff
import numpy as np
from scipy import stats

from editbench.results.bootstrap import BLOCK_DRAWS, bootstrap_means, percentile_interval

# Fewer samples than this give no figure: with 4, Spearman's rho takes only a handful of values
# and a bootstrap interval of it means nothing.
MIN_SAMPLES = 5
# Scores are rounded to this many decimals before ranking, so that two means of the same
# ratings summed in another order (0.1 + 0.2 vs 0.2 + 0.1) tie as they should.
_DECIMALS = 12
FIGURES = ("spearman", "kendall", "pairwise_accuracy")


def spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman's rho (ties get their average rank); None where either side is constant."""
    if _constant(x) or _constant(y):
        return None
    return _finite(stats.spearmanr(x, y).statistic)


def kendall(x: np.ndarray, y: np.ndarray) -> float | None:
    """Kendall's tau-b (corrected for ties on both sides); None where either side is constant."""
    if _constant(x) or _constant(y):
        return None
    return _finite(stats.kendalltau(x, y, variant="b").statistic)


def pairwise_accuracy(human: np.ndarray, judge: np.ndarray) -> float | None:
    """The share of the sample pairs with different human scores that the judge orders the
    same way, a pair the judge ties counting one half; pairs the humans tie are left out.
    None where the humans tie every pair.

    That is (1 + Somers' D of judge given human) / 2. scipy's ``somersd`` takes time growing
    with the square of the distinct scores (125 ms at 1,000 samples, per bootstrap resample),
    so D comes from Kendall's tau-b and the counts of untied pairs instead:
    D = tau_b * sqrt(pairs untied by the judge / pairs untied by the humans).
    """
    return _accuracy_from_tau(human, judge, stats.kendalltau(human, judge).statistic)


def _accuracy_from_tau(human: np.ndarray, judge: np.ndarray, tau: float) -> float | None:
    untied_human = _untied_pairs(human)
    if untied_human == 0:
        return None
    untied_judge = _untied_pairs(judge)
    if untied_judge == 0:  # the judge ties every pair: each counts one half
        return 0.5
    accuracy = _finite(0.5 * (1 + tau * math.sqrt(untied_judge / untied_human)))
    # Clipped: the square root's rounding can put a perfect (dis)agreement a hair outside.
    return None if accuracy is None else min(1.0, max(0.0, accuracy))


def judge_vs_human(
    judge: np.ndarray, human: np.ndarray, n_bootstrap: int, rng: np.random.Generator
) -> dict[str, Any]:
    """Spearman, Kendall tau-b and pairwise accuracy of the judge's scores against the raters'
    mean scores of the same samples, each with a 95% percentile bootstrap interval (samples
    resampled with replacement; a resample where a figure is undefined is left out of that
    figure's interval). ``pairs`` counts the sample pairs with different human means."""
    judge, human = _rounded(judge), _rounded(human)
    cell: dict[str, Any] = {"n": int(judge.size), "pairs": _untied_pairs(human)}
    for figure in FIGURES:
        cell[figure] = cell[f"{figure}_ci95"] = None
    cell["reason"] = None
    if judge.size < MIN_SAMPLES:
        cell["reason"] = _too_few(judge.size)
        return cell
    if _constant(human):
        cell["reason"] = "every sample has the same human mean score"
        return cell
    if _constant(judge):
        cell["reason"] = (
            "the judge gave every sample the same score: no correlation; every pair is a tie, "
            "so the pairwise accuracy is 0.5"
        )
    tau = kendall(judge, human)
    point = (spearman(judge, human), tau, _accuracy_from_tau(human, judge, tau or 0.0))
    replicates = _replicates(human, judge, n_bootstrap, rng)
    for column, figure in enumerate(FIGURES):
        cell[figure] = point[column]
        if point[column] is not None:
            cell[f"{figure}_ci95"] = _interval(replicates[:, column])
    return cell


def _replicates(
    human: np.ndarray, judge: np.ndarray, n_bootstrap: int, rng: np.random.Generator
) -> np.ndarray:
    """The three figures of each resample (n_bootstrap x 3), NaN where undefined. Spearman is
    computed for a block of resamples at once (Pearson of the rows' ranks), which is what
    costs most; Kendall has no such form in scipy and goes one resample at a time."""
    size = judge.size
    block = max(1, BLOCK_DRAWS // size)
    out = np.full((n_bootstrap, len(FIGURES)), np.nan)
    with warnings.catch_warnings():  # a constant resample is undefined: NaN, left out
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        for start in range(0, n_bootstrap, block):
            stop = min(start + block, n_bootstrap)
            picks = rng.integers(0, size, size=(stop - start, size))
            humans, judges = human[picks], judge[picks]
            ranks = (stats.rankdata(humans, axis=1), stats.rankdata(judges, axis=1))
            out[start:stop, 0] = stats.pearsonr(*ranks, axis=1).statistic
            for row, (h, j) in enumerate(zip(humans, judges, strict=True), start=start):
                tau = stats.kendalltau(j, h).statistic
                out[row, 1] = tau
                accuracy = _accuracy_from_tau(h, j, 0.0 if np.isnan(tau) else tau)
                out[row, 2] = np.nan if accuracy is None else accuracy
    return out


def human_ceiling(ratings: np.ndarray, raters: Sequence[str]) -> dict[str, Any]:
    """How well the raters agree with each other over the samples of one cell: the ceiling a
    judge can hope to reach. ``ratings`` is raters x samples, NaN where a rater did not rate.

    ``alpha``: Krippendorff's alpha at the interval level. ``leave_one_out_spearman`` and
    ``_kendall``: each rater against the mean of the others on the samples both rated,
    averaged over the raters; ``per_rater`` holds each. ``n`` counts the samples with two or
    more ratings.
    """
    present = ~np.isnan(ratings)
    active = [i for i in range(len(raters)) if present[i].any()]
    pairable = int((present.sum(axis=0) >= 2).sum())
    cell: dict[str, Any] = {
        "raters": len(active),
        "n": pairable,
        "alpha": None,
        "leave_one_out_spearman": None,
        "leave_one_out_kendall": None,
        "per_rater": {},
        "reason": None,
    }
    if len(active) < 2:
        only = f" ({raters[active[0]]!r})" if active else ""
        cell["reason"] = f"one rater only{only}: no human-human ceiling"
        return cell
    if pairable < MIN_SAMPLES:
        cell["reason"] = f"{pairable} samples rated by two or more raters; {MIN_SAMPLES} needed"
        return cell
    cell["alpha"], alpha_reason = krippendorff_alpha(ratings[active])
    spearmans, kendalls = [], []
    for i in active:
        others = [j for j in active if j != i]
        shared = present[i] & present[others].any(axis=0)
        entry: dict[str, Any] = {"n": int(shared.sum()), "spearman": None, "kendall": None}
        if entry["n"] >= MIN_SAMPLES:
            own = _rounded(ratings[i, shared])
            rest = _rounded(np.nanmean(ratings[others][:, shared], axis=0))
            entry["spearman"], entry["kendall"] = spearman(own, rest), kendall(own, rest)
        spearmans += [entry["spearman"]] if entry["spearman"] is not None else []
        kendalls += [entry["kendall"]] if entry["kendall"] is not None else []
        cell["per_rater"][raters[i]] = entry
    cell["leave_one_out_spearman"] = _mean(spearmans)
    cell["leave_one_out_kendall"] = _mean(kendalls)
    if alpha_reason or not spearmans:
        cell["reason"] = alpha_reason or "no rater's scores vary against the others' mean"
    return cell


def preference_accuracy(
    judge_a: np.ndarray,
    judge_b: np.ndarray,
    winners: np.ndarray,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """The share of people's preferences (``winners``: 1 for a, -1 for b, 0 for a tie) that
    the judge's scores agree with: 1 where the judge scores the preferred sample higher, one
    half where it ties them, 0 otherwise. People's ties are left out (counted in
    ``human_ties``). Interval: percentile bootstrap over the preferences."""
    order = np.sign(_rounded(judge_a) - _rounded(judge_b))
    decided = winners != 0
    credit = np.where(order == winners, 1.0, np.where(order == 0, 0.5, 0.0))[decided]
    cell: dict[str, Any] = {
        "n": int(decided.sum()),
        "human_ties": int((~decided).sum()),
        "judge_ties": int(((order == 0) & decided).sum()),
        "pairwise_accuracy": None,
        "pairwise_accuracy_ci95": None,
        "reason": None,
    }
    if credit.size < MIN_SAMPLES:
        cell["reason"] = f"{credit.size} preferences that are not ties; {MIN_SAMPLES} needed"
        return cell
    cell["pairwise_accuracy"] = float(credit.mean())
    cell["pairwise_accuracy_ci95"] = _interval(bootstrap_means(credit, n_bootstrap, rng))
    return cell


def judges_agreement(scores: np.ndarray, judges: Sequence[str]) -> dict[str, Any]:
    """How well several judges agree on the same edits: ``scores`` is judges x samples, every
    sample judged ok by every judge. Krippendorff's alpha (interval: it counts differences of
    level as well as of order) and Spearman's rho of each pair of judges (order only)."""
    n = int(scores.shape[1])
    cell: dict[str, Any] = {
        "n": n,
        "alpha": None,
        "mean_spearman": None,
        "pairs": [],
        "reason": None,
    }
    if n < MIN_SAMPLES:
        cell["reason"] = _too_few(n)
        return cell
    cell["alpha"], cell["reason"] = krippendorff_alpha(scores)
    for a, b in itertools.combinations(range(len(judges)), 2):
        rho = spearman(_rounded(scores[a]), _rounded(scores[b]))
        cell["pairs"].append({"judges": [judges[a], judges[b]], "spearman": rho})
    cell["mean_spearman"] = _mean(
        [p["spearman"] for p in cell["pairs"] if p["spearman"] is not None]
    )
    if cell["mean_spearman"] is None and cell["reason"] is None:
        cell["reason"] = "a judge gave every sample the same score: no correlation"
    return cell


def krippendorff_alpha(ratings: np.ndarray) -> tuple[float | None, str | None]:
    """Krippendorff's alpha, interval level, of coders x units (NaN: not rated), or None and
    why: it is undefined where every value is the same."""
    values = ratings[~np.isnan(ratings)]
    if values.size == 0 or _constant(_rounded(values)):
        return None, "every score is the same: alpha is undefined"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = krippendorff.alpha(reliability_data=ratings, level_of_measurement="interval")
    alpha = _finite(value)
    return alpha, None if alpha is not None else "alpha is undefined for these scores"


def _interval(replicates: np.ndarray) -> list[float] | None:
    finite = replicates[np.isfinite(replicates)]
    return percentile_interval(finite) if finite.size else None


def _untied_pairs(values: np.ndarray) -> int:
    """The pairs of ``values`` that differ."""
    n = values.size
    _, counts = np.unique(values, return_counts=True)
    return int(n * (n - 1) // 2 - (counts * (counts - 1) // 2).sum())


def _rounded(values: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(values, dtype=float), _DECIMALS)


def _constant(values: np.ndarray) -> bool:
    return values.size == 0 or bool(np.all(values == values[0]))


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _too_few(n: int) -> str:
    return f"only {n} sample(s); at least {MIN_SAMPLES} are needed"
