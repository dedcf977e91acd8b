"""Full-size Qwen-Image-Edit with random weights: the bare components against editbench's edit.

Builds Qwen-Image-Edit (20B transformer, Qwen2.5-VL-7B text encoder, VAE) from its published
configs with random bf16 weights straight on the GPU (:mod:`benchmarks.qwen_image_models`),
checks the parameter counts, then times on the same card, in this process, one edit of a
sample image resized to 1024² with its instruction (true CFG, scale 4):

- ``bare``: each part of an edit called directly on the pipeline's models, median of
  ``--repeats`` after a warm-up: ``encode_prompt`` of the instruction and of the negative
  prompt (text encoder with the image), the VAE encode of the source, one transformer forward
  on exactly the inputs the pipeline gives it (captured during an edit: 4096 noisy + 4096
  source latent tokens and the prompt's tokens), once for the prompt and once for the negative
  prompt, and the VAE decode. One edit's bare compute is text encoder (both prompts) + VAE
  encode + steps × both transformer passes + VAE decode;
- ``editbench``: :meth:`DiffusersEditor.edit` on an :class:`EditRequest`, after the editor's
  own ``load`` (only the weight read replaced, see :class:`RandomWeightsQwenImageEditor`): one
  warm-up edit at ``--warmup-steps``, then ``--edits`` timed edits at ``--steps``.

With ``--compile`` the same again with ``compile=True``: the compilation's cost (the first
warm-up edit less the second), then the steady state and the compiled transformer pass.

    PYTHONUNBUFFERED=1 python -m benchmarks.editor_full_size --out $OUT --compile   # H100
    python -m benchmarks.editor_full_size --out /tmp/editor --tiny                   # CPU
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import diffusers
import torch
import transformers
from PIL import Image

from benchmarks.common import release, sample_scenes, sync, timed
from benchmarks.qwen_image_models import (
    RandomWeightsQwenImageEditor,
    check_parameter_counts,
    parameter_counts,
    write_pipeline_folder,
)
from editbench.records import EditRequest

log = logging.getLogger("editor_full_size")


@contextmanager
def captured_calls(module: torch.nn.Module, count: int) -> Iterator[list[tuple[tuple, dict]]]:
    """The (args, kwargs) of ``module``'s first ``count`` calls inside the block."""
    calls: list[tuple[tuple, dict]] = []

    def hook(module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        if len(calls) < count:
            calls.append((args, dict(kwargs)))

    handle = module.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        yield calls
    finally:
        handle.remove()


def attempt(result: dict[str, Any], part: str, step: Callable[[], dict[str, Any]]) -> None:
    """Run one part of a phase into ``result``; an error (out of memory included) is recorded
    under ``result["errors"]`` and the phase goes on with its next part."""
    log.info("%s: %s", result["phase"], part)
    try:
        result.update(step())
    except Exception as error:  # torch.OutOfMemoryError included
        log.exception("%s: %s failed", result["phase"], part)
        result.setdefault("errors", {})[part] = f"{type(error).__name__}: {error}"[:500]
        if torch.device(result["device"]).type == "cuda":
            torch.cuda.empty_cache()


def edit_seconds(
    editor: RandomWeightsQwenImageEditor, request: EditRequest, steps: int, count: int, device: str
) -> list[float]:
    """Seconds of each of ``count`` edits of ``request`` through ``editor.edit`` at ``steps``
    (which this sets as the editor's steps)."""
    editor.call["num_inference_steps"] = steps
    seconds = []
    for _ in range(count):
        sync(device)
        start = time.perf_counter()
        (edited,) = editor.edit([request])
        sync(device)
        seconds.append(time.perf_counter() - start)
        log.info("edit at %d steps: %.2f s (%s %s)", steps, seconds[-1], edited.mode, edited.size)
    return seconds


def load_editor(
    args: argparse.Namespace, env: dict[str, Any], compile: bool
) -> tuple[RandomWeightsQwenImageEditor, dict[str, Any]]:
    """The editor of a run, loaded as a worker loads it; its load time and parameter counts."""
    # Qwen-Image-Edit's reference call (conf/editor/qwen_image_edit.yaml) at the run's steps.
    call = {"num_inference_steps": args.steps, "true_cfg_scale": 4.0, "negative_prompt": " "}
    editor = RandomWeightsQwenImageEditor(
        str(env["folder"]), dtype=args.dtype, call=call, compile=compile
    )
    sync(args.device)
    start = time.perf_counter()
    editor.load(args.device)
    sync(args.device)
    load_s = time.perf_counter() - start
    loaded = {"load_s": load_s, "params": parameter_counts(editor.pipe)}
    if torch.device(args.device).type == "cuda":
        loaded["loaded_gib"] = torch.cuda.memory_allocated(args.device) / 2**30
    log.info("loaded: %s", loaded)
    if not args.tiny:
        check_parameter_counts(loaded["params"])
    return editor, loaded


def warm_up(editor: Any, args: argparse.Namespace, env: dict[str, Any], calls: list) -> dict:
    """One edit at ``--warmup-steps``, capturing the transformer's first two calls (prompt,
    negative prompt) into ``calls``."""
    with captured_calls(editor.pipe.transformer, 2) as captured:
        (first_s,) = edit_seconds(editor, env["request"], args.warmup_steps, 1, args.device)
    calls.extend(captured)
    kwargs = calls[0][1]
    return {
        "warmup_s": first_s,
        "image_tokens": kwargs["hidden_states"].shape[1],
        "text_tokens": kwargs["encoder_hidden_states"].shape[1],
        "negative_text_tokens": calls[1][1]["encoder_hidden_states"].shape[1],
    }


def timed_edits(editor: Any, args: argparse.Namespace, env: dict[str, Any]) -> dict[str, Any]:
    """``--edits`` edits at ``--steps``, each timed."""
    return {"edit_s": edit_seconds(editor, env["request"], args.steps, args.edits, args.device)}


def transformer_passes(pipe: Any, calls: list, args: argparse.Namespace) -> dict[str, float]:
    """Median seconds of one transformer forward on the captured prompt / negative inputs."""
    with torch.no_grad():
        prompt_s, _ = timed(
            lambda: pipe.transformer(*calls[0][0], **calls[0][1]), args.repeats, args.device
        )
        negative_s, _ = timed(
            lambda: pipe.transformer(*calls[1][0], **calls[1][1]), args.repeats, args.device
        )
    return {"transformer_s": prompt_s, "transformer_negative_s": negative_s}


def bare_parts(editor: Any, args: argparse.Namespace, env: dict[str, Any]) -> dict[str, float]:
    """Median seconds of the text encoder (prompt and negative prompt), the VAE encode and the
    VAE decode, on the inputs the pipeline makes of the source image."""
    pipe, image, device, repeats = editor.pipe, env["image"], args.device, args.repeats
    parts = {}
    with torch.no_grad():
        for key, prompt in (
            ("encode_prompt_s", env["request"].instruction),
            ("encode_negative_s", editor.call["negative_prompt"]),
        ):
            parts[key], _ = timed(
                lambda prompt=prompt: pipe.encode_prompt(prompt=prompt, image=image, device=device),
                repeats,
                device,
            )
        pixels = pipe.image_processor.preprocess(image, image.height, image.width).unsqueeze(2)
        pixels = pixels.to(device, pipe.vae.dtype)
        parts["vae_encode_s"], encoded = timed(lambda: pipe.vae.encode(pixels), repeats, device)
        latents = encoded.latent_dist.mode()
        parts["vae_decode_s"], _ = timed(
            lambda: pipe.vae.decode(latents, return_dict=False), repeats, device
        )
    return parts


def bare_edit_seconds(result: dict[str, Any], steps: int) -> float:
    """One edit's bare compute from its parts' medians."""
    return (
        result["encode_prompt_s"]
        + result["encode_negative_s"]
        + result["vae_encode_s"]
        + steps * (result["transformer_s"] + result["transformer_negative_s"])
        + result["vae_decode_s"]
    )


def bench_eager(args: argparse.Namespace, env: dict[str, Any]) -> dict[str, Any]:
    """Load the eager editor; time the bare parts, then editbench's edits."""
    result: dict[str, Any] = {"phase": "eager", "device": args.device}
    editor, loaded = load_editor(args, env, compile=False)
    result.update(loaded)
    calls: list = []
    attempt(result, "warm-up edit", lambda: warm_up(editor, args, env, calls))
    if calls:
        attempt(result, "bare transformer", lambda: transformer_passes(editor.pipe, calls, args))
    attempt(result, "bare text encoder and VAE", lambda: bare_parts(editor, args, env))
    calls.clear()
    attempt(
        result, f"editbench edits at {args.steps} steps", lambda: timed_edits(editor, args, env)
    )
    return finish(result, args)


def bench_compiled(args: argparse.Namespace, env: dict[str, Any]) -> dict[str, Any]:
    """Load the editor with ``compile=True``; time the compilation, then the steady state."""
    result: dict[str, Any] = {"phase": "compiled", "device": args.device}
    editor, loaded = load_editor(args, env, compile=True)
    result.update(loaded)
    calls: list = []
    attempt(result, "first edit (compiles)", lambda: warm_up(editor, args, env, calls))

    def second() -> dict[str, float]:
        (second_s,) = edit_seconds(editor, env["request"], args.warmup_steps, 1, args.device)
        return {"compile_s": result["warmup_s"] - second_s, "warmup_again_s": second_s}

    if "warmup_s" in result:
        attempt(result, "second warm-up edit", second)
    attempt(
        result, f"editbench edits at {args.steps} steps", lambda: timed_edits(editor, args, env)
    )
    if calls:
        attempt(
            result,
            "bare transformer, compiled",
            lambda: transformer_passes(editor.pipe, calls, args),
        )
    calls.clear()
    return finish(result, args)


def finish(result: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Per-image figures, the ratio to the bare compute, and the phase's peak memory."""
    if "edit_s" in result:
        result["editbench_s_per_image"] = statistics.mean(result["edit_s"])
    if torch.device(args.device).type == "cuda":
        result["peak_gib"] = torch.cuda.max_memory_allocated(args.device) / 2**30
    log.info("%s", json.dumps(result))
    return result


def add_bare_compute(results: list[dict[str, Any]], steps: int) -> None:
    """Bare seconds per image and editbench / bare, for each phase that has the parts. The
    compiled phase times only its transformer: it takes the eager text encoder and VAE."""
    parts = ("encode_prompt_s", "encode_negative_s", "vae_encode_s", "vae_decode_s")
    eager = next((r for r in results if r["phase"] == "eager"), {})
    for result in results:
        merged = {**{k: eager[k] for k in parts if k in eager}, **result}
        if all(k in merged for k in (*parts, "transformer_s", "transformer_negative_s")):
            result["bare_s_per_image"] = bare_edit_seconds(merged, steps)
            if "editbench_s_per_image" in result:
                result["ratio"] = result["editbench_s_per_image"] / result["bare_s_per_image"]


def make_request(side: int, folder: Path) -> tuple[EditRequest, Image.Image]:
    """The first sample item, its image resized to ``side``² and written as PNG."""
    sample = sample_scenes(folder, side)[0]
    with Image.open(sample.image) as source:
        image = source.convert("RGB")
    return EditRequest(sample.id, sample.images, sample.instruction, seed=0), image


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tiny", action="store_true", help="tiny configs (CPU, seconds)")
    parser.add_argument("--steps", type=int, default=None, help="timed edits' steps: 50; 2 tiny")
    # At least 2: with one step the scheduler's terminal shift divides 0 by 0.
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=None, help="bare timings: 3; 1 tiny")
    parser.add_argument("--edits", type=int, default=1, help="timed edits per phase")
    parser.add_argument("--compile", action="store_true", help="also time compile=True")
    parser.add_argument("--image-side", type=int, default=1024)
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    args.steps = args.steps or (2 if args.tiny else 50)
    args.repeats = args.repeats or (1 if args.tiny else 3)
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    log.setLevel(logging.INFO)
    log.propagate = False
    formatter = logging.Formatter("%(asctime)s %(message)s")
    handlers = [
        logging.StreamHandler(sys.stdout),
        logging.FileHandler(args.out / "editor_full_size.log"),
    ]
    for handler in handlers:
        handler.setFormatter(formatter)
        log.addHandler(handler)
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
        "dtype": args.dtype,
        "repeats": args.repeats,
        "edits": args.edits,
        "image_side": args.image_side,
    }
    log.info("%s", facts)
    results = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = write_pipeline_folder(Path(tmp) / "pipeline", tiny=args.tiny)
            request, image = make_request(args.image_side, Path(tmp))
            env = {"folder": folder, "request": request, "image": image}
            facts["instruction"] = request.instruction
            phases = {"eager": bench_eager, "compiled": bench_compiled}
            for name in ["eager", "compiled"] if args.compile else ["eager"]:
                try:
                    results.append(phases[name](args, env))
                except Exception as error:  # out of memory in load included: record, go on
                    log.exception("%s failed", name)
                    results.append(
                        {"phase": name, "error": f"{type(error).__name__}: {error}"[:500]}
                    )
                release(args.device)
        add_bare_compute(results, args.steps)
        report = {**facts, "results": results}
        (args.out / "editor_full_size.json").write_text(json.dumps(report, indent=2))
        log.info("%s", table(results, facts))
    finally:
        for handler in handlers:
            log.removeHandler(handler)
            handler.close()
    return report


def table(results: list[dict[str, Any]], facts: dict[str, Any]) -> str:
    """The short table printed last."""

    def cell(result: dict[str, Any], key: str, fmt: str = "{:.3f}") -> str:
        return fmt.format(result[key]) if key in result else "—"

    rows = [
        f"\n{facts['device']}, torch {facts['torch']}, diffusers {facts['diffusers']}, "
        f"transformers {facts['transformers']}, {facts['image_side']}² source, "
        f"{facts['steps']} steps, true CFG, {facts['date']}",
        "| phase | params (transformer / text encoder / VAE) | load s | transformer tokens "
        "(image + text) | text encoder s (prompt + negative) | VAE encode s | transformer pass s "
        "(prompt / negative) | VAE decode s | bare s/img | editbench s/img | ratio | compile s "
        "| peak GiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        if "error" in r:
            rows.append(f"| {r['phase']} | {r['error']} |")
            continue
        params = " / ".join(f"{r['params'][k]:,}" for k in ("transformer", "text_encoder", "vae"))
        text = (
            f"{r['encode_prompt_s']:.3f} + {r['encode_negative_s']:.3f}"
            if "encode_prompt_s" in r
            else "—"
        )
        passes = (
            f"{r['transformer_s']:.3f} / {r['transformer_negative_s']:.3f}"
            if "transformer_s" in r
            else "—"
        )
        tokens = f"{r['image_tokens']} + {r['text_tokens']}" if "image_tokens" in r else "—"
        rows.append(
            f"| {r['phase']} | {params} | {r['load_s']:.1f} | {tokens} | {text} "
            f"| {cell(r, 'vae_encode_s')} "
            f"| {passes} | {cell(r, 'vae_decode_s')} | {cell(r, 'bare_s_per_image', '{:.2f}')} "
            f"| {cell(r, 'editbench_s_per_image', '{:.2f}')} | {cell(r, 'ratio', '{:.3f}')} "
            f"| {cell(r, 'compile_s', '{:.1f}')} | {cell(r, 'peak_gib', '{:.1f}')} |"
        )
    for r in results:
        if r.get("errors"):
            rows.append(f"{r['phase']} errors: {json.dumps(r['errors'])}")
    if any(r["phase"] == "compiled" and "bare_s_per_image" in r for r in results):
        rows.append("compiled bare s/img: the compiled transformer, the eager text encoder and VAE")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
