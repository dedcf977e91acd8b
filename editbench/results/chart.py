"""A small PNG chart of per-category means with their 95% intervals, for MLflow's artifact view."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def write_category_chart(path: Path, results: Mapping[str, Any]) -> None:
    """Horizontal bars (mean) with whiskers (95% interval) per category, on the 0..10 axis."""
    import matplotlib

    matplotlib.use("Agg")  # no display; also keeps the import from touching any GUI toolkit
    from matplotlib import pyplot as plt

    names = list(results["categories"])
    stats = [results["categories"][name] for name in names]
    means = [s["mean"] if s["mean"] is not None else 0.0 for s in stats]
    lower = [s["mean"] - s["ci95"][0] if s["ci95"] else 0.0 for s in stats]
    upper = [s["ci95"][1] - s["mean"] if s["ci95"] else 0.0 for s in stats]
    figure, axes = plt.subplots(figsize=(6, 0.45 * len(names) + 1.0), dpi=100)
    axes.barh(names, means, xerr=[lower, upper], color="#4c78a8", capsize=4)
    for row, s in enumerate(stats):
        label = "no scores" if s["mean"] is None else f"{s['mean']:.2f}  ({s['judged']}/{s['n']})"
        axes.text(10.1, row, label, va="center", fontsize=8)
    axes.set_xlim(0, 10)
    axes.invert_yaxis()
    axes.set_xlabel("mean score, 95% interval (judged/n)")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
