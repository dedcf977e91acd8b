"""Judge prompts: placeholders, settings, rubrics, safe rendering, and the shipped prompt files.

A prompt is checked and rendered as part of a protocol; here through the editbench protocol
(one call, ``score``, with a prompt per category), as ``conf/prompts/<category>/`` feeds it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from omegaconf import DictConfig, OmegaConf

from editbench.errors import EditbenchError
from editbench.judges.parsing import parse_criteria
from editbench.prompts import placeholders, prompt_problems, render_template, template_fields
from editbench.protocols.checks import check_protocol
from editbench.protocols.requests import render_request
from editbench.protocols.spec import Protocol
from editbench.records import JudgeRequest, Sample
from editbench.sample_data import generate
from editbench.sources.manifest import load_manifest

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
CATEGORIES = tuple(OWN_CRITERION)  # the shipped sample benchmark's categories
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
    "reply": "json_object",
    "criteria": {"instruction_following": "SC", "preservation": "SC", "visual_quality": "PQ"},
    "combine": "viescore",
}
# Where check_protocol places a problem of the referential prompt.
AT_REFERENTIAL = "protocol editbench, call score, prompt 'referential'"


def _sample(instruction: str = "Make the cup red.", **extra: Any) -> Sample:
    return Sample(
        "cup-1", "referential", instruction, ("/data/bench/images/cups.png",), extra=extra
    )


def _prompt(**changes: Any) -> dict[str, Any]:
    return {**PROMPT, **changes}


def _check(prompts: Mapping[str, Any], samples: list[Sample]) -> None:
    check_protocol(Protocol.editbench(prompts), samples)


def _check_error(prompts: Mapping[str, Any], samples: list[Sample]) -> str:
    with pytest.raises(EditbenchError) as info:
        _check(prompts, samples)
    message = str(info.value)
    assert message.startswith("Invalid judging protocol:\n")
    return message


def _render(sample: Sample, edited_image: str, prompt: Mapping[str, Any]) -> JudgeRequest:
    """The editbench protocol's request for ``sample`` with ``prompt`` as its category's."""
    (call,) = Protocol.editbench({sample.category: prompt}).calls
    return render_request(call, sample, edited_image)


def _user_text(request: JudgeRequest) -> str:
    return request.messages[-1]["content"][-1]["text"]


# -- placeholders and rendering -------------------------------------------------------------------


def test_placeholders() -> None:
    template = "{{instruction}} {{ id }} {{instruction}} {single} ${oc.env:HOME} {{not-a-name}}"
    assert placeholders(template) == {"instruction", "id"}


def test_template_fields_are_the_samples_fields_as_text() -> None:
    sample = Sample(
        "cup-1",
        "referential",
        "Make the cup red.",
        ("/a.png",),
        reference_text="A red cup.",
        extra={"tags": ["cups"], "n": 3, "language": None},
    )
    assert template_fields(sample) == {
        "id": "cup-1",
        "category": "referential",
        "instruction": "Make the cup red.",
        "reference_text": "A red cup.",
        "tags": '["cups"]',
        "n": "3",
    }
    assert "reference_text" not in template_fields(_sample())
    template = "{{id}}|{{reference_text}}|{{tags}}"
    assert render_template(template, sample) == 'cup-1|A red cup.|["cups"]'


def test_render_builds_the_conversation(tmp_path: Path) -> None:
    prompt = _prompt(user_prompt_template="{{id}} ({{category}}): {{instruction}}")
    request = _render(_sample(), str(tmp_path / "edit.png"), prompt)
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
    assert (request.reply, request.scale) == ("score", (0.0, 10.0))


def test_render_passes_prompt_options_and_makes_paths_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    prompt = _prompt(score_prefix="Rating:", reasoning_first=True, scale=[1, 5])
    request = _render(_sample(), "edits/edit.png", prompt)
    assert request.score_prefix == "Rating:"
    assert request.reasoning_first is True
    assert request.scale == (1.0, 5.0)
    assert request.messages[1]["content"][3]["image"] == str(tmp_path / "edits" / "edit.png")


def test_a_prompt_without_a_system_prompt_sends_the_user_message_alone() -> None:
    for prompt in ({"user_prompt_template": "{{instruction}}"}, _prompt(system_prompt=None)):
        _check({"referential": prompt}, [_sample()])
        request = _render(_sample(), "/tmp/edit.png", prompt)
        assert [message["role"] for message in request.messages] == ["user"]


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
    request = _render(_sample(instruction), "/tmp/edit.png", PROMPT)
    assert _user_text(request) == f"Instruction: {instruction}"


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_extra_field_is_inserted_verbatim(value: str) -> None:
    prompt = _prompt(user_prompt_template="{{note}}|{{instruction}}")
    request = _render(_sample("Go.", note=value), "/tmp/edit.png", prompt)
    assert _user_text(request) == f"{value}|Go."


def test_non_string_extra_field_is_inserted_as_json() -> None:
    prompt = _prompt(user_prompt_template="tags: {{tags}}, n: {{n}}")
    request = _render(_sample(tags=["cups", "café"], n=3), "/tmp/edit.png", prompt)
    assert _user_text(request) == 'tags: ["cups", "café"], n: 3'


def test_render_with_an_unfillable_placeholder() -> None:
    prompt = _prompt(user_prompt_template="{{instruction}} in {{language}}")
    with pytest.raises(EditbenchError, match=r"\{\{language\}\}.*'cup-1'"):
        _render(_sample(), "/tmp/edit.png", prompt)


# -- checking prompts -----------------------------------------------------------------------------


def test_check_accepts_complete_prompts() -> None:
    prompt = _prompt(user_prompt_template="{{id}} {{category}} {{instruction}} {{tags}}")
    _check({"referential": prompt}, [_sample(tags=["a"])])


def test_only_the_samples_categories_need_a_prompt() -> None:
    _check({"referential": PROMPT}, [_sample()])


def test_category_without_prompt() -> None:
    message = _check_error({"physical": PROMPT, "social": PROMPT}, [_sample()])
    assert (
        "call score: no prompt for category 'referential' (used by sample 'cup-1') and no "
        "default prompt; prompts exist for: physical, social"
    ) in message


def test_prompt_without_a_user_template() -> None:
    prompt = _prompt()
    del prompt["user_prompt_template"]
    message = _check_error({"referential": prompt}, [_sample()])
    assert f"{AT_REFERENTIAL}: missing user_prompt_template; expected a non-empty string" in message


@pytest.mark.parametrize("field", ["system_prompt", "user_prompt_template"])
def test_prompt_with_an_empty_field(field: str) -> None:
    message = _check_error({"referential": _prompt(**{field: " \n"})}, [_sample()])
    assert f"{AT_REFERENTIAL}: {field} is empty" in message


def test_prompt_options_of_the_wrong_type() -> None:
    prompt = _prompt(system_prompt=3, score_prefix="", reasoning_first="yes", scale=[5, 1])
    message = _check_error({"referential": prompt}, [_sample()])
    assert "system_prompt is 3 (int); expected a string" in message
    assert "score_prefix is ''; expected a non-empty string" in message
    assert "reasoning_first is 'yes'; expected true or false" in message
    assert "scale is [5, 1]; expected [lowest, highest] with lowest < highest" in message


@pytest.mark.parametrize("scale", [[0], [0, 5, 10], ["0", "10"], [True, 5], [3, 3], None])
def test_a_scale_needs_two_increasing_numbers(scale: Any) -> None:
    assert prompt_problems(_prompt(scale=scale)) == [
        f"scale is {scale!r}; expected [lowest, highest] with lowest < highest"
    ]


def test_unknown_placeholder_names_placeholder_prompt_sample_and_fields() -> None:
    prompt = _prompt(user_prompt_template="{{instruction}} {{instructoin}}")
    message = _check_error({"referential": prompt}, [_sample(tags=["a"])])
    assert (
        f"{AT_REFERENTIAL}: placeholder {{{{instructoin}}}} cannot be filled for sample 'cup-1'; "
        "its fields are: category, id, instruction, tags"
    ) in message


def test_placeholder_that_only_some_samples_can_fill() -> None:
    samples = [
        Sample("a", "referential", "x", ("/a.png",), extra={"language": "en"}),
        Sample("b", "referential", "x", ("/b.png",)),
        Sample("c", "referential", "x", ("/c.png",), extra={"language": None}),
    ]
    prompt = _prompt(user_prompt_template="{{instruction}} ({{language}})")
    message = _check_error({"referential": prompt}, samples)
    assert "placeholder {{language}} cannot be filled for sample 'b'" in message
    assert "placeholder {{language}} cannot be filled for sample 'c'" in message  # null: no value
    assert "sample 'a'" not in message


def test_reference_text_fills_a_placeholder_only_where_a_sample_has_one() -> None:
    prompt = _prompt(user_prompt_template="{{instruction}} Expected: {{reference_text}}")
    hinted = Sample("a", "referential", "x", ("/a.png",), reference_text="A red cup.")
    _check({"referential": prompt}, [hinted])
    assert _user_text(_render(hinted, "/e.png", prompt)) == "x Expected: A red cup."
    message = _check_error({"referential": prompt}, [hinted, _sample()])
    assert "placeholder {{reference_text}} cannot be filled for sample 'cup-1'" in message


def test_placeholder_in_system_prompt() -> None:
    prompt = _prompt(system_prompt="Judge {{category}} edits.")
    message = _check_error({"referential": prompt}, [_sample()])
    assert "system_prompt has placeholders ({{category}}) but is sent as-is" in message


def test_malformed_placeholder() -> None:
    prompt = _prompt(user_prompt_template="Instruction: {{instruction}")
    message = _check_error({"referential": prompt}, [_sample()])
    assert "user_prompt_template has double braces that are not a placeholder" in message


def test_every_prompt_problem_is_reported_together() -> None:
    samples = [_sample(), Sample("p", "physical", "x", ("/p.png",))]
    prompts = {"referential": _prompt(user_prompt_template="{{nope}}", system_prompt="")}
    message = _check_error(prompts, samples)
    assert "system_prompt is empty" in message
    assert "placeholder {{nope}}" in message
    assert "no prompt for category 'physical'" in message


# -- rubrics (named scores) -----------------------------------------------------------------------


def test_render_passes_the_rubric_as_plain_data() -> None:
    request = _render(_sample(), "/tmp/edit.png", OmegaConf.create(RUBRIC))
    assert request.criteria == RUBRIC["criteria"]
    assert type(request.criteria) is dict  # not a DictConfig: it is pickled into workers
    assert (request.combine, request.reply) == ("viescore", "json_object")


def test_check_accepts_a_rubric() -> None:
    _check({"referential": RUBRIC, "physical": PROMPT}, [_sample()])


def test_a_rubric_is_generated_in_either_score_mode_and_a_score_is_read_by_expectation() -> None:
    rubric = _render(_sample(), "/tmp/edit.png", RUBRIC)
    plain = _render(_sample(), "/tmp/edit.png", PROMPT)
    assert (rubric.expected_readable, plain.expected_readable) == (False, True)
    assert [rubric.mode("expected"), rubric.mode("generate")] == ["generate", "generate"]
    assert [plain.mode("expected"), plain.mode("generate")] == ["expected", "generate"]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"criteria": None},
            "reply is 'json_object' but criteria is None; expected a mapping of the reply's "
            "score names to groups",
        ),
        ({"criteria": {}}, "reply is 'json_object' but criteria is {}; expected a mapping"),
        (
            {"criteria": ["visual_quality"]},
            "reply is 'json_object' but criteria is ['visual_quality']; expected a mapping",
        ),
        (
            {"reply": "score"},
            "criteria given but reply is 'score' (one number); expected reply: json_object, "
            "score_list or lines for named scores",
        ),
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
        ({"combine": "weighted"}, "combine is 'weighted', which only a protocol's calls can use"),
    ],
)
def test_malformed_rubric(changes: dict[str, Any], problem: str) -> None:
    message = _check_error({"referential": {**RUBRIC, **changes}}, [_sample()])
    assert f"{AT_REFERENTIAL}: {problem}" in message


def test_named_lines_may_hold_spaces_but_no_colon() -> None:
    lines = {
        "user_prompt_template": "{{instruction}}\nPrompt Compliance: k\nVisual Quality: k",
        "reply": "lines",
        "criteria": {"Prompt Compliance": "SC", "Visual Quality": "PQ"},
    }
    assert prompt_problems(lines) == []
    bad = {
        **lines,
        "user_prompt_template": "{{instruction}}\nPrompt: Compliance: k\nVisual Quality: k",
        "criteria": {"Prompt: Compliance": "SC", "Visual Quality": "PQ"},
    }
    assert prompt_problems(bad) == [
        "criterion name 'Prompt: Compliance'; expected a line name without ':' or line breaks"
    ]
    unnamed = {**lines, "user_prompt_template": "{{instruction}}\nPrompt Compliance: k"}
    assert prompt_problems(unnamed) == [
        "user_prompt_template never names the criteria ['Visual Quality']; the judge must be "
        "told which keys to write"
    ]


def test_a_score_list_is_named_by_position_not_in_the_template() -> None:
    listed = {
        "user_prompt_template": '{{instruction}} Reply {"score": [a, b]}.',
        "reply": "score_list",
        "criteria": {"editing": "SC", "overediting": "SC"},
        "combine": "min",
    }
    assert prompt_problems(listed) == []


def test_combine_needs_criteria_but_mean_is_the_default() -> None:
    _check({"referential": _prompt(combine="mean")}, [_sample()])
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
    _check({"referential": rubric}, [_sample()])


# -- the shipped prompt files ---------------------------------------------------------------------


def test_every_category_ships_v1_v2_and_a_rubric() -> None:
    shipped = {(path.parent.name, path.stem) for path in SHIPPED}
    assert shipped == {(c, v) for c in CATEGORIES for v in VERSIONS}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_shipped_prompt_renders_for_its_samples(path: Path) -> None:
    assert "${" not in path.read_text(encoding="utf-8")  # OmegaConf would resolve it
    prompt = OmegaConf.to_container(OmegaConf.load(path))
    category, version = path.parent.name, path.stem
    assert prompt.get("reasoning_first", False) is (version != "v1")
    assert "{{instruction}}" in prompt["user_prompt_template"]
    assert prompt["system_prompt"].strip()  # the editbench prompts each have one
    if version == "rubric":
        assert_rubric_format(prompt, category)
    else:
        assert "criteria" not in prompt and "reply" not in prompt  # one score, the default
        assert "Score: X.XXX" in prompt["user_prompt_template"]

    samples = [s for s in load_manifest(SAMPLE_DATA) if s.category == category]
    assert samples
    _check({category: prompt}, samples)
    for sample in samples:
        request = _render(sample, "/tmp/edit.png", prompt)
        text = _user_text(request)
        assert f"Instruction: {sample.instruction}\n" in text
        assert "{{" not in text
        assert request.mode("expected") == ("generate" if version == "rubric" else "expected")


def assert_rubric_format(prompt: Mapping[str, Any], category: str) -> None:
    """The shipped rubric asks for what the judge is told to read: the four criteria as the
    JSON object that ends the reply, combined by VIEScore."""
    own, group = OWN_CRITERION[category]
    assert prompt["criteria"] == {
        "instruction_following": "SC",
        "preservation": "SC",
        "visual_quality": "PQ",
        own: group,
    }
    assert (prompt["combine"], prompt["reply"]) == ("viescore", "json_object")
    # The template's format line, filled in as a judge would, is what the parser reads.
    (form,) = re.findall(r"^\{.*\}$", prompt["user_prompt_template"], re.MULTILINE)
    reply = "The edit is fine.\n" + re.sub(r"\b[A-D]\b", "7.5", form)
    assert parse_criteria(reply, prompt["criteria"]) == dict.fromkeys(prompt["criteria"], 7.5)


@pytest.mark.parametrize("category", CATEGORIES)
def test_shipped_rubric_composes_into_the_editbench_protocol(
    compose_config: Callable[..., DictConfig], category: str
) -> None:
    cfg = compose_config(f"prompts/{category}=rubric")
    protocol = Protocol.from_config(
        OmegaConf.to_container(cfg.protocol, resolve=True, enum_to_str=True)
    )
    samples = [s for s in load_manifest(SAMPLE_DATA) if s.category == category]
    check_protocol(protocol, samples)
    (call,) = protocol.calls_for(samples[0])
    request = render_request(call, samples[0], "/tmp/edit.png")
    assert request.criteria == cfg.prompts[category].criteria
    assert (request.combine, request.reply) == ("viescore", "json_object")
    assert request.mode("expected") == "generate"  # read from the reply in either score mode
