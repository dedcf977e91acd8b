"""Full-size FLUX.1 Kontext [dev] with random weights: the bare pipeline against editbench's edit.

Builds FLUX.1 Kontext [dev] (12B transformer, T5-XXL and CLIP-L text encoders, VAE) from its
published configs with random weights straight on the GPU (:mod:`benchmarks.flux_kontext_models`),
checks the parameter counts, then times on the same card, in this process, one edit of a sample
image (1024², one of Kontext's preferred resolutions, so the pipeline keeps it: 4096 noisy +
4096 source latent tokens, and T5's 512 text tokens) at Kontext's reference call
(conf/editor/flux_kontext.yaml: guidance 2.5, 28 steps). Two paths, each with its own pipeline,
built, measured and freed before the next (one pipeline is 34 GB in bf16):

- ``bare``: the pipeline called directly, ``pipe(image=..., prompt=..., generator=...,
  guidance_scale=2.5, num_inference_steps=28)`` on the image already in memory: two warm-up
  calls at ``--warmup-steps``, then the median of ``--repeats`` calls at ``--steps``; then its
  parts on the inputs the pipeline makes: one transformer forward on the inputs captured during
  a call (one per step; Kontext runs no negative pass), ``encode_prompt`` (CLIP and T5), and the
  VAE encode of the source and decode of its latents, each a median of ``--repeats``;
- ``editbench``: :meth:`DiffusersEditor.edit` on an :class:`EditRequest` whose image is a PNG
  file, after the editor's own ``load`` (only the weight read replaced, see
  :class:`RandomWeightsFluxKontextEditor`): the same warm-ups, then the median of ``--repeats``.

``ratio`` is editbench's median over the bare one. With ``--compile`` both paths again
compiled: the editor with ``compile=True``, the bare pipeline with what that does,
``pipe.transformer.compile_repeated_blocks(fullgraph=True)``; ``compile_s`` is the first warm-up
less the second. Each compiled path starts from a reset dynamo and an empty inductor and Triton
cache, so both compile every kernel anew; the compiler's one-time start in a process (imports,
compile workers, pattern passes) is timed apart first, on a toy attention block
(``compiler_start_s``): a fresh worker pays it on top of ``compile_s``. On the tiny CPU run this
makes the two paths' ``compile_s`` agree (9.8 and 9.8 s; 21.0 and 9.8 s without it).

    PYTHONUNBUFFERED=1 python -m benchmarks.flux_kontext_full_size --out $OUT --compile   # H200
    python -m benchmarks.flux_kontext_full_size --out /tmp/kontext --tiny                 # CPU
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import diffusers
import torch
import transformers
import yaml
from PIL import Image

from benchmarks.common import log_to, release, sample_scenes, sync, timed
from benchmarks.editor_full_size import attempt, captured_calls
from benchmarks.flux_kontext_models import (
    RandomWeightsFluxKontextEditor,
    build_pipeline,
    check_parameter_counts,
    parameter_counts,
    write_pipeline_folder,
)
from editbench.records import EditRequest

log = logging.getLogger("flux_kontext_full_size")

PRESET = Path(__file__).resolve().parents[1] / "conf" / "editor" / "flux_kontext.yaml"
PHASES = ("eager", "compiled")
PATHS = ("bare", "editbench")
# One edit of the setup's request by either path: the steps in, the edited image out.
Edit = Callable[[int], Image.Image]


@dataclass
class Setup:
    """What every path edits: the pipeline folder, the request, its image and the call."""

    folder: Path
    request: EditRequest
    image: Image.Image
    call: dict[str, Any]


def reference_call() -> dict[str, Any]:
    """The editor preset's pipeline keywords (guidance scale and steps)."""
    return yaml.safe_load(PRESET.read_text())["call"]


@contextmanager
def compile_caches(compile: bool) -> Iterator[None]:
    """For a compiled path, dynamo reset and an empty inductor and Triton cache, removed after:
    without them a second compiled path would reuse the first one's kernels, and show a
    compilation far cheaper than a run's."""
    if not compile:
        yield
        return
    from torch._inductor.utils import fresh_cache  # private; torch's own tests use it

    torch._dynamo.reset()
    try:
        with fresh_cache():
            yield
    finally:
        torch._dynamo.reset()


def seconds_of(step: Callable[[], Any], device: str) -> tuple[float, Any]:
    """Seconds of one ``step`` and its result."""
    sync(device)
    start = time.perf_counter()
    result = step()
    sync(device)
    return time.perf_counter() - start, result


def load_bare(args: argparse.Namespace, setup: Setup, compile: bool) -> tuple[Any, Edit]:
    """The pipeline as a user of diffusers sets it up, and its edit."""
    pipe = build_pipeline(setup.folder, args.device, getattr(torch, args.dtype))
    pipe.set_progress_bar_config(disable=True)  # as the editor does
    if compile:
        pipe.transformer.compile_repeated_blocks(fullgraph=True)
    request = setup.request

    def edit(steps: int) -> Image.Image:
        generator = torch.Generator().manual_seed(request.seed)
        call = {**setup.call, "num_inference_steps": steps}
        output = pipe(image=setup.image, prompt=request.instruction, generator=generator, **call)
        return output.images[0]

    return pipe, edit


def load_editbench(args: argparse.Namespace, setup: Setup, compile: bool) -> tuple[Any, Edit]:
    """The editor, loaded as a worker loads it, and its edit."""
    editor = RandomWeightsFluxKontextEditor(
        str(setup.folder), dtype=args.dtype, call=setup.call, compile=compile
    )
    editor.load(args.device)

    def edit(steps: int) -> Image.Image:
        editor.call["num_inference_steps"] = steps
        (edited,) = editor.edit([setup.request])
        return edited

    return editor.pipe, edit


LOADERS = {"bare": load_bare, "editbench": load_editbench}


def warm_up(pipe: Any, edit: Edit, args: argparse.Namespace, calls: list) -> dict[str, Any]:
    """Two edits at ``--warmup-steps``, the transformer's first call captured into ``calls``;
    the transformer's token counts and the edit's size."""
    with captured_calls(pipe.transformer, 1) as captured:
        first_s, edited = seconds_of(lambda: edit(args.warmup_steps), args.device)
    calls.extend(captured)
    second_s, _ = seconds_of(lambda: edit(args.warmup_steps), args.device)
    log.info("warm-up edits at %d steps: %.2f s, %.2f s", args.warmup_steps, first_s, second_s)
    kwargs = calls[0][1]
    return {
        "warmup_s": [first_s, second_s],
        "image_tokens": kwargs["hidden_states"].shape[1],
        "text_tokens": kwargs["encoder_hidden_states"].shape[1],
        "edit_size": list(edited.size),
    }


def timed_edits(edit: Edit, args: argparse.Namespace) -> dict[str, Any]:
    """``--repeats`` edits at ``--steps``, each timed, and their median."""
    edit_s = []
    for _ in range(args.repeats):
        edit_s.append(seconds_of(lambda: edit(args.steps), args.device)[0])
        log.info("edit at %d steps: %.2f s", args.steps, edit_s[-1])
    return {"edit_s": edit_s, "s_per_image": statistics.median(edit_s)}


def transformer_pass(pipe: Any, call: tuple[tuple, dict], args: argparse.Namespace) -> dict:
    """Median seconds of one transformer forward on a captured call's inputs."""
    with torch.no_grad():
        seconds, _ = timed(lambda: pipe.transformer(*call[0], **call[1]), args.repeats, args.device)
    return {"transformer_s": seconds}


def bare_parts(pipe: Any, args: argparse.Namespace, setup: Setup) -> dict[str, float]:
    """Median seconds of the prompt encoding (CLIP and T5), the VAE encode of the source and
    the VAE decode of its latents."""
    image, device, repeats = setup.image, args.device, args.repeats
    parts = {}
    with torch.no_grad():
        parts["encode_prompt_s"], _ = timed(
            lambda: pipe.encode_prompt(prompt=setup.request.instruction, device=device),
            repeats,
            device,
        )
        pixels = pipe.image_processor.preprocess(image, image.height, image.width)
        pixels = pixels.to(device, pipe.vae.dtype)
        parts["vae_encode_s"], encoded = timed(lambda: pipe.vae.encode(pixels), repeats, device)
        latents = encoded.latent_dist.mode()
        parts["vae_decode_s"], _ = timed(
            lambda: pipe.vae.decode(latents, return_dict=False), repeats, device
        )
    return parts


def parts_per_image(result: dict[str, Any], steps: int) -> float | None:
    """One edit's compute from the bare parts' medians: prompt encoding, VAE encode, one
    transformer pass per step, VAE decode (None while a part is missing)."""
    keys = ("encode_prompt_s", "vae_encode_s", "transformer_s", "vae_decode_s")
    if not all(key in result for key in keys):
        return None
    return (
        result["encode_prompt_s"]
        + result["vae_encode_s"]
        + steps * result["transformer_s"]
        + result["vae_decode_s"]
    )


def bench_path(phase: str, path: str, args: argparse.Namespace, setup: Setup) -> dict[str, Any]:
    """Build ``path``'s pipeline for ``phase``, warm it up and time it; freed on return."""
    compile = phase == "compiled"
    with compile_caches(compile):
        result = measure(phase, path, args, setup)
    if compile and "warmup_s" in result:
        result["compile_s"] = result["warmup_s"][0] - result["warmup_s"][1]
    if args.device.startswith("cuda"):
        result["peak_gib"] = torch.cuda.max_memory_allocated(args.device) / 2**30
    log.info("%s", json.dumps(result))
    return result


def measure(phase: str, path: str, args: argparse.Namespace, setup: Setup) -> dict[str, Any]:
    """Load ``path``'s pipeline (build or editor load, timed), check it, then time its warm-up
    edits, its timed edits and, for the bare path, its parts. A part that fails is recorded
    under ``errors`` and the rest go on."""
    result: dict[str, Any] = {"phase": phase, "path": path, "device": args.device}
    result["load_s"], (pipe, edit) = seconds_of(
        lambda: LOADERS[path](args, setup, compile=phase == "compiled"), args.device
    )
    result["params"] = parameter_counts(pipe)
    if args.device.startswith("cuda"):
        result["loaded_gib"] = torch.cuda.memory_allocated(args.device) / 2**30
    if not args.tiny:
        check_parameter_counts(result["params"])
    calls: list = []
    attempt(result, f"{path}: warm-up edits", lambda: warm_up(pipe, edit, args, calls))
    attempt(result, f"{path}: timed edits", lambda: timed_edits(edit, args))
    if path == "bare":
        if calls:
            attempt(
                result, "bare: transformer pass", lambda: transformer_pass(pipe, calls[0], args)
            )
        attempt(result, "bare: text encoders and VAE", lambda: bare_parts(pipe, args, setup))
        parts = parts_per_image(result, args.steps)
        if parts is not None:
            result["parts_s_per_image"] = parts
    return result


def compiler_start(device: str, dtype: torch.dtype) -> dict[str, float]:
    """Seconds of this process's first ``torch.compile``, of a toy attention block: the
    compiler's one-time start (imports, compile workers, the pattern passes that it builds on
    first meeting a matmul and an attention), which the first compiled path would otherwise pay
    alone."""

    def toy_block(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        q = (x @ weight)[None, None]
        attended = torch.nn.functional.scaled_dot_product_attention(q, q, q)[0, 0]
        return torch.nn.functional.gelu(torch.nn.functional.layer_norm(attended, (16,)))

    x = torch.ones(16, 16, device=device, dtype=dtype)
    with compile_caches(True):
        compiled = torch.compile(toy_block, fullgraph=True)
        seconds, _ = seconds_of(lambda: compiled(x, x), device)
    return {"compiler_start_s": seconds}


def bench_phase(phase: str, args: argparse.Namespace, setup: Setup) -> dict[str, Any]:
    """Both paths of ``phase``, and editbench's median over the bare one."""
    report: dict[str, Any] = {"phase": phase, "device": args.device}
    if phase == "compiled":
        dtype = getattr(torch, args.dtype)
        attempt(report, "compiler start", lambda: compiler_start(args.device, dtype))
    for path in PATHS:
        release(args.device)
        log.info("%s: %s", phase, path)
        try:
            report[path] = bench_path(phase, path, args, setup)
        except Exception as error:  # out of memory in the build included: record, go on
            log.exception("%s %s failed", phase, path)
            report[path] = {"error": f"{type(error).__name__}: {error}"[:500]}
        release(args.device)
    if all("s_per_image" in report[path] for path in PATHS):
        report["ratio"] = report["editbench"]["s_per_image"] / report["bare"]["s_per_image"]
    return report


def make_setup(args: argparse.Namespace, folder: Path) -> Setup:
    """The pipeline folder and the first sample item, its image resized to ``--image-side``²
    and written as PNG (the editor reads that file; the bare pipeline takes the image)."""
    pipeline = write_pipeline_folder(folder / "pipeline", tiny=args.tiny)
    sample = sample_scenes(folder / "images", args.image_side)[0]
    with Image.open(sample.image) as source:
        image = source.convert("RGB")
    request = EditRequest(sample.id, sample.images, sample.instruction, seed=0)
    call = {**reference_call(), "num_inference_steps": args.steps}
    return Setup(pipeline, request, image, call)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tiny", action="store_true", help="tiny configs, float32 (CPU, seconds)")
    parser.add_argument("--compile", action="store_true", help="also time both paths compiled")
    parser.add_argument("--steps", type=int, default=None, help="timed edits: preset's; tiny 2")
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=None, help="timed edits, parts: 3; tiny 1")
    # Kontext resizes any input to a preferred ~1 MP resolution (1024² is one), while the bare
    # VAE encode takes the image as it is: another side saves nothing and skews that part.
    parser.add_argument("--image-side", type=int, default=1024)
    parser.add_argument("--dtype", default=None, help="bfloat16; tiny float32")
    parser.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    args.steps = args.steps or (2 if args.tiny else reference_call()["num_inference_steps"])
    args.repeats = args.repeats or (1 if args.tiny else 3)
    args.dtype = args.dtype or ("float32" if args.tiny else "bfloat16")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    log_to(args.out, "flux_kontext_full_size")
    facts = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "device": torch.cuda.get_device_name(args.device) if "cuda" in args.device else "cpu",
        "cpu_threads": torch.get_num_threads(),
        "tiny": args.tiny,
        "steps": args.steps,
        "warmup_steps": args.warmup_steps,
        "repeats": args.repeats,
        "dtype": args.dtype,
        "image_side": args.image_side,
    }
    with tempfile.TemporaryDirectory() as tmp:
        setup = make_setup(args, Path(tmp))
        facts.update(call=setup.call, instruction=setup.request.instruction)
        log.info("%s", facts)
        results = []
        for phase in PHASES if args.compile else PHASES[:1]:
            results.append(bench_phase(phase, args, setup))
            report = {**facts, "results": results}
            # After each phase: a run stopped at its time limit keeps the phases it finished.
            (args.out / "flux_kontext_full_size.json").write_text(json.dumps(report, indent=2))
    log.info("%s", table(report))
    return report


def table(report: dict[str, Any]) -> str:
    """The short table logged last: a row per phase and path."""

    def cell(result: dict[str, Any], key: str, fmt: str = "{:.3f}") -> str:
        return fmt.format(result[key]) if key in result else "—"

    rows = [
        f"\n{report['device']}, torch {report['torch']}, diffusers {report['diffusers']}, "
        f"transformers {report['transformers']}, {report['dtype']}, {report['image_side']}² "
        f"source, {report['steps']} steps, {report['date']}",
        "| phase | path | tokens (image + text) | warm-up s (1st / 2nd) | compile s | s/img "
        "| ratio | transformer pass s | encode_prompt s | VAE encode / decode s | parts s/img "
        "| peak GiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for phase in report["results"]:
        for path in PATHS:
            r = phase[path]
            if "error" in r:
                rows.append(f"| {phase['phase']} | {path} | {r['error']} |")
                continue
            tokens = f"{r['image_tokens']} + {r['text_tokens']}" if "image_tokens" in r else "—"
            warm = " / ".join(f"{s:.2f}" for s in r["warmup_s"]) if "warmup_s" in r else "—"
            vae = (
                f"{r['vae_encode_s']:.3f} / {r['vae_decode_s']:.3f}" if "vae_decode_s" in r else "—"
            )
            ratio = cell(phase, "ratio") if path == "editbench" else ""
            compile_s, parts = (
                cell(r, "compile_s", "{:.1f}"),
                cell(r, "parts_s_per_image", "{:.2f}"),
            )
            rows.append(
                f"| {phase['phase']} | {path} | {tokens} | {warm} | {compile_s} "
                f"| {cell(r, 's_per_image', '{:.2f}')} | {ratio} | {cell(r, 'transformer_s')} "
                f"| {cell(r, 'encode_prompt_s')} | {vae} | {parts} "
                f"| {cell(r, 'peak_gib', '{:.1f}')} |"
            )
            if r.get("errors"):
                rows.append(f"{phase['phase']} {path} errors: {json.dumps(r['errors'])}")
        if "compiler_start_s" in phase:
            rows.append(f"compiler start, once a process: {phase['compiler_start_s']:.1f} s")
        if phase.get("errors"):
            rows.append(f"{phase['phase']} errors: {json.dumps(phase['errors'])}")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
