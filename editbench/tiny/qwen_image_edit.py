"""A tiny random-weight Qwen-Image-Edit pipeline, saved in the real model's folder layout.

Component configs follow diffusers' own fast tests for the Qwen-Image edit pipelines
(tests/pipelines/qwenimage/), with these changes:

- The pipelines encode their input at about 1024² pixels whatever the output size, so the VAE
  is what an edit costs. It has five levels (16x spatial downsampling) where the real one has
  four (8x) and the tests three: with four, its mid-block attention runs over 16k tokens and
  the transformer sees some 4,400 (at a 256² output); with five, 4k and 1,100. Its levels
  have 4 channels and no residual blocks on the way down (the mid-block and the decoder keep
  theirs). An edit at 256² on one CPU thread fell from 3.0 to 0.6 CPU seconds with these two
  changes (``docs/benchmarks.md``). The pipelines align sizes to 32 pixels rather than 16.
- The scheduler has the real one's config.
- The processor caps images at 112² pixels, so the text encoder sees 16 visual tokens rather
  than thousands.

The same folder loads as ``QwenImageEditPipeline`` and ``QwenImageEditPlusPipeline``. The
tokenizer is the offline Qwen one (editbench.tiny.tokenizer), which tokenizes the pipelines'
prompt template as Qwen's does: their fixed cut of 64 tokens drops the system prompt and
``<|im_start|>user``, as with the real model.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import (
    AutoencoderKLQwenImage,
    FlowMatchEulerDiscreteScheduler,
    QwenImageEditPipeline,
    QwenImageTransformer2DModel,
)
from transformers import (
    PreTrainedTokenizerBase,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2VLImageProcessor,
    Qwen2VLProcessor,
    Qwen2VLVideoProcessor,
)

from editbench.tiny.tokenizer import build_qwen_tokenizer

SEED = 0
Z_DIM = 4  # latent channels; the transformer sees 2x2 patches of them
TEXT_HIDDEN = 16  # text encoder width = the transformer's joint attention width
MAX_IMAGE_PIXELS = 112 * 112  # the text encoder's view of the image: 8x8 patches, 16 tokens
# Qwen-Image's scheduler/scheduler_config.json.
SCHEDULER_CONFIG = {
    "base_image_seq_len": 256,
    "base_shift": 0.5,
    "max_image_seq_len": 8192,
    "max_shift": 0.9,
    "shift_terminal": 0.02,
    "time_shift_type": "exponential",
    "use_dynamic_shifting": True,
}


def build(path: Path) -> None:
    """Build the tiny pipeline under a fixed seed and save it to ``path`` (a few MB)."""
    tokenizer = build_qwen_tokenizer()
    torch.manual_seed(SEED)
    transformer = QwenImageTransformer2DModel(
        patch_size=2,
        in_channels=Z_DIM * 4,
        out_channels=Z_DIM,
        num_layers=2,
        attention_head_dim=16,
        num_attention_heads=3,
        joint_attention_dim=TEXT_HIDDEN,
        guidance_embeds=False,
        axes_dims_rope=(8, 4, 4),
    )
    torch.manual_seed(SEED)
    vae = AutoencoderKLQwenImage(
        base_dim=4,
        z_dim=Z_DIM,
        dim_mult=[1, 1, 1, 1, 1],
        num_res_blocks=0,
        # the real model's three, and a fifth level that halves height and width only
        temperal_downsample=[False, True, True, False],
        latents_mean=[0.0] * Z_DIM,
        latents_std=[1.0] * Z_DIM,
    )
    torch.manual_seed(SEED)
    text_encoder = build_qwen2_5_vl(tokenizer)
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(max_pixels=MAX_IMAGE_PIXELS),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=tokenizer.chat_template,
    )
    pipeline = QwenImageEditPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(**SCHEDULER_CONFIG),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        processor=processor,
        transformer=transformer,
    )
    pipeline.save_pretrained(path)


def build_qwen2_5_vl(tokenizer: PreTrainedTokenizerBase) -> Qwen2_5_VLForConditionalGeneration:
    """A random Qwen2.5-VL of width :data:`TEXT_HIDDEN` for ``tokenizer``'s vocabulary: two text
    layers, a two-layer vision tower. Seed torch first for fixed weights."""
    return Qwen2_5_VLForConditionalGeneration(
        Qwen2_5_VLConfig(
            text_config={
                "vocab_size": len(tokenizer),
                "hidden_size": TEXT_HIDDEN,
                "intermediate_size": 16,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "num_key_value_heads": 2,
                "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default"},
                "rope_theta": 1000000.0,
                "bos_token_id": tokenizer.convert_tokens_to_ids("<|endoftext|>"),
                "eos_token_id": tokenizer.eos_token_id,
                "pad_token_id": tokenizer.pad_token_id,
            },
            vision_config={
                "depth": 2,
                "hidden_size": 16,
                "intermediate_size": 16,
                "num_heads": 2,
                "out_hidden_size": TEXT_HIDDEN,
            },
            image_token_id=tokenizer.convert_tokens_to_ids("<|image_pad|>"),
            video_token_id=tokenizer.convert_tokens_to_ids("<|video_pad|>"),
            vision_start_token_id=tokenizer.convert_tokens_to_ids("<|vision_start|>"),
            vision_end_token_id=tokenizer.convert_tokens_to_ids("<|vision_end|>"),
        )
    )
