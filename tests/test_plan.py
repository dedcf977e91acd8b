"""Keys: everything that changes a result changes its key, and nothing else does."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf
from PIL import Image

from editbench.config.resolvers import SAMPLE_DATA
from editbench.plan import edit_seed, make_plan
from editbench.protocols.spec import Protocol
from editbench.records import Sample
from editbench.sources.manifest import load_manifest
from editbench.store import Store

from .conftest import CONF, make_protocol

EDITOR = {"class": "DiffusersEditor", "model": "m", "dtype": "bfloat16", "num_inference_steps": 50}
JUDGE = {"class": "Qwen3VLJudge", "model": "j", "score_mode": "expected"}


@pytest.fixture(scope="module")
def samples():
    return load_manifest(SAMPLE_DATA, limit=4)


def prompts(version: str = "v1") -> dict:
    return {
        c.name: OmegaConf.to_container(OmegaConf.load(c / f"{version}.yaml"))
        for c in (CONF / "prompts").iterdir()
    }


def keys(samples, tmp_path, editor=EDITOR, judge=JUDGE, version="v1", seed=0, store="store"):
    protocol = Protocol.editbench(prompts(version))
    plan = make_plan(samples, protocol, editor, judge, seed, Store(tmp_path / store))
    return [t.key for t in plan.edits], [t.key for t in plan.judgements]


def test_seeds_depend_on_run_seed_and_id_only():
    assert edit_seed(0, "a") == edit_seed(0, "a")
    assert len({edit_seed(0, "a"), edit_seed(1, "a"), edit_seed(0, "b")}) == 3
    assert 0 <= edit_seed(123, "x") < 2**63


def test_same_inputs_same_keys_wherever_the_store_is(samples, tmp_path):
    assert keys(samples, tmp_path) == keys(samples, tmp_path, store="elsewhere")


@pytest.mark.parametrize(
    "change",
    [{"model": "other"}, {"dtype": "float16"}, {"num_inference_steps": 40}, {"class": "X"}],
)
def test_editor_change_changes_every_key(samples, tmp_path, change):
    edits, judgements = keys(samples, tmp_path)
    new_edits, new_judgements = keys(samples, tmp_path, editor={**EDITOR, **change})
    assert not set(edits) & set(new_edits)
    assert not set(judgements) & set(new_judgements)


def test_judge_change_keeps_edits(samples, tmp_path):
    edits, judgements = keys(samples, tmp_path)
    new_edits, new_judgements = keys(samples, tmp_path, judge={**JUDGE, "score_mode": "generate"})
    assert edits == new_edits
    assert not set(judgements) & set(new_judgements)


def test_prompt_change_rejudges_only_its_category(samples, tmp_path):
    edits, judgements = keys(samples, tmp_path)
    changed = prompts()
    changed["physical"] = prompts("v2")["physical"]
    plan = make_plan(
        samples, Protocol.editbench(changed), EDITOR, JUDGE, 0, Store(tmp_path / "store")
    )
    assert [t.key for t in plan.edits] == edits
    for sample, old, new in zip(samples, judgements, plan.judgements, strict=True):
        assert (old != new.key) == (sample.category == "physical")


def test_run_seed_changes_edits(samples, tmp_path):
    assert not set(keys(samples, tmp_path)[0]) & set(keys(samples, tmp_path, seed=1)[0])


def test_source_image_bytes_change_the_edit_key(samples, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(SAMPLE_DATA, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    first = load_manifest(copy, limit=4)
    before = keys(first, tmp_path)[0]
    image = copy / "images" / f"{first[0].id}.png"
    image.write_bytes(image.read_bytes() + b"\0")  # same pixels to PIL, different file
    after = keys(load_manifest(copy, limit=4), tmp_path)[0]
    assert before[0] != after[0] and before[1:] == after[1:]


# Keys that editbench computed before judging protocols existed (single-image samples, the
# editbench protocol, prompts v1): a store filled then must still be reused.
STORED_EDITOR = {"name": "diffusers", "version": 1, "model": "m"}
STORED_JUDGE = {"name": "qwen3_vl", "version": 1, "model": "j", "score_mode": "expected"}
STORED_KEYS = {
    "physical-chrome-ball": (
        "77f125d9ab7eccf2f61b21252c615a7f6573e120da5afd364c7326dbe2cd4ba9",
        "b53d54ea3276af68e0d7a9e96343c3bf7464aa3f4bf7ebe2ba3ac9a2debc8306",
    ),
    "physical-pond-log": (
        "e25375246f7a936b5cd54c108f2f5a663dd9a73a094eee21597aa683ee6763a8",
        "c259b99ab2fc31f931828f298ddc7d6363c52937dc16d2d9965cc777acdf76e9",
    ),
    "environment-snowy-house": (
        "e1f009abe3d95e835d227a68f1693a3f8b10fe32cfc9049f573c4b097f50ef93",
        "69b2e89b319f82df560e9e31c652f291daabfc3e6e5790ee824c5fd2e14c7ebc",
    ),
    "environment-night-street": (
        "cffead76e345e5cc1e272eb55237ef3ecf2616063446ffaa0465803dce89e9a8",
        "54da68e7427c704d213b9ad437934b45347e674237e54709dcd982e537148a3d",
    ),
}


def test_keys_of_single_image_samples_are_those_stored_before_protocols(samples, tmp_path):
    edits, judgements = keys(samples, tmp_path, editor=STORED_EDITOR, judge=STORED_JUDGE)
    stored = {
        s.id: pair for s, pair in zip(samples, zip(edits, judgements, strict=True), strict=True)
    }
    assert stored == STORED_KEYS


def test_explicit_default_reply_and_scale_keep_the_key(samples, tmp_path):
    explicit = {
        category: {**prompt, "reply": "score", "scale": [0.0, 10.0]}
        for category, prompt in prompts().items()
    }
    plan = make_plan(
        samples, Protocol.editbench(explicit), EDITOR, JUDGE, 0, Store(tmp_path / "store")
    )
    assert [t.key for t in plan.judgements] == keys(samples, tmp_path)[1]


# -- protocols of several calls, images and replies -----------------------------------------------

PLAIN = {"user_prompt_template": "Rate: {{instruction}}"}


def image(path: Path, color: tuple[int, int, int]) -> str:
    Image.new("RGB", (24, 16), color).save(path)
    return str(path)


@pytest.fixture
def folder(tmp_path: Path) -> dict[str, str]:
    """Three source images and a reference, all different."""
    return {
        "a": image(tmp_path / "a.png", (200, 0, 0)),
        "b": image(tmp_path / "b.png", (0, 200, 0)),
        "c": image(tmp_path / "c.png", (0, 0, 200)),
        "ref": image(tmp_path / "ref.png", (90, 90, 90)),
    }


def plan_of(samples: list[Sample], protocol: Protocol, tmp_path: Path, store: str = "store"):
    return make_plan(samples, protocol, EDITOR, JUDGE, 0, Store(tmp_path / store))


def test_one_judgement_per_call_made_each_keyed_apart(folder, tmp_path):
    protocol = make_protocol(
        {
            "follow": {"prompt": PLAIN},
            "look": {"images": ["edit"], "prompt": PLAIN},
            "hint": {
                "prompt": {"user_prompt_template": "Hint: {{instruction}}"},
                "skip_for": ["style"],
            },
        }
    )
    color = Sample("s1", "color", "Make it red.", (folder["a"],))
    style = Sample("s2", "style", "Make it red.", (folder["a"],))
    plan = plan_of([color, style], protocol, tmp_path)
    assert [(t.sample_id, t.call) for t in plan.judgements] == [
        ("s1", "follow"),
        ("s1", "look"),
        ("s1", "hint"),
        ("s2", "follow"),
        ("s2", "look"),
    ]
    assert len({t.key for t in plan.judgements}) == 5
    # Each judgement of a sample answers its one edit.
    assert {t.edit_key for t in plan.judgements if t.sample_id == "s1"} == {plan.edits[0].key}
    by_sample = plan.judgements_of()
    assert [t.call for t in by_sample["s2"]] == ["follow", "look"]


def test_changing_one_calls_prompt_rejudges_only_that_call(folder, tmp_path):
    calls = {"follow": {"prompt": PLAIN}, "look": {"prompt": PLAIN}}
    changed = {**calls, "look": {"prompt": {"user_prompt_template": "Look: {{instruction}}"}}}
    sample = Sample("s1", "color", "Make it red.", (folder["a"],))
    before = plan_of([sample], make_protocol(calls), tmp_path).judgements
    after = plan_of([sample], make_protocol(changed), tmp_path).judgements
    assert before[0].key == after[0].key and before[1].key != after[1].key


@pytest.mark.parametrize(
    "change",
    [
        {"reply": "json_object", "criteria": {"rate": "SC"}},
        {"scale": [1, 5]},
        {"scale": [0, 100]},
    ],
    ids=["reply", "scale-1-5", "scale-0-100"],
)
def test_reply_and_scale_other_than_the_default_change_the_key(folder, tmp_path, change):
    sample = Sample("s1", "color", "Make it red.", (folder["a"],))
    default = plan_of([sample], make_protocol({"score": {"prompt": PLAIN}}), tmp_path)
    other = plan_of([sample], make_protocol({"score": {"prompt": {**PLAIN, **change}}}), tmp_path)
    assert default.edits[0].key == other.edits[0].key
    assert default.judgements[0].key != other.judgements[0].key


def edit_keys(samples: list[Sample], tmp_path: Path) -> list[str]:
    return [
        t.key for t in plan_of(samples, make_protocol({"s": {"prompt": PLAIN}}), tmp_path).edits
    ]


def test_every_input_image_and_its_order_make_the_edit_key(folder, tmp_path):
    def with_images(*names: str) -> Sample:
        return Sample("s1", "color", "Make it red.", tuple(folder[n] for n in names))

    variants = [("a",), ("a", "b"), ("b", "a"), ("a", "b", "c"), ("a", "c")]
    found = edit_keys([with_images(*names) for names in variants], tmp_path)
    assert len(set(found)) == len(variants)
    plan = plan_of([with_images("a", "b")], make_protocol({"s": {"prompt": PLAIN}}), tmp_path)
    (edit,) = plan.edits
    assert edit.request.images == (folder["a"], folder["b"])
    assert edit.request.fields == {"id": "s1", "category": "color", "instruction": "Make it red."}


def test_keys_follow_image_content_not_where_the_dataset_lies(folder, tmp_path):
    moved = tmp_path / "moved"
    moved.mkdir()
    copies = {name: shutil.copy(path, moved / Path(path).name) for name, path in folder.items()}
    protocol = make_protocol({"s": {"images": ["source", "edit", "reference"], "prompt": PLAIN}})

    def sample_in(paths: dict[str, Any]) -> Sample:
        images = (str(paths["a"]), str(paths["b"]))
        return Sample("s1", "color", "Make it red.", images, reference_image=str(paths["ref"]))

    here = plan_of([sample_in(folder)], protocol, tmp_path)
    there = plan_of([sample_in(copies)], protocol, tmp_path, store="elsewhere")
    assert [t.key for t in here.edits] == [t.key for t in there.edits]
    assert [t.key for t in here.judgements] == [t.key for t in there.judgements]

    # The reference is judged, not edited: its bytes change the judgement's key only.
    Image.new("RGB", (24, 16), (10, 10, 10)).save(copies["ref"])
    changed = plan_of([sample_in(copies)], protocol, tmp_path)
    assert changed.edits[0].key == here.edits[0].key
    assert changed.judgements[0].key != here.judgements[0].key
