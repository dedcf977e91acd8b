"""The full-size FLUX.1 Kontext benchmark: its random-weight models, its helpers and its --tiny
run on the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import torch

from benchmarks import flux_kontext_full_size, flux_kontext_models
from benchmarks.flux_kontext_models import (
    PARAMS,
    RandomWeightsFluxKontextEditor,
    build_pipeline,
    check_parameter_counts,
    parameter_counts,
    write_pipeline_folder,
)
from editbench.editors.diffusers_editor import DiffusersEditor
from editbench.tiny import ensure_tiny_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def read_tiny() -> object:
    """The tiny pipeline as a run reads it from its weight files, in bfloat16."""
    editor = DiffusersEditor(ensure_tiny_model("flux_kontext"), pipeline="FluxKontextPipeline")
    return editor.read_pipeline("cpu")


def test_full_size_folder_builds_the_published_pipeline(tmp_path: Path) -> None:
    folder = write_pipeline_folder(tmp_path / "full")
    # On the meta device: shapes without memory.
    with mock.patch.object(flux_kontext_models, "fill_random", lambda model, device, seed: model):
        pipe = build_pipeline(folder, "meta", torch.bfloat16)

    counts = parameter_counts(pipe)
    assert counts == {
        "transformer": 11_901_408_320,
        "text_encoder_2": 4_762_310_656,  # the input embedding counted once
        "text_encoder": 123_060_480,
        "vae": 83_819_683,
    }
    check_parameter_counts(counts)
    t5 = pipe.text_encoder_2
    assert t5.shared.weight is t5.encoder.embed_tokens.weight
    assert pipe.text_encoder.config.eos_token_id == pipe.tokenizer.eos_token_id
    # As many tokens as the real tokenizers give the encoders and the transformer.
    prompt = "Place a shiny chrome ball on the table next to the vase."
    clip = pipe.tokenizer(prompt, padding="max_length", max_length=77, truncation=True)
    t5_ids = pipe.tokenizer_2(prompt, padding="max_length", max_length=512, truncation=True)
    assert (len(clip.input_ids), len(t5_ids.input_ids)) == (77, 512)
    assert max(clip.input_ids) < pipe.text_encoder.config.vocab_size
    assert pipe.vae_scale_factor == 8 and pipe.transformer.config.guidance_embeds
    assert pipe.scheduler.config.use_dynamic_shifting and pipe.scheduler.config.max_shift == 1.15


def test_a_wrong_parameter_count_names_the_model() -> None:
    counts = {name: int(low) for name, (low, _) in PARAMS.items()} | {"vae": 127_000_000}
    with pytest.raises(ValueError, match=r"vae: 127000000 parameters, expected 8\.3e\+07"):
        check_parameter_counts(counts)


def test_the_random_editor_builds_what_from_pretrained_reads(
    tmp_path: Path, read_tiny: object
) -> None:
    editor = RandomWeightsFluxKontextEditor(str(write_pipeline_folder(tmp_path / "t", tiny=True)))
    editor.load("cpu")

    assert type(editor.pipe) is type(read_tiny)
    for name in PARAMS:
        built, read = getattr(editor.pipe, name), getattr(read_tiny, name)
        assert type(built) is type(read)
        assert built.training is read.training is False
        ours = {k: (v.shape, v.dtype, v.device) for k, v in built.state_dict().items()}
        assert ours == {k: (v.shape, v.dtype, v.device) for k, v in read.state_dict().items()}
        buffers = dict(read.named_buffers())
        assert all(torch.equal(v, buffers[k]) for k, v in built.named_buffers()), name
        assert all(p.abs().sum() > 0 for p in built.parameters() if p.dim() > 1), name
    assert parameter_counts(editor.pipe) == parameter_counts(read_tiny)


def test_the_reference_call_is_the_presets() -> None:
    assert flux_kontext_full_size.reference_call() == {
        "guidance_scale": 2.5,
        "num_inference_steps": 28,
    }
    full = flux_kontext_full_size.parse_args(["--out", "x"])
    tiny = flux_kontext_full_size.parse_args(["--out", "x", "--tiny"])
    assert (full.steps, full.repeats, full.dtype) == (28, 3, "bfloat16")
    assert (tiny.steps, tiny.repeats, tiny.dtype) == (2, 1, "float32")


def test_parts_per_image_counts_one_transformer_pass_per_step() -> None:
    parts = {"encode_prompt_s": 0.5, "vae_encode_s": 0.25, "vae_decode_s": 0.25}

    assert flux_kontext_full_size.parts_per_image(parts, 28) is None
    assert flux_kontext_full_size.parts_per_image({**parts, "transformer_s": 0.5}, 28) == 15.0


def test_a_compiled_path_gets_an_empty_compile_cache_of_its_own() -> None:
    before = os.environ.get("TORCHINDUCTOR_CACHE_DIR")

    with flux_kontext_full_size.compile_caches(True):
        inside = os.environ["TORCHINDUCTOR_CACHE_DIR"]
        assert os.listdir(inside) == [] and inside != before
    with flux_kontext_full_size.compile_caches(False):
        assert os.environ.get("TORCHINDUCTOR_CACHE_DIR") == before

    assert os.environ.get("TORCHINDUCTOR_CACHE_DIR") == before and not os.path.exists(inside)


def test_the_table_shows_a_failed_path_and_the_other() -> None:
    report = {
        **dict.fromkeys(("device", "torch", "diffusers", "transformers", "dtype", "date"), "x"),
        "image_side": 1024,
        "steps": 28,
        "results": [
            {
                "phase": "compiled",
                "compiler_start_s": 10.5,
                "bare": {"error": "OutOfMemoryError: CUDA out of memory"},
                "editbench": {"s_per_image": 12.0, "compile_s": 40.0, "warmup_s": [41.0, 1.0]},
            }
        ],
    }

    rows = flux_kontext_full_size.table(report).splitlines()

    assert "| compiled | bare | OutOfMemoryError: CUDA out of memory |" in rows
    assert rows[-2].startswith("| compiled | editbench | — | 41.00 / 1.00 | 40.0 | 12.00 | — |")
    assert rows[-1] == "compiler start, once a process: 10.5 s"


@pytest.mark.slow
def test_the_tiny_benchmark_runs_the_full_size_code_path(tmp_path: Path, read_tiny: object) -> None:
    out = tmp_path / "out"
    # The tiny models are too small to gain from threads; on a busy machine threads wait.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "benchmarks.flux_kontext_full_size", "--tiny"]

    done = subprocess.run(
        [*command, "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "flux_kontext_full_size.json").read_text())
    assert report["call"] == {"guidance_scale": 2.5, "num_inference_steps": 2}
    (eager,) = report["results"]
    assert eager["phase"] == "eager" and eager["ratio"] > 0
    bare, editbench = eager["bare"], eager["editbench"]
    for result in (bare, editbench):
        assert "errors" not in result and "compile_s" not in result
        assert result["params"] == parameter_counts(read_tiny)
        # Kontext keeps a 1024² source: 4096 noisy + 4096 source tokens, T5's 512 text tokens.
        assert (result["image_tokens"], result["text_tokens"]) == (8192, 512)
        assert result["edit_size"] == [1024, 1024]
        assert len(result["warmup_s"]) == 2 and len(result["edit_s"]) == 1
        assert result["load_s"] > 0 and result["s_per_image"] > 0
    parts = ("transformer_s", "encode_prompt_s", "vae_encode_s", "vae_decode_s")
    assert all(bare[key] > 0 for key in (*parts, "parts_s_per_image"))
    assert "| eager | editbench |" in done.stdout.splitlines()[-1]
    assert (out / "flux_kontext_full_size.log").read_text().count("edit at 2 steps") == 2
