"""A tiny random-weight OmniGen v1 pipeline, saved in the real model's folder layout.

The transformer is OmniGen's Phi-3-style decoder at width 16 (two layers, two heads) with
Phi-3's su-scaled rotary embedding, whose short and long factors are all 1 here (the real ones
rescale 48 frequencies). The VAE is SDXL's four-channel ``AutoencoderKL`` (OmniGen's) at
4 channels a level, with four levels (8x downsampling) as the real one, so the pipeline keeps
its 16-pixel alignment. The scheduler is FlowMatchEulerDiscreteScheduler with OmniGen's config
(the pipeline passes its own linear sigmas).

The real tokenizer is Phi-3's Llama tokenizer (32,064 ids). The tiny one is a Llama tokenizer
with byte fallback and no merges: ``<unk>``, ``<s>``, ``</s>`` at their real ids 0-2 (the
pipeline's collator pads with 2 and strips a leading 1 from each prompt chunk), then the 256
byte tokens, so every prompt, image tags included, is spelt out byte by byte.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    FlowMatchEulerDiscreteScheduler,
    OmniGenPipeline,
    OmniGenTransformer2DModel,
)
from transformers import LlamaTokenizer

SEED = 0
HIDDEN = 16
HEADS = 2
PAD_TOKEN_ID = 2  # the id OmniGen's collator pads prompts with


def build(path: Path) -> None:
    """Build the tiny pipeline under a fixed seed and save it to ``path`` (under 1 MB)."""
    tokenizer = build_llama_tokenizer()
    rotary_factors = [1.0] * (HIDDEN // HEADS // 2)
    torch.manual_seed(SEED)
    transformer = OmniGenTransformer2DModel(
        in_channels=4,
        patch_size=2,
        hidden_size=HIDDEN,
        num_attention_heads=HEADS,
        num_key_value_heads=HEADS,
        intermediate_size=32,
        num_layers=2,
        pad_token_id=PAD_TOKEN_ID,
        vocab_size=len(tokenizer),
        rope_scaling={"short_factor": rotary_factors, "long_factor": rotary_factors},
        time_step_dim=32,
        pos_embed_max_size=64,  # 64 patches a side: 1024 pixels, the largest input and output
    )
    torch.manual_seed(SEED)
    vae = AutoencoderKL(
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(4, 4, 4, 4),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=2,
        sample_size=1024,
        scaling_factor=0.13025,  # SDXL's VAE, which OmniGen uses
    )
    pipeline = OmniGenPipeline(
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0),
        vae=vae,
        tokenizer=tokenizer,
    )
    pipeline.save_pretrained(path)


def build_llama_tokenizer() -> LlamaTokenizer:
    """A byte-fallback Llama tokenizer of 260 ids: ``<unk>``, ``<s>``, ``</s>``, the 256 bytes
    and the word-start symbol."""
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    vocab.update({f"<0x{byte:02X}>": 3 + byte for byte in range(256)})
    vocab["▁"] = len(vocab)
    return LlamaTokenizer(vocab=vocab, merges=[])
