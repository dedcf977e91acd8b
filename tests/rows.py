"""samples.jsonl rows for the tests that read finished runs (compare, leaderboard, outputs)."""

from __future__ import annotations

from typing import Any


def sample_row(
    key: str, category: str, score: float | None, status: str = "ok", **fields: Any
) -> dict[str, Any]:
    """One samples.jsonl row; only an ``ok`` judgement has a score, and only a failed one an
    error. ``fields`` add or replace columns."""
    return {
        "id": key,
        "category": category,
        "instruction": f"Edit {key}",
        "source_image": None,
        "edited_image": None,
        "status": status,
        "score": score if status == "ok" else None,
        "reply": f"Score: {score}",
        "error": None if status == "ok" else f"{status} on {key}",
        "edit_key": f"edit-{key}",
        "judgement_key": f"judgement-{key}",
        **fields,
    }
