"""Reading a 0..10 score out of a judge's free-text reply, strictly.

A reply *states* a score in one of these forms, and only these:

- labelled: ``Score: 8.5``, ``**Score:** 7``, ``Final score = 6``, ``Score (0-10): 7``,
  ``评分：7``, ``分数: 7``, ``得分：7分`` (the label is the word "score" or 评分 / 分数 / 得分,
  then ``:``, ``：`` or ``=``);
- a fraction of 10: ``6/10``, ``6 / 10``, ``6 out of 10``;
- a JSON object with a ``score`` field, bare or inside a ```json fence;
- the whole reply is one number: ``8.500`` (or ``8.``).

Everything else is not a score statement: counts, steps, sizes and years ("3 birds",
"step 2", "1024x1024", "2024"), and loose phrasings such as "I'd give it a 7" or "the score is
7", which we deliberately do not read (a missed score is a visible ``parse_error``; a misread
one is a silent wrong number). A fraction followed by a word on the same line ("3 out of 10
birds", "6/10 images") is a quantity, not a score.

The reply's score is certain when it states at least one score, every statement gives the same
value, and that value lies in 0..10. A statement that names a score but garbles it ("Score:
7-8", "Score: 7/5", "Score: 1024x1024", ``{"score": null}``) makes the whole reply uncertain.

A rubric reply (:func:`parse_criteria`) gives several named scores as one JSON object at its
end, bare or inside a ```json fence, after optional reasoning.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Iterator

_NUMBER = r"-?\d+(?:\.\d+)?"

# The label, optional markdown and a parenthesised scale ("Score (0-10)"), a separator, then the
# number. "score" must start a word ("Subscore: 3" is not a score); Chinese has no word breaks.
_LABELLED = re.compile(
    r"(?:\bscore|评分|分数|得分)[*_]*\s*(?:\([^()\n]{0,20}\)\s*)?[:：=][\s*_]*"
    rf"(?P<value>{_NUMBER})",
    re.I,
)
# What may follow a labelled number and makes it not one clean value: more digits ("7.5.1",
# "7,5"), a letter or unit ("1024x1024", "7%"), a range on the same line ("7-8", "7 to 8").
_GARBLED_TAIL = re.compile(r"[.,]?\d|[A-Za-z%]|[ \t]*(?:[-–—~]|to\b|or\b)[ \t]*\d", re.I)
# A scale after a labelled number ("Score: 7/10", "Score: 7 out of 10"); it must be 10.
_SCALE_TAIL = re.compile(r"[ \t]*(?:/|out[ \t]+of)[ \t]*(?P<scale>\d+(?:\.\d+)?)", re.I)

# "6/10", "6 / 10", "6 out of 10": not glued to a number, word or date on either side, and not
# followed by a word on the same line. At most two digits, so a year ("2024/10") is no score.
_FRACTION = re.compile(
    r"(?<![\w.,/+-])(?P<value>-?\d{1,2}(?:\.\d+)?)[ \t]*(?:/|out[ \t]+of)[ \t]*10(?:\.0+)?"
    r"(?![.,/]?\d)(?![ \t]*[^\W\d_])",
    re.I,
)
_BARE = re.compile(rf"\s*[*_]*(?P<value>{_NUMBER})[*_]*\.?\s*")

_UNCERTAIN = math.nan  # a statement that names a score but does not give one clean value

# What may follow a rubric's JSON object: whitespace and the closing fence of a ```json block.
_AFTER_OBJECT = re.compile(r"\s*(?:```\s*)?")


def parse_score(reply: str) -> float | None:
    """The score in 0..10 that ``reply`` states with certainty, or None.

    None when the reply states no score, states different scores, or states one that is out of
    range or garbled. The same score stated twice ("Score: 7 ... 7/10") is fine.
    """
    values = set(_statements(reply))
    if len(values) != 1:
        return None
    (value,) = values
    if math.isnan(value) or not 0 <= value <= 10:
        return None
    return value + 0.0  # "-0" reads as 0.0, not -0.0


def parse_criteria(reply: str, names: Collection[str]) -> dict[str, float] | None:
    """The score of each criterion in ``names`` that ``reply`` gives with certainty, or None.

    The reply must hold exactly one JSON object and end with it (a closing ``` fence may follow);
    text before it is the judge's reasoning and is not read. The object's keys must be exactly
    ``names``, each once, and each value a number in 0..10 (written as a JSON number or, as for
    :func:`parse_score`, a numeric string). Anything else is None: a missing, unknown or
    repeated criterion, a value that is not a number or out of range, text after the object, or
    a second object (two objects could disagree, and neither is certainly the answer).
    """
    objects = list(_top_level_objects(reply))
    if len(objects) != 1:
        return None
    ((pairs, end),) = objects
    if _AFTER_OBJECT.fullmatch(reply, end) is None:
        return None
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)) or set(keys) != set(names):
        return None
    scores = {key: _json_value(value) for key, value in pairs}
    if not all(0 <= score <= 10 for score in scores.values()):  # NaN fails the comparison
        return None
    return {name: scores[name] + 0.0 for name in names}


def text_through_prefix(reply: str, prefix: str) -> str | None:
    """``reply`` up to and including the first ``prefix`` (the score label of a reasoning-first
    prompt, e.g. ``"Score:"``), or None when the reply never writes it."""
    index = reply.find(prefix)
    return None if index < 0 else reply[: index + len(prefix)]


def _statements(reply: str) -> Iterator[float]:
    """Every score the reply states, NaN for each garbled one."""
    bare = _BARE.fullmatch(reply)
    if bare:
        yield float(bare["value"])
        return
    for match in _LABELLED.finditer(reply):
        yield _labelled_value(match, reply[match.end() :])
    for match in _FRACTION.finditer(reply):
        yield float(match["value"])
    yield from _json_scores(reply)


def _labelled_value(match: re.Match[str], tail: str) -> float:
    scale = _SCALE_TAIL.match(tail)
    if scale:
        return float(match["value"]) if float(scale["scale"]) == 10 else _UNCERTAIN
    if _GARBLED_TAIL.match(tail):
        return _UNCERTAIN
    return float(match["value"])


def _json_scores(reply: str) -> Iterator[float]:
    """The ``score`` field of every JSON object in the reply (nested ones included)."""
    decoder = json.JSONDecoder()
    for brace in re.finditer(r"\{", reply):
        try:
            document, _ = decoder.raw_decode(reply, brace.start())
        except ValueError:
            continue
        if not isinstance(document, dict):
            continue
        for key, value in document.items():
            if key.lower() == "score":
                yield _json_value(value)


def _top_level_objects(reply: str) -> Iterator[tuple[list[tuple[str, object]], int]]:
    """Every JSON object in the reply that is not inside another one: its key-value pairs in
    order (repeated keys kept, so that they can be caught) and the index where it ends."""
    decoder = json.JSONDecoder(object_pairs_hook=list)
    end = 0
    for brace in re.finditer(r"\{", reply):
        if brace.start() < end:
            continue
        try:
            pairs, end = decoder.raw_decode(reply, brace.start())
        except ValueError:
            continue
        yield pairs, end


def _json_value(value: object) -> float:
    if isinstance(value, bool):
        return _UNCERTAIN
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and re.fullmatch(_NUMBER, value.strip()):
        return float(value)
    return _UNCERTAIN
