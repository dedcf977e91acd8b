"""The closed choices of the config, as string enums.

The config schema types its fields with them, so that a value outside a choice fails when the
config is composed, naming the key and the allowed values. Each member is the very string a
user types (``ScoreMode.expected == "expected"``; ``str()`` and f-strings give
``"expected"``), so code that reads the config compares, formats and serialises plain strings.
A leaf module: editors, judges and the config all import it, and it imports nothing of theirs.
"""

from __future__ import annotations

from enum import Enum


class Choice(str, Enum):
    """A choice whose members are their own string values: Python 3.11's ``StrEnum``, which
    3.10 lacks. Members are named exactly as their values, since OmegaConf reads a choice from
    the command line by name."""

    __str__ = str.__str__
    __format__ = str.__format__

    @classmethod
    def values(cls) -> list[str]:
        """The allowed values as plain strings, for messages."""
        return [member.value for member in cls]


class ScoreMode(Choice):
    """How a judge turns its reply into a score."""

    generate = "generate"  # read the score the judge writes
    expected = "expected"  # the mean of the judge's distribution over 0..10 after the prefix


class Dtype(Choice):
    """The torch dtype a model's weights are loaded in; its name in torch."""

    bfloat16 = "bfloat16"
    float16 = "float16"
    float32 = "float32"


class Reduction(Choice):
    """How the scores of a judge's samples (repeated judging) make one score."""

    mean = "mean"
    median = "median"


class Combination(Choice):
    """How several scores make one: a reply's criteria, or a protocol's calls (see
    :func:`editbench.judges.combine.combine_criteria`)."""

    mean = "mean"
    min = "min"
    geometric_mean = "geometric_mean"
    viescore = "viescore"  # sqrt(min over the SC criteria * min over the PQ criteria)
    weighted = "weighted"  # sum of weight * score over the weights given, divided by their sum


class ReplyFormat(Choice):
    """What a judge's reply gives, and so how it is read (:mod:`editbench.judges.parsing`)."""

    score = "score"  # one number: "Score: 7", prose, a JSON "score" field
    json_object = "json_object"  # named numbers in one JSON object at the end (a rubric)
    score_list = "score_list"  # {"score": [a, b, ...], "reasoning": ...}, as VIEScore replies
    lines = "lines"  # one "Name: k" line per named number, as ImgEdit's judge replies


class ImageRole(Choice):
    """An image a judge call shows."""

    source = "source"  # every input image of the sample, in order
    edit = "edit"  # the edited image
    reference = "reference"  # the sample's reference (ground-truth) image


class Headline(Choice):
    """Which overall figure a benchmark publishes."""

    mean_of_categories = "mean_of_categories"  # each category's mean, then their mean
    sample_mean = "sample_mean"  # the mean over every sample
    pooled = "pooled"  # the mean of every criterion value of every sample, pooled (KRIS-Bench)


class Placement(Choice):
    """How the launcher places a judge on the layout's score devices."""

    replica = "replica"  # one judge per device
    spread = "spread"  # one judge over all the score devices, with device_map
    single = "single"  # one worker and no device of its own: a judge behind an API


class LayoutName(Choice):
    shared = "shared"  # every device edits, then every device scores
    split = "split"  # the first devices edit while the others score, at the same time


class LoadOrder(Choice):
    parallel = "parallel"  # every worker loads its model at once
    serial = "serial"  # one load at a time, to bound host memory


class Fp8(Choice):
    """How an editor's transformer holds its weights in FP8 (see editbench.editors.speedups)."""

    storage = "storage"  # stored in float8, computed in the editor's dtype: less memory
    matmul = "matmul"  # float8 weights and activations multiplied by FP8 tensor cores: faster
