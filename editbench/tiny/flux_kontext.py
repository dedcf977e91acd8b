"""A tiny random-weight FLUX.1 Kontext [dev] pipeline, saved in the real model's folder layout.

Component configs follow diffusers' own fast test of ``FluxKontextPipeline``
(tests/pipelines/flux/test_pipeline_flux_kontext.py), with these changes toward the real model:

- the transformer embeds the guidance scale (``guidance_embeds=True``), as the guidance-distilled
  Kontext [dev] does; the test's transformer ignores ``guidance_scale``;
- the VAE has the real one's 16 latent channels (so the transformer takes 64 packed channels),
  its scaling and shift factors, and four levels, 8x spatial downsampling, at 4 channels each
  (the test's single level makes the latent as large as the image). Kontext resizes its input to
  a ~1024² preferred resolution and, unless ``max_area`` says otherwise, generates at ~1024², so
  with 8x the transformer sees 2 x 4096 image tokens, as the real one does;
- the CLIP encoder has the test's sizes and CLIP ViT-L/14's quick-GELU; the T5 encoder has the
  test's tiny sizes (those of hf-internal-testing/tiny-random-t5) and T5 v1.1's gated GELU;
- the scheduler has the real model's config.

One change away from it: the VAE has no attention in its mid-block. At the ~1024² input that
Kontext always encodes, that attention runs over 16k latent positions and took two thirds of a
tiny edit's time (0.75 of 1.2 s on one CPU thread).

The tokenizers are built offline (the test downloads tiny ones): a byte-level CLIP BPE with no
merges, and a character-level T5 Unigram. Both spell every word out character by character, so
prompts take more tokens than with the real vocabularies; CLIP still truncates at 77 tokens and
T5 at ``max_sequence_length``.
"""

from __future__ import annotations

import string
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    FlowMatchEulerDiscreteScheduler,
    FluxKontextPipeline,
    FluxTransformer2DModel,
)
from tokenizers import pre_tokenizers
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
    T5Config,
    T5EncoderModel,
    T5TokenizerFast,
)

SEED = 0
LATENT_CHANNELS = 16  # the real VAE's; the transformer sees 2x2 patches of them
TEXT_HIDDEN = 32  # both text encoders' width = the transformer's joint and pooled widths
# FLUX.1-Kontext-dev's scheduler/scheduler_config.json (the same as FLUX.1-dev's).
SCHEDULER_CONFIG = {
    "base_image_seq_len": 256,
    "base_shift": 0.5,
    "max_image_seq_len": 4096,
    "max_shift": 1.15,
    "num_train_timesteps": 1000,
    "shift": 3.0,
    "use_dynamic_shifting": True,
}
# The CLIP text encoder's context, as in every Stable Diffusion and FLUX.1 model.
CLIP_MAX_LENGTH = 77
T5_MAX_LENGTH = 512


def build_clip_tokenizer(pad_token: str = "<|endoftext|>") -> CLIPTokenizer:
    """Build a byte-level CLIP tokenizer: 256 byte symbols, the same 256 ending a word
    (``"a</w>"``), then ``<|startoftext|>`` and ``<|endoftext|>``, in CLIP's order; no merges.

    ``len(tokenizer)`` (514) is the vocabulary size a text encoder needs. ``pad_token`` is
    ``"<|endoftext|>"`` as in CLIP ViT-L/14; SDXL's second tokenizer pads with ``"!"``.
    """
    # ByteLevel's alphabet sorted by code point is GPT-2's bytes_to_unicode order, the order of
    # the first 256 ids in CLIP's vocabulary; the word-final forms follow, as in CLIP.
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    symbols = [*alphabet, *(symbol + "</w>" for symbol in alphabet)]
    symbols += ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(
        vocab={symbol: index for index, symbol in enumerate(symbols)},
        merges=[],
        pad_token=pad_token,
        model_max_length=CLIP_MAX_LENGTH,
    )


def build_t5_tokenizer() -> T5TokenizerFast:
    """Build a character-level T5 tokenizer: ``<pad>``, ``</s>``, ``<unk>``, the word boundary
    ``"▁"`` and the printable ASCII characters, then T5's 100 sentinel tokens.

    Characters outside ASCII become ``<unk>``. ``len(tokenizer)`` (198) is the vocabulary size
    an encoder needs.
    """
    pieces = ["▁", *(c for c in string.printable if not c.isspace())]
    # Unigram picks the segmentation with the highest total score; with single characters only
    # there is one segmentation, and the scores just have to be finite.
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), *((piece, -1.0) for piece in pieces)]
    vocab += [(f"<extra_id_{i}>", 0.0) for i in reversed(range(100))]
    return T5TokenizerFast(vocab=vocab, extra_ids=100, model_max_length=T5_MAX_LENGTH)


def build_clip_text_encoder(
    tokenizer: CLIPTokenizer,
    model_class: type[CLIPTextModel | CLIPTextModelWithProjection] = CLIPTextModel,
    hidden_act: str = "quick_gelu",
) -> CLIPTextModel | CLIPTextModelWithProjection:
    """The tiny CLIP text encoder of diffusers' fast tests, sized to ``tokenizer``'s vocabulary
    and pooling at its end token, built under the fixed seed.

    ``hidden_act`` is CLIP ViT-L/14's by default; OpenCLIP ViT-bigG/14 (SDXL's second encoder,
    a ``CLIPTextModelWithProjection``) uses ``"gelu"``.
    """
    torch.manual_seed(SEED)
    return model_class(
        CLIPTextConfig(
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            hidden_size=TEXT_HIDDEN,
            intermediate_size=37,
            layer_norm_eps=1e-05,
            num_attention_heads=4,
            num_hidden_layers=5,
            vocab_size=len(tokenizer),
            hidden_act=hidden_act,
            projection_dim=32,
            max_position_embeddings=CLIP_MAX_LENGTH,
        )
    )


def build(path: Path) -> None:
    """Build the tiny pipeline under a fixed seed and save it to ``path`` (about 1 MB)."""
    tokenizer = build_clip_tokenizer()
    tokenizer_2 = build_t5_tokenizer()
    torch.manual_seed(SEED)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=LATENT_CHANNELS * 4,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=TEXT_HIDDEN,
        pooled_projection_dim=TEXT_HIDDEN,
        guidance_embeds=True,
        axes_dims_rope=(4, 4, 8),
    )
    text_encoder = build_clip_text_encoder(tokenizer)
    torch.manual_seed(SEED)
    text_encoder_2 = T5EncoderModel(
        T5Config(
            vocab_size=len(tokenizer_2),
            d_model=TEXT_HIDDEN,
            d_kv=8,
            d_ff=37,
            num_layers=5,
            num_heads=4,
            relative_attention_num_buckets=8,
            feed_forward_proj="gated-gelu",
            pad_token_id=tokenizer_2.pad_token_id,
            eos_token_id=tokenizer_2.eos_token_id,
            decoder_start_token_id=tokenizer_2.pad_token_id,
        )
    )
    torch.manual_seed(SEED)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(4, 4, 4, 4),
        layers_per_block=1,
        latent_channels=LATENT_CHANNELS,
        norm_num_groups=1,
        mid_block_add_attention=False,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.1159,
        scaling_factor=0.3611,
    )
    pipeline = FluxKontextPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(**SCHEDULER_CONFIG),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        text_encoder_2=text_encoder_2,
        tokenizer_2=tokenizer_2,
        transformer=transformer,
    )
    pipeline.save_pretrained(path)
