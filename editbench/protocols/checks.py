"""A protocol checked against the samples it will judge, before any model loads."""

from __future__ import annotations

from collections.abc import Sequence

from editbench.choices import Combination
from editbench.errors import EditbenchError
from editbench.prompts import placeholders, prompt_problems, template_fields
from editbench.protocols.spec import Call, Protocol
from editbench.records import Sample

_MAX_LISTED = 20  # problems listed in one error; the rest are counted


def check_protocol(protocol: Protocol, samples: Sequence[Sample]) -> None:
    """Check that every call made for every sample has a complete prompt whose placeholders
    the sample fills and whose images it has, and that the protocol's combination fits its
    calls.

    Raises :class:`EditbenchError` listing every problem: every prompt key (category or
    variant) that has no prompt, with a sample that needs it; a prompt's bad setting
    (:func:`~editbench.prompts.prompt_problems`); a placeholder a sample cannot fill; a
    reference image a sample lacks; criteria names shared by two calls; weights that do not
    name exactly the calls.
    """
    problems = _combination_problems(protocol)
    checked: set[tuple[str, str | None]] = set()
    for call in protocol.calls:
        for sample in samples:
            if not call.made_for(sample):
                continue
            key = call.key_of(sample)
            prompt = call.prompt_for(sample)
            if prompt is None:
                if (call.name, key) not in checked:
                    problems.append(_no_prompt(call, key, sample))
                checked.add((call.name, key))
                continue
            where = f"protocol {protocol.name}, call {call.name}, prompt {key!r}"
            if (call.name, key) not in checked:
                checked.add((call.name, key))
                problems += [f"{where}: {p}" for p in prompt_problems(prompt)]
            problems += _sample_problems(where, prompt, sample)
    problems += _shared_criteria(protocol, samples)
    if problems:
        shown = list(dict.fromkeys(problems))  # one line per distinct problem
        lines = [f"  {p}" for p in shown[:_MAX_LISTED]]
        if len(shown) > _MAX_LISTED:
            lines.append(f"  ... and {len(shown) - _MAX_LISTED} more")
        raise EditbenchError("Invalid judging protocol:\n" + "\n".join(lines))


def _no_prompt(call: Call, key: str | None, sample: Sample) -> str:
    available = ", ".join(sorted(call.prompts)) or "none"
    if key is None:
        return (
            f"call {call.name}: sample {sample.id!r} has no field {call.prompt_key!r} to pick "
            f"its prompt by"
        )
    noun = "category" if call.prompt_key == "category" else f"{call.prompt_key}"
    return (
        f"call {call.name}: no prompt for {noun} {key!r} (used by sample {sample.id!r}) and "
        f"no default prompt; prompts exist for: {available}"
    )


def _sample_problems(where: str, prompt: dict, sample: Sample) -> list[str]:
    problems = []
    template = prompt.get("user_prompt_template")
    if isinstance(template, str) and not prompt.get("literal", False):
        fields = template_fields(sample)
        for name in sorted(placeholders(template) - set(fields)):
            problems.append(
                f"{where}: placeholder {{{{{name}}}}} cannot be filled for sample {sample.id!r}; "
                f"its fields are: {', '.join(sorted(fields))}"
            )
    if "reference" in prompt["images"] and sample.reference_image is None:
        problems.append(
            f"{where}: shows the reference image, which sample {sample.id!r} does not have"
        )
    return problems


def _combination_problems(protocol: Protocol) -> list[str]:
    names = [call.name for call in protocol.calls]
    problems = []
    if not names:
        problems.append(f"protocol {protocol.name} has no calls; expected at least one")
    if protocol.combine == Combination.viescore:
        problems.append(
            "protocol combine is 'viescore', a prompt's combination of SC and PQ criteria; "
            "for calls named SC and PQ use geometric_mean (sqrt(SC * PQ))"
        )
    if protocol.combine == Combination.weighted:
        weights = protocol.weights or {}
        if set(weights) != set(names):
            problems.append(
                f"combine is 'weighted': weights name {sorted(weights)}; expected exactly the "
                f"calls {names}"
            )
        elif any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            problems.append(f"weights {dict(weights)}; expected non-negative, not all zero")
    elif protocol.weights is not None:
        problems.append(f"weights given but combine is {protocol.combine!r}, not 'weighted'")
    if protocol.score_is_all_max and protocol.all_max_as is None:
        problems.append("score_is_all_max is true but all_max_as names no criterion")
    if protocol.rescale_to is not None and not protocol.rescale_to[0] < protocol.rescale_to[1]:
        problems.append(f"rescale_to {list(protocol.rescale_to)}; expected [low, high], low < high")
    return problems


def _shared_criteria(protocol: Protocol, samples: Sequence[Sample]) -> list[str]:
    """A sample's criteria are reported by name, beside its calls' scores where it has several
    calls: no two of its calls may give the same criterion, nor a criterion be named as a call."""
    problems = []
    seen: set[tuple[tuple[str, str | None], ...]] = set()
    for sample in samples:
        calls = protocol.calls_for(sample)
        signature = tuple((call.name, call.key_of(sample)) for call in calls)
        if signature in seen:  # samples with the same calls and prompts: checked once
            continue
        seen.add(signature)
        call_names = {call.name for call in calls} if len(calls) > 1 else set()
        owner: dict[str, str] = {}
        for call in calls:
            for name in (call.prompt_for(sample) or {}).get("criteria") or {}:
                first = owner.setdefault(name, call.name)
                if first != call.name or name in call_names:
                    problems.append(
                        f"protocol {protocol.name}: criterion {name!r} of call {call.name} is "
                        f"also given by call {first if first != call.name else name} (sample "
                        f"{sample.id!r}); expected every criterion and call name to differ"
                    )
    return problems
