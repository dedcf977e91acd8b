"""The run's report.html: one self-contained page that opens from disk, offline.

Summary tables, a chart of per-category means and a gallery (source | edit | score | reply) by
category. Thumbnails are embedded as base64 JPEG so the page survives being copied elsewhere;
links to the full-size images are relative to the report's folder and are only added for
files that exist.
"""

from __future__ import annotations

import base64
import io
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

logger = logging.getLogger(__name__)

THUMBNAIL_SIZE = 256  # longest side of an embedded thumbnail, in pixels
_JPEG_QUALITY = 80

# Chart geometry, in SVG user units: a label column, then a 0..10 axis.
_LABEL_WIDTH = 180
_PLOT_WIDTH = 440
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
    """One image cell of the gallery: a thumbnail, or a note saying why there is none."""

    thumbnail: str | None  # data URI
    link: str | None  # URL of the full-size file, relative to the report's folder
    note: str  # shown in place of the thumbnail when there is none


def write_report(
    path: Path,
    rows: Sequence[Mapping[str, Any]],
    results: Mapping[str, Any],
    title: str,
    details: Mapping[str, str],
) -> None:
    """Write the HTML report of a run to ``path`` (the file itself, e.g. ``run/report.html``).

    ``rows`` are the samples.jsonl records, ``results`` the output of
    :func:`editbench.aggregate.aggregate` over them, and ``details`` the run's description
    (editor, judge, prompt versions, dataset, time), shown as given: it must hold no secret.
    """
    path = Path(path)
    folder = path.parent.resolve()
    paths = [row[key] for row in rows for key in ("source_image", "edited_image")]
    pictures = _pictures([p for p in paths if p is not None], folder)
    no_edit = Picture(thumbnail=None, link=None, note="no edit")

    categories = results["categories"]
    gallery: dict[str, list[dict[str, Any]]] = {name: [] for name in categories}
    for row in rows:
        edited = row["edited_image"]
        gallery.setdefault(row["category"], []).append(
            {
                **row,
                "source": pictures[row["source_image"]],
                "edit": pictures[edited] if edited is not None else no_edit,
            }
        )

    statuses = sorted({status for c in categories.values() for status in c["failures"]})
    html = _TEMPLATES.get_template("report.html.j2").render(
        title=title,
        details=details,
        categories=categories,
        overall=results["overall"],
        failure_statuses=statuses,
        failure_totals={
            s: sum(c["failures"].get(s, 0) for c in categories.values()) for s in statuses
        },
        chart=_chart(categories),
        gallery=gallery,
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
    """The thumbnail of the image at ``path`` and its link relative to ``folder``."""
    if not os.path.isfile(path):
        logger.warning("Report: image %s does not exist", path)
        return Picture(thumbnail=None, link=None, note="not found")
    return Picture(thumbnail=_thumbnail(path), link=_link(path, folder), note="unreadable")


def _thumbnail(path: str) -> str | None:
    """A JPEG data URI of the image at ``path`` shrunk to THUMBNAIL_SIZE, or None if unreadable."""
    try:
        with Image.open(path) as image:
            # A JPEG is decoded at 1/2..1/8 scale straight away, much faster than in full.
            image.draft("RGB", (THUMBNAIL_SIZE, THUMBNAIL_SIZE))
            thumbnail = image.convert("RGB")
    except OSError as error:
        logger.warning("Report: cannot read image %s: %s", path, error)
        return None
    thumbnail.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    buffer = io.BytesIO()
    thumbnail.save(buffer, format="JPEG", quality=_JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _link(path: str, folder: Path) -> str | None:
    """The URL of ``path`` relative to ``folder``, or None where it has none."""
    try:
        relative = os.path.relpath(path, folder)
    except ValueError:  # on Windows, a path on another drive has no relative form
        return None
    return quote(Path(relative).as_posix())


def _chart(categories: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Coordinates of a horizontal bar chart of category means with their 95% intervals."""

    def length(score: float) -> float:
        return round(score / 10 * _PLOT_WIDTH, 1)

    def x(score: float) -> float:
        return _LABEL_WIDTH + length(score)

    bars = []
    for index, (name, summary) in enumerate(categories.items()):
        middle = (index + 0.5) * _ROW_HEIGHT
        label = name if len(name) <= _MAX_LABEL_CHARS else name[: _MAX_LABEL_CHARS - 1] + "…"
        bar: dict[str, Any] = {"name": name, "label": label, "y": middle, "mean": None}
        if summary["mean"] is not None:
            low, high = summary["ci95"]
            bar.update(
                mean=summary["mean"],
                top=middle - _ROW_HEIGHT * 0.3,
                height=_ROW_HEIGHT * 0.6,
                width=length(summary["mean"]),
                low=x(low),
                high=x(high),
            )
        bars.append(bar)
    plot_height = len(bars) * _ROW_HEIGHT
    return {
        "width": _LABEL_WIDTH + _PLOT_WIDTH + 20,  # room for the "10" past the axis' end
        "height": plot_height + _AXIS_HEIGHT,
        "plot_left": _LABEL_WIDTH,
        "plot_height": plot_height,
        "ticks": [{"value": value, "x": x(value)} for value in range(0, 11, 2)],
        "bars": bars,
    }
