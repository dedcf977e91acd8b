"""Keys: everything that changes a result changes its key, and nothing else does."""

from __future__ import annotations

import shutil

import pytest
from omegaconf import OmegaConf

from editbench.config.resolvers import SAMPLE_DATA
from editbench.dataset import load_samples
from editbench.plan import edit_seed, make_plan
from editbench.store import Store

from .conftest import CONF

EDITOR = {"class": "DiffusersEditor", "model": "m", "dtype": "bfloat16", "num_inference_steps": 50}
JUDGE = {"class": "Qwen3VLJudge", "model": "j", "score_mode": "expected"}


@pytest.fixture(scope="module")
def samples():
    return load_samples(SAMPLE_DATA, limit=4)


def prompts(version: str = "v1") -> dict:
    return {
        c.name: OmegaConf.to_container(OmegaConf.load(c / f"{version}.yaml"))
        for c in (CONF / "prompts").iterdir()
    }


def keys(samples, tmp_path, editor=EDITOR, judge=JUDGE, version="v1", seed=0, store="store"):
    plan = make_plan(samples, prompts(version), editor, judge, seed, Store(tmp_path / store))
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
    plan = make_plan(samples, changed, EDITOR, JUDGE, 0, Store(tmp_path / "store"))
    assert [t.key for t in plan.edits] == edits
    for sample, old, new in zip(samples, judgements, plan.judgements, strict=True):
        assert (old != new.key) == (sample.category == "physical")


def test_run_seed_changes_edits(samples, tmp_path):
    assert not set(keys(samples, tmp_path)[0]) & set(keys(samples, tmp_path, seed=1)[0])


def test_source_image_bytes_change_the_edit_key(samples, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(SAMPLE_DATA, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    first = load_samples(copy, limit=4)
    before = keys(first, tmp_path)[0]
    image = copy / "images" / f"{first[0].id}.png"
    image.write_bytes(image.read_bytes() + b"\0")  # same pixels to PIL, different file
    after = keys(load_samples(copy, limit=4), tmp_path)[0]
    assert before[0] != after[0] and before[1:] == after[1:]
