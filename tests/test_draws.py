"""Judge samples, shared by both judges: seeds that follow the conversation and its images'
content, replies and distributions read into judgements, and several samples merged into one
judgement. No model: every judgement here is written by hand."""

from __future__ import annotations

import math
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from editbench.judges.combine import combine_criteria
from editbench.judges.draws import (
    conversation_by_content,
    draw_seed,
    entropy,
    expected_judgement,
    merge_draws,
    read_reply,
)
from editbench.records import OK, PARSE_ERROR, REFUSAL, Judgement, JudgeRequest

RUBRIC = {"follows": "SC", "keeps": "SC", "looks": "PQ"}


def request_with(image: Path, text: str = "Rate it.") -> JudgeRequest:
    content = [{"type": "image", "image": str(image)}, {"type": "text", "text": text}]
    return JudgeRequest([{"role": "user", "content": content}])


def seeds(request: JudgeRequest, count: int = 3) -> list[int]:
    conversation = conversation_by_content(request)
    return [draw_seed(conversation, index) for index in range(count)]


def test_seeds_follow_the_conversation_and_the_images_content(tmp_path: Path) -> None:
    red, blue = tmp_path / "red.png", tmp_path / "blue.png"
    Image.new("RGB", (8, 8), (220, 30, 30)).save(red)
    Image.new("RGB", (8, 8), (20, 40, 230)).save(blue)
    moved = tmp_path / "elsewhere" / "copy.png"
    moved.parent.mkdir()
    shutil.copy(red, moved)

    first = seeds(request_with(red))
    assert len(set(first)) == 3  # a seed per sample
    assert all(0 <= seed < 2**63 for seed in first)  # a signed 64-bit seed
    assert seeds(request_with(red)) == first  # a function of the conversation only
    assert seeds(request_with(moved)) == first  # images are named by content, not path
    assert set(seeds(request_with(blue))).isdisjoint(first)
    assert set(seeds(request_with(red, "Rate it again."))).isdisjoint(first)
    assert str(red) not in conversation_by_content(request_with(red))


def test_score_replies_are_read_strictly() -> None:
    request = JudgeRequest([{"role": "user", "content": [{"type": "text", "text": "Rate it."}]}])

    assert read_reply(request, "Good.\nScore: 7.5") == Judgement(OK, "Good.\nScore: 7.5", score=7.5)
    unread = read_reply(request, "Maybe a 7?", note=" (cut at max_tokens)")
    assert (unread.status, unread.reply, unread.score) == (PARSE_ERROR, "Maybe a 7?", None)
    assert unread.error == "the reply states no certain score on the scale 0-10 (cut at max_tokens)"


def test_rubric_replies_give_each_criterion_and_their_combination() -> None:
    request = JudgeRequest([], criteria=RUBRIC, combine="min", reply="json_object")

    judgement = read_reply(request, '{"follows": 9, "keeps": 4, "looks": 8}')
    assert (judgement.status, judgement.score) == (OK, 4.0)
    assert judgement.criteria == {"follows": 9.0, "keeps": 4.0, "looks": 8.0}
    unread = read_reply(request, '{"follows": 9, "looks": 8}')
    assert (unread.status, unread.criteria) == (PARSE_ERROR, None)
    assert unread.error == (
        "the reply states no certain JSON object of the criteria ['follows', 'keeps', 'looks'] "
        "on the scale 0-10"
    )


def test_a_score_is_read_on_its_scale() -> None:
    request = JudgeRequest([], scale=(1.0, 5.0))
    assert read_reply(request, "Score: 4").score == 4.0
    assert read_reply(request, "4/5").score == 4.0
    beyond = read_reply(request, "Score: 7")
    assert (beyond.status, beyond.error) == (
        PARSE_ERROR,
        "the reply states no certain score on the scale 1-5",
    )
    assert read_reply(request, "Score: 0").status == PARSE_ERROR


def test_score_lists_and_named_lines_are_read_by_the_reply_format() -> None:
    groups = {"editing": "SC", "overediting": "SC"}
    listed = JudgeRequest([], criteria=groups, combine="min", reply="score_list")
    judgement = read_reply(listed, '{"score": [8, 3], "reasoning": "Too much changed."}')
    assert (judgement.status, judgement.score) == (OK, 3.0)
    assert judgement.criteria == {"editing": 8.0, "overediting": 3.0}
    unread = read_reply(listed, '{"score": [8]}')
    assert unread.error == (
        'the reply states no certain {"score": [...]} list of 2 scores '
        "['editing', 'overediting'] on the scale 0-10"
    )

    named = {"Prompt Compliance": "SC", "Visual Quality": "PQ"}
    lines = JudgeRequest([], criteria=named, reply="lines", scale=(1.0, 5.0))
    judgement = read_reply(lines, "Prompt Compliance: 4\nVisual Quality: 5")
    assert (judgement.status, judgement.score) == (OK, 4.5)
    assert judgement.criteria == {"Prompt Compliance": 4.0, "Visual Quality": 5.0}
    unread = read_reply(lines, "Prompt Compliance: 4\nVisual Quality: 9")  # off the scale
    assert unread.error == (
        "the reply states no certain line for each of ['Prompt Compliance', 'Visual Quality'] "
        "on the scale 1-5"
    )
    # The same reply read as a JSON object gives nothing: the format decides the reader.
    as_json = JudgeRequest([], criteria=named, reply="json_object", scale=(1.0, 5.0))
    assert read_reply(as_json, "Prompt Compliance: 4\nVisual Quality: 5").status == PARSE_ERROR


def test_a_distribution_scores_its_mean() -> None:
    judgement = expected_judgement([0.0] * 6 + [0.25, 0.5, 0.25] + [0.0] * 2, "Score: ")
    assert (judgement.status, judgement.reply) == (OK, "Score: ")
    assert judgement.score == pytest.approx(7.0)
    assert judgement.entropy == pytest.approx(1.5 * math.log(2))
    assert entropy([1 / 11] * 11) == pytest.approx(math.log(11))
    assert entropy([1.0] + [0.0] * 10) == 0.0


def test_a_distribution_is_restricted_to_the_whole_scores_of_the_scale() -> None:
    distribution = [0.1] + [0.0] * 3 + [0.3, 0.3] + [0.0] * 4 + [0.3]
    judgement = expected_judgement(distribution, "", scale=(1.0, 5.0))
    assert judgement.distribution == pytest.approx([0.0] * 4 + [0.5, 0.5] + [0.0] * 5)
    assert judgement.score == pytest.approx(4.5)
    assert judgement.entropy == pytest.approx(math.log(2))
    nothing = expected_judgement([0.5] + [0.0] * 9 + [0.5], "", scale=(1.0, 5.0))
    assert (nothing.status, nothing.score, nothing.error) == (
        PARSE_ERROR,
        None,
        "no probability on the scores of the scale 1-5 at the score position",
    )


def test_a_single_sample_is_the_judgement() -> None:
    sample = Judgement(REFUSAL, "No.", error="the judge refused to answer")
    assert merge_draws([sample], "mean") is sample


def test_samples_reduce_and_keep_every_reply() -> None:
    samples = [
        Judgement(OK, "Score: 6", score=6.0),
        Judgement(PARSE_ERROR, "Hm.", error="the reply states no certain score"),
        Judgement(OK, "Score: 9", score=9.0),
    ]
    judgement = merge_draws(samples, "median")
    assert (judgement.status, judgement.score, judgement.error) == (OK, 7.5, None)
    assert judgement.samples == [6.0, None, 9.0]
    assert judgement.spread == pytest.approx(statistics.stdev([6.0, 9.0]))
    assert judgement.reply == (
        "--- judge sample 1 of 3 ---\nScore: 6\n\n"
        "--- judge sample 2 of 3 ---\nHm.\n\n"
        "--- judge sample 3 of 3 ---\nScore: 9"
    )


def test_no_scored_sample_is_the_first_failure() -> None:
    samples = [
        Judgement(REFUSAL, "No.", error="the judge refused to answer"),
        Judgement(PARSE_ERROR, "Hm.", error="the reply states no certain score"),
    ]
    judgement = merge_draws(samples, "mean")
    assert (judgement.status, judgement.score, judgement.spread) == (REFUSAL, None, None)
    assert judgement.samples == [None, None]
    assert judgement.error == "no judge sample gave a score; the first: the judge refused to answer"


def test_rubric_samples_reduce_each_criterion() -> None:
    samples = [
        Judgement(OK, "a", score=4.0, criteria={"follows": 9.0, "keeps": 4.0, "looks": 8.0}),
        Judgement(OK, "b", score=2.0, criteria={"follows": 7.0, "keeps": 6.0, "looks": 2.0}),
    ]
    judgement = merge_draws(samples, "mean")
    assert judgement.score == 3.0
    assert judgement.criteria == {"follows": 8.0, "keeps": 5.0, "looks": 5.0}


def test_distributions_are_averaged_over_the_scored_samples() -> None:
    low = [0.0] * 4 + [1.0] + [0.0] * 6
    high = [0.0] * 8 + [0.5, 0.5, 0.0]
    samples = [
        expected_judgement(low, "Score: "),
        Judgement(PARSE_ERROR, "", error="the reply never wrote the score prefix 'Score:'"),
        expected_judgement(high, "Score: "),
    ]
    judgement = merge_draws(samples, "mean")
    mixture = [(a + b) / 2 for a, b in zip(low, high, strict=True)]
    assert judgement.distribution == pytest.approx(mixture)
    assert judgement.entropy == pytest.approx(entropy(mixture))
    assert judgement.score == pytest.approx(sum(s * p for s, p in enumerate(mixture)))


def test_samples_need_no_torch() -> None:
    code = (
        "import sys, editbench.judges.draws, editbench.judges.logprobs;"
        " sys.exit('torch' in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_named_scores_are_never_combined_by_weights() -> None:
    with pytest.raises(ValueError, match="weighted"):
        combine_criteria({"follows": 9.0, "keeps": 4.0, "looks": 8.0}, RUBRIC, "weighted")
