"""Reading the score distribution from a chat completion's logprobs (the API judge's expected
mode).

The distribution over 0..10 is read at the score position: the first non-blank token after the
score prefix that the judge writes (or the reply's first token, when a request that is not
reasoning-first replies with the bare number). Only the tokens "0".."10" among the
``top_logprobs`` count (a digit less likely than the top ``top_logprobs`` tokens counts as 0);
they are renormalised, as the local judge restricts its distribution to the digits.

"10": where the tokenizer has "10" as one token (OpenAI's), it is read directly. Qwen's splits
every number into digits, so "1" starts both 1 and 10: when the judge writes "1" at the score
position, q = p("0" | "1") comes from the next token's ``top_logprobs`` and p(10) = p("1") q,
p(1) = p("1") (1 - q), as in the local judge. When it writes any other digit, q is not observed
and is taken as 0 (all of p("1") is read as 1). A "0" missing from the next token's
``top_logprobs`` also counts as q = 0.
"""

from __future__ import annotations

import math

from openai.types.chat import ChatCompletionTokenLogprob

from editbench.records import JudgeRequest

_SCORE_TOKENS = {str(score): score for score in range(11)}


class Unreadable(Exception):
    """Logprobs from which no certain distribution can be read: a ``parse_error``."""


def score_distribution(
    request: JudgeRequest, tokens: list[ChatCompletionTokenLogprob] | None
) -> list[float]:
    """The probability of each score 0..10 at the reply's score position.

    ``tokens`` are the reply's logprobs, None or empty where the server returned none; raises
    :class:`Unreadable` when no distribution can be read from them.
    """
    if not tokens:
        raise Unreadable("server returned no logprobs")
    index = _score_position(request, tokens)
    at = tokens[index]
    if not at.top_logprobs:
        raise Unreadable("server returned no top_logprobs")
    probs = [0.0] * 11
    for alternative in at.top_logprobs:
        score = _SCORE_TOKENS.get(alternative.token.strip())
        if score is not None:
            probs[score] += math.exp(alternative.logprob)
    if at.token.strip() == "1" and index + 1 < len(tokens):
        after_one = tokens[index + 1].top_logprobs
        zero = math.fsum(math.exp(t.logprob) for t in after_one if t.token == "0")
        probs[1], probs[10] = probs[1] * (1 - zero), probs[10] + probs[1] * zero
    total = math.fsum(probs)
    if total == 0:
        raise Unreadable("no score token among the top logprobs at the score position")
    return [p / total for p in probs]


def _score_position(request: JudgeRequest, tokens: list[ChatCompletionTokenLogprob]) -> int:
    """The index of the token where the reply writes its score.

    Positions are counted in bytes, since a token may hold part of a character (a full-width
    prefix such as "评分：" is several byte-level tokens).
    """
    pieces = [bytes(t.bytes) if t.bytes is not None else t.token.encode() for t in tokens]
    written = b"".join(pieces)
    prefix = request.score_prefix.encode()
    found = written.find(prefix)
    if found >= 0:
        start = found + len(prefix)
    elif not request.reasoning_first:
        start = 0  # the bare number: "7.5"
    else:
        raise Unreadable(f"the reply never wrote the score prefix {request.score_prefix!r}")
    offset = 0
    for index, piece in enumerate(pieces):
        begin, offset = offset, offset + len(piece)
        if offset <= start or not written[max(begin, start) : offset].strip():
            continue  # the prefix, or blank text between it and the score
        if begin < start or tokens[index].token.strip() not in _SCORE_TOKENS:
            found_text = piece.decode("utf-8", errors="replace")
            raise Unreadable(f"the reply writes {found_text!r} where the score should be")
        return index
    raise Unreadable("the reply ends before its score")
