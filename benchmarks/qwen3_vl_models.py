"""Full-size Qwen3-VL judges with random weights, built straight on a device.

Qwen3-VL-8B-Instruct (dense) and Qwen3-VL-30B-A3B-Instruct (MoE) from their published configs
(:data:`MODELS`). :func:`write_checkpoint` writes a checkpoint folder without weights: the
model's ``config.json``, its generation config, and a processor with the checkpoints' image
settings and the offline Qwen tokenizer. :class:`RandomWeightsQwen3VLJudge` is editbench's judge
with only the weight read replaced: it builds the folder's architecture with random bf16 weights
on its device (meta device, ``to_empty``, in-place init), so a real run, worker and all, can
use it::

    python -m editbench scorer=qwen3_vl \
        scorer._target_=benchmarks.qwen3_vl_models.RandomWeightsQwen3VLJudge scorer.model=DIR
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from accelerate import init_empty_weights
from transformers import (
    AutoConfig,
    AutoModelForImageTextToText,
    GenerationConfig,
    PretrainedConfig,
    Qwen2VLImageProcessor,
    Qwen3VLConfig,
    Qwen3VLMoeConfig,
    Qwen3VLProcessor,
    Qwen3VLVideoProcessor,
)

from benchmarks.common import fill_random
from editbench.judges.qwen3_vl import DTYPES, Qwen3VLJudge
from editbench.tiny import qwen3_vl as tiny

# config.json of Qwen/Qwen3-VL-8B-Instruct and Qwen/Qwen3-VL-30B-A3B-Instruct on the Hugging Face
# Hub (transformers 4.57 era; rope_scaling is spelt rope_parameters in transformers 5). Written
# from the model cards and cross-checked against copies of both files in public repositories
# (e.g. a test fixture "transcribed from the fetched file at commit 1fc78ad" for the 30B).
# The special-token ids (image_token_id 151655, ...) are not copied: they must be the ids of the
# tokenizer in use, here the offline one; vocab_size stays the real 151936.
ROPE = {
    "rope_type": "default",
    "rope_theta": 5_000_000.0,
    "mrope_section": [24, 20, 20],
    "mrope_interleaved": True,
}
VISION = {
    "depth": 27,
    "hidden_size": 1152,
    "intermediate_size": 4304,
    "num_heads": 16,
    "hidden_act": "gelu_pytorch_tanh",
    "in_channels": 3,
    "patch_size": 16,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "num_position_embeddings": 2304,
    "deepstack_visual_indexes": [8, 16, 24],
}
TEXT = {
    "vocab_size": 151936,
    "head_dim": 128,
    "hidden_act": "silu",
    "max_position_embeddings": 262144,
    "rms_norm_eps": 1e-6,
    "attention_bias": False,
    "rope_parameters": ROPE,
}
MODELS: dict[str, dict[str, Any]] = {
    "qwen3-vl-8b": {
        "config_class": Qwen3VLConfig,
        "text": {
            **TEXT,
            "hidden_size": 4096,
            "intermediate_size": 12288,
            "num_hidden_layers": 36,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
        },
        "vision": {**VISION, "out_hidden_size": 4096},
        "params": (8.72e9, 8.82e9),  # the checkpoint's safetensors: 8.77B (9B on the Hub page)
    },
    "qwen3-vl-30b-a3b": {
        "config_class": Qwen3VLMoeConfig,
        "text": {
            **TEXT,
            "hidden_size": 2048,
            "intermediate_size": 6144,
            "num_hidden_layers": 48,
            "num_attention_heads": 32,
            "num_key_value_heads": 4,
            "num_experts": 128,
            "num_experts_per_tok": 8,
            "moe_intermediate_size": 768,
            "decoder_sparse_step": 1,
            "mlp_only_layers": [],
            "norm_topk_prob": True,
        },
        "vision": {**VISION, "out_hidden_size": 2048},
        "params": (30.9e9, 31.2e9),  # the checkpoint's safetensors: 31.1B
    },
}
# preprocessor_config.json of both checkpoints: pixels per image between 256² and 4096², patch
# 16, 2x2 merge, so a 1024² image is 64x64 patches and 1024 visual tokens.
PROCESSOR = {
    "size": {"shortest_edge": 65536, "longest_edge": 16777216},
    "patch_size": 16,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
}
IMAGE_PROCESSOR_TYPE = "Qwen2VLImageProcessorFast"  # as the checkpoints declare it


def make_config(name: str, tokenizer: Any, tiny_size: bool = False) -> PretrainedConfig:
    """The config of model ``name`` (its tiny counterpart with ``tiny_size``), with the special
    token ids of ``tokenizer``."""
    spec = MODELS[name]
    text, vision = spec["text"], spec["vision"]
    if tiny_size:
        moe = tiny.MOE if "num_experts" in text else {}
        text = {**tiny.TEXT, **moe, "vocab_size": len(tokenizer)}
        vision = tiny.VISION
    ids = tokenizer.convert_tokens_to_ids
    return spec["config_class"](
        text_config={**text, "pad_token_id": tokenizer.pad_token_id},
        vision_config=vision,
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
        tie_word_embeddings=False,
    )


def build_model(
    config: PretrainedConfig,
    device: str,
    dtype: torch.dtype = torch.bfloat16,
    attn_implementation: str = "sdpa",
) -> torch.nn.Module:
    """The model of ``config`` with random weights on ``device``, parameters never on the CPU.

    Parameters are created on the meta device and materialised with ``to_empty``; buffers
    (the rotary inverse frequencies, which are computed, not loaded) are made on the CPU and
    copied over. Matrices get N(0, 0.02) noise, norm weights 1, biases 0: the values do not
    change the cost of dense compute, and the MoE router stays near uniform as in a real load.
    """
    with init_empty_weights(include_buffers=False):
        model = AutoModelForImageTextToText.from_config(
            config, dtype=dtype, attn_implementation=attn_implementation
        )
    return fill_random(model, device)


def generation_config(tokenizer: Any) -> GenerationConfig:
    """As the Instruct checkpoints ship it; the judge decodes greedily whatever this says."""
    return GenerationConfig(
        bos_token_id=tokenizer.pad_token_id,
        eos_token_id=[tokenizer.eos_token_id, tokenizer.pad_token_id],
        pad_token_id=tokenizer.pad_token_id,
        do_sample=True,
        top_k=20,
        top_p=0.8,
        temperature=0.7,
    )


def write_processor(path: Path, tokenizer: Any) -> None:
    """A processor folder with the checkpoints' image settings and the offline tokenizer."""
    processor = Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(**PROCESSOR),
        video_processor=Qwen3VLVideoProcessor(**PROCESSOR),
        tokenizer=tokenizer,
        chat_template=tokenizer.chat_template,
    )
    processor.save_pretrained(path)
    config_file = path / "preprocessor_config.json"
    if config_file.exists():  # name the class the checkpoints name, so Auto picks alike
        config = json.loads(config_file.read_text())
        config["image_processor_type"] = IMAGE_PROCESSOR_TYPE
        config_file.write_text(json.dumps(config, indent=2))


def write_checkpoint(path: Path, name: str, tokenizer: Any, tiny_size: bool = False) -> Path:
    """A checkpoint folder of model ``name`` without weights: config, generation config and
    processor. Returns ``path``."""
    path.mkdir(parents=True, exist_ok=True)
    make_config(name, tokenizer, tiny_size).save_pretrained(path)
    generation_config(tokenizer).save_pretrained(path)
    write_processor(path, tokenizer)
    return path


def check_params(name: str, model: torch.nn.Module) -> int:
    """The parameter count of a full-size ``name``; raises if it is not the published one."""
    params = sum(p.numel() for p in model.parameters())
    low, high = MODELS[name]["params"]
    if not low <= params <= high:
        raise ValueError(f"{name}: {params} parameters, expected {low:.3g}..{high:.3g}")
    return params


class RandomWeightsQwen3VLJudge(Qwen3VLJudge):
    """:class:`Qwen3VLJudge` with random weights: the architecture of ``model`` (a folder from
    :func:`write_checkpoint`) built on the judge's device instead of read from disk.

    Its judgements are not the checkpoint's, so it has a name of its own: the store never mixes
    them with a real judge's."""

    name = "qwen3_vl_random_weights"

    def read_model(self, placement: dict[str, Any]) -> torch.nn.Module:
        device = placement["device_map"]
        if "max_memory" in placement:
            raise ValueError("random weights are built on one device: use placement=replica")
        config = AutoConfig.from_pretrained(self.model)
        model = build_model(config, device, DTYPES[self.dtype], self.attn_implementation)
        model.generation_config = GenerationConfig.from_pretrained(self.model)
        return model
