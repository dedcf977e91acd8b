"""The samples a comparison cannot pair: how many of each failure status each run has, and the
samples that one run judged ok and the other did not, with why."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from editbench.records import OK
from editbench.results.report import ERROR_EXCERPT_CHARS, excerpt


def failure_counts(
    by_id_a: Mapping[str, Mapping[str, Any]], by_id_b: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, int]]:
    """Per status other than ok (``edit_error``, ``judge_error``, ``missing``, ...), in name
    order, how many samples of run A (``a``) and of run B (``b``) have it."""
    counts_a, counts_b = (
        Counter(row["status"] for row in by_id.values() if row["status"] != OK)
        for by_id in (by_id_a, by_id_b)
    )
    return {
        status: {"a": counts_a[status], "b": counts_b[status]}
        for status in sorted(counts_a.keys() | counts_b.keys())
    }


def judged_by_one_run(
    by_id_a: Mapping[str, Mapping[str, Any]],
    by_id_b: Mapping[str, Mapping[str, Any]],
    ok_a: Mapping[str, Any],
    ok_b: Mapping[str, Any],
    top: int,
) -> dict[str, Any]:
    """How many samples one run judged ok and the other did not (``count``), and the first
    ``top`` of them by id (``samples``): each run's ``status`` (None where the run lacks the
    sample) and ``error``, cut as report.html cuts it (samples.jsonl keeps it whole)."""
    keys = sorted(ok_a.keys() ^ ok_b.keys())
    samples = []
    for key in keys[:top]:
        a, b = by_id_a.get(key, {}), by_id_b.get(key, {})
        samples.append(
            {
                "id": key,
                "category": (a or b)["category"],
                "status_a": a.get("status"),
                "status_b": b.get("status"),
                "error_a": excerpt(a.get("error"), ERROR_EXCERPT_CHARS),
                "error_b": excerpt(b.get("error"), ERROR_EXCERPT_CHARS),
            }
        )
    return {"count": len(keys), "samples": samples}
