"""KRIS-Bench: its source on the published layout (and on broken copies of it), the calls its
protocol makes for each kind of sample, and its pooled figures from synthetic judgements."""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf
from PIL import Image

from editbench.errors import EditbenchError
from editbench.judges.draws import read_reply
from editbench.protocols.checks import check_protocol
from editbench.protocols.requests import render_request
from editbench.protocols.spec import Protocol
from editbench.protocols.verdict import sample_verdict
from editbench.records import Sample
from editbench.results.aggregate import benchmark_results
from editbench.run import run
from editbench.sample_data import kris_bench
from editbench.sources.kris import load_kris

from .conftest import CONF

# The official scripts and the categories each judges (metrics_<script>.py); anomaly_correction
# is the common script's, with its plain instruction prompt.
SCRIPTS = {
    "common": [
        "count_change",
        "color_change",
        "anomaly_correction",
        "position_movement",
        "size_adjustment",
        "part_completion",
        "multi-instruction_execution",
    ],
    "view": ["viewpoint_change"],
    "knowledge": [
        "abstract_reasoning",
        "mathematics",
        "practical_knowledge",
        "medicine",
        "rule-based_reasoning",
        "biology",
        "geography",
        "chemistry",
        "humanities",
        "physics",
    ],
    "multi": ["multi-element_composition"],
    "temporal": ["temporal_prediction"],
}
# Bagel's eval/gen/kris/summarize.py: knowledge type -> reasoning group -> categories.
TAXONOMY = {
    "Factual Knowledge": {
        "Attribute Perception": [
            "count_change",
            "color_change",
            "size_adjustment",
            "part_completion",
            "anomaly_correction",
        ],
        "Spatial Perception": ["viewpoint_change", "position_movement"],
        "Temporal Prediction": ["temporal_prediction"],
    },
    "Conceptual Knowledge": {
        "Social Science": ["humanities", "practical_knowledge"],
        "Natural Science": [
            "biology",
            "chemistry",
            "geography",
            "medicine",
            "mathematics",
            "physics",
        ],
    },
    "Procedural Knowledge": {
        "Logical Reasoning": ["abstract_reasoning", "rule-based_reasoning"],
        "Instruction Decomposition": ["multi-element_composition", "multi-instruction_execution"],
    },
}
# Two of the published prompts (utils/prompts.py), as the scripts .format() them.
PROMPT_CONSIST = (
    "\n"
    "You are a professional digital artist and image evaluation specialist.\n"
    "\n"
    "You will be given:\n"
    "1. **Image A**: the original image.\n"
    "2. **Image B**: an edited version of Image A.\n"
    "3. **Editing Instruction**: a directive describing the intended modification to "
    "Image A to produce Image B.\n"
    "\n"
    "Your Objective:\n"
    "Your task is to **evaluate the visual consistency between the original and edited "
    "images, focusing exclusively on elements that are NOT specified for change in the "
    "instruction**. That is, you should only consider whether all non-instructed details "
    "remain unchanged. Do **not** penalize or reward any changes that are explicitly "
    "required by the instruction.\n"
    "\n"
    "## Evaluation Scale (1 to 5):\n"
    "You will assign a **consistency_score** according to the following rules:\n"
    "- **5 Perfect Consistency**: All non-instruction elements are completely unchanged "
    "and visually identical.\n"
    "- **4 Minor Inconsistency**: Only one very small, non-instruction detail is "
    "different (e.g., a tiny accessory, a subtle shadow, or a minor background artifact).\n"
    "- **3 Noticeable Inconsistency**: One clear non-instruction element is changed "
    "(e.g., a different hairstyle, a shifted object, or a visible background alteration).\n"
    "- **2 Significant Inconsistency**: Two or more non-instruction elements have been "
    "noticeably altered.\n"
    "- **1 Severe Inconsistency**: Most or all major non-instruction details are "
    "different (e.g., changed identity, gender, or overall scene layout).\n"
    "\n"
    "## Guidance:\n"
    "- First, **identify all elements that the instruction explicitly allows or requires "
    "to be changed**. Exclude these from your consistency check.\n"
    "- For all other elements (e.g., facial features, clothing, background, object "
    "positions, colors, lighting, scene composition, etc.), **compare Image B to Image "
    "A** and check if they remain visually identical.\n"
    "- If you observe any change in a non-instruction element, note it and consider its "
    "impact on the score.\n"
    "- If the instruction is vague or ambiguous, make a best-effort factual inference "
    "about which elements are intended to change, and treat all others as "
    "non-instruction elements.\n"
    "\n"
    "## Note:\n"
    "- **Do not penalize changes that are required by the instruction.**\n"
    "- **Do not reward or penalize the quality or correctness of the instructed change "
    "itself** (that is evaluated separately).\n"
    "- If the edited image introduces new artifacts, objects, or changes to "
    "non-instruction elements, this should lower the consistency score.\n"
    "\n"
    "## Input\n"
    "**Image A**\n"
    "**Image B**\n"
    "**Editing Instruction**: {instruct}\n"
    "## Output Format\n"
    "First, clearly explain your comparison process: list each major non-instruction "
    "element and state whether it is consistent (unchanged) or inconsistent (changed), "
    "with brief reasoning.\n"
    "Then, provide your evaluation in the following JSON format:\n"
    "{{\n"
    '"reasoning": **Compared to original image**, [list of non-instruction elements that '
    "changed or remained the same] **in the edited image**. \n"
    '"consistency_score": X\n'
    "}}\n"
)

PROMPT_CONSIST_TEMPORAL = (
    "\n"
    "You are a professional digital artist and image-evaluation specialist.\n"
    "\n"
    "## Inputs\n"
    "1. **Reference Frames**: multiple original images\n"
    "2. **Predicted Frame**: one modified image\n"
    "3. **Modification Instruction**: {instruct}\n"
    "\n"
    "## Objective\n"
    "Evaluate **visual consistency** of the predicted frame within the temporal context "
    "of the reference frames. Ignore differences plausibly caused by natural motion; "
    "focus on identity, style, and spatial-temporal continuity.\n"
    "\n"
    "## A. Consistency Score (1-5)\n"
    "Mark each aspect ✔ (consistent) or ✘ (inconsistent).\n"
    "\n"
    "- **5-Perfect**: Predicted frame aligns seamlessly in identity, style, and spatial "
    "logic.\n"
    "- **4-Minor Differences**: Only negligible inconsistencies (e.g., faint texture "
    "glitch, subtle lighting shift).\n"
    "- **3-Noticeable Differences**: One clear element breaks temporal flow (e.g., "
    "altered face, misplaced object).\n"
    "- **2-Significant Differences**: Two or more elements deviate noticeably (e.g., "
    "background swap and identity shift).\n"
    "- **1-Severe Differences**: Predicted frame contradicts key identity or scene "
    "elements; appears unrelated.\n"
    "\n"
    "## Output Format\n"
    "Briefly list which aspects are consistent or inconsistent and their impact on "
    "temporal coherence.  \n"
    "Then output:\n"
    "\n"
    "{{\n"
    '  "consistency_score": X,\n'
    '  "reasoning": 1. Detect Consistency 2. Expected Visual Caption 3. Consistency '
    "Match 4. Decision\n"
    "}}\n"
)

# The sha256 of every template: the published string with str.format's "{{" "}}" made "{" "}",
# {instruct} made {{instruction}} and {explanation} made {{explain_en}}; the quality prompt,
# which the scripts send unformatted, is the published string itself (a literal prompt).
TEMPLATE_SHA256 = {
    "consist": "96936756377cdbadc2a911a72e57899fd4baab2ee9f1cd0d663097b1b7a9bb2d",
    "consist_multi": "eed97e9a4a662d90f9b4b7c1e3d3df2c57687de0677d96bc4a40b219f991f5db",
    "consist_temporal": "6fa1f433bdac6355cd300d3e39cc755a9ba09d0d6d999f074f92f5e0c4e42651",
    "instruction_following": "2ebf095684de24ff8e0f6c63ca80df7c7c7538d6f3bad18cb7218f1cf5eddd5b",
    "view_instruction_following": (
        "21d43f6c43762b4edddd98a102aa225790c102d8fbd40b1afa05ca26b2e392f6"
    ),
    "dual_evaluation": "ec80a3b132245a35289b0d6a14938f0f2ad765131432cd3d60c2d33a42752b0d",
    "instruction_multi": "f1d6655cb31e2fdbf4d64e8bb6b8e626ba3301a4b55e72e89ee78200d812cc27",
    "instruction_temporal": "7dcc561b6df1a12baaffaa8a300af77200bcec4eb01a2376297356828ac7034d",
    "quality": "e4dd2bffe1e0db4489faeab14dbfd9df9779dbbfb10f4f26f899a55a3b225cac",
}
# Which published prompt each call sends for each variant.
PROMPTS = {
    "consistency": {
        "common": "consist",
        "view": "consist",
        "knowledge": "consist",
        "multi": "consist_multi",
        "temporal": "consist_temporal",
    },
    "instruction": {
        "common": "instruction_following",
        "view": "view_instruction_following",
        "knowledge": "dual_evaluation",
        "multi": "instruction_multi",
        "temporal": "instruction_temporal",
    },
    "quality": dict.fromkeys(SCRIPTS, "quality"),
}
ORIGINAL, EDITED = "This is the original image:", "This is the edited image:"
FRAME_REFERENCE, FRAME_GENERATED = "Frame (Reference):", "Frame (Generated):"


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small copy in the published layout."""
    return kris_bench.write(tmp_path_factory.mktemp("kris").resolve() / "KRIS_Bench")


@pytest.fixture(scope="module")
def samples(bench: Path) -> dict[str, Sample]:
    return {sample.id: sample for sample in load_kris(bench)}


# -- the source on the published layout -----------------------------------------------------------


def test_every_category_folder_is_read_in_name_order(samples: dict[str, Sample]) -> None:
    categories = sorted(c for names in SCRIPTS.values() for c in names)
    assert len(categories) == 20
    assert list(dict.fromkeys(s.category for s in samples.values())) == categories
    assert len(samples) == 22
    assert [i for i in samples if i.startswith("count_change/")] == [
        "count_change/1",
        "count_change/2",
    ]
    assert all(
        sample_id == f"{s.category}/{sample_id.split('/')[1]}" for sample_id, s in samples.items()
    )


def test_a_record_becomes_a_sample(bench: Path, samples: dict[str, Sample]) -> None:
    chemistry = samples["chemistry/1"]
    assert chemistry.category == "chemistry"
    assert chemistry.instruction == "Add a piece of solid sodium to the water"
    assert chemistry.images == (str(bench / "chemistry" / "1.png"),)
    assert chemistry.reference_image is None  # gt_img ""
    assert chemistry.reference_text is None
    assert chemistry.extra == {
        "explain_en": "A large amount of heat will be released, causing the water to boil",
        "judge_variant": "knowledge",
    }


def test_judge_variant_is_the_official_script_of_the_category(samples: dict[str, Sample]) -> None:
    variants = {s.category: s.extra["judge_variant"] for s in samples.values()}
    assert variants == {c: script for script, names in SCRIPTS.items() for c in names}


def test_image_lists_keep_their_order_and_ground_truths_are_references(
    bench: Path, samples: dict[str, Sample]
) -> None:
    multi = samples["multi-element_composition/1"]
    folder = bench / "multi-element_composition"
    assert multi.images == (str(folder / "1-1.jpg"), str(folder / "1-2.jpg"))
    view = samples["viewpoint_change/1"]
    assert view.reference_image == str(bench / "viewpoint_change" / "1_gt.jpg")
    folder = bench / "temporal_prediction"
    first, third = samples["temporal_prediction/1"], samples["temporal_prediction/2"]
    assert first.images == tuple(str(folder / f"1-{k}.jpg") for k in (2, 3, 4))
    assert first.reference_image == str(folder / "1-1.jpg")  # kept, never shown to the judge
    assert (first.extra["predicted_frame"], third.extra["predicted_frame"]) == (1, 3)
    assert "predicted_frame" not in multi.extra


def test_absent_gt_img_and_empty_explanations_are_accepted(
    bench: Path, samples: dict[str, Sample]
) -> None:
    annotation = json.loads((bench / "abstract_reasoning" / "annotation.json").read_text())
    assert "gt_img" not in annotation["1"]  # as published
    assert samples["abstract_reasoning/1"].reference_image is None
    assert samples["rule-based_reasoning/1"].extra["explain_en"] == ""


def test_selection_filters_and_subsets(bench: Path) -> None:
    chosen = load_kris(bench, categories=["temporal_prediction", "chemistry"])
    assert [s.id for s in chosen] == [
        "chemistry/1",
        "temporal_prediction/1",
        "temporal_prediction/2",
    ]
    knowledge = load_kris(bench, where={"judge_variant": "knowledge"}, limit=3)
    assert [s.id for s in knowledge] == ["abstract_reasoning/1", "biology/1", "chemistry/1"]
    with pytest.raises(EditbenchError, match=r"subsets\.bad: no sample has the field 'group'"):
        load_kris(bench, subsets={"bad": {"group": "x"}})
    with pytest.raises(EditbenchError, match="unknown category 'chemistry_x'"):
        load_kris(bench, categories=["chemistry_x"])


def test_dataset_subsets_are_the_published_groups_and_knowledge_types() -> None:
    subsets = OmegaConf.to_container(OmegaConf.load(CONF / "dataset" / "kris_bench.yaml"))[
        "subsets"
    ]
    expected = {}
    for knowledge_type, groups in TAXONOMY.items():
        for group, categories in groups.items():
            expected[group] = {"category": categories}
        expected[knowledge_type] = {"category": [c for cs in groups.values() for c in cs]}
    assert subsets == expected
    every = sorted(c for names in SCRIPTS.values() for c in names)
    assert sorted(c for t in TAXONOMY for c in subsets[t]["category"]) == every


# -- the source on broken copies ------------------------------------------------------------------


def _jpeg(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.radial_gradient("L").convert("RGB").save(path, format="JPEG")


def _record(**fields: Any) -> dict[str, Any]:
    return {"ori_img": "1.jpg", "gt_img": "", "ins_en": "Make it red.", "explain_en": "", **fields}


def _write(
    root: Path, category: str, annotation: Any, images: tuple[str, ...] = ("1.jpg",)
) -> Path:
    """A category folder with ``images`` and ``annotation`` (an object, or raw text)."""
    folder = root / category
    for name in images:
        _jpeg(folder / name)
    text = annotation if isinstance(annotation, str) else json.dumps(annotation)
    (folder / "annotation.json").write_text(text, encoding="utf-8")
    return folder / "annotation.json"


def _error(root: Path, **kwargs: Any) -> str:
    with pytest.raises(EditbenchError) as info:
        load_kris(root, **kwargs)
    return str(info.value)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A KRIS_Bench folder with one valid category, color_change."""
    folder = tmp_path / "KRIS_Bench"
    _write(folder, "color_change", {"1": _record()})
    return folder


def test_the_valid_minimal_folder_loads(root: Path) -> None:
    (root / ".cache").mkdir()  # hidden folders and loose files are not categories
    (root / "README.md").write_text("KRIS-Bench")
    (sample,) = load_kris(root)
    assert (sample.id, sample.instruction) == ("color_change/1", "Make it red.")


def test_missing_root_and_wrong_folders(tmp_path: Path, root: Path) -> None:
    message = _error(tmp_path / "nowhere")
    assert "does not exist" in message and "KRIS_Bench folder" in message
    (tmp_path / "file").write_text("x")
    assert "is not a directory" in _error(tmp_path / "file")
    message = _error(root / "color_change")
    assert "one category's folder" in message and str(root) in message
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no samples; expected at least one" in _error(empty)


def test_unknown_folder_and_missing_annotation(root: Path) -> None:
    (root / "colour_change").mkdir()
    (root / "physics").mkdir()
    message = _error(root)
    assert "folder 'colour_change' is not a KRIS-Bench category" in message
    assert "color_change, count_change" in message  # the categories are listed
    assert f"{root / 'physics' / 'annotation.json'}: not found" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"1": {"ori_img": ', "cannot be read as JSON"),
        ("[]", "a JSON list; expected an object of records by id"),
        ("{}", "has no records; expected at least one"),
        ('{"1": ["1.jpg"]}', "id '1': a JSON list; expected an object with ori_img"),
    ],
)
def test_annotation_that_is_not_records(root: Path, text: str, expected: str) -> None:
    annotation = _write(root, "physics", text)
    message = _error(root)
    assert str(annotation) in message and expected in message


def test_annotation_that_is_not_utf8(root: Path) -> None:
    annotation = _write(root, "physics", "{}")
    annotation.write_bytes(b'{"1": {"ins_en": "\xff"}}')
    message = _error(root)
    assert f"{annotation}: cannot be read as JSON" in message and "utf-8" in message


def test_repeated_ids_and_fields(root: Path) -> None:
    record = json.dumps(_record())
    annotation = _write(
        root, "physics", f'{{"1": {record}, "1": {record[:-1]}, "ins_en": "again"}}}}'
    )
    message = _error(root)
    assert f"{annotation}: repeats the keys ['1', 'ins_en']" in message


@pytest.mark.parametrize(
    ("category", "record", "expected"),
    [
        (
            "physics",
            _record(ins_en=None),
            "ins_en is None; expected the instruction",
        ),
        ("physics", {"ori_img": "1.jpg"}, "ins_en is missing; expected the instruction"),
        ("physics", _record(ins_en="  "), "ins_en is '  '; expected the instruction"),
        ("physics", _record(ins_en=3), "ins_en is 3; expected the instruction"),
        ("physics", _record(ori_img=None), "ori_img is None; expected one file name"),
        ("physics", _record(ori_img=["1.jpg"]), "ori_img is ['1.jpg']; expected one file name"),
        ("physics", _record(explain_en=["x"]), "explain_en is ['x']; expected a string"),
        ("physics", _record(gt_img=None), "gt_img is None; expected a file name or an empty"),
        ("viewpoint_change", _record(), "gt_img is empty; expected the ground-truth view"),
        (
            "multi-element_composition",
            _record(),
            "ori_img is '1.jpg'; expected a list of file names",
        ),
        ("multi-element_composition", _record(ori_img=[]), "ori_img is []; expected a list"),
        (
            "temporal_prediction",
            _record(ori_img=["1.jpg"]),
            "ori_img names ['1.jpg'] carry no frame number",
        ),
    ],
)
def test_bad_fields_name_file_id_and_field(
    root: Path, category: str, record: dict[str, Any], expected: str
) -> None:
    annotation = _write(root, category, {"7": record})
    assert f"{annotation} id '7': {expected}" in _error(root)


def test_image_paths_must_stay_in_the_category_folder(root: Path, tmp_path: Path) -> None:
    records = {
        "1": _record(ori_img="../color_change/1.jpg"),
        "2": _record(ori_img=str(root / "color_change" / "1.jpg")),
        "3": _record(ori_img="link.jpg"),
        "4": _record(ori_img="2.jpg"),
    }
    annotation = _write(root, "size_adjustment", records)
    folder = root / "size_adjustment"
    _jpeg(tmp_path / "outside.jpg")
    os.symlink(tmp_path / "outside.jpg", folder / "link.jpg")
    message = _error(root)
    assert f"{annotation} id '1': ori_img '../color_change/1.jpg' resolves to " in message
    assert f"outside the dataset folder; expected a path inside {folder}" in message
    assert (
        f"{annotation} id '2': ori_img '{root}/color_change/1.jpg' is an absolute path" in message
    )
    assert f"{annotation} id '3': ori_img 'link.jpg' resolves to {tmp_path}/outside.jpg" in message
    assert f"{annotation} id '4': ori_img '2.jpg' not found at {folder / '2.jpg'}" in message


def test_unreadable_images_are_named_by_their_field(root: Path) -> None:
    annotation = _write(
        root, "viewpoint_change", {"1": _record(gt_img="1_gt.jpg")}, images=("1.jpg", "1_gt.jpg")
    )
    gt = root / "viewpoint_change" / "1_gt.jpg"
    gt.write_bytes(gt.read_bytes()[:200])
    source = root / "color_change" / "1.jpg"
    source.write_bytes(b"not an image")
    message = _error(root)
    assert f"{annotation} id '1': gt_img '1_gt.jpg' cannot be read as an image" in message
    color = root / "color_change" / "annotation.json"
    assert f"{color} id '1': ori_img '1.jpg' cannot be read as an image" in message


def test_every_problem_is_listed_at_once(root: Path) -> None:
    _write(root, "physics", {"1": {"ori_img": "1.jpg"}, "2": _record(ori_img="9.jpg")})
    (root / "oddity").mkdir()
    message = _error(root)
    assert message.startswith(f"Dataset {root} has 3 problems:")
    assert "ins_en is missing" in message and "'9.jpg' not found" in message
    assert "folder 'oddity'" in message


# -- the protocol: the calls each sample gets -----------------------------------------------------


@pytest.fixture
def dry_run(compose_config, bench: Path, tmp_path: Path) -> dict[tuple[str, str], dict]:
    """Every judge request of the small copy, by (sample id, call), from a dry run of the CLI's
    entry point."""
    cfg = compose_config(
        "experiment=demo",
        "dataset=kris_bench",
        f"dataset.root={bench}",
        "dry_run=true",
        # multi-element and temporal samples have several input images
        "editor.pipeline=QwenImageEditPlusPipeline",
    )
    summary = run(cfg, tmp_path / "run")
    assert summary["samples"] == 22 and summary["judge_calls"] == 66
    lines = (tmp_path / "run" / "judge_requests.jsonl").read_text().splitlines()
    return {(r["id"], r["call"]): r for r in map(json.loads, lines)}


@pytest.fixture
def protocol(compose_config, bench: Path) -> Protocol:
    cfg = compose_config("experiment=demo", "dataset=kris_bench", f"dataset.root={bench}")
    return Protocol.from_config(
        OmegaConf.to_container(cfg.protocol, resolve=True, enum_to_str=True)
    )


def _shown(request: dict, sample: Sample) -> list[str]:
    """The user message as a list: text parts by their text (the prompt as "PROMPT"), images by
    file name, the edit as "EDIT"."""
    (message,) = request["messages"]
    assert message["role"] == "user"
    inputs = {path: Path(path).name for path in (*sample.images, sample.reference_image) if path}
    shown = []
    for number, part in enumerate(message["content"]):
        if part["type"] == "text":
            shown.append("PROMPT" if number == 0 else part["text"])
        else:
            shown.append(inputs.get(part["image"], "EDIT"))
    return shown


def test_every_sample_gets_the_three_calls(dry_run: dict, samples: dict[str, Sample]) -> None:
    assert {call for (_, call) in dry_run} == {"consistency", "instruction", "quality"}
    assert sorted(dry_run) == sorted(
        (i, call) for i in samples for call in ("consistency", "instruction", "quality")
    )


@pytest.mark.parametrize(
    ("sample_id", "call", "expected"),
    [
        ("count_change/1", "consistency", ["PROMPT", ORIGINAL, "1.jpg", EDITED, "EDIT"]),
        ("count_change/1", "instruction", ["PROMPT", ORIGINAL, "1.jpg", EDITED, "EDIT"]),
        ("count_change/1", "quality", ["PROMPT", EDITED, "EDIT"]),
        ("chemistry/1", "instruction", ["PROMPT", ORIGINAL, "1.png", EDITED, "EDIT"]),
        ("chemistry/1", "quality", ["PROMPT", EDITED, "EDIT"]),
        ("viewpoint_change/1", "consistency", ["PROMPT", ORIGINAL, "1.jpg", EDITED, "EDIT"]),
        (
            "viewpoint_change/1",
            "instruction",
            [
                "PROMPT",
                ORIGINAL,
                "1.jpg",
                EDITED,
                "EDIT",
                "This is the ground truth image:",
                "1_gt.jpg",
            ],
        ),
        ("viewpoint_change/1", "quality", ["PROMPT", EDITED, "EDIT"]),
        (
            "multi-element_composition/1",
            "consistency",
            [
                "PROMPT",
                "Reference Image 1:",
                "1-1.jpg",
                "Reference Image 2:",
                "1-2.jpg",
                "Predicted Image:",
                "EDIT",
            ],
        ),
        (
            "multi-element_composition/1",
            "instruction",
            [
                "PROMPT",
                "Reference Image 1:",
                "1-1.jpg",
                "Reference Image 2:",
                "1-2.jpg",
                "Predicted Image:",
                "EDIT",
            ],
        ),
        (
            "multi-element_composition/1",
            "quality",
            ["PROMPT", "This is the image to evaluate:", "EDIT"],
        ),
        (
            "temporal_prediction/1",
            "consistency",
            [
                "PROMPT",
                FRAME_REFERENCE,
                "1-2.jpg",
                FRAME_REFERENCE,
                "1-3.jpg",
                FRAME_REFERENCE,
                "1-4.jpg",
                FRAME_GENERATED,
                "EDIT",
            ],
        ),
        (
            "temporal_prediction/2",
            "instruction",
            [
                "PROMPT",
                FRAME_REFERENCE,
                "2-1.jpg",
                FRAME_REFERENCE,
                "2-2.jpg",
                FRAME_REFERENCE,
                "2-4.jpg",
                FRAME_GENERATED,
                "EDIT",
            ],
        ),
        ("temporal_prediction/1", "quality", ["PROMPT", "This is the image to evaluate:", "EDIT"]),
    ],
)
def test_images_and_captions_follow_the_prompt_text(
    dry_run: dict, samples: dict[str, Sample], sample_id: str, call: str, expected: list[str]
) -> None:
    request = dry_run[(sample_id, call)]
    assert _shown(request, samples[sample_id]) == expected
    assert not any(part.get("resize_to") for part in request["messages"][0]["content"])


def test_the_prompt_text_is_the_published_one(dry_run: dict, samples: dict[str, Sample]) -> None:
    def text(sample_id: str, call: str) -> str:
        return dry_run[(sample_id, call)]["messages"][0]["content"][0]["text"]

    count = samples["count_change/2"]
    assert text(count.id, "consistency") == PROMPT_CONSIST.format(instruct=count.instruction)
    temporal = samples["temporal_prediction/1"]
    assert text(temporal.id, "consistency") == PROMPT_CONSIST_TEMPORAL.format(
        N=1, instruct=temporal.instruction
    )
    chemistry = text("chemistry/1", "instruction")
    assert (
        "**Editing Instruction**: Add a piece of solid sodium to the water\n"
        "**Real-World Knowledge Explanation**：A large amount of heat will be released, causing "
        "the water to boil\n\n## Output Format\n"
    ) in chemistry
    # rule-based_reasoning is judged with the knowledge prompt and its empty explanation
    rules = text("rule-based_reasoning/1", "instruction")
    assert "**Real-World Knowledge Explanation**：\n\n## Output Format\n" in rules
    # anomaly_correction gets the plain instruction prompt, without its explanation
    anomaly, plain = samples["anomaly_correction/1"], samples["count_change/1"]
    assert text(anomaly.id, "instruction").replace(anomaly.instruction, "X") == text(
        plain.id, "instruction"
    ).replace(plain.instruction, "X")
    assert anomaly.extra["explain_en"] not in text(anomaly.id, "instruction")
    # the quality prompt names no sample field: the same text for every edit, sent as the
    # official scripts send it, never formatted ("{{" and "}}" included)
    qualities = {text(i, "quality") for i in samples}
    assert len(qualities) == 1
    assert qualities.pop().endswith('\n{{\n"reasoning": XXX,\n"quality_score": X,\n}}\n')


def test_every_template_is_the_published_prompt(
    protocol: Protocol, samples: dict[str, Sample]
) -> None:
    variants = {s.extra["judge_variant"]: s for s in samples.values()}
    for call in protocol.calls:
        for variant, name in PROMPTS[call.name].items():
            prompt = call.prompt_for(variants[variant])
            digest = hashlib.sha256(prompt["user_prompt_template"].encode()).hexdigest()
            assert digest == TEMPLATE_SHA256[name], (call.name, variant)


def test_replies_are_json_objects_of_named_scores_on_1_to_5(
    dry_run: dict, samples: dict[str, Sample]
) -> None:
    for (sample_id, call), request in dry_run.items():
        variant = samples[sample_id].extra["judge_variant"]
        assert request["reply"] == "json_object" and request["scale"] == [1.0, 5.0]
        expected = {
            "consistency": {"consistency_score": "VC"},
            "instruction": {"instruction_score": "IF"},
            "quality": {"quality_score": "VQ"},
        }[call]
        if (call, variant) == ("instruction", "knowledge"):
            expected = {"instruction_score": "IF", "knowledge_score": "KP"}
        assert request["criteria"] == expected, (sample_id, call)


def test_protocol_settings_and_checks(protocol: Protocol, samples: dict[str, Sample]) -> None:
    assert protocol.name == "kris" and protocol.headline == "pooled"
    assert protocol.rescale_to == (0.0, 100.0) and protocol.combine == "mean"
    assert [c.name for c in protocol.calls] == ["consistency", "instruction", "quality"]
    assert all(c.text_first and c.prompt_key == "judge_variant" for c in protocol.calls)
    assert all(c.prompt is None and not c.skip_for and c.skip_if is None for c in protocol.calls)
    check_protocol(protocol, list(samples.values()))
    # a category the protocol has no variant for is named before anything loads
    stray = Sample(
        "x/1", "x", "Do it.", samples["count_change/1"].images, extra={"judge_variant": "x"}
    )
    with pytest.raises(EditbenchError, match="no prompt for judge_variant 'x'"):
        check_protocol(protocol, [stray])


def _requests(protocol: Protocol, sample: Sample) -> dict[str, Any]:
    """Each call's request for ``sample``, its source standing in for the edit."""
    return {call.name: render_request(call, sample, sample.image) for call in protocol.calls}


def test_scores_are_read_from_the_json_object_alone(
    protocol: Protocol, samples: dict[str, Sample]
) -> None:
    """The reply's one JSON object at its end gives the scores; a reply without one, or with a
    score off 1-5, is a parse_error, never a guess (KRIS would take the first digit 1-5)."""
    requests = _requests(protocol, samples["chemistry/1"])
    judgement = read_reply(
        requests["instruction"], 'Both follow.\n{"instruction_score": 4, "knowledge_score": 2}'
    )
    assert judgement.status == "ok"
    assert judgement.criteria == {"instruction_score": 4.0, "knowledge_score": 2.0}
    assert judgement.score == 3.0
    quality = requests["quality"]
    assert read_reply(quality, '```json\n{"quality_score": 5}\n```').criteria == {
        "quality_score": 5.0
    }
    for reply in (
        "Quality is 3 out of 5, so the quality_score is 4.",
        '{"quality_score": 6}',
        '{"quality_score": 0}',
        '{"instruction_score": 4}',
    ):
        assert read_reply(quality, reply).status == "parse_error", reply


def test_replies_in_the_prompts_own_format_are_read(
    protocol: Protocol, samples: dict[str, Sample]
) -> None:
    requests = _requests(protocol, samples["chemistry/1"])
    reply = (
        "Both scores follow.\n"
        '{\n  "instruction_score": 4,\n  "instruction_reasoning": "1. The sodium is added.",\n'
        '  "knowledge_score": 2,\n  "knowledge_reasoning": "2. No boiling is shown."\n}'
    )
    judgement = read_reply(requests["instruction"], reply)
    assert judgement.criteria == {"instruction_score": 4.0, "knowledge_score": 2.0}
    judgement = read_reply(requests["quality"], '{\n"reasoning": "Clean.",\n"quality_score": 5\n}')
    assert judgement.criteria == {"quality_score": 5.0}
    # the quality prompt's own format ends with a comma before the brace; judges copy it
    copied = '{\n"reasoning": "Clean.",\n"quality_score": 4,\n}'
    assert read_reply(requests["quality"], copied).criteria == {"quality_score": 4.0}


# -- verdicts and the published figures -----------------------------------------------------------


def _ok(**criteria: float) -> dict[str, Any]:
    """A call's stored judgement: its criteria on 1-5 and their mean as its score."""
    return {
        "status": "ok",
        "score": sum(criteria.values()) / len(criteria),
        "criteria": criteria,
        "reply": "{}",
    }


def _judged(
    protocol: Protocol, sample: Sample, vc: float, if_: float, vq: float, kp: float | None = None
) -> dict[str, Any]:
    instruction = (
        _ok(instruction_score=if_) if kp is None else _ok(instruction_score=if_, knowledge_score=kp)
    )
    records = {
        "consistency": _ok(consistency_score=vc),
        "instruction": instruction,
        "quality": _ok(quality_score=vq),
    }
    return _row(protocol, sample, records)


def _row(protocol: Protocol, sample: Sample, records: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": sample.id,
        "category": sample.category,
        "instruction": sample.instruction,
        "extra": sample.extra,
        **sample_verdict(protocol, sample, records),
    }


def test_a_sample_verdict_normalises_each_score(
    protocol: Protocol, samples: dict[str, Sample]
) -> None:
    row = _judged(protocol, samples["chemistry/1"], vc=4, if_=3, vq=5, kp=2)
    assert row["status"] == "ok"
    # (s - 1) * 25 for each score, reported by its own name alone (the calls report no score
    # of their own: the instruction call's would mix IF and KP)
    assert row["criteria"] == {
        "consistency_score": 75.0,
        "instruction_score": 50.0,
        "knowledge_score": 25.0,
        "quality_score": 100.0,
    }
    assert sorted(row["pooled"]) == [25.0, 50.0, 75.0, 100.0]
    assert row["score"] == pytest.approx((75 + 37.5 + 100) / 3)
    common = _judged(protocol, samples["count_change/1"], vc=5, if_=1, vq=3)
    assert sorted(common["pooled"]) == [0.0, 50.0, 100.0]  # no KP outside the knowledge groups


def test_a_failed_call_leaves_the_sample_out(
    protocol: Protocol, samples: dict[str, Sample]
) -> None:
    sample = samples["humanities/1"]
    failed = {"status": "parse_error", "reply": "Looks fine: 4", "error": "no JSON object"}
    records = {
        "consistency": _ok(consistency_score=5),
        "instruction": _ok(instruction_score=5, knowledge_score=5),
        "quality": failed,
    }
    row = _row(protocol, sample, records)
    assert (row["status"], row["score"], row["criteria"]) == ("parse_error", None, None)
    assert row["error"] == "quality: no JSON object" and "pooled" not in row


def _subsets() -> dict[str, dict[str, Any]]:
    return OmegaConf.to_container(OmegaConf.load(CONF / "dataset" / "kris_bench.yaml"))["subsets"]


def test_figures_pool_every_score(protocol: Protocol, samples: dict[str, Sample]) -> None:
    rows = [
        _judged(protocol, samples["count_change/1"], vc=5, if_=1, vq=3),  # 100, 0, 50
        _judged(protocol, samples["chemistry/1"], vc=4, if_=3, vq=5, kp=2),  # 75, 50, 100, 25
        _judged(protocol, samples["physics/1"], vc=2, if_=2, vq=4, kp=1),  # 25, 25, 75, 0
    ]
    sample = samples["humanities/1"]
    rows.append(_row(protocol, sample, {"consistency": _ok(consistency_score=5)}))  # missing
    categories = [r["category"] for r in rows]
    results = benchmark_results(rows, categories, "pooled", _subsets(), n_bootstrap=10)
    overall = results["overall"]
    # every normalised score of every complete sample, pooled: 11 values
    assert overall["headline"] == pytest.approx(525 / 11)
    assert overall["coverage"] == 0.75
    assert overall["mean_of_categories"] != pytest.approx(overall["headline"])
    subsets = results["subsets"]
    assert subsets["Attribute Perception"]["overall"]["headline"] == pytest.approx(50.0)
    assert subsets["Natural Science"]["overall"]["headline"] == pytest.approx(375 / 8)
    assert subsets["Conceptual Knowledge"]["overall"]["headline"] == pytest.approx(375 / 8)
    assert subsets["Social Science"]["overall"]["headline"] is None  # its one sample failed
    assert subsets["Factual Knowledge"]["overall"]["headline"] == pytest.approx(50.0)
    chemistry = results["categories"]["chemistry"]["criteria"]
    assert (
        chemistry["knowledge_score"]["mean"] == 25.0 and chemistry["quality_score"]["mean"] == 100
    )


def test_bagels_published_figures_follow_from_its_group_averages(protocol: Protocol) -> None:
    """Bagel's EVAL.md: the group AVGs of BAGEL, with the groups' sample counts, make its
    published knowledge-type figures and overall, 56.21, only when every score is pooled (KP
    counted for Social Science, Natural Science and Logical Reasoning only)."""
    published = {  # group: (samples, AVG)
        "Attribute Perception": (275, 64.27),
        "Spatial Perception": (100, 62.42),
        "Temporal Prediction": (74, 42.45),
        "Social Science": (125, 55.40),
        "Natural Science": (393, 56.01),
        "Logical Reasoning": (150, 52.54),
        "Instruction Decomposition": (150, 50.56),
    }
    groups = {g: cs for groups in TAXONOMY.values() for g, cs in groups.items()}
    rows = []
    for group, (count, average) in published.items():
        score = 1 + average / 25  # every score of the group's samples at the group's AVG
        for number in range(count):
            category = groups[group][number % len(groups[group])]
            variant = next(v for v, names in SCRIPTS.items() if category in names)
            sample = Sample(
                f"{category}/{number}",
                category,
                "Edit.",
                ("unused.jpg",),
                extra={"judge_variant": variant},
            )
            kp = score if variant == "knowledge" else None
            rows.append(_judged(protocol, sample, score, score, score, kp))
    assert len(rows) == 1267
    categories = list(dict.fromkeys(r["category"] for r in rows))
    results = benchmark_results(rows, categories, "pooled", _subsets(), n_bootstrap=10)
    figures = {name: s["overall"]["headline"] for name, s in results["subsets"].items()}
    for group, (_, average) in published.items():
        assert figures[group] == pytest.approx(average)
    assert round(figures["Factual Knowledge"], 2) == 60.26
    assert round(figures["Conceptual Knowledge"], 2) == 55.86
    assert round(figures["Procedural Knowledge"], 2) == 51.69
    assert round(results["overall"]["headline"], 2) == 56.21
    # the mean of the groups' AVGs is not the published figure
    assert not math.isclose(sum(a for _, a in published.values()) / 7, 56.21, abs_tol=0.01)
