"""Judge samples, shared by every judge: each sample's seed, the judgement that one written
reply or one score distribution gives, and one request's judgement made from its samples.

Repeated judging (``num_samples`` > 1, ``temperature`` > 0) judges a request several times.
Each sample has a seed of its own, derived from the request's conversation (its images named by
content) and the sample's index, so a request gets the same seeds in any batch, on any worker,
wherever its images are stored, and with either judge.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from editbench.judges.combine import combine_criteria, reduce_samples
from editbench.judges.parsing import parse_criteria, parse_score
from editbench.records import OK, PARSE_ERROR, Judgement, JudgeRequest


def conversation_by_content(messages: Sequence[Mapping[str, Any]]) -> str:
    """The messages as JSON, each image named by the sha256 of its file rather than its path,
    so that moving the files changes nothing."""
    conversation = [
        {
            **message,
            "content": [
                {**part, "image": hashlib.sha256(Path(part["image"]).read_bytes()).hexdigest()}
                if part.get("type") == "image"
                else part
                for part in message["content"]
            ],
        }
        for message in messages
    ]
    return json.dumps(conversation, sort_keys=True, ensure_ascii=False)


def draw_seed(conversation: str, index: int) -> int:
    """The seed of judge sample ``index`` of a conversation (see
    :func:`conversation_by_content`): a function of the two only."""
    digest = hashlib.sha256(f"{conversation}/{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # fits a signed 64-bit seed


def read_reply(request: JudgeRequest, reply: str, note: str = "") -> Judgement:
    """The judgement that a written reply states: one score, or a rubric's combined criteria.

    A reply that states none with certainty is a ``parse_error``; ``note`` is added to its
    error (the API judge's " (cut at max_tokens)").
    """
    if request.criteria:
        criteria = parse_criteria(reply, request.criteria)
        if criteria is None:
            names = list(request.criteria)
            error = f"the reply ends with no certain JSON object of the criteria {names}{note}"
            return Judgement(PARSE_ERROR, reply, error=error)
        score = combine_criteria(criteria, request.criteria, request.combine)
        return Judgement(OK, reply, score=score, criteria=criteria)
    score = parse_score(reply)
    if score is None:
        return Judgement(PARSE_ERROR, reply, error=f"the reply states no certain score{note}")
    return Judgement(OK, reply, score=score)


def expected_judgement(distribution: Sequence[float], reply: str) -> Judgement:
    """An ok judgement from a distribution over the scores 0..10: its mean is the score."""
    probs = list(distribution)
    return Judgement(
        OK,
        reply,
        score=sum(score * p for score, p in enumerate(probs)),
        distribution=probs,
        entropy=entropy(probs),
    )


def entropy(probs: Sequence[float]) -> float:
    """The entropy of a distribution, in nats."""
    return -math.fsum(p * math.log(p) for p in probs if p > 0)


def merge_samples(samples: Sequence[Judgement], reduce: str) -> Judgement:
    """One request's judgement from its judge samples.

    A single sample is the judgement. Of several, the score is the ``reduce`` of the samples
    that gave one (ok if any did; else the first sample's failure), and ``samples`` keeps every
    sample's score, None where it failed. Every reply is kept, each under a header naming its
    sample, so that a failed sample can be read. A rubric's criteria are each reduced on their
    own, so with ``min`` or ``viescore`` the score need not be their combination. In expected
    mode the distribution is the mean of the samples' distributions: the judge's belief over
    the scores, averaged over its reasonings (its mean is the score when reducing by mean).
    """
    if len(samples) == 1:
        return samples[0]
    scores = [sample.score for sample in samples]
    reply = "\n\n".join(
        f"--- judge sample {k} of {len(samples)} ---\n{sample.reply}"
        for k, sample in enumerate(samples, start=1)
    )
    ok = [sample for sample in samples if sample.status == OK]
    if not ok:
        first = samples[0]
        error = f"no judge sample gave a score; the first: {first.error}"
        return Judgement(first.status, reply, error=error, samples=scores)

    score, spread = reduce_samples(scores, reduce)
    criteria = None
    if ok[0].criteria is not None:
        criteria = {
            name: reduce_samples([sample.criteria[name] for sample in ok], reduce)[0]
            for name in ok[0].criteria
        }
    distribution = None
    if ok[0].distribution is not None:
        distribution = [
            math.fsum(column) / len(ok)
            for column in zip(*(sample.distribution for sample in ok), strict=True)
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
