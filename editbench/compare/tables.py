"""A comparison as tables of formatted cells: aligned plain text for the terminal, and a
Markdown document. Every cell goes through one escaping function per output
(:mod:`editbench.compare.escaping`), since names, ids and errors come from the runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from editbench.compare.escaping import markdown_text, terminal_text
from editbench.records import OK
from editbench.results.chart import finite, finite_interval

# What each overall rule is called in the outputs.
OVERALL_RULES = {
    "mean_of_categories": "the mean of the categories' differences",
    "sample_mean": "the difference of the means over the shared samples",
    "pooled": "the difference of the pooled means over the shared samples",
}


def named_stats(comparison: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The statistics of every category, then of overall, with their names (a list: a
    category may be called "overall" too)."""
    return [*comparison["categories"].items(), ("overall", comparison["overall"])]


# Every formatter shows a dash for a missing value, and for a NaN or an infinity alike.
def format_number(value: float | None) -> str:
    return "–" if finite(value) is None else f"{value:.2f}"


def format_signed(value: float | None) -> str:
    return "–" if finite(value) is None else f"{value:+.2f}"


def format_ci(ci95: Sequence[float] | None) -> str:
    ci95 = finite_interval(ci95)
    return "–" if ci95 is None else f"[{ci95[0]:+.2f}, {ci95[1]:+.2f}]"


def format_seconds(value: float | None) -> str:
    return "–" if finite(value) is None else f"{value:.3g} s"


def format_times(value: float | None) -> str:
    return "–" if finite(value) is None else f"{value:.2f}×"


def format_times_ci(ci95: Sequence[float] | None) -> str:
    ci95 = finite_interval(ci95)
    return "–" if ci95 is None else f"[{ci95[0]:.2f}×, {ci95[1]:.2f}×]"


def speed_note(comparison: Mapping[str, Any]) -> str:
    """What the edit-speed row measures, and which samples it leaves out."""
    speed = comparison["speed"]
    untimed = f" ({speed['untimed']} shared samples without an edit time left out)"
    return (
        "Device-seconds per edit over the samples judged ok by both runs and timed by both"
        f"{untimed if speed['untimed'] else ''}; the speed-up is A's mean over B's, above 1 "
        "where B's editor is faster, with a 95% paired bootstrap interval. Beside it, the "
        "overall score difference: the price of the speed-up in benchmark points."
    )


def format_p(value: float | None) -> str:
    # The bootstrap cannot tell p values below about 2 / n_bootstrap apart.
    if finite(value) is None:
        return "–"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


@dataclass(frozen=True)
class Table:
    """One table of a comparison, a leaderboard or an agreement report, as formatted cells,
    for the terminal and for markdown."""

    title: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    text_columns: int = 1  # the leading columns hold names, left-aligned; the rest numbers
    note: str = ""  # shown under the table


_HEADER = ("shared", "only A", "only B", "A", "B", "B - A", "95% CI", "p")


def _cells(stats: Mapping[str, Any]) -> tuple[str, ...]:
    """The counts, means, difference, interval and p-value of one row, formatted."""
    counts = (str(stats["n_shared"]), str(stats["only_a"]), str(stats["only_b"]))
    means = (
        format_number(stats["mean_a"]),
        format_number(stats["mean_b"]),
        format_signed(stats["mean_diff"]),
    )
    return (*counts, *means, format_ci(stats["ci95"]), format_p(stats["p_value"]))


def _tables(comparison: Mapping[str, Any]) -> list[Table]:
    """The summary, one row per category and one for overall; then, where the runs have
    them, each criterion's overall difference and each subset's; then the top movers; then
    the samples left out."""
    headline = comparison.get("headline", "mean_of_categories")
    figure = "pooled scores" if headline == "pooled" else "mean scores"
    summary = [(name, *_cells(stats)) for name, stats in named_stats(comparison)]
    protocol = comparison.get("protocol")
    note = (
        f"{f'Protocol {protocol}. ' if protocol else ''}Over the samples judged ok by both runs; "
        f"95% paired bootstrap intervals ({comparison['n_bootstrap']} resamples, seed "
        f"{comparison['seed']}). Overall is {OVERALL_RULES[headline]}."
    )
    tables = [Table(f"Difference of {figure}, B - A", ("category", *_HEADER), summary, 1, note)]
    speed = comparison.get("speed")
    if speed:
        overall = comparison["overall"]
        row = (
            str(speed["n"]),
            format_seconds(speed["edit_s_a"]),
            format_seconds(speed["edit_s_b"]),
            format_times(speed["speedup"]),
            format_times_ci(speed["ci95"]),
            format_signed(overall["mean_diff"]),
            format_ci(overall["ci95"]),
        )
        header = (
            "timed",
            "A s per edit",
            "B s per edit",
            "speed-up",
            "95% CI",
            "score B - A",
            "95% CI",
        )
        tables.append(Table("Edit speed, A / B", header, [row], 0, speed_note(comparison)))
    criteria = comparison.get("criteria") or {}
    if criteria:
        rows = [(name, *_cells(stats["overall"])) for name, stats in criteria.items()]
        note = "Each criterion overall: the mean of its categories' differences."
        tables.append(Table("Criteria, B - A", ("criterion", *_HEADER), rows, 1, note))
    subsets = comparison.get("subsets") or {}
    if subsets:
        rows = [(name, *_cells(stats["overall"])) for name, stats in subsets.items()]
        note = f"Each subset over its own samples; overall is {OVERALL_RULES[headline]}."
        tables.append(Table("Subsets, B - A", ("subset", *_HEADER), rows, 1, note))
    if comparison["top_movers"]:
        movers = [
            (
                m["id"],
                m["category"],
                format_number(m["score_a"]),
                format_number(m["score_b"]),
                format_signed(m["diff"]),
            )
            for m in comparison["top_movers"]
        ]
        header = ("sample", "category", "A", "B", "B - A")
        tables.append(Table("Samples that moved most", header, movers, 2))
    return tables + _left_out(comparison)


def _left_out(comparison: Mapping[str, Any]) -> list[Table]:
    """How many samples of each run failed, by status, and the samples judged ok by one run
    only, with the other's status and error."""
    tables = []
    failures = comparison.get("failures") or {}
    if failures:
        rows = [(status, str(n["a"]), str(n["b"])) for status, n in failures.items()]
        note = "Never compared: a failure is a status, never a number."
        tables.append(Table("Samples not judged ok", ("status", "A", "B"), rows, 1, note))
    one_run = comparison.get("judged_by_one_run") or {"count": 0, "samples": []}
    if one_run["samples"]:
        rows = [
            (
                s["id"],
                s["category"],
                s["status_a"] or "not in run",
                s["status_b"] or "not in run",
                (s["error_a"] if s["status_a"] != OK else s["error_b"]) or "",
            )
            for s in one_run["samples"]
        ]
        shown = len(one_run["samples"])
        note = f"{one_run['count']} in all" + (
            f"; the first {shown} by id." if shown < one_run["count"] else "."
        )
        header = ("sample", "category", "A", "B", "error")
        tables.append(Table("Samples judged ok by one run only", header, rows, 5, note))
    return tables


def escaped(table: Table, escape: Callable[[str], str]) -> Table:
    """``table`` with ``escape`` applied to its title, every cell and its note (a title may
    name a judge or a run)."""
    return Table(
        escape(table.title),
        tuple(map(escape, table.header)),
        [tuple(map(escape, row)) for row in table.rows],
        table.text_columns,
        escape(table.note),
    )


def format_table(comparison: Mapping[str, Any]) -> str:
    """The comparison's tables as aligned plain text, for the terminal."""
    lines: list[str] = []
    for table in _tables(comparison):
        table = escaped(table, terminal_text)
        lines += [f"{table.title}:", *aligned(table)]
        lines += [table.note, ""] if table.note else [""]
    return "\n".join(lines).rstrip()


def aligned(table: Table) -> list[str]:
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
    """The comparison's tables as a Markdown document."""
    lines = ["# Comparison", "", f"- A: {markdown_text(run_a)}", f"- B: {markdown_text(run_b)}"]
    for table in _tables(comparison):
        table = escaped(table, markdown_text)
        alignment = tuple(
            ":--" if i < table.text_columns else "--:" for i in range(len(table.header))
        )
        lines += ["", f"## {table.title}", ""]
        for row in (table.header, alignment, *table.rows):
            lines.append("| " + " | ".join(row) + " |")
        if table.note:
            lines += ["", table.note]
    return "\n".join(lines) + "\n"
