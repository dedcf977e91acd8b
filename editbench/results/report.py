"""The run's report.html: one self-contained page that opens from disk, offline.

At the top, the protocol and the figure its benchmark publishes (mean of category means, mean
over samples, or pooled) with its 95% interval and coverage; then a summary table per category
and overall, a table of the criteria (VIEScore's SC and PQ and their parts, ...), a chart of
the category figures with their intervals, a section per subset the benchmark publishes, what
the results cost (device-seconds, and an API judge's tokens and money), and a
gallery of every sample (inputs | edit and reference | score | status | judge reply, each judge
call's verdict where the protocol makes several) that the page's own script filters by category
and status and sorts by score or id. A reply or an error is shown up to a few thousand
characters, with how many more samples.jsonl holds: a runaway judge must not make a page that
no browser opens.

Every row is rendered here, server-side; the script only toggles ``hidden`` and reorders
nodes, and rows off screen are neither laid out nor painted (CSS ``content-visibility``), so a
page of a thousand samples opens and filters without freezing. Images are embedded so that
the page survives being copied elsewhere: a file of a few kilobytes as it is (exact pixels at
no more cost than a thumbnail), a larger one as a small JPEG thumbnail whose full-size view
loads the file through a link relative to the report's folder.
"""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from PIL import Image

from editbench.records import EDIT_ERROR, OK
from editbench.results.chart import (
    chart_figures,
    finite,
    finite_interval,
    headline_kind,
    score_axis,
    short_label,
)
from editbench.results.thumbnails import thumbnail_data_uri

logger = logging.getLogger(__name__)

# Longest side of a gallery thumbnail, in pixels: sharp in the gallery's 160-pixel boxes, and
# about 7 KB as JPEG, so a thousand samples (two images each) weigh some 20 MB.
GALLERY_THUMBNAIL_SIZE = 192
# An image file this small is embedded as it is rather than as a thumbnail, so its full-size
# view needs no file next to the report. Its side is bounded too: a browser holds a decoded
# image in memory at full size however small the file.
EMBED_MAX_BYTES = 24 * 1024
EMBED_MAX_SIDE = 1024
_BROWSER_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
# A judge reply is shown up to this many characters: whole at the reply budgets the presets use
# (512 tokens by default, KRIS-Bench's published 1000: some 2,000 and 4,000 characters), while
# a thousand runaway replies, cut here, add at most a few megabytes to the page. The rest
# stays in samples.jsonl.
REPLY_EXCERPT_CHARS = 5_000
# An error is a sentence; one longer than this carries a dump (a server's whole error page).
ERROR_EXCERPT_CHARS = 1_000

# Chart geometry, in SVG user units: a label column, the score axis, then a value column.
_LABEL_WIDTH = 180
_PLOT_WIDTH = 440
_VALUE_WIDTH = 110
_ROW_HEIGHT = 26
_AXIS_HEIGHT = 24
_MAX_LABEL_CHARS = 24

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,  # replies and instructions are untrusted text
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_TEMPLATES.filters["number"] = lambda value: "–" if finite(value) is None else f"{value:.2f}"
_TEMPLATES.filters["percent"] = lambda value: (
    "–" if finite(value) is None else f"{100 * value:.1f}%"
)
_TEMPLATES.filters["whole"] = lambda value: "–" if finite(value) is None else f"{value:,.0f}"


def _amount(value: Any) -> str:
    """A cost at the precision it needs: a run of a few API judgements costs fractions of a
    cent, a large one thousands."""
    number = finite(value)
    if number is None:
        return "–"
    return f"{number:,.0f}" if abs(number) >= 100 else f"{number:.3g}"


_TEMPLATES.filters["amount"] = _amount


@dataclass(frozen=True)
class Picture:
    """One image cell of the gallery: an embedded image, or a note saying why there is none."""

    src: str | None  # data URI: the file itself when small, else a JPEG thumbnail
    link: str | None  # URL of the full-size file relative to the report, when not embedded
    size: tuple[int, int] | None  # full size in pixels
    note: str  # shown in place of the image when there is none


_NO_EDIT = Picture(src=None, link=None, size=None, note="no edit")
_EDIT_FAILED = Picture(src=None, link=None, size=None, note="edit failed: no image")
_NO_IMAGE = Picture(src=None, link=None, size=None, note="no image")


def write_report(
    path: Path,
    rows: Sequence[Mapping[str, Any]],
    results: Mapping[str, Any],
    title: str,
    details: Mapping[str, str],
) -> None:
    """Write the HTML report of a run to ``path`` (the file itself, e.g. ``run/report.html``).

    ``rows`` are the samples.jsonl records, ``results`` what results.json holds
    (:func:`editbench.results.aggregate.benchmark_results` over the rows, with ``protocol``
    where the run says which; ``criteria``, ``pooled``, ``subsets``, ``judge_spread_mean``,
    ``judge_variance_share`` and ``cost`` are shown when present), and ``details`` the run's
    description (editor, judge, prompt versions, dataset, time), shown as given: it must hold
    no secret.
    Names (categories, criteria, calls, subsets) may hold any character: every value is
    escaped, and a number that is not finite is shown as a dash, like a missing one.
    """
    path = Path(path)
    paths = [image for row in rows for image in _row_images(row) if image is not None]
    pictures = _pictures(paths, path.parent.resolve())
    samples = [_sample(row, pictures) for row in rows]

    categories = results["categories"]
    overall = results["overall"]
    failure_statuses = sorted({status for c in categories.values() for status in c["failures"]})
    html = _TEMPLATES.get_template("report.html.j2").render(
        title=title,
        details=details,
        protocol=results.get("protocol"),
        headline=_headline(results),
        overall_figures=_overall_figures(results),
        categories=categories,
        overall=overall,
        has_pooled=any("pooled" in c for c in categories.values()),
        failure_statuses=failure_statuses,
        failure_totals={
            s: sum(c["failures"].get(s, 0) for c in categories.values()) for s in failure_statuses
        },
        has_spread=any(
            c.get(key) is not None
            for c in categories.values()
            for key in ("judge_spread_mean", "judge_variance_share")
        ),
        criteria=_criteria_table(results),
        chart=_chart(results),
        subsets=_subsets(results),
        cost=results.get("cost"),
        samples=samples,
        sample_categories=list(dict.fromkeys(sample["category"] for sample in samples)),
        sample_statuses=sorted({s["status"] for s in samples}, key=lambda s: (s != OK, s)),
        ok=OK,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    logger.info("Wrote report of %d samples to %s", len(rows), path)


def _inputs(row: Mapping[str, Any]) -> list[str | None]:
    """A row's input images: ``source_images`` where the sample has several."""
    return row.get("source_images") or [row.get("source_image")]


def _row_images(row: Mapping[str, Any]) -> list[str | None]:
    """Every image a row shows: its inputs, its edit and its reference. A failed edit has no
    image, whatever path the row names (a damaged file would embed as a broken image)."""
    edited = None if row["status"] == EDIT_ERROR else row.get("edited_image")
    return [*_inputs(row), edited, row.get("reference_image")]


def _edit_picture(row: Mapping[str, Any], pictures: Mapping[str, Picture]) -> Picture:
    if row["status"] == EDIT_ERROR:
        return _EDIT_FAILED
    return pictures[row["edited_image"]] if row.get("edited_image") else _NO_EDIT


def excerpt(text: str | None, limit: int) -> str | None:
    """``text`` cut to its first ``limit`` characters, followed by a line saying how many more
    samples.jsonl holds; a shorter text, or None, as it is."""
    if text is None or len(text) <= limit:
        return text
    return f"{text[:limit]}\n… {len(text) - limit:,} more characters in samples.jsonl"


def _sample(row: Mapping[str, Any], pictures: Mapping[str, Picture]) -> dict[str, Any]:
    """What the gallery shows of one row; numbers that are not finite become None."""
    calls = row.get("calls") or {}
    # Each call shows its own criteria; the score column keeps what no call shows (RISEBench's
    # accuracy, say) and, with a single call, every criterion.
    by_calls = {name for call in calls.values() for name in call.get("criteria") or {}}
    criteria = {
        name: value
        for name, value in _finite_values(row.get("criteria")).items()
        if name not in by_calls and name not in calls
    }
    return {
        "id": row["id"],
        "category": row["category"],
        "instruction": row["instruction"],
        "status": row["status"],
        "score": finite(row["score"]),
        "reply": excerpt(row.get("reply"), REPLY_EXCERPT_CHARS),
        "error": excerpt(row.get("error"), ERROR_EXCERPT_CHARS),
        "entropy": finite(row.get("entropy")),
        "criteria": criteria,
        "judge_samples": [finite(value) for value in row.get("samples") or []],
        "spread": finite(row.get("spread")),
        "inputs": [pictures[image] if image else _NO_IMAGE for image in _inputs(row)],
        "edit": _edit_picture(row, pictures),
        "reference": pictures[row["reference_image"]] if row.get("reference_image") else None,
        # A protocol of several judge calls: each call's own verdict.
        "calls": [
            {
                "name": name,
                "status": call.get("status"),
                "score": finite(call.get("score")),
                "criteria": _finite_values(call.get("criteria")),
                "reply": excerpt(call.get("reply"), REPLY_EXCERPT_CHARS),
                "error": excerpt(call.get("error"), ERROR_EXCERPT_CHARS),
            }
            for name, call in calls.items()
        ],
    }


def _finite_values(values: Mapping[str, Any] | None) -> dict[str, float | None]:
    return {name: finite(value) for name, value in (values or {}).items()}


def _pictures(paths: Sequence[str], folder: Path) -> dict[str, Picture]:
    """The picture of every distinct image path, made in parallel.

    Threads are enough: PIL releases the GIL while it decodes, resizes and encodes.
    """
    unique = list(dict.fromkeys(paths))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        pictures = pool.map(lambda image: _picture(image, folder), unique)
    return dict(zip(unique, pictures, strict=True))


def _picture(path: str, folder: Path) -> Picture:
    """The gallery picture of the image at ``path``, with its link relative to ``folder``."""
    try:
        with Image.open(path) as image:
            size, mime = image.size, _BROWSER_FORMATS.get(image.format or "")
    except FileNotFoundError:
        logger.warning("Report: image %s does not exist", path)
        return Picture(src=None, link=None, size=None, note="not found")
    except OSError as error:
        logger.warning("Report: cannot read image %s: %s", path, error)
        return Picture(src=None, link=None, size=None, note="unreadable")
    if mime and max(size) <= EMBED_MAX_SIDE and os.path.getsize(path) <= EMBED_MAX_BYTES:
        data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        return Picture(src=f"data:{mime};base64,{data}", link=None, size=size, note="")
    thumbnail = thumbnail_data_uri(path, GALLERY_THUMBNAIL_SIZE)
    if thumbnail is None:  # the header was readable but the pixels are not (a truncated file)
        return Picture(src=None, link=None, size=None, note="unreadable")
    return Picture(src=thumbnail, link=_link(path, folder), size=size, note="")


def _link(path: str, folder: Path) -> str | None:
    """The URL of ``path`` relative to ``folder``, or None where it has none."""
    try:
        relative = os.path.relpath(path, folder)
    except ValueError:  # on Windows, a path on another drive has no relative form
        return None
    return quote(Path(relative).as_posix())


# The overall figures a benchmark may publish, as the report names them.
_FIGURES = {
    "mean_of_categories": "mean of category means",
    "sample_mean": "mean over samples",
    "pooled": "pooled mean of every criterion value",
}


def _headline(results: Mapping[str, Any]) -> dict[str, Any]:
    """The figure the benchmark publishes, with its interval and coverage."""
    overall, kind = results["overall"], headline_kind(results)
    return {
        "kind": kind,
        "label": _FIGURES.get(kind, kind),
        "value": finite(overall.get("headline", overall.get(kind))),
        "ci95": finite_interval(overall.get("ci95_headline", overall.get(f"ci95_{kind}"))),
        "n": overall["n"],
        "judged": overall["judged"],
        "coverage": overall["coverage"],
    }


def _overall_figures(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every overall figure results.json holds, the published one marked."""
    overall, kind = results["overall"], headline_kind(results)
    return [
        {
            "label": label,
            "value": finite(overall[name]),
            "ci95": finite_interval(overall.get(f"ci95_{name}")),
            "published": name == kind,
        }
        for name, label in _FIGURES.items()
        if name in overall
    ]


def _criteria_table(results: Mapping[str, Any]) -> dict[str, Any]:
    """Per-criterion means by category and overall, for the criteria table; no columns when no
    row carries criteria. The first column is the sample's score (VIEScore's O), unless the
    protocol reports its score as one of the criteria (RISEBench's accuracy). A category's
    ``criteria`` summarise each criterion (``mean``, ``ci95``, ``judged``); the overall
    ``criteria`` are bare means, of the category means."""
    categories, overall = results["categories"], results["overall"]
    names = list(
        dict.fromkeys(c for summary in categories.values() for c in summary.get("criteria") or {})
    )
    names += [c for c in overall.get("criteria") or {} if c not in names]
    if not names:
        return {"names": [], "score": None, "rows": []}
    score = str((results.get("protocol") or {}).get("score") or "")
    score_column = None if score in names else {"label": "score", "rule": score}
    rows = []
    for name, summary in categories.items():
        cells = {
            criterion: _cell(stats.get("mean"), stats.get("ci95"), stats.get("judged"))
            for criterion, stats in (summary.get("criteria") or {}).items()
        }
        score_cell = _cell(summary["mean"], summary["ci95"], summary["judged"])
        rows.append({"name": name, "overall": False, "score": score_cell, "cells": cells})
    rows.append(
        {
            "name": "overall",
            "overall": True,
            "score": _cell(
                overall.get("mean_of_categories"), overall.get("ci95_mean_of_categories")
            ),
            "cells": {c: _cell(m) for c, m in (overall.get("criteria") or {}).items()},
        }
    )
    return {"names": names, "score": score_column, "rows": rows}


def _cell(mean: Any, ci95: Any = None, judged: int | None = None) -> dict[str, Any]:
    return {"mean": finite(mean), "ci95": finite_interval(ci95), "judged": judged}


def _subsets(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each subset's overall figure (the benchmark's headline over its samples), coverage,
    criteria table and categories, in the order results.json lists them."""
    entries = []
    for index, (name, subset) in enumerate((results.get("subsets") or {}).items()):
        scoped = {**subset, "protocol": results.get("protocol")}
        entries.append(
            {
                "name": name,
                "anchor": f"subset-{index}",
                "headline": _headline(scoped),
                "criteria": _criteria_table(scoped),
                "categories": subset["categories"],
                "has_pooled": any("pooled" in c for c in subset["categories"].values()),
            }
        )
    return entries


def _chart(results: Mapping[str, Any]) -> dict[str, Any]:
    """Coordinates of a horizontal bar chart of the categories' figures and the overall one
    (:func:`~editbench.results.chart.chart_figures`), each with its 95% interval, on the run's
    score axis."""
    low, high = score_axis(results)

    def length(score: float) -> float:
        clipped = min(max(score, low), high)  # an interval may reach past the scale's ends
        return round((clipped - low) / (high - low) * _PLOT_WIDTH, 1)

    def x(score: float) -> float:
        return _LABEL_WIDTH + length(score)

    bars = []
    for index, entry in enumerate(chart_figures(results)):
        middle = (index + 0.5) * _ROW_HEIGHT
        bar: dict[str, Any] = {
            "name": entry["name"],
            "label": short_label(entry["name"], _MAX_LABEL_CHARS),
            "y": middle,
            "mean": entry["value"],
            "counts": f"{entry['judged']}/{entry['n']}",
        }
        if entry["value"] is not None:
            bar.update(
                top=middle - _ROW_HEIGHT * 0.3,
                height=_ROW_HEIGHT * 0.6,
                width=length(entry["value"]),
            )
        if entry["ci95"] is not None:
            bar.update(low=x(entry["ci95"][0]), high=x(entry["ci95"][1]))
        bars.append(bar)
    plot_height = len(bars) * _ROW_HEIGHT
    ticks = [low + (high - low) * step / 5 for step in range(6)]
    return {
        "width": _LABEL_WIDTH + _PLOT_WIDTH + _VALUE_WIDTH,
        "height": plot_height + _AXIS_HEIGHT,
        "plot_left": _LABEL_WIDTH,
        "plot_right": _LABEL_WIDTH + _PLOT_WIDTH,
        "plot_height": plot_height,
        "overall_top": plot_height - _ROW_HEIGHT,  # a rule sets the overall bar apart
        "ticks": [{"value": f"{value:g}", "x": x(value)} for value in ticks],
        "bars": bars,
        "figure": "pooled score" if headline_kind(results) == "pooled" else "mean score",
        "axis": f"{low:g} to {high:g}",
    }
