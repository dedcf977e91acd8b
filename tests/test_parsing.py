"""The strict parsers: what counts as a stated score or rubric, and what never does."""

from __future__ import annotations

import pytest

from editbench.judges.parsing import (
    parse_criteria,
    parse_named_lines,
    parse_score,
    parse_score_list,
    text_through_prefix,
)


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
        "The scores are 7.",
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


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        # the phrasings real judges write
        ("I would give it a score of 7.", 7.0),
        ("The score is 8.", 8.0),
        ("I'd rate this a 6 out of 10", 6.0),
        ("My final score: 7", 7.0),
        ("Overall, I give this edit a score of 8.5.", 8.5),
        ("the edit deserves a score of 9", 9.0),
        ("The final score would be 7.", 7.0),
        ("The final score should be 6.", 6.0),
        ("The score will be 3.", 3.0),
        ("The score is a 7.", 7.0),
        ("The score is 7!", 7.0),
        ("The edit earns a Score of 4.", 4.0),
        ("The edit earns a score of 0.", 0.0),
        ("The edit earns a score of 10.", 10.0),
        # markdown around the number, a line break after the verb
        ("The score is **7**.", 7.0),
        ("The edit deserves a score of _7_.", 7.0),
        ("The final score is:\n\n**7**", 7.0),
        # a scale after the number, or the number ending a line
        ("The score is 7/10.", 7.0),
        ("I give this edit a score of 6 out of 10.", 6.0),
        ("I'd give the edit a score of 9\nThe cat is intact.", 9.0),
        # hedges in another sentence do not count
        ("The sky is red as asked. I would give it a score of 8.", 8.0),
        ("The shadow is not right.\nOverall, the score is 5.", 5.0),
        ("If anything, the sky is too red. The score is 6.", 6.0),
        ("The sky is red (i.e. as asked), so the score is 8.", 8.0),
        # "score" as a noun with no number in its sentence is not a statement
        ("The score is based on the sky. The score is 6.", 6.0),
        ("The score of the original was poor. I would give it a score of 8.", 8.0),
        # prose that agrees with the other statements
        ("I would give it a score of 7.\nScore: 7", 7.0),
        ("Hence the score is 7.\n\nScore: 7/10", 7.0),
        ('{"reasoning": "The score is 7.", "score": 7}', 7.0),
        # Chinese labels are read as before
        ("评分：7", 7.0),
        ("得分：7分", 7.0),
        ("分数: 7.5", 7.5),
    ],
)
def test_reads_prose_score(reply: str, expected: float) -> None:
    assert parse_score(reply) == expected


@pytest.mark.parametrize(
    "reply",
    [
        # the number does not end its clause: it names a score without stating it
        "a score of 7 would be too high",
        "I'd give it a score of 7, since the sky is red.",
        "The score is 7?",
        "The score is 7 (out of 10).",
        "A score of 5 fits.",
        "The score of the original is 3. Score: 7",
        '{"reasoning": "a score of 6 is too low", "score": 8}',
        # ranges and garbles
        "The edit deserves a score of 7-8.",
        "The edit deserves a score of 7 or 8.",
        "The edit deserves a score of 7 to 8.",
        "The score is 7.5.1",
        "The score is 7...",
        "The score is 4 out of 5.",
        # no number right after the noun, but one in the sentence
        "The score isn't 7.",
        "The score is not 7.",
        "The score is around 7.",
        "The score is at least 7.",
        "The score is probably 7.",
        # a negation or hedge before the number in its sentence
        "I would not give it a score of 7.",
        "If the shadow were right, it would get a score of 9. Score: 6",
        "If the sky were red,\nit would get a score of 9.",
        "I wouldn't give it a score of 9.",
        "I would never give it a score of 9.",
        "There is no way it earns a score of 9.",
        "Unless the seam is fixed, it gets a score of 5.",
        "It deserves a 6 rather than a score of 8.",
        "Instead of a score of 8, I give it 6.",
        "It could get a score of 7.",
        "The score could be 7.",
        "It might deserve a score of 7.",
        "Maybe a score of 7.",
        "Perhaps it earns a score of 7.",
        "It sits between good and bad, a score of 7.",
        "Either way, it gets a score of 7.",
        "I'd give it at most a score of 7.",
        "I would have given it a score of 9.",
        # fractions are hedged the same way
        "I would not rate it 8/10.",
        "If it were sharper: 9/10. Score: 6",
        # prose that disagrees with another statement
        "I would give it a score of 7. Score: 8",
        "The score is 8. Overall 6/10.",
        # no statement at all
        "The score is seven.",
        "The scores are 7 and 8.",
    ],
)
def test_uncertain_prose(reply: str) -> None:
    assert parse_score(reply) is None


@pytest.mark.parametrize(
    ("reply", "scale", "expected"),
    [
        ("4/5", (1, 5), 4.0),
        ("4 out of 5", (1, 5), 4.0),
        ("Score: 4/5", (1, 5), 4.0),
        ("Score: 4 out of 5", (1, 5), 4.0),
        ("I would give it a score of 4 out of 5.", (1, 5), 4.0),
        ("4", (1, 5), 4.0),
        ("Score: 1", (1, 5), 1.0),
        ("Score: 5", (1, 5), 5.0),
        ("Score: 85", (0, 100), 85.0),
        ("85/100", (0, 100), 85.0),
        ("Score: 85/100", (0, 100), 85.0),
        ("100/100", (0, 100), 100.0),
    ],
)
def test_reads_score_on_scale(reply: str, scale: tuple[float, float], expected: float) -> None:
    assert parse_score(reply, scale=scale) == expected


@pytest.mark.parametrize(
    ("reply", "scale"),
    [
        ("6/10", (1, 5)),  # a fraction of 10 on another scale is uncertain
        ("Score: 4. Also 8/10.", (1, 5)),
        ("Score: 8/10", (1, 5)),
        ("The score is 4 out of 10.", (1, 5)),
        ("Score: 0", (1, 5)),
        ("Score: 6", (1, 5)),
        ('{"score": 7}', (1, 5)),
        ("8/10", (0, 100)),
        ("Score: 7/10", (0, 100)),
    ],
)
def test_uncertain_on_scale(reply: str, scale: tuple[float, float]) -> None:
    assert parse_score(reply, scale=scale) is None


def test_scale_must_be_ordered() -> None:
    with pytest.raises(ValueError, match=r"lo < hi"):
        parse_score("Score: 3", scale=(5, 1))


PQ = ("naturalness", "artifacts")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"score": [8, 3], "reasoning": "The sky is red."}', (8.0, 3.0)),
        ('{\n"score" : [8, 3],\n"reasoning" : "..."\n}', (8.0, 3.0)),
        ('```json\n{"score": [8, 3], "reasoning": "ok"}\n```', (8.0, 3.0)),
        ('Here is my evaluation:\n```json\n{"score": [8, 3]}\n```\nLet me know.', (8.0, 3.0)),
        ('||V^=^V||\n{"score": [8, 3], "reasoning": "ok"}\n||V^=^V||', (8.0, 3.0)),
        ('{"score": [8, 3], "reasoning": "The sky\nis red"}', (8.0, 3.0)),  # a raw line break
        ('{"reasoning": "first", "score": [8.5, "3"]}', (8.5, 3.0)),
        ('{"reasoning": "no {braces} matter", "score": [8, 3]}', (8.0, 3.0)),
        ('{"Score": [8, 3]}', (8.0, 3.0)),
        ('{"result": {"score": [8, 3]}}', (8.0, 3.0)),
        ('{"score": [0, 10]}', (0.0, 10.0)),
        ('{"score": [8, 3]}\n{"score": [8.0, 3]}', (8.0, 3.0)),  # two that agree
        ("[8, 3]", (8.0, 3.0)),
        ("```\n[8, 3]\n```", (8.0, 3.0)),
    ],
)
def test_reads_score_list(reply: str, expected: tuple[float, float]) -> None:
    assert parse_score_list(reply, PQ) == dict(zip(PQ, expected, strict=True))


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "The edit is good.",
        '{"reasoning": "no score"}',
        '{"score": [8]}',
        '{"score": 8}',
        "8",
        '{"score": [8, 3, 5]}',
        '{"score": [8, true]}',
        '{"score": [8, null]}',
        '{"score": [8, "high"]}',
        '{"score": "8, 3"}',
        '{"score": [8, 11]}',
        '{"score": [-1, 3]}',
        '{"score": [8, NaN]}',
        '{"score": [8, Infinity]}',
        '{"score": [[8, 3]]}',
        '{"score": {"naturalness": 8, "artifacts": 3}}',
        '{"score": [8, 3]}\n{"score": [8, 4]}',  # two that disagree
        '{"score": [8, 3], "score": [2, 2]}',
        "Scores: [8, 3]",  # a list with other text is not certainly the scores
        "[8, 3] or [2, 2]",
        '{"score": [8, 3]',  # cut off
        "{'score': [8, 3], 'reasoning': 'ok'}",  # not JSON, and GEdit does not read it either
    ],
)
def test_no_certain_score_list(reply: str) -> None:
    assert parse_score_list(reply, PQ) is None


@pytest.mark.parametrize(
    ("reply", "key", "scale", "expected"),
    [
        ('{"score": 7}', "score", (0, 10), 7.0),
        ('{"score": [7]}', "score", (0, 10), 7.0),
        ("7", "score", (0, 10), 7.0),
        ('{"rating": [4]}', "rating", (1, 5), 4.0),
    ],
)
def test_reads_score_list_of_one(
    reply: str, key: str, scale: tuple[float, float], expected: float
) -> None:
    assert parse_score_list(reply, ["overall"], key=key, scale=scale) == {"overall": expected}


@pytest.mark.parametrize(
    ("reply", "key", "scale"),
    [
        ('{"score": [4, 5]}', "rating", (1, 5)),
        ('{"score": [0, 5]}', "score", (1, 5)),
        ('{"score": [4, 6]}', "score", (1, 5)),
    ],
)
def test_score_list_key_and_scale(reply: str, key: str, scale: tuple[float, float]) -> None:
    assert parse_score_list(reply, PQ, key=key, scale=scale) is None


ADD = ("Prompt Compliance", "Visual Naturalness", "Physical & Detail Coherence")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            "Brief reasoning: the chandelier is centred.\n"
            "Prompt Compliance: 4\nVisual Naturalness: 3\nPhysical & Detail Coherence: 5",
            (4.0, 3.0, 5.0),
        ),
        (
            "**Prompt Compliance:** 4\n**Visual Naturalness**: 3\n"
            "__Physical & Detail Coherence__: 5",
            (4.0, 3.0, 5.0),
        ),
        (
            "- Prompt Compliance: 4/5\n- Visual Naturalness: 3 out of 5\n"
            "- **Physical & Detail Coherence:** **5**/5",
            (4.0, 3.0, 5.0),
        ),
        (
            "1. Prompt Compliance: 4.\n2. Visual Naturalness: 3\n"
            "### Physical & Detail Coherence: 5",
            (4.0, 3.0, 5.0),
        ),
        (
            "prompt  compliance: 4\nVISUAL NATURALNESS: 3\nPhysical &  Detail Coherence: 5",
            (4.0, 3.0, 5.0),
        ),
        (
            "Prompt Compliance (1-5): 4\nVisual Naturalness：3\nPhysical & Detail Coherence = 5",
            (4.0, 3.0, 5.0),
        ),
        (
            "Prompt Compliance: 4 (the chandelier is there)\nVisual Naturalness: 3 - edges show\n"
            "Physical & Detail Coherence: 5, shadows fine",
            (4.0, 3.0, 5.0),
        ),
        (  # the template echoed, then the scores; an unknown name is not read
            "Prompt Compliance: A number from 1 to 5.\nOverall: 2\n"
            "Prompt Compliance: 4\nVisual Naturalness: 3\nPhysical & Detail Coherence: 5",
            (4.0, 3.0, 5.0),
        ),
        (  # a name repeated with the same value
            "Prompt Compliance: 4\nVisual Naturalness: 3\nPhysical & Detail Coherence: 5\n"
            "So, Prompt Compliance:\nPrompt Compliance: 4",
            (4.0, 3.0, 5.0),
        ),
        (
            "Prompt Compliance: 4\r\nVisual Naturalness: 3\r\nPhysical & Detail Coherence: 5\r\n",
            (4.0, 3.0, 5.0),
        ),
        (
            "Prompt Compliance: 4.5\nVisual Naturalness: 1\nPhysical & Detail Coherence: 1.0",
            (4.5, 1.0, 1.0),
        ),
    ],
)
def test_reads_named_lines(reply: str, expected: tuple[float, float, float]) -> None:
    assert parse_named_lines(reply, ADD) == dict(zip(ADD, expected, strict=True))


def test_reads_imgedit_readme_reply() -> None:
    names = ["Prompt Compliance", "Visual Seamlessness", "Physical & Detail Fidelity"]
    reply = (
        "Brief reasoning: No fur change; wrong subject; ...\n"
        "Prompt Compliance: 1\nVisual Seamlessness: 4\nPhysical & Detail Fidelity: 4"
    )
    assert parse_named_lines(reply, names) == dict(zip(names, (1.0, 4.0, 4.0), strict=True))


@pytest.mark.parametrize(
    "bad_line",
    [
        "",  # missing
        "Prompt Compliance: 3-4",
        "Prompt Compliance: 3 - 4",
        "Prompt Compliance: 3 to 4",
        "Prompt Compliance: 3 or 4",
        "Prompt Compliance: 4/10",
        "Prompt Compliance: 8 out of 10",
        "Prompt Compliance: 6",
        "Prompt Compliance: 0",
        "Prompt Compliance: -1",
        "Prompt Compliance: 2 of 3 objects",
        "Prompt Compliance: 4 points",
        "Prompt Compliance: 4.5.1",
        "Prompt Compliance: four",
        "Prompt Compliance: A number from 1 to 5.",
        "The Prompt Compliance: 4",  # not at the line's start
        "Brief reasoning: fine. Prompt Compliance: 4",
        "Prompt Compliance: 4\nPrompt Compliance: 3",  # two values
    ],
)
def test_no_certain_named_lines(bad_line: str) -> None:
    reply = f"{bad_line}\nVisual Naturalness: 3\nPhysical & Detail Coherence: 5"
    assert parse_named_lines(reply, ADD) is None


def test_named_scores_must_be_on_lines_of_their_own() -> None:
    reply = "Prompt Compliance: 4, Visual Naturalness: 3, Physical & Detail Coherence: 5"
    assert parse_named_lines(reply, ADD) is None


def test_named_lines_on_another_scale() -> None:
    reply = "Prompt Compliance: 8/10\nVisual Naturalness: 7\nPhysical & Detail Coherence: 10"
    assert parse_named_lines(reply, ADD, scale=(0, 10)) == dict(
        zip(ADD, (8.0, 7.0, 10.0), strict=True)
    )


@pytest.mark.parametrize(
    "names",
    [[], ["Prompt Compliance", "prompt  compliance"]],
)
def test_names_must_be_distinct(names: list[str]) -> None:
    with pytest.raises(ValueError, match=r"distinct"):
        parse_named_lines("Prompt Compliance: 4", names)
    with pytest.raises(ValueError, match=r"distinct"):
        parse_score_list("[4, 4]", [*names, *names[:1]])
