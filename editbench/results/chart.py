"""A PNG chart of the per-category figures with their 95% intervals, for MLflow's artifact view,
and the score axis that it and the report's chart share."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Longest category label on the chart; the full name is in results.json and the report.
MAX_LABEL_CHARS = 32


def score_axis(results: Mapping[str, Any]) -> tuple[float, float]:
    """The axis ``(low, high)`` that a run's scores lie on: the protocol's ``rescale_to`` where
    it rescales (KRIS-Bench's and RISEBench's 0-100), else 0 to 10 (the judges' usual scale),
    widened to 0-100 for figures above 10, and further if any figure is higher still."""
    protocol = results.get("protocol") or {}
    if protocol.get("rescale_to"):
        low, high = protocol["rescale_to"]
        return float(low), float(high)
    top = max((value for value in _figures(results) if value is not None), default=0.0)
    if top <= 10:
        return 0.0, 10.0
    return 0.0, float(max(100, 10 ** math.ceil(math.log10(top))))


def chart_figures(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One entry per category, then one for overall, with the figure the benchmark publishes:
    each category's ``pooled`` value where the headline is pooled, else its mean; overall, the
    headline. Each entry: ``name``, ``value`` and ``ci95`` (None where undefined or not
    finite), ``judged``, ``n`` and ``overall`` (whether it is the overall row)."""
    headline = headline_kind(results)
    pooled = headline == "pooled"
    entries = []
    for name, stats in results["categories"].items():
        if pooled:
            value, ci95 = stats.get("pooled"), stats.get("ci95_pooled")
        else:
            value, ci95 = stats["mean"], stats["ci95"]
        entries.append(_entry(name, value, ci95, stats, overall=False))
    overall = results["overall"]
    value = overall.get("headline", overall.get(headline))
    ci95 = overall.get("ci95_headline", overall.get(f"ci95_{headline}"))
    entries.append(_entry("overall", value, ci95, overall, overall=True))
    return entries


def headline_kind(results: Mapping[str, Any]) -> str:
    """Which overall figure the benchmark publishes: mean_of_categories, sample_mean or pooled."""
    return str((results.get("protocol") or {}).get("headline") or "mean_of_categories")


def finite(value: Any) -> float | None:
    """``value`` as a float, or None where it is missing, NaN or infinite: no such value is
    ever drawn or printed."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def finite_interval(ci95: Any) -> list[float] | None:
    """A 95% interval whose two ends are finite numbers, else None."""
    if not ci95 or len(ci95) != 2:
        return None
    low, high = finite(ci95[0]), finite(ci95[1])
    return None if low is None or high is None else [low, high]


def short_label(name: str, limit: int = MAX_LABEL_CHARS) -> str:
    """``name`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(name.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def write_category_chart(path: Path, results: Mapping[str, Any]) -> None:
    """Horizontal bars (the figure of :func:`chart_figures`) with whiskers (its 95% interval)
    per category and overall, on the run's :func:`score_axis`. The figure grows with the
    number of categories, and long names are cut (the full names are in the report)."""
    import matplotlib

    matplotlib.use("Agg")  # no display; also keeps the import from touching any GUI toolkit
    from matplotlib import pyplot as plt

    entries = chart_figures(results)
    low, high = score_axis(results)
    # "$" would start matplotlib's math mode in a category name.
    labels = [short_label(e["name"]).replace("$", r"\$") for e in entries]
    values = [e["value"] if e["value"] is not None else low for e in entries]
    # An interval comes only with a figure (_entry); matplotlib refuses negative lengths.
    lower = [max(0.0, e["value"] - e["ci95"][0]) if e["ci95"] else 0.0 for e in entries]
    upper = [max(0.0, e["ci95"][1] - e["value"]) if e["ci95"] else 0.0 for e in entries]
    # Room for the longest label at about 0.09 inch a character, beside a 4.5-inch plot.
    label_inches = 0.09 * max(len(label) for label in labels)
    figure, axes = plt.subplots(
        figsize=(label_inches + 6.5, 0.32 * len(entries) + 1.2), dpi=100, layout="constrained"
    )
    colors = ["#333333" if e["overall"] else "#4c78a8" for e in entries]
    rows = range(len(entries))
    axes.barh(rows, [v - low for v in values], left=low, color=colors, height=0.6)
    axes.errorbar(values, rows, xerr=[lower, upper], fmt="none", ecolor="black", capsize=3)
    axes.set_yticks(rows, labels, fontsize=8)
    for row, entry in zip(rows, entries, strict=True):
        counts = f"({entry['judged']}/{entry['n']})"
        value = "no scores" if entry["value"] is None else f"{entry['value']:.2f}"
        axes.text(high + (high - low) * 0.01, row, f"{value}  {counts}", va="center", fontsize=8)
    axes.axhline(len(entries) - 1.5, color="black", linewidth=0.8)  # sets overall apart
    axes.set_xlim(low, high)
    axes.set_ylim(len(entries) - 0.5, -0.5)
    axes.set_xlabel(_figure_name(results))
    with warnings.catch_warnings():
        # A name in a script the font lacks (GEdit's Chinese, say) is drawn with boxes rather
        # than warned about once per glyph: the report spells it out.
        warnings.filterwarnings(
            "ignore", message="Glyph .* missing from font", category=UserWarning
        )
        figure.savefig(path)
    plt.close(figure)


def _figure_name(results: Mapping[str, Any]) -> str:
    headline = headline_kind(results)
    if headline == "pooled":
        return "pooled score (overall: pooled over every sample), 95% interval (judged/n)"
    overall = "mean over samples" if headline == "sample_mean" else "mean of category means"
    return f"mean score (overall: {overall}), 95% interval (judged/n)"


def _entry(
    name: str, value: Any, ci95: Any, stats: Mapping[str, Any], overall: bool
) -> dict[str, Any]:
    value = finite(value)
    return {
        "name": name,
        "value": value,
        "ci95": None if value is None else finite_interval(ci95),
        "judged": stats["judged"],
        "n": stats["n"],
        "overall": overall,
    }


def _figures(results: Mapping[str, Any]) -> list[float | None]:
    """Every number the chart may draw: the figures and the ends of their intervals."""
    values: list[float | None] = []
    for entry in chart_figures(results):
        values += [entry["value"], *(entry["ci95"] or [])]
    return values
