"""Turn samples into keyed units of work: what to edit, what to judge, and what is already done."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from editbench.protocols.requests import render_request
from editbench.protocols.spec import Protocol
from editbench.records import (
    API_ERROR,
    DEFAULT_REPLY,
    DEFAULT_SCALE,
    EDIT_ERROR,
    RETRIED_STATUSES,
    EditRequest,
    JudgeRequest,
    Sample,
)
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
    call: str  # the protocol call this judgement answers
    edit_key: str
    request: JudgeRequest
    prompt_sha256: str


@dataclass(frozen=True)
class Plan:
    samples: list[Sample]
    edits: list[EditTask]  # one per sample, in sample order
    judgements: list[JudgeTask]  # one per sample and call made for it, in sample order

    def judgements_of(self) -> dict[str, list[JudgeTask]]:
        """Each sample's judgements by sample id, in the protocol's call order."""
        by_sample: dict[str, list[JudgeTask]] = {sample.id: [] for sample in self.samples}
        for task in self.judgements:
            by_sample[task.sample_id].append(task)
        return by_sample


def make_plan(
    samples: Sequence[Sample],
    protocol: Protocol,
    editor_fingerprint: Mapping[str, Any],
    judge_fingerprint: Mapping[str, Any],
    run_seed: int,
    store: Store,
) -> Plan:
    """Key every edit and judgement of ``samples``.

    edit key = editor fingerprint + sample id + input images' hash + instruction + seed;
    judgement key = edit key + judge fingerprint + rendered prompt hash, one per call the
    protocol makes for the sample. The prompt is hashed with its images named by content
    (source hashes, reference hash, edit key), not by path, so moving the store or the dataset
    changes no key.
    """
    edits, judgements = [], []
    for sample in samples:
        image_hashes = [file_sha256(path) for path in sample.images]
        # One input image keeps the key it always had; several are hashed as a list.
        source_sha256 = image_hashes[0] if len(image_hashes) == 1 else content_hash(image_hashes)
        seed = edit_seed(run_seed, sample.id)
        this_edit = edit_key(editor_fingerprint, sample.id, source_sha256, sample.instruction, seed)
        edits.append(
            EditTask(
                this_edit,
                sample.id,
                EditRequest(sample.id, sample.images, sample.instruction, seed, sample.fields()),
                source_sha256,
            )
        )
        edited_image = str(store.edit_image_path(this_edit))
        names = {
            path: f"source:{digest}"
            for path, digest in zip(sample.images, image_hashes, strict=True)
        }
        if sample.reference_image is not None:
            names[sample.reference_image] = f"reference:{file_sha256(sample.reference_image)}"
        names[edited_image] = f"edit:{this_edit}"
        names = {str(Path(path).absolute()): name for path, name in names.items()}
        for call in protocol.calls_for(sample):
            request = render_request(call, sample, edited_image)
            prompt_sha256 = content_hash(_hashed_request(request, names))
            judgement_key = content_hash(
                {"edit_key": this_edit, "judge": judge_fingerprint, "prompt_sha256": prompt_sha256}
            )
            judgements.append(
                JudgeTask(judgement_key, sample.id, call.name, this_edit, request, prompt_sha256)
            )
    return Plan(list(samples), edits, judgements)


def _hashed_request(request: JudgeRequest, names: Mapping[str, str]) -> dict[str, Any]:
    """What a judgement's key hashes of its request. The reply format and scale enter only
    where they differ from a single 0-10 score, so the keys of the judgements stored before
    protocols had them stay the same."""
    hashed: dict[str, Any] = {
        "messages": request.messages_with_images(names),
        "score_prefix": request.score_prefix,
        "reasoning_first": request.reasoning_first,
        "criteria": request.criteria,
        "combine": request.combine,
    }
    if request.reply != DEFAULT_REPLY:
        hashed["reply"] = request.reply
    if tuple(request.scale) != DEFAULT_SCALE:
        hashed["scale"] = list(request.scale)
    return hashed


def pending(
    plan: Plan, store: Store, max_attempts: int = 1
) -> tuple[list[EditTask], list[JudgeTask]]:
    """The edits and judgements of ``plan`` that the store does not hold yet.

    A stored judgement counts as done unless the judge could not be reached (api_error): that
    is the endpoint's failure, not a verdict, so every re-run asks again. An edit or judgement
    that failed on its sample alone (edit_error, judge_error) is tried again until it has been
    tried ``max_attempts`` times; an edit that failed for good has no judgement to make.
    """
    edits, failed_for_good = [], set()
    for task in plan.edits:
        record = store.read_edit(task.key)
        if record is None or _retried(record, max_attempts):
            edits.append(task)
        elif record["status"] == EDIT_ERROR:
            failed_for_good.add(task.key)
    judgements = []
    for task in plan.judgements:
        if task.edit_key in failed_for_good:
            continue
        record = store.read_judgement(task.key)
        if record is None or record["status"] == API_ERROR or _retried(record, max_attempts):
            judgements.append(task)
    return edits, judgements


def _retried(record: Mapping[str, Any], max_attempts: int) -> bool:
    """Whether a stored failure of one sample is tried again."""
    return record["status"] in RETRIED_STATUSES and record.get("attempts", 1) < max_attempts
