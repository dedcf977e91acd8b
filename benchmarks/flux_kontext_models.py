"""Full-size FLUX.1 Kontext [dev] with random weights, built straight on a device.

black-forest-labs/FLUX.1-Kontext-dev's transformer (12B MMDiT), VAE, CLIP-L and T5-XXL text
encoders from their published configs. :func:`write_pipeline_folder` writes a pipeline folder
without weights: the models' configs, the scheduler, and the offline tokenizers of
:mod:`editbench.tiny.flux_kontext` (byte-level CLIP, character-level T5: the prompts take more
tokens than with the real vocabularies, but CLIP pads to 77 and T5 to 512 tokens either way, so
the text encoders and the transformer see as many tokens as with the real ones).
:class:`RandomWeightsFluxKontextEditor` is editbench's editor with only the weight read
replaced: it builds the folder's models with random weights on its device (meta device,
``to_empty``, in-place init), so a real run, worker and all, can use it::

    python -m editbench editor=flux_kontext \\
        editor._target_=benchmarks.flux_kontext_models.RandomWeightsFluxKontextEditor \\
        editor.model=DIR

``write_pipeline_folder(path, tiny=True)`` writes the configs of the tiny model of
:mod:`editbench.tiny.flux_kontext` instead, so the same code runs on a CPU in seconds.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import diffusers
import torch
from accelerate import init_empty_weights
from diffusers import (
    AutoencoderKL,
    FlowMatchEulerDiscreteScheduler,
    FluxKontextPipeline,
    FluxTransformer2DModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

from benchmarks import common
from benchmarks.common import fill_random
from editbench.editors.diffusers_editor import DiffusersEditor
from editbench.tiny import ensure_tiny_model
from editbench.tiny.flux_kontext import SCHEDULER_CONFIG, build_clip_tokenizer, build_t5_tokenizer

# transformer/config.json of black-forest-labs/FLUX.1-Kontext-dev (as FLUX.1-dev's).
TRANSFORMER = {
    "patch_size": 1,
    "in_channels": 64,
    "out_channels": None,
    "num_layers": 19,
    "num_single_layers": 38,
    "attention_head_dim": 128,
    "num_attention_heads": 24,
    "joint_attention_dim": 4096,
    "pooled_projection_dim": 768,
    "guidance_embeds": True,
    "axes_dims_rope": [16, 56, 56],
}
# vae/config.json: FLUX.1's VAE, 16 latent channels, 8x downsampling, no quant convs.
VAE = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "block_out_channels": [128, 256, 512, 512],
    "layers_per_block": 2,
    "act_fn": "silu",
    "latent_channels": 16,
    "norm_num_groups": 32,
    "sample_size": 1024,
    "scaling_factor": 0.3611,
    "shift_factor": 0.1159,
    "latents_mean": None,
    "latents_std": None,
    "force_upcast": True,
    "use_quant_conv": False,
    "use_post_quant_conv": False,
    "mid_block_add_attention": True,
}
# text_encoder/config.json: CLIP ViT-L/14's text model. Its special-token ids are not copied:
# they must be those of the tokenizer in use (the pooled output is read at the end token).
CLIP_TEXT = {
    "vocab_size": 49408,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5,
    "projection_dim": 768,
}
# text_encoder_2/config.json: google/t5-v1_1-xxl (the encoder is what the pipeline runs).
T5 = {
    "vocab_size": 32128,
    "d_model": 4096,
    "d_kv": 64,
    "d_ff": 10240,
    "num_layers": 24,
    "num_decoder_layers": 24,
    "num_heads": 64,
    "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128,
    "dropout_rate": 0.1,
    "layer_norm_epsilon": 1e-6,
    "feed_forward_proj": "gated-gelu",
    "tie_word_embeddings": False,
    "pad_token_id": 0,
    "eos_token_id": 1,
    "decoder_start_token_id": 0,
}
# Parameter counts of the models built from these configs, around the published ones: the
# transformer's safetensors hold 11.90B (23.8 GB in bf16), the T5-XXL encoder 4.76B (its input
# embedding shared with the unused decoder's), CLIP-L's text model 123M, the VAE 83.8M.
PARAMS = {
    "transformer": (11.85e9, 11.95e9),
    "text_encoder_2": (4.74e9, 4.78e9),
    "text_encoder": (122e6, 124e6),
    "vae": (83e6, 85e6),
}
PIPELINE_INDEX = {
    "_class_name": "FluxKontextPipeline",
    "feature_extractor": [None, None],
    "image_encoder": [None, None],
    "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "text_encoder_2": ["transformers", "T5EncoderModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "tokenizer_2": ["transformers", "T5TokenizerFast"],
    "transformer": ["diffusers", "FluxTransformer2DModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}


def write_pipeline_folder(path: Path, tiny: bool = False) -> Path:
    """A FLUX.1 Kontext [dev] folder without weights: model_index.json, every model's config,
    the scheduler and both tokenizers. ``tiny``: the configs of editbench's tiny model.
    Returns ``path``."""
    path = Path(path)
    if tiny:
        source = ensure_tiny_model("flux_kontext")
        shutil.copytree(source, path, ignore=shutil.ignore_patterns("*.safetensors"))
        return path
    path.mkdir(parents=True, exist_ok=True)
    version = {"_diffusers_version": diffusers.__version__}
    (path / "model_index.json").write_text(json.dumps({**PIPELINE_INDEX, **version}, indent=2))
    for name, config in (("transformer", TRANSFORMER), ("vae", VAE)):
        (path / name).mkdir(exist_ok=True)
        config = {"_class_name": PIPELINE_INDEX[name][1], **version, **config}
        (path / name / "config.json").write_text(json.dumps(config, indent=2))
    clip_tokenizer = build_clip_tokenizer()
    CLIPTextConfig(
        **CLIP_TEXT,
        bos_token_id=clip_tokenizer.bos_token_id,
        eos_token_id=clip_tokenizer.eos_token_id,
        pad_token_id=clip_tokenizer.pad_token_id,
    ).save_pretrained(path / "text_encoder")
    T5Config(**T5).save_pretrained(path / "text_encoder_2")
    clip_tokenizer.save_pretrained(path / "tokenizer")
    build_t5_tokenizer().save_pretrained(path / "tokenizer_2")
    FlowMatchEulerDiscreteScheduler(**SCHEDULER_CONFIG).save_pretrained(path / "scheduler")
    return path


def build_models(folder: str | Path, device: str, dtype: torch.dtype) -> dict[str, Any]:
    """The transformer, VAE and both text encoders of ``folder``'s configs, with random weights
    in ``dtype`` on ``device``, as :meth:`DiffusersEditor.read_pipeline` would read them."""
    folder = Path(folder)
    with init_empty_weights(include_buffers=False):
        transformer = FluxTransformer2DModel.from_config(
            FluxTransformer2DModel.load_config(folder / "transformer")
        )
        vae = AutoencoderKL.from_config(AutoencoderKL.load_config(folder / "vae"))
        text_encoder = CLIPTextModel._from_config(
            CLIPTextConfig.from_pretrained(folder / "text_encoder"), dtype=dtype
        )
        text_encoder_2 = T5EncoderModel._from_config(
            T5Config.from_pretrained(folder / "text_encoder_2"), dtype=dtype
        )
    # torch's own to(): diffusers' warns of modules to keep in float32 even where there are none.
    models = {
        "transformer": torch.nn.Module.to(transformer, dtype),
        "vae": torch.nn.Module.to(vae, dtype),
        "text_encoder": text_encoder,
        "text_encoder_2": text_encoder_2,
    }
    models = {
        name: fill_random(model, device, seed) for seed, (name, model) in enumerate(models.items())
    }
    # to_empty gives each module its own tensor: T5's input embedding is shared again with the
    # encoder's, as from_pretrained leaves it (one 32128 x 4096 matrix, not two).
    text_encoder_2.tie_weights()
    return models


def build_pipeline(folder: str | Path, device: str, dtype: torch.dtype) -> FluxKontextPipeline:
    """The pipeline of ``folder`` with random-weight models on ``device`` (scheduler and
    tokenizers read from the folder)."""
    models = build_models(folder, device, dtype)
    return FluxKontextPipeline.from_pretrained(folder, dtype=dtype, **models)


def parameter_counts(pipe: Any) -> dict[str, int]:
    """Parameters of each model of ``pipe``."""
    return common.parameter_counts(pipe, PARAMS)


def check_parameter_counts(counts: dict[str, int]) -> None:
    """Raise unless every full-size model has its published parameter count."""
    common.check_parameter_counts(counts, PARAMS)


class RandomWeightsFluxKontextEditor(DiffusersEditor):
    """:class:`DiffusersEditor` with random weights: the models of ``model`` (a folder from
    :func:`write_pipeline_folder`) built on the editor's device instead of read from disk; the
    pipeline reads its scheduler and tokenizers from the folder.

    Its edits are not the checkpoint's, so it has a name of its own: the store never mixes them
    with a real editor's.
    """

    name = "flux_kontext_random_weights"

    def __init__(self, model: str, pipeline: str = "FluxKontextPipeline", **options: Any) -> None:
        super().__init__(model, pipeline, **options)

    def read_pipeline(self, device: str) -> Any:
        return build_pipeline(self.model, device, getattr(torch, self.dtype))

    @property
    def pipe(self) -> Any:
        """The loaded pipeline, for benchmarks that time its parts (None before :meth:`load`)."""
        return self._pipe
