"""Full-size Qwen-Image-Edit with random weights, built straight on a device.

Qwen/Qwen-Image-Edit's transformer (20B MMDiT), VAE and text encoder (Qwen2.5-VL-7B) from their
published configs. :func:`write_pipeline_folder` writes a pipeline folder without weights: the
models' configs, the scheduler, and a tokenizer and processor (the real image settings, the
offline Qwen tokenizer of :mod:`editbench.tiny.tokenizer`). :class:`RandomWeightsQwenImageEditor`
is editbench's editor with only the weight read replaced: it builds the folder's models with
random weights on its device (meta device, ``to_empty``, in-place init), so a real run, worker
and all, can use it::

    python -m editbench editor=qwen_image_edit \\
        editor._target_=benchmarks.qwen_image_models.RandomWeightsQwenImageEditor editor.model=DIR

``write_pipeline_folder(path, tiny=True)`` writes the configs of the tiny model of
:mod:`editbench.tiny.qwen_image_edit` instead, so the same code runs on a CPU in seconds.
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
    AutoencoderKLQwenImage,
    FlowMatchEulerDiscreteScheduler,
    QwenImageTransformer2DModel,
)
from transformers import (
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2VLImageProcessor,
    Qwen2VLProcessor,
    Qwen2VLVideoProcessor,
)

from benchmarks import common
from benchmarks.common import fill_random
from editbench.editors.diffusers_editor import DiffusersEditor
from editbench.tiny import ensure_tiny_model
from editbench.tiny.tokenizer import build_qwen_tokenizer

# transformer/config.json of Qwen/Qwen-Image-Edit (diffusers 0.35 era). Copies of the file in
# public repositories agree, and so do diffusers' own defaults for QwenImageTransformer2DModel.
TRANSFORMER = {
    "patch_size": 2,
    "in_channels": 64,
    "out_channels": 16,
    "num_layers": 60,
    "attention_head_dim": 128,
    "num_attention_heads": 24,
    "joint_attention_dim": 3584,
    "guidance_embeds": False,
    "axes_dims_rope": [16, 56, 56],
}
# vae/config.json of Qwen/Qwen-Image-Edit (the Qwen-Image VAE): diffusers' defaults for
# AutoencoderKLQwenImage, latents_mean / latents_std included; copies of the file agree.
# fmt: off
LATENTS_MEAN = [
    -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
    0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921,
]
LATENTS_STD = [
    2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
    3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.916,
]
# fmt: on
VAE = {
    "base_dim": 96,
    "z_dim": 16,
    "dim_mult": [1, 2, 4, 4],
    "num_res_blocks": 2,
    "attn_scales": [],
    "temperal_downsample": [False, True, True],
    "dropout": 0.0,
    "latents_mean": LATENTS_MEAN,
    "latents_std": LATENTS_STD,
}
# text_encoder/config.json of Qwen/Qwen-Image-Edit: Qwen2.5-VL-7B-Instruct's config.json
# (transformers 4.53 era), as copied in public repositories. transformers' defaults differ
# (vision hidden_size 3584, rms_norm_eps 1e-5, tokens_per_second 4), so every value is spelt
# out. The special-token ids (image_token_id 151655, ...) are not copied: they must be the ids
# of the tokenizer in use, here the offline one; vocab_size stays the real 152064.
TEXT = {
    "vocab_size": 152064,
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "hidden_act": "silu",
    "max_position_embeddings": 128000,
    "rms_norm_eps": 1e-6,
    "rope_theta": 1000000.0,
    "rope_scaling": {"mrope_section": [16, 24, 24], "rope_type": "default"},
    "use_sliding_window": False,
    "attention_dropout": 0.0,
}
VISION = {
    "depth": 32,
    "hidden_size": 1280,
    "intermediate_size": 3420,
    "num_heads": 16,
    "out_hidden_size": 3584,
    "hidden_act": "silu",
    "in_channels": 3,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "window_size": 112,
    "fullatt_block_indexes": [7, 15, 23, 31],
    "tokens_per_second": 2,
}
# scheduler/scheduler_config.json of Qwen/Qwen-Image-Edit (as Qwen-Image's; copies agree).
SCHEDULER = {
    "num_train_timesteps": 1000,
    "shift": 1.0,
    "use_dynamic_shifting": True,
    "base_shift": 0.5,
    "max_shift": 0.9,
    "base_image_seq_len": 256,
    "max_image_seq_len": 8192,
    "shift_terminal": 0.02,
    "time_shift_type": "exponential",
}
# processor/preprocessor_config.json: Qwen2.5-VL-7B-Instruct's (3136 to 12845056 pixels, patch
# 14, 2x2 merge, CLIP mean and std): the pipeline's 1024² image becomes 1036² and 1369 tokens.
PROCESSOR = {
    "size": {"shortest_edge": 3136, "longest_edge": 12845056},
    "patch_size": 14,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
}
# Parameter counts of the full-size models built from these configs, with the published ones:
# the transformer's 9 safetensors shards hold 20.43B (40.86 GB in bf16), Qwen2.5-VL-7B is
# 8.29B on its model card, the VAE 127M (0.25 GB in bf16).
PARAMS = {
    "transformer": (20.4e9, 20.5e9),
    "text_encoder": (8.25e9, 8.35e9),
    "vae": (126e6, 128e6),
}
PIPELINE_INDEX = {
    "_class_name": "QwenImageEditPipeline",
    "processor": ["transformers", "Qwen2VLProcessor"],
    "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
    "text_encoder": ["transformers", "Qwen2_5_VLForConditionalGeneration"],
    "tokenizer": ["transformers", "Qwen2Tokenizer"],
    "transformer": ["diffusers", "QwenImageTransformer2DModel"],
    "vae": ["diffusers", "AutoencoderKLQwenImage"],
}


def write_pipeline_folder(path: Path, tiny: bool = False) -> Path:
    """A Qwen-Image-Edit folder without weights: model_index.json, every model's config, the
    scheduler, tokenizer and processor. ``tiny``: the configs of editbench's tiny model.
    Returns ``path``."""
    path = Path(path)
    if tiny:
        source = ensure_tiny_model("qwen_image_edit")
        shutil.copytree(source, path, ignore=shutil.ignore_patterns("*.safetensors"))
        return path
    path.mkdir(parents=True, exist_ok=True)
    version = {"_diffusers_version": diffusers.__version__}
    (path / "model_index.json").write_text(json.dumps({**PIPELINE_INDEX, **version}, indent=2))
    for name, config in (("transformer", TRANSFORMER), ("vae", VAE)):
        (path / name).mkdir(exist_ok=True)
        config = {"_class_name": PIPELINE_INDEX[name][1], **version, **config}
        (path / name / "config.json").write_text(json.dumps(config, indent=2))
    tokenizer = build_qwen_tokenizer()
    ids = tokenizer.convert_tokens_to_ids
    text_encoder = Qwen2_5_VLConfig(
        text_config={
            **TEXT,
            "bos_token_id": ids("<|endoftext|>"),
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config=VISION,
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
        tie_word_embeddings=False,
    )
    text_encoder.save_pretrained(path / "text_encoder")
    FlowMatchEulerDiscreteScheduler(**SCHEDULER).save_pretrained(path / "scheduler")
    tokenizer.save_pretrained(path / "tokenizer")
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(**PROCESSOR),
        video_processor=Qwen2VLVideoProcessor(),
        tokenizer=tokenizer,
        chat_template=tokenizer.chat_template,
    )
    processor.save_pretrained(path / "processor")
    return path


def build_models(folder: str | Path, device: str, dtype: torch.dtype) -> dict[str, Any]:
    """The transformer, VAE and text encoder of ``folder``'s configs, with random weights in
    ``dtype`` on ``device``, as :meth:`DiffusersEditor.read_pipeline` would read them."""
    folder = Path(folder)
    with init_empty_weights(include_buffers=False):
        transformer = QwenImageTransformer2DModel.from_config(
            QwenImageTransformer2DModel.load_config(folder / "transformer")
        )
        vae = AutoencoderKLQwenImage.from_config(AutoencoderKLQwenImage.load_config(folder / "vae"))
        text_encoder = Qwen2_5_VLForConditionalGeneration._from_config(
            Qwen2_5_VLConfig.from_pretrained(folder / "text_encoder"), dtype=dtype
        )
    # torch's own to(): diffusers' warns of modules to keep in float32 even where there are none.
    models = {
        "transformer": torch.nn.Module.to(transformer, dtype),
        "vae": torch.nn.Module.to(vae, dtype),
        "text_encoder": text_encoder,
    }
    return {
        name: fill_random(model, device, seed) for seed, (name, model) in enumerate(models.items())
    }


def parameter_counts(pipe: Any) -> dict[str, int]:
    """Parameters of each model of ``pipe``."""
    return common.parameter_counts(pipe, PARAMS)


def check_parameter_counts(counts: dict[str, int]) -> None:
    """Raise unless every full-size model has its published parameter count."""
    common.check_parameter_counts(counts, PARAMS)


class RandomWeightsQwenImageEditor(DiffusersEditor):
    """:class:`DiffusersEditor` with random weights: the models of ``model`` (a folder from
    :func:`write_pipeline_folder`) built on the editor's device instead of read from disk.

    The pipeline reads its scheduler, tokenizer and processor from the folder; the offline
    tokenizer gives the prompts Qwen's tokens, so the pipeline's fixed cut of the system
    prompt (64 tokens) is right as it is.

    Its edits are not the checkpoint's, so it has a name of its own: the store never mixes them
    with a real editor's.
    """

    name = "diffusers_random_weights"

    def read_pipeline(self, device: str) -> Any:
        pipeline_class = getattr(diffusers, self.pipeline)
        dtype = getattr(torch, self.dtype)
        models = build_models(self.model, device, dtype)
        return pipeline_class.from_pretrained(self.model, dtype=dtype, **models)

    @property
    def pipe(self) -> Any:
        """The loaded pipeline, for benchmarks that time its parts (None before :meth:`load`)."""
        return self._pipe
