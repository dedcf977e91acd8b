"""RISEBench: the source on the release's layout, the rise protocol's calls, prompts and images
per judging variant, and accuracy as RISE's gpt_eval.py computes it."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from PIL import Image

from editbench.errors import EditbenchError
from editbench.judges.parsing import parse_score
from editbench.protocols.checks import check_protocol
from editbench.protocols.spec import Protocol
from editbench.protocols.verdict import sample_verdict
from editbench.records import Sample
from editbench.results.aggregate import benchmark_results
from editbench.run import run
from editbench.sample_data.rise_bench import ANNOTATIONS, write
from editbench.sources.rise import load_rise

from .conftest import CONF

VARIANTS = {
    "temporal_reasoning_1": "temporal_causal",
    "temporal_reasoning_2": "temporal_causal_with_input",
    "temporal_reasoning_3": "temporal_causal",
    "causal_reasoning_1": "temporal_causal",
    "causal_reasoning_2": "temporal_causal_with_input",
    "spatial_reasoning_1": "spatial_ref_img",
    "spatial_reasoning_2": "spatial_with_input",
    "spatial_reasoning_3": "spatial",
    "logical_reasoning_1": "logical_image",
    "logical_reasoning_2": "logical_text",
    "logical_reasoning_3": "logical_image_wo_ins",
}
CONSISTENCY_FREE = {"temporal_reasoning_3", "causal_reasoning_2"}

# sha256 (first 16 hex digits) of each prompt of RISE's utils.py, with {instruct} written as
# {{instruction}} and {reference} as {{reference_text}}: any change to a template shows here.
PROMPT_DIGESTS = {
    "consist": "5b6238cd02733a09",
    "generation": "2d607960deffa2e1",
    "logical_cons": "b946429cebfe4619",
    "logical_cons_ans": "ccaaee06365cf647",
    "logical_img": "02e196cb1896c492",
    "logical_img_wo_q": "8cd49d5335cd303c",
    "logical_txt": "9f9e70b0e7389b86",
    "reasoning": "d55730589bcc21ee",
    "reasoning_w_input": "23241ae13342e9fc",
    "spatial_cons": "d5c6feaeaba79a72",
    "spatial_qual": "3bead46a4b0bcf29",
    "spatial_ref": "44aa77ab8d7446b3",
    "spatial_ref_img": "ef4ce72535ae26fc",
    "spatial_ref_w_input": "8af342a645869ae3",
}
# call -> prompt key -> (RISE's prompt, images shown in order, scale)
PUBLISHED_CALLS = {
    "consistency": {
        "temporal_causal": ("consist", ("source", "edit"), (1, 5)),
        "temporal_causal_with_input": ("consist", ("source", "edit"), (1, 5)),
        "spatial_ref_img": ("spatial_cons", ("reference", "edit"), (1, 5)),
        "spatial_with_input": ("spatial_cons", ("source", "edit"), (1, 5)),
        "spatial": ("spatial_cons", ("source", "edit"), (1, 5)),
        "logical_text": ("logical_cons_ans", ("source", "edit"), (0, 1)),
        "logical_image": ("logical_cons", ("reference", "edit"), (0, 1)),
        "logical_image_wo_ins": ("logical_cons", ("reference", "edit"), (0, 1)),
    },
    "reasoning": {
        "temporal_causal": ("reasoning", ("edit",), (1, 5)),
        "temporal_causal_with_input": ("reasoning_w_input", ("source", "edit"), (1, 5)),
        "spatial_ref_img": ("spatial_ref_img", ("reference", "edit"), (1, 5)),
        "spatial_with_input": ("spatial_ref_w_input", ("source", "edit"), (1, 5)),
        "spatial": ("spatial_ref", ("edit",), (1, 5)),
        "logical_text": ("logical_txt", ("edit",), (0, 1)),
        "logical_image": ("logical_img", ("reference", "edit"), (0, 1)),
        "logical_image_wo_ins": ("logical_img_wo_q", ("reference", "edit"), (0, 1)),
    },
    "plausibility": {
        "temporal_reasoning": ("generation", ("edit",), (1, 5)),
        "causal_reasoning": ("generation", ("edit",), (1, 5)),
        "spatial_reasoning": ("spatial_qual", ("edit",), (1, 5)),
    },
}
SUBTASKS = {  # RISE's subtask_dic: the prefix of its score rows, and the subtasks
    "Temp": (
        "temporal_reasoning",
        [
            "Life Progression",
            "Material Progression",
            "Environmental Cycles",
            "Societal Transformation",
        ],
    ),
    "Causal": (
        "causal_reasoning",
        [
            "Structural Deformation",
            "State Transition",
            "Chemical and Biological Transformation",
            "Physics Manifestation",
        ],
    ),
    "Spa": (
        "spatial_reasoning",
        [
            "Component Assembly",
            "Object Arrangement",
            "Viewpoint Generation",
            "Structural Inference",
            "Layout Reasoning",
        ],
    ),
    "Logic": (
        "logical_reasoning",
        ["Pattern Prediction", "Mathematical Derivation", "Puzzle Solving"],
    ),
}


@pytest.fixture(scope="module")
def rise_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("rise"))


@pytest.fixture(scope="module")
def protocol() -> Protocol:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["dataset=rise_bench", "dataset.root=unused"])
    return Protocol.from_config(
        OmegaConf.to_container(cfg.protocol, resolve=True, enum_to_str=True)
    )


def _release(tmp_path: Path, items: list, images: dict[str, str] | None = None) -> Path:
    """A RISEBench folder holding ``items`` and a valid PNG at each image path they need
    (``images`` maps more paths under data/ to write, or to "corrupt")."""
    root = tmp_path / "rise"
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / ANNOTATIONS).write_text(json.dumps(items))
    wanted = {"temporal_reasoning_images/1.png": "png", **(images or {})}
    for relative, kind in wanted.items():
        path = root / "data" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "corrupt":
            path.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
        else:
            Image.new("RGB", (16, 16), "white").save(path)
    return root


_ABSENT = object()  # a key the item does not have


def _item(**changes) -> dict:
    item = {
        "index": "temporal_reasoning_1",
        "category": "temporal_reasoning",
        "subtask": "Life Progression",
        "instruction": "Draw it in a year.",
        "image": "temporal_reasoning_images/1.png",
        "reference": "A rotten banana.",
    }
    item.update(changes)
    return {key: value for key, value in item.items() if value is not _ABSENT}


# -- the source ---------------------------------------------------------------------------------


def test_source_reads_the_release_layout(rise_root):
    samples = load_rise(rise_root)
    assert [s.id for s in samples] == list(VARIANTS)  # the file's order
    assert {s.id: s.category for s in samples} == {i: i.rsplit("_", 1)[0] for i in VARIANTS}
    data = (rise_root / "data").resolve()
    by_id = {s.id: s for s in samples}
    assert by_id["temporal_reasoning_3"].images == (
        str(data / "temporal_reasoning_images" / "3.jpg"),
    )
    assert by_id["spatial_reasoning_1"].images == (str(data / "spatial_reasoning_images/1.png"),)
    references = {s.id: s.reference_image for s in samples if s.reference_image}
    assert references == {
        "spatial_reasoning_1": str(data / "spatial_reasoning_images/1_ref.png"),
        "logical_reasoning_1": str(data / "logical_reasoning_images/1_ref.png"),
        "logical_reasoning_3": str(data / "logical_reasoning_images/3_ref.png"),
    }
    # the reference text: `reference`, or a logical item's `reference_txt`
    assert by_id["logical_reasoning_2"].reference_text == "The sign shows the number 3."
    assert by_id["causal_reasoning_1"].reference_text.startswith("The glass lies shattered")
    assert by_id["spatial_reasoning_1"].reference_text is None
    assert by_id["logical_reasoning_3"].extra == {
        "subtask": "Pattern Prediction",
        "consistency_free": False,
        "reasoning_img": False,
        "reasoning_wo_ins": True,
        "judge_variant": "logical_image_wo_ins",
    }
    assert {s.id: s.extra["judge_variant"] for s in samples} == VARIANTS
    assert {s.id for s in samples if s.extra["consistency_free"]} == CONSISTENCY_FREE
    # temporal_reasoning_3 has "reasoning_img": null, which reads as unset
    assert json.loads((rise_root / ANNOTATIONS).read_text())[2]["reasoning_img"] is None
    assert by_id["temporal_reasoning_3"].extra["reasoning_img"] is False


def test_selection_filters_and_limits(rise_root):
    logical = load_rise(rise_root, categories="logical_reasoning")
    assert [s.id for s in logical] == [i for i in VARIANTS if i.startswith("logical")]
    assert [s.id for s in load_rise(rise_root, where={"subtask": "Viewpoint Generation"})] == [
        "spatial_reasoning_2"
    ]
    assert [s.id for s in load_rise(rise_root, where={"consistency_free": True})] == sorted(
        CONSISTENCY_FREE, reverse=True
    )
    assert len(load_rise(rise_root, limit=4)) == 4
    with pytest.raises(EditbenchError, match="unknown category 'physical'"):
        load_rise(rise_root, categories=["physical"])


@pytest.mark.parametrize(
    ("value", "is_set"),
    [
        (True, True),
        (1, True),
        ("yes", True),
        (1.0, True),
        (False, False),
        (0, False),
        ("", False),
        (None, False),
        (math.nan, False),  # json writes NaN; pandas' "absent"
        (_ABSENT, False),
    ],
)
def test_a_flag_is_set_when_present_and_truthy(tmp_path, value, is_set):
    root = _release(tmp_path, [_item(consistency_free=value, reasoning_img=value)])
    (sample,) = load_rise(root)
    assert sample.extra["consistency_free"] is is_set
    assert sample.extra["reasoning_img"] is is_set
    assert sample.extra["judge_variant"] == (
        "temporal_causal_with_input" if is_set else "temporal_causal"
    )


@pytest.mark.parametrize(
    ("changes", "variant", "reference_text"),
    [
        # eval_vanilla's order: a spatial reference image before reasoning_img
        (
            {
                "index": "s",
                "category": "spatial_reasoning",
                "reference_img": "x/ref.png",
                "reasoning_img": 1,
            },
            "spatial_ref_img",
            "A rotten banana.",
        ),
        ({"category": "spatial_reasoning", "reasoning_img": 1}, "spatial_with_input", None),
        ({"category": "spatial_reasoning"}, "spatial", None),
        # a logical item's reference_txt before its reference image; `reference` is kept aside
        (
            {
                "category": "logical_reasoning",
                "reference_txt": "Answer 4.",
                "reference_img": "x/ref.png",
                "reasoning_wo_ins": True,
            },
            "logical_text",
            "Answer 4.",
        ),
        (
            {"category": "logical_reasoning", "reference": _ABSENT, "reference_img": "x/ref.png"},
            "logical_image",
            None,
        ),
    ],
)
def test_variant_precedence(tmp_path, changes, variant, reference_text):
    root = _release(tmp_path, [_item(**changes)], {"x/ref.png": "png"})
    (sample,) = load_rise(root)
    assert sample.extra["judge_variant"] == variant
    if reference_text is not None:
        assert sample.reference_text == reference_text
    if variant == "logical_text":
        assert sample.extra["reference"] == "A rotten banana."  # the unused text, kept


def test_an_early_set_item_without_subtask_reads_as_none(tmp_path):
    root = _release(tmp_path, [_item(subtask=_ABSENT)])
    (sample,) = load_rise(root, subsets={"Temp-Life Progression": {"subtask": "Life Progression"}})
    assert sample.extra["subtask"] is None


def test_other_keys_pass_through(tmp_path):
    root = _release(tmp_path, [_item(reasoning_img_op="x", index=7)])
    (sample,) = load_rise(root)
    assert sample.id == "7"  # an integer index is the string id
    assert sample.extra["reasoning_img_op"] == "x"


def _problem(tmp_path, items, **kwargs) -> str:
    root = _release(tmp_path, items, kwargs.pop("images", None))
    with pytest.raises(EditbenchError) as error:
        load_rise(root, **kwargs)
    return str(error.value)


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([], "no samples; expected at least one"),
        ([_item(index=_ABSENT)], "item 0: missing field 'index'"),
        ([_item(index=["a"])], "field 'index' is ['a']"),
        ([_item(category="physical")], "field 'category' is 'physical'; expected one of"),
        ([_item(category=_ABSENT)], "missing field 'category'"),
        ([_item(instruction="")], "field 'instruction' is empty"),
        ([_item(image=_ABSENT)], "missing field 'image'"),
        ([_item(image="../../etc/passwd")], "outside the dataset folder"),
        ([_item(image="/etc/hostname")], "is an absolute path"),
        ([_item(image="temporal_reasoning_images/9.png")], "not found at"),
        ([_item(image="bad.png")], "bad.png' cannot be read as an image"),
        ([_item(), _item()], "duplicate id 'temporal_reasoning_1'"),
        ([_item(consistency_free=[1])], "field 'consistency_free' is [1] (list); expected a flag"),
        ([_item(reference=3)], "field 'reference' is 3 (int); expected a non-empty string"),
        ([_item(reference=_ABSENT)], "has no 'reference'; expected the expected outcome"),
        ([_item(subtask=2)], "field 'subtask' is 2 (int); expected a string"),
        ([_item(judge_variant="spatial")], "has the key 'judge_variant'"),
        (
            [_item(category="logical_reasoning", reference=_ABSENT)],
            "logical item has neither 'reference_txt' nor 'reference_img'",
        ),
        (
            [_item(category="logical_reasoning", reference_img="x/none.png")],
            "reference_image 'x/none.png' not found",
        ),
        (["temporal_reasoning_1"], "item 0: a JSON str; expected an object"),
    ],
)
def test_hostile_items_are_named(tmp_path, items, expected):
    message = _problem(tmp_path, items, images={"bad.png": "corrupt"})
    assert expected in message
    if items and isinstance(items[0], dict) and isinstance(items[0].get("index"), str):
        assert f"{ANNOTATIONS} item 0 (index 'temporal_reasoning_1')" in message


def test_every_problem_is_listed_at_once(tmp_path):
    message = _problem(tmp_path, [_item(category="x"), _item(index="b", reference=_ABSENT)])
    assert "has 2 problems" in message
    assert "item 0 (index 'temporal_reasoning_1'): field 'category'" in message
    assert "item 1 (index 'b'): has no 'reference'" in message


def test_a_symlink_out_of_the_images_folder_is_refused(tmp_path):
    outside = tmp_path / "outside.png"
    Image.new("RGB", (8, 8)).save(outside)
    root = _release(tmp_path, [_item(image="link.png")])
    (root / "data" / "link.png").symlink_to(outside)
    with pytest.raises(EditbenchError, match="outside the dataset folder"):
        load_rise(root)


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (lambda root: (root / ANNOTATIONS).unlink(), "has no annotations file"),
        (lambda root: (root / ANNOTATIONS).write_text("[{"), "is not valid JSON"),
        (lambda root: (root / ANNOTATIONS).write_text("{}"), "holds a JSON dict; expected a list"),
        (lambda root: (root / ANNOTATIONS).write_bytes(b'["\xff"]'), "is not valid UTF-8"),
        (lambda root: shutil.rmtree(root / "data"), "has no image folder 'data'"),
    ],
)
def test_a_broken_release_is_named(tmp_path, break_it, expected):
    root = _release(tmp_path, [_item()])
    break_it(root)
    with pytest.raises(EditbenchError, match=expected):
        load_rise(root)


def test_a_missing_root_is_named(tmp_path):
    with pytest.raises(EditbenchError, match="does not exist"):
        load_rise(tmp_path / "nowhere")


def test_the_dataset_option_reports_every_subtask(compose_config, rise_root):
    cfg = compose_config("dataset=rise_bench", f"dataset.root={rise_root}")
    assert cfg.protocol.name == "rise"
    assert cfg.dataset.annotations == "datav2_total_w_subtask.json"
    expected = {
        f"{prefix}-{subtask}": {"category": category, "subtask": subtask}
        for prefix, (category, subtasks) in SUBTASKS.items()
        for subtask in subtasks
    }
    assert OmegaConf.to_container(cfg.dataset.subsets) == expected
    # the made-up items use RISE's subtasks, each in its category
    pairs = {(s.category, s.extra["subtask"]) for s in load_rise(rise_root, subsets=expected)}
    assert pairs <= {(f["category"], f["subtask"]) for f in expected.values()}


# -- the protocol -------------------------------------------------------------------------------


def test_the_protocol_holds_the_published_prompts(protocol):
    assert [call.name for call in protocol.calls] == ["consistency", "reasoning", "plausibility"]
    for call in protocol.calls:
        published = PUBLISHED_CALLS[call.name]
        assert set(call.prompts) == set(published)
        assert call.text_first is True and call.labels is None
        for key, (name, images, scale) in published.items():
            prompt = call.prompts[key]
            digest = hashlib.sha256(prompt["user_prompt_template"].encode()).hexdigest()[:16]
            assert digest == PROMPT_DIGESTS[name], (call.name, key)
            assert tuple(prompt.get("images") or call.images) == images, (call.name, key)
            assert tuple(prompt["scale"]) == scale
            assert prompt["reply"] == "score" and prompt["system_prompt"] is None
    assert protocol.calls[0].skip_if == "consistency_free"
    assert protocol.calls[2].skip_for == ("logical_reasoning",)
    assert (protocol.combine, protocol.weights) == (
        "weighted",
        {"consistency": 0.3, "reasoning": 0.5, "plausibility": 0.2},
    )
    assert protocol.all_max_as == "accuracy" and protocol.score_is_all_max
    assert protocol.rescale_to == (0.0, 100.0) and protocol.headline == "sample_mean"


def test_dry_run_sends_the_published_calls(compose_config, rise_root, tmp_path):
    cfg = compose_config(
        "experiment=demo", "dataset=rise_bench", f"dataset.root={rise_root}", "dry_run=true"
    )
    summary = run(cfg, tmp_path / "run")
    # 11 reasoning calls, consistency for the 9 that are not consistency_free, plausibility
    # for the 8 that are not logical
    assert (summary["samples"], summary["judge_calls"]) == (11, 28)
    requests = [
        json.loads(line)
        for line in (tmp_path / "run" / "judge_requests.jsonl").read_text().splitlines()
    ]
    samples = {s.id: s for s in load_rise(rise_root)}
    made = {(r["id"], r["call"]) for r in requests}
    for sample_id in VARIANTS:
        sample = samples[sample_id]
        expected_calls = {"reasoning"}
        if sample_id not in CONSISTENCY_FREE:
            expected_calls.add("consistency")
        if sample.category != "logical_reasoning":
            expected_calls.add("plausibility")
        assert {call for i, call in made if i == sample_id} == expected_calls, sample_id
    for request in requests:
        sample = samples[request["id"]]
        key = sample.category if request["call"] == "plausibility" else VARIANTS[sample.id]
        _, roles, scale = PUBLISHED_CALLS[request["call"]][key]
        (message,) = request["messages"]  # one user message, no system prompt
        assert message["role"] == "user"
        text, *images = message["content"]  # the text first, no captions
        assert text["type"] == "text" and all(part["type"] == "image" for part in images)
        edit = images[-1]["image"]
        paths = {"source": sample.image, "reference": sample.reference_image, "edit": edit}
        assert [part["image"] for part in images] == [paths[role] for role in roles]
        assert edit not in (sample.image, sample.reference_image)
        assert tuple(request["scale"]) == scale
        assert request["reply"] == "score"
    logical_text = next(
        r for r in requests if (r["id"], r["call"]) == ("logical_reasoning_2", "reasoning")
    )
    # prompt_logical_txt has no instruction slot: the judge sees only the reference answer
    assert logical_text["messages"][0]["content"][0]["text"] == (
        "**You are a highly skilled image evaluator.** Given an image with logical problem, "
        "you will receive:\n\n1. **Image**: A generated image answer from an assistant model.\n"
        "2. **Reference Answer**\n\n## Task\nAssign a binary score (0 or 1) for **Logical "
        "Correctness**:\n- **1** if the Generated Image accurately implements the Reference "
        "Answer.\n- **0** otherwise.\n\n## Requirements\n- The original image is not given and "
        "do not imagine the original image, just determine whether the generated image matches "
        "the reference answer.\n- **If the given image contains more content than reference "
        'answer, give score 0. For example, reference answer is "a square" but image contains '
        "more squares or rectangles, give score 0.**\n\n## Inputs\n**Reference Answer**:\n"
        "The sign shows the number 3.\n\n## Output\nYou should provide a step-by-step "
        "explanation of how you arrived at the score and conclude in the format:\n\n"
        "**Final Score**: **X**\n"
    )
    spatial = next(
        r for r in requests if (r["id"], r["call"]) == ("spatial_reasoning_3", "reasoning")
    )
    assert spatial["messages"][0]["content"][0]["text"].endswith(
        "## Input\n**Instruction**  Stack the objects on the table into a single tower.\n"
        "**GroundTruth Description:** The vase stands on the table with the ball balanced on "
        "top of it.\n\n## Output Format\n\nConclude clearly with the final score, formatted "
        "as:\n\n**Final Score:** **X**"
    )


def test_a_variant_without_a_prompt_is_refused(protocol, rise_root):
    samples = load_rise(rise_root)
    check_protocol(protocol, samples)
    odd = Sample("x", "temporal_reasoning", "i", ("/a.png",), extra={"judge_variant": "odd"})
    with pytest.raises(EditbenchError, match="no prompt for judge_variant 'odd'"):
        check_protocol(protocol, [odd])


@pytest.mark.parametrize(
    ("reply", "scale", "score"),
    [
        ("The path is right.\n\n**Final Score**: **1**", (0, 1), 1.0),
        ("It differs.\n\n**Final Score**: **0**", (0, 1), 0.0),
        ("**Final Score**: **2**", (0, 1), None),  # RISE reads it as correct; here unreadable
        ("- **Score 5**: identical.\n\n**Final Score:** **4**", (1, 5), 4.0),
        ("**Final Score:** **5**", (1, 5), 5.0),
        ("**Final Score:** **1-5**", (1, 5), None),
    ],
)
def test_replies_in_rise_format_are_read(reply, scale, score):
    assert parse_score(reply, scale=scale) == score


# -- verdicts and aggregation -------------------------------------------------------------------


def _sample(sample_id: str, category: str, variant: str, free: bool = False, subtask=None):
    return Sample(
        sample_id,
        category,
        "instruction",
        ("/source.png",),
        reference_image="/ref.png",
        reference_text="reference",
        extra={"judge_variant": variant, "consistency_free": free, "subtask": subtask},
    )


def _ok(score: float) -> dict:
    return {"status": "ok", "score": float(score), "reply": f"**Final Score:** **{score}**"}


def _judged(protocol, sample, scores: dict) -> dict:
    return {
        "id": sample.id,
        "category": sample.category,
        "instruction": sample.instruction,
        "extra": sample.extra,
        **sample_verdict(protocol, sample, {call: _ok(s) for call, s in scores.items()}),
    }


@pytest.mark.parametrize(
    ("sample", "scores", "accuracy", "criteria"),
    [
        (
            _sample("t", "temporal_reasoning", "temporal_causal"),
            {"consistency": 5, "reasoning": 5, "plausibility": 5},
            100.0,
            {"consistency": 100.0, "reasoning": 100.0, "plausibility": 100.0, "weighted": 100.0},
        ),
        (  # one call short of the top: 0; weighted 0.3*100 + 0.5*75 + 0.2*100
            _sample("t", "temporal_reasoning", "temporal_causal"),
            {"consistency": 5, "reasoning": 4, "plausibility": 5},
            0.0,
            {"consistency": 100.0, "reasoning": 75.0, "plausibility": 100.0, "weighted": 87.5},
        ),
        (  # consistency_free: reasoning and plausibility at 5 suffice (the 2026-04 fix)
            _sample("f", "causal_reasoning", "temporal_causal", free=True),
            {"reasoning": 5, "plausibility": 5},
            100.0,
            {"reasoning": 100.0, "plausibility": 100.0, "weighted": 100.0},
        ),
        (  # weighted over the calls made: (0.5*75 + 0.2*50) / 0.7
            _sample("f", "causal_reasoning", "temporal_causal", free=True),
            {"reasoning": 4, "plausibility": 3},
            0.0,
            {"reasoning": 75.0, "plausibility": 50.0, "weighted": 47.5 / 0.7},
        ),
        (  # logical 0/1 is 0/100 (RISE: 4*s+1, then 25*(s-1)); 1 and 1 is correct
            _sample("l", "logical_reasoning", "logical_image"),
            {"consistency": 1, "reasoning": 1},
            100.0,
            {"consistency": 100.0, "reasoning": 100.0, "weighted": 100.0},
        ),
        (  # (0.3*100 + 0.5*0) / 0.8
            _sample("l", "logical_reasoning", "logical_text"),
            {"consistency": 1, "reasoning": 0},
            0.0,
            {"consistency": 100.0, "reasoning": 0.0, "weighted": 37.5},
        ),
    ],
)
def test_sample_accuracy_and_criteria(protocol, sample, scores, accuracy, criteria):
    assert [call.name for call in protocol.calls_for(sample)] == list(scores)
    verdict = sample_verdict(protocol, sample, {call: _ok(s) for call, s in scores.items()})
    assert verdict["status"] == "ok"
    assert verdict["score"] == accuracy
    assert verdict["criteria"] == pytest.approx({**criteria, "accuracy": accuracy})


def test_a_failed_call_fails_the_sample(protocol):
    sample = _sample("t", "spatial_reasoning", "spatial")
    records = {
        "consistency": _ok(5),
        "reasoning": {"status": "parse_error", "reply": "looks fine", "error": "no score"},
        "plausibility": _ok(5),
    }
    verdict = sample_verdict(protocol, sample, records)
    assert (verdict["status"], verdict["score"]) == ("parse_error", None)
    assert verdict["error"] == "reasoning: no score"
    missing = sample_verdict(protocol, sample, {"consistency": _ok(5), "reasoning": _ok(5)})
    assert missing["status"] == "missing" and missing["score"] is None


def test_overall_accuracy_is_the_micro_average(protocol):
    """GPT-Image-1's published row: 31/85, 31/90, 37/100 and 9/85 correct give 36.5, 34.4,
    37.0, 10.6 and an overall 108/360 = 30.0, the mean over all items, not of the four
    categories (29.6)."""
    # (category, variant, items, correct, consistency_free items (2 of them correct))
    plan = [
        ("temporal_reasoning", "temporal_causal", 85, 31, 5),
        ("causal_reasoning", "temporal_causal_with_input", 90, 31, 2),
        ("spatial_reasoning", "spatial_ref_img", 100, 37, 0),
        ("logical_reasoning", "logical_image", 85, 9, 0),
    ]
    rows = []
    for category, variant, count, correct, free in plan:
        for n in range(count):
            sample = _sample(
                f"{category}_{n}", category, variant, free=n < free, subtask=f"sub{n % 2}"
            )
            top = 1 if category == "logical_reasoning" else 5
            # the correct ones score the top everywhere; the others miss it in one call
            scores = {call.name: top for call in protocol.calls_for(sample)}
            if n >= correct:
                scores["reasoning"] = top - 1
            rows.append(_judged(protocol, sample, scores))
    categories = [category for category, *_ in plan]
    results = benchmark_results(
        rows,
        categories,
        headline=protocol.headline,
        subsets={"Temp-sub0": {"category": "temporal_reasoning", "subtask": "sub0"}},
    )
    by_category = {c: round(results["categories"][c]["mean"], 1) for c in categories}
    assert by_category == {
        "temporal_reasoning": 36.5,
        "causal_reasoning": 34.4,
        "spatial_reasoning": 37.0,
        "logical_reasoning": 10.6,
    }
    overall = results["overall"]
    assert overall["headline"] == pytest.approx(100 * 108 / 360)
    assert round(overall["headline"], 1) == 30.0
    assert round(overall["mean_of_categories"], 1) == 29.6
    # the temporal subtask sub0: even n < 85, of which 16 of the first 31 are correct
    subset = results["subsets"]["Temp-sub0"]["overall"]
    assert (subset["n"], subset["headline"]) == (43, pytest.approx(100 * 16 / 43))
    # a failed judgement leaves the denominator (RISE would count it as incorrect)
    rows[-1] = {**rows[-1], "status": "parse_error", "score": None, "criteria": None}
    failed = benchmark_results(rows, categories, headline=protocol.headline)["overall"]
    assert failed["headline"] == pytest.approx(100 * 108 / 359)
    assert failed["coverage"] == pytest.approx(359 / 360)
