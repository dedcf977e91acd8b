"""One call's judge conversation for one sample: its prompt rendered, its images in order."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image

from editbench.prompts import render_template
from editbench.protocols.spec import Call
from editbench.records import (
    DEFAULT_COMBINE,
    DEFAULT_REPLY,
    DEFAULT_SCORE_PREFIX,
    JudgeRequest,
    Sample,
)


def render_request(call: Call, sample: Sample, edited_image: str) -> JudgeRequest:
    """The judge conversation of ``call`` for the edit at ``edited_image`` of ``sample``.

    One user message (after a system message where the prompt has one) holding the rendered
    user prompt and the call's images, in its order: each source image, the edit, the
    reference; the text comes first where the call says so, else last. Each image is preceded
    by its caption where the call has captions. Image parts carry absolute paths; where the
    call resizes the edit to the source's size, its part says so (``resize_to``). The prompt is
    expected to have passed :func:`~editbench.protocols.checks.check_protocol` for the sample.
    """
    prompt = call.prompt_for(sample)
    if prompt is None:
        raise ValueError(f"call {call.name!r} has no prompt for sample {sample.id!r}")
    template = prompt["user_prompt_template"]
    if not prompt.get("literal", False):
        template = render_template(template, sample)
    text = {"type": "text", "text": template}
    images = _image_parts(prompt["images"], prompt["labels"], call, sample, edited_image)
    content = [text, *images] if call.text_first else [*images, text]
    messages = []
    if prompt.get("system_prompt") is not None:
        messages.append(
            {"role": "system", "content": [{"type": "text", "text": prompt["system_prompt"]}]}
        )
    messages.append({"role": "user", "content": content})
    criteria = prompt.get("criteria")
    scale = prompt.get("scale") or (0.0, 10.0)
    return JudgeRequest(
        messages=messages,
        score_prefix=prompt.get("score_prefix", DEFAULT_SCORE_PREFIX),
        reasoning_first=bool(prompt.get("reasoning_first", False)),
        criteria=dict(criteria) if criteria else None,  # plain data, even from a DictConfig
        combine=prompt.get("combine", DEFAULT_COMBINE),
        reply=prompt.get("reply", DEFAULT_REPLY),
        scale=(float(scale[0]), float(scale[1])),
    )


def _image_parts(
    roles: tuple[str, ...],
    labels: Mapping[str, str] | None,
    call: Call,
    sample: Sample,
    edited_image: str,
) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []

    def add(role: str, path: str, number: int = 1) -> None:
        if labels and labels.get(role):
            parts.append({"type": "text", "text": labels[role].replace("{n}", str(number))})
        parts.append({"type": "image", "image": _absolute(path)})

    for role in roles:
        if role == "source":
            for number, path in enumerate(sample.images, start=1):
                add(role, path, number)
        elif role == "edit":
            add(role, edited_image)
            if call.resize_edit_to_source:
                with Image.open(sample.image) as source:  # reads the header only
                    parts[-1]["resize_to"] = list(source.size)
        elif role == "reference":
            if sample.reference_image is None:
                raise ValueError(f"sample {sample.id!r} has no reference image to show")
            add(role, sample.reference_image)
        else:
            raise ValueError(f"unknown image role {role!r}")
    return parts


def _absolute(path: str) -> str:
    """``path`` made absolute; an absolute path is returned unchanged, so callers can map the
    parts back to the paths they passed (the plan names images by content when hashing)."""
    return str(Path(path).absolute())
