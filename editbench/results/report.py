"""The run's report.html: one self-contained page that opens from disk, offline.

A summary table per category and overall, a chart of per-category means with their 95%
intervals, and a gallery of every sample (source | edit | score | status | judge reply) that
the page's own script filters by category and status and sorts by score or id.

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

from editbench.records import OK
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

# Chart geometry, in SVG user units: a label column, a 0..10 axis, then a value column.
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
_TEMPLATES.filters["number"] = lambda value: "–" if value is None else f"{value:.2f}"
_TEMPLATES.filters["percent"] = lambda value: "–" if value is None else f"{100 * value:.1f}%"


@dataclass(frozen=True)
class Picture:
    """One image cell of the gallery: an embedded image, or a note saying why there is none."""

    src: str | None  # data URI: the file itself when small, else a JPEG thumbnail
    link: str | None  # URL of the full-size file relative to the report, when not embedded
    size: tuple[int, int] | None  # full size in pixels
    note: str  # shown in place of the image when there is none


def write_report(
    path: Path,
    rows: Sequence[Mapping[str, Any]],
    results: Mapping[str, Any],
    title: str,
    details: Mapping[str, str],
) -> None:
    """Write the HTML report of a run to ``path`` (the file itself, e.g. ``run/report.html``).

    ``rows`` are the samples.jsonl records, ``results`` the output of
    :func:`editbench.results.aggregate.aggregate` over them (category entries may also carry
    ``criteria``, ``judge_spread_mean`` and ``judge_variance_share``, shown when present), and
    ``details`` the run's description (editor, judge, prompt versions, dataset, time), shown
    as given: it must hold no secret.
    """
    path = Path(path)
    paths = [row[key] for row in rows for key in ("source_image", "edited_image")]
    pictures = _pictures([p for p in paths if p is not None], path.parent.resolve())
    no_edit = Picture(src=None, link=None, size=None, note="no edit")
    samples = [
        {
            "id": row["id"],
            "category": row["category"],
            "instruction": row["instruction"],
            "status": row["status"],
            "score": row["score"],
            "reply": row.get("reply"),
            "error": row.get("error"),
            "entropy": row.get("entropy"),
            "criteria": row.get("criteria") or {},
            "judge_samples": row.get("samples") or [],
            "spread": row.get("spread"),
            "source": pictures[row["source_image"]],
            "edit": pictures[row["edited_image"]] if row["edited_image"] is not None else no_edit,
        }
        for row in rows
    ]

    categories = results["categories"]
    failure_statuses = sorted({status for c in categories.values() for status in c["failures"]})
    html = _TEMPLATES.get_template("report.html.j2").render(
        title=title,
        details=details,
        categories=categories,
        overall=results["overall"],
        failure_statuses=failure_statuses,
        failure_totals={
            s: sum(c["failures"].get(s, 0) for c in categories.values()) for s in failure_statuses
        },
        has_spread=any(
            c.get(key) is not None
            for c in categories.values()
            for key in ("judge_spread_mean", "judge_variance_share")
        ),
        criteria=_criteria_table(categories, results["overall"]),
        chart=_chart(categories, results["overall"]),
        samples=samples,
        sample_categories=list(dict.fromkeys(sample["category"] for sample in samples)),
        sample_statuses=sorted({s["status"] for s in samples}, key=lambda s: (s != OK, s)),
        ok=OK,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    logger.info("Wrote report of %d samples to %s", len(rows), path)


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


def _criteria_table(
    categories: Mapping[str, Mapping[str, Any]], overall: Mapping[str, Any]
) -> dict[str, Any]:
    """Per-criterion means by category and overall, for the rubric table; empty when no rubric
    ran. A category's ``criteria`` summarise each criterion (``mean``, ``ci95``, ...); the
    overall ``criteria`` are bare means (of the category means)."""
    rows = {
        name: {c: {"mean": s["mean"], "ci95": s["ci95"]} for c, s in summary["criteria"].items()}
        for name, summary in categories.items()
        if summary.get("criteria")
    }
    if overall.get("criteria"):
        rows["overall"] = {c: {"mean": m, "ci95": None} for c, m in overall["criteria"].items()}
    names = list(dict.fromkeys(criterion for cells in rows.values() for criterion in cells))
    return {"names": names, "rows": rows}


def _chart(
    categories: Mapping[str, Mapping[str, Any]], overall: Mapping[str, Any]
) -> dict[str, Any]:
    """Coordinates of a horizontal bar chart of the category means and the overall mean (the
    mean of category means), each with its 95% interval."""

    def length(score: float) -> float:
        return round(score / 10 * _PLOT_WIDTH, 1)

    def x(score: float) -> float:
        return _LABEL_WIDTH + length(score)

    entries = [
        (name, summary["mean"], summary["ci95"], f"{summary['judged']}/{summary['n']}")
        for name, summary in categories.items()
    ]
    entries.append(
        (
            "overall",
            overall["mean_of_categories"],
            overall["ci95_mean_of_categories"],
            f"{overall['judged']}/{overall['n']}",
        )
    )
    bars = []
    for index, (name, mean, ci95, counts) in enumerate(entries):
        middle = (index + 0.5) * _ROW_HEIGHT
        label = name if len(name) <= _MAX_LABEL_CHARS else name[: _MAX_LABEL_CHARS - 1] + "…"
        bar: dict[str, Any] = {
            "name": name,
            "label": label,
            "y": middle,
            "mean": mean,
            "counts": counts,
        }
        if mean is not None:
            bar.update(top=middle - _ROW_HEIGHT * 0.3, height=_ROW_HEIGHT * 0.6, width=length(mean))
        if ci95 is not None:
            bar.update(low=x(ci95[0]), high=x(ci95[1]))
        bars.append(bar)
    plot_height = len(bars) * _ROW_HEIGHT
    return {
        "width": _LABEL_WIDTH + _PLOT_WIDTH + _VALUE_WIDTH,
        "height": plot_height + _AXIS_HEIGHT,
        "plot_left": _LABEL_WIDTH,
        "plot_right": _LABEL_WIDTH + _PLOT_WIDTH,
        "plot_height": plot_height,
        "overall_top": plot_height - _ROW_HEIGHT,  # a rule sets the overall bar apart
        "ticks": [{"value": value, "x": x(value)} for value in range(0, 11, 2)],
        "bars": bars,
    }
