"""Judge prompts: placeholders, checks, rubrics, safe rendering, and the shipped prompt files."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from omegaconf import DictConfig, OmegaConf

from editbench.dataset import CATEGORIES, load_samples
from editbench.errors import EditbenchError
from editbench.judges.parsing import parse_criteria
from editbench.prompts import check_prompts, check_rubrics, placeholders, render_judge_request
from editbench.records import Sample
from editbench.sample_data import generate

PROMPTS_DIR = Path(__file__).resolve().parents[1] / "conf" / "prompts"
SHIPPED = sorted(PROMPTS_DIR.glob("*/*.yaml"))
VERSIONS = ("v1", "v2", "rubric")
# Each category's own rubric criterion and its group, next to the three every rubric shares:
# how an image looks (PQ) for physics and environment, what it shows (SC) for the others.
OWN_CRITERION = {
    "physical": ("physical_plausibility", "PQ"),
    "environment": ("environment_consistency", "PQ"),
    "social": ("social_appropriateness", "SC"),
    "causal": ("causal_consequence", "SC"),
    "referential": ("referent_correctness", "SC"),
}
SAMPLE_DATA = Path(generate.__file__).parent

PROMPT = {
    "system_prompt": "You judge image edits.",
    "user_prompt_template": "Instruction: {{instruction}}",
}
RUBRIC = {
    "system_prompt": "You judge image edits.",
    "user_prompt_template": (
        "Instruction: {{instruction}}\nReply with "
        '{"instruction_following": A, "preservation": B, "visual_quality": C}'
    ),
    "criteria": {"instruction_following": "SC", "preservation": "SC", "visual_quality": "PQ"},
    "combine": "viescore",
}


def _sample(instruction: str = "Make the cup red.", **extra: Any) -> Sample:
    return Sample("cup-1", "referential", instruction, "/data/bench/images/cups.png", extra)


def _prompt(**changes: Any) -> dict[str, Any]:
    return {**PROMPT, **changes}


def _check_error(prompts: dict[str, Any], samples: list[Sample]) -> str:
    with pytest.raises(EditbenchError) as info:
        check_prompts(prompts, samples)
    return str(info.value)


def _user_text(request: Any) -> str:
    return request.messages[1]["content"][-1]["text"]


# -- placeholders and rendering -------------------------------------------------------------------


def test_placeholders() -> None:
    template = "{{instruction}} {{ id }} {{instruction}} {single} ${oc.env:HOME} {{not-a-name}}"
    assert placeholders(template) == {"instruction", "id"}


def test_render_builds_the_conversation(tmp_path: Path) -> None:
    prompt = _prompt(user_prompt_template="{{id}} ({{category}}): {{instruction}}")
    request = render_judge_request(_sample(), str(tmp_path / "edit.png"), prompt)
    assert request.messages == [
        {"role": "system", "content": [{"type": "text", "text": "You judge image edits."}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Source image:"},
                {"type": "image", "image": "/data/bench/images/cups.png"},
                {"type": "text", "text": "Edited image:"},
                {"type": "image", "image": str(tmp_path / "edit.png")},
                {"type": "text", "text": "cup-1 (referential): Make the cup red."},
            ],
        },
    ]
    assert request.score_prefix == "Score:"
    assert request.reasoning_first is False
    assert (request.criteria, request.combine) == (None, "mean")


def test_render_passes_prompt_options_and_makes_paths_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    prompt = _prompt(score_prefix="Rating:", reasoning_first=True)
    request = render_judge_request(_sample(), "edits/edit.png", prompt)
    assert request.score_prefix == "Rating:"
    assert request.reasoning_first is True
    assert request.messages[1]["content"][3]["image"] == str(tmp_path / "edits" / "edit.png")


HOSTILE = [
    "{",
    "}",
    "$x",
    "${oc.env:HOME}",
    "{{instruction}}",
    "{{id}} and {{ category }}",
    "{instruction} {0} %s",
    r"a \1 \g<1> \n b",  # what re.sub would expand in a replacement string
]


@pytest.mark.parametrize("instruction", HOSTILE)
def test_hostile_instruction_is_inserted_verbatim(instruction: str) -> None:
    request = render_judge_request(_sample(instruction), "/tmp/edit.png", PROMPT)
    assert _user_text(request) == f"Instruction: {instruction}"


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_extra_field_is_inserted_verbatim(value: str) -> None:
    prompt = _prompt(user_prompt_template="{{note}}|{{instruction}}")
    request = render_judge_request(_sample("Go.", note=value), "/tmp/edit.png", prompt)
    assert _user_text(request) == f"{value}|Go."


def test_non_string_extra_field_is_inserted_as_json() -> None:
    prompt = _prompt(user_prompt_template="tags: {{tags}}, n: {{n}}")
    request = render_judge_request(_sample(tags=["cups", "café"], n=3), "/tmp/edit.png", prompt)
    assert _user_text(request) == 'tags: ["cups", "café"], n: 3'


def test_render_with_an_unfillable_placeholder() -> None:
    prompt = _prompt(user_prompt_template="{{instruction}} in {{language}}")
    with pytest.raises(EditbenchError, match=r"\{\{language\}\}.*'cup-1'"):
        render_judge_request(_sample(), "/tmp/edit.png", prompt)


# -- check_prompts --------------------------------------------------------------------------------


def test_check_accepts_complete_prompts() -> None:
    prompt = _prompt(user_prompt_template="{{id}} {{category}} {{instruction}} {{tags}}")
    check_prompts({"referential": prompt}, [_sample(tags=["a"])])


def test_only_the_samples_categories_need_a_prompt() -> None:
    check_prompts({"referential": PROMPT}, [_sample()])


def test_category_without_prompt() -> None:
    message = _check_error({"physical": PROMPT, "social": PROMPT}, [_sample()])
    assert "no prompt for category 'referential'" in message
    assert "'cup-1'" in message
    assert "prompts exist for: physical, social" in message


@pytest.mark.parametrize("field", ["system_prompt", "user_prompt_template"])
def test_prompt_missing_a_field(field: str) -> None:
    prompt = _prompt()
    del prompt[field]
    message = _check_error({"referential": prompt}, [_sample()])
    assert f"prompts/referential: missing {field}; expected a non-empty string" in message


@pytest.mark.parametrize("field", ["system_prompt", "user_prompt_template"])
def test_prompt_with_an_empty_field(field: str) -> None:
    message = _check_error({"referential": _prompt(**{field: " \n"})}, [_sample()])
    assert f"prompts/referential: {field} is empty" in message


def test_prompt_options_of_the_wrong_type() -> None:
    prompt = _prompt(system_prompt=3, score_prefix="", reasoning_first="yes")
    message = _check_error({"referential": prompt}, [_sample()])
    assert "system_prompt is 3 (int); expected a string" in message
    assert "score_prefix is ''; expected a non-empty string" in message
    assert "reasoning_first is 'yes'; expected true or false" in message


def test_unknown_placeholder_names_placeholder_category_sample_and_fields() -> None:
    prompt = _prompt(user_prompt_template="{{instruction}} {{instructoin}}")
    message = _check_error({"referential": prompt}, [_sample(tags=["a"])])
    assert "prompts/referential: placeholder {{instructoin}}" in message
    assert "sample 'cup-1'" in message
    assert "its fields are: category, id, instruction, tags" in message


def test_placeholder_that_only_some_samples_can_fill() -> None:
    samples = [
        Sample("a", "referential", "x", "/a.png", {"language": "en"}),
        Sample("b", "referential", "x", "/b.png", {}),
        Sample("c", "referential", "x", "/c.png", {"language": None}),
    ]
    prompt = _prompt(user_prompt_template="{{instruction}} ({{language}})")
    message = _check_error({"referential": prompt}, samples)
    assert "placeholder {{language}} in user_prompt_template cannot be filled for sample 'b'" in (
        message
    )


def test_null_extra_field_cannot_fill_a_placeholder() -> None:
    prompt = _prompt(user_prompt_template="{{language}}")
    message = _check_error({"referential": prompt}, [_sample(language=None)])
    assert "placeholder {{language}}" in message


def test_placeholder_in_system_prompt() -> None:
    prompt = _prompt(system_prompt="Judge {{category}} edits.")
    message = _check_error({"referential": prompt}, [_sample()])
    assert "system_prompt has placeholders ({{category}}) but is sent as-is" in message


def test_malformed_placeholder() -> None:
    prompt = _prompt(user_prompt_template="Instruction: {{instruction}")
    message = _check_error({"referential": prompt}, [_sample()])
    assert "user_prompt_template has double braces that are not a placeholder" in message


def test_every_prompt_problem_is_reported_together() -> None:
    samples = [_sample(), Sample("p", "physical", "x", "/p.png", {})]
    prompts = {"referential": _prompt(user_prompt_template="{{nope}}", system_prompt="")}
    message = _check_error(prompts, samples)
    assert "system_prompt is empty" in message
    assert "placeholder {{nope}}" in message
    assert "no prompt for category 'physical'" in message


# -- rubrics --------------------------------------------------------------------------------------


def test_render_passes_the_rubric_as_plain_data() -> None:
    request = render_judge_request(_sample(), "/tmp/edit.png", OmegaConf.create(RUBRIC))
    assert request.criteria == RUBRIC["criteria"]
    assert type(request.criteria) is dict  # not a DictConfig: it is pickled into workers
    assert request.combine == "viescore"


def test_check_accepts_a_rubric() -> None:
    check_prompts({"referential": RUBRIC}, [_sample()])
    check_rubrics({"referential": RUBRIC, "physical": PROMPT}, "generate")


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"criteria": None}, "combine is 'viescore' but there are no criteria to combine"),
        ({"criteria": {}}, "criteria is {}; expected a mapping of criterion names to groups"),
        ({"criteria": ["visual_quality"]}, "criteria is ['visual_quality']; expected a mapping"),
        (
            {"criteria": {"visual quality": "PQ", "instruction_following": "SC"}},
            "criterion name 'visual quality' is not an identifier",
        ),
        (
            {"criteria": {"2nd": "PQ", "instruction_following": "SC"}},
            "criterion name '2nd' is not an identifier",
        ),
        (
            {"criteria": {"visual_quality": " ", "instruction_following": "SC"}},
            "criterion 'visual_quality' has group ' '; expected a non-empty string",
        ),
        (
            {"criteria": {"visual_quality": "SC", "instruction_following": "SC"}},
            "combine is 'viescore', which needs SC and PQ criteria; groups: ['SC']",
        ),
        (
            {"criteria": {**RUBRIC["criteria"], "referent_correctness": "SC"}},
            "user_prompt_template never names the criteria ['referent_correctness']",
        ),
    ],
)
def test_malformed_rubric(changes: dict[str, Any], problem: str) -> None:
    message = _check_error({"referential": {**RUBRIC, **changes}}, [_sample()])
    assert f"prompts/referential: {problem}" in message


def test_combine_needs_criteria_but_mean_is_the_default() -> None:
    check_prompts({"referential": _prompt(combine="mean")}, [_sample()])
    message = _check_error({"referential": _prompt(combine="min")}, [_sample()])
    assert "combine is 'min' but there are no criteria to combine" in message


def test_a_criterion_named_only_inside_a_placeholder_or_a_longer_word_is_not_named() -> None:
    template = "{{visual_quality}} visual_quality_score {{instruction}} preservation"
    rubric = {
        **RUBRIC,
        "user_prompt_template": template,
        "criteria": {"visual_quality": "PQ", "preservation": "SC"},
    }
    sample = _sample(visual_quality="high")
    message = _check_error({"referential": rubric}, [sample])
    assert "never names the criteria ['visual_quality']" in message


def test_groups_are_read_regardless_of_case() -> None:
    rubric = {**RUBRIC, "criteria": {"instruction_following": "sc", "visual_quality": "pq"}}
    check_prompts({"referential": rubric}, [_sample()])


def test_rubrics_need_a_generating_judge() -> None:
    prompts = {"social": RUBRIC, "physical": PROMPT, "causal": RUBRIC}
    with pytest.raises(EditbenchError) as info:
        check_rubrics(prompts, "expected")
    message = str(info.value)
    assert "prompts/causal, prompts/social" in message
    assert "expected scorer.score_mode=generate, got 'expected'" in message
    check_rubrics({"physical": PROMPT}, "expected")


# -- the shipped prompt files ---------------------------------------------------------------------


def test_every_category_ships_v1_v2_and_a_rubric() -> None:
    shipped = {(path.parent.name, path.stem) for path in SHIPPED}
    assert shipped == {(c, v) for c in CATEGORIES for v in VERSIONS}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_shipped_prompt_renders_for_its_samples(path: Path) -> None:
    assert "${" not in path.read_text(encoding="utf-8")  # OmegaConf would resolve it
    prompt = OmegaConf.load(path)
    category, version = path.parent.name, path.stem
    assert prompt.get("reasoning_first", False) is (version != "v1")
    assert "{{instruction}}" in prompt.user_prompt_template
    if version == "rubric":
        assert_rubric_format(prompt, category)
    else:
        assert "criteria" not in prompt
        assert "Score: X.XXX" in prompt.user_prompt_template

    samples = [s for s in load_samples(SAMPLE_DATA) if s.category == category]
    check_prompts({category: prompt}, samples)
    for sample in samples:
        text = _user_text(render_judge_request(sample, "/tmp/edit.png", prompt))
        assert f"Instruction: {sample.instruction}\n" in text
        assert "{{" not in text


def assert_rubric_format(prompt: DictConfig, category: str) -> None:
    """The shipped rubric asks for what the judge is told to read: the four criteria as the
    JSON object that ends the reply, combined by VIEScore."""
    own, group = OWN_CRITERION[category]
    assert dict(prompt.criteria) == {
        "instruction_following": "SC",
        "preservation": "SC",
        "visual_quality": "PQ",
        own: group,
    }
    assert prompt.combine == "viescore"
    # The template's format line, filled in as a judge would, is what the parser reads.
    (form,) = re.findall(r"^\{.*\}$", prompt.user_prompt_template, re.MULTILINE)
    reply = "The edit is fine.\n" + re.sub(r"\b[A-D]\b", "7.5", form)
    assert parse_criteria(reply, prompt.criteria) == dict.fromkeys(prompt.criteria, 7.5)


@pytest.mark.parametrize("category", CATEGORIES)
def test_shipped_rubric_composes_and_needs_generate(
    compose_config: Callable[..., DictConfig], category: str
) -> None:
    cfg = compose_config(f"prompts/{category}=rubric")
    prompt = OmegaConf.to_container(cfg.prompts[category], resolve=True)
    samples = [s for s in load_samples(SAMPLE_DATA) if s.category == category]
    check_prompts({category: prompt}, samples)
    check_rubrics({category: prompt}, "generate")
    with pytest.raises(EditbenchError, match=f"prompts/{category}"):
        check_rubrics({category: prompt}, "expected")
    request = render_judge_request(samples[0], "/tmp/edit.png", prompt)
    assert request.criteria == prompt["criteria"]
    assert request.combine == "viescore"
