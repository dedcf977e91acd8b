"""A leaderboard as leaderboard.json, .md and .html, and as artifacts of an MLflow run.

leaderboard.html is self-contained like report.html: its thumbnails are embedded, nothing is
fetched from the network, and every text from the runs is escaped by Jinja's autoescape.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from editbench.leaderboard.board import Leaderboard
from editbench.leaderboard.gallery import ABSENT, gallery_rows
from editbench.leaderboard.tables import (
    COST_COLUMNS,
    DIFFERENT_SAMPLES,
    FIGURES,
    board_note,
    board_title,
    cost_columns,
    format_cost,
    format_interval,
    format_judged,
    format_markdown,
    format_number,
    format_ranks,
)
from editbench.records import OK

if TYPE_CHECKING:
    from mlflow import MlflowClient

FILES = ("leaderboard.json", "leaderboard.md", "leaderboard.html")

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parents[1] / "results" / "templates"),
    autoescape=True,  # labels, ids, instructions and errors are untrusted text
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_TEMPLATES.filters.update(
    number=format_number,
    interval=format_interval,
    ranks=format_ranks,
    judged=format_judged,
    cost=format_cost,
)


def write_leaderboard(out_dir: Path, leaderboard: Leaderboard) -> list[Path]:
    """Write leaderboard.json, leaderboard.md and leaderboard.html into ``out_dir``; returns
    them. The JSON holds no NaN (a value that is not finite was None before it got here)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, markdown_path, html_path = (out_dir / name for name in FILES)
    text = json.dumps(leaderboard.document, indent=2, ensure_ascii=False, allow_nan=False)
    json_path.write_text(text + "\n", encoding="utf-8")
    markdown_path.write_text(format_markdown(leaderboard.document), encoding="utf-8")
    html_path.write_text(_html(leaderboard, out_dir), encoding="utf-8")
    return [json_path, markdown_path, html_path]


def log_leaderboard(
    client: MlflowClient, run_id: str, files: list[Path], prefix: str = "leaderboard"
) -> None:
    """Log the files :func:`write_leaderboard` wrote to the MLflow run ``run_id``, under
    ``prefix``."""
    for path in files:
        client.log_artifact(run_id, str(path), artifact_path=prefix)


def _html(leaderboard: Leaderboard, out_dir: Path) -> str:
    document = leaderboard.document
    boards = []
    for index, (board, data) in enumerate(zip(leaderboard.boards, document["boards"], strict=True)):
        rows = gallery_rows(board, out_dir)
        statuses = {cell["status"] for row in rows for cell in row["cells"]}
        boards.append(
            {
                **data,
                "index": index,
                "title": board_title(data),
                "note": board_note(data, document["n_bootstrap"], document["seed"]),
                "figure": FIGURES[data["headline"]],
                "costs": {key: COST_COLUMNS[key] for key in cost_columns(data)},
                "gallery": rows,
                "statuses": sorted(statuses, key=lambda s: (s != OK, s == ABSENT, s)),
            }
        )
    return _TEMPLATES.get_template("leaderboard.html.j2").render(
        runs=document["runs"], boards=boards, ok=OK, different=DIFFERENT_SAMPLES
    )
