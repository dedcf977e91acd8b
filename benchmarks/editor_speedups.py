"""Full-size Qwen-Image-Edit with random weights: the exact edit against the editor's speed-ups.

Builds Qwen-Image-Edit from its published configs with random bf16 weights on the GPU
(:class:`RandomWeightsQwenImageEditor`, editbench's own editor with only the weight read
replaced), then edits one 1024² sample image (50 steps, true CFG 4.0) with each variant, in
turn, on the same loaded pipeline, through the calls the editor's ``load`` makes:

- ``exact``: the editor as it is;
- ``taylorseer``: ``editor.step_cache={method: taylorseer, cache_interval: 5,
  disable_cache_before_step: 10}``, a fixed schedule (which steps are computed does not depend
  on the weights, so random weights time it truly);
- ``fp8``: ``editor.fp8=matmul`` (torchao's FP8 matmuls, a scale per row);
- ``fp8+taylorseer``: both.

Each variant: one warm-up edit at ``--warmup-steps``, then ``--edits`` timed edits. Also
recorded: how many of the 50 steps ran the last block's attention (the cache's schedule), and
each variant's edit against the exact one (PSNR; random weights make it a check that the
variant ran, not a measure of quality: the price in benchmark points comes from
``python -m editbench.compare`` on a real editor and judge, docs/speedups.md).

    PYTHONUNBUFFERED=1 python -m benchmarks.editor_speedups --out $OUT     # H200
    python -m benchmarks.editor_speedups --out /tmp/speedups --tiny         # CPU (no fp8)
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import diffusers
import numpy as np
import torch
import transformers

from benchmarks.common import log_to, release, sync
from benchmarks.editor_full_size import make_request
from benchmarks.qwen_image_models import RandomWeightsQwenImageEditor, write_pipeline_folder
from editbench.editors.speedups import step_cache_config, use_fp8

log = logging.getLogger("editor_speedups")

TAYLORSEER = {"method": "taylorseer", "cache_interval": 5, "disable_cache_before_step": 10}
VARIANTS = {
    "exact": (None, False),
    "taylorseer": (TAYLORSEER, False),
    "fp8": (None, True),
    "fp8+taylorseer": (TAYLORSEER, True),
}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench_out"))
    parser.add_argument("--tiny", action="store_true", help="tiny configs on the CPU, no FP8")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--edits", type=int, default=1)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--compile", action="store_true", help="every variant with compile=true")
    args = parser.parse_args(argv)
    log_to(args.out, "editor_speedups")
    device = "cpu" if args.tiny else "cuda:0"
    dtype = "float32" if args.tiny else "bfloat16"
    report: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "device": "cpu" if args.tiny else torch.cuda.get_device_name(0),
        "steps": args.steps,
        "edits": args.edits,
        "step_cache": TAYLORSEER,
        "compile": args.compile,
        "results": [],
    }

    def save() -> None:
        (args.out / "editor_speedups.json").write_text(json.dumps(report, indent=2))

    with tempfile.TemporaryDirectory() as tmp:
        folder = write_pipeline_folder(Path(tmp) / "pipeline", tiny=args.tiny)
        request, _ = make_request(256 if args.tiny else 1024, Path(tmp))
        call = {"num_inference_steps": args.steps, "true_cfg_scale": 4.0, "negative_prompt": " "}
        editor = RandomWeightsQwenImageEditor(
            model=str(folder), dtype=dtype, call=call, compile=args.compile
        )
        started = time.perf_counter()
        editor.load(device)
        report["load_s"] = time.perf_counter() - started
        transformer = editor.pipe.transformer
        computed = [0]
        probe = transformer.transformer_blocks[-1].attn.to_q
        probe.register_forward_hook(lambda *_: computed.__setitem__(0, computed[0] + 1))
        exact_image = None
        quantized = False
        for name in args.variants:
            cache, fp8 = VARIANTS[name]
            result: dict[str, Any] = {"variant": name}
            try:
                if fp8 and not quantized:
                    started = time.perf_counter()
                    use_fp8(transformer, "matmul", device, torch.bfloat16)
                    result["quantize_s"] = time.perf_counter() - started
                    quantized = True
                if fp8 != quantized:
                    raise RuntimeError("exact variants must come before the fp8 ones")
                if cache is not None:
                    transformer.enable_cache(step_cache_config(cache))
                editor.call["num_inference_steps"] = args.warmup_steps
                editor.edit([request])
                editor.call["num_inference_steps"] = args.steps
                times = []
                for _ in range(args.edits):
                    computed[0] = 0
                    sync(device)
                    started = time.perf_counter()
                    (image,) = editor.edit([request])
                    sync(device)
                    times.append(time.perf_counter() - started)
                result["edit_s"] = times
                result["s_per_edit"] = sum(times) / len(times)
                # Two passes per step (true CFG): the last block's attention per computed pass.
                result["steps_computed"] = computed[0] / 2
                pixels = np.asarray(image)
                if exact_image is None:
                    exact_image = pixels
                result["psnr_vs_exact"] = psnr(exact_image, pixels)
                if cache is not None:
                    transformer.disable_cache()
                if device.startswith("cuda"):
                    result["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
            except Exception as error:  # recorded; the next variant goes on
                log.exception("%s failed", name)
                result["error"] = f"{type(error).__name__}: {error}"[:500]
                if cache is not None and transformer.is_cache_enabled:
                    transformer.disable_cache()
            report["results"].append(result)
            log.info("%s: %s", name, json.dumps(result))
            save()
            release(device)
    exact = next((r for r in report["results"] if r["variant"] == "exact" and "edit_s" in r), None)
    for result in report["results"]:
        if exact and "s_per_edit" in result:
            result["speedup"] = exact["s_per_edit"] / result["s_per_edit"]
    save()
    log.info("%s", table(report))


def table(report: dict[str, Any]) -> str:
    rows = [
        f"\n{report['device']}, torch {report['torch']}, diffusers {report['diffusers']}, "
        f"{report['steps']} steps, true CFG, {report['date']}; load {report['load_s']:.1f} s",
        "| variant | s per edit | speed-up | steps computed | PSNR vs exact dB | peak GiB |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in report["results"]:
        if "error" in r:
            rows.append(f"| {r['variant']} | {r['error']} |")
            continue
        rows.append(
            f"| {r['variant']} | {r['s_per_edit']:.2f} | {r.get('speedup', 0):.2f}× "
            f"| {r['steps_computed']:g} | {r['psnr_vs_exact']:.1f} | {r.get('peak_gib', 0):.1f} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    main()
