"""``dry_run=true``: validate and plan, then write every judge conversation that the run would
send (text and images) into the run folder, loading no model and writing nothing to the store."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import jinja2

from editbench.plan import Plan, pending
from editbench.records import JudgeRequest
from editbench.results.thumbnails import thumbnail_data_uri
from editbench.store import Store

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def write_dry_run(
    output_dir: Path, plan: Plan, store: Store, max_attempts: int = 1
) -> dict[str, Any]:
    """Write ``judge_requests.jsonl`` and ``judge_requests.html``; returns what the run would do
    (``max_attempts``: as ``store.max_attempts``, how often a failed sample is tried)."""
    edits, judgements = pending(plan, store, max_attempts)
    edits_to_do = {task.key for task in edits}
    judgements_to_do = {task.key for task in judgements}
    entries = []
    with open(output_dir / "judge_requests.jsonl", "w") as f:
        categories = {sample.id: sample.category for sample in plan.samples}
        for task in plan.judgements:
            entry = {
                "id": task.sample_id,
                "category": categories[task.sample_id],
                "call": task.call,
                "edit_key": task.edit_key,
                "judgement_key": task.key,
                "edit_needed": task.edit_key in edits_to_do,
                "judgement_needed": task.key in judgements_to_do,
                **asdict(task.request),
            }
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            entries.append(entry)
    pictures = _pictures([task.request for task in plan.judgements])
    page = _TEMPLATES.get_template("dry_run.html.j2").render(
        entries=entries, pictures=pictures, count=len(entries)
    )
    (output_dir / "judge_requests.html").write_text(page)
    return {
        "dry_run": True,
        "samples": len(plan.samples),
        "judge_calls": len(plan.judgements),
        "edits_to_do": len(edits_to_do),
        "edits_reused": len(plan.edits) - len(edits_to_do),
        "judgements_to_do": len(judgements_to_do),
        "judgements_reused": len(plan.judgements) - len(judgements_to_do),
    }


def _pictures(requests: list[JudgeRequest]) -> dict[str, str | None]:
    """Thumbnails of every image that exists now; an edit not made yet has none."""
    paths = {path for request in requests for path in request.images()}
    return {path: thumbnail_data_uri(path) if Path(path).is_file() else None for path in paths}
