"""Tiny random-weight JoyAI-Image-Edit pipelines (single- and multi-image), saved in the real
models' folder layout.

The text encoder and its processor are the tiny Qwen3-VL of :mod:`editbench.tiny.qwen3_vl`
(width 32, the offline Qwen tokenizer); the transformer reads its last layer, so its text width
is 32. The transformer is JoyImage's at width 16 (one block, two heads, RoPE split 2/2/4 over
frame, height and width). The scheduler is FlowMatchEulerDiscreteScheduler.

The real VAE is Wan 2.1's (16 latent channels, 8x spatial downsampling). Both pipelines work
at about 1024² pixels whatever the input (they snap it to a bucket of that area), which with
8x would give the transformer some 8,000 tokens; the tiny VAE is a Wan VAE that patchifies
2x2 first, as Wan 2.2's does, so it downsamples 16x and the transformer sees about 2,000. Its
16 channels keep Wan 2.1's latent normalisation. Sizes come out the same buckets as the real
model's.

The tokenizer tokenizes the pipelines' system prompt as Qwen's does, so their fixed cut of 34
tokens removes it, as with the real model.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch
from diffusers import (
    AutoencoderKLWan,
    FlowMatchEulerDiscreteScheduler,
    JoyImageEditPipeline,
    JoyImageEditPlusPipeline,
    JoyImageEditPlusTransformer3DModel,
    JoyImageEditTransformer3DModel,
    ModelMixin,
)
from transformers import Qwen3VLForConditionalGeneration, Qwen3VLProcessor

from editbench.tiny.qwen3_vl import build_dense

SEED = 0
LATENT_CHANNELS = 16


def build(path: Path) -> None:
    """Build the tiny JoyImageEditPipeline under a fixed seed and save it to ``path``."""
    JoyImageEditPipeline(**_components(path, JoyImageEditTransformer3DModel)).save_pretrained(path)


def build_plus(path: Path) -> None:
    """Build the tiny JoyImageEditPlusPipeline under a fixed seed and save it to ``path``."""
    components = _components(path, JoyImageEditPlusTransformer3DModel)
    JoyImageEditPlusPipeline(**components).save_pretrained(path)


def _components(path: Path, transformer_class: type[ModelMixin]) -> dict[str, Any]:
    """The pipelines' components, the transformer of ``transformer_class`` (the two classes
    share a config). The Qwen3-VL is built into a scratch folder under ``path`` and read back,
    which gives it and its processor exactly as editbench's tiny judge has them."""
    text_folder = path / "qwen3_vl"
    build_dense(text_folder)
    text_encoder = Qwen3VLForConditionalGeneration.from_pretrained(text_folder)
    processor = Qwen3VLProcessor.from_pretrained(text_folder)
    shutil.rmtree(text_folder)
    torch.manual_seed(SEED)
    transformer = transformer_class(
        patch_size=[1, 2, 2],
        in_channels=LATENT_CHANNELS,
        hidden_size=16,
        num_attention_heads=2,
        text_dim=text_encoder.config.text_config.hidden_size,
        mlp_width_ratio=2.0,
        num_layers=1,
        rope_dim_list=[2, 2, 4],
    )
    torch.manual_seed(SEED)
    vae = AutoencoderKLWan(
        base_dim=8,
        z_dim=LATENT_CHANNELS,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
        in_channels=12,  # 3 colours x the 2x2 patch
        out_channels=12,
        patch_size=2,
        scale_factor_spatial=16,
    )
    return {
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=1.0),
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": processor.tokenizer,
        "transformer": transformer,
        "processor": processor,
    }
