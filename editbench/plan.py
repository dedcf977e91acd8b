"""Turn samples into keyed units of work: what to edit, what to judge, and what is already done."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from editbench.prompts import render_judge_request
from editbench.records import API_ERROR, EditRequest, JudgeRequest, Sample
from editbench.store import Store, content_hash, edit_key, file_sha256


def edit_seed(run_seed: int, sample_id: str) -> int:
    """The edit seed of one sample: a function of the run seed and the id only, so an edit is
    the same on 1 or 8 devices, in any order, in any shard."""
    digest = hashlib.sha256(f"{run_seed}/{sample_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # fits a signed 64-bit seed


@dataclass(frozen=True)
class EditTask:
    key: str
    sample_id: str
    request: EditRequest
    source_sha256: str


@dataclass(frozen=True)
class JudgeTask:
    key: str
    sample_id: str
    edit_key: str
    request: JudgeRequest
    prompt_sha256: str


@dataclass(frozen=True)
class Plan:
    samples: list[Sample]
    edits: list[EditTask]  # one per sample, in sample order
    judgements: list[JudgeTask]  # one per sample, in sample order


def make_plan(
    samples: Sequence[Sample],
    prompts: Mapping[str, Mapping[str, Any]],
    editor_fingerprint: Mapping[str, Any],
    judge_fingerprint: Mapping[str, Any],
    run_seed: int,
    store: Store,
) -> Plan:
    """Key every edit and judgement of ``samples``.

    edit key = editor fingerprint + sample id + source image hash + instruction + seed;
    judgement key = edit key + judge fingerprint + rendered prompt hash. The prompt is hashed
    with its images named by content (source hash, edit key), not by path, so moving the
    store or the dataset changes no key.
    """
    edits, judgements = [], []
    for sample in samples:
        source_sha256 = file_sha256(sample.image)
        seed = edit_seed(run_seed, sample.id)
        this_edit = edit_key(editor_fingerprint, sample.id, source_sha256, sample.instruction, seed)
        edits.append(
            EditTask(
                this_edit,
                sample.id,
                EditRequest(sample.id, sample.image, sample.instruction, seed),
                source_sha256,
            )
        )
        edited_image = str(store.edit_image_path(this_edit))
        request = render_judge_request(sample, edited_image, prompts[sample.category])
        prompt_sha256 = content_hash(
            {
                "messages": request.messages_with_images(
                    {sample.image: f"source:{source_sha256}", edited_image: f"edit:{this_edit}"}
                ),
                "score_prefix": request.score_prefix,
                "reasoning_first": request.reasoning_first,
                "criteria": request.criteria,
                "combine": request.combine,
            }
        )
        judgement_key = content_hash(
            {"edit_key": this_edit, "judge": judge_fingerprint, "prompt_sha256": prompt_sha256}
        )
        judgements.append(JudgeTask(judgement_key, sample.id, this_edit, request, prompt_sha256))
    return Plan(list(samples), edits, judgements)


def pending(plan: Plan, store: Store) -> tuple[list[EditTask], list[JudgeTask]]:
    """The edits and judgements of ``plan`` that the store does not hold yet.

    A stored judgement counts as done unless the judge could not be reached (api_error): that
    is the endpoint's failure, not a verdict, so a re-run asks again.
    """
    edits = [task for task in plan.edits if store.read_edit(task.key) is None]
    judgements = []
    for task in plan.judgements:
        record = store.read_judgement(task.key)
        if record is None or record.get("status") == API_ERROR:
            judgements.append(task)
    return edits, judgements
