"""An agreement report as tables of text cells, the one source of agreement.md, agreement.html
and what the terminal shows. Cells hold raw text (sample ids, categories and reasons come
from the runs and the ratings files): each output escapes them its own way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from editbench.agreement.statistics import MIN_SAMPLES
from editbench.compare.tables import Table, format_number
from editbench.results.chart import finite, finite_interval

_HUMAN_HEADER = (
    "n",
    "Spearman ρ",
    "Kendall τ-b",
    "pairwise accuracy",
    "raters",
    "raters' α",
    "raters' ρ (one vs rest)",
    "note",
)
_PREFERENCE_HEADER = ("n", "people's ties", "judge's ties", "accuracy", "note")


@dataclass(frozen=True)
class Section:
    title: str
    lines: list[str] = field(default_factory=list)  # paragraphs above the tables
    tables: list[Table] = field(default_factory=list)


def sections(document: Mapping[str, Any]) -> list[Section]:
    """The report: the runs and ratings read, each run's judge against people, the judges
    against each other, and where the figures went in MLflow."""
    out = [_inputs(document)]
    for run in document["runs"]:
        if run.get("human") is not None:
            out.append(_human_section(run["label"], run["human"]))
    if document.get("judges") is not None:
        out.append(_judges_section(document["judges"]))
    return out


def figure(value: float | None, ci95: Sequence[float] | None) -> str:
    """``0.52 [0.31, 0.70]``; a dash where the figure is undefined."""
    if finite(value) is None:
        return "–"
    interval = finite_interval(ci95)
    if interval is None:
        return format_number(value)
    return f"{format_number(value)} [{format_number(interval[0])}, {format_number(interval[1])}]"


def _inputs(document: Mapping[str, Any]) -> Section:
    settings = document["settings"]
    lines = [
        f"{len(document['runs'])} run(s); bootstrap: {settings['bootstrap']} resamples, seed "
        f"{settings['seed']}; a figure needs at least {settings['min_samples']} samples."
    ]
    human = document.get("human")
    if human is not None:
        lines.append(
            f"People: {human['ratings']} ratings by {len(human['raters'])} rater(s) "
            f"({', '.join(human['raters']) or 'none'}), {human['preferences']} preferences, "
            f"from {', '.join(human['files'])}."
        )
    rows = [
        (
            run["label"],
            run["source"],
            run.get("protocol") or "not recorded",
            run["mlflow"]["note"],
        )
        for run in document["runs"]
    ]
    table = Table("Runs", ("run", "source", "protocol", "MLflow"), rows, text_columns=4)
    return Section("Inputs", lines, [table])


def _human_section(label: str, human: Mapping[str, Any]) -> Section:
    missing = human["not_in_run"]
    lines = [
        f"Rated samples in the run: {human['rated_samples']}. Rated ids that are not samples "
        f"of the run: {missing['count']}"
        + (f" (e.g. {', '.join(missing['examples'][:5])})." if missing["count"] else ".")
    ]
    if human["not_ok"]:
        failed = ", ".join(f"{n} {status}" for status, n in human["not_ok"].items())
        lines.append(f"Rated but not judged ok, so left out: {failed}.")
    tables = []
    if "overall" in human:
        tables.append(_human_table("Judge's score vs people's mean", human))
        for name, cells in human["criteria"].items():
            tables.append(_human_table(f"Criterion {name} vs people's mean", cells))
    preferences = human.get("preferences")
    if preferences is not None:
        tables.append(_preference_table("Preferences: judge's score", preferences))
        for name, cells in preferences["criteria"].items():
            tables.append(_preference_table(f"Preferences: criterion {name}", cells))
    return Section(f"Judge vs people: {label}", lines, tables)


def _human_table(title: str, cells: Mapping[str, Any]) -> Table:
    rows = [_human_row(name, cell) for name, cell in _named(cells)]
    note = (
        "Pairwise accuracy: the share of sample pairs with different human means that the "
        "judge orders the same way, a judge's tie counting one half. Raters' ρ: each rater "
        "against the mean of the others, averaged."
    )
    if cells.get("judge_gave_no_value"):
        note += f" {cells['judge_gave_no_value']} rated samples have no value from the judge."
    return Table(title, ("category", *_HUMAN_HEADER), rows, note=note)


def _human_row(name: str, cell: Mapping[str, Any]) -> tuple[str, ...]:
    ceiling = cell["ceiling"]
    reasons = [cell["reason"]] if cell["reason"] else []
    # Too few samples for the judge are too few for the raters: say it once.
    if ceiling["reason"] and cell["n"] >= MIN_SAMPLES:
        reasons.append(f"raters: {ceiling['reason']}")
    return (
        name,
        str(cell["n"]),
        figure(cell["spearman"], cell["spearman_ci95"]),
        figure(cell["kendall"], cell["kendall_ci95"]),
        figure(cell["pairwise_accuracy"], cell["pairwise_accuracy_ci95"]),
        str(ceiling["raters"]),
        format_number(ceiling["alpha"]),
        format_number(ceiling["leave_one_out_spearman"]),
        "; ".join(reasons),
    )


def _preference_table(title: str, cells: Mapping[str, Any]) -> Table:
    rows = [
        (
            name,
            str(cell["n"]),
            str(cell["human_ties"]),
            str(cell["judge_ties"]),
            figure(cell["pairwise_accuracy"], cell["pairwise_accuracy_ci95"]),
            cell["reason"] or "",
        )
        for name, cell in _named(cells)
    ]
    note = (
        "The share of people's preferences the judge's scores agree with, a judge's tie "
        f"counting one half; people's ties are left out. {cells['not_compared']} preferences "
        "have a sample the run did not judge ok, or does not hold."
    )
    return Table(title, ("category", *_PREFERENCE_HEADER), rows, note=note)


def _judges_section(panel: Mapping[str, Any]) -> Section:
    judges = panel["judges"]
    lines = [
        f"{len(judges)} judges, {panel['n_shared']} samples judged ok by all of them on the same "
        f"edit. {panel['not_comparable']['count']} samples are not comparable (their edits "
        f"differ between runs); {panel['not_in_every_run']} are missing from some run."
    ]
    failed = [
        f"{label}: " + ", ".join(f"{n} {status}" for status, n in counts.items())
        for label, counts in panel["not_ok"].items()
        if counts
    ]
    if failed:
        lines.append("Not judged ok, so left out: " + "; ".join(failed) + ".")
    pairs = [f"{a} vs {b}" for a, b in (p["judges"] for p in panel["overall"]["pairs"])]
    rows = []
    for name, cell in _named(panel):
        by_pair = {tuple(p["judges"]): p["spearman"] for p in cell["pairs"]}
        rho = [format_number(by_pair.get(tuple(p["judges"]))) for p in panel["overall"]["pairs"]]
        rows.append(
            (
                name,
                str(cell["n"]),
                format_number(cell["alpha"]),
                format_number(cell["mean_spearman"]),
                *rho,
                cell["reason"] or "",
            )
        )
    header = ("category", "n", "α", "mean ρ", *(f"ρ {pair}" for pair in pairs), "note")
    note = (
        "α: Krippendorff's alpha, interval level (differences of level count, not only of "
        "order). ρ: Spearman's rho of each pair of judges."
    )
    tables = [Table("Agreement between judges", header, rows, note=note)]
    ranking = [
        (item["category"], format_number(item["alpha"]), format_number(item["mean_spearman"]))
        for item in panel["categories_by_agreement"]
    ]
    tables.append(
        Table("Categories by agreement, lowest first", ("category", "α", "mean ρ"), ranking)
    )
    samples = [
        (
            s["id"],
            s["category"],
            *(format_number(s["scores"][label]) for label in judges),
            format_number(s["range"]),
        )
        for s in panel["most_disagreed_samples"]
    ]
    header = ("sample", "category", *judges, "max - min")
    tables.append(Table("Samples the judges disagree on most", header, samples, text_columns=2))
    differing = [
        (s["id"], *(str(s["edit_keys"][label] or "none")[:12] for label in judges))
        for s in panel["not_comparable"]["samples"]
    ]
    if differing:
        note = f"{panel['not_comparable']['count']} in all; edit keys cut to 12 characters."
        header = ("sample", *judges)
        tables.append(
            Table("Not comparable: the edits differ", header, differing, len(header), note)
        )
    return Section("Judges vs each other", lines, tables)


def _named(cells: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """Each category's cell, then the overall one (a list: a category may be called
    "overall" too)."""
    return [*cells["categories"].items(), ("overall", cells["overall"])]
