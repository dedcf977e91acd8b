"""A comparison as comparison.json, .md and .html, and as MLflow metrics.

comparison.html is self-contained like report.html: thumbnails are embedded as data URIs and
nothing is fetched from the network.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import numpy as np

from editbench.compare.tables import (
    OVERALL_RULES,
    format_ci,
    format_markdown,
    format_number,
    format_p,
    format_seconds,
    format_signed,
    format_times,
    format_times_ci,
    named_stats,
    speed_note,
)
from editbench.records import OK
from editbench.results.chart import finite, finite_interval, short_label
from editbench.results.thumbnails import thumbnail_data_uri
from editbench.results.tracking import metric_name

if TYPE_CHECKING:
    from mlflow import MlflowClient

FILES = ("comparison.json", "comparison.md", "comparison.html")

# Chart geometry, in SVG user units: a label column, then a symmetric axis around 0.
_LABEL_WIDTH = 180
_PLOT_WIDTH = 440
_ROW_HEIGHT = 26
_AXIS_HEIGHT = 24
# Half-widths the chart's axis can take: the smallest that holds every interval is used.
_AXIS_SPANS = (0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 20.0, 50.0, 100.0)
_MAX_LABEL_CHARS = 24
# Metrics per MLflow call: well under its limit of 1000.
_BATCH = 100


def write_comparison(
    out_dir: Path, comparison: Mapping[str, Any], run_a: str, run_b: str
) -> list[Path]:
    """Write comparison.json, comparison.md and comparison.html into ``out_dir``; returns them.

    ``run_a`` and ``run_b`` say which runs were compared (a folder, an MLflow run).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, markdown_path, html_path = (out_dir / name for name in FILES)
    document = {"run_a": run_a, "run_b": run_b, **comparison}
    json_path.write_text(
        json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    markdown_path.write_text(format_markdown(comparison, run_a, run_b), encoding="utf-8")
    html_path.write_text(_html(comparison, run_a, run_b), encoding="utf-8")
    return [json_path, markdown_path, html_path]


def log_comparison(
    client: MlflowClient,
    run_id: str,
    comparison: Mapping[str, Any],
    files: Sequence[Path],
    prefix: str = "compare",
) -> None:
    """Log a comparison to the MLflow run ``run_id``.

    Metrics ``<prefix>/<category>/diff``, ``.../ci95_lo``, ``.../ci95_hi`` and ``.../p_value``
    for every category with shared samples and for ``overall``; the same under
    ``<prefix>/criterion/<criterion>/overall/`` for each criterion's overall difference and
    under ``<prefix>/subset/<subset>/`` for each subset's; ``<prefix>/edit/speedup`` and
    ``..._ci95_lo`` / ``..._ci95_hi`` where both runs timed their edits; ``files`` (what
    :func:`write_comparison` returned) as artifacts under ``<prefix>/``. Names are kept as the
    benchmark spells them, with characters MLflow refuses replaced by ``_``. A distinct
    ``prefix`` per comparison keeps several on one run apart.
    """
    from mlflow.entities import Metric  # heavy import: only when something is logged

    named = [(f"{prefix}/{metric_name(name)}", stats) for name, stats in named_stats(comparison)]
    for criterion, stats in comparison.get("criteria", {}).items():
        named.append((f"{prefix}/criterion/{metric_name(criterion)}/overall", stats["overall"]))
    for subset, stats in comparison.get("subsets", {}).items():
        named.append((f"{prefix}/subset/{metric_name(subset)}", stats["overall"]))
    now = int(time.time() * 1000)
    metrics = []
    for key, stats in named:
        if finite(stats["mean_diff"]) is None:
            continue
        low, high = finite_interval(stats["ci95"]) or (None, None)
        values = {
            "diff": stats["mean_diff"],
            "ci95_lo": low,
            "ci95_hi": high,
            "p_value": stats["p_value"],
        }
        metrics += [
            Metric(f"{key}/{name}", value, now, 0)
            for name, value in values.items()
            if finite(value) is not None
        ]
    speed = comparison.get("speed") or {}
    if finite(speed.get("speedup")) is not None:
        low, high = finite_interval(speed["ci95"]) or (None, None)
        # speedup_ci95_lo, not speedup/ci95_lo: a metric's name must not be another's folder
        # (MLflow's file store keeps each metric in a file named by it).
        values = {"speedup": speed["speedup"], "speedup_ci95_lo": low, "speedup_ci95_hi": high}
        metrics += [
            Metric(f"{prefix}/edit/{name}", value, now, 0)
            for name, value in values.items()
            if finite(value) is not None
        ]
    for start in range(0, len(metrics), _BATCH):
        client.log_batch(run_id, metrics=metrics[start : start + _BATCH])
    for path in files:
        client.log_artifact(run_id, str(path), artifact_path=prefix)


_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parents[1] / "results" / "templates"),
    autoescape=True,  # replies and instructions are untrusted text
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_TEMPLATES.filters.update(
    number=format_number,
    signed=format_signed,
    ci=format_ci,
    p=format_p,
    seconds=format_seconds,
    times=format_times,
    times_ci=format_times_ci,
)


def _html(comparison: Mapping[str, Any], run_a: str, run_b: str) -> str:
    summary = _summary(named_stats(comparison))
    criteria = [
        {
            **_summary([(name, stats["overall"])])[0],
            "categories": _summary(list(stats["categories"].items())),
        }
        for name, stats in (comparison.get("criteria") or {}).items()
    ]
    subsets = _summary(
        [(name, s["overall"]) for name, s in (comparison.get("subsets") or {}).items()]
    )
    paths = {path for m in comparison["top_movers"] for path in _mover_images(m).values() if path}
    pictures = {path: _picture(path) for path in paths}  # each image embedded once per page
    no_image = {"thumbnail": None, "note": "no image"}
    movers = [
        {**m, **{key: pictures.get(path, no_image) for key, path in _mover_images(m).items()}}
        for m in comparison["top_movers"]
    ]
    headline = comparison.get("headline", "mean_of_categories")
    return _TEMPLATES.get_template("compare.html.j2").render(
        run_a=run_a,
        run_b=run_b,
        comparison=comparison,
        protocol=comparison.get("protocol"),
        figure="pooled score" if headline == "pooled" else "mean score",
        overall_rule=OVERALL_RULES[headline],
        summary=summary,
        chart=_chart(summary, overall_last=True),
        criteria=criteria,
        criteria_chart=_chart(criteria, overall_last=False),
        subsets=subsets,
        speed_note=speed_note(comparison) if comparison.get("speed") else "",
        movers=movers,
        ok=OK,
    )


def _summary(rows: Sequence[tuple[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Named rows of statistics for the page, each with its trend; a value that is not a
    finite number is shown as missing."""
    entries = []
    for name, stats in rows:
        entry = {**stats, "name": name, "ci95": finite_interval(stats["ci95"])}
        for key in ("mean_a", "mean_b", "mean_diff", "p_value"):
            entry[key] = finite(stats[key])
        if entry["mean_diff"] is None:
            entry["ci95"] = None
        entry["trend"] = _trend(entry)
        entries.append(entry)
    return entries


def _mover_images(mover: Mapping[str, Any]) -> dict[str, str | None]:
    return {
        "source": mover["source_image"],
        "edit_a": mover["edited_image_a"],
        "edit_b": mover["edited_image_b"],
    }


def _picture(path: str) -> dict[str, str | None]:
    """A thumbnail data URI, or a note saying why there is none."""
    if not os.path.isfile(path):
        return {"thumbnail": None, "note": "not found"}
    return {"thumbnail": thumbnail_data_uri(path), "note": "unreadable"}


def _trend(stats: Mapping[str, Any]) -> str | None:
    """Whether the interval lies above 0 ("up"), below it ("down") or across it ("flat")."""
    if stats["ci95"] is None:
        return None
    low, high = stats["ci95"]
    return "up" if low > 0 else "down" if high < 0 else "flat"


def _chart(summary: Sequence[Mapping[str, Any]], overall_last: bool) -> dict[str, Any]:
    """Coordinates of a dot-and-whisker chart of the differences, on an axis centred on 0; a
    rule sets the last row apart where it is the overall one."""
    extent = max(
        (abs(v) for row in summary if row["ci95"] for v in (*row["ci95"], row["mean_diff"])),
        default=0.0,
    )
    span = next((span for span in _AXIS_SPANS if extent <= span), _AXIS_SPANS[-1])

    def x(value: float) -> float:
        clipped = min(max(value, -span), span)
        return round(_LABEL_WIDTH + (clipped + span) / (2 * span) * _PLOT_WIDTH, 1)

    dots = []
    for index, row in enumerate(summary):
        dot: dict[str, Any] = {
            "name": row["name"],
            "label": short_label(row["name"], _MAX_LABEL_CHARS),
            "y": (index + 0.5) * _ROW_HEIGHT,
            "diff": row["mean_diff"],
            "trend": row["trend"],
        }
        if row["ci95"] is not None:
            low, high = row["ci95"]
            dot.update(x=x(row["mean_diff"]), low=x(low), high=x(high))
        dots.append(dot)
    plot_height = len(dots) * _ROW_HEIGHT
    ticks = np.linspace(-span, span, 5)
    return {
        "width": _LABEL_WIDTH + _PLOT_WIDTH + 20,  # room for the last tick's label
        "height": plot_height + _AXIS_HEIGHT,
        "plot_left": _LABEL_WIDTH,
        "plot_height": plot_height,
        "overall_top": plot_height - _ROW_HEIGHT if overall_last else None,
        "zero": x(0.0),
        "ticks": [{"label": f"{v:+g}" if v else "0", "x": x(v)} for v in ticks],
        "dots": dots,
    }
