"""A judge that writes well-formed replies of every reply format, for end-to-end runs whose
numbers must come out (the tiny random-weight judge writes gibberish, a parse_error under any
protocol but the editbench one in expected mode). Imported by spawned workers.

Each reply's numbers come from a hash of the request's text and image names, so a request gets
the same reply on every run; they are read back by the real parser.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from editbench.judges.draws import read_reply
from editbench.judges.qwen3_vl import Qwen3VLJudge
from editbench.records import Judgement, JudgeRequest


def scripted_reply(request: JudgeRequest) -> str:
    """A reply in the request's format, every number a whole score on its scale."""
    low, high = (int(v) for v in request.scale)
    digest = hashlib.sha256(json.dumps(request.messages, sort_keys=True).encode()).digest()
    numbers = [low + byte % (high - low + 1) for byte in digest]
    names = list(request.criteria or {})
    if request.reply == "score_list":
        return json.dumps({"score": numbers[: len(names)], "reasoning": "scripted"})
    if request.reply == "lines":
        lines = [f"{name}: {number}" for name, number in zip(names, numbers, strict=False)]
        return "Brief reasoning: scripted.\n" + "\n".join(lines)
    if request.reply == "json_object":
        return "Scripted reasoning.\n" + json.dumps(dict(zip(names, numbers, strict=False)))
    return f"Score: {numbers[0]}"


class ScriptedJudge(Qwen3VLJudge):
    """The tiny judge's settings and loading, with scripted replies read by the real parser."""

    name = "scripted-test-judge"
    version = 1

    def score(self, requests: Sequence[JudgeRequest], prepared: Any = None) -> list[Judgement]:
        return [read_reply(request, scripted_reply(request)) for request in requests]
