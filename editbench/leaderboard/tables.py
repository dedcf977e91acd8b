"""The leaderboard as tables of formatted cells: aligned plain text for the terminal, and a
Markdown document. Labels, categories and run names come from the runs, so every cell goes
through the output's escaping function (:mod:`editbench.compare.escaping`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from editbench.compare.escaping import markdown_text, terminal_text
from editbench.compare.tables import Table, aligned, escaped
from editbench.results.chart import finite, finite_interval

# What each headline is called in the outputs.
FIGURES = {
    "mean_of_categories": "mean of category means",
    "sample_mean": "mean over samples",
    "pooled": "pooled mean",
}
DIFFERENT_SAMPLES = "†"  # marks an entry that did not judge every sample another one did
# The cost figures' column names, by their keys in an entry's ``cost``.
MONEY = "judge_money_per_1000"
COST_COLUMNS = {
    "edit_device_s_per_sample": "edit device-s/sample",
    MONEY: "judge cost/1000 samples",
}


def format_number(value: float | None) -> str:
    return "–" if finite(value) is None else f"{value:.2f}"


def format_interval(ci95: Sequence[float] | None) -> str:
    ci95 = finite_interval(ci95)
    return "–" if ci95 is None else f"[{ci95[0]:.2f}, {ci95[1]:.2f}]"


def format_ranks(interval: Sequence[int] | None) -> str:
    return "–" if interval is None else f"[{interval[0]}, {interval[1]}]"


def format_place(stats: Mapping[str, Any], figure: str) -> str:
    """A category cell: the figure, the rank and its interval (``7.25 #1 [1, 2]``)."""
    if stats["rank"] is None:
        return format_number(stats[figure])
    return f"{format_number(stats[figure])} #{stats['rank']} {format_ranks(stats['rank_ci95'])}"


def format_judged(entry: Mapping[str, Any]) -> str:
    coverage = entry["coverage"]
    share = "" if coverage is None else f" ({100 * coverage:.0f}%)"
    return f"{entry['judged']}/{entry['n']}{share}"


def format_cost(cost: Mapping[str, Any] | None, key: str) -> str:
    """One of an entry's cost figures (three significant digits), money in its currency."""
    value = (cost or {}).get(key)
    if finite(value) is None:
        return "–"
    currency = (cost or {}).get("currency") if key == MONEY else None
    return f"{value:.3g} {currency}" if currency else f"{value:.3g}"


def cost_columns(board: Mapping[str, Any]) -> list[str]:
    """The cost figures that some entry of the board has (results.json's optional ``cost``)."""
    return [
        key
        for key in COST_COLUMNS
        if any((entry["cost"] or {}).get(key) is not None for entry in board["entries"])
    ]


def board_title(board: Mapping[str, Any]) -> str:
    return f"Judge {board['judge']['label']}, protocol {board['protocol']['label']}"


def board_note(board: Mapping[str, Any], n_bootstrap: int, seed: int) -> str:
    """How the board ranks, and on which samples."""
    figure = FIGURES[board["headline"]]
    if board["same_samples"]:
        samples = f"the {board['n_common']} samples every entry judged"
    else:
        samples = (
            f"the {board['n_common']} samples every ranked entry judged (of "
            f"{board['n_samples']}: the entries judged different samples; "
            f"{DIFFERENT_SAMPLES} lacks some that another judged)"
        )
    return (
        f"Ranked by the {figure} over {samples}. Figure and 95% interval: over the entry's own "
        f"judged samples. Rank interval: 2.5th-97.5th percentile of the ranks in a paired "
        f"bootstrap ({n_bootstrap} resamples, seed {seed}); ties share the better rank."
    )


def _tables(document: Mapping[str, Any]) -> list[Table]:
    tables = []
    for board in document["boards"]:
        figure = FIGURES[board["headline"]]
        costs = cost_columns(board)
        header = ["rank", "95% rank interval", "entry", figure, "95% interval"]
        if not board["same_samples"]:
            header.append("on common samples")
        header.append("judged")
        header += [COST_COLUMNS[key] for key in costs]
        rows = []
        for entry in board["entries"]:
            mark = f" {DIFFERENT_SAMPLES}" if entry["different_samples"] else ""
            row = [
                "–" if entry["rank"] is None else str(entry["rank"]),
                format_ranks(entry["rank_ci95"]),
                entry["label"] + mark,
                format_number(entry["headline"]),
                format_interval(entry["ci95"]),
            ]
            if not board["same_samples"]:
                row.append(format_number(entry["headline_common"]))
            row.append(format_judged(entry))
            row += [format_cost(entry["cost"], key) for key in costs]
            rows.append(tuple(row))
        note = board_note(board, document["n_bootstrap"], document["seed"])
        tables.append(Table(board_title(board), tuple(header), rows, 3, note))
        category_rows = [
            (
                entry["label"],
                *(format_place(entry["categories"][c], "figure") for c in board["categories"]),
            )
            for entry in board["entries"]
        ]
        common = ", ".join(
            f"{name} {count}" for name, count in board["n_common_by_category"].items()
        )
        tables.append(
            Table(
                f"{board_title(board)}, per category: figure #rank [95% rank interval]",
                ("entry", *board["categories"]),
                category_rows,
                1,
                f"Ranked over the samples every entry judged in the category ({common}).",
            )
        )
    return tables


def format_table(document: Mapping[str, Any]) -> str:
    """The leaderboard as aligned plain text, for the terminal."""
    lines: list[str] = []
    for table in _tables(document):
        table = escaped(table, terminal_text)
        lines += [f"{table.title}:", *aligned(table), table.note, ""]
    return "\n".join(lines).rstrip()


def format_markdown(document: Mapping[str, Any]) -> str:
    """The leaderboard as a Markdown document."""
    lines = ["# Leaderboard", "", *(f"- {markdown_text(run)}" for run in document["runs"])]
    for table in _tables(document):
        table = escaped(table, markdown_text)
        alignment = tuple(
            ":--" if i < table.text_columns else "--:" for i in range(len(table.header))
        )
        lines += ["", f"## {table.title}", ""]
        lines += ["| " + " | ".join(row) + " |" for row in (table.header, alignment, *table.rows)]
        lines += ["", table.note]
    return "\n".join(lines) + "\n"
