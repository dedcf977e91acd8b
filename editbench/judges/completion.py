"""Reading a chat completion's response body without trusting it: every field the judge reads is
checked for the type the OpenAI API gives it, so that a proxy's HTML page, cut JSON or a field
of the wrong type is named as such rather than met as an exception deep in the judge.

The token ``usage`` is read the same way, with one difference: a usage that is wrong does not
make the body no completion (the verdict is the judge's and stands); it is left out and the
problem is said."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from openai.types.chat import ChatCompletionTokenLogprob
from pydantic import ValidationError

from editbench.records import MAX_TOKEN_COUNT, USAGE_FIELDS

# The most a log-probability may exceed 0 by float rounding; more is no log-probability.
_LOGPROB_SLACK = 1e-4
_TOKEN_COUNT = "a token count (an integer >= 0, below 2**53)"


class NotACompletion(Exception):
    """A response body that is not a chat completion; the message says which part is not."""


@dataclass(frozen=True)
class Completion:
    """What the judge reads of a chat completion: its first choice and the tokens it used,
    every field checked."""

    content: str | None
    refusal: str | None
    finish_reason: str | None  # any string: servers add their own ("eos", "abort")
    tokens: list[ChatCompletionTokenLogprob] | None  # None unless asked for and returned
    # {"prompt_tokens": ..., "completion_tokens": ...}; None where the body has no usage or a
    # wrong one, and then ``usage_problem`` says what is wrong with it
    usage: dict[str, int] | None
    usage_problem: str | None


def read_completion(body: bytes, with_logprobs: bool) -> Completion:
    """The first choice of a chat completion response ``body``, with its logprobs when
    ``with_logprobs``, and its token usage; raises :class:`NotACompletion` naming the first
    field of the choice that is missing or of another type than the API gives it."""
    try:
        completion = json.loads(body)
    except (ValueError, RecursionError) as error:  # RecursionError: JSON nested too deep
        raise NotACompletion(f"the body is not JSON ({type(error).__name__}: {error})") from None
    if not isinstance(completion, dict):
        raise NotACompletion(f"the body is {_kind(completion)}; expected a JSON object")
    choices = _field(completion, "choices", "", list, "a non-empty list")
    if not choices:
        raise NotACompletion("choices is an empty list; expected a non-empty list")
    choice = choices[0]
    if not isinstance(choice, dict):
        raise NotACompletion(f"choices[0] is {_kind(choice)}; expected an object")
    message = _field(choice, "message", "choices[0]", dict, "an object")
    text = (str, type(None))
    try:
        usage, usage_problem = _usage(completion.get("usage")), None
    except NotACompletion as problem:
        usage, usage_problem = None, str(problem)
    return Completion(
        content=_field(message, "content", "choices[0].message", text, "a string or null"),
        refusal=_field(message, "refusal", "choices[0].message", text, "a string or null"),
        finish_reason=_field(choice, "finish_reason", "choices[0]", text, "a string or null"),
        tokens=_logprob_tokens(choice.get("logprobs")) if with_logprobs else None,
        usage=usage,
        usage_problem=usage_problem,
    )


def _field(parent: dict[str, Any], key: str, where: str, kind: Any, expected: str) -> Any:
    """``parent[key]`` (None where it is missing), unless it is not of ``kind``; ``where`` is
    the path to ``parent`` in the body, as an error names it."""
    value = parent.get(key)
    if not isinstance(value, kind):
        found = _kind(value) if key in parent else "missing"
        name = f"{where}.{key}" if where else key
        raise NotACompletion(f"{name} is {found}; expected {expected}")
    return value


def _usage(usage: Any) -> dict[str, int] | None:
    """The prompt and completion token counts of a body's ``usage``, None where it has none.
    Raises :class:`NotACompletion` for a usage that is not an object of two counts (the other
    fields the API puts there, ``total_tokens`` and the details, are not read)."""
    if usage is None:
        return None
    if not isinstance(usage, dict):
        raise NotACompletion(f"usage is {_kind(usage)}; expected an object")
    counts = {}
    for name in USAGE_FIELDS:
        value = _field(usage, name, "usage", int, _TOKEN_COUNT)
        if isinstance(value, bool) or not 0 <= value < MAX_TOKEN_COUNT:
            raise NotACompletion(f"usage.{name} is {_kind(value)}; expected {_TOKEN_COUNT}")
        counts[name] = value
    return counts


def _logprob_tokens(logprobs: Any) -> list[ChatCompletionTokenLogprob] | None:
    """The reply's token logprobs, None where the server sent none. Each token is checked as
    the API defines it, and more: log-probabilities at most 0 (not NaN) and bytes in 0..255,
    so that a distribution read from them is a distribution."""
    if logprobs is None:
        return None
    if not isinstance(logprobs, dict):
        raise NotACompletion(f"choices[0].logprobs is {_kind(logprobs)}; expected an object")
    tokens = _field(logprobs, "content", "choices[0].logprobs", (list, type(None)), "a list")
    if tokens is None:
        return None
    checked = []
    for index, token in enumerate(tokens):
        where = f"choices[0].logprobs.content[{index}]"
        if isinstance(token, dict) and token.get("top_logprobs") is None:
            # No alternatives: read as "server returned no top_logprobs", like no logprobs.
            token = {**token, "top_logprobs": []}
        try:
            checked.append(ChatCompletionTokenLogprob.model_validate(token))
        except ValidationError as error:
            first = error.errors()[0]
            place = ".".join(str(part) for part in first["loc"])
            raise NotACompletion(f"{where} is no token logprob ({place}: {first['msg']})") from None
        values = [checked[-1].logprob, *(top.logprob for top in checked[-1].top_logprobs)]
        wrong = [value for value in values if not value <= _LOGPROB_SLACK]  # NaN too
        if wrong:
            raise NotACompletion(f"{where} has the logprob {wrong[0]!r}; expected a number <= 0")
        if not all(0 <= byte < 256 for byte in checked[-1].bytes or ()):
            raise NotACompletion(f"{where}.bytes is {checked[-1].bytes}; expected bytes 0..255")
    return checked


def _kind(value: Any) -> str:
    """The JSON type of a parsed value, as an error names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({json.dumps(value)})"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    return "an object"
