"""The Qwen3-VL judge on tiny random-weight models of the real dense and MoE classes.

Random weights say nothing about the edits, so these tests check what must hold whatever the
weights: a score only with status ok, distributions that are distributions, a request judged
the same in a batch as alone, and the reasoning-first path reading after the prefix.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from editbench.errors import EditbenchError
from editbench.records import OK, PARSE_ERROR, Judgement, JudgeRequest
from editbench.scorers.parsing import parse_score, text_through_prefix
from editbench.scorers.qwen3_vl import Qwen3VLJudge
from editbench.tiny import ensure_tiny_model

MAX_NEW_TOKENS = 12  # enough to exercise generation, short enough for two CPU cores


@pytest.fixture(scope="module", params=["qwen3_vl", "qwen3_vl_moe"])
def judge_path(request: pytest.FixtureRequest) -> str:
    """A tiny judge, built once per module into the session's temporary EDITBENCH_CACHE."""
    return ensure_tiny_model(request.param)


@pytest.fixture
def requests(tmp_path: Path) -> list[JudgeRequest]:
    """Three different conversations: one image, two images of other shapes, a small one."""
    noise = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (90, 90, 3), generator=noise, dtype=torch.uint8).numpy()
    images = {
        "red.png": Image.new("RGB", (200, 120), (220, 30, 30)),
        "green.png": Image.new("RGB", (64, 300), (30, 200, 60)),
        "noise.png": Image.fromarray(pixels),
        "blue.png": Image.new("RGB", (32, 32), (20, 40, 230)),
    }
    for name, image in images.items():
        image.save(tmp_path / name)

    def conversation(system: str, text: str, *names: str) -> JudgeRequest:
        parts = [{"type": "image", "image": str(tmp_path / name)} for name in names]
        return JudgeRequest(
            messages=[
                {"role": "system", "content": [{"type": "text", "text": system}]},
                {"role": "user", "content": [*parts, {"type": "text", "text": text}]},
            ]
        )

    return [
        conversation("You rate image edits.", "Make the sky red. Score: X", "red.png"),
        conversation(
            "You rate image edits from 0 to 10.",
            "Source first, then the edit. Instruction: add a tree on the left.",
            "green.png",
            "noise.png",
        ),
        conversation("Judge.", "Turn it blue.", "blue.png"),
    ]


def loaded(path: str, **options: Any) -> Qwen3VLJudge:
    judge = Qwen3VLJudge(path, dtype="float32", max_new_tokens=MAX_NEW_TOKENS, **options)
    judge.load(["cpu"])
    return judge


def assert_distribution(judgement: Judgement) -> None:
    assert judgement.status == OK
    probs = torch.tensor(judgement.distribution)
    assert probs.shape == (11,)
    assert (probs >= 0).all()
    assert probs.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert 0.0 <= judgement.score <= 10.0
    assert judgement.score == pytest.approx((probs * torch.arange(11.0)).sum().item(), abs=1e-5)
    assert 0.0 <= judgement.entropy <= math.log(11) + 1e-6


def assert_same_judgement(batched: Judgement, single: Judgement) -> None:
    """The same judgement, up to float rounding."""
    assert (batched.status, batched.reply) == (single.status, single.reply)
    if single.distribution is None:
        assert batched.distribution is None
        return
    torch.testing.assert_close(
        torch.tensor(batched.distribution), torch.tensor(single.distribution), atol=1e-6, rtol=0
    )
    assert batched.score == pytest.approx(single.score, abs=1e-5)
    assert batched.entropy == pytest.approx(single.entropy, abs=1e-5)


def test_generate_mode_scores_only_what_it_can_parse(
    judge_path: str, requests: list[JudgeRequest]
) -> None:
    judge = loaded(judge_path, score_mode="generate")
    judgements = judge.score(requests)
    assert len(judgements) == len(requests)
    # Greedy, although the checkpoint's generation config samples.
    assert [j.reply for j in judge.score(requests)] == [j.reply for j in judgements]
    for judgement in judgements:
        assert judgement.reply  # the raw reply is kept, whatever its fate
        assert judgement.score == parse_score(judgement.reply)
        assert judgement.distribution is None
        if judgement.score is None:
            assert judgement.status == PARSE_ERROR
            assert judgement.error
        else:
            assert judgement.status == OK


def test_expected_mode_gives_a_distribution_over_0_to_10(
    judge_path: str, requests: list[JudgeRequest]
) -> None:
    judgements = loaded(judge_path).score(requests)
    assert len(judgements) == len(requests)
    for judgement in judgements:
        assert_distribution(judgement)
        assert judgement.reply == ""  # the judge wrote nothing: it was read at the prefix


def test_a_batch_judges_each_request_as_alone(
    judge_path: str, requests: list[JudgeRequest]
) -> None:
    judge = loaded(judge_path, batch_size=3)
    together = judge.score(requests)
    alone = [judge.score([request])[0] for request in requests]
    for batched, single in zip(together, alone, strict=True):
        assert_same_judgement(batched, single)
    # The three requests are judged differently, so rows mixed up in the batch would show.
    first, second, third = (torch.tensor(j.distribution) for j in together)
    assert not torch.allclose(first, second, atol=1e-5)
    assert not torch.allclose(second, third, atol=1e-5)


def test_reasoning_first_reads_the_score_after_the_written_prefix(
    judge_path: str, requests: list[JudgeRequest]
) -> None:
    replies = [j.reply for j in loaded(judge_path, score_mode="generate").score(requests[:2])]
    # A prefix this judge is sure to write: the first letter of its greedy reply.
    prefix = next(
        character for character in replies[0] if character.isascii() and character.isalpha()
    )
    writes_prefix = replace(requests[0], score_prefix=prefix, reasoning_first=True)
    # "Score:" is what a real prompt asks for; a random-weight judge hardly ever writes it.
    may_not = replace(requests[1], score_prefix="Score:", reasoning_first=True)
    plain = requests[2]

    judge = loaded(judge_path)
    together = judge.score([writes_prefix, may_not, plain])
    alone = [judge.score([request])[0] for request in (writes_prefix, may_not, plain)]

    assert_distribution(together[0])
    assert together[0].reply == text_through_prefix(replies[0], prefix)
    if "Score:" in replies[1]:
        assert_distribution(together[1])
    else:
        assert together[1].status == PARSE_ERROR
        assert together[1].reply == replies[1]
        assert together[1].score is None and together[1].distribution is None
    assert_distribution(together[2])
    for batched, single in zip(together, alone, strict=True):
        assert_same_judgement(batched, single)


def test_max_pixels_changes_what_the_judge_sees(
    judge_path: str, requests: list[JudgeRequest]
) -> None:
    default = loaded(judge_path).score(requests[:1])[0]
    one_token = loaded(judge_path, max_pixels=32 * 32).score(requests[:1])[0]
    assert_distribution(one_token)
    assert not torch.allclose(
        torch.tensor(default.distribution), torch.tensor(one_token.distribution), atol=1e-6
    )


def test_fingerprint_holds_what_determines_a_judgement() -> None:
    base = Qwen3VLJudge("org/judge")
    fingerprint = base.fingerprint()
    assert fingerprint["class"] == "editbench.scorers.qwen3_vl.Qwen3VLJudge"
    json.dumps(fingerprint)
    for changed in (
        Qwen3VLJudge("org/judge", score_mode="generate"),
        Qwen3VLJudge("org/other-judge"),
        Qwen3VLJudge("org/judge", revision="abc123"),
        Qwen3VLJudge("org/judge", dtype="float32"),
        Qwen3VLJudge("org/judge", max_new_tokens=64),
        Qwen3VLJudge("org/judge", max_pixels=256 * 256),
        Qwen3VLJudge("org/judge", attn_implementation="eager"),
    ):
        assert changed.fingerprint() != fingerprint
    # A judgement does not depend on the batch it was in.
    assert Qwen3VLJudge("org/judge", batch_size=1).fingerprint() == fingerprint


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"score_mode": "sample"}, r"'sample'.*\['expected', 'generate'\]"),
        ({"dtype": "fp8"}, r"'fp8'.*bfloat16"),
        ({"batch_size": 0}, r"batch_size.*0"),
        ({"min_pixels": 4096, "max_pixels": 1024}, r"min_pixels \(4096\).*max_pixels \(1024\)"),
    ],
)
def test_bad_options_are_named(options: dict[str, Any], named: str) -> None:
    with pytest.raises(EditbenchError, match=named):
        Qwen3VLJudge("org/judge", **options)


def test_spreading_over_devices_needs_gpus() -> None:
    with pytest.raises(ValueError, match="CUDA"):
        Qwen3VLJudge("org/judge").load(["cpu", "cpu"])
