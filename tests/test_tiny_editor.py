"""The tiny Qwen-Image-Edit model and DiffusersEditor running it on CPU: its settings checked
up front, its output checked for NaN and size (the tokenizer: tests/test_tokenizer.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from diffusers.image_processor import VaeImageProcessor
from PIL import Image

from editbench.editors.diffusers_editor import DiffusersEditor
from editbench.errors import EditbenchError, SampleError
from editbench.records import EditRequest
from editbench.tiny import ensure_tiny_model

from .conftest import local_overrides

SIZE = 64  # output side; the pipeline still encodes its input at ~1024² whatever this is


@pytest.fixture(scope="module")
def editor(tiny_editor: str) -> DiffusersEditor:
    editor = DiffusersEditor(
        tiny_editor,
        dtype="float32",
        call={"num_inference_steps": 2, "height": SIZE, "width": SIZE},
    )
    editor.load("cpu")
    return editor


def test_tiny_model_is_built_once_then_reused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EDITBENCH_CACHE", str(tmp_path))
    first = ensure_tiny_model("qwen_image_edit")
    index = Path(first) / "model_index.json"
    built = index.stat()

    assert ensure_tiny_model("qwen_image_edit") == first
    assert (index.stat().st_ino, index.stat().st_mtime_ns) == (built.st_ino, built.st_mtime_ns)
    assert [path.name for path in (tmp_path / "tiny").iterdir()] == [Path(first).name]


def test_edit_returns_an_rgb_image_of_the_requested_size(
    editor: DiffusersEditor, source_image: str
) -> None:
    (edited,) = editor.edit([EditRequest("s1", (source_image,), "make it blue", seed=0)])

    assert edited.mode == "RGB"
    assert edited.size == (SIZE, SIZE)


def test_seed_alone_decides_the_noise_and_steps_are_reported(
    editor: DiffusersEditor, source_image: str
) -> None:
    steps: list[tuple[int, int]] = []
    editor.step_callback = lambda step, total: steps.append((step, total))
    try:
        first, again, other = editor.edit(
            [EditRequest("s1", (source_image,), "make it blue", seed=seed) for seed in (1, 1, 2)]
        )
    finally:
        editor.step_callback = None

    assert first.tobytes() == again.tobytes()
    assert first.tobytes() != other.tobytes()
    assert steps == [(1, 2), (2, 2)] * 3


def test_the_same_folder_runs_as_the_plus_pipeline(tiny_editor: str, source_image: str) -> None:
    editor = DiffusersEditor(
        tiny_editor,
        pipeline="QwenImageEditPlusPipeline",
        dtype="float32",
        call={"num_inference_steps": 2, "height": SIZE, "width": SIZE},
    )
    editor.load("cpu")

    (edited,) = editor.edit([EditRequest("s1", (source_image,), "make it blue", seed=0)])

    assert (edited.mode, edited.size) == ("RGB", (SIZE, SIZE))
    # several input images go to the Plus pipeline as one list
    both = EditRequest("s2", (source_image, source_image), "put the two together", seed=0)
    editor.check([both])
    (together,) = editor.edit([both])
    assert (together.mode, together.size) == ("RGB", (SIZE, SIZE))


def test_a_single_image_pipeline_refuses_samples_with_several_images(tiny_editor: str) -> None:
    editor = DiffusersEditor(tiny_editor, dtype="float32")
    one = EditRequest("one", ("/a.png",), "x", seed=0)
    several = [EditRequest(f"s{i}", ("/a.png", "/b.png"), "x", seed=0) for i in range(12)]
    editor.check([one])
    with pytest.raises(EditbenchError) as raised:
        editor.check([one, *several])
    message = str(raised.value)
    assert "QwenImageEditPipeline edits one input image" in message
    assert "samples 's0', 's1'" in message and "and 2 more have several" in message
    assert "editor=qwen_image_edit_plus" in message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model", "Qwen/Qwen-Image-Edit-2509"),
        ("pipeline", "QwenImageEditPlusPipeline"),
        ("revision", "abc123"),
        ("dtype", "float16"),
        ("compile", True),
    ],
)
def test_fingerprint_changes_with_every_parameter(field: str, value: object) -> None:
    base = DiffusersEditor(model="Qwen/Qwen-Image-Edit")
    changed = DiffusersEditor(**{"model": "Qwen/Qwen-Image-Edit", field: value})

    assert changed.fingerprint()[field] == value
    assert changed.fingerprint() != base.fingerprint()


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("num_inference_steps", 8),
        ("true_cfg_scale", 1.0),
        ("negative_prompt", "blurry"),
        ("height", 512),
        ("guidance_scale", 1.0),
    ],
)
def test_fingerprint_holds_every_call_setting(setting: str, value: object) -> None:
    base = DiffusersEditor(model="Qwen/Qwen-Image-Edit", call={"num_inference_steps": 20})
    changed = DiffusersEditor(
        model="Qwen/Qwen-Image-Edit", call={"num_inference_steps": 20, setting: value}
    )
    assert changed.fingerprint()["call"][setting] == value
    assert changed.fingerprint() != base.fingerprint()


def test_a_call_the_first_editor_could_make_keeps_its_fingerprint() -> None:
    """Stores written by the version-1 editor (which always passed steps, true CFG scale and
    negative prompt, and height and width or None) keep their edits."""
    call = {"num_inference_steps": 50, "true_cfg_scale": 4.0, "negative_prompt": " "}
    editor = DiffusersEditor(model="Qwen/Qwen-Image-Edit", call=call)
    assert editor.fingerprint() == {
        "name": "diffusers",
        "version": 1,
        "model": "Qwen/Qwen-Image-Edit",
        "pipeline": "QwenImageEditPipeline",
        "revision": None,
        "dtype": "bfloat16",
        "num_inference_steps": 50,
        "true_cfg_scale": 4.0,
        "negative_prompt": " ",
        "height": None,
        "width": None,
        "compile": False,
    }
    # without the negative prompt the pipeline runs no true CFG: another edit, another key
    fewer = DiffusersEditor(model="Qwen/Qwen-Image-Edit", call={"num_inference_steps": 50})
    assert "call" in fewer.fingerprint()


def test_settings_moved_under_call_say_where(tiny_editor: str) -> None:
    with pytest.raises(ValueError, match=r"editor.num_inference_steps -> editor.call"):
        DiffusersEditor(tiny_editor, num_inference_steps=8)


@pytest.mark.parametrize(
    ("call", "named"),
    [
        ({"no_such_setting": 3}, "editor.call.no_such_setting: QwenImageEditPipeline.__call__"),
        ({"generator": 3}, "editor.call.generator: set by editbench"),
        ({"num_inference_steps": "many"}, "editor.call.num_inference_steps='many': expected int"),
        ({"true_cfg_scale": "4"}, "editor.call.true_cfg_scale='4': expected float"),
        ({"num_inference_steps": 0}, "editor.call.num_inference_steps=0; expected an integer "),
        ({"num_inference_steps": -2}, "editor.call.num_inference_steps=-2; expected an integer"),
        ({"true_cfg_scale": float("nan")}, "editor.call.true_cfg_scale=nan; expected a finite"),
        ({"guidance_scale": float("inf")}, "editor.call.guidance_scale=inf; expected a finite"),
    ],
)
def test_call_settings_are_checked_against_the_signature(call: dict, named: str) -> None:
    with pytest.raises(ValueError, match=re.escape(named)):
        DiffusersEditor("Qwen/Qwen-Image-Edit", call=call)


def test_compile_is_refused_for_a_unet_pipeline() -> None:
    with pytest.raises(ValueError, match="denoises with a UNet"):
        DiffusersEditor(
            "timbrooks/instruct-pix2pix",
            pipeline="StableDiffusionInstructPix2PixPipeline",
            compile=True,
        )


@pytest.mark.parametrize(("field", "value"), [("pipeline", "FluxPipeline"), ("dtype", "float8")])
def test_unsupported_values_are_named_in_the_error(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=value):
        DiffusersEditor("Qwen/Qwen-Image-Edit", **{field: value})


def test_edit_before_load_is_an_error(source_image: str) -> None:
    with pytest.raises(RuntimeError, match="load"):
        DiffusersEditor("Qwen/Qwen-Image-Edit").edit(
            [EditRequest("s1", (source_image,), "x", seed=0)]
        )


class FixedOutput:
    """A stand-in pipeline: records each call's keywords and answers with ``images``, the batch
    of floats a pipeline returns for ``output_type="np"``; converts them as diffusers does."""

    image_processor = VaeImageProcessor()

    def __init__(self, images: np.ndarray) -> None:
        self.images = images
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return SimpleNamespace(images=self.images)


def test_non_finite_output_fails_the_sample_saying_why(
    editor: DiffusersEditor, tiny_editor: str, source_image: str
) -> None:
    # One step: the flow-matching scheduler's terminal shift divides 0 by 0, every value NaN.
    one_step = DiffusersEditor(
        tiny_editor, dtype="float32", call={"num_inference_steps": 1, "height": SIZE, "width": SIZE}
    )
    one_step._pipe = editor._pipe  # the same loaded pipeline

    with pytest.raises(SampleError) as raised:
        one_step.edit([EditRequest("s1", (source_image,), "make it blue", seed=0)])

    message = str(raised.value)
    assert message.startswith("sample 's1': QwenImageEditPipeline produced non-finite values")
    assert f"in {SIZE * SIZE * 3:,} of the edit's {SIZE * SIZE * 3:,} values" in message
    assert "num_inference_steps=1" in message and "float16" in message


def test_one_infinite_value_is_enough(tiny_editor: str, source_image: str) -> None:
    images = np.full((1, SIZE, SIZE, 3), 0.5, dtype=np.float32)
    images[0, 3, 4, 1] = np.inf
    editor = DiffusersEditor(tiny_editor, dtype="float32")
    editor._pipe = FixedOutput(images)
    with pytest.raises(SampleError, match=r"non-finite values .+ in 1 of the edit's"):
        editor.edit([EditRequest("s1", (source_image,), "x", seed=0)])


def test_an_output_of_a_size_no_judge_takes_fails_the_sample(
    tiny_editor: str, source_image: str
) -> None:
    editor = DiffusersEditor(tiny_editor, dtype="float32")
    editor._pipe = FixedOutput(np.zeros((1, 8, 4000, 3), dtype=np.float32))
    expected = "'s1': the image QwenImageEditPipeline returned is 4000x8 pixels"
    with pytest.raises(SampleError, match=expected):
        editor.edit([EditRequest("s1", (source_image,), "x", seed=0)])


def test_the_output_is_asked_for_as_floats_and_converted_as_the_pipeline_does(
    tiny_editor: str, source_image: str
) -> None:
    values = np.linspace(0, 1, SIZE * SIZE * 3, dtype=np.float32).reshape(1, SIZE, SIZE, 3)
    editor = DiffusersEditor(tiny_editor, dtype="float32")
    editor._pipe = FixedOutput(values)

    (edited,) = editor.edit([EditRequest("s1", (source_image,), "x", seed=0)])

    assert editor._pipe.calls[0]["output_type"] == "np"
    assert edited.mode == "RGB"
    assert edited.tobytes() == VaeImageProcessor.numpy_to_pil(values)[0].tobytes()


def test_a_16_bit_input_reaches_the_pipeline_as_its_gradient(
    tiny_editor: str, tmp_path: Path
) -> None:
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (32, 1))
    Image.fromarray(ramp).save(tmp_path / "ramp.png")
    editor = DiffusersEditor(tiny_editor, dtype="float32")
    editor._pipe = FixedOutput(np.zeros((1, SIZE, SIZE, 3), dtype=np.float32))

    editor.edit([EditRequest("s1", (str(tmp_path / "ramp.png"),), "x", seed=0)])

    given = np.asarray(editor._pipe.calls[0]["image"])
    assert given.shape == (32, 64, 3)
    assert (given[0, 0, 0], given[0, -1, 0]) == (0, 255)  # not clipped to white


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            "editor.call.num_inference_steps=0",
            "editor.call.num_inference_steps=0; expected an integer of at least 1",
        ),
        ("editor.call.true_cfg_scale=nan", "editor.call.true_cfg_scale=nan; expected a finite"),
    ],
)
def test_a_setting_no_edit_can_be_made_with_stops_the_run_before_any_model_loads(
    tmp_path: Path, setting: str, message: str
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "editbench",
            "experiment=demo",
            "tracking=none",
            setting,
            f"hydra.run.dir={tmp_path / 'run'}",
            *local_overrides(tmp_path),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "store").exists()  # nothing edited
