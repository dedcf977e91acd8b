"""The tiny LongCat-Image-Edit and FLUX.2 [klein] twins: built, read whole and model by model,
and edited with their reference settings on CPU."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import torch
from PIL import Image

from editbench.editors.diffusers_editor import DiffusersEditor
from editbench.editors.pipelines import pipeline_class_of, pipeline_info
from editbench.records import EditRequest
from editbench.tiny import ensure_tiny_model

STEPS = 2


@dataclass(frozen=True)
class Twin:
    """A tiny model, its pipeline class, the reference call of the real model it stands for,
    and what its pipeline makes of the 96x64 source image."""

    name: str
    pipeline: str
    reference: dict[str, Any]
    output_size: tuple[int, int]
    takes_several_images: bool
    reports_steps: bool

    def call(self) -> dict[str, Any]:
        """The reference call with only the steps cut down."""
        return {**self.reference, "num_inference_steps": STEPS}


TWINS = {
    twin.name: twin
    for twin in (
        # The model card's call. The pipeline always works at about 1024² pixels; the tiny
        # VAE aligns that to 32 pixels (the real one to 16, giving 1264x848).
        Twin(
            "longcat_image_edit",
            "LongCatImageEditPipeline",
            {"num_inference_steps": 50, "guidance_scale": 4.5, "negative_prompt": ""},
            output_size=(1248, 832),
            takes_several_images=False,
            reports_steps=False,
        ),
        # The step-distilled 4B's call; the output keeps the input's size.
        Twin(
            "flux2_klein",
            "Flux2KleinPipeline",
            {"num_inference_steps": 4, "guidance_scale": 1.0},
            output_size=(96, 64),
            takes_several_images=True,
            reports_steps=True,
        ),
    )
}


@pytest.fixture(scope="module", params=sorted(TWINS))
def twin(request: pytest.FixtureRequest) -> Twin:
    return TWINS[request.param]


@pytest.fixture(scope="module")
def whole_folder_edit(twin: Twin, source_image: str) -> Image.Image:
    """The twin built into the session's cache, read with ``<Pipeline>.from_pretrained(folder)``,
    editing the source image with seed 1."""
    pipe = pipeline_class_of(twin.pipeline).from_pretrained(ensure_tiny_model(twin.name))
    pipe.set_progress_bar_config(disable=True)
    with Image.open(source_image) as source:
        image = source.convert("RGB")
    output = pipe(
        image=image,
        prompt="make it blue",
        generator=torch.Generator().manual_seed(1),
        **twin.call(),
    )
    return output.images[0]


@pytest.fixture(scope="module")
def editor(twin: Twin) -> DiffusersEditor:
    """The editor over the twin: it reads each model with its own from_pretrained, then the
    pipeline around them."""
    editor = DiffusersEditor(
        ensure_tiny_model(twin.name), pipeline=twin.pipeline, dtype="float32", call=twin.call()
    )
    editor.load("cpu")
    return editor


def test_calling_convention_is_as_the_editor_expects(twin: Twin) -> None:
    info = pipeline_info(twin.pipeline)

    assert info.image_parameter == "image"
    assert info.takes_several_images is twin.takes_several_images
    assert info.reports_steps is twin.reports_steps
    assert info.has_transformer


def test_whole_folder_edits_with_the_reference_settings(
    twin: Twin, whole_folder_edit: Image.Image
) -> None:
    assert isinstance(whole_folder_edit, Image.Image)
    assert (whole_folder_edit.mode, whole_folder_edit.size) == ("RGB", twin.output_size)


def test_model_by_model_gives_the_same_pixels_and_the_seed_decides_them(
    twin: Twin, editor: DiffusersEditor, whole_folder_edit: Image.Image, source_image: str
) -> None:
    steps: list[tuple[int, int]] = []
    editor.step_callback = lambda step, total: steps.append((step, total))
    try:
        same, other = editor.edit(
            [EditRequest(f"s{seed}", (source_image,), "make it blue", seed) for seed in (1, 2)]
        )
    finally:
        editor.step_callback = None

    assert (same.mode, same.size) == ("RGB", twin.output_size)
    assert same.tobytes() == whole_folder_edit.tobytes()
    assert other.tobytes() != same.tobytes()
    assert steps == ([(1, STEPS), (2, STEPS)] * 2 if twin.reports_steps else [])


def test_flux2_klein_edits_several_images_as_one_list(source_image: str) -> None:
    twin = TWINS["flux2_klein"]
    editor = DiffusersEditor(
        ensure_tiny_model(twin.name), pipeline=twin.pipeline, dtype="float32", call=twin.call()
    )
    editor.load("cpu")
    both = EditRequest("s1", (source_image, source_image), "put the two together", seed=0)

    editor.check([both])
    (edited,) = editor.edit([both])

    # The output takes the first image's size.
    assert (edited.mode, edited.size) == ("RGB", twin.output_size)
