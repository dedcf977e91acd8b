"""An editor's speed-ups that change its pixels (editor.step_cache, editor.fp8): checked before any
model loads, keyed in the fingerprint only where set, and really applied when the editor loads."""

from __future__ import annotations

import importlib.util
import json
import math
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from diffusers import FirstBlockCacheConfig, TaylorSeerCacheConfig
from hydra.utils import instantiate
from PIL import Image

from editbench.config.validate import model_config, validate
from editbench.editors import speedups
from editbench.editors.diffusers_editor import DiffusersEditor
from editbench.editors.speedups import check_fp8, step_cache_config
from editbench.errors import EditbenchError
from editbench.records import EditRequest

from .conftest import local_overrides

QWEN = "Qwen/Qwen-Image-Edit"
# The call the version-1 editor always made: its fingerprint has no "call" key.
LEGACY_CALL = {"num_inference_steps": 50, "true_cfg_scale": 4.0, "negative_prompt": " "}
TAYLORSEER = {"method": "taylorseer", "cache_interval": 3, "disable_cache_before_step": 2}
STEPS = 8
SIZE = 64
# True CFG: two transformer passes per step ("cond" and "uncond").
CALL = {
    "num_inference_steps": STEPS,
    "true_cfg_scale": 4.0,
    "negative_prompt": " ",
    "height": SIZE,
    "width": SIZE,
}


def with_torchao(monkeypatch: pytest.MonkeyPatch, installed: bool) -> None:
    """Make ``torchao`` look installed or not to the speed-ups module, and leave every other
    module's lookup as it is."""
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "torchao":
            return object() if installed else None
        return real(name, *args, **kwargs)

    monkeypatch.setattr(speedups.importlib.util, "find_spec", find_spec)


# --- step_cache_config: the diffusers config of a step cache setting -----------------------


def test_taylorseer_builds_its_config_with_the_options_given():
    config = step_cache_config(
        {
            "method": "taylorseer",
            "cache_interval": 2,
            "disable_cache_before_step": 1,
            "disable_cache_after_step": 9,
            "max_order": 2,
            "use_lite_mode": True,
        }
    )

    assert isinstance(config, TaylorSeerCacheConfig)
    assert (config.cache_interval, config.disable_cache_before_step) == (2, 1)
    assert (config.disable_cache_after_step, config.max_order, config.use_lite_mode) == (9, 2, True)
    assert config.taylor_factors_dtype == TaylorSeerCacheConfig().taylor_factors_dtype  # default


def test_first_block_builds_its_config_with_its_threshold():
    config = step_cache_config({"method": "first_block", "threshold": 0.2})
    assert isinstance(config, FirstBlockCacheConfig) and config.threshold == 0.2
    assert (
        step_cache_config({"method": "first_block"}).threshold == FirstBlockCacheConfig().threshold
    )
    assert step_cache_config({"method": "first_block", "threshold": 0}).threshold == 0


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ("taylorseer", "editor.step_cache='taylorseer'; expected a mapping with a method"),
        (["taylorseer"], "editor.step_cache=['taylorseer']; expected a mapping with a method"),
        (None, "editor.step_cache=None; expected a mapping with a method"),
        ({}, "editor.step_cache={}; expected a mapping with a method"),
        ({"cache_interval": 2}, "editor.step_cache={'cache_interval': 2}; expected a mapping"),
        (
            {"method": "teacache"},
            "editor.step_cache.method='teacache'; expected one of ['first_block', 'taylorseer']",
        ),
        ({"method": None}, "editor.step_cache.method=None; expected one of"),
        ({"method": "taylorseer", "threshold": 0.1}, "taylorseer has no option 'threshold'"),
        ({"method": "first_block", "cache_interval": 2}, "first_block has no option 'cache_in"),
        (
            {"method": "taylorseer", "taylor_factors_dtype": "float32"},
            "taylorseer has no option 'taylor_factors_dtype'",
        ),
        ({"method": "taylorseer", "cache_interval": 0}, "cache_interval=0; expected a whole"),
        ({"method": "taylorseer", "cache_interval": -2}, "cache_interval=-2; expected a whole"),
        ({"method": "taylorseer", "cache_interval": 2.5}, "cache_interval=2.5; expected a whole"),
        ({"method": "taylorseer", "cache_interval": True}, "cache_interval=True; expected a who"),
        ({"method": "taylorseer", "cache_interval": "2"}, "cache_interval='2'; expected a whole"),
        ({"method": "taylorseer", "max_order": -1}, "max_order=-1; expected a whole number of"),
        (
            {"method": "taylorseer", "disable_cache_before_step": -1},
            "disable_cache_before_step=-1; expected a step number >= 0 or null",
        ),
        (
            {"method": "taylorseer", "disable_cache_after_step": 1.5},
            "disable_cache_after_step=1.5; expected a step number >= 0 or null",
        ),
        ({"method": "first_block", "threshold": -0.1}, "threshold=-0.1; expected a number >= 0"),
        ({"method": "first_block", "threshold": math.nan}, "threshold=nan; expected a number >="),
        ({"method": "first_block", "threshold": "0.1"}, "threshold='0.1'; expected a number >="),
        ({"method": "first_block", "threshold": True}, "threshold=True; expected a number >= 0"),
        (
            {"method": "taylorseer", "use_lite_mode": "yes"},
            "editor.step_cache.use_lite_mode='yes'; expected true or false",
        ),
        ({"method": "taylorseer", "use_lite_mode": 1}, "use_lite_mode=1; expected true or false"),
    ],
)
def test_a_bad_step_cache_names_the_value_and_what_is_expected(settings: Any, named: str):
    with pytest.raises(ValueError, match=re.escape(named)):
        step_cache_config(settings)


def test_an_unknown_option_lists_the_options_the_method_takes():
    with pytest.raises(ValueError) as refused:
        step_cache_config({"method": "taylorseer", "taylor_factors_dtype": "float32", "x": 1})

    message = str(refused.value)
    assert "no option 'taylor_factors_dtype', 'x'; expected some of [" in message
    allowed = message.split("expected some of ")[1]
    assert "'cache_interval'" in allowed and "'disable_cache_before_step'" in allowed
    assert "taylor_factors_dtype" not in allowed  # a dtype, which a config cannot hold


def test_an_unhashable_method_is_refused_by_name():
    with pytest.raises(ValueError, match=re.escape("editor.step_cache.method=['taylorseer']")):
        step_cache_config({"method": ["taylorseer"]})


# --- check_fp8 ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [None, "storage"])
def test_no_fp8_and_fp8_storage_need_nothing(mode: str | None, monkeypatch: pytest.MonkeyPatch):
    with_torchao(monkeypatch, installed=False)
    assert check_fp8(mode) is None


@pytest.mark.parametrize("mode", ["fp4", "Storage", "", 8])
def test_an_unknown_fp8_mode_is_refused(mode: Any):
    with pytest.raises(ValueError, match=re.escape(f"editor.fp8={mode!r}; expected one of")):
        check_fp8(mode)


def test_fp8_matmul_needs_torchao(monkeypatch: pytest.MonkeyPatch):
    with_torchao(monkeypatch, installed=False)
    with pytest.raises(ValueError, match=r"editor\.fp8=matmul .* torchao is not installed"):
        check_fp8("matmul")

    with_torchao(monkeypatch, installed=True)
    assert check_fp8("matmul") is None


# --- DiffusersEditor: checked when built, keyed only where set ----------------------------


def test_the_exact_editor_keeps_its_settings():
    """No step_cache or fp8 key in the settings of an editor without them: its edits keep
    their store keys."""
    editor = DiffusersEditor(QWEN, call={"num_inference_steps": 20})
    assert editor.settings() == {
        "model": QWEN,
        "pipeline": "QwenImageEditPipeline",
        "revision": None,
        "dtype": "bfloat16",
        "call": {"num_inference_steps": 20},
        "compile": False,
    }
    assert (editor.step_cache, editor.fp8) == (None, None)


def test_the_version_one_fingerprint_is_kept_without_speedups():
    exact = DiffusersEditor(QWEN, call=LEGACY_CALL)
    cached = DiffusersEditor(QWEN, call=LEGACY_CALL, step_cache=TAYLORSEER)
    stored = DiffusersEditor(QWEN, call=LEGACY_CALL, fp8="storage")

    assert exact.settings() == {
        "model": QWEN,
        "pipeline": "QwenImageEditPipeline",
        "revision": None,
        "dtype": "bfloat16",
        **LEGACY_CALL,
        "height": None,
        "width": None,
        "compile": False,
    }
    # a speed-up leaves the version-1 format: the whole call, and the option, are keyed
    assert (
        cached.settings()["call"] == LEGACY_CALL and cached.settings()["step_cache"] == TAYLORSEER
    )
    assert stored.settings()["call"] == LEGACY_CALL and stored.settings()["fp8"] == "storage"
    assert len({json.dumps(e.fingerprint()) for e in (exact, cached, stored)}) == 3


def test_each_speedup_gives_its_own_fingerprint(monkeypatch: pytest.MonkeyPatch):
    with_torchao(monkeypatch, installed=True)
    call = {"num_inference_steps": 20}
    options = [
        {},
        {"step_cache": TAYLORSEER},
        {"step_cache": {**TAYLORSEER, "cache_interval": 4}},
        {"step_cache": {"method": "first_block", "threshold": 0.05}},
        {"step_cache": {"method": "first_block", "threshold": 0.1}},
        {"fp8": "storage"},
        {"fp8": "matmul"},
        {"fp8": "storage", "step_cache": TAYLORSEER},
    ]

    fingerprints = [DiffusersEditor(QWEN, call=call, **o).fingerprint() for o in options]

    assert len({json.dumps(f, sort_keys=True) for f in fingerprints}) == len(options)
    for option, fingerprint in zip(options[1:], fingerprints[1:], strict=True):
        assert {key: fingerprint[key] for key in option} == option
        assert {key: value for key, value in fingerprint.items() if key not in option} == (
            fingerprints[0]
        )


@pytest.mark.parametrize(
    ("option", "named"),
    [
        ({"step_cache": TAYLORSEER}, "editor.step_cache speeds up a transformer;"),
        ({"fp8": "storage"}, "editor.fp8 speeds up a transformer;"),
    ],
)
def test_a_unet_pipeline_refuses_the_speedups(option: dict[str, Any], named: str):
    # no such model: the options are checked before anything is read
    with pytest.raises(ValueError, match=re.escape(named)) as refused:
        DiffusersEditor(
            "no/such-model", pipeline="StableDiffusionInstructPix2PixPipeline", **option
        )
    assert "StableDiffusionInstructPix2PixPipeline denoises with a UNet" in str(refused.value)
    assert f"expected editor.{next(iter(option))}=null" in str(refused.value)


def test_a_pipeline_without_cache_contexts_refuses_a_step_cache():
    with pytest.raises(ValueError) as refused:
        DiffusersEditor("no/such-model", pipeline="FluxKontextPipeline", step_cache=TAYLORSEER)
    assert "editor.step_cache: FluxKontextPipeline does not name" in str(refused.value)
    assert "expected editor.step_cache=null" in str(refused.value)
    # FP8 weights need no cache context
    assert DiffusersEditor("no/such-model", pipeline="FluxKontextPipeline", fp8="storage").fp8


@pytest.mark.parametrize(
    ("option", "named"),
    [
        ({"step_cache": "taylorseer"}, "editor.step_cache='taylorseer'"),
        ({"step_cache": {"method": "teacache"}}, "editor.step_cache.method='teacache'"),
        ({"fp8": "fp4"}, "editor.fp8='fp4'"),
    ],
)
def test_a_bad_option_fails_the_constructor(option: dict[str, Any], named: str):
    with pytest.raises(ValueError, match=re.escape(named)):
        DiffusersEditor("no/such-model", **option)


def test_the_speedups_are_config_options(compose_config: Callable):
    cfg = compose_config(
        "editor=tiny",
        "editor.step_cache={method:taylorseer,cache_interval:2,disable_cache_before_step:1}",
        "editor.fp8=storage",
    )
    editor = instantiate(model_config(cfg, "editor")[0])

    expected = {"method": "taylorseer", "cache_interval": 2, "disable_cache_before_step": 1}
    assert editor.fingerprint()["step_cache"] == expected
    assert editor.fingerprint()["fp8"] == "storage"
    default = compose_config("editor=tiny").editor
    assert (default.step_cache, default.fp8) == (None, None)


def test_a_list_option_from_the_config_keeps_the_fingerprint_plain_data(compose_config: Callable):
    """The editor the run builds gets plain lists, which the fingerprint writes as JSON."""
    cfg = compose_config(
        "experiment=demo",
        "editor.step_cache={method:taylorseer,skip_predict_identifiers:[proj_out]}",
        "+editor.call.sigmas=[1.0,0.5]",
    )
    editor = validate(cfg).editor

    assert json.loads(json.dumps(editor.fingerprint()))["step_cache"] == {
        "method": "taylorseer",
        "skip_predict_identifiers": ["proj_out"],
    }
    assert json.loads(json.dumps(editor.fingerprint()))["call"]["sigmas"] == [1.0, 0.5]


# --- applied on load: the tiny Qwen-Image-Edit pipeline on the CPU ------------------------


def counted_edit(editor: DiffusersEditor, source_image: str) -> tuple[Image.Image, dict[str, int]]:
    """Load ``editor``, edit one request, and count the forward calls of the last transformer
    block and of its query projection. A cached step still calls the block (diffusers' cache
    hook replaces its forward and returns the stored output), but nothing within it."""
    editor.load("cpu")
    block = editor._pipe.transformer.transformer_blocks[-1]
    calls = {"block": 0, "to_q": 0}

    def counter(name: str) -> Callable[..., None]:
        def count(*args: Any) -> None:
            calls[name] += 1

        return count

    block.register_forward_hook(counter("block"))
    block.attn.to_q.register_forward_hook(counter("to_q"))
    (edited,) = editor.edit([EditRequest("s1", (source_image,), "make it blue", seed=0)])
    return edited, calls


def tiny(model: str, **options: Any) -> DiffusersEditor:
    return DiffusersEditor(model, dtype="float32", call=CALL, **options)


def assert_valid_edit(edited: Image.Image) -> None:
    assert (edited.mode, edited.size) == ("RGB", (SIZE, SIZE))


@pytest.fixture(scope="module")
def exact_edit(tiny_editor: str, source_image: str) -> tuple[Image.Image, dict[str, int]]:
    return counted_edit(tiny(tiny_editor), source_image)


def test_the_exact_editor_computes_every_pass_of_every_step(exact_edit):
    edited, calls = exact_edit
    assert_valid_edit(edited)
    assert calls == {"block": 2 * STEPS, "to_q": 2 * STEPS}


def test_a_taylorseer_cache_skips_the_blocks_work(tiny_editor: str, source_image: str, exact_edit):
    edited, calls = counted_edit(tiny(tiny_editor, step_cache=TAYLORSEER), source_image)

    assert calls["block"] == 2 * STEPS  # every step still goes through the block...
    assert 0 < calls["to_q"] < exact_edit[1]["to_q"]  # ...but some compute nothing in it
    assert_valid_edit(edited)


def test_a_first_block_cache_over_any_change_computes_only_the_first_step(
    tiny_editor: str, source_image: str
):
    step_cache = {"method": "first_block", "threshold": 1e9}
    edited, calls = counted_edit(tiny(tiny_editor, step_cache=step_cache), source_image)

    assert calls["to_q"] == 2  # the first step's two passes; every later step is cached
    assert_valid_edit(edited)


def test_a_cached_editor_edits_each_request_as_if_it_were_the_first(
    tiny_editor: str, source_image: str, tmp_path: Path
):
    """The cache's state does not carry over from one edit to the next: the same request
    gives the same pixels first, after itself, and after another request."""
    other = tmp_path / "red.png"
    Image.new("RGB", (96, 64), (200, 30, 30)).save(other)
    request = EditRequest("s1", (source_image,), "make it blue", seed=0)
    editor = tiny(tiny_editor, step_cache={"method": "first_block", "threshold": 1e9})
    editor.load("cpu")

    first = np.asarray(editor.edit([request])[0])
    again = np.asarray(editor.edit([request])[0])
    editor.edit([EditRequest("s2", (str(other),), "make it green", seed=5)])
    after_other = np.asarray(editor.edit([request])[0])

    assert np.array_equal(first, again) and np.array_equal(first, after_other)


def test_fp8_storage_keeps_the_blocks_weights_in_float8(
    tiny_editor: str, source_image: str, exact_edit
):
    editor = tiny(tiny_editor, fp8="storage")
    edited, calls = counted_edit(editor, source_image)

    linears = [
        module
        for module in editor._pipe.transformer.transformer_blocks.modules()
        if isinstance(module, torch.nn.Linear)
    ]
    assert linears and {m.weight.dtype for m in linears} == {torch.float8_e4m3fn}
    assert calls["to_q"] == 2 * STEPS  # every step computed, with rounded weights
    assert_valid_edit(edited)
    assert edited.tobytes() != exact_edit[0].tobytes()


def test_fp8_matmul_on_the_cpu_is_refused_on_load(
    tiny_editor: str, monkeypatch: pytest.MonkeyPatch
):
    with_torchao(monkeypatch, installed=True)
    editor = tiny(tiny_editor, fp8="matmul")

    with pytest.raises(EditbenchError) as refused:
        editor.load("cpu")

    message = str(refused.value)
    assert "editor.fp8=matmul needs FP8 tensor cores" in message
    assert "compute capability 8.9" in message and "cpu is the CPU" in message


# --- the CLI, as a user runs it ---------------------------------------------------------------


def editbench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "editbench", *args], cwd=cwd, capture_output=True, text=True
    )


SMALL = ["experiment=demo", "tracking=none", "dataset.limit=2"]


@pytest.mark.slow
def test_a_run_with_a_step_cache_completes_and_keys_its_edits(tmp_path: Path):
    run_dir = tmp_path / "run"
    step_cache = "{method:taylorseer,cache_interval:2,disable_cache_before_step:1}"
    result = editbench(
        *SMALL,
        f"editor.step_cache={step_cache}",
        "editor.call.num_inference_steps=4",
        f"hydra.run.dir={run_dir}",
        *local_overrides(tmp_path),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]

    results = json.loads((run_dir / "results.json").read_text())
    assert results["overall"]["n"] == results["overall"]["judged"] == 2
    rows = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    for row in rows:
        assert row["status"] == "ok" and row["edit_device_s"] > 0
        key = row["edit_key"]
        record = json.loads((tmp_path / "store" / "edits" / key[:2] / f"{key}.json").read_text())
        assert record["editor"]["step_cache"] == {
            "method": "taylorseer",
            "cache_interval": 2,
            "disable_cache_before_step": 1,
        }
        assert "fp8" not in record["editor"]


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("editor.step_cache=taylorseer", "editor.step_cache='taylorseer'; expected a mapping"),
        (
            "editor.step_cache={method:teacache}",
            "editor.step_cache.method='teacache'; expected one of ['first_block', 'taylorseer']",
        ),
    ],
)
def test_a_bad_step_cache_fails_before_any_model_loads(tmp_path: Path, override: str, named: str):
    run_dir = tmp_path / "run"
    result = editbench(
        *SMALL, override, f"hydra.run.dir={run_dir}", *local_overrides(tmp_path), cwd=tmp_path
    )

    assert result.returncode == 2
    assert named in result.stderr and "Traceback" not in result.stderr
    assert not (run_dir / "edit-0.log").exists()  # no editor worker started
    assert not (tmp_path / "store").exists()


def test_an_fp8_mode_outside_the_choice_fails_at_compose_time(tmp_path: Path):
    result = editbench(
        *SMALL,
        "editor.fp8=fp4",
        f"hydra.run.dir={tmp_path / 'run'}",
        *local_overrides(tmp_path),
        cwd=tmp_path,
    )

    assert result.returncode != 0
    assert "Invalid value 'fp4', expected one of [storage, matmul]" in result.stderr
    assert "full_key: editor.fp8" in result.stderr
    assert not (tmp_path / "store").exists()
