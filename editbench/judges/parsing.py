"""Reading a judge's scores out of its free-text reply, strictly.

A missed score is a visible ``parse_error``; a misread one is a silent wrong number. So every
parser here reads only what is certain, and a reply that might mean two things is None.

One score (:func:`parse_score`), on a scale ``lo..hi`` (0..10 unless told), is *stated* in one
of these forms, and only these:

- labelled: ``Score: 8.5``, ``**Score:** 7``, ``Final score = 6``, ``Score (0-10): 7``,
  ``My final score: 7``, ``评分：7``, ``分数: 7``, ``得分：7分`` (the label is the word "score"
  or 评分 / 分数 / 得分, then ``:``, ``：`` or ``=``); a scale after the number (``Score: 7/10``,
  ``Score: 7 out of 10``) must be ``hi``;
- a fraction of ``hi``: ``6/10``, ``6 / 10``, ``6 out of 10`` (``4/5`` on a 1..5 scale); a
  fraction of 10 on another scale is uncertain;
- prose with "score" as the noun: ``The score is 8.``, ``I would give it a score of 7.``,
  ``The final score would be 7.``, ``the edit deserves a score of 9``;
- a JSON object with a ``score`` field, bare or inside a ```json fence;
- the whole reply is one number: ``8.500`` (or ``8.``).

Everything else is not a score statement: counts, steps, sizes and years ("3 birds",
"step 2", "1024x1024", "2024"), and loose phrasings without the noun, such as "I'd give it a 7",
"Rating: 7" or "评分是7". A fraction followed by a word on the same line ("3 out of 10 birds",
"6/10 images") is a quantity, not a score.

Prose and fractions are read only when the judge commits to them. The number must end its
clause (``.``, ``!``, the end of the line or of the reply may follow, after markdown ``*``/``_``),
and the sentence before it must hold no negation or hedge (not, n't, never, no, if, unless,
than, instead, could, might, maybe, perhaps, between, either, ...). "a score of 7 would be too
high", "I would not give it a score of 7.", "If the shadow were right, it would get a score of
9." and "a score of 7-8." each name a score without stating one, so they make the reply
uncertain rather than being skipped.

The reply's score is certain when it states at least one score, every statement gives the same
value, and that value lies in ``lo..hi``. A statement that names a score but garbles it
("Score: 7-8", "Score: 7/5", "Score: 1024x1024", ``{"score": null}``) makes the whole reply
uncertain.

Several scores come in three forms:

- a rubric (:func:`parse_criteria`): one JSON object of named scores at the reply's end;
- a score list (:func:`parse_score_list`, VIEScore's ``{"score": [8, 3], "reasoning": ...}``);
- named lines (:func:`parse_named_lines`, ImgEdit's ``Prompt Compliance: 4``).
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_right
from collections.abc import Collection, Iterator, Sequence

_NUMBER = r"-?\d+(?:\.\d+)?"

# The label, optional markdown and a parenthesised scale ("Score (0-10)"), a separator, then the
# number. "score" must start a word ("Subscore: 3" is not a score); Chinese has no word breaks.
_LABELLED = re.compile(
    r"(?:\bscore|评分|分数|得分)[*_]*\s*(?:\([^()\n]{0,20}\)\s*)?[:：=][\s*_]*"
    rf"(?P<value>{_NUMBER})",
    re.I,
)
_MARKDOWN = re.compile(r"[*_]*")
# What may follow a stated number and makes it not one clean value: more digits ("7.5.1",
# "7,5"), a letter or unit ("1024x1024", "7%"), a range on the same line ("7-8", "7 to 8").
_GARBLED_TAIL = re.compile(r"[.,]?\d|[A-Za-z%]|[ \t]*(?:[-–—~]|to\b|or\b)[ \t]*\d", re.I)
# A scale after a stated number ("Score: 7/10", "Score: 7 out of 10"); it must be the scale's hi.
_SCALE_TAIL = re.compile(r"[ \t]*(?:/|out[ \t]+of)[ \t]*(?P<scale>\d+(?:\.\d+)?)", re.I)

# "6/10", "6 / 10", "6 out of 10": not glued to a number, word or date on either side, and not
# followed by a word on the same line. At most three digits, so a year ("2024/10") is no score.
_FRACTION = re.compile(
    r"(?<![\w.,/+-])(?P<value>-?\d{1,3}(?:\.\d+)?)[ \t]*(?:/|out[ \t]+of)[ \t]*"
    r"(?P<scale>\d+(?:\.\d+)?)(?![.,/]?\d)(?![ \t]*[^\W\d_])",
    re.I,
)
_BARE = re.compile(rf"\s*[*_]*(?P<value>{_NUMBER})[*_]*\.?\s*")

# "score" as a noun that takes a value: "score of", "score is", "score would be", "score to be".
_PROSE = re.compile(
    r"(?<![\w-])score\s+(?:of|is|isn['’]t|(?:[\w']+\s+){1,2}be)\b[ \t]*[:：]?\s*", re.I
)
_PROSE_VALUE = re.compile(rf"(?:an?[ \t]+)?[*_]*(?P<value>{_NUMBER})", re.I)
# The end of a clause after a stated number: a full stop (not "7.5" or "7..."), "!", a line end.
_CLAUSE_END = re.compile(r"[*_]*(?:[.!。！](?![\d.])|[ \t\r]*(?:\n|\Z))")
# A sentence ends at ".", "!" or "?" before a space, or at a line break, when what follows does
# not start in lower case ("i.e. darker" and a wrapped line go on with the same sentence).
_SENTENCE_BREAK = re.compile(r"(?:[.!?](?=\s)|\n)(?=\s*[^\sa-z])|[。！？]")
# Words that turn a sentence's number into a hypothetical, a rejection or a guess.
_HEDGE = re.compile(
    r"n['’]t\b|\b(?:not|never|no|nor|neither|cannot|if|unless|than|instead|could|might|may|"
    r"maybe|perhaps|possibly|probably|between|either|whether|otherwise|at\s+(?:least|most)|"
    r"would\s+have)\b|['’]d\s+have\b",
    re.I,
)

_DIGIT = re.compile(r"\d")

_UNCERTAIN = math.nan  # a statement that names a score but does not give one clean value

# What may follow a rubric's JSON object: whitespace and the closing fence of a ```json block.
_AFTER_OBJECT = re.compile(r"\s*(?:```\s*)?")
# A comma right before a closing brace: not JSON, but what a template with one gets back.
_TRAILING_COMMA = re.compile(r",(\s*\})")
# A reply that is only a list of scores, bare or inside a ``` fence.
_WHOLE_LIST = re.compile(r"\s*(?:```(?:json)?\s*)?(?P<list>\[[^\[\]{}]*\])\s*(?:```)?\s*", re.I)
# A line's start before a named score: indent, a bullet, number or heading, markdown.
_LINE_START = r"^[ \t]*(?:(?:[-*+•]|\d{1,2}[.)]|#{1,6})[ \t]+)?[*_]*[ \t]*"
_WORD_AFTER = re.compile(r"[*_]*[ \t]+[^\W\d_]")

_PAIRS = json.JSONDecoder(object_pairs_hook=list, strict=False)  # strict=False: raw newlines


def parse_score(reply: str, scale: tuple[float, float] = (0.0, 10.0)) -> float | None:
    """The score in ``scale`` (lo..hi, inclusive) that ``reply`` states with certainty, or None.

    None when the reply states no score, states different scores, or states one that is out of
    range, garbled, hedged or of another scale. The same score stated twice ("Score: 7 ...
    7/10") is fine.
    """
    lo, hi = _checked_scale(scale)
    values = set(_statements(reply, hi))
    if len(values) != 1:
        return None
    (value,) = values
    if not lo <= value <= hi:  # NaN fails the comparison
        return None
    return value + 0.0  # "-0" reads as 0.0, not -0.0


def parse_criteria(
    reply: str, names: Collection[str], scale: tuple[float, float] = (0.0, 10.0)
) -> dict[str, float] | None:
    """The score of each criterion in ``names`` that ``reply`` gives with certainty, or None.

    The reply must hold exactly one JSON object and end with it (a closing ``` fence may follow);
    text before it is the judge's reasoning and is not read. The object must hold each of
    ``names`` exactly once, each value a number in ``scale`` (a JSON number or, as for
    :func:`parse_score`, a numeric string). Anything else is None: a missing or repeated
    criterion, an unknown key holding a number, a value that is not a number or out of range,
    text after the object, or a second object (two objects could disagree, and neither is
    certainly the answer).

    Other keys may hold the judge's reasoning (KRIS-Bench's prompts ask for ``"reasoning"``
    beside each score): a key that is not a name is ignored when its value is text, a list of
    text or null, and makes the reply uncertain when it holds a number (a score we were not
    asked for, or a misspelt name). A comma before the object's closing brace, which judges
    copy from templates that show one, is accepted."""
    reply = _TRAILING_COMMA.sub(r"\1", reply)
    objects = list(_top_level_objects(reply))
    if len(objects) != 1:
        return None
    ((pairs, end),) = objects
    if _AFTER_OBJECT.fullmatch(reply, end) is None:
        return None
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)) or not set(names) <= set(keys):
        return None
    if any(key not in names and not _is_text(value) for key, value in pairs):
        return None
    scores = {key: _json_value(value) for key, value in pairs if key in names}
    low, high = scale
    if not all(low <= score <= high for score in scores.values()):  # NaN fails the comparison
        return None
    return {name: scores[name] + 0.0 for name in names}


def parse_score_list(
    reply: str,
    names: Sequence[str],
    key: str = "score",
    scale: tuple[float, float] = (0.0, 10.0),
) -> dict[str, float] | None:
    """The scores that ``reply`` gives as one list, mapped in order to ``names``, or None.

    VIEScore's prompts (which GEdit uses) ask for ``{"score": [8, 3], "reasoning": "..."}``.
    The list is the ``key`` field (any case) of a JSON object anywhere in the reply: bare,
    inside a ```json fence or ``||V^=^V||`` delimiters, with text before or after, nested or
    not, with raw line breaks inside its strings (a Python dict in single quotes is not JSON,
    and is None here as in GEdit).
    A lone number in the field is a list of one, as GEdit wraps it. A reply that is only the
    list (``[8, 3]``, fenced or not) or, for one name, only a number also counts. The list must
    hold exactly ``len(names)`` numbers in ``scale`` (JSON numbers or numeric strings; not
    booleans). Several objects with the field must all give the same list.

    GEdit's own reader (``mllm_output_to_dict``) is looser where it cannot be certain, and each
    of these is None here, a visible ``parse_error``: it decodes the text from the first "{" to
    the last "}" and repairs what fails to decode by regex; without braces it reads the list
    between the first "[" and the last "]" of a reply with other text; it keeps a list of any
    length (it scores the list's minimum) and any number, in range or not; and from its second
    try it answers an unreadable reply with a random score.
    """
    lo, hi = _checked_scale(scale)
    _check_names(names, names)
    lists = {
        _score_tuple(value)
        for pairs in _objects(reply)
        for field, value in pairs
        if isinstance(field, str) and field.lower() == key.lower()
    }
    if not lists:
        lists = set(_bare_lists(reply, len(names)))
    if len(lists) != 1:
        return None
    (scores,) = lists
    if len(scores) != len(names) or not all(lo <= score <= hi for score in scores):
        return None
    return {name: score + 0.0 for name, score in zip(names, scores, strict=True)}


def parse_named_lines(
    reply: str, names: Sequence[str], scale: tuple[float, float] = (1.0, 5.0)
) -> dict[str, float] | None:
    """The score of each name in ``names`` that ``reply`` gives on lines of its own, or None.

    ImgEdit asks for lines such as ``Prompt Compliance: 4``. A line starts (after an indent, a
    bullet ``-``, a number ``1.`` or a heading ``#``, and markdown) with the name, matched in
    any case and with any spacing, then ``:`` and the number: ``**Prompt Compliance:** 4``,
    ``- Visual Naturalness: 3/5``, ``Physical & Detail Integrity: 5 out of 5``. A scale after
    the number must be the scale's hi. Every name must be given a number in ``scale``, once or
    repeatedly with the same value. None when a name is missing, given two values, or given
    a garbled one ("3-4", "4/10" on a 1..5 scale, "2 of 3 objects").

    ImgEdit's own reader averages every line that is exactly ``<anything>: <digits>``, named or
    not and in range or not, and drops the rest (``**Name:** 4``, ``Name: 4/5``, ``Name: 4.``,
    ``Name: 4.5``), so it may average fewer or more than the names; here only the given names
    count, each must be read, and a number with decimals is read as written.
    """
    lo, hi = _checked_scale(scale)
    _check_names(names, [_normalised(name) for name in names])
    scores = {}
    for name in names:
        values = set(_named_values(reply, name, hi))
        if len(values) != 1:
            return None
        (value,) = values
        if not lo <= value <= hi:  # NaN fails the comparison
            return None
        scores[name] = value + 0.0
    return scores


def text_through_prefix(reply: str, prefix: str) -> str | None:
    """``reply`` up to and including the first ``prefix`` (the score label of a reasoning-first
    prompt, e.g. ``"Score:"``), or None when the reply never writes it."""
    index = reply.find(prefix)
    return None if index < 0 else reply[: index + len(prefix)]


def _checked_scale(scale: tuple[float, float]) -> tuple[float, float]:
    lo, hi = scale
    if not lo < hi:
        raise ValueError(f"scale must be (lo, hi) with lo < hi, got {scale!r}")
    return float(lo), float(hi)


def _check_names(names: Sequence[str], keys: Sequence[str]) -> None:
    if not names or len(set(keys)) != len(keys):
        raise ValueError(f"names must be distinct and not empty, got {list(names)!r}")


def _statements(reply: str, hi: float) -> Iterator[float]:
    """Every score the reply states, NaN for each garbled or hedged one."""
    bare = _BARE.fullmatch(reply)
    if bare:
        yield float(bare["value"])
        return
    for match in _LABELLED.finditer(reply):
        yield _stated_value(reply, match, hi)
    sentences = [brk.end() for brk in _SENTENCE_BREAK.finditer(reply)]  # where each one starts
    for match in _FRACTION.finditer(reply):
        denominator = float(match["scale"])
        if denominator == hi:
            hedged = _hedged(reply, sentences, match.start())
            yield _UNCERTAIN if hedged else float(match["value"])
        elif denominator == 10:  # the usual scale, but not this one
            yield _UNCERTAIN
    for lead in _PROSE.finditer(reply):
        value = _prose_value(reply, sentences, lead, hi)
        if value is not None:
            yield value
    yield from _json_scores(reply)


def _stated_value(reply: str, match: re.Match[str], hi: float) -> float:
    """The number that ``match`` states (a label's, a prose lead's or a named line's), judged by
    what follows it: a scale must be ``hi``, and a garble makes it NaN."""
    tail = _MARKDOWN.match(reply, match.end()).end()
    scale = _SCALE_TAIL.match(reply, tail)
    if scale:
        return float(match["value"]) if float(scale["scale"]) == hi else _UNCERTAIN
    if _GARBLED_TAIL.match(reply, tail):
        return _UNCERTAIN
    return float(match["value"])


def _prose_value(reply: str, sentences: list[int], lead: re.Match[str], hi: float) -> float | None:
    """The number that a prose lead ("a score of") states: None when no number follows in its
    sentence, NaN unless the number ends the clause in a sentence free of hedges."""
    value = _PROSE_VALUE.match(reply, lead.end())
    if value is None:
        following = bisect_right(sentences, lead.end())
        end = sentences[following] if following < len(sentences) else len(reply)
        return _UNCERTAIN if _DIGIT.search(reply, lead.end(), end) else None
    if _CLAUSE_END.match(reply, _value_end(reply, value.end())) is None:
        return _UNCERTAIN
    if _hedged(reply, sentences, value.start("value")):
        return _UNCERTAIN
    return _stated_value(reply, value, hi)


def _value_end(reply: str, index: int) -> int:
    """Where the statement of a number that ends at ``index`` ends: after its markdown and any
    scale ("/10", " out of 5")."""
    index = _MARKDOWN.match(reply, index).end()
    scale = _SCALE_TAIL.match(reply, index)
    return scale.end() if scale else index


def _hedged(reply: str, sentences: list[int], index: int) -> bool:
    """Whether the sentence up to ``index`` holds a negation or hedge; ``sentences`` are where
    the reply's sentences start (a break's lookahead may pass ``index``, so they are found over
    the whole reply)."""
    before = bisect_right(sentences, index)
    start = sentences[before - 1] if before else 0
    return _HEDGE.search(reply, start, index) is not None


def _json_scores(reply: str) -> Iterator[float]:
    """The ``score`` field of every JSON object in the reply (nested ones included)."""
    for pairs in _objects(reply):
        for key, value in pairs:
            if isinstance(key, str) and key.lower() == "score":
                yield _json_value(value)


def _objects(reply: str) -> Iterator[list[tuple[object, object]]]:
    """The key-value pairs, in order and repeats kept, of the JSON object at every "{" of the
    reply (nested ones included)."""
    for brace in re.finditer(r"\{", reply):
        try:
            pairs, _ = _PAIRS.raw_decode(reply, brace.start())
        except ValueError:
            continue
        yield pairs


def _score_tuple(value: object) -> tuple[float, ...]:
    """A score field's numbers, NaN for each that is not one; a lone number is a list of one."""
    values = value if isinstance(value, list) else [value]
    return tuple(_json_value(item) for item in values)


def _bare_lists(reply: str, count: int) -> Iterator[tuple[float, ...]]:
    """The scores of a reply that is only a list of them or, for one score, only a number."""
    whole = _WHOLE_LIST.fullmatch(reply)
    if whole:
        try:
            yield _score_tuple(json.loads(whole["list"]))
        except ValueError:
            return
    bare = _BARE.fullmatch(reply)
    if bare and count == 1:
        yield (float(bare["value"]),)


def _normalised(name: str) -> str:
    return " ".join(name.split()).lower()


def _named_values(reply: str, name: str, hi: float) -> Iterator[float]:
    """The number of every line that starts with ``name``, NaN for each garbled one."""
    words = r"[ \t]+".join(re.escape(word) for word in name.split())
    line = re.compile(
        rf"{_LINE_START}{words}[*_]*[ \t]*(?:\([^()\n]{{0,20}}\)[ \t]*)?[*_]*[:：=][ \t*_]*"
        rf"(?P<value>{_NUMBER})",
        re.I | re.M,
    )
    for match in line.finditer(reply):
        if _WORD_AFTER.match(reply, _value_end(reply, match.end())):  # "2 of 3", "4 points"
            yield _UNCERTAIN
        else:
            yield _stated_value(reply, match, hi)


def _is_text(value: object) -> bool:
    """Whether a JSON value is reasoning rather than a number: text, a list of text, null."""
    if value is None or isinstance(value, str):
        return True
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


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
