"""Multi-GPU scaling of editbench's phases, full-size random-weight models, through the CLI.

Each measurement is a real run, ``python -m editbench ...`` in a fresh process, with only the
models' weight reads replaced (:class:`RandomWeightsQwenImageEditor`,
:class:`RandomWeightsQwen3VLJudge`: full-size architectures built straight on each worker's
GPU). Its ``results.json`` gives each phase's throughput once its models are loaded, and the
loads on their own; the process's wall time is the end to end.

- ``edit``: Qwen-Image-Edit (``--steps`` denoising steps, true CFG) then the 8B judge, on
  ``--edit-samples`` items, with ``gpus=1`` and each ``gpus=N`` of ``--gpus`` under the shared
  layout, and each ``gpus=N`` under the split layout;
- ``judge``: the 8B judge alone on ``--judge-samples`` items whose edits already exist
  (``editor=precomputed``), with ``gpus=1`` and each ``gpus=N`` under the shared layout, and
  each ``gpus=N`` under the split layout (the second half of the cards judge).

``--layouts`` picks the layouts of the multi-GPU runs; the one-GPU run is always made, so that
each call has its baseline on its own machine.

Every item's images are 1024² PNGs (the package's sample scenes, resized, under new ids).
``scaling.json`` is rewritten after every run.

With ``--per-gpu`` the sample counts are per GPU (weak scaling): a run on N GPUs takes N times
the items (``dataset.limit``; the judge part under split: times its judging cards), so that each
worker has as much work as the single one had and the fixed cost of each worker (fitting its
batch size, its first batch) weighs alike in both.
Without it every run takes the same items (strong scaling), where that fixed cost weighs N
times more in the N-GPU run.

    python -m benchmarks.scaling --out $OUT --parts edit judge --gpus 2 4   # 4x H100
    python -m benchmarks.scaling --out /tmp/scaling --tiny                 # CPU, tiny models
    python -m benchmarks.scaling --out $OUT --parts judge --protocol viescore  # two calls each
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.common import log_to, sample_scenes
from benchmarks.qwen3_vl_models import write_checkpoint
from benchmarks.qwen_image_models import write_pipeline_folder
from editbench.tiny.tokenizer import build_qwen_tokenizer

log = logging.getLogger("scaling")

JUDGE = "benchmarks.qwen3_vl_models.RandomWeightsQwen3VLJudge"
EDITOR = "benchmarks.qwen_image_models.RandomWeightsQwenImageEditor"


def write_dataset(root: Path, count: int, side: int) -> list[str]:
    """A benchmark of ``count`` items in ``root``: the sample scenes in turn, resized to
    ``side``², each under an id of its own (ids seed the edits). Returns the ids."""
    scenes = sample_scenes(root / "images", side)
    rows = []
    for i in range(count):
        scene = scenes[i % len(scenes)]
        rows.append(
            {
                "id": f"{scene.id}-{i:04d}",
                "category": scene.category,
                "instruction": scene.instruction,
                "image": f"images/{scene.id}.png",
            }
        )
    (root / "manifest.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return [row["id"] for row in rows]


def write_edits(root: Path, dataset: Path, ids: list[str]) -> None:
    """Stand-in edits for ``editor=precomputed``: each item's "edit" is the next scene."""
    root.mkdir(parents=True, exist_ok=True)
    images = sorted((dataset / "images").iterdir())
    for i, sample_id in enumerate(ids):
        (root / f"{sample_id}.png").write_bytes(images[(i + 1) % len(images)].read_bytes())


def run_editbench(
    name: str, overrides: list[str], out: Path, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """One run in a fresh process (``env`` added to this one's environment); its timing,
    throughput and work from results.json, or its exit code where it wrote none. A run that
    finished but is not a result (random weights write no reply some protocols can read)
    exits non-zero with its results.json: its figures are kept with its ``exit_code``. Its
    output is kept in ``out/<name>.log``."""
    run_dir = out / name
    command = [sys.executable, "-m", "editbench", *overrides, f"hydra.run.dir={run_dir}"]
    log.info("%s: %s", name, " ".join(command))
    started = time.perf_counter()
    finished = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    wall = time.perf_counter() - started
    (out / f"{name}.log").write_text(finished.stdout + finished.stderr)
    if finished.returncode != 0:
        tail = (finished.stdout + finished.stderr)[-2000:]
        log.error("%s failed with exit code %d:\n%s", name, finished.returncode, tail)
        if not (run_dir / "results.json").exists():
            return {"name": name, "error": f"exit code {finished.returncode}"}
    results = json.loads((run_dir / "results.json").read_text())
    figures = {"name": name, "process_wall_s": round(wall, 2), "timing": results["timing"]}
    figures["exit_code"] = finished.returncode
    figures["throughput"] = results["throughput"]
    figures["work"] = results["work"]
    log.info("%s: %s", name, json.dumps(figures))
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["edit", "judge"], choices=["edit", "judge"])
    parser.add_argument("--gpus", type=int, nargs="+", default=[2], help="each N, against 1")
    parser.add_argument(
        "--layouts",
        nargs="+",
        default=["shared", "split"],
        choices=["shared", "split"],
        help="the multi-GPU runs' layouts (the one-GPU run, under shared, always runs)",
    )
    parser.add_argument("--steps", type=int, default=4, help="denoising steps per edit")
    parser.add_argument("--edit-samples", type=int, default=16)
    parser.add_argument("--judge-samples", type=int, default=256)
    parser.add_argument("--per-gpu", action="store_true", help="sample counts per GPU")
    parser.add_argument(
        "--protocol", default=None, help="a judging protocol for every run (e.g. viescore)"
    )
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="more overrides for every run (e.g. scorer.max_new_tokens=96)",
    )
    parser.add_argument("--tiny", action="store_true", help="tiny models on the CPU")
    parser.add_argument("--out", type=Path, default=Path("bench_out"))
    args = parser.parse_args(argv)
    log_to(args.out, "scaling")
    facts = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "protocol": args.protocol or "the config's",
        "overrides": args.set,
        **_versions(),
    }
    log.info("%s", facts)
    side = 256 if args.tiny else 1024
    device_counts = ["cpu"] if args.tiny else [1, *args.gpus]
    most = 1 if args.tiny else items(1, max(args.gpus), args.per_gpu)
    shared, split = "shared" in args.layouts, "split" in args.layouts

    results = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)

        def measure(
            name: str, overrides: list[str], gpus: int | str, samples: int, cards: int | str = 0
        ) -> None:
            """One run on its own store, recorded at once; with ``--per-gpu``, ``samples`` per
            card of the ``cards`` (default: every one of ``gpus``) that do the measured work."""
            overrides = [
                *overrides,
                f"gpus={gpus}",
                f"store.root={tmp / ('store-' + name)}",
                f"dataset.limit={items(samples, cards or gpus, args.per_gpu)}",
            ]
            results.append(run_editbench(name, overrides, args.out))
            _save(args.out, facts, results)

        tokenizer = build_qwen_tokenizer()
        judge = write_checkpoint(tmp / "judge", "qwen3-vl-8b", tokenizer, args.tiny)
        common = [
            "scorer=qwen3_vl_multi",
            f"scorer._target_={JUDGE}",
            f"scorer.model={judge}",
            "tracking=none",
            "bootstrap_samples=100",
        ]
        common += ["scorer.dtype=float32"] if args.tiny else []
        common += [f"protocol={args.protocol}"] if args.protocol else []
        common += args.set
        if "edit" in args.parts:
            editor = write_pipeline_folder(tmp / "editor", tiny=args.tiny)
            dataset = tmp / "edit-data"
            write_dataset(dataset, args.edit_samples * most, side)
            edit = (
                common
                + [
                    "editor=qwen_image_edit",
                    f"editor._target_={EDITOR}",
                    f"editor.model={editor}",
                    f"editor.call.num_inference_steps={args.steps}",
                    f"dataset.root={dataset}",
                ]
                + (["editor.dtype=float32"] if args.tiny else [])
            )
            runs = [("shared", n) for n in device_counts if n in (1, "cpu") or shared] + (
                [("split", n) for n in args.gpus if split and not args.tiny]
            )
            for layout, gpus in runs:
                measure(
                    f"edit-{layout}-{gpus}", [*edit, f"layout={layout}"], gpus, args.edit_samples
                )
        if "judge" in args.parts:
            dataset, edits = tmp / "judge-data", tmp / "judge-edits"
            ids = write_dataset(dataset, args.judge_samples * most, side)
            write_edits(edits, dataset, ids)
            scored = [
                *common,
                "editor=precomputed",
                f"editor.root={edits}",
                f"dataset.root={dataset}",
            ]
            for gpus in device_counts:
                if gpus in (1, "cpu") or shared:
                    measure(f"judge-shared-{gpus}", scored, gpus, args.judge_samples)
            if split and not args.tiny:
                for gpus in args.gpus:  # the second half of the cards judge
                    overrides = [*scored, "layout=split"]
                    measure(f"judge-split-{gpus}", overrides, gpus, args.judge_samples, gpus // 2)
    _save(args.out, facts, results)
    log.info("%s", table(results, facts))


def items(samples: int, gpus: int | str, per_gpu: bool) -> int:
    """How many items a run on ``gpus`` GPUs ("cpu": one device) takes."""
    return samples * gpus if per_gpu and isinstance(gpus, int) else samples


def _save(out: Path, facts: dict[str, Any], results: list[dict[str, Any]]) -> None:
    """Every run so far, so that a call cut short keeps what it measured."""
    (out / "scaling.json").write_text(json.dumps({**facts, "results": results}, indent=2))


def _versions() -> dict[str, str]:
    import diffusers
    import torch
    import transformers

    cards = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "diffusers": diffusers.__version__,
        "devices": ", ".join(cards) or "cpu",
    }


def table(results: list[dict[str, Any]], facts: dict[str, Any]) -> str:
    """Each run's figures, and its throughput against the one-device run of its part."""
    rows = [
        f"\n{facts['devices']}; torch {facts['torch']}, transformers {facts['transformers']}, "
        f"diffusers {facts['diffusers']}; {facts['date']}",
        "| run | process wall s | load s | edit s | score s | edit img/s (× 1 device) "
        "| score img/s (× 1 device) | loads per worker s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    single: dict[str, dict[str, float | None]] = {}
    for r in results:
        if "error" in r:
            rows.append(f"| {r['name']} | {r['error']} |")
            continue
        part = r["name"].split("-")[0]
        rates = {phase: r["throughput"][phase]["images_per_s"] for phase in ("edit", "score")}
        single.setdefault(part, rates)
        cells = []
        for phase, rate in rates.items():
            base = single[part][phase]
            cells.append(f"{rate:.3f} ({rate / base:.2f}×)" if rate and base else "—")
        loads = ", ".join(
            f"{worker} {figures['load_s']:.1f}"
            for phase in ("edit", "score")
            for worker, figures in r["throughput"][phase]["workers"].items()
        )
        t = r["timing"]
        name = r["name"] + (f" (exit code {r['exit_code']})" if r.get("exit_code") else "")
        rows.append(
            f"| {name} | {r['process_wall_s']:.1f} | {t['load_s']:.1f} | {t['edit_s']:.1f} "
            f"| {t['score_s']:.1f} | {cells[0]} | {cells[1]} | {loads} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    main()
