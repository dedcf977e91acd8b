"""The tiny FLUX.1 Kontext and InstructPix2Pix twins: built offline, read back both ways the
folder is read (whole, and model by model as the editor does), and editing on CPU."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import diffusers
import pytest
import torch
from PIL import Image

from editbench.editors.diffusers_editor import DiffusersEditor
from editbench.tiny import BUILDERS, ensure_tiny_model
from editbench.tiny.flux_kontext import build_clip_tokenizer, build_t5_tokenizer

WIDTH, HEIGHT = 96, 64  # multiples of 16, so every pipeline keeps the size


@dataclass(frozen=True)
class Twin:
    """A tiny model, the pipeline class that reads it, and its reference call settings."""

    name: str
    pipeline: str
    call: dict[str, Any] = field(default_factory=dict)


TWINS = [
    # Kontext otherwise generates at ~1024² whatever the input; max_area keeps the output small.
    Twin(
        "flux_kontext",
        "FluxKontextPipeline",
        {"guidance_scale": 2.5, "height": HEIGHT, "width": WIDTH, "max_area": HEIGHT * WIDTH},
    ),
    Twin(
        "instruct_pix2pix",
        "StableDiffusionInstructPix2PixPipeline",
        {"guidance_scale": 7.5, "image_guidance_scale": 1.5},
    ),
    Twin(
        "instruct_pix2pix_xl",
        "StableDiffusionXLInstructPix2PixPipeline",
        {"guidance_scale": 7.5, "image_guidance_scale": 1.5, "height": HEIGHT, "width": WIDTH},
    ),
]


@pytest.fixture(scope="module", params=TWINS, ids=lambda twin: twin.name)
def twin(request: pytest.FixtureRequest) -> Twin:
    return request.param


@pytest.fixture(scope="module")
def pipe(twin: Twin) -> Any:
    """The twin read model by model, as the editor reads it, in float32 on CPU."""
    editor = DiffusersEditor(ensure_tiny_model(twin.name), pipeline=twin.pipeline, dtype="float32")
    pipe = editor.read_pipeline("cpu")
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def source() -> Image.Image:
    gradient = Image.linear_gradient("L").resize((WIDTH, HEIGHT))
    return Image.merge(
        "RGB",
        (
            gradient,
            gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
            Image.new("L", (WIDTH, HEIGHT), 90),
        ),
    )


def edit(pipe: Any, twin: Twin, image: Image.Image, seed: int) -> Image.Image:
    generator = torch.Generator().manual_seed(seed)
    output = pipe(
        image=image, prompt="make it blue", num_inference_steps=2, generator=generator, **twin.call
    )
    return output.images[0]


def test_the_folder_reads_whole_and_model_by_model_alike(twin: Twin, pipe: Any) -> None:
    whole = getattr(diffusers, twin.pipeline).from_pretrained(ensure_tiny_model(twin.name))

    assert type(whole) is type(pipe)
    assert whole.components.keys() == pipe.components.keys()
    for name, component in whole.components.items():
        assert type(component) is type(pipe.components[name]), name
        if isinstance(component, torch.nn.Module):
            theirs = pipe.components[name].state_dict()
            for key, tensor in component.state_dict().items():
                assert torch.equal(tensor, theirs[key]), f"{name}.{key}"


def test_an_edit_is_an_rgb_image_that_the_seed_decides(
    twin: Twin, pipe: Any, source: Image.Image
) -> None:
    first, again, other = (edit(pipe, twin, source, seed) for seed in (1, 1, 2))

    assert isinstance(first, Image.Image)
    assert (first.mode, first.size) == ("RGB", (WIDTH, HEIGHT))
    assert first.tobytes() == again.tobytes()
    assert first.tobytes() != other.tobytes()


def test_a_build_is_the_same_bytes_every_time(tmp_path: Path) -> None:
    for name in ("flux_kontext", "instruct_pix2pix", "instruct_pix2pix_xl"):
        module_name, function_name = BUILDERS[name].split(":")
        build = getattr(importlib.import_module(module_name), function_name)
        first, second = tmp_path / f"{name}-1", tmp_path / f"{name}-2"
        build(first)
        build(second)
        files = sorted(path.relative_to(first) for path in first.rglob("*") if path.is_file())
        assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
        for path in files:
            assert (first / path).read_bytes() == (second / path).read_bytes(), f"{name}/{path}"


def test_clip_tokenizer_spells_words_out_in_clips_byte_order() -> None:
    tokenizer = build_clip_tokenizer()

    ids = tokenizer("Make it!", padding="max_length", max_length=77).input_ids

    assert len(tokenizer) == 514 and tokenizer.model_max_length == 77
    assert tokenizer.convert_ids_to_tokens(ids[:9]) == [
        "<|startoftext|>",
        "m",
        "a",
        "k",
        "e</w>",
        "i",
        "t</w>",
        "!</w>",
        "<|endoftext|>",
    ]
    assert ids[1] == 76  # "m", as in CLIP's own vocabulary
    assert ids[9:] == [tokenizer.pad_token_id] * 68
    assert build_clip_tokenizer(pad_token="!").pad_token_id == 0


def test_t5_tokenizer_spells_words_out_and_ends_with_eos() -> None:
    tokenizer = build_t5_tokenizer()

    encoded = tokenizer("Go é", padding="max_length", max_length=8)

    assert len(tokenizer) == 198
    assert tokenizer.convert_ids_to_tokens(encoded.input_ids) == [
        "▁",
        "G",
        "o",
        "▁",
        "<unk>",
        "</s>",
        "<pad>",
        "<pad>",
    ]
