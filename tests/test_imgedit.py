"""ImgEdit-Bench (Basic suite): the source on a copy of its published layout, the protocol's one
call per sample as ImgEdit makes it, and its scores from judge replies as ImgEdit computes them."""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from dataclasses import asdict
from pathlib import Path

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
from editbench.sample_data import imgedit as sample_imgedit
from editbench.sources.imgedit import EDIT_TYPES, load_imgedit

# sha256 of each value of ImgEdit's Benchmark/Basic/prompts.json (commit b3eb8e7), the prompt
# with its placeholder <edit_prompt>.
PUBLISHED_PROMPT_SHA256 = {
    "add": "8a653823ed9563864fc4f733b7049eb53fcdad8f1616111f77b3c8d4aceefcbf",
    "adjust": "34c3ca70a7a6bd4e729d5b6ca3f6bab552eb723eef58bac6607555659b7f7fe7",
    "extract": "38bdeafbac4ea4f9b53f42d1b4709c4b714d5771025e3716271dcf29b9f126ff",
    "replace": "113cba9c7b7ef0b6aec3db2ab1c5172e69b624dc6ab33417c95dce41e8ed374d",
    "remove": "ce82586c25f5e8cbe81ef5d2088b14c07ae9a672e2fc6a8ad7bf33692fcd73bf",
    "background": "9bfce039169b23d6eadce6314201a9a8c6fa82c12f6162da5554929907e7192d",
    "style": "0b84dfc09fc4a7233efcbec61b4d8b23039068dfffee531bb3fb47b6004629c3",
    "compose": "16f4f72a0d8db2e554a4c8db88d859b31e0d90d6ed594292622baefe408aa7cf",
    "action": "2dfb82168c6e86c9996bcd43076ec0dbc74eb1113e43a0d2cc273dec62cd674b",
}
# Each type's reply names, as its prompt's "Example Response Format" writes them, with the
# group the protocol gives each.
REPLY_NAMES = {
    "add": ["Prompt Compliance", "Visual Naturalness", "Physical & Detail Coherence"],
    "adjust": ["Prompt Compliance", "Visual Seamlessness", "Physical & Detail Fidelity"],
    "extract": ["Object Identity", "Mask Precision", "Visual Quality"],
    "replace": ["Prompt Compliance", "Visual Naturalness", "Physical & Detail Integrity"],
    "remove": ["Prompt Compliance", "Visual Naturalness", "Physical & Detail Integrity"],
    "background": ["Instruction Compliance", "Visual Seamlessness", "Physical Consistency"],
    "style": ["Style Fidelity", "Content Preservation", "Rendering Quality"],
    "compose": [
        "Instruction Compliance",
        "Visual Naturalness",
        "Physical Consistency & Fine Detail",
    ],
    "action": ["Action Fidelity", "Identity Preservation", "Visual & Anatomical Coherence"],
}
GROUPS = ["compliance", "visual", "detail"]
# The sample dataset's keys, in its file's order, with each key's edit type.
SAMPLE_TYPES = {
    "1082": "adjust",
    "97": "add",
    "450": "extract",
    "1149": "compose",
    "98": "add",
    "1009": "action",
    "673": "style",
    "212": "replace",
    "507": "remove",
    "22": "remove",
    "880": "background",
}
# The number of samples of each type in ImgEdit's basic_edit.json (737 in all).
PUBLISHED_COUNTS = {
    "add": 95,
    "adjust": 94,
    "extract": 117,
    "replace": 92,
    "remove": 86,
    "background": 94,
    "style": 100,
    "compose": 23,
    "action": 36,
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_imgedit.write(tmp_path_factory.mktemp("imgedit"))


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A fresh copy of the sample dataset, for a test to damage."""
    return sample_imgedit.write(tmp_path / "imgedit")


@pytest.fixture
def protocol(compose_config, root: Path) -> Protocol:
    cfg = compose_config("experiment=demo", "dataset=imgedit", f"dataset.root={root}")
    return Protocol.from_config(
        OmegaConf.to_container(cfg.protocol, resolve=True, enum_to_str=True)
    )


def _annotations(root: Path) -> dict:
    return json.loads((root / "basic_edit.json").read_text())


def _write(root: Path, annotations: object) -> None:
    (root / "basic_edit.json").write_text(json.dumps(annotations, indent=4))


def _reply(names: list[str], scores: list[int]) -> str:
    lines = [f"{name}: {score}" for name, score in zip(names, scores, strict=True)]
    return "Brief reasoning: A short explanation.\n" + "\n".join(lines)


# -- the sample dataset is ImgEdit's layout -------------------------------------------------------


def test_sample_data_has_imgedit_published_layout(root):
    raw = json.loads((root / "basic_edit.json").read_text(), object_pairs_hook=list)
    assert [key for key, _ in raw] == list(SAMPLE_TYPES)  # file order: not sorted
    for _, entry in raw:
        assert [name for name, _ in entry] == ["id", "prompt", "edit_type"]
        assert all(isinstance(value, str) and value for _, value in entry)
    annotations = _annotations(root)
    assert {key: a["edit_type"] for key, a in annotations.items()} == SAMPLE_TYPES
    assert set(SAMPLE_TYPES.values()) == set(EDIT_TYPES)
    ids = [a["id"] for a in annotations.values()]
    assert len(set(ids)) == len(ids) - 1  # one image serves two keys, as in ImgEdit's file
    assert any(" " in i for i in ids) and "compose/human/14.jpg" in ids
    for image_id in set(ids):
        path = root / "Benchmark" / "singleturn" / image_id
        assert image_id.endswith(".jpg")
        with Image.open(path) as image:
            assert image.format == "JPEG"


# -- the source -----------------------------------------------------------------------------------


def test_source_reads_keys_as_samples_in_file_order(root):
    samples = load_imgedit(root)
    annotations = _annotations(root)
    assert [s.id for s in samples] == list(SAMPLE_TYPES)
    images = (root / "Benchmark" / "singleturn").resolve()
    for sample in samples:
        annotation = annotations[sample.id]
        assert sample.category == annotation["edit_type"] == SAMPLE_TYPES[sample.id]
        assert sample.instruction == annotation["prompt"]
        assert sample.images == (str(images / annotation["id"]),)
        assert Path(sample.image).is_file()
        assert sample.extra == {"image_id": annotation["id"]}
        assert sample.reference_image is None and sample.reference_text is None
    by_id = {s.id: s for s in samples}
    assert by_id["450"].image == by_id["1009"].image  # extract and action of one image
    assert by_id["1082"].image.endswith("daily object/000342021.jpg")


def test_source_selects_by_category_field_limit_and_shard(root):
    assert [s.id for s in load_imgedit(root, categories=["add", "remove"])] == [
        "97",
        "98",
        "507",
        "22",
    ]
    assert [s.id for s in load_imgedit(root, categories="style")] == ["673"]
    shared = load_imgedit(root, where={"image_id": "clothes/00000051.jpg"})
    assert [(s.id, s.category) for s in shared] == [("450", "extract"), ("1009", "action")]
    assert [s.id for s in load_imgedit(root, limit=2)] == ["1082", "97"]
    shards = [{s.id for s in load_imgedit(root, shard=f"{i}/3")} for i in range(3)]
    assert set().union(*shards) == set(SAMPLE_TYPES) and sum(map(len, shards)) == 11
    with pytest.raises(EditbenchError, match="unknown category 'alter'"):
        load_imgedit(root, categories=["alter"])


def test_source_reads_other_file_and_folder_names(copy):
    (copy / "Benchmark" / "Basic").mkdir()
    (copy / "basic_edit.json").rename(copy / "Benchmark" / "Basic" / "basic_edit.json")
    (copy / "Benchmark" / "singleturn").rename(copy / "images")
    samples = load_imgedit(copy, annotations="Benchmark/Basic/basic_edit.json", images="images")
    assert len(samples) == 11
    assert samples[0].image == str((copy / "images" / "daily object" / "000342021.jpg").resolve())


def test_source_keeps_other_annotation_fields(copy):
    annotations = _annotations(copy)
    annotations["97"]["source"] = "coco"
    _write(copy, annotations)
    sample = next(s for s in load_imgedit(copy) if s.id == "97")
    assert sample.extra == {"source": "coco", "image_id": "for_add/000236569.jpg"}


def test_dataset_option_loads_with_imgedit_protocol(compose_config, root):
    cfg = compose_config("dataset=imgedit", f"dataset.root={root}")
    assert cfg.dataset._target_ == "editbench.sources.imgedit.load_imgedit"
    assert cfg.dataset.annotations == "basic_edit.json"
    assert cfg.dataset.images == "Benchmark/singleturn"
    assert cfg.protocol.name == "imgedit"  # the benchmark's own protocol comes with it
    assert cfg.protocol.headline == "mean_of_categories"
    other = compose_config("dataset=imgedit", f"dataset.root={root}", "protocol=viescore")
    assert other.protocol.name == "viescore"


def _damage(root: Path, change: str) -> None:
    """Damage the copy at ``root`` in one way (see test_source_rejects_hostile_input)."""
    annotations = _annotations(root)
    images = root / "Benchmark" / "singleturn"
    if change == "invalid json":
        (root / "basic_edit.json").write_text('{"97": {"id": "for_add/000236569.jpg",}')
    elif change == "not utf-8":
        (root / "basic_edit.json").write_bytes(b'{"97": {"prompt": "\xff"}}')
    elif change == "array":
        _write(root, list(annotations.values()))
    elif change == "empty":
        _write(root, {})
    elif change == "entry not an object":
        _write(root, {**annotations, "97": "for_add/000236569.jpg"})
    elif change == "missing prompt":
        del annotations["97"]["prompt"]
        _write(root, annotations)
    elif change == "edit_type a number":
        annotations["97"]["edit_type"] = 3
        _write(root, annotations)
    elif change == "empty prompt":
        annotations["97"]["prompt"] = "  "
        _write(root, annotations)
    elif change == "unknown edit_type":
        annotations["97"]["edit_type"] = "recolor"
        _write(root, annotations)
    elif change == "reserved field":
        annotations["97"]["category"] = "add"
        _write(root, annotations)
    elif change == "empty key":
        _write(root, {**annotations, "": annotations["97"]})
    elif change == "duplicate key":
        text = json.dumps(annotations, indent=4)
        repeated = json.dumps(annotations["98"])
        (root / "basic_edit.json").write_text(text[:-2] + f',\n    "97": {repeated}\n}}')
    elif change == "duplicate field":
        text = json.dumps(annotations, indent=4)
        (root / "basic_edit.json").write_text(
            text.replace('"edit_type": "add"', '"edit_type": "add", "prompt": "Add a cat."', 1)
        )
    elif change == "path escaping root":
        annotations["97"]["id"] = "../../basic_edit.json"
        _write(root, annotations)
    elif change == "absolute path":
        annotations["97"]["id"] = str(images / "for_add" / "000236569.jpg")
        _write(root, annotations)
    elif change == "symlink out":
        outside = root.parent / "outside.jpg"
        Image.new("RGB", (8, 8)).save(outside, format="JPEG")
        (images / "for_add" / "000236569.jpg").unlink()
        (images / "for_add" / "000236569.jpg").symlink_to(outside)
    elif change == "missing image":
        (images / "for_add" / "000236569.jpg").unlink()
    elif change == "corrupt image":
        path = images / "for_add" / "000236569.jpg"
        path.write_bytes(path.read_bytes()[:600])
    else:
        raise AssertionError(change)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("invalid json", ["basic_edit.json is not valid JSON", "line 1, column"]),
        ("not utf-8", ["basic_edit.json is not valid UTF-8", "at byte 19"]),
        ("array", ["holds a JSON array; expected one JSON object mapping each key"]),
        ("empty", ["no samples; expected at least one"]),
        (
            "entry not an object",
            ["key '97': a JSON string; expected an object with fields id, prompt, edit_type"],
        ),
        ("missing prompt", ["key '97': missing field 'prompt'; expected a non-empty string"]),
        (
            "edit_type a number",
            ["key '97': field 'edit_type' is 3 (number); expected a non-empty string"],
        ),
        ("empty prompt", ["key '97': field 'prompt' is empty ('  ')"]),
        (
            "unknown edit_type",
            [
                "key '97': edit_type 'recolor' is not an ImgEdit edit type; expected one of add, "
                "adjust, extract, replace, remove, background, style, compose, action"
            ],
        ),
        ("reserved field", ["key '97': field 'category' is not one of ImgEdit's"]),
        ("empty key", ["key '': key '' is empty"]),
        ("duplicate key", ["key '97': key '97' appears more than once"]),
        ("duplicate field", ["key '97': field 'prompt' appears more than once"]),
        ("path escaping root", ["key '97': image '../../basic_edit.json' (field 'id')", "outside"]),
        ("absolute path", ["key '97': image", "(field 'id') is an absolute path"]),
        ("symlink out", ["key '97': image 'for_add/000236569.jpg' (field 'id')", "outside"]),
        ("missing image", ["key '97': image 'for_add/000236569.jpg' (field 'id') not found"]),
        ("corrupt image", ["key '97': image 'for_add/000236569.jpg'", "cannot be read as an"]),
    ],
)
def test_source_rejects_hostile_input(copy, change, expected):
    _damage(copy, change)
    with pytest.raises(EditbenchError) as error:
        load_imgedit(copy)
    message = str(error.value)
    for part in expected:
        assert part in message, message
    assert str(copy.resolve() / "basic_edit.json") in message  # the error names the file


def test_source_rejects_the_first_release_naming_the_fix(copy):
    annotations = _annotations(copy)
    annotations["1082"]["edit_type"] = "alter"  # as ImgEdit's commit c14480a spells adjust
    annotations["97"]["edit_type"] = "alter"
    _write(copy, annotations)
    with pytest.raises(EditbenchError) as error:
        load_imgedit(copy)
    message = str(error.value)
    assert "has 1 problem" in message  # once for the file, not once per key
    assert "2 keys (first '1082') give edit_type 'alter'" in message
    assert "current Benchmark/Basic/basic_edit.json" in message and "'adjust'" in message


def test_source_lists_every_problem_at_once(copy):
    annotations = _annotations(copy)
    annotations["97"]["edit_type"] = "recolor"
    del annotations["450"]["id"]
    annotations["673"]["id"] = "style/missing.jpg"
    _write(copy, annotations)
    with pytest.raises(EditbenchError) as error:
        load_imgedit(copy)
    message = str(error.value)
    assert "has 3 problems" in message
    assert message.index("key '97'") < message.index("key '450'") < message.index("key '673'")


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("no root", "does not exist; expected the ImgEdit-Bench folder"),
        ("no annotations", "has no annotation file"),
        ("no images", "has no image folder"),
    ],
)
def test_source_names_a_missing_folder_or_file(copy, layout, expected):
    if layout == "no root":
        target = copy.parent / "elsewhere"
    else:
        target = copy
        if layout == "no annotations":
            (copy / "basic_edit.json").unlink()
        else:
            (copy / "Benchmark" / "singleturn").rename(copy / "Benchmark" / "other")
    with pytest.raises(EditbenchError, match=expected) as error:
        load_imgedit(target)
    assert str(target.name) in str(error.value)


# -- the protocol ---------------------------------------------------------------------------------


def test_protocol_makes_one_call_with_each_types_published_prompt(protocol):
    assert protocol.name == "imgedit" and protocol.headline == "mean_of_categories"
    assert protocol.rescale_to is None and not protocol.all_max_as
    (call,) = protocol.calls
    assert call.images == ("source", "edit") and call.text_first is True
    assert call.labels is None and call.resize_edit_to_source is False
    assert call.prompt_key == "category" and call.prompt is None  # every type has its own
    assert call.skip_for == () and call.skip_if is None
    assert list(call.prompts) == list(EDIT_TYPES)
    for kind, prompt in call.prompts.items():
        template = prompt["user_prompt_template"]
        assert template.count("{{instruction}}") == 1
        published = template.replace("{{instruction}}", "<edit_prompt>")
        assert hashlib.sha256(published.encode()).hexdigest() == PUBLISHED_PROMPT_SHA256[kind]
        assert prompt["system_prompt"] is None
        assert prompt["reply"] == "lines" and prompt["scale"] == [1.0, 5.0]
        assert prompt["combine"] == "mean"
        assert list(prompt["criteria"]) == REPLY_NAMES[kind]
        assert list(prompt["criteria"].values()) == GROUPS
        # the names are the ones the prompt asks the judge to write, in its order
        example = template.split("Example Response Format:\n")[1].splitlines()[1:4]
        assert [line.split(":")[0] for line in example] == REPLY_NAMES[kind]


def test_protocol_checks_against_the_samples(protocol, root):
    check_protocol(protocol, load_imgedit(root))
    stray = Sample(id="1", category="alter", instruction="x", images=(str(root),))
    with pytest.raises(EditbenchError, match="no prompt for category 'alter'"):
        check_protocol(protocol, [stray])


def test_dry_run_renders_imgedit_requests(compose_config, root, tmp_path):
    cfg = compose_config(
        "experiment=demo", "dataset=imgedit", f"dataset.root={root}", "dry_run=true"
    )
    summary = run(cfg, tmp_path / "run")
    assert summary["samples"] == 11 and summary["judgements_to_do"] == 11
    lines = (tmp_path / "run" / "judge_requests.jsonl").read_text().splitlines()
    requests = [json.loads(line) for line in lines]
    assert [r["id"] for r in requests] == list(SAMPLE_TYPES)  # one call per sample
    samples = {s.id: s for s in load_imgedit(root)}
    for request in requests:
        sample = samples[request["id"]]
        kind = SAMPLE_TYPES[sample.id]
        assert request["call"] == "score" and request["category"] == kind
        (message,) = request["messages"]  # one user message, no system message
        assert message["role"] == "user"
        text, source, edit = message["content"]  # text first, then source, then edit; no captions
        assert text["type"] == "text" and source["type"] == edit["type"] == "image"
        assert source == {"type": "image", "image": sample.image}
        assert edit["image"].endswith(".png") and Path(edit["image"]).parent.parent.name == "edits"
        published = text["text"].replace(sample.instruction, "<edit_prompt>")
        assert hashlib.sha256(published.encode()).hexdigest() == PUBLISHED_PROMPT_SHA256[kind]
        assert request["reply"] == "lines" and request["scale"] == [1.0, 5.0]
        assert list(request["criteria"]) == REPLY_NAMES[kind]
        assert request["combine"] == "mean"
    adjust = requests[0]["messages"][0]["content"][0]["text"]
    assert adjust.startswith(
        "\nYou are a data rater specializing in grading attribute alteration edits."
    )
    # the instruction's full stop and the prompt's make "..", as ImgEdit sends it
    assert adjust.endswith(
        "Physical & Detail Fidelity: A number from 1 to 5.\n"
        "editing instruction is : Change the second cup from the left to a glossy red ceramic..\n"
        "\nBelow are the images before and after editing:\n"
    )
    extract, action = (r for r in requests if r["id"] in ("450", "1009"))
    assert extract["messages"][0]["content"][1] == action["messages"][0]["content"][1]
    assert "Below is the extracted object image:" in extract["messages"][0]["content"][0]["text"]


# -- scores ---------------------------------------------------------------------------------------


def _judged(protocol: Protocol, sample: Sample, reply: str) -> dict:
    """The sample's row from one judge reply, read as the judge reads it."""
    (call,) = protocol.calls
    request = render_request(call, sample, sample.image)
    record = asdict(read_reply(request, reply))
    return {
        "id": sample.id,
        "category": sample.category,
        "extra": sample.extra,
        **sample_verdict(protocol, sample, {call.name: record}),
    }


def test_readme_example_replies_score_as_imgedit_computes(protocol, root):
    """ImgEdit's basic_bench_readme.md: three replies, their means, the type means. (Its
    step-1 output prints 3.33 for 1068, whose scores 1, 4, 4 average 3; its step-2 output,
    adjust = 2 = mean(1, 3), agrees with 3.)"""
    image = load_imgedit(root)[0].image
    replies = {
        ("1082", "adjust"): (
            "Brief reasoning: No texture change applied; shell remains textured; tortoise "
            "geometry unchanged.\nPrompt Compliance: 1\nVisual Seamlessness: 1\n"
            "Physical & Detail Fidelity: 1"
        ),
        ("1068", "adjust"): (
            "Brief reasoning: No fur change; wrong subject; mainly butterfly retained with minor "
            "color alteration.\nPrompt Compliance: 1\nVisual Seamlessness: 4\n"
            "Physical & Detail Fidelity: 4"
        ),
        ("673", "style"): (
            "Brief reasoning: Style transfer absent, with excellent content preservation and "
            "rendering quality maintaining original image's fidelity.\nStyle Fidelity: 1\n"
            "Content Preservation: 5\nRendering Quality: 5"
        ),
    }
    rows = []
    for (key, kind), reply in replies.items():
        sample = Sample(id=key, category=kind, instruction="An edit.", images=(image,))
        rows.append(_judged(protocol, sample, reply))
    assert [row["status"] for row in rows] == ["ok"] * 3
    assert [row["score"] for row in rows] == pytest.approx([1.0, 3.0, 11 / 3])
    assert rows[1]["criteria"] == {
        "Prompt Compliance": 1.0,
        "Visual Seamlessness": 4.0,
        "Physical & Detail Fidelity": 4.0,
    }
    results = benchmark_results(rows, ["adjust", "style"], protocol.headline, n_bootstrap=10)
    assert results["categories"]["adjust"]["mean"] == pytest.approx(2.0)
    assert results["categories"]["style"]["mean"] == pytest.approx(11 / 3)
    assert results["overall"]["headline"] == pytest.approx((2.0 + 11 / 3) / 2)


def test_overall_is_the_mean_of_the_type_means_and_failures_are_no_number(protocol, root):
    scores = {  # each sample's three scores, hand-chosen
        "1082": [4, 3, 3],
        "97": [5, 4, 4],
        "450": [2, 2, 1],
        "1149": [4, 4, 3],
        "98": [3, 3, 3],
        "1009": [5, 5, 5],
        "673": [5, 4, 5],
        "212": [4, 4, 4],
        "507": [2, 1, 1],
        "880": [3, 2, 2],
    }
    rows = []
    for sample in load_imgedit(root):
        names = REPLY_NAMES[sample.category]
        # 22 gives two of its three lines: ImgEdit would average them; here it is unread
        reply = _reply(names[:2], [3, 3]) if sample.id == "22" else _reply(names, scores[sample.id])
        rows.append(_judged(protocol, sample, reply))
    by_id = {row["id"]: row for row in rows}
    assert by_id["22"]["status"] == "parse_error" and by_id["22"]["score"] is None
    assert by_id["97"]["score"] == pytest.approx(13 / 3)  # never rounded (ImgEdit: 4.33)
    type_means = {
        "add": (13 / 3 + 3) / 2,
        "adjust": 10 / 3,
        "extract": 5 / 3,
        "replace": 4.0,
        "remove": 4 / 3,  # 22 is left out, not counted as a number
        "background": 7 / 3,
        "style": 14 / 3,
        "compose": 11 / 3,
        "action": 5.0,
    }
    results = benchmark_results(rows, list(EDIT_TYPES), protocol.headline, n_bootstrap=10)
    for kind, mean in type_means.items():
        assert results["categories"][kind]["mean"] == pytest.approx(mean), kind
    remove = results["categories"]["remove"]
    assert (remove["n"], remove["judged"], remove["failures"]) == (2, 1, {"parse_error": 1})
    overall = results["overall"]
    assert overall["headline"] == pytest.approx(statistics.fmean(type_means.values()))
    assert overall["headline"] == pytest.approx(89 / 27)  # 3.2963
    assert overall["sample_mean"] == pytest.approx(10 / 3)  # what Bagel's overall would be
    assert overall["coverage"] == pytest.approx(10 / 11)
    # a criterion shared by types: the mean of its types' means (add 4, adjust 4, replace 4,
    # remove 2)
    assert overall["criteria"]["Prompt Compliance"] == pytest.approx(3.5)


@pytest.mark.parametrize(
    ("model", "type_scores", "overall", "sample_weighted"),
    [
        # ImgEdit's leaderboard (assets/leaderboard.png, 2025-07-27)
        ("MagicBrush", [2.84, 1.58, 1.51, 1.97, 1.58, 1.75, 2.38, 1.62, 1.22], 1.83, 1.89),
        ("Step1X-Edit", [3.88, 3.14, 1.76, 3.40, 2.41, 3.16, 4.63, 2.64, 2.52], 3.06, 3.12),
        # the Qwen-Image technical report's table
        ("Qwen-Image-Edit", [4.38, 4.16, 3.43, 4.66, 4.14, 4.38, 4.81, 3.82, 4.69], 4.27, 4.26),
        # the Emu3.5 report's Table 10
        (
            "FLUX.1 Kontext [dev]",
            [4.12, 3.80, 2.04, 4.22, 3.09, 3.97, 4.51, 3.35, 4.25],
            3.71,
            3.66,
        ),
    ],
)
def test_published_overall_is_the_mean_of_type_scores(
    protocol, model, type_scores, overall, sample_weighted
):
    """The paper's overall: the mean of the nine type scores, not the sample mean. Every
    sample of a type is given the published type score, with ImgEdit's counts per type."""
    rows = [
        {"id": f"{kind}-{i}", "category": kind, "status": "ok", "score": score, "criteria": None}
        for kind, score in zip(EDIT_TYPES, type_scores, strict=True)
        for i in range(PUBLISHED_COUNTS[kind])
    ]
    assert len(rows) == 737
    results = benchmark_results(rows, list(EDIT_TYPES), protocol.headline, n_bootstrap=10)
    assert round(results["overall"]["headline"], 2) == overall, model
    assert round(results["overall"]["sample_mean"], 2) == sample_weighted
    assert not math.isclose(overall, sample_weighted)
