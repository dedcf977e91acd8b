"""The strict parsers: what counts as a stated score or rubric, and what never does."""

from __future__ import annotations

import pytest

from editbench.judges.parsing import parse_criteria, parse_score, text_through_prefix


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        # labelled
        ("Score: 8.5", 8.5),
        ("score: 8.500", 8.5),
        ("SCORE: 3", 3.0),
        ("**Score:** 7", 7.0),
        ("**Score**: 7", 7.0),
        ("Score: **7**", 7.0),
        ("Final score = 6", 6.0),
        ("Final Score: 6.", 6.0),
        ("Score : 4", 4.0),
        ("Score:\n9", 9.0),
        ("Score (0-10): 7", 7.0),
        ("Score: 10.0", 10.0),
        ("Score: 0", 0.0),
        ("Score: 7/10", 7.0),
        ("Score: 7 out of 10", 7.0),
        ("Score: 7.0/10.0", 7.0),
        ("The edit keeps the background intact.\nScore: 8", 8.0),
        ("Score: 8, because the sky is now red.", 8.0),
        ("Score: 7 - the cat is missing.", 7.0),
        ("Score: 7\n- 2 birds were added.", 7.0),
        ("Score: -0", 0.0),
        # Chinese labels, ASCII or full-width colon
        ("评分：7", 7.0),
        ("评分: 7", 7.0),
        ("分数: 7", 7.0),
        ("分数：7.5", 7.5),
        ("得分：7分", 7.0),
        ("总评分：6", 6.0),
        # fractions of 10
        ("6/10", 6.0),
        ("6 / 10", 6.0),
        ("6 out of 10", 6.0),
        ("I rate this edit 6/10.", 6.0),
        ("Overall (7/10)", 7.0),
        ("**7/10**", 7.0),
        ("10/10", 10.0),
        ("0/10", 0.0),
        ("It deserves a 6 out of 10.", 6.0),
        # JSON
        ('{"score": 7}', 7.0),
        ('{"score": 7.5, "reason": "good"}', 7.5),
        ('{"Score": "8"}', 8.0),
        ('```json\n{"reason": "sky is red", "score": 9}\n```', 9.0),
        ('Here is my verdict:\n```json\n{"score": 4}\n```', 4.0),
        ('{"verdict": {"score": 5}}', 5.0),
        # the whole reply is one number
        ("8.500", 8.5),
        ("  7\n", 7.0),
        ("0", 0.0),
        ("10", 10.0),
        ("**7**", 7.0),
        ("8.", 8.0),
    ],
)
def test_reads_stated_score(reply: str, expected: float) -> None:
    assert parse_score(reply) == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Score: 7. The edit is good, so 7/10.", 7.0),
        ("Score: 7\nIn short: 7 out of 10.", 7.0),
        ('{"score": 7}\nScore: 7.0', 7.0),
        ("Score: 8.5 ... 8.50/10", 8.5),
    ],
)
def test_same_score_stated_twice(reply: str, expected: float) -> None:
    assert parse_score(reply) == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("The edit added 3 birds. Score: 6", 6.0),
        ("Step 2: check the sky. Step 3: check the cat.\nScore: 5", 5.0),
        ("The output is 1024x1024 pixels. Score: 8", 8.0),
        ("Like the 2024 version, it fails. Score: 2", 2.0),
        ("Only 3 out of 10 birds were removed. Score: 4", 4.0),
        ("6/10 images show the change. Score: 5", 5.0),
        ("On 10/10/2024 the photo was taken. Score: 9", 9.0),
        ("Subscore: 3. Score: 9", 9.0),
    ],
)
def test_other_numbers_are_not_the_score(reply: str, expected: float) -> None:
    assert parse_score(reply) == expected


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "   ",
        "The edit looks good.",
        "The edit added 3 birds.",
        "Step 2 failed.",
        "1024x1024",
        "Made in 2024.",
        "Only 3 out of 10 birds were removed.",
        "2024/10/05",
        "Score: N/A",
        "Score:",
        "score: seven",
        '{"score": null}',
        '{"score": true}',
        '{"score": "high"}',
        '{"reason": "no score here"}',
        "{not json, score 7}",
    ],
)
def test_no_score_stated(reply: str) -> None:
    assert parse_score(reply) is None


@pytest.mark.parametrize(
    "reply",
    [
        "Score: 7\nScore: 8",
        "Score: 7. Overall 8/10.",
        '{"score": 6}\nScore: 7',
        '{"reason": "Score: 6 would be harsh", "score": 8}',
        "6/10 for the sky, 8/10 for the cat",
        "Score: 7-8",
        "Score: 7 - 8",
        "Score: 7 to 8",
        "Score: 7 or 8",
        "Score: 7.5.1",
        "Score: 7,5",
        "Score: 7/5",
        "Score: 4 out of 5",
        "Score: 7/100",
        "Score: 1024x1024",
        "Score: 70%",
    ],
)
def test_ambiguous_or_garbled(reply: str) -> None:
    assert parse_score(reply) is None


@pytest.mark.parametrize(
    "reply",
    [
        "Score: 11",
        "Score: -1",
        "Score: 10.5",
        "Score: -0.5",
        "score = 100",
        "11/10",
        "-1/10",
        "11",
        "-3",
        "2024",
        '{"score": 12}',
        '{"score": -2}',
        "评分：15",
    ],
)
def test_out_of_range(reply: str) -> None:
    assert parse_score(reply) is None


@pytest.mark.parametrize(
    "reply",
    [
        "I'd give it a 7",
        "The score is 7.",
        "7 points",
        "Seven out of ten.",
        "Rating: 7",
        "评分是7",
        "Scores: 7",
        "7/10 overall",  # a fraction followed by a word is read as a quantity
    ],
)
def test_loose_phrasings_are_not_read(reply: str) -> None:
    """Deliberately strict: these state a score only to a lenient reader."""
    assert parse_score(reply) is None


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("The sky is red. Score: 7", "The sky is red. Score:"),
        ("Score:", "Score:"),
        ("Reasoning. Score: 3. Score: 4", "Reasoning. Score:"),
        ("No verdict here.", None),
        ("score: 7", None),  # the prefix is matched exactly, case included
    ],
)
def test_text_through_prefix(reply: str, expected: str | None) -> None:
    assert text_through_prefix(reply, "Score:") == expected


CRITERIA = ("instruction_following", "visual_quality")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"instruction_following": 8, "visual_quality": 6.5}', (8.0, 6.5)),
        ('{"visual_quality": 6.5, "instruction_following": 8}', (8.0, 6.5)),
        ('  {"instruction_following": 0, "visual_quality": 10}\n', (0.0, 10.0)),
        ('{"instruction_following": "8", "visual_quality": -0}', (8.0, 0.0)),
        (
            "The sky is red {as asked}; the seam shows.\n"
            '{"instruction_following": 9, "visual_quality": 4}',
            (9.0, 4.0),
        ),
        (
            'Reasoning first.\n```json\n{"instruction_following": 7, "visual_quality": 7.5}\n```',
            (7.0, 7.5),
        ),
        ('```\n{"instruction_following": 7, "visual_quality": 3}\n```\n', (7.0, 3.0)),
    ],
)
def test_reads_a_rubric(reply: str, expected: tuple[float, float]) -> None:
    assert parse_criteria(reply, CRITERIA) == dict(zip(CRITERIA, expected, strict=True))


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "Score: 7",
        '{"instruction_following": 8}',  # a criterion missing
        '{"instruction_following": 8, "visual_quality": 6, "overall": 7}',  # an unknown one
        '{"instruction_following": 8, "visual_quality": 6, "visual_quality": 2}',  # repeated
        '{"Instruction_Following": 8, "visual_quality": 6}',  # names are matched exactly
        '{"instruction_following": 11, "visual_quality": 6}',
        '{"instruction_following": -1, "visual_quality": 6}',
        '{"instruction_following": NaN, "visual_quality": 6}',
        '{"instruction_following": Infinity, "visual_quality": 6}',
        '{"instruction_following": true, "visual_quality": 6}',
        '{"instruction_following": null, "visual_quality": 6}',
        '{"instruction_following": "high", "visual_quality": 6}',
        '{"instruction_following": [8], "visual_quality": 6}',
        '{"instruction_following": {"score": 8}, "visual_quality": 6}',
        '{"instruction_following": 8, "visual_quality": 6} So overall a 7.',  # text after it
        '{"instruction_following": 8, "visual_quality": 6}\n```json\n```',
        # two objects, even two that agree: neither is certainly the answer
        '{"instruction_following": 2, "visual_quality": 2}\n'
        '{"instruction_following": 8, "visual_quality": 6}',
        '{"draft": true}\n{"instruction_following": 8, "visual_quality": 6}',
        '{"instruction_following": 8, "visual_quality": 6',  # cut off
        '["instruction_following", 8, "visual_quality", 6]',
    ],
)
def test_no_certain_rubric(reply: str) -> None:
    assert parse_criteria(reply, CRITERIA) is None
