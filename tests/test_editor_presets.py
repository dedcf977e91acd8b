"""Every diffusers editor preset: its call reaches the pipeline with exactly the preset's
settings, plus what editbench sets itself (the image(s), the prompt, the seeded generator, the
progress callback where the pipeline has one), and nothing else."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import yaml
from diffusers.image_processor import VaeImageProcessor
from hydra.utils import instantiate
from PIL import Image

from editbench.config.validate import model_config
from editbench.editors.diffusers_editor import DiffusersEditor
from editbench.records import EditRequest

from .conftest import CONF

PRESETS = sorted(
    path.stem
    for path in (CONF / "editor").glob("*.yaml")
    if "/schema/editor/diffusers@_here_" in path.read_text()
)


class Recorder:
    """A stand-in pipeline: records each call's keywords and answers with a small image."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    image_processor = VaeImageProcessor()

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return type("Output", (), {"images": np.zeros((1, 64, 64, 3), np.float32)})()


def _editor(compose_config, preset: str) -> DiffusersEditor:
    # the tiny preset builds its model on first use: point it anywhere, nothing is loaded
    overrides = [f"editor={preset}", "editor.model=unused"]
    config, _ = model_config(compose_config(*overrides), "editor")
    return instantiate(config)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("source") / "source.png"
    Image.new("RGB", (1000, 600), (200, 50, 50)).save(path)
    return str(path)


def test_every_diffusers_preset_is_covered() -> None:
    assert set(PRESETS) >= {
        "qwen_image_edit",
        "qwen_image_edit_plus",
        "flux_kontext",
        "instruct_pix2pix",
        "instruct_pix2pix_xl",
        "longcat_image_edit",
        "flux2_klein",
        "omnigen",
        "joyimage_edit",
        "joyimage_edit_plus",
        "tiny",
    }


@pytest.mark.parametrize("preset", PRESETS)
def test_the_preset_call_reaches_the_pipeline_exactly(compose_config, preset, source):
    editor = _editor(compose_config, preset)
    declared = yaml.safe_load((CONF / "editor" / f"{preset}.yaml").read_text()).get("call") or {}
    steps: list[tuple[int, int]] = []
    editor.step_callback = lambda step, total: steps.append((step, total))
    editor._pipe = Recorder()

    editor.edit([EditRequest("s1", (source,), "make it blue", seed=7)])

    (called,) = editor._pipe.calls
    image_parameter = editor.info.image_parameter
    expected = {image_parameter, "prompt", "generator", "output_type", *declared}
    if editor.info.reports_steps:
        expected.add("callback_on_step_end")
    assert set(called) == expected
    assert {key: called[key] for key in declared} == declared
    # OmniGen's prompt names its input image with a tag before the instruction
    tag = "<img><|image_1|></img> " if preset == "omnigen" else ""
    assert called["prompt"] == f"{tag}make it blue"
    given = called[image_parameter]
    if editor.info.takes_several_images:  # a list of references, of one image too
        assert isinstance(given, list) and len(given) == 1
        given = given[0]
    assert isinstance(given, Image.Image)
    assert torch.equal(
        called["generator"].get_state(), torch.Generator().manual_seed(7).get_state()
    )


def test_several_images_go_as_one_list_where_the_pipeline_takes_them(compose_config, source):
    editor = _editor(compose_config, "qwen_image_edit_plus")
    editor._pipe = Recorder()
    editor.edit([EditRequest("s1", (source, source), "combine them", seed=0)])
    (called,) = editor._pipe.calls
    assert isinstance(called["image"], list) and len(called["image"]) == 2


def test_instruct_pix2pix_edits_at_its_reference_resolution(compose_config, source):
    editor = _editor(compose_config, "instruct_pix2pix")
    editor._pipe = Recorder()
    editor.edit([EditRequest("s1", (source,), "make it blue", seed=0)])
    (called,) = editor._pipe.calls
    # long side 512, each side a multiple of 64, as edit_cli.py makes it: 1000x600 -> 512x320
    assert called["image"].size == (512, 320)


def test_presets_cite_their_source() -> None:
    for preset in PRESETS:
        if preset == "tiny":
            continue
        header = (CONF / "editor" / f"{preset}.yaml").read_text().split("defaults:")[0]
        sources = ("huggingface.co", "github.com", "diffusers'", "huggingface/diffusers")
        assert any(word in header for word in sources), preset


def test_a_pipeline_without_step_callbacks_is_counted_per_image(compose_config, source) -> None:
    editor = _editor(compose_config, "longcat_image_edit")
    assert not editor.info.reports_steps
    editor.step_callback = lambda step, total: pytest.fail("no steps to report")
    editor._pipe = Recorder()
    editor.edit([EditRequest("s1", (source,), "make it blue", seed=0)])
    assert "callback_on_step_end" not in editor._pipe.calls[0]
