"""Models that fail or dawdle on purpose, for the fail-fast tests (imported by spawned workers)."""

from __future__ import annotations

import builtins
import json
import math
import os
import time
from collections.abc import Sequence
from typing import Any

from PIL import Image

from editbench.editors.diffusers_editor import DiffusersEditor
from editbench.judges.qwen3_vl import Qwen3VLJudge
from editbench.records import EditRequest, Judgement, JudgeRequest
from tests.scripted import ScriptedJudge

FAIL_ON = "EDITBENCH_TEST_FAIL_ON"
FAIL_AS = "EDITBENCH_TEST_FAIL_AS"


class FlakyEditor(DiffusersEditor):
    """The tiny editor, raising on requests whose instruction contains $EDITBENCH_TEST_FAIL_ON
    the built-in exception named by $EDITBENCH_TEST_FAIL_AS (ValueError by default: a failure
    of that sample alone; MemoryError: the worker's own failure).

    It inherits the plain editor's name, and so its fingerprint: edits it made are reused by a
    run without it.
    """

    def edit(self, requests: Sequence[EditRequest]) -> list[Image.Image]:
        marker = os.environ.get(FAIL_ON)
        error = getattr(builtins, os.environ.get(FAIL_AS, "ValueError"))
        for request in requests:
            if marker and marker in request.instruction:
                raise error(f"injected failure on {request.instruction!r}")
        return super().edit(requests)


EDIT_DELAY = "EDITBENCH_TEST_EDIT_DELAY"


class SlowEditor(DiffusersEditor):
    """The tiny editor, $EDITBENCH_TEST_EDIT_DELAY seconds (default 1) slower per batch: a run
    that is still editing when a test acts, however fast the device."""

    def edit(self, requests: Sequence[EditRequest]) -> list[Image.Image]:
        time.sleep(float(os.environ.get(EDIT_DELAY, "1")))
        return super().edit(requests)


class SlowJudge(Qwen3VLJudge):
    """The tiny judge, a second slower per batch: time for a test to act while it scores."""

    def score(self, requests: Sequence[JudgeRequest], prepared: Any = None) -> list[Judgement]:
        time.sleep(1.0)
        return super().score(requests, prepared)


KEPT: list[Qwen3VLJudge] = []


class KeptJudge(Qwen3VLJudge):
    """The tiny judge, referenced until its process ends: never collected, so nothing that
    collection would do (its pool's shutdown) happens before the process exits."""

    def load(self, devices: Sequence[str]) -> None:
        KEPT.append(self)
        super().load(devices)


NAN_ON = "EDITBENCH_TEST_NAN_ON"


class OverflowingJudge(ScriptedJudge):
    """The scripted judge, writing a reply of 300,000 characters for conversations containing
    $EDITBENCH_TEST_FAIL_ON and a score of NaN for those containing $EDITBENCH_TEST_NAN_ON."""

    def score(self, requests: Sequence[JudgeRequest], prepared: Any = None) -> list[Judgement]:
        verdicts = super().score(requests, prepared)
        for i, request in enumerate(requests):
            text = json.dumps(request.messages)
            if os.environ.get(FAIL_ON, "\0") in text:
                verdicts[i] = Judgement("ok", "Score: 7 " + "words " * 50_000, score=7.0)
            elif os.environ.get(NAN_ON, "\0") in text:
                verdicts[i] = Judgement("ok", "Score: nan", score=math.nan)
        return verdicts
