"""Judging protocols: the checks made before any model loads, each call's judge conversation,
and a sample's verdict from its calls' judgements (written by hand here: no model)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from omegaconf import DictConfig, OmegaConf
from PIL import Image

from editbench.errors import EditbenchError
from editbench.plan import make_plan
from editbench.protocols.checks import check_protocol
from editbench.protocols.requests import render_request
from editbench.protocols.spec import Protocol, describe
from editbench.protocols.verdict import sample_verdict
from editbench.records import Sample
from editbench.store import Store

from .conftest import make_protocol

PLAIN = {"user_prompt_template": "Rate the edit: {{instruction}}"}
SCALED = {**PLAIN, "scale": [1, 5]}


def rubric(*names: str, **options: Any) -> dict[str, Any]:
    """A prompt whose reply names ``names`` in a JSON object, each in group SC."""
    keys = ", ".join(f'"{name}": k' for name in names)
    return {
        "user_prompt_template": "{{instruction}} Reply {" + keys + "}",
        "reply": "json_object",
        "criteria": dict.fromkeys(names, "SC"),
        **options,
    }


def sample(
    sample_id: str = "s1", category: str = "color", images: tuple[str, ...] = ("/d/a.png",), **more
) -> Sample:
    return Sample(sample_id, category, "Make it red.", images, **more)


def problems(protocol: Protocol, samples: list[Sample]) -> list[str]:
    """The problems check_protocol lists, one per line, without their indentation."""
    with pytest.raises(EditbenchError) as info:
        check_protocol(protocol, samples)
    header, *lines = str(info.value).splitlines()
    assert header == "Invalid judging protocol:"
    return [line.strip() for line in lines]


# -- check_protocol -------------------------------------------------------------------------------


def test_every_key_without_a_prompt_is_listed_once_with_a_sample_that_needs_it() -> None:
    protocol = make_protocol({"score": {"prompts": {"color": PLAIN}}})
    samples = [
        sample("s1"),
        sample("s2", "style"),
        sample("s3", "style"),
        sample("s4", "text"),
    ]
    assert problems(protocol, samples) == [
        "call score: no prompt for category 'style' (used by sample 's2') and no default prompt; "
        "prompts exist for: color",
        "call score: no prompt for category 'text' (used by sample 's4') and no default prompt; "
        "prompts exist for: color",
    ]


def test_a_default_prompt_covers_every_key_without_its_own() -> None:
    own = {"user_prompt_template": "Colour: {{instruction}}"}
    protocol = make_protocol({"score": {"prompt": PLAIN, "prompts": {"color": own}}})
    color, style = sample("s1"), sample("s2", "style")
    check_protocol(protocol, [color, style])
    (call,) = protocol.calls
    texts = [
        render_request(call, s, "/e.png").messages[-1]["content"][-1]["text"]
        for s in (color, style)
    ]
    assert texts == ["Colour: Make it red.", "Rate the edit: Make it red."]


def test_a_prompt_picked_by_a_field_the_sample_lacks() -> None:
    protocol = make_protocol({"score": {"prompt_key": "variant", "prompts": {"a": PLAIN}}})
    with_field = sample("s1", extra={"variant": "a"})
    assert problems(protocol, [with_field, sample("s2")]) == [
        "call score: sample 's2' has no field 'variant' to pick its prompt by"
    ]


def test_calls_not_made_for_a_sample_need_no_prompt_for_it() -> None:
    protocol = make_protocol(
        {
            "score": {"prompts": {"color": PLAIN}, "skip_for": ["style"]},
            "consistency": {"prompt": PLAIN, "skip_if": "consistency_free"},
        }
    )
    style = sample("s2", "style", extra={"consistency_free": True})
    color = sample("s1", extra={"consistency_free": False})
    check_protocol(protocol, [color, style])
    assert [call.name for call in protocol.calls_for(style)] == []
    assert [call.name for call in protocol.calls_for(color)] == ["score", "consistency"]


def test_a_placeholder_a_sample_cannot_fill_names_call_prompt_and_sample() -> None:
    hinted = {"user_prompt_template": "{{instruction}} Expected: {{reference_text}}"}
    protocol = make_protocol({"score": {"prompt": PLAIN}, "hint": {"prompt": hinted}})
    samples = [sample("s1", reference_text="A red cup."), sample("s2", "style")]
    assert problems(protocol, samples) == [
        "protocol test, call hint, prompt 'style': placeholder {{reference_text}} cannot be "
        "filled for sample 's2'; its fields are: category, id, instruction"
    ]


def test_showing_a_reference_image_needs_one() -> None:
    protocol = make_protocol(
        {
            "score": {"images": ["reference", "edit"], "prompt": PLAIN},
            # a prompt's own images count, not only the call's
            "other": {"prompt": {**PLAIN, "images": ["source", "reference"]}},
        }
    )
    assert problems(protocol, [sample("s1", reference_image="/d/r.png"), sample("s2")]) == [
        "protocol test, call score, prompt 'color': shows the reference image, which sample "
        "'s2' does not have",
        "protocol test, call other, prompt 'color': shows the reference image, which sample "
        "'s2' does not have",
    ]


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (
            {"combine": "weighted", "weights": {"a": 1.0}},
            "combine is 'weighted': weights name ['a']; expected exactly the calls ['a', 'b']",
        ),
        (
            {"combine": "weighted", "weights": {"a": 1.0, "b": 1.0, "c": 1.0}},
            "combine is 'weighted': weights name ['a', 'b', 'c']; expected exactly the calls "
            "['a', 'b']",
        ),
        ({"combine": "weighted"}, "combine is 'weighted': weights name []; expected exactly"),
        (
            {"combine": "weighted", "weights": {"a": -1.0, "b": 2.0}},
            "weights {'a': -1.0, 'b': 2.0}; expected non-negative, not all zero",
        ),
        (
            {"combine": "weighted", "weights": {"a": 0.0, "b": 0.0}},
            "weights {'a': 0.0, 'b': 0.0}; expected non-negative, not all zero",
        ),
        ({"weights": {"a": 1.0, "b": 1.0}}, "weights given but combine is 'mean', not 'weighted'"),
        (
            {"combine": "viescore"},
            "protocol combine is 'viescore', a prompt's combination of SC and PQ criteria",
        ),
        (
            {"score_is_all_max": True},
            "score_is_all_max is true but all_max_as names no criterion",
        ),
        ({"rescale_to": [100, 0]}, "rescale_to [100.0, 0.0]; expected [low, high], low < high"),
    ],
)
def test_the_protocols_own_settings_are_checked(options: dict[str, Any], problem: str) -> None:
    protocol = make_protocol({"a": {"prompt": PLAIN}, "b": {"prompt": PLAIN}}, **options)
    (found,) = problems(protocol, [sample()])
    assert found.startswith(problem), found


def test_valid_weights_pass() -> None:
    weights = {"a": 2.0, "b": 0.0}
    protocol = make_protocol(
        {"a": {"prompt": PLAIN}, "b": {"prompt": PLAIN}}, combine="weighted", weights=weights
    )
    check_protocol(protocol, [sample()])


def test_a_protocol_needs_a_call() -> None:
    assert problems(make_protocol({}), [sample()]) == [
        "protocol test has no calls; expected at least one"
    ]


def test_a_criterion_given_by_two_calls_or_named_as_a_call_is_refused() -> None:
    protocol = make_protocol(
        {
            "a": {"prompt": rubric("quality", "b")},
            "b": {"prompt": rubric("quality")},
        }
    )
    assert problems(protocol, [sample("s1"), sample("s2")]) == [
        "protocol test: criterion 'b' of call a is also given by call b (sample 's1'); expected "
        "every criterion and call name to differ",
        "protocol test: criterion 'quality' of call b is also given by call a (sample 's1'); "
        "expected every criterion and call name to differ",
    ]
    # One call alone may name a criterion after itself: its score is not reported beside it.
    check_protocol(make_protocol({"quality": {"prompt": rubric("quality")}}), [sample()])


def test_every_problem_comes_in_one_error_and_long_lists_are_capped() -> None:
    calls = {f"c{i:02d}": {"prompts": {"color": PLAIN}} for i in range(25)}
    found = problems(make_protocol(calls, score_is_all_max=True), [sample("s1", "style")])
    assert found[0] == "score_is_all_max is true but all_max_as names no criterion"
    assert found[1].startswith("call c00: no prompt for category 'style'")
    assert len(found) == 21 and found[-1] == "... and 6 more"


def test_the_editbench_protocol_is_its_config(compose_config: Callable[..., DictConfig]) -> None:
    cfg = compose_config("prompts/causal=rubric")
    composed = Protocol.from_config(
        OmegaConf.to_container(cfg.protocol, resolve=True, enum_to_str=True)
    )
    prompts = OmegaConf.to_container(cfg.prompts, resolve=True, enum_to_str=True)
    assert composed == Protocol.editbench(prompts)
    assert composed.calls[0].prompts["causal"]["reply"] == "json_object"


# -- render_request -------------------------------------------------------------------------------


@pytest.fixture
def images(tmp_path: Path) -> dict[str, str]:
    """Two sources of different sizes, a reference, and the path an edit would have."""
    paths = {}
    for name, size in (("s1", (40, 30)), ("s2", (16, 16)), ("ref", (20, 20))):
        paths[name] = str(tmp_path / f"{name}.png")
        Image.new("RGB", size, (200, 30, 30)).save(paths[name])
    paths["edit"] = str(tmp_path / "edit.png")  # not made yet: nothing reads it
    return paths


def two_source_sample(images: Mapping[str, str], **more: Any) -> Sample:
    return sample(images=(images["s1"], images["s2"]), reference_image=images["ref"], **more)


def content(request: Any) -> list[str]:
    """The user message's parts, each as its text or its image's file name."""
    return [
        part["text"] if part["type"] == "text" else Path(part["image"]).stem
        for part in request.messages[-1]["content"]
    ]


def test_images_in_the_calls_order_with_numbered_captions_and_text_first(
    images: dict[str, str],
) -> None:
    call = {
        "images": ["reference", "edit", "source"],
        "labels": {"source": "Input {n}:", "edit": "Output:", "reference": "Target:"},
        "text_first": True,
        "prompt": PLAIN,
    }
    (made,) = make_protocol({"score": call}).calls
    request = render_request(made, two_source_sample(images), images["edit"])
    assert content(request) == [
        "Rate the edit: Make it red.",
        "Target:",
        "ref",
        "Output:",
        "edit",
        "Input 1:",
        "s1",
        "Input 2:",
        "s2",
    ]
    assert [message["role"] for message in request.messages] == ["user"]  # no system prompt


def test_without_captions_the_text_comes_last_by_default(images: dict[str, str]) -> None:
    (made,) = make_protocol({"score": {"prompt": PLAIN}}).calls
    request = render_request(made, two_source_sample(images), images["edit"])
    assert content(request) == ["s1", "s2", "edit", "Rate the edit: Make it red."]


def test_the_edit_is_shown_at_the_first_sources_size_where_the_call_says(
    images: dict[str, str],
) -> None:
    resized = make_protocol({"score": {"prompt": PLAIN, "resize_edit_to_source": True}})
    plain = make_protocol({"score": {"prompt": PLAIN}})
    for protocol, size in ((resized, [40, 30]), (plain, None)):
        request = render_request(protocol.calls[0], two_source_sample(images), images["edit"])
        parts = request.image_parts()
        assert [part.get("resize_to") for part in parts] == [None, None, size]


def test_a_prompts_own_images_and_captions_override_the_calls(images: dict[str, str]) -> None:
    own = {**PLAIN, "images": ["edit"], "labels": {"edit": "The image:"}}
    call = {
        "labels": {"source": "Source:", "edit": "Edit:"},
        "prompt": PLAIN,
        "prompts": {"style": own},
    }
    (made,) = make_protocol({"score": call}).calls
    color = two_source_sample(images)
    style = two_source_sample(images, category="style")
    assert content(render_request(made, style, images["edit"])) == [
        "The image:",
        "edit",
        "Rate the edit: Make it red.",
    ]
    assert content(render_request(made, color, images["edit"])) == [
        "Source:",
        "s1",
        "Source:",
        "s2",
        "Edit:",
        "edit",
        "Rate the edit: Make it red.",
    ]


def test_the_prompts_reply_settings_go_into_the_request(images: dict[str, str]) -> None:
    prompt = rubric(
        "follows",
        "looks",
        system_prompt="You judge edits.",
        scale=[1, 5],
        combine="min",
        reasoning_first=True,
    )
    (made,) = make_protocol({"score": {"prompt": prompt}}).calls
    request = render_request(made, two_source_sample(images), images["edit"])
    assert request.messages[0] == {
        "role": "system",
        "content": [{"type": "text", "text": "You judge edits."}],
    }
    assert (request.reply, request.scale, request.combine) == ("json_object", (1.0, 5.0), "min")
    assert request.criteria == {"follows": "SC", "looks": "SC"}
    assert request.reasoning_first is True
    assert request.mode("expected") == "generate"


def test_rendering_a_reference_the_sample_lacks_is_an_error(images: dict[str, str]) -> None:
    (made,) = make_protocol({"score": {"images": ["reference", "edit"], "prompt": PLAIN}}).calls
    with pytest.raises(ValueError, match="sample 's1' has no reference image"):
        render_request(made, sample(images=(images["s1"],)), images["edit"])


# -- sample_verdict -------------------------------------------------------------------------------


def ok(score: float, criteria: dict[str, float] | None = None, reply: str = "") -> dict[str, Any]:
    """A stored ok judgement."""
    return {"status": "ok", "score": score, "criteria": criteria, "reply": reply, "error": None}


def failed(status: str, error: str, reply: str = "") -> dict[str, Any]:
    return {"status": status, "score": None, "criteria": None, "reply": reply, "error": error}


TWO_CALLS = {
    "follow": {"prompt": rubric("follows", "keeps", combine="min")},
    "look": {"prompt": PLAIN},
}


def test_several_calls_ok_give_the_combination_and_every_score_by_name() -> None:
    protocol = make_protocol(TWO_CALLS)
    records = {
        "follow": ok(4.0, {"follows": 9.0, "keeps": 4.0}, "reply one"),
        "look": ok(8.0, reply="Score: 8"),
    }
    row = sample_verdict(protocol, sample(), records)
    assert (row["status"], row["score"], row["error"]) == ("ok", 6.0, None)
    assert row["criteria"] == {"follows": 9.0, "keeps": 4.0, "follow": 4.0, "look": 8.0}
    assert row["reply"] == "--- follow ---\nreply one\n\n--- look ---\nScore: 8"
    assert row["calls"] == {
        "follow": {
            "status": "ok",
            "score": 4.0,
            "criteria": {"follows": 9.0, "keeps": 4.0},
            "reply": "reply one",
            "error": None,
        },
        "look": {
            "status": "ok",
            "score": 8.0,
            "criteria": None,
            "reply": "Score: 8",
            "error": None,
        },
    }
    assert all(row[key] is None for key in ("entropy", "distribution", "samples", "spread"))


@pytest.mark.parametrize(
    ("follow", "look", "status", "error"),
    [
        (
            ok(4.0, {"follows": 9.0, "keeps": 4.0}),
            failed("refusal", "the judge refused"),
            "refusal",
            "look: the judge refused",
        ),
        (
            failed("parse_error", "no JSON"),
            failed("refusal", "the judge refused"),
            "parse_error",
            "follow: no JSON",
        ),
        (ok(4.0, {"follows": 9.0, "keeps": 4.0}), None, "missing", "look: never judged"),
        (None, failed("api_error", "timeout"), "missing", "follow: never judged"),
    ],
    ids=["second-fails", "both-fail-first-named", "second-missing", "first-missing"],
)
def test_a_sample_is_ok_only_when_every_call_is(
    follow: dict | None, look: dict | None, status: str, error: str
) -> None:
    row = sample_verdict(make_protocol(TWO_CALLS), sample(), {"follow": follow, "look": look})
    assert (row["status"], row["score"], row["criteria"], row["error"]) == (
        status,
        None,
        None,
        error,
    )
    assert row["calls"]["follow"]["status"] == (follow or {"status": "missing"})["status"]
    assert row["calls"]["look"]["status"] == (look or {"status": "missing"})["status"]


def test_a_single_call_passes_its_judgement_through() -> None:
    protocol = make_protocol({"score": {"prompt": PLAIN}})
    record = {
        **ok(7.5, reply="Score: 7.5"),
        "entropy": 0.3,
        "distribution": [0.0] * 7 + [0.5, 0.5] + [0.0] * 2,
        "samples": [7.0, 8.0],
        "spread": 0.7,
    }
    row = sample_verdict(protocol, sample(), {"score": record})
    assert row == {
        "status": "ok",
        "score": 7.5,
        "criteria": None,
        "error": None,
        "reply": "Score: 7.5",
        "entropy": 0.3,
        "distribution": record["distribution"],
        "samples": [7.0, 8.0],
        "spread": 0.7,
    }
    unread = sample_verdict(protocol, sample(), {"score": failed("parse_error", "no score", "7?")})
    assert (unread["status"], unread["error"], unread["reply"]) == ("parse_error", "no score", "7?")
    never = sample_verdict(protocol, sample(), {})
    assert (never["status"], never["error"], never["score"]) == ("missing", "never judged", None)


def test_rescale_maps_every_score_from_its_prompts_scale() -> None:
    protocol = make_protocol(
        {"score": {"prompt": rubric("a", "b", scale=[1, 5])}}, rescale_to=[0, 100]
    )
    row = sample_verdict(protocol, sample(), {"score": ok(4.0, {"a": 5.0, "b": 3.0})})
    assert row["score"] == pytest.approx(75.0)
    assert row["criteria"] == pytest.approx({"a": 100.0, "b": 50.0})


def all_max_protocol(**options: Any) -> Protocol:
    calls = {"a": {"prompt": SCALED}, "b": {"prompt": {**PLAIN, "scale": [0, 10]}}}
    return make_protocol(calls, all_max_as="accuracy", **options)


@pytest.mark.parametrize(
    ("a", "b", "top"),
    [(5.0, 10.0, True), (5.0, 9.0, False), (4.0, 10.0, False)],
)
def test_all_max_is_every_calls_score_at_the_top_of_its_own_scale(
    a: float, b: float, top: bool
) -> None:
    records = {"a": ok(a), "b": ok(b)}
    row = sample_verdict(all_max_protocol(), sample(), records)
    assert row["criteria"]["accuracy"] == (1.0 if top else 0.0)
    assert row["score"] == pytest.approx((a + b) / 2)  # the combination stays the score
    rescaled = sample_verdict(all_max_protocol(rescale_to=[0, 100]), sample(), records)
    assert rescaled["criteria"]["accuracy"] == (100.0 if top else 0.0)
    expected = ((a - 1) / 4 * 100 + b * 10) / 2
    assert rescaled["score"] == pytest.approx(expected)


def test_score_is_all_max_reports_the_combination_as_a_criterion() -> None:
    protocol = all_max_protocol(score_is_all_max=True, combine="min")
    row = sample_verdict(protocol, sample(), {"a": ok(5.0), "b": ok(9.0)})
    assert row["score"] == 0.0
    assert row["criteria"] == {"a": 5.0, "b": 9.0, "accuracy": 0.0, "min": 5.0}
    top = sample_verdict(protocol, sample(), {"a": ok(5.0), "b": ok(10.0)})
    assert (top["score"], top["criteria"]["min"]) == (1.0, 5.0)


@pytest.mark.parametrize(
    ("combine", "expected"),
    [("mean", 6.5), ("min", 4.0), ("geometric_mean", 6.0), ("weighted", (4 * 1 + 9 * 3) / 4)],
)
def test_the_calls_scores_combine_as_the_protocol_says(combine: str, expected: float) -> None:
    weights = {"a": 1.0, "b": 3.0} if combine == "weighted" else None
    protocol = make_protocol(
        {"a": {"prompt": PLAIN}, "b": {"prompt": PLAIN}}, combine=combine, weights=weights
    )
    row = sample_verdict(protocol, sample(), {"a": ok(4.0), "b": ok(9.0)})
    assert row["score"] == pytest.approx(expected)


def test_weights_are_renormalised_over_the_calls_made() -> None:
    calls = {
        "a": {"prompt": PLAIN},
        "b": {"prompt": PLAIN},
        "c": {"prompt": PLAIN, "skip_for": ["color"]},
    }
    protocol = make_protocol(calls, combine="weighted", weights={"a": 2.0, "b": 1.0, "c": 1.0})
    records = {"a": ok(6.0), "b": ok(9.0), "c": ok(1.0)}
    skipped = sample_verdict(protocol, sample(), records)
    assert skipped["score"] == pytest.approx((2 * 6 + 9) / 3)
    assert set(skipped["calls"]) == {"a", "b"}
    made = sample_verdict(protocol, sample(category="style"), records)
    assert made["score"] == pytest.approx((2 * 6 + 9 + 1) / 4)


def test_pooled_holds_every_criterion_or_else_the_calls_score_rescaled() -> None:
    protocol = make_protocol(
        {"a": {"prompt": rubric("x", "y", scale=[1, 5])}, "b": {"prompt": SCALED}},
        rescale_to=[0, 100],
        headline="pooled",
    )
    row = sample_verdict(protocol, sample(), {"a": ok(4.0, {"x": 5.0, "y": 3.0}), "b": ok(2.0)})
    assert row["pooled"] == pytest.approx([100.0, 50.0, 25.0])
    assert "pooled" not in sample_verdict(make_protocol(TWO_CALLS), sample(), {})


# -- how results.json describes a protocol ---------------------------------------------------------


def test_describe_says_how_each_calls_replies_were_read(
    images: dict[str, str], tmp_path: Path
) -> None:
    protocol = make_protocol(TWO_CALLS, all_max_as="top", score_is_all_max=True)
    samples = [two_source_sample(images), two_source_sample(images, sample_id="s2")]
    plan = make_plan(samples, protocol, {"name": "e"}, {"name": "j"}, 0, Store(tmp_path / "store"))
    expected = describe(protocol, plan, "expected")
    assert expected["calls"]["look"] == {"judgements": 2, "read_by": "expected"}
    assert expected["calls"]["follow"]["read_by"] == "generate"
    assert (
        "call follow: replies of several numbers are generated"
        in (expected["calls"]["follow"]["note"])
    )
    assert (expected["name"], expected["combine"], expected["score"]) == ("test", "mean", "top")
    generated = describe(protocol, plan, "generate")
    assert {call["read_by"] for call in generated["calls"].values()} == {"generate"}
    assert all("note" not in call for call in generated["calls"].values())
