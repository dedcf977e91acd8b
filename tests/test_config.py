"""Every shipped config option composes, is typed by its schema, and instantiates."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate

from editbench.config.validate import model_config, validate
from editbench.editors.base import Editor
from editbench.errors import EditbenchError
from editbench.judges.base import Judge
from editbench.results.tracking import MlflowTracker, NoTracking

from .conftest import CONF


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("option", options("editor"))
def test_editor_options_instantiate(compose_config, option, tmp_path):
    # precomputed edits need a folder; every other editor names a model
    cfg = compose_config(
        f"editor={option}", *([f"editor.root={tmp_path}"] if option == "precomputed" else [])
    )
    config, launch = model_config(cfg, "editor")
    assert launch == {"python": None}
    editor = instantiate(config)
    assert isinstance(editor, Editor)
    where = "root" if option == "precomputed" else "model"
    assert editor.fingerprint()[where] == cfg.editor[where]


@pytest.mark.parametrize("option", options("scorer"))
def test_scorer_options_instantiate(compose_config, option):
    cfg = compose_config(f"scorer={option}")
    config, launch = model_config(cfg, "scorer")
    assert launch["placement"] in ("replica", "spread", "single")
    judge = instantiate(config)
    assert isinstance(judge, Judge)
    assert judge.fingerprint()["model"] == cfg.scorer.model


def test_both_judge_placements_ship(compose_config):
    assert compose_config("scorer=qwen3_vl_multi").scorer.placement == "replica"
    assert compose_config("scorer=qwen3_vl").scorer.placement == "spread"


@pytest.mark.parametrize("category", ["physical", "environment", "social", "causal", "referential"])
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_prompt_options_compose(compose_config, category, version):
    cfg = compose_config(f"prompts/{category}={version}")
    prompt = cfg.prompts[category]
    assert prompt.system_prompt.strip() and "{{instruction}}" in prompt.user_prompt_template
    assert prompt.reasoning_first is (version == "v2")


@pytest.mark.parametrize(("option", "tracker"), [("mlflow", MlflowTracker), ("none", NoTracking)])
def test_tracking_options_instantiate(compose_config, option, tracker):
    assert isinstance(instantiate(compose_config(f"tracking={option}").tracking), tracker)


def test_dataset_and_layout_options(compose_config):
    for option in options("dataset"):
        samples = instantiate(compose_config(f"dataset={option}").dataset)
        assert samples
    for option in options("layout"):
        assert compose_config(f"layout={option}").layout.name == option


def test_demo_experiment_is_tiny_on_cpu(compose_config):
    cfg = compose_config("experiment=demo")
    assert cfg.gpus == "cpu"
    assert cfg.scorer.score_mode == "expected"  # so every demo sample gets a score
    setup = validate(cfg)
    assert setup.edit_devices == setup.score_devices == ["cpu"]
    assert len(setup.samples) == 10


def test_gpus_count_is_typed_as_given(compose_config):
    assert compose_config("gpus=6").gpus == 6
    assert compose_config("gpus=[0,2]").gpus == [0, 2]
    assert compose_config("gpus=auto").gpus == "auto"


@pytest.mark.parametrize(
    "override",
    [
        "editor.num_inference_step=3",
        "scorer.scoremode=generate",
        "dataset.limt=2",
        "layout.worker_per_device=2",
        "sed=1",
    ],
)
def test_misspelt_key_fails_at_compose_naming_it(compose_config, override):
    key = override.split("=")[0].split(".")[-1]
    with pytest.raises(ConfigCompositionException) as error:
        compose_config(override)
    assert key in str(error.value.__cause__ or error.value)


def test_wrongly_typed_value_fails_at_compose(compose_config):
    with pytest.raises(ConfigCompositionException) as error:
        compose_config("editor.num_inference_steps=many")
    assert "num_inference_steps" in str(error.value.__cause__ or error.value)


def test_missing_required_value_names_the_key(compose_config):
    cfg = compose_config("experiment=demo", "editor.model=???")
    with pytest.raises(EditbenchError, match=r"editor\.model has no value"):
        validate(cfg)


def test_bad_editor_argument_fails_before_loading(compose_config):
    cfg = compose_config("experiment=demo", "editor.pipeline=NoSuchPipeline")
    with pytest.raises(EditbenchError, match="NoSuchPipeline"):
        validate(cfg)
