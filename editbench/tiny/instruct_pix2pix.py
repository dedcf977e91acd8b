"""Tiny random-weight InstructPix2Pix pipelines, SD 1.5 and SDXL, in the real models' layouts.

``build`` twins timbrooks/instruct-pix2pix, read by ``StableDiffusionInstructPix2PixPipeline``;
``build_xl`` twins diffusers/sdxl-instructpix2pix-768, read by
``StableDiffusionXLInstructPix2PixPipeline``.
The UNets and text encoders follow diffusers' own fast tests of the two pipelines
(tests/pipelines/stable_diffusion/test_stable_diffusion_instruction_pix2pix.py and
tests/pipelines/stable_diffusion_xl/test_stable_diffusion_xl_instruction_pix2pix.py): UNets of
two levels with 8 input channels (the noisy latent and the input image's latent, as
InstructPix2Pix conditions on the image), SDXL's one with the text-and-time embedding, and the
CLIP encoders of the tests at the real ones' activations. What differs from the tests:

- each VAE has the real one's four levels, 8x spatial downsampling, at 4 channels each (the
  tests' two levels give 2x), and the real one's scaling factor, so latents have the real
  geometry: a 256² image is a 32² latent;
- the schedulers have the real models' types and configs (the tests use PNDM and a shortened
  Euler config);
- the tokenizers are byte-level CLIP tokenizers built offline (editbench.tiny.flux_kontext), not
  downloaded; the SDXL one's second tokenizer pads with ``"!"`` as OpenCLIP's does.

The SD 1.5 pipeline has no safety checker and no feature extractor, and is saved with
``requires_safety_checker=False``. The SDXL UNet's ``sample_size`` is the test's 32, so when
no ``height`` and ``width`` are given the SDXL pipeline resizes its input to 256², where the real
one works at its UNet's sample size; the SD 1.5 pipeline keeps the input's size either way.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    StableDiffusionInstructPix2PixPipeline,
    StableDiffusionXLInstructPix2PixPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextModelWithProjection

from editbench.tiny.flux_kontext import TEXT_HIDDEN, build_clip_text_encoder, build_clip_tokenizer

SEED = 0
LATENT_CHANNELS = 4  # both real VAEs'; the UNets take twice as many, noise and image latents
# timbrooks/instruct-pix2pix's scheduler/scheduler_config.json.
SCHEDULER_CONFIG = {
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
}
# diffusers/sdxl-instructpix2pix-768's, which is SDXL base 1.0's, the model it was trained from.
XL_SCHEDULER_CONFIG = {
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "interpolation_type": "linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "use_karras_sigmas": False,
}


def build_vae(scaling_factor: float) -> AutoencoderKL:
    """A four-level, 4-channel VAE with Stable Diffusion's 4 latent channels, under the seed."""
    torch.manual_seed(SEED)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(4, 4, 4, 4),
        layers_per_block=1,
        latent_channels=LATENT_CHANNELS,
        norm_num_groups=1,
        scaling_factor=scaling_factor,
    )


def build(path: Path) -> None:
    """Build the tiny SD 1.5 InstructPix2Pix pipeline under a fixed seed and save it to
    ``path`` (about 6 MB)."""
    tokenizer = build_clip_tokenizer()
    torch.manual_seed(SEED)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=32,
        in_channels=LATENT_CHANNELS * 2,
        out_channels=LATENT_CHANNELS,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=TEXT_HIDDEN,
    )
    pipeline = StableDiffusionInstructPix2PixPipeline(
        vae=build_vae(scaling_factor=0.18215),
        text_encoder=build_clip_text_encoder(tokenizer),
        tokenizer=tokenizer,
        unet=unet,
        scheduler=EulerAncestralDiscreteScheduler(**SCHEDULER_CONFIG),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipeline.save_pretrained(path)


def build_xl(path: Path) -> None:
    """Build the tiny SDXL InstructPix2Pix pipeline under a fixed seed and save it to ``path``
    (about 8 MB)."""
    tokenizer = build_clip_tokenizer()
    tokenizer_2 = build_clip_tokenizer(pad_token="!")
    text_encoder_2 = build_clip_text_encoder(
        tokenizer_2, model_class=CLIPTextModelWithProjection, hidden_act="gelu"
    )
    time_ids = 6  # original size, crop corner and target size, 2 numbers each
    torch.manual_seed(SEED)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=32,
        in_channels=LATENT_CHANNELS * 2,
        out_channels=LATENT_CHANNELS,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 2),
        projection_class_embeddings_input_dim=time_ids * 8 + text_encoder_2.config.projection_dim,
        cross_attention_dim=TEXT_HIDDEN * 2,  # both encoders' hidden states, side by side
    )
    pipeline = StableDiffusionXLInstructPix2PixPipeline(
        vae=build_vae(scaling_factor=0.13025),
        text_encoder=build_clip_text_encoder(tokenizer),
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        unet=unet,
        scheduler=EulerDiscreteScheduler(**XL_SCHEDULER_CONFIG),
    )
    pipeline.save_pretrained(path)
