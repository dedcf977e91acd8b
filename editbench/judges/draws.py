"""A judge's draws, shared by every judge: each draw's seed, the judgement that one written
reply or one score distribution gives, and one request's judgement made from its draws.

Repeated judging (``num_samples`` > 1, ``temperature`` > 0) judges a request several times; each
time is a draw (the word "sample" is kept for the benchmark's items, except in the user's
``num_samples`` and the stored ``samples`` field). Each draw has a seed of its own, derived from
the request's conversation (its images named by content) and the draw's index, so a request
gets the same seeds in any batch, on any worker, wherever its images are stored, and with
either judge.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path

from editbench.judges.combine import combine_criteria, reduce_draws
from editbench.judges.parsing import (
    parse_criteria,
    parse_named_lines,
    parse_score,
    parse_score_list,
)
from editbench.records import DEFAULT_SCALE, OK, PARSE_ERROR, Judgement, JudgeRequest


def conversation_by_content(request: JudgeRequest) -> str:
    """The request's messages as JSON, each image named by the sha256 of its file rather than
    its path, so that moving the files changes nothing."""
    names = {path: hashlib.sha256(Path(path).read_bytes()).hexdigest() for path in request.images()}
    conversation = request.messages_with_images(names)
    return json.dumps(conversation, sort_keys=True, ensure_ascii=False)


def draw_seed(conversation: str, index: int) -> int:
    """The seed of judge sample ``index`` of a conversation (see
    :func:`conversation_by_content`): a function of the two only."""
    digest = hashlib.sha256(f"{conversation}/{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # fits a signed 64-bit seed


def read_reply(request: JudgeRequest, reply: str, note: str = "") -> Judgement:
    """The judgement that a written reply states: one score, or the named scores of the
    request's reply format combined into one.

    A reply that states none with certainty is a ``parse_error``; ``note`` is added to its
    error (the API judge's " (cut at max_tokens)").
    """
    scale = tuple(request.scale)
    if request.criteria:
        names = list(request.criteria)
        if request.reply == "score_list":
            criteria = parse_score_list(reply, names, scale=scale)
            shape = f'no certain {{"score": [...]}} list of {len(names)} scores {names}'
        elif request.reply == "lines":
            criteria = parse_named_lines(reply, names, scale=scale)
            shape = f"no certain line for each of {names}"
        else:
            criteria = parse_criteria(reply, names, scale=scale)
            shape = f"no certain JSON object of the criteria {names}"
        if criteria is None:
            error = f"the reply states {shape} on {_scale_text(scale)}{note}"
            return Judgement(PARSE_ERROR, reply, error=error)
        score = combine_criteria(criteria, request.criteria, request.combine)
        return Judgement(OK, reply, score=score, criteria=criteria)
    score = parse_score(reply, scale=scale)
    if score is None:
        error = f"the reply states no certain score on {_scale_text(scale)}{note}"
        return Judgement(PARSE_ERROR, reply, error=error)
    return Judgement(OK, reply, score=score)


def expected_judgement(
    distribution: Sequence[float], reply: str, scale: Sequence[float] = DEFAULT_SCALE
) -> Judgement:
    """The judgement of a distribution over the scores 0..10, restricted to the whole scores
    of ``scale`` and renormalised: its mean is the score. No probability on the scale's scores
    is a ``parse_error``: the judge meant none of them."""
    low, high = scale
    probs = [p if low <= score <= high else 0.0 for score, p in enumerate(distribution)]
    total = math.fsum(probs)
    if total <= 0:
        error = f"no probability on the scores of {_scale_text(scale)} at the score position"
        return Judgement(PARSE_ERROR, reply, error=error)
    probs = [p / total for p in probs]
    return Judgement(
        OK,
        reply,
        score=sum(score * p for score, p in enumerate(probs)),
        distribution=probs,
        entropy=entropy(probs),
    )


def _scale_text(scale: Sequence[float]) -> str:
    low, high = (f"{value:g}" for value in scale)
    return f"the scale {low}-{high}"


def entropy(probs: Sequence[float]) -> float:
    """The entropy of a distribution, in nats."""
    return -math.fsum(p * math.log(p) for p in probs if p > 0)


def merge_draws(draws: Sequence[Judgement], reduce: str) -> Judgement:
    """One request's judgement from its draws.

    A single draw is the judgement. Of several, the score is the ``reduce`` of the draws
    that gave one (ok if any did; else the first draw's failure), and ``samples`` keeps every
    draw's score, None where it failed. Every reply is kept, each under a header naming its
    draw, so that a failed draw can be read. A rubric's criteria are each reduced on their
    own, so with ``min`` or ``viescore`` the score need not be their combination. In expected
    mode the distribution is the mean of the draws' distributions: the judge's belief over
    the scores, averaged over its reasonings (its mean is the score when reducing by mean).
    """
    if len(draws) == 1:
        return draws[0]
    scores = [draw.score for draw in draws]
    reply = "\n\n".join(
        f"--- judge sample {k} of {len(draws)} ---\n{draw.reply}"
        for k, draw in enumerate(draws, start=1)
    )
    ok = [draw for draw in draws if draw.status == OK]
    if not ok:
        first = draws[0]
        error = f"no judge sample gave a score; the first: {first.error}"
        return Judgement(first.status, reply, error=error, samples=scores)

    score, spread = reduce_draws(scores, reduce)
    criteria = None
    if ok[0].criteria is not None:
        criteria = {
            name: reduce_draws([draw.criteria[name] for draw in ok], reduce)[0]
            for name in ok[0].criteria
        }
    distribution = None
    if ok[0].distribution is not None:
        distribution = [
            math.fsum(column) / len(ok)
            for column in zip(*(draw.distribution for draw in ok), strict=True)
        ]
    return Judgement(
        OK,
        reply,
        score=score,
        distribution=distribution,
        entropy=None if distribution is None else entropy(distribution),
        criteria=criteria,
        samples=scores,
        spread=spread,
    )
