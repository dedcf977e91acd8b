"""A panel of judges: several runs over the same edits (a sweep over ``scorer=`` reuses every
edit), compared with each other per category and overall.

A sample counts where every run holds it with the same edit (``edit_key``) and judged it ok.
A sample whose edit differs between runs is listed as not comparable: the judges saw
different images.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from editbench.agreement.runs import JudgedRun
from editbench.agreement.statistics import judges_agreement
from editbench.records import OK


def agreement_between_judges(runs: Sequence[JudgedRun], top: int = 10) -> dict[str, Any]:
    """Krippendorff's alpha and pairwise Spearman of the judges, overall and per category (in
    the first run's order); the categories by alpha, lowest first; the ``top`` samples whose
    scores differ most between judges (max - min); and what was left out."""
    labels = [run.label for run in runs]
    first = runs[0]
    every_id = list(dict.fromkeys(key for run in runs for key in run.rows))
    in_all = [key for key in every_id if all(key in run.rows for run in runs)]
    same_edit = {key for key in in_all if len({_edit_key(run, key) for run in runs}) == 1}
    differing = [key for key in in_all if key not in same_edit]
    comparable = [key for key in in_all if key in same_edit]
    shared = [key for key in comparable if all(run.rows[key]["status"] == OK for run in runs)]
    scores = np.array(
        [[run.judge_value(key, None) for key in shared] for run in runs], dtype=float
    ).reshape(len(runs), len(shared))
    category = [str(first.rows[key]["category"]) for key in shared]
    categories = {
        name: judges_agreement(scores[:, [c == name for c in category]], labels)
        for name in first.categories
        if name in category
    }
    ranking = sorted(
        categories.items(),
        key=lambda item: (item[1]["alpha"] is None, item[1]["alpha"] or 0.0),
    )
    spread = scores.max(axis=0) - scores.min(axis=0) if shared else np.empty(0)
    order = sorted(range(len(shared)), key=lambda i: (-spread[i], shared[i]))[:top]
    return {
        "judges": labels,
        "n_shared": len(shared),
        "overall": judges_agreement(scores, labels),
        "categories": categories,
        "categories_by_agreement": [
            {"category": name, "alpha": cell["alpha"], "mean_spearman": cell["mean_spearman"]}
            for name, cell in ranking
        ],
        "most_disagreed_samples": [
            {
                "id": shared[i],
                "category": category[i],
                "scores": dict(zip(labels, map(float, scores[:, i]), strict=True)),
                "range": float(spread[i]),
            }
            for i in order
        ],
        "not_comparable": {
            "count": len(differing),
            "samples": [
                {"id": key, "edit_keys": {run.label: _edit_key(run, key) for run in runs}}
                for key in differing[:top]
            ],
        },
        "not_in_every_run": len(every_id) - len(in_all),
        "not_ok": {
            run.label: dict(Counter(run.rows[k]["status"] for k in comparable if _failed(run, k)))
            for run in runs
        },
    }


def _edit_key(run: JudgedRun, key: str) -> str | None:
    return run.rows[key].get("edit_key")


def _failed(run: JudgedRun, key: str) -> bool:
    return run.rows[key]["status"] != OK
