"""A judge worker's batches as the worker forms them (``_judge_batches``): the ramp for one
forward per batch, whole batches where the judge's replies are generated."""

from __future__ import annotations

import queue
from collections.abc import Sequence
from typing import Any

import pytest

from editbench.judges.base import Judge
from editbench.judges.qwen3_vl import Qwen3VLJudge
from editbench.launch.worker import _judge_batches
from editbench.plan import JudgeTask
from editbench.records import OK, Judgement, JudgeRequest

MESSAGES = [{"role": "user", "content": [{"type": "text", "text": "Score the edit."}]}]


class GeneratingJudge(Judge):
    """Batches of 8; its replies are generated where a request wants a score list."""

    name, version, batch_size = "generating", 1, 8

    def settings(self) -> dict[str, Any]:
        return {}

    def load(self, devices: Sequence[str]) -> None:
        return

    def decode_bound(self, requests: Sequence[JudgeRequest]) -> bool:
        return any(r.reply == "score_list" for r in requests)

    def score(self, requests: Sequence[JudgeRequest], prepared: Any = None) -> list[Judgement]:
        raise AssertionError("not called here")


class WholeEdits:
    def read_edit(self, key: str) -> dict[str, str]:
        return {"status": OK}


def _tasks(count: int, reply: str) -> queue.Queue:
    tasks: queue.Queue = queue.Queue()
    for i in range(count):
        request = JudgeRequest(messages=MESSAGES, reply=reply)
        tasks.put([JudgeTask(f"j{i}", f"s{i}", "main", f"e{i}", request, "sha")])
    tasks.put(None)
    return tasks


@pytest.mark.parametrize(("reply", "sizes"), [("score", [4, 8, 8]), ("score_list", [8, 8, 4])])
def test_generated_replies_come_in_whole_batches_and_one_forward_ramps(
    reply: str, sizes: list[int]
) -> None:
    batches = _judge_batches(GeneratingJudge(), _tasks(20, reply), 1, WholeEdits())
    assert [len(ready) for (ready, skipped), _ in batches] == sizes


def test_the_qwen_judge_is_decode_bound_where_it_writes_its_reply() -> None:
    one_score = JudgeRequest(messages=MESSAGES)
    several = JudgeRequest(messages=MESSAGES, reply="score_list")
    reasoned = JudgeRequest(messages=MESSAGES, reasoning_first=True)
    expected = Qwen3VLJudge("org/judge")
    assert not expected.decode_bound([one_score])
    assert expected.decode_bound([one_score, several])
    assert expected.decode_bound([reasoned])
    assert Qwen3VLJudge("org/judge", score_mode="generate").decode_bound([one_score])
