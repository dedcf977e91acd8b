"""A tiny random-weight FLUX.2 [klein] pipeline, saved in the real model's folder layout.

Component configs follow diffusers' fast test of ``Flux2KleinPipeline``
(tests/pipelines/flux2/test_pipeline_flux2_klein.py): a transformer of one double and one
single block (two heads of 16), a Qwen3 text encoder of width 16 (``Qwen3ForCausalLM``, as in
the real model), and ``AutoencoderKLFlux2`` with one latent channel, which the pipeline
patchifies 2x2 into the transformer's four input channels. What differs from the test:

- The text encoder has 28 layers rather than 2. The pipeline stacks the hidden states of
  layers 9, 18 and 27 as the prompt embedding (the real Qwen3-4B has 36 layers), so with 28
  the default ``text_encoder_out_layers`` works and all three are intermediate layers, as in
  the real model; the transformer's joint attention width is 3 x 16. ``head_dim`` is 8 (the
  test leaves Qwen3's default of 128), and the input and output embeddings are tied as in
  Qwen3-4B.
- The VAE has the real one's four levels (8x spatial downsampling) at 4 channels each, so the
  pipeline rounds image sizes to multiples of 16 exactly as the real one does (the test's
  single level rounds to 2), and keeps the quant convolutions (the class's default), which
  the test turns off.
- The pipeline is the step-distilled FLUX.2 [klein] 4B's: ``is_distilled=True``, so it never
  runs classifier-free guidance, and its reference call is 4 steps at ``guidance_scale=1.0``.
- The scheduler shifts dynamically; the pipeline computes ``mu`` from the image's token count
  and the number of steps, so the scheduler's shift bounds go unused.
- The tokenizer is the offline Qwen one (editbench.tiny.tokenizer) with Qwen3's chat
  template, reduced to the plain-text messages the pipeline sends; the pipeline pads every
  prompt to 512 tokens, so the sequence length is the real one's.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import (
    AutoencoderKLFlux2,
    FlowMatchEulerDiscreteScheduler,
    Flux2KleinPipeline,
    Flux2Transformer2DModel,
)
from transformers import Qwen3Config, Qwen3ForCausalLM

from editbench.tiny.tokenizer import build_qwen_tokenizer

SEED = 0
LATENT_CHANNELS = 1  # the transformer sees 2x2 patches of them
TEXT_HIDDEN = 16
TEXT_LAYERS = 28  # one past the deepest layer the pipeline reads by default (27)
EMBEDDED_LAYERS = 3  # the pipeline stacks three hidden states: (9, 18, 27) by default
# FLUX's flow-matching schedule with dynamic shifting. Flux2KleinPipeline passes its own mu,
# so the shift bounds and `shift` go unused.
SCHEDULER_CONFIG = {
    "base_image_seq_len": 256,
    "base_shift": 0.5,
    "max_image_seq_len": 4096,
    "max_shift": 1.15,
    "num_train_timesteps": 1000,
    "shift": 3.0,
    "use_dynamic_shifting": True,
}
# Qwen3's chat template for messages whose content is a string, without tools or reasoning
# content. The pipeline asks for enable_thinking=False, which adds an empty think block.
QWEN3_CHAT_TEMPLATE = """\
{%- for message in messages %}
    {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\\n\\n</think>\\n\\n' }}
    {%- endif %}
{%- endif %}
"""


def build_klein(path: Path) -> None:
    """Build the tiny FLUX.2 [klein] pipeline under a fixed seed and save it to ``path``
    (under 1 MB)."""
    tokenizer = build_qwen_tokenizer()
    tokenizer.chat_template = QWEN3_CHAT_TEMPLATE
    torch.manual_seed(SEED)
    transformer = Flux2Transformer2DModel(
        patch_size=1,
        in_channels=LATENT_CHANNELS * 4,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=TEXT_HIDDEN * EMBEDDED_LAYERS,
        timestep_guidance_channels=256,
        axes_dims_rope=(4, 4, 4, 4),
        guidance_embeds=False,
    )
    torch.manual_seed(SEED)
    text_encoder = Qwen3ForCausalLM(
        Qwen3Config(
            vocab_size=len(tokenizer),
            hidden_size=TEXT_HIDDEN,
            intermediate_size=16,
            num_hidden_layers=TEXT_LAYERS,
            num_attention_heads=2,
            num_key_value_heads=2,
            head_dim=TEXT_HIDDEN // 2,
            max_position_embeddings=512,
            tie_word_embeddings=True,
            bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    torch.manual_seed(SEED)
    vae = AutoencoderKLFlux2(
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(4, 4, 4, 4),
        layers_per_block=1,
        latent_channels=LATENT_CHANNELS,
        norm_num_groups=1,
        sample_size=32,
    )
    pipeline = Flux2KleinPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(**SCHEDULER_CONFIG),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
        is_distilled=True,
    )
    pipeline.save_pretrained(path)
