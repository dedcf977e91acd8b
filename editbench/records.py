"""Plain records that cross module and process boundaries.

Everything here is made of strings, numbers, lists and dicts so that it pickles cheaply into
spawned workers and serialises to JSON unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The categories a benchmark sample can belong to; each has its own judge prompt.
CATEGORIES = ("physical", "environment", "social", "causal", "referential")

# Status of one judgement. Only "ok" carries a score: a failure is a state, never a number.
OK = "ok"
PARSE_ERROR = "parse_error"
REFUSAL = "refusal"
API_ERROR = "api_error"
CONTENT_FILTER = "content_filter"
JUDGE_STATUSES = (OK, PARSE_ERROR, REFUSAL, API_ERROR, CONTENT_FILTER)


@dataclass(frozen=True)
class Sample:
    """One benchmark item, as read from a dataset manifest."""

    id: str
    category: str
    instruction: str
    image: str  # absolute path of the source image
    extra: dict[str, Any] = field(default_factory=dict)  # any other manifest fields, kept as-is


@dataclass(frozen=True)
class EditRequest:
    """What an editor needs to produce one edited image."""

    sample_id: str
    image: str  # absolute path of the source image
    instruction: str
    seed: int


# A judge prompt's defaults, here and nowhere else (the config schema and the prompts read them):
# the text right before the score, and how a rubric's criteria make one score.
DEFAULT_SCORE_PREFIX = "Score:"
DEFAULT_COMBINE = "mean"


@dataclass(frozen=True)
class JudgeRequest:
    """One rendered judge conversation.

    ``messages`` follows the chat format shared by transformers' processors, qwen-vl-utils and
    the OpenAI API: every role's ``content`` is a list of parts, ``{"type": "text", "text": ...}``
    or ``{"type": "image", "image": <absolute path>}``.
    ``score_prefix`` is the text that the prompt's format puts right before the score
    (:data:`DEFAULT_SCORE_PREFIX` unless the prompt sets another); ``reasoning_first`` says
    that the reply reasons before it states the score.
    ``criteria`` (rubric prompts only) names the scores the reply must give as a JSON object,
    each mapped to its group (e.g. ``{"instruction_following": "SC", "visual_quality": "PQ"}``),
    and ``combine`` the formula that makes them one score (see
    :func:`editbench.judges.combine.combine_criteria`).
    """

    messages: list[dict[str, Any]]
    score_prefix: str = DEFAULT_SCORE_PREFIX
    reasoning_first: bool = False
    criteria: dict[str, str] | None = None
    combine: str = DEFAULT_COMBINE

    def images(self) -> list[str]:
        """The path of every image part, in the order the conversation shows them (the order
        a chat template places them in), once per part."""
        return [
            part["image"]
            for message in self.messages
            for part in message["content"]
            if part.get("type") == "image"
        ]

    def messages_with_images(self, names: Mapping[str, str]) -> list[dict[str, Any]]:
        """Copies of the messages in which each image part's path is replaced by
        ``names[path]`` (a ``KeyError`` for a path it lacks); every other part is the same
        object as in :attr:`messages`."""
        return [
            {
                **message,
                "content": [
                    {**part, "image": names[part["image"]]} if part.get("type") == "image" else part
                    for part in message["content"]
                ],
            }
            for message in self.messages
        ]


@dataclass
class Judgement:
    """The judge's verdict on one edit. ``score`` is set only when ``status == "ok"``."""

    status: str
    reply: str
    score: float | None = None
    # expected mode: probability of each score 0..10 and the entropy of that distribution (nats)
    distribution: list[float] | None = None
    entropy: float | None = None
    error: str | None = None  # why, when status is not ok
    # rubric prompts: each named criterion's score (the combined one is ``score``)
    criteria: dict[str, float] | None = None
    # repeated judging: each judge sample's score (None where that sample failed), and the
    # standard deviation of those that succeeded; ``score`` is their mean or median
    samples: list[float | None] | None = None
    spread: float | None = None

    def __post_init__(self) -> None:
        if self.status not in JUDGE_STATUSES:
            raise ValueError(
                f"Unknown judgement status {self.status!r}; expected one of {JUDGE_STATUSES}"
            )
        if (self.status == OK) != (self.score is not None):
            raise ValueError(
                "A judgement has a score exactly when its status is 'ok' "
                f"(status={self.status!r}, score={self.score!r})"
            )
