"""The Qwen3-VL judge on tiny random-weight models of the real dense and MoE classes.

Random weights say nothing about the edits, so these tests check what must hold whatever the
weights: a score only with status ok, distributions that are distributions, a request judged
the same in a batch as alone, the reasoning-first path reading after the prefix, and repeated
judging drawing distinct samples that depend on nothing but the request. How replies become
judgements (rubrics, several samples) is checked on replies written by hand.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from editbench.choices import Combination
from editbench.errors import EditbenchError
from editbench.judges.combine import COMBINATIONS
from editbench.judges.parsing import parse_score, text_through_prefix
from editbench.judges.qwen3_vl import Qwen3VLJudge
from editbench.records import OK, PARSE_ERROR, Judgement, JudgeRequest
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
    assert (batched.samples is None) == (single.samples is None)
    if single.samples is not None:
        assert batched.samples == pytest.approx(single.samples, abs=1e-5)
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
    """Whatever shares its batch (requests of other lengths and images, itself again) and
    wherever it sits, a request gets its score and distribution alone to 1e-6: a judgement
    redone on a re-run, in another batch, matches the one it replaces."""
    judge = loaded(judge_path, batch_size=4)
    alone = [judge.score([request])[0] for request in requests]
    # Sizes 2 to 4; each request first, in the middle and last, next to each of the others.
    for order in ([0, 1, 2], [2, 1, 0], [1, 0], [0, 2], [2, 0, 1, 0], [1, 1, 2]):
        together = judge.score([requests[i] for i in order])
        for i, batched in zip(order, together, strict=True):
            assert (batched.status, batched.reply) == (OK, "")
            assert batched.distribution == pytest.approx(alone[i].distribution, abs=1e-6)
            assert batched.score == pytest.approx(alone[i].score, abs=1e-6)
    # The three requests are judged differently, so rows mixed up in a batch would show.
    for one, other in ((0, 1), (1, 2), (0, 2)):
        assert alone[one].distribution != pytest.approx(alone[other].distribution, abs=1e-5)


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


def test_a_rubric_in_an_expected_mode_batch_is_its_generated_reply(
    judge_path: str, requests: list[JudgeRequest]
) -> None:
    rubric = replace(requests[1], criteria={"follows": "SC"}, reply="json_object")
    greedy = loaded(judge_path, score_mode="generate").score([rubric])[0]
    judge = loaded(judge_path)
    alone = [judge.score([request])[0] for request in (requests[0], requests[2])]
    together = judge.score([requests[0], rubric, requests[2]])

    assert together[1].reply == greedy.reply and together[1].reply
    assert (together[1].status, together[1].score) == (greedy.status, greedy.score)
    assert together[1].distribution is None
    for batched, single in zip((together[0], together[2]), alone, strict=True):
        assert_distribution(batched)
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
    assert (fingerprint["name"], fingerprint["version"]) == ("qwen3_vl", 1)
    json.dumps(fingerprint)
    for changed in (
        Qwen3VLJudge("org/judge", score_mode="generate"),
        Qwen3VLJudge("org/other-judge"),
        Qwen3VLJudge("org/judge", revision="abc123"),
        Qwen3VLJudge("org/judge", dtype="float32"),
        Qwen3VLJudge("org/judge", max_new_tokens=64),
        Qwen3VLJudge("org/judge", max_pixels=256 * 256),
        Qwen3VLJudge("org/judge", attn_implementation="eager"),
        Qwen3VLJudge("org/judge", temperature=0.7),
        Qwen3VLJudge("org/judge", num_samples=3, temperature=0.7),
        Qwen3VLJudge("org/judge", reduce="median"),
    ):
        assert changed.fingerprint() != fingerprint
    # A judgement does not depend on the batch it was in.
    assert Qwen3VLJudge("org/judge", batch_size=1).fingerprint() == fingerprint


@pytest.mark.parametrize(
    ("score_mode", "reasoning_first", "processes"),
    [("expected", False, 0), ("generate", False, 0), ("expected", True, 0), ("expected", False, 1)],
)
def test_prepared_inputs_are_used_and_change_nothing(
    judge_path: str,
    requests: list[JudgeRequest],
    score_mode: str,
    reasoning_first: bool,
    processes: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """prepare() makes the first model pass's inputs ahead (in this process, or in one of its
    own, as a GPU judge does); score() then makes none of them."""
    requests = [replace(r, reasoning_first=reasoning_first) for r in requests]
    judge = loaded(judge_path, score_mode=score_mode, batch_size=2, prepare_processes=processes)
    alone = judge.score(requests)
    prepared = judge.prepare(requests)
    assert len(prepared) == 2  # one first pass per batch of two

    made = []
    processor_inputs = judge._processor_inputs
    monkeypatch.setattr(
        judge, "_processor_inputs", lambda *args: made.append(args) or processor_inputs(*args)
    )
    ahead = judge.score(requests, prepared)
    # Only the passes that read the score after reasoning the judge wrote are made then.
    wrote_prefix = [any(j.status == OK for j in alone[i : i + 2]) for i in (0, 2)]
    assert len(made) == (sum(wrote_prefix) if reasoning_first else 0)
    for with_prepared, without in zip(ahead, alone, strict=True):
        assert_same_judgement(with_prepared, without)


def test_prepared_inputs_of_a_batch_holding_a_rubric_in_expected_mode(
    judge_path: str, requests: list[JudgeRequest], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's first pass is the generation of its rubric rows; its plain rows' distributions
    follow, made when score() comes to them."""
    rubric = replace(requests[1], criteria={"follows": "SC"}, reply="json_object")
    batch = [requests[0], rubric, requests[2]]
    judge = loaded(judge_path, batch_size=2)
    alone = judge.score(batch)
    prepared = judge.prepare(batch)
    assert len(prepared) == 2  # [rubric] generated; [requests[2]] read at the prefix

    made = []
    processor_inputs = judge._processor_inputs
    monkeypatch.setattr(
        judge, "_processor_inputs", lambda *args: made.append(args) or processor_inputs(*args)
    )
    ahead = judge.score(batch, prepared)
    assert [rows for rows, _ in made] == [[requests[0]]]
    for with_prepared, without in zip(ahead, alone, strict=True):
        assert_same_judgement(with_prepared, without)


def test_auto_batch_size_takes_the_most_until_fitted_and_a_fixed_size_on_the_cpu(
    judge_path: str, requests: list[JudgeRequest]
) -> None:
    judge = loaded(judge_path, max_batch_size=32)
    assert judge.batch_size == 32  # what a worker may hand over before the first batch
    judge.fit_batch_size(requests)
    assert judge.batch_size == 8  # no device memory to measure on the CPU
    fixed = loaded(judge_path, batch_size=3)
    fixed.fit_batch_size(requests)
    assert fixed.batch_size == 3


def test_auto_batch_size_shrinks_when_a_batch_runs_out_of_memory(
    judge_path: str, requests: list[JudgeRequest], monkeypatch: pytest.MonkeyPatch
) -> None:
    judge = loaded(judge_path, batch_size="auto", max_batch_size=4)
    expected = judge.score(requests)
    score_batch = judge._score_batch
    sizes = []

    def fits_one(batch: list[JudgeRequest]) -> list[list[Judgement]]:
        sizes.append(len(batch))
        if len(batch) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return score_batch(batch)

    monkeypatch.setattr(judge, "_score_batch", fits_one)
    judgements = judge.score(requests)
    assert sizes == [3, 3, 2, 1, 1, 1]  # 4 -> 3 -> 2 -> 1 (x 0.8, at least one less)
    assert judge.batch_size == 1
    for got, want in zip(judgements, expected, strict=True):
        assert_same_judgement(got, want)
    # A size the user set is theirs: out of memory stops the run.
    fixed = loaded(judge_path, batch_size=3)
    monkeypatch.setattr(fixed, "_score_batch", fits_one)
    with pytest.raises(torch.OutOfMemoryError):
        fixed.score(requests)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (
            {"score_mode": "sample"},
            r"score_mode='sample'; expected one of \['generate', 'expected'\]",
        ),
        ({"dtype": "fp8"}, r"'fp8'.*bfloat16"),
        ({"batch_size": 0}, r"batch_size.*0"),
        ({"batch_size": "max"}, r"batch_size must be an integer or 'auto', got 'max'"),
        ({"max_batch_size": 0}, r"max_batch_size.*0"),
        ({"prepare_processes": -1}, r"prepare_processes must be >= 0, got -1"),
        ({"min_pixels": 0}, r"min_pixels must be a positive pixel count or null, got 0"),
        ({"max_pixels": 0}, r"max_pixels must be a positive pixel count or null, got 0"),
        ({"min_pixels": 4096, "max_pixels": 1024}, r"min_pixels \(4096\).*max_pixels \(1024\)"),
        ({"num_samples": 0}, r"num_samples.*0"),
        ({"temperature": -0.5}, r"temperature.*-0\.5"),
        ({"temperature": math.nan}, r"temperature.*nan"),
        ({"num_samples": 3}, r"num_samples=3.*temperature=0"),
        ({"reduce": "max"}, r"'max'.*\['mean', 'median'\]"),
    ],
)
def test_bad_options_are_named(options: dict[str, Any], named: str) -> None:
    with pytest.raises(EditbenchError, match=named):
        Qwen3VLJudge("org/judge", **options)


def test_spreading_over_devices_needs_gpus() -> None:
    with pytest.raises(ValueError, match="CUDA"):
        Qwen3VLJudge("org/judge").load(["cpu", "cpu"])


# -- repeated judging on the tiny judge -----------------------------------------------------------

SAMPLED = {"num_samples": 3, "temperature": 1.0}


def sample_replies(judgement: Judgement) -> list[str]:
    """Each judge sample's reply, out of the judgement's reply that keeps them all."""
    parts = re.split(r"(?:^|\n\n)--- judge sample \d+ of \d+ ---\n", judgement.reply)
    assert parts[0] == ""
    return parts[1:]


def test_repeated_generate_draws_distinct_samples_whatever_the_batch(
    judge_path: str, requests: list[JudgeRequest]
) -> None:
    judgements = loaded(judge_path, score_mode="generate", batch_size=3, **SAMPLED).score(requests)
    for judgement in judgements:
        replies = sample_replies(judgement)
        assert len(replies) == len(set(replies)) == 3
        assert judgement.samples == [parse_score(reply) for reply in replies]

    # Another batch size and order, and a global RNG in another state, change nothing.
    torch.manual_seed(1)
    judge = loaded(judge_path, score_mode="generate", batch_size=2, **SAMPLED)
    for again, first in zip(judge.score(requests[::-1])[::-1], judgements, strict=True):
        assert_same_judgement(again, first)


def test_repeated_reasoning_first_reads_each_sample_at_its_prefix(
    judge_path: str, requests: list[JudgeRequest]
) -> None:
    written = loaded(judge_path, score_mode="generate", **SAMPLED).score(requests)
    # A prefix that at least two samples of one request write: a letter of their replies. The
    # seeds depend on the conversation only, so expected mode draws the same replies.
    writers, index, prefix = max(
        (sum(letter in reply for reply in replies), i, letter)
        for i, replies in enumerate(map(sample_replies, written))
        for letter in set("".join(replies))
        if letter.isascii() and letter.isalpha()
    )
    assert writers >= 2, "no letter that two samples of one request write"
    replies = sample_replies(written[index])
    reasoned = replace(requests[index], score_prefix=prefix, reasoning_first=True)
    plain = requests[(index + 1) % len(requests)]

    judge = loaded(judge_path, batch_size=2, **SAMPLED)
    together = judge.score([reasoned, plain])
    judgement = together[0]

    expected_replies = [text_through_prefix(reply, prefix) or reply for reply in replies]
    assert sample_replies(judgement) == expected_replies
    assert [s is not None for s in judgement.samples] == [prefix in reply for reply in replies]
    scored = [s for s in judgement.samples if s is not None]
    assert len(set(scored)) == len(scored)  # distinct reasonings, distinct scores
    assert judgement.score == pytest.approx(statistics.fmean(scored))
    assert judgement.spread == pytest.approx(statistics.stdev(scored))
    # The distribution is the samples' mean distribution, so its mean is the mean score.
    assert_distribution(judgement)
    # A plain request has nothing to sample: it is read once, as by a greedy judge.
    assert together[1].samples is None
    assert_same_judgement(together[1], loaded(judge_path).score([plain])[0])

    alone = loaded(judge_path, batch_size=1, **SAMPLED).score([plain, reasoned])[::-1]
    for batched, single in zip(together, alone, strict=True):
        assert_same_judgement(batched, single)


# -- from replies to judgements, on replies written by hand ---------------------------------------

RUBRIC = {"follows": "SC", "keeps": "SC", "looks": "PQ"}
# How a reply's named scores may combine: weighted combines a protocol's calls, not a reply's.
REPLY_COMBINATIONS = [c for c in COMBINATIONS if c != Combination.weighted]
# The score of follows 9, keeps 4 and looks 8 by each formula; a new formula needs its line.
COMBINED = {
    "mean": 7.0,
    "min": 4.0,
    "geometric_mean": (9 * 4 * 8) ** (1 / 3),
    "viescore": math.sqrt(min(9, 4) * 8),  # sqrt(min over SC * min over PQ)
}


def scripted(replies: list[str], **options: Any) -> Qwen3VLJudge:
    """A generate-mode judge whose k-th sample of every request is ``replies[k]``."""
    judge = Qwen3VLJudge("org/judge", score_mode="generate", **options)

    def generate(
        batch: list[JudgeRequest], stop_string: str | None, sample: int | None
    ) -> list[str]:
        return [replies[sample or 0]] * len(batch)

    judge._generate = generate
    return judge


def score_request() -> JudgeRequest:
    return JudgeRequest([{"role": "user", "content": [{"type": "text", "text": "Rate it."}]}])


def rubric_request(combine: str) -> JudgeRequest:
    return replace(score_request(), criteria=RUBRIC, combine=combine, reply="json_object")


@pytest.mark.parametrize("combine", REPLY_COMBINATIONS)
def test_rubric_reply_is_combined(combine: str) -> None:
    reply = 'Good.\n```json\n{"follows": 9, "keeps": 4, "looks": 8}\n```'
    (judgement,) = scripted([reply]).score([rubric_request(combine)])

    assert judgement.status == OK
    assert judgement.reply == reply
    assert judgement.criteria == {"follows": 9.0, "keeps": 4.0, "looks": 8.0}
    assert judgement.score == pytest.approx(COMBINED[combine])
    assert judgement.samples is None and judgement.spread is None


def test_rubric_reply_that_cannot_be_read_is_a_parse_error() -> None:
    (judgement,) = scripted(['{"follows": 9, "looks": 8}']).score([rubric_request("mean")])

    assert judgement.status == PARSE_ERROR
    assert judgement.score is None and judgement.criteria is None
    assert "['follows', 'keeps', 'looks']" in judgement.error


def test_failed_samples_are_kept_but_never_counted() -> None:
    replies = ["Score: 6", "I cannot tell.", "Score: 9"]
    (judgement,) = scripted(replies, num_samples=3, temperature=0.7).score([score_request()])

    assert judgement.status == OK
    assert judgement.samples == [6.0, None, 9.0]
    assert judgement.score == pytest.approx(7.5)
    assert judgement.spread == pytest.approx(statistics.stdev([6.0, 9.0]))
    assert judgement.error is None
    assert sample_replies(judgement) == replies  # the failed sample's reply too


def test_samples_reduce_by_median() -> None:
    replies = ["Score: 6", "Score: 9", "Score: 7"]
    judge = scripted(replies, num_samples=3, temperature=0.7, reduce="median")
    (judgement,) = judge.score([score_request()])

    assert judgement.score == 7.0
    assert judgement.spread == pytest.approx(statistics.stdev([6.0, 9.0, 7.0]))


def test_no_sample_with_a_score_is_the_first_failure() -> None:
    judge = scripted(["Maybe.", "Hard to say."], num_samples=2, temperature=0.7)
    (judgement,) = judge.score([score_request()])

    assert judgement.status == PARSE_ERROR
    assert judgement.score is None and judgement.spread is None
    assert judgement.samples == [None, None]
    assert judgement.error == (
        "no judge sample gave a score; the first: the reply states no certain score on the "
        "scale 0-10"
    )
    assert sample_replies(judgement) == ["Maybe.", "Hard to say."]


def test_rubric_samples_reduce_each_criterion() -> None:
    replies = [
        '{"follows": 9, "keeps": 4, "looks": 8}',
        '{"follows": 7, "keeps": 6, "looks": 2}',
    ]
    judge = scripted(replies, num_samples=2, temperature=0.7)
    (judgement,) = judge.score([rubric_request("min")])

    assert judgement.samples == [4.0, 2.0]  # each sample's combined score
    assert judgement.score == pytest.approx(3.0)
    assert judgement.criteria == pytest.approx({"follows": 8.0, "keeps": 5.0, "looks": 5.0})


def test_expected_mode_generates_and_parses_a_rubric_beside_scores_read_by_expectation() -> None:
    """A reply of several numbers has no one score position to read: in expected mode it is
    generated and parsed, while the plain requests of its batch are read from the distribution."""
    judge = Qwen3VLJudge("org/judge", score_mode="expected")
    generated: list[tuple[list[JudgeRequest], str | None]] = []
    read: list[list[JudgeRequest]] = []
    reply = 'Fine.\n{"follows": 9, "keeps": 4, "looks": 8}'

    def generate(batch: list[JudgeRequest], stop_string: str | None, sample: int | None):
        generated.append((list(batch), stop_string))
        return [reply] * len(batch)

    def distributions(batch: list[JudgeRequest], assistant_texts: list[str]) -> torch.Tensor:
        read.append(list(batch))
        return torch.tensor([[0.0] * 6 + [0.5, 0.5] + [0.0] * 3] * len(batch), dtype=torch.float64)

    judge._generate = generate
    judge._score_distributions = distributions
    plain, rubric = score_request(), rubric_request("min")
    judgements = judge.score([plain, rubric, plain])

    assert generated == [([rubric], None)]  # to the end of its reply, no stop at a prefix
    assert read == [[plain, plain]]
    assert (judgements[1].status, judgements[1].reply, judgements[1].score) == (OK, reply, 4.0)
    assert judgements[1].criteria == {"follows": 9.0, "keeps": 4.0, "looks": 8.0}
    assert judgements[1].distribution is None
    for judgement in (judgements[0], judgements[2]):
        assert (judgement.status, judgement.reply) == (OK, "")
        assert judgement.score == pytest.approx(6.5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_auto_batch_size_is_measured_on_the_gpu(
    judge_path: str, requests: list[JudgeRequest]
) -> None:
    """The tiny judge needs little memory per request: free memory holds far more than a
    large cap, which then binds; a small cap binds too, and the judge scores with it.

    The cap bounds the fit's check at half the fitted size: uncapped, the tiny judge's fit
    runs to millions of requests, and its check pass would prepare half as many copies."""
    judge = Qwen3VLJudge(judge_path, dtype="float32", max_batch_size=512)
    judge.load(["cuda:0"])
    judge.fit_batch_size(requests)
    free = torch.cuda.mem_get_info(0)[0]
    assert judge.batch_size == 512
    assert judge.batch_size * 1024 < free  # each request was measured at over a KiB
    capped = Qwen3VLJudge(judge_path, dtype="float32", max_batch_size=2)
    capped.load(["cuda:0"])
    capped.fit_batch_size(requests)
    assert capped.batch_size == 2
    prepared = capped.prepare(requests)
    assert all(t.is_pinned() for inputs in prepared.values() for t in inputs.values())
    for judgement in capped.score(requests, prepared):
        assert_distribution(judgement)
