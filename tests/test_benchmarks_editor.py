"""The full-size editor benchmark: its random-weight models and its --tiny run on the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import torch

from benchmarks import qwen_image_models
from benchmarks.qwen_image_models import (
    PARAMS,
    RandomWeightsQwenImageEditor,
    build_models,
    parameter_counts,
    write_pipeline_folder,
)
from editbench.editors.diffusers_editor import DiffusersEditor
from editbench.tiny import ensure_tiny_model
from editbench.tiny.tokenizer import build_qwen_tokenizer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_counts() -> dict[str, int]:
    """Parameters of the tiny model as a run reads it from its weight files."""
    pipe = DiffusersEditor(ensure_tiny_model("qwen_image_edit")).read_pipeline("cpu")
    return parameter_counts(pipe)


def test_full_size_folder_builds_the_published_models(tmp_path: Path) -> None:
    folder = write_pipeline_folder(tmp_path / "full")
    # On the meta device: shapes without memory.
    with mock.patch.object(qwen_image_models, "fill_random", lambda model, device, seed: model):
        models = build_models(folder, "meta", torch.bfloat16)

    counts = {name: sum(p.numel() for p in models[name].parameters()) for name in PARAMS}
    assert counts == {
        "transformer": 20_430_401_088,
        "text_encoder": 8_292_166_656,
        "vae": 126_892_531,
    }
    qwen_image_models.check_parameter_counts(counts)
    config = models["text_encoder"].config
    image_pad = build_qwen_tokenizer().convert_tokens_to_ids("<|image_pad|>")
    assert (config.image_token_id, config.text_config.vocab_size) == (image_pad, 152064)


def test_random_models_are_what_from_pretrained_reads(tmp_path: Path) -> None:
    folder = write_pipeline_folder(tmp_path / "tiny", tiny=True)
    read = DiffusersEditor(ensure_tiny_model("qwen_image_edit")).read_pipeline("cpu")

    built = build_models(folder, "cpu", torch.bfloat16)

    for name, model in built.items():
        theirs = getattr(read, name)
        assert type(model) is type(theirs)
        assert model.training is theirs.training is False
        ours = {k: (v.shape, v.dtype, v.device) for k, v in model.state_dict().items()}
        assert ours == {k: (v.shape, v.dtype, v.device) for k, v in theirs.state_dict().items()}
        buffers = dict(theirs.named_buffers())
        assert all(torch.equal(v, buffers[k]) for k, v in model.named_buffers()), name


def test_the_random_editor_drops_as_many_prompt_tokens_as_the_real_tokenizer(
    tmp_path: Path,
) -> None:
    editor = RandomWeightsQwenImageEditor(str(write_pipeline_folder(tmp_path / "t", tiny=True)))
    editor.load("cpu")
    pipe = editor.pipe
    prompt = pipe.prompt_template_encode.format("make it blue")

    ids = pipe.tokenizer(prompt, add_special_tokens=False).input_ids
    kept = pipe.tokenizer.decode(ids[pipe.prompt_template_encode_start_idx :])

    # As with the real tokenizer: the system turn and "<|im_start|>user\n" are dropped.
    assert kept.startswith("<|vision_start|><|image_pad|><|vision_end|>make it blue<|im_end|>")


@pytest.mark.slow
def test_the_tiny_benchmark_runs_the_full_size_code_path(
    tmp_path: Path, tiny_counts: dict[str, int]
) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "benchmarks.editor_full_size", "--tiny", "--out", str(out)]

    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "editor_full_size.json").read_text())
    (eager,) = report["results"]
    assert "errors" not in eager
    assert eager["params"] == tiny_counts
    # A 1024² source through the tiny VAE, which downsamples 16x (the real one 8x), in 2x2
    # patches: 1024 noisy + 1024 source tokens.
    assert eager["image_tokens"] == 2048
    timings = [
        eager[key]
        for key in (
            "load_s",
            "encode_prompt_s",
            "encode_negative_s",
            "vae_encode_s",
            "transformer_s",
            "transformer_negative_s",
            "vae_decode_s",
            "bare_s_per_image",
            "editbench_s_per_image",
            "ratio",
        )
    ]
    assert all(t > 0 for t in timings)
    assert "| eager |" in done.stdout.splitlines()[-1]
    assert (out / "editor_full_size.log").read_text().count("edit at 2 steps") == 2
