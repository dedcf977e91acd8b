"""How much faster run B's editor made the edits than run A's, on the samples both judged.

With the score difference beside it, this is the price of a speed-up in benchmark points: run
the exact editor as A and the fast one (``editor.step_cache``, ``editor.fp8``,
``editor.compile``) as B on the same samples, and the comparison says how much faster B's edits
were and how much the score moved, each with a paired 95% interval.

A sample's edit time is its row's ``edit_device_s``: its share of its batch's time on the
device(s) that made it, whenever that was (an edit reused from the store carries the time of
the run that made it). The speed-up is the ratio of the mean edit times over the samples that
both runs judged ok and timed, A's over B's (above 1: B is faster), with a paired bootstrap
interval (each resample takes the same samples from both runs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from editbench.results.bootstrap import bootstrap_ratios, category_rng, percentile_interval


def speed_difference(
    ok_a: Mapping[str, Mapping[str, Any]],
    ok_b: Mapping[str, Mapping[str, Any]],
    n_bootstrap: int,
    seed: int,
) -> dict[str, Any] | None:
    """The speed-up of B's edits over A's on the samples both judged ok (rows by id):
    ``n`` samples timed in both, ``untimed`` shared samples that one run or both did not time
    (runs from before edit times were recorded), mean device-seconds per edit ``edit_s_a`` and
    ``edit_s_b``, ``speedup`` (A's mean over B's) and its ``ci95``. None where no shared sample
    is timed by both runs."""
    shared = sorted(set(ok_a) & set(ok_b))
    timed = [i for i in shared if _seconds(ok_a[i]) is not None and _seconds(ok_b[i]) is not None]
    if not timed:
        return None
    a = np.array([_seconds(ok_a[i]) for i in timed])
    b = np.array([_seconds(ok_b[i]) for i in timed])
    figures = {
        "n": len(timed),
        "untimed": len(shared) - len(timed),
        "edit_s_a": float(a.mean()),
        "edit_s_b": float(b.mean()),
        "speedup": None,
        "ci95": None,
    }
    if not b.sum() > 0:  # B's edits all took no time (read, not made): no ratio
        return figures
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = bootstrap_ratios(a, b, n_bootstrap, category_rng(seed, "<speed>"))
    # A resample of only B's untimed-as-zero edits has no ratio; such draws are left out.
    figures.update(
        speedup=float(a.sum() / b.sum()), ci95=percentile_interval(ratios[np.isfinite(ratios)])
    )
    return figures


def _seconds(row: Mapping[str, Any]) -> float | None:
    """The row's edit device-seconds where it has a usable one (a finite number >= 0)."""
    value = row.get("edit_device_s")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None
