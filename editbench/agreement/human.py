"""One run's judge against people: its scores beside the raters' ratings of the same samples,
per category, per criterion and overall, with the raters' agreement with each other as the
ceiling; and, where people gave preferences between two samples, how often the judge agrees.

Only samples the run judged ok and people rated count. Rated ids that are not samples of the
run are counted and shown, not an error, unless none is.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from editbench.agreement.records import HumanJudgements, Preference, Rating
from editbench.agreement.runs import JudgedRun
from editbench.agreement.statistics import human_ceiling, judge_vs_human, preference_accuracy
from editbench.errors import EditbenchError
from editbench.records import OK
from editbench.results.bootstrap import category_rng

_EXAMPLES = 10  # unmatched ids shown; the rest are counted
_WINNER_SIGN = {"a": 1, "b": -1, "tie": 0}


def agreement_with_people(
    run: JudgedRun, human: HumanJudgements, n_bootstrap: int, seed: int
) -> dict[str, Any]:
    """The judge of ``run`` against ``human``: ``overall`` and ``categories`` for the score,
    ``criteria`` for each rated criterion, ``preferences`` where there are any, and the counts
    of what was left out (``not_in_run``, ``not_ok``)."""
    rated = {r.id for r in human.ratings} | {
        key for p in human.preferences for key in (p.id_a, p.id_b)
    }
    matched = rated & run.rows.keys()
    if not matched:
        raise EditbenchError(
            f"{run.loaded.source}: none of the {len(rated)} rated ids is one of its "
            f"{len(run.rows)} samples; rated ids look like {_examples(rated, 3)}, the run's like "
            f"{_examples(run.rows, 3)}"
        )
    missing = sorted(rated - matched)
    result: dict[str, Any] = {
        "rated_samples": len(matched),
        "not_in_run": {"count": len(missing), "examples": missing[:_EXAMPLES]},
        "not_ok": dict(Counter(run.rows[key]["status"] for key in matched if _failed(run, key))),
    }
    if human.ratings:
        result.update(_rated(run, human, n_bootstrap, seed))
    if human.preferences:
        result["preferences"] = _preferences(run, human.preferences, n_bootstrap, seed)
    return result


def _rated(run: JudgedRun, human: HumanJudgements, n_bootstrap: int, seed: int) -> dict[str, Any]:
    """The cells of the sample's score (``overall``, ``categories``) and of each criterion."""
    by_criterion: dict[str | None, list[Rating]] = defaultdict(list)
    for rating in human.ratings:
        by_criterion[rating.criterion].append(rating)
    raters = human.raters
    result = _cells(run, by_criterion.get(None, []), None, raters, n_bootstrap, seed)
    if None not in by_criterion:
        result["overall"]["reason"] = "every rating names a criterion: none rates the whole sample"
    result["criteria"] = {
        name: _cells(run, ratings, name, raters, n_bootstrap, seed)
        for name, ratings in by_criterion.items()
        if name is not None
    }
    return result


def _cells(
    run: JudgedRun,
    ratings: Sequence[Rating],
    criterion: str | None,
    raters: Sequence[str],
    n_bootstrap: int,
    seed: int,
) -> dict[str, Any]:
    """The cells of one criterion (None: the sample's score): overall and per category."""
    scores: dict[str, dict[str, float]] = defaultdict(dict)  # sample → rater → score
    for rating in ratings:
        if rating.id in run.rows:
            scores[rating.id][rating.rater] = rating.score
    judged = {key: run.judge_value(key, criterion) for key in scores}
    without = [key for key, value in judged.items() if value is None and not _failed(run, key)]
    samples = [key for key, value in judged.items() if value is not None]
    category = {key: str(run.rows[key]["category"]) for key in samples}

    def cell(members: list[str], name: str) -> dict[str, Any]:
        judge = np.array([judged[key] for key in members], dtype=float)
        matrix = np.array(
            [[scores[key].get(rater, np.nan) for key in members] for rater in raters],
            dtype=float,
        ).reshape(len(raters), len(members))
        human = np.nanmean(matrix, axis=0) if members else np.empty(0)
        rng = category_rng(seed, f"{criterion or ''}|{name}")
        return {
            **judge_vs_human(judge, human, n_bootstrap, rng),
            "ceiling": human_ceiling(matrix, raters),
        }

    return {
        "overall": cell(samples, "overall"),
        "categories": {
            name: cell([key for key in samples if category[key] == name], f"category {name}")
            for name in run.categories
            if name in category.values()
        },
        # Judged ok but without this criterion: the judge's protocol does not report it.
        "judge_gave_no_value": len(without),
    }


def _preferences(
    run: JudgedRun, preferences: Sequence[Preference], n_bootstrap: int, seed: int
) -> dict[str, Any]:
    """Preference accuracy for the sample's score and for each criterion preferred on."""
    by_criterion: dict[str | None, list[Preference]] = defaultdict(list)
    for preference in preferences:
        by_criterion[preference.criterion].append(preference)
    return {
        **_preference_cells(run, by_criterion.get(None, []), None, n_bootstrap, seed),
        "criteria": {
            name: _preference_cells(run, group, name, n_bootstrap, seed)
            for name, group in by_criterion.items()
            if name is not None
        },
    }


def _preference_cells(
    run: JudgedRun,
    preferences: Sequence[Preference],
    criterion: str | None,
    n_bootstrap: int,
    seed: int,
) -> dict[str, Any]:
    """Overall and per category; a pair of samples from two categories counts overall only.
    ``not_compared`` counts the preferences whose two samples are not both judged ok."""
    # Each usable preference: its winner, the judge's two values, and the pair's category.
    usable: list[tuple[str, float, float, str | None]] = []
    for p in preferences:
        if p.id_a in run.rows and p.id_b in run.rows:
            a, b = run.judge_value(p.id_a, criterion), run.judge_value(p.id_b, criterion)
            if a is not None and b is not None:
                pair = {str(run.rows[key]["category"]) for key in (p.id_a, p.id_b)}
                usable.append((p.winner, a, b, pair.pop() if len(pair) == 1 else None))

    def cell(members: list[tuple[str, float, float, str | None]], name: str) -> dict[str, Any]:
        return preference_accuracy(
            np.array([a for _, a, _, _ in members], dtype=float),
            np.array([b for _, _, b, _ in members], dtype=float),
            np.array([_WINNER_SIGN[winner] for winner, *_ in members], dtype=float),
            n_bootstrap,
            category_rng(seed, f"preferences|{criterion or ''}|{name}"),
        )

    categories = {u[3] for u in usable}
    return {
        "not_compared": len(preferences) - len(usable),
        "overall": cell(usable, "overall"),
        "categories": {
            name: cell([u for u in usable if u[3] == name], f"category {name}")
            for name in run.categories
            if name in categories
        },
    }


def _failed(run: JudgedRun, key: str) -> bool:
    return run.rows[key]["status"] != OK


def _examples(ids: Iterable[str], count: int) -> list[str]:
    return sorted(ids)[:count]
