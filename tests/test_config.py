"""Every shipped config option composes, is typed by its schema, and instantiates."""

from __future__ import annotations

import importlib
import math
import subprocess
import sys
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import yaml
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from editbench.config.schema import (
    CallSchema,
    CustomEditorSchema,
    DiffusersEditorSchema,
    HFColumnsSchema,
    HFDatasetSchema,
    ImgEditDatasetSchema,
    KrisDatasetSchema,
    LayoutSchema,
    ManifestDatasetSchema,
    OpenAIJudgeSchema,
    PrecomputedEditorSchema,
    PromptSchema,
    ProtocolSchema,
    Qwen3VLJudgeSchema,
    RiseDatasetSchema,
    TrackingSchema,
)
from editbench.config.validate import model_config, validate
from editbench.editors.base import Editor
from editbench.errors import EditbenchError
from editbench.judges.base import Judge
from editbench.judges.openai_api import OpenAIJudge
from editbench.judges.qwen3_vl import Qwen3VLJudge
from editbench.records import Sample
from editbench.results.tracking import MlflowTracker, NoTracking

from .conftest import CONF


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("option", [o for o in options("editor") if o != "custom"])
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


def test_the_custom_editor_option_needs_a_class(compose_config):
    cfg = compose_config("experiment=demo", "editor=custom")
    with pytest.raises(EditbenchError, match=r"editor\._target_ has no value"):
        model_config(cfg, "editor")
    cfg = compose_config(
        "editor=custom",
        "editor._target_=editbench.editors.precomputed.PrecomputedEditor",
        "+editor.root=/tmp",
    )
    config, _ = model_config(cfg, "editor")
    assert isinstance(instantiate(config), Editor)


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


def dataset_overrides(option: str, tmp_path: Path) -> list[str]:
    """Where the dataset option finds its data: the bundled sample benchmark for ``sample``, and
    for a benchmark's preset a small copy in its published layout, written by the module of
    editbench.sample_data named as the preset (given as the preset's ``path`` for a Hugging Face
    dataset, else its ``root``)."""
    if option == "sample":
        return []
    writer = importlib.import_module(f"editbench.sample_data.{option}")
    folder = writer.write(tmp_path / option)
    option_file = OmegaConf.load(CONF / "dataset" / f"{option}.yaml")
    key = "path" if "/schema/dataset/hf@_here_" in option_file.defaults else "root"
    return [f"dataset.{key}={folder}"]


# The protocol each dataset option judges with unless the command line picks another: a
# benchmark's preset picks the benchmark's own.
PRESET_PROTOCOLS = {
    "sample": "editbench",
    "hf": "editbench",
    "gedit_bench": "viescore",
    "imgedit": "imgedit",
    "kris_bench": "kris",
    "rise_bench": "rise",
}


@pytest.mark.parametrize("option", options("dataset"))
def test_dataset_options_instantiate_and_validate_with_their_protocol(
    compose_config, option, tmp_path
):
    cfg = compose_config(
        "experiment=demo", f"dataset={option}", *dataset_overrides(option, tmp_path)
    )
    samples = instantiate(cfg.dataset)
    assert samples and all(isinstance(sample, Sample) for sample in samples)
    assert all(Path(path).is_file() for sample in samples for path in sample.images)
    assert len({sample.id for sample in samples}) == len(samples)
    # The preset's protocol (its defaults pick it) is checked against its samples.
    setup = validate(cfg)
    assert [sample.id for sample in setup.samples] == [sample.id for sample in samples]
    assert setup.protocol.name == PRESET_PROTOCOLS[option]
    declared = cfg.dataset.subsets
    assert setup.subsets == ({} if declared is None else OmegaConf.to_container(declared))


def test_layout_options(compose_config):
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
        compose_config("editor.compile=many")
    assert "compile" in str(error.value.__cause__ or error.value)


def test_a_call_setting_the_pipeline_does_not_take_fails_before_any_model_loads(compose_config):
    cfg = compose_config("experiment=demo", "+editor.call.no_such_setting=3")
    with pytest.raises(EditbenchError, match=r"editor\.call\.no_such_setting: QwenImageEdit"):
        validate(cfg)
    cfg = compose_config("experiment=demo", "editor.call.num_inference_steps=many")
    with pytest.raises(EditbenchError, match=r"num_inference_steps='many': expected int"):
        validate(cfg)


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
        (["prompts.physical.combine=max"], "[mean, min, geometric_mean, viescore, weighted]"),
        (["prompts.physical.reply=prose"], "[score, json_object, score_list, lines]"),
        (["protocol.combine=max"], "[mean, min, geometric_mean, viescore, weighted]"),
        (["protocol.headline=best"], "[mean_of_categories, sample_mean, pooled]"),
        (
            ["protocol=viescore", "protocol.calls.SC.prompt.reply=prose"],
            "[score, json_object, score_list, lines]",
        ),
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
    (call,) = setup.protocol.calls
    assert _plain(dict(call.prompts)) and type(call.prompts["physical"]["combine"]) is str
    assert type(setup.protocol.combine) is str and type(setup.protocol.headline) is str
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
        "cpu_threads": 1,
    }
    assert printed["prompts"]["physical"]["combine"] == "mean"


# The schema an option pulls in through its defaults list, by the entry that pulls it.
PULLED = {
    "/schema/editor/diffusers@_here_": DiffusersEditorSchema,
    "/schema/editor/precomputed@_here_": PrecomputedEditorSchema,
    "/schema/editor/custom@_here_": CustomEditorSchema,
    "/schema/scorer/qwen3_vl@_here_": Qwen3VLJudgeSchema,
    "/schema/scorer/openai_api@_here_": OpenAIJudgeSchema,
    "/schema/dataset/manifest@_here_": ManifestDatasetSchema,
    "/schema/dataset/hf@_here_": HFDatasetSchema,
    "/schema/dataset/imgedit@_here_": ImgEditDatasetSchema,
    "/schema/dataset/kris@_here_": KrisDatasetSchema,
    "/schema/dataset/rise@_here_": RiseDatasetSchema,
    "/schema/protocol@_here_": ProtocolSchema,
}
# Settings typed by another schema: key -> (its schema, whether it maps names to them).
NESTED: dict[type, dict[str, tuple[type, bool]]] = {
    ProtocolSchema: {"calls": (CallSchema, True)},
    CallSchema: {"prompt": (PromptSchema, False), "prompts": (PromptSchema, True)},
    HFDatasetSchema: {"columns": (HFColumnsSchema, False)},
}


def _schema(group: str, option: dict[str, Any]) -> type:
    """The schema that types an option of ``group``."""
    if group.startswith("prompts/"):
        return PromptSchema
    if group in ("layout", "tracking"):
        return {"layout": LayoutSchema, "tracking": TrackingSchema}[group]
    (pulled,) = [d for d in option["defaults"] if isinstance(d, str) and d.startswith("/schema/")]
    return PULLED[pulled]


def _repeated(option: Mapping[str, Any], schema: type, where: str = "") -> dict[str, Any]:
    """Each setting of ``option`` (and of the settings typed by a schema of their own) that
    equals its schema's default, by its dotted key."""
    defaults = OmegaConf.structured(schema)
    nested = NESTED.get(schema, {})
    found = {}
    for key, value in option.items():
        if key == "defaults":
            continue
        if key in nested and isinstance(value, Mapping):
            inner, by_name = nested[key]
            parts = value.items() if by_name else [(None, value)]
            for name, part in parts:
                at = f"{where}{key}." + (f"{name}." if by_name else "")
                found.update(_repeated(part, inner, at) if isinstance(part, Mapping) else {})
        elif not OmegaConf.is_missing(defaults, key) and defaults[key] == value:
            found[f"{where}{key}"] = value
    return found


def _option_files() -> list[Any]:
    groups = ("editor", "scorer", "layout", "dataset", "tracking", "prompts", "protocol")
    paths = sorted(path for group in groups for path in (CONF / group).rglob("*.yaml"))
    return [pytest.param(path, id=str(path.relative_to(CONF))) for path in paths]


@pytest.mark.parametrize("path", _option_files())
def test_options_hold_only_what_differs_from_the_schema(path):
    option = OmegaConf.to_container(OmegaConf.load(path), resolve=False) or {}
    group = str(path.parent.relative_to(CONF))
    repeated = _repeated(option, _schema(group, option))
    assert not repeated, f"{path.relative_to(CONF)} repeats the schema's defaults: {repeated}"


def test_the_repeat_check_finds_a_default_at_any_depth():
    protocol = {
        "name": "p",
        "combine": "mean",
        "calls": {
            "a": {"text_first": False, "prompts": {"x": {"reply": "score", "scale": [0, 10]}}}
        },
    }
    assert _repeated(protocol, ProtocolSchema) == {
        "combine": "mean",
        "calls.a.text_first": False,
        "calls.a.prompts.x.reply": "score",
        "calls.a.prompts.x.scale": [0, 10],
    }
    columns = {"path": "x", "columns": {"id": "key", "category": "category"}}
    assert _repeated(columns, HFDatasetSchema) == {"columns.category": "category"}


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
