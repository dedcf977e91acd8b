"""A tiny random-weight LongCat-Image-Edit pipeline, saved in the real model's folder layout.

diffusers has no fast test for the LongCat pipelines. The transformer's config is that of its
model test (tests/models/transformers/test_models_transformer_longcat_image.py) with
``in_channels=64`` and a text width of 16: the pipeline fixes the latent channels at 16,
packed 2x2 into 64, and feeds the transformer the text encoder's last hidden state. The text
encoder and its processor are built like those of :mod:`editbench.tiny.qwen_image_edit` (a
Qwen2.5-VL with two text layers of width 16 and a two-layer vision tower; images capped at
112² pixels, 16 visual tokens). The VAE is FLUX.1's ``AutoencoderKL`` with its 16 latent
channels and latent normalisation, at 4 channels a level. The scheduler has FLUX.1's
dynamic-shifting config.

The pipeline works at about 1024² pixels whatever the input size (it takes no height or
width), so the VAE has five levels (16x spatial downsampling) where the real one has four:
with four, the transformer sees some 8,700 tokens and an edit takes 5-7 CPU seconds on two
cores; with five, about 2,600 tokens and under 2 seconds. The price is the rounding of sizes:
the pipeline aligns the working size to 32 pixels rather than 16, so a 3:2 input comes out
1248x832 where the real model gives 1264x848.

The tokenizer is the offline Qwen one (editbench.tiny.tokenizer). The pipeline drops its
system prompt up to ``<|vision_start|>`` rather than a fixed number of tokens, so the
conditioning has the same parts as the real model's.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    FlowMatchEulerDiscreteScheduler,
    LongCatImageEditPipeline,
    LongCatImageTransformer2DModel,
)
from transformers import (
    Qwen2VLImageProcessor,
    Qwen2VLProcessor,
    Qwen2VLVideoProcessor,
)

from editbench.tiny.qwen_image_edit import build_qwen2_5_vl
from editbench.tiny.tokenizer import build_qwen_tokenizer

SEED = 0
LATENT_CHANNELS = 16  # fixed by the pipeline, which packs them 2x2 for the transformer
TEXT_HIDDEN = 16  # text encoder width = the transformer's joint attention width
MAX_IMAGE_PIXELS = 112 * 112  # the text encoder's view of the image: 8x8 patches, 16 tokens
# FLUX.1's scheduler/scheduler_config.json. The pipeline computes mu from the four shift bounds
# and the image's token count; with dynamic shifting, `shift` itself goes unused.
SCHEDULER_CONFIG = {
    "base_image_seq_len": 256,
    "base_shift": 0.5,
    "max_image_seq_len": 4096,
    "max_shift": 1.15,
    "num_train_timesteps": 1000,
    "shift": 3.0,
    "use_dynamic_shifting": True,
}


def build(path: Path) -> None:
    """Build the tiny pipeline under a fixed seed and save it to ``path`` (under 1 MB)."""
    tokenizer = build_qwen_tokenizer()
    torch.manual_seed(SEED)
    transformer = LongCatImageTransformer2DModel(
        patch_size=1,
        in_channels=LATENT_CHANNELS * 4,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=TEXT_HIDDEN,
        pooled_projection_dim=TEXT_HIDDEN,
        axes_dims_rope=[4, 4, 8],
    )
    torch.manual_seed(SEED)
    vae = AutoencoderKL(
        down_block_types=("DownEncoderBlock2D",) * 5,
        up_block_types=("UpDecoderBlock2D",) * 5,
        block_out_channels=(4, 4, 4, 4, 4),
        layers_per_block=1,
        latent_channels=LATENT_CHANNELS,
        norm_num_groups=2,
        sample_size=1024,
        # FLUX.1's latent normalisation.
        scaling_factor=0.3611,
        shift_factor=0.1159,
        use_quant_conv=False,
        use_post_quant_conv=False,
    )
    torch.manual_seed(SEED)
    text_encoder = build_qwen2_5_vl(tokenizer)
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(max_pixels=MAX_IMAGE_PIXELS),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=tokenizer.chat_template,
    )
    pipeline = LongCatImageEditPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(**SCHEDULER_CONFIG),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        text_processor=processor,
        transformer=transformer,
    )
    pipeline.save_pretrained(path)
