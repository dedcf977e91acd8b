"""Judge prompts: checking them against the samples and rendering one judge conversation.

A prompt (one per category, from ``conf/prompts/<category>/``) is a mapping with
``system_prompt``, ``user_prompt_template``, ``score_prefix`` (default
:data:`~editbench.records.DEFAULT_SCORE_PREFIX`) and ``reasoning_first`` (default false). The
user template names sample fields as ``{{name}}``: ``{{instruction}}``, ``{{category}}``,
``{{id}}`` or any extra manifest field. Double braces, because OmegaConf owns ``${...}`` in the
YAML files.

A rubric prompt also has ``criteria``, the names of the scores its reply gives as one JSON
object, each mapped to its group (``SC``: semantic consistency, ``PQ``: perceptual quality),
and ``combine``, how they make one score (:class:`editbench.judges.settings.Combination`; the
config schema rejects any other value when the config is composed).
Its scores are read from a written reply, so it needs a judge in ``generate`` mode
(:func:`check_rubrics`).

Rendering is a single regex pass that inserts each value verbatim, so an instruction holding
``{``, ``$`` or even ``{{instruction}}`` stays plain text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from editbench.choices import Combination
from editbench.errors import EditbenchError
from editbench.records import DEFAULT_COMBINE, DEFAULT_SCORE_PREFIX, JudgeRequest, Sample

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_TEXT_FIELDS = ("system_prompt", "user_prompt_template")


def placeholders(template: str) -> set[str]:
    """The field names that ``template`` refers to as ``{{name}}``."""
    return set(_PLACEHOLDER.findall(template))


def check_prompts(prompts: Mapping[str, Mapping[str, Any]], samples: Sequence[Sample]) -> None:
    """Check that every sample's category has a complete prompt whose placeholders it can fill.

    Raises :class:`EditbenchError` listing every problem: a category with no prompt, a missing
    or empty text field, a wrongly typed option, ``{{`` or ``}}`` that is not a placeholder, a
    placeholder in the system prompt (which is sent as-is), a placeholder that a sample of the
    category has no value for, or a malformed rubric (criteria that are not identifiers mapped
    to groups, a ``combine`` other than the default without criteria, ``viescore`` without SC
    and PQ criteria, a criterion that the user prompt never names).
    """
    problems: list[str] = []
    by_category: dict[str, list[Sample]] = {}
    for sample in samples:
        by_category.setdefault(sample.category, []).append(sample)

    for category, members in by_category.items():
        prompt = prompts.get(category)
        if prompt is None:
            problems.append(
                f"no prompt for category {category!r} (used by sample {members[0].id!r}); "
                f"prompts exist for: {', '.join(sorted(prompts)) or 'none'}"
            )
            continue
        problems += [f"prompts/{category}: {p}" for p in _option_problems(prompt)]
        template = prompt.get("user_prompt_template")
        if not isinstance(template, str):
            continue
        for name in sorted(placeholders(template)):
            lacking = next((s for s in members if name not in _fields(s)), None)
            if lacking is not None:
                problems.append(
                    f"prompts/{category}: placeholder {_braced(name)} in user_prompt_template "
                    f"cannot be filled for sample {lacking.id!r}; its fields are: "
                    f"{', '.join(sorted(_fields(lacking)))}"
                )
    if problems:
        raise EditbenchError("Invalid judge prompts:\n" + "\n".join(f"  {p}" for p in problems))


def check_rubrics(prompts: Mapping[str, Mapping[str, Any]], score_mode: str) -> None:
    """Check that the judge's ``score_mode`` can read every rubric prompt in ``prompts``.

    A rubric's scores are read from the JSON object that the judge writes, so they need
    ``generate``; ``expected`` reads a single score from one next-token distribution. Raises
    :class:`EditbenchError` naming the rubric prompts and the score mode.
    """
    rubrics = sorted(category for category, prompt in prompts.items() if prompt.get("criteria"))
    if rubrics and score_mode != "generate":
        raise EditbenchError(
            f"Rubric prompts ({', '.join(f'prompts/{c}' for c in rubrics)}) are read from the "
            f"judge's written reply; expected scorer.score_mode=generate, got {score_mode!r}"
        )


def render_judge_request(
    sample: Sample, edited_image: str, prompt: Mapping[str, Any]
) -> JudgeRequest:
    """Build the judge conversation for one edit of ``sample``, using its category's ``prompt``.

    The system message is the system prompt; the user message shows the source image, then the
    edited image, then the rendered user prompt. Image parts carry absolute paths. ``prompt`` is
    expected to have passed :func:`check_prompts` for this sample.
    """
    user_text = _render(prompt["user_prompt_template"], _fields(sample), sample)
    messages = [
        {"role": "system", "content": [{"type": "text", "text": prompt["system_prompt"]}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Source image:"},
                {"type": "image", "image": _absolute(sample.image)},
                {"type": "text", "text": "Edited image:"},
                {"type": "image", "image": _absolute(edited_image)},
                {"type": "text", "text": user_text},
            ],
        },
    ]
    criteria = prompt.get("criteria")
    return JudgeRequest(
        messages=messages,
        score_prefix=prompt.get("score_prefix", DEFAULT_SCORE_PREFIX),
        reasoning_first=bool(prompt.get("reasoning_first", False)),
        criteria=dict(criteria) if criteria else None,  # plain data, even from a DictConfig
        combine=prompt.get("combine", DEFAULT_COMBINE),
    )


def _option_problems(prompt: Mapping[str, Any]) -> list[str]:
    """What is wrong with one prompt option, regardless of the samples."""
    problems = []
    for name in _TEXT_FIELDS:
        value = prompt.get(name)
        if value is None:
            problems.append(f"missing {name}; expected a non-empty string")
        elif not isinstance(value, str):
            problems.append(f"{name} is {value!r} ({type(value).__name__}); expected a string")
        elif not value.strip():
            problems.append(f"{name} is empty; expected a non-empty string")
        else:
            stray = _PLACEHOLDER.sub("", value)
            if "{{" in stray or "}}" in stray:
                problems.append(
                    f"{name} has double braces that are not a placeholder; expected "
                    f"{_braced('name')}, the name made of letters, digits and underscores"
                )
    system_prompt = prompt.get("system_prompt")
    if isinstance(system_prompt, str) and placeholders(system_prompt):
        names = ", ".join(_braced(n) for n in sorted(placeholders(system_prompt)))
        problems.append(
            f"system_prompt has placeholders ({names}) but is sent as-is; "
            "expected them in user_prompt_template"
        )
    score_prefix = prompt.get("score_prefix", DEFAULT_SCORE_PREFIX)
    if not isinstance(score_prefix, str) or not score_prefix.strip():
        problems.append(f"score_prefix is {score_prefix!r}; expected a non-empty string")
    reasoning_first = prompt.get("reasoning_first", False)
    if not isinstance(reasoning_first, bool):
        problems.append(f"reasoning_first is {reasoning_first!r}; expected true or false")
    return problems + _rubric_problems(prompt)


def _rubric_problems(prompt: Mapping[str, Any]) -> list[str]:
    """What is wrong with a prompt's ``criteria`` and ``combine``.

    The criteria must be a non-empty mapping of identifiers (the JSON keys the judge writes) to
    non-empty group names; ``combine`` other than the default only with criteria (the schema
    has already checked that it is one of the combinations); ``viescore`` needs an SC and a PQ
    criterion. The user prompt must name every
    criterion, or the judge cannot know which keys to write.
    """
    problems = []
    criteria = prompt.get("criteria")
    combine = prompt.get("combine", DEFAULT_COMBINE)
    if criteria is None:
        if combine != DEFAULT_COMBINE:
            problems.append(f"combine is {combine!r} but there are no criteria to combine")
        return problems
    if not isinstance(criteria, Mapping) or not criteria:
        problems.append(
            f"criteria is {criteria!r}; expected a mapping of criterion names to groups"
        )
        return problems

    for name, group in criteria.items():
        if not (isinstance(name, str) and name.isascii() and name.isidentifier()):
            problems.append(
                f"criterion name {name!r} is not an identifier; expected letters, digits and "
                "underscores, not starting with a digit"
            )
        if not isinstance(group, str) or not group.strip():
            problems.append(f"criterion {name!r} has group {group!r}; expected a non-empty string")
    groups = sorted({group.upper() for group in criteria.values() if isinstance(group, str)})
    if combine == Combination.viescore and not {"SC", "PQ"} <= set(groups):
        problems.append(f"combine is 'viescore', which needs SC and PQ criteria; groups: {groups}")
    template = prompt.get("user_prompt_template")
    if isinstance(template, str):
        # Placeholders are filled per sample, so a name inside one does not count.
        text = _PLACEHOLDER.sub("", template)
        unnamed = [
            name
            for name in criteria
            if isinstance(name, str) and not re.search(rf"\b{re.escape(name)}\b", text)
        ]
        if unnamed:
            problems.append(
                f"user_prompt_template never names the criteria {unnamed}; the judge must be "
                "told which keys to write"
            )
    return problems


def _absolute(path: str) -> str:
    """``path`` made absolute; an absolute path is returned unchanged, so callers can map the
    parts back to the paths they passed (the plan names images by content when hashing)."""
    return str(Path(path).absolute())


def _braced(name: str) -> str:
    """``name`` written as a placeholder, for messages."""
    return "{{" + name + "}}"


def _fields(sample: Sample) -> dict[str, str]:
    """The values a template can insert for ``sample``: its extra fields, id, category and
    instruction. A null extra field has no value; a non-string one is inserted as JSON."""
    fields = {
        name: value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        for name, value in sample.extra.items()
        if value is not None
    }
    fields.update(id=sample.id, category=sample.category, instruction=sample.instruction)
    return fields


def _render(template: str, fields: Mapping[str, str], sample: Sample) -> str:
    """Replace every placeholder in one pass; inserted values are never scanned again."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in fields:
            raise EditbenchError(
                f"Placeholder {_braced(name)} cannot be filled for sample {sample.id!r} "
                f"(category {sample.category!r}); its fields are: {', '.join(sorted(fields))}"
            )
        return fields[name]

    return _PLACEHOLDER.sub(value, template)
