"""Judge prompts: checking one prompt's settings and rendering its user template for a sample.

A prompt (a protocol call's, or ``conf/prompts/<category>/`` for the editbench protocol) is a
mapping with ``user_prompt_template``, an optional ``system_prompt``, and how its reply is read:
``reply`` (one ``score``, or named scores as a ``json_object``, a ``score_list`` or ``lines``),
``scale``, ``score_prefix`` (default :data:`~editbench.records.DEFAULT_SCORE_PREFIX`),
``reasoning_first`` (default false) and, for named scores, ``criteria`` (each name mapped to its
group, e.g. ``SC``: semantic consistency, ``PQ``: perceptual quality) and ``combine``, how they
make one score (:class:`editbench.choices.Combination`; the config schema rejects any other
value when the config is composed). The user template names sample fields as ``{{name}}``:
``{{instruction}}``, ``{{category}}``, ``{{id}}``, ``{{reference_text}}`` or any extra field.
Double braces, because OmegaConf owns ``${...}`` in the YAML files.

Rendering is a single regex pass that inserts each value verbatim, so an instruction holding
``{``, ``$`` or even ``{{instruction}}`` stays plain text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from editbench.choices import Combination
from editbench.errors import EditbenchError
from editbench.records import (
    DEFAULT_COMBINE,
    DEFAULT_REPLY,
    DEFAULT_SCALE,
    DEFAULT_SCORE_PREFIX,
    Sample,
)

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def placeholders(template: str) -> set[str]:
    """The field names that ``template`` refers to as ``{{name}}``."""
    return set(_PLACEHOLDER.findall(template))


def render_template(template: str, sample: Sample) -> str:
    """``template`` with every placeholder replaced by the sample's value (see
    :func:`template_fields`); raises :class:`EditbenchError` for one it cannot fill."""
    return _render(template, template_fields(sample), sample)


def template_fields(sample: Sample) -> dict[str, str]:
    """The values a template can insert for ``sample``: its fields (:meth:`Sample.fields`). A
    null field has no value; a non-string one is inserted as JSON."""
    return {
        name: value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        for name, value in sample.fields().items()
        if value is not None
    }


def prompt_problems(prompt: Mapping[str, Any]) -> list[str]:
    """What is wrong with one prompt's settings, regardless of the samples."""
    return _option_problems(prompt)


def _option_problems(prompt: Mapping[str, Any]) -> list[str]:
    """What is wrong with one prompt's settings, regardless of the samples."""
    problems = _text_problems(prompt)
    score_prefix = prompt.get("score_prefix", DEFAULT_SCORE_PREFIX)
    if not isinstance(score_prefix, str) or not score_prefix.strip():
        problems.append(f"score_prefix is {score_prefix!r}; expected a non-empty string")
    reasoning_first = prompt.get("reasoning_first", False)
    if not isinstance(reasoning_first, bool):
        problems.append(f"reasoning_first is {reasoning_first!r}; expected true or false")
    scale = prompt.get("scale", DEFAULT_SCALE)
    if not (
        isinstance(scale, list | tuple)
        and len(scale) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in scale)
        and scale[0] < scale[1]
    ):
        problems.append(f"scale is {scale!r}; expected [lowest, highest] with lowest < highest")
    return problems + _criteria_problems(prompt)


def _text_problems(prompt: Mapping[str, Any]) -> list[str]:
    problems = []
    literal = prompt.get("literal", False)
    if not isinstance(literal, bool):
        problems.append(f"literal is {literal!r}; expected true or false")
    for name in ("system_prompt", "user_prompt_template"):
        value = prompt.get(name)
        if value is None:
            if name == "user_prompt_template":
                problems.append(f"missing {name}; expected a non-empty string")
        elif not isinstance(value, str):
            problems.append(f"{name} is {value!r} ({type(value).__name__}); expected a string")
        elif not value.strip():
            problems.append(f"{name} is empty; expected a non-empty string")
        elif literal is not True:
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
    return problems


def _criteria_problems(prompt: Mapping[str, Any]) -> list[str]:
    """What is wrong with a prompt's ``reply``, ``criteria`` and ``combine``.

    A reply of one score has no criteria and nothing to combine; a reply of named scores needs
    them: a non-empty mapping of names to non-empty group names (identifiers where they are
    JSON keys; for lines, a name without ``:``). ``viescore`` needs an SC and a PQ criterion;
    ``weighted`` is a protocol's combination, not a prompt's. The user prompt must name every
    JSON key and line name, or the judge cannot know what to write.
    """
    problems = []
    reply = prompt.get("reply", DEFAULT_REPLY)
    criteria = prompt.get("criteria")
    combine = prompt.get("combine", DEFAULT_COMBINE)
    if combine == Combination.weighted:
        problems.append("combine is 'weighted', which only a protocol's calls can use")
    if reply == DEFAULT_REPLY:
        if criteria is not None:
            problems.append(
                "criteria given but reply is 'score' (one number); expected reply: "
                "json_object, score_list or lines for named scores"
            )
        elif combine != DEFAULT_COMBINE:
            problems.append(f"combine is {combine!r} but there are no criteria to combine")
        return problems
    if not isinstance(criteria, Mapping) or not criteria:
        problems.append(
            f"reply is {reply!r} but criteria is {criteria!r}; expected a mapping of the "
            "reply's score names to groups"
        )
        return problems

    for name, group in criteria.items():
        if reply == "lines":
            if not isinstance(name, str) or not name.strip() or ":" in name or "\n" in name:
                problems.append(
                    f"criterion name {name!r}; expected a line name without ':' or line breaks"
                )
        elif not (isinstance(name, str) and name.isascii() and name.isidentifier()):
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
    if isinstance(template, str) and reply in ("json_object", "lines"):
        # Placeholders are filled per sample, so a name inside one does not count.
        text = _PLACEHOLDER.sub("", template)
        unnamed = [
            name
            for name in criteria
            if isinstance(name, str) and not re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text)
        ]
        if unnamed:
            problems.append(
                f"user_prompt_template never names the criteria {unnamed}; the judge must be "
                "told which keys to write"
            )
    return problems


def _braced(name: str) -> str:
    """``name`` written as a placeholder, for messages."""
    return "{{" + name + "}}"


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
