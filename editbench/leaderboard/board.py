"""The leaderboard as plain data: per board, each entry's figures, ranks and rank intervals per
category and overall, its coverage, failures and cost, and whether it judged the same samples
as the others.

An entry's own figure and 95% interval are over every sample it judged, computed as its run's
results.json computes them (:func:`editbench.results.aggregate.aggregate`: with the same seed
and bootstrap count, the same numbers); its rank is over the samples every entry judged
(:mod:`editbench.leaderboard.ranking`), and where those are fewer than its own, its figure
over them is given too.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from editbench.errors import EditbenchError
from editbench.leaderboard.entries import Board, Entry, make_boards
from editbench.leaderboard.ranking import Values, rank_entries
from editbench.leaderboard.runs import FinishedRun
from editbench.records import OK
from editbench.results.aggregate import aggregate
from editbench.results.chart import chart_figures, finite

# The cost figures a run's results.json may hold (cost → phase → key), as the table shows them.
COSTS = {
    "edit_device_s_per_sample": ("edit", "device_s_per_sample"),
    "judge_money_per_1000": ("judge", "money_per_1000"),
}


@dataclass(frozen=True)
class Leaderboard:
    """``document``: what leaderboard.json holds. ``boards``: the same boards, their entries
    in the document's order, with the rows that the gallery shows."""

    document: dict[str, Any]
    boards: list[Board]


def build_leaderboard(
    runs: Sequence[FinishedRun],
    allow_mixed: bool = False,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> Leaderboard:
    """Rank the entries of ``runs`` (see :func:`~editbench.leaderboard.entries.make_boards` for
    what makes an entry and a board). Reproducible for a ``seed``. Raises
    :class:`EditbenchError` where make_boards does, and when a sample is in one category in
    one run and in another in another."""
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be at least 1, got {n_bootstrap}")
    boards = make_boards(runs, allow_mixed)
    documents = [_board(board, n_bootstrap, seed) for board in boards]
    document = {
        "runs": [run.source for run in runs],
        "n_bootstrap": n_bootstrap,
        "seed": seed,
        "boards": documents,
    }
    return Leaderboard(document, boards)


def _board(board: Board, n_bootstrap: int, seed: int) -> dict[str, Any]:
    """The board's document; sorts its entries by rank, as the document lists them."""
    headline = board.protocol.headline
    category = _category_of(board)
    categories = list(dict.fromkeys(category.values()))
    values = [_values(entry.rows, headline) for entry in board.entries]
    standings, overall = rank_entries(values, category, categories, headline, n_bootstrap, seed)
    judged = [{row["id"] for row in entry.rows if row["status"] == OK} for entry in board.entries]
    judged_by_any = set().union(*judged)
    entries = []
    for index, entry in enumerate(board.entries):
        own = _own_figures(entry, categories, headline, n_bootstrap, seed)
        for name, stats in own["categories"].items():  # and its places in each category
            stats.update(
                figure_common=finite(standings[name].figures[index]),
                rank=standings[name].ranks[index],
                rank_ci95=standings[name].intervals[index],
            )
        entries.append(
            {
                "label": entry.label,
                "editor": entry.editor.as_json(),
                "runs": entry.sources,
                "rank": overall.ranks[index],
                "rank_ci95": overall.intervals[index],
                # finite(): scores near the float limit may sum past it
                "headline_common": finite(overall.figures[index]),
                "different_samples": judged[index] != judged_by_any,
                "not_judged": len(judged_by_any - judged[index]),
                **own,
                "cost": _cost(entry),
            }
        )
    order = sorted(range(len(entries)), key=lambda i: _place(entries[i]))
    board.entries = [board.entries[i] for i in order]
    return {
        "judge": board.judge.as_json(),
        "protocol": board.protocol.as_json(),
        "headline": headline,
        "categories": categories,
        "n_samples": len(category),
        "same_samples": all(ids == judged_by_any for ids in judged) and bool(judged_by_any),
        "n_common": overall.n_common,
        "n_common_by_category": {name: standings[name].n_common for name in categories},
        "entries": [entries[i] for i in order],
    }


def _own_figures(
    entry: Entry, categories: Sequence[str], headline: str, n_bootstrap: int, seed: int
) -> dict[str, Any]:
    """The entry's figures over its own judged samples, as its results.json has them: overall
    and per category, with coverage, 95% intervals and failures by status."""
    results = aggregate(_slim(entry.rows), categories, n_bootstrap, seed, headline)
    *per_category, overall = chart_figures({**results, "protocol": {"headline": headline}})
    return {
        "headline": overall["value"],
        "ci95": overall["ci95"],
        "n": overall["n"],
        "judged": overall["judged"],
        "coverage": results["overall"]["coverage"],
        "failures": dict(
            sorted(Counter(row["status"] for row in entry.rows if row["status"] != OK).items())
        ),
        "categories": {
            figure["name"]: {
                "n": figure["n"],
                "judged": figure["judged"],
                "coverage": results["categories"][figure["name"]]["coverage"],
                "figure": figure["value"],
                "ci95": figure["ci95"],
            }
            for figure in per_category
        },
    }


def _place(entry: dict[str, Any]) -> tuple[Any, ...]:
    """Ranked entries by rank, then by figure; unranked ones last."""
    rank, headline = entry["rank"], entry["headline"]
    return (
        rank is None,
        rank or 0,
        -headline if headline is not None else math.inf,
        entry["label"],
    )


def _category_of(board: Board) -> dict[str, str]:
    """Every sample id of the board's runs mapped to its category, which all runs must agree
    on."""
    category: dict[str, str] = {}
    source: dict[str, str] = {}
    for entry in board.entries:
        for run in entry.runs:
            for row in run.rows:
                known = category.setdefault(row["id"], row["category"])
                first = source.setdefault(row["id"], run.source)
                if known != row["category"]:
                    raise EditbenchError(
                        f"sample {row['id']!r} is in category {known!r} in {first!r} but "
                        f"{row['category']!r} in {run.source!r}; expected runs of one benchmark"
                    )
    return category


def _values(rows: Sequence[dict[str, Any]], headline: str) -> Values:
    """What each ok row adds to its figures: its score, or, under a pooled headline, its pooled
    values (a row without any adds nothing, as in aggregate)."""
    values: Values = {}
    for row in rows:
        if row["status"] != OK:
            continue
        if headline != "pooled":
            values[row["id"]] = (float(row["score"]), 1)
        elif row.get("pooled"):
            values[row["id"]] = (math.fsum(row["pooled"]), len(row["pooled"]))
    return values


def _slim(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The fields a figure is made of; a row's criteria and judge samples are not ranked, and
    are not checked either."""
    fields = ("id", "category", "status", "score", "pooled")
    return [{name: row.get(name) for name in fields} for row in rows]


def _cost(entry: Entry) -> dict[str, Any] | None:
    """The entry's cost figures from its runs' results.json, weighted by each run's samples
    where it merges several; None for a figure that a run lacks, and None in all when no run
    has any."""
    weights = [len(run.rows) for run in entry.runs]
    cost: dict[str, Any] = {}
    for name, (phase, key) in COSTS.items():
        values = [_section(run.results, "cost", phase).get(key) for run in entry.runs]
        numbers = [finite(value) for value in values]
        if None in numbers or not sum(weights):
            cost[name] = None
        else:
            cost[name] = sum(n * w for n, w in zip(numbers, weights, strict=True)) / sum(weights)
    currencies = {_section(run.results, "cost", "judge").get("currency") for run in entry.runs}
    currency = currencies.pop() if len(currencies) == 1 else None
    cost["currency"] = currency if isinstance(currency, str) else None
    if all(cost[name] is None for name in COSTS):
        return None
    return cost


def _section(tree: Any, *path: str) -> dict[str, Any]:
    """The mapping at ``path`` in ``tree``; empty where any step is missing or not a mapping."""
    for key in path:
        tree = tree.get(key) if isinstance(tree, dict) else None
    return tree if isinstance(tree, dict) else {}
