"""An agreement report as agreement.json, agreement.md and agreement.html, and as a few lines
for the terminal.

The JSON holds no NaN or infinity (``allow_nan=False``): an undefined figure is null with its
reason. agreement.html is self-contained like report.html: no script, nothing fetched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from editbench.agreement.tables import Section, figure, sections
from editbench.compare.escaping import markdown_text, terminal_text
from editbench.compare.tables import escaped, format_number

FILES = ("agreement.json", "agreement.md", "agreement.html")

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parents[1] / "results" / "templates"),
    autoescape=True,  # sample ids, categories and file names are untrusted text
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def write_agreement(out_dir: Path, document: Mapping[str, Any]) -> list[Path]:
    """Write the three files into ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, markdown_path, html_path = (out_dir / name for name in FILES)
    json_path.write_text(
        json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n",
        encoding="utf-8",
    )
    report = sections(document)
    markdown_path.write_text(format_markdown(report), encoding="utf-8")
    html = _TEMPLATES.get_template("agreement.html.j2").render(sections=report)
    html_path.write_text(html, encoding="utf-8")
    return [json_path, markdown_path, html_path]


def format_markdown(report: list[Section]) -> str:
    lines = ["# Agreement"]
    for section in report:
        lines += ["", f"## {markdown_text(section.title)}"]
        for line in section.lines:
            lines += ["", markdown_text(line)]
        for table in section.tables:
            table = escaped(table, markdown_text)
            alignment = tuple(
                ":--" if i < table.text_columns or name == "note" else "--:"
                for i, name in enumerate(table.header)
            )
            lines += ["", f"### {table.title}", ""]
            lines += ["| " + " | ".join(row) + " |" for row in (table.header, alignment)]
            lines += ["| " + " | ".join(row) + " |" for row in table.rows]
            if table.note:
                lines += ["", table.note]
    return "\n".join(lines) + "\n"


def format_summary(document: Mapping[str, Any]) -> str:
    """The overall figures, one line each, for the terminal."""
    lines = []
    for run in document["runs"]:
        human = run.get("human")
        if human is not None and "overall" in human:
            cell = human["overall"]
            ceiling = cell["ceiling"]
            lines.append(
                f"{run['label']}: judge vs people over {cell['n']} samples: "
                f"Spearman {figure(cell['spearman'], cell['spearman_ci95'])}, "
                f"Kendall {figure(cell['kendall'], cell['kendall_ci95'])}, "
                f"pairwise accuracy "
                f"{figure(cell['pairwise_accuracy'], cell['pairwise_accuracy_ci95'])}; "
                f"raters' alpha {format_number(ceiling['alpha'])}, one vs rest "
                f"{format_number(ceiling['leave_one_out_spearman'])}"
                + (f" ({cell['reason']})" if cell["reason"] else "")
            )
        lines.append(f"{run['label']}: MLflow: {run['mlflow']['note']}")
    judges = document.get("judges")
    if judges is not None:
        cell = judges["overall"]
        lines.append(
            f"judges vs each other over {cell['n']} samples: alpha "
            f"{format_number(cell['alpha'])}, mean Spearman {format_number(cell['mean_spearman'])}"
            + (f" ({cell['reason']})" if cell["reason"] else "")
        )
    return "\n".join(terminal_text(line) for line in lines)
