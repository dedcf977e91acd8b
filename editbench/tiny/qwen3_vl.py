"""Tiny random-weight Qwen3-VL judges, dense and MoE, with a processor for small images.

The real transformers classes (``Qwen3VLForConditionalGeneration``,
``Qwen3VLMoeForConditionalGeneration``, ``Qwen3VLProcessor``) with every size cut down: two
text layers of width 32, a two-layer vision tower, the offline Qwen tokenizer of
:mod:`editbench.tiny.tokenizer`, and an image processor that shrinks any picture to at most
8x8 patches (16 visual tokens). What the judge code depends on is as in the full models (patch
size 16, 2x2 merge, interleaved M-RoPE, DeepStack, Qwen's special tokens and chat template, a
generation config that samples by default), so the judge runs unchanged on both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import (
    GenerationConfig,
    PreTrainedModel,
    Qwen2VLImageProcessor,
    Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
    Qwen3VLMoeConfig,
    Qwen3VLMoeForConditionalGeneration,
    Qwen3VLProcessor,
    Qwen3VLVideoProcessor,
)

from editbench.tiny.tokenizer import build_qwen_tokenizer

SEED = 0
PATCH_SIZE = 16  # Qwen3-VL's; the processor and the vision tower must agree
MERGE_SIZE = 2
# Pixel budget of the image processor: from one merged token (32x32) to 8x8 patches.
MIN_PIXELS = (PATCH_SIZE * MERGE_SIZE) ** 2
MAX_PIXELS = (PATCH_SIZE * 8) ** 2

TEXT = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 8,
    "max_position_embeddings": 4096,
    # Interleaved M-RoPE as in Qwen3-VL; the sections split head_dim / 2 over (t, h, w).
    "rope_parameters": {
        "rope_type": "default",
        "rope_theta": 5_000_000.0,
        "mrope_section": [2, 1, 1],
        "mrope_interleaved": True,
    },
}
MOE = {"num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32}
VISION = {
    "depth": 2,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_heads": 2,
    "patch_size": PATCH_SIZE,
    "spatial_merge_size": MERGE_SIZE,
    "temporal_patch_size": 2,
    "out_hidden_size": TEXT["hidden_size"],
    "num_position_embeddings": 64,  # an 8x8 grid, interpolated to each image's patch grid
    "deepstack_visual_indexes": [0, 1],
}


def build_dense(path: Path) -> None:
    """Write a tiny dense Qwen3-VL judge (model + processor) to ``path``."""
    _build(path, Qwen3VLConfig, Qwen3VLForConditionalGeneration, {})


def build_moe(path: Path) -> None:
    """Write a tiny mixture-of-experts Qwen3-VL judge (model + processor) to ``path``."""
    _build(path, Qwen3VLMoeConfig, Qwen3VLMoeForConditionalGeneration, MOE)


def _build(
    path: Path,
    config_class: type,
    model_class: type[PreTrainedModel],
    text_extra: dict[str, Any],
) -> None:
    tokenizer = build_qwen_tokenizer()
    token_id = tokenizer.convert_tokens_to_ids
    pad_id = tokenizer.pad_token_id
    config = config_class(
        text_config={
            **TEXT,
            **text_extra,
            "vocab_size": len(tokenizer),
            "pad_token_id": pad_id,
        },
        vision_config=VISION,
        image_token_id=token_id("<|image_pad|>"),
        video_token_id=token_id("<|video_pad|>"),
        vision_start_token_id=token_id("<|vision_start|>"),
        vision_end_token_id=token_id("<|vision_end|>"),
    )
    torch.manual_seed(SEED)
    model = model_class(config)
    # As the Instruct checkpoints ship it: a turn ends at <|im_end|> (or <|endoftext|>), and
    # decoding samples unless the caller asks for greedy decoding, as the judge does.
    model.generation_config = GenerationConfig(
        bos_token_id=pad_id,
        eos_token_id=[tokenizer.eos_token_id, pad_id],
        pad_token_id=pad_id,
        do_sample=True,
        top_k=20,
        top_p=0.8,
        temperature=0.7,
    )
    model.save_pretrained(path)

    size = {"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS}
    common = {
        "patch_size": PATCH_SIZE,
        "merge_size": MERGE_SIZE,
        "temporal_patch_size": 2,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "size": size,
    }
    processor = Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(**common),
        video_processor=Qwen3VLVideoProcessor(**common),
        tokenizer=tokenizer,
        chat_template=tokenizer.chat_template,
    )
    processor.save_pretrained(path)
