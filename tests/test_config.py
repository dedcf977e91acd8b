"""Every shipped config option composes, is typed by its schema, and instantiates."""

from __future__ import annotations

import math
import subprocess
import sys
from enum import Enum
from typing import Any

import pytest
import yaml
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from editbench.config.schema import (
    DatasetSchema,
    DiffusersEditorSchema,
    LayoutSchema,
    OpenAIJudgeSchema,
    PrecomputedEditorSchema,
    PromptSchema,
    Qwen3VLJudgeSchema,
    TrackingSchema,
)
from editbench.config.validate import model_config, validate
from editbench.editors.base import Editor
from editbench.errors import EditbenchError
from editbench.judges.base import Judge
from editbench.judges.openai_api import OpenAIJudge
from editbench.judges.qwen3_vl import Qwen3VLJudge
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


@pytest.mark.parametrize(
    ("overrides", "allowed"),
    [
        (["scorer.score_mode=vibes"], "[generate, expected]"),
        (["scorer=openai_api", "scorer.score_mode=vibes"], "[generate, expected]"),
        (["scorer.reduce=max"], "[mean, median]"),
        (["scorer=openai_api", "scorer.reduce=max"], "[mean, median]"),
        (["scorer.placement=everywhere"], "[replica, spread, single]"),
        (["scorer.dtype=float8"], "[bfloat16, float16, float32]"),
        (["editor.dtype=float8"], "[bfloat16, float16, float32]"),
        (["layout.name=diagonal"], "[shared, split]"),
        (["layout.load=lazy"], "[parallel, serial]"),
        (["prompts.physical.combine=max"], "[mean, min, geometric_mean, viescore]"),
    ],
)
def test_a_value_outside_a_choice_fails_at_compose_naming_key_and_choices(
    compose_config, overrides, allowed
):
    key, value = overrides[-1].split("=")
    with pytest.raises(ConfigCompositionException) as error:
        compose_config("experiment=demo", *overrides)
    message = str(error.value.__cause__)
    assert f"Invalid value '{value}', expected one of {allowed}" in message
    assert f"full_key: {key}" in message


def _plain(value: Any) -> bool:
    """Whether ``value`` is plain data: no enum member (nor any other object) anywhere in it."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return type(value) in (str, int, float, bool, type(None))


def test_validated_configs_hold_plain_strings(compose_config):
    """Choices become their plain strings where the config becomes data, so constructors,
    fingerprints (and the store keys made of them) and workers see what they saw before."""
    cfg = compose_config("experiment=demo", "scorer.reduce=median")
    assert isinstance(cfg.scorer.score_mode, Enum)  # typed in the config itself
    for group in ("editor", "scorer"):
        config, launch = model_config(cfg, group)
        assert _plain(config) and _plain(launch), (group, config, launch)
    setup = validate(cfg)
    assert setup.judge_config["score_mode"] == "expected" and setup.placement == "replica"
    assert setup.judge_config["reduce"] == "median" and setup.editor_config["dtype"] == "float32"
    assert _plain(setup.prompts) and type(setup.prompts["physical"]["combine"]) is str
    assert _plain(setup.editor.fingerprint()) and _plain(setup.judge.fingerprint())


def test_cfg_job_prints_plain_strings(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "editbench", "experiment=demo", "--cfg", "job"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    printed = yaml.safe_load(result.stdout)  # a python/object tag would not load
    assert printed["scorer"]["score_mode"] == "expected"
    assert printed["scorer"]["placement"] == "replica"
    assert printed["editor"]["dtype"] == "float32"
    assert printed["layout"] == {
        "name": "shared",
        "edit_devices": None,
        "workers_per_device": 1,
        "load": "parallel",
        "cpu_threads": None,
    }
    assert printed["prompts"]["physical"]["combine"] == "mean"


def _schema(group: str, option: dict[str, Any]) -> type:
    """The schema that types an option of ``group``."""
    if group in ("editor", "scorer"):
        (pulled,) = [d for d in option["defaults"] if isinstance(d, str) and "schema" in d]
        return {
            "/schema/editor/diffusers@_here_": DiffusersEditorSchema,
            "/schema/editor/precomputed@_here_": PrecomputedEditorSchema,
            "/schema/scorer/qwen3_vl@_here_": Qwen3VLJudgeSchema,
            "/schema/scorer/openai_api@_here_": OpenAIJudgeSchema,
        }[pulled]
    if group.startswith("prompts/"):
        return PromptSchema
    return {"layout": LayoutSchema, "dataset": DatasetSchema, "tracking": TrackingSchema}[group]


@pytest.mark.parametrize(
    "path",
    sorted(
        path
        for group in ("editor", "scorer", "layout", "dataset", "tracking", "prompts")
        for path in (CONF / group).rglob("*.yaml")
    ),
    ids=lambda path: str(path.relative_to(CONF)),
)
def test_options_hold_only_what_differs_from_the_schema(path):
    option = OmegaConf.to_container(OmegaConf.load(path), resolve=False) or {}
    group = str(path.parent.relative_to(CONF))
    defaults = OmegaConf.structured(_schema(group, option))
    repeated = {
        key: value
        for key, value in option.items()
        if key != "defaults" and not OmegaConf.is_missing(defaults, key) and defaults[key] == value
    }
    assert not repeated, f"{path.relative_to(CONF)} repeats the schema's defaults: {repeated}"


@pytest.mark.parametrize("judge", [Qwen3VLJudge, OpenAIJudge])
@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"score_mode": "vibes"}, "score_mode='vibes'; expected one of ['generate', 'expected']"),
        ({"reduce": "max"}, "reduce='max'; expected one of ['mean', 'median']"),
        ({"num_samples": 0}, "num_samples must be at least 1, got 0"),
        ({"temperature": -0.5}, "temperature must be a finite number >= 0, got -0.5"),
        ({"temperature": math.inf}, "temperature must be a finite number >= 0, got inf"),
        ({"temperature": math.nan}, "temperature must be a finite number >= 0, got nan"),
        ({"num_samples": 3}, "num_samples=3 needs temperature > 0, got temperature=0.0"),
        ({"max_pixels": 0}, "max_pixels must be a positive pixel count or null, got 0"),
    ],
)
def test_both_judges_check_their_shared_settings_alike(judge, setting, message):
    where = {"base_url": "http://127.0.0.1:8000/v1"} if judge is OpenAIJudge else {}
    with pytest.raises(EditbenchError) as raised:
        judge(model="org/judge", **where, **setting)
    assert message in str(raised.value)
