"""Plain records that cross module and process boundaries.

Everything here is made of strings, numbers, lists and dicts so that it pickles cheaply into
spawned workers and serialises to JSON unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Status of one judgement. Only "ok" carries a score: a failure is a state, never a number.
OK = "ok"
PARSE_ERROR = "parse_error"
REFUSAL = "refusal"
API_ERROR = "api_error"  # the endpoint failed: not a verdict, a re-run asks again
CONTENT_FILTER = "content_filter"
JUDGE_ERROR = "judge_error"  # the judge raised on this request alone (a damaged edit image)
REPLY_TOO_LONG = "reply_too_long"  # the reply passed MAX_REPLY_CHARS: kept cut, never read
JUDGE_STATUSES = (OK, PARSE_ERROR, REFUSAL, API_ERROR, CONTENT_FILTER, JUDGE_ERROR, REPLY_TOO_LONG)
# Status of an edit the editor could not make (NaN output, a damaged precomputed file, a shape
# the model rejects): stored without an image, and the sample's status.
EDIT_ERROR = "edit_error"
# Failures a re-run tries again, at most this many attempts in all (api_error: every re-run).
RETRIED_STATUSES = (EDIT_ERROR, JUDGE_ERROR)
# A judge reply is kept up to this many characters: far above any judge's max_new_tokens or
# max_tokens (a token is a few characters), so only a broken server or model reaches it.
MAX_REPLY_CHARS = 262_144
# A token count is kept below this: exact in a float, so a total and its price are exact too;
# any real request is many orders of magnitude smaller.
MAX_TOKEN_COUNT = 2**53
# The token counts a judgement's ``usage`` holds, as the OpenAI API names them.
USAGE_FIELDS = ("prompt_tokens", "completion_tokens")


@dataclass(frozen=True)
class Sample:
    """One benchmark item, as a dataset source reads it.

    The benchmark defines its categories: any non-empty string. ``images`` are the input
    images the editor gets (at least one; the first is the one a single-image editor edits).
    ``reference_image`` (a ground-truth edit) and ``reference_text`` (the expected outcome, a
    hint) are shown to the judge where a protocol says so. ``extra`` keeps the source's other
    fields (language, subset flags, tags): judge prompts can name them, subsets filter on them.
    """

    id: str
    category: str
    instruction: str
    images: tuple[str, ...]  # absolute paths
    reference_image: str | None = None  # absolute path
    reference_text: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_images(self.images, f"sample {self.id!r}")

    @property
    def image(self) -> str:
        """The first input image: the source of a single-image edit."""
        return self.images[0]

    def fields(self) -> dict[str, Any]:
        """The sample's values by name, as prompts and path patterns and filters see them: its
        extra fields, then id, category, instruction and reference_text (when it has one)."""
        values = dict(self.extra)
        values.update(id=self.id, category=self.category, instruction=self.instruction)
        if self.reference_text is not None:
            values["reference_text"] = self.reference_text
        return values


@dataclass(frozen=True)
class EditRequest:
    """What an editor needs to produce one edited image. ``fields`` are the sample's values
    (:meth:`Sample.fields`), for editors that find an edit by them (a path pattern)."""

    sample_id: str
    images: tuple[str, ...]  # absolute paths of the input images, at least one
    instruction: str
    seed: int
    fields: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_images(self.images, f"edit request {self.sample_id!r}")

    @property
    def image(self) -> str:
        """The first input image: the source of a single-image edit."""
        return self.images[0]


def _check_images(images: Any, owner: str) -> None:
    """A tuple of one or more paths; a bare string would read as one image per character."""
    if not (isinstance(images, tuple) and images and all(isinstance(p, str) for p in images)):
        raise TypeError(f"{owner}: images is {images!r}; expected a non-empty tuple of paths")


# A judge prompt's defaults, here and nowhere else (the config schema and the prompts read them):
# the text right before the score, how a rubric's criteria make one score, what the reply gives
# and the scale of its numbers.
DEFAULT_SCORE_PREFIX = "Score:"
DEFAULT_COMBINE = "mean"
DEFAULT_REPLY = "score"
DEFAULT_SCALE = (0.0, 10.0)


@dataclass(frozen=True)
class JudgeRequest:
    """One rendered judge conversation and how its reply is read.

    ``messages`` follows the chat format shared by transformers' processors, qwen-vl-utils and
    the OpenAI API: every role's ``content`` is a list of parts, ``{"type": "text", "text": ...}``
    or ``{"type": "image", "image": <absolute path>}``; an image part may add ``"resize_to":
    [width, height]``, the size the judge is shown it at (VIEScore shows the edit at the
    source's size).
    ``reply`` says what the reply gives (:class:`~editbench.choices.ReplyFormat`): one score,
    or named scores, ``criteria``, each mapped to its group (e.g. ``{"editing_success": "SC"}``)
    and made one score by ``combine`` (see :func:`editbench.judges.combine.combine_criteria`).
    Every number lies on ``scale``. ``score_prefix`` is the text that the prompt's format puts
    right before a single score (:data:`DEFAULT_SCORE_PREFIX` unless the prompt sets another);
    ``reasoning_first`` says that the reply reasons before it states the score.
    """

    messages: list[dict[str, Any]]
    score_prefix: str = DEFAULT_SCORE_PREFIX
    reasoning_first: bool = False
    criteria: dict[str, str] | None = None
    combine: str = DEFAULT_COMBINE
    reply: str = DEFAULT_REPLY
    scale: tuple[float, float] = DEFAULT_SCALE

    @property
    def expected_readable(self) -> bool:
        """Whether expected mode can read this request: a reply of one score, whose digits'
        probabilities at the score position are the judge's belief. A reply of several numbers
        is generated and read by the parser, even in expected mode."""
        return self.reply == DEFAULT_REPLY

    def mode(self, score_mode: str) -> str:
        """How a judge in ``score_mode`` reads this request: ``expected`` only where it can."""
        return "expected" if score_mode == "expected" and self.expected_readable else "generate"

    def image_parts(self) -> list[dict[str, Any]]:
        """Every image part, in the order the conversation shows them."""
        return [
            part
            for message in self.messages
            for part in message["content"]
            if part.get("type") == "image"
        ]

    def images(self) -> list[str]:
        """The path of every image part, in the order the conversation shows them (the order
        a chat template places them in), once per part."""
        return [part["image"] for part in self.image_parts()]

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
    # an API judge: the tokens its request(s) used as the server counted them
    # ({"prompt_tokens": ..., "completion_tokens": ...}, summed over the draws; None where the
    # server reported none, and for a local judge), and the requests' wall time in seconds,
    # retries included (summed over the draws; None for a local judge)
    usage: dict[str, int] | None = None
    latency_s: float | None = None

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
