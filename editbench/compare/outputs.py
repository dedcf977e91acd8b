"""A comparison as text for the terminal, comparison.json, .md and .html, and MLflow metrics.

comparison.html is self-contained like report.html: thumbnails are embedded as data URIs and
nothing is fetched from the network.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import numpy as np

from editbench.results.thumbnails import thumbnail_data_uri

if TYPE_CHECKING:
    from mlflow import MlflowClient

FILES = ("comparison.json", "comparison.md", "comparison.html")

# Chart geometry, in SVG user units: a label column, then a symmetric axis around 0.
_LABEL_WIDTH = 180
_PLOT_WIDTH = 440
_ROW_HEIGHT = 26
_AXIS_HEIGHT = 24
# Half-widths the chart's axis can take: the smallest that holds every interval is used.
_AXIS_SPANS = (0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0)


def write_comparison(
    out_dir: Path, comparison: Mapping[str, Any], run_a: str, run_b: str
) -> list[Path]:
    """Write comparison.json, comparison.md and comparison.html into ``out_dir``; returns them.

    ``run_a`` and ``run_b`` say which runs were compared (a folder, an MLflow run).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, markdown_path, html_path = (out_dir / name for name in FILES)
    document = {"run_a": run_a, "run_b": run_b, **comparison}
    json_path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    markdown_path.write_text(format_markdown(comparison, run_a, run_b), encoding="utf-8")
    html_path.write_text(_html(comparison, run_a, run_b), encoding="utf-8")
    return [json_path, markdown_path, html_path]


def _rows(comparison: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The statistics of every category, then of overall, by name."""
    return {**comparison["categories"], "overall": comparison["overall"]}


def log_comparison(
    client: MlflowClient,
    run_id: str,
    comparison: Mapping[str, Any],
    files: Sequence[Path],
    prefix: str = "compare",
) -> None:
    """Log a comparison to the MLflow run ``run_id``.

    Metrics ``<prefix>/<category>/diff``, ``.../ci95_lo``, ``.../ci95_hi`` and ``.../p_value``
    for every category with shared samples and for ``overall``; ``files`` (what
    :func:`write_comparison` returned) as artifacts under ``<prefix>/``. A distinct ``prefix``
    per comparison keeps several on one run apart.
    """
    from mlflow.entities import Metric  # heavy import: only when something is logged

    now = int(time.time() * 1000)
    metrics = []
    for name, stats in _rows(comparison).items():
        if stats["mean_diff"] is None:
            continue
        values = {
            "diff": stats["mean_diff"],
            "ci95_lo": stats["ci95"][0],
            "ci95_hi": stats["ci95"][1],
            "p_value": stats["p_value"],
        }
        metrics += [Metric(f"{prefix}/{name}/{key}", v, now, 0) for key, v in values.items()]
    client.log_batch(run_id, metrics=metrics)
    for path in files:
        client.log_artifact(run_id, str(path), artifact_path=prefix)


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.2f}"


def _ci(ci95: Sequence[float] | None) -> str:
    return "–" if ci95 is None else f"[{ci95[0]:+.2f}, {ci95[1]:+.2f}]"


def _p(value: float | None) -> str:
    # The bootstrap cannot tell p values below about 2 / n_bootstrap apart.
    return "–" if value is None else "<0.001" if value < 0.001 else f"{value:.3f}"


@dataclass(frozen=True)
class _Table:
    """One table of a comparison, as formatted cells, for the terminal and for markdown."""

    title: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    text_columns: int  # the leading columns hold names, left-aligned; the rest hold numbers
    note: str = ""  # shown under the table


def _tables(comparison: Mapping[str, Any]) -> list[_Table]:
    """The summary, one row per category and one for overall, then the top movers if any."""
    summary = []
    for name, s in _rows(comparison).items():
        counts = (str(s["n_shared"]), str(s["only_a"]), str(s["only_b"]))
        means = (_number(s["mean_a"]), _number(s["mean_b"]), _signed(s["mean_diff"]))
        summary.append((name, *counts, *means, _ci(s["ci95"]), _p(s["p_value"])))
    header = ("category", "shared", "only A", "only B", "A", "B", "B - A", "95% CI", "p")
    note = (
        "Over the samples judged ok by both runs; 95% paired bootstrap intervals "
        f"({comparison['n_bootstrap']} resamples, seed {comparison['seed']}). "
        "Overall is the mean of the categories' differences."
    )
    tables = [_Table("Difference of mean scores, B - A", header, summary, 1, note)]
    if comparison["top_movers"]:
        movers = [
            (
                m["id"],
                m["category"],
                _number(m["score_a"]),
                _number(m["score_b"]),
                _signed(m["diff"]),
            )
            for m in comparison["top_movers"]
        ]
        header = ("sample", "category", "A", "B", "B - A")
        tables.append(_Table("Samples that moved most", header, movers, 2))
    return tables


def format_table(comparison: Mapping[str, Any]) -> str:
    """The summary and the top movers as aligned plain text, for the terminal."""
    lines: list[str] = []
    for table in _tables(comparison):
        lines += [f"{table.title}:", *_aligned(table)]
        lines += [table.note, ""] if table.note else [""]
    return "\n".join(lines).rstrip()


def _aligned(table: _Table) -> list[str]:
    """The header, a rule and the rows of ``table``, each column padded to its widest cell."""
    widths = [
        max(len(row[i]) for row in (table.header, *table.rows)) for i, _ in enumerate(table.header)
    ]

    def line(row: tuple[str, ...]) -> str:
        cells = (
            cell.ljust(width) if i < table.text_columns else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        return "  ".join(cells).rstrip()

    return [line(table.header), "  ".join("-" * width for width in widths), *map(line, table.rows)]


def format_markdown(comparison: Mapping[str, Any], run_a: str, run_b: str) -> str:
    """The summary and the top movers as a markdown document."""
    lines = ["# Comparison", "", f"- A: {run_a}", f"- B: {run_b}"]
    for table in _tables(comparison):
        alignment = tuple(
            ":--" if i < table.text_columns else "--:" for i in range(len(table.header))
        )
        lines += ["", f"## {table.title}", ""]
        for row in (table.header, alignment, *table.rows):
            # A pipe in a cell (a sample id, say) would otherwise end the cell early.
            lines.append("| " + " | ".join(cell.replace("|", r"\|") for cell in row) + " |")
        if table.note:
            lines += ["", table.note]
    return "\n".join(lines) + "\n"


_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parents[1] / "results" / "templates"),
    autoescape=True,  # replies and instructions are untrusted text
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_TEMPLATES.filters.update(number=_number, signed=_signed, ci=_ci, p=_p)


def _html(comparison: Mapping[str, Any], run_a: str, run_b: str) -> str:
    summary = [
        {"name": name, **stats, "trend": _trend(stats)} for name, stats in _rows(comparison).items()
    ]
    paths = {path for m in comparison["top_movers"] for path in _mover_images(m).values() if path}
    pictures = {path: _picture(path) for path in paths}  # each image embedded once per page
    no_image = {"thumbnail": None, "note": "no image"}
    movers = [
        {**m, **{key: pictures.get(path, no_image) for key, path in _mover_images(m).items()}}
        for m in comparison["top_movers"]
    ]
    return _TEMPLATES.get_template("compare.html.j2").render(
        run_a=run_a,
        run_b=run_b,
        comparison=comparison,
        summary=summary,
        chart=_chart(summary),
        movers=movers,
    )


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


def _chart(summary: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Coordinates of a dot-and-whisker chart of the differences, on an axis centred on 0."""
    extent = max(
        (abs(v) for row in summary if row["ci95"] for v in (*row["ci95"], row["mean_diff"])),
        default=0.0,
    )
    span = next((span for span in _AXIS_SPANS if extent <= span), _AXIS_SPANS[-1])

    def x(value: float) -> float:
        return round(_LABEL_WIDTH + (value + span) / (2 * span) * _PLOT_WIDTH, 1)

    dots = []
    for index, row in enumerate(summary):
        dot: dict[str, Any] = {"name": row["name"], "y": (index + 0.5) * _ROW_HEIGHT}
        dot["diff"], dot["trend"] = row["mean_diff"], row["trend"]
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
        "overall_top": plot_height - _ROW_HEIGHT,  # a rule sets the overall row apart
        "zero": x(0.0),
        "ticks": [{"label": f"{v:+g}" if v else "0", "x": x(v)} for v in ticks],
        "dots": dots,
    }
