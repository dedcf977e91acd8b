"""Models that fail or dawdle on purpose, for the fail-fast tests (imported by spawned workers)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from PIL import Image

from editbench.editors.diffusers_editor import DiffusersEditor
from editbench.judges.qwen3_vl import Qwen3VLJudge
from editbench.records import EditRequest, Judgement, JudgeRequest

FAIL_ON = "EDITBENCH_TEST_FAIL_ON"


class FlakyEditor(DiffusersEditor):
    """The tiny editor, raising on requests whose instruction contains $EDITBENCH_TEST_FAIL_ON.

    It inherits the plain editor's name, and so its fingerprint: edits it made are reused by a
    run without it.
    """

    def edit(self, requests: Sequence[EditRequest]) -> list[Image.Image]:
        marker = os.environ.get(FAIL_ON)
        for request in requests:
            if marker and marker in request.instruction:
                raise RuntimeError(f"injected failure on {request.instruction!r}")
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
