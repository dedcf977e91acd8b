"""The score phase of a whole benchmark run through the CLI, against the bare forward on the
same requests: what a user pays per run, fitting, ramp and tail included.

On ``--samples`` items with edits already made (``editor=precomputed``), the 8B judge with
random weights (:class:`RandomWeightsQwen3VLJudge`: only the weight read replaced) judges
through ``python -m editbench ... gpus=1`` twice, each on a store of its own:

- ``first``: a fresh editbench cache, so the judge fits its batch size from free memory;
- ``again``: the same cache, so the worker starts at the batch size the first run remembered.

Each run's score phase is its ``timing.score_s`` (results.json: the phase's wall time less the
judge's load): the fitting, every batch and the tail. Then, in this process, with the CLI's own
requests (the same config composed, the same plan), the ``bare`` forward: the model alone on
each batch's inputs (the tensors the judge prepares) already on the GPU, at the batch size the
run used, over ``--bare-batches`` batches after one to warm up; its throughput is the ceiling
the phase is measured against.

    PYTHONUNBUFFERED=1 python -m benchmarks.judge_phase --out $OUT     # H200: 900 items
    python -m benchmarks.judge_phase --out /tmp/phase --tiny           # CPU: tiny judge
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
import transformers
from hydra import compose, initialize_config_module

from benchmarks.common import log_to, release, sync
from benchmarks.qwen3_vl_models import RandomWeightsQwen3VLJudge, write_checkpoint
from benchmarks.scaling import JUDGE, run_editbench, write_dataset, write_edits
from editbench.config.resolvers import register_resolvers
from editbench.config.schema import register_schemas
from editbench.config.validate import validate
from editbench.store import Store
from editbench.tiny.tokenizer import build_qwen_tokenizer

log = logging.getLogger("judge_phase")


def run_cli(name: str, overrides: list[str], out: Path, cache: Path) -> dict[str, Any]:
    """One ``python -m editbench`` run in a fresh process with the editbench cache at
    ``cache``; its score phase's figures from results.json."""
    run = run_editbench(name, overrides, out, env={"EDITBENCH_CACHE": str(cache)})
    if "error" in run or run["exit_code"]:
        failure = run.get("error") or f"exit code {run['exit_code']}"
        raise RuntimeError(f"{name}: {failure}; see {out / (name + '.log')}")
    score = run["throughput"]["score"]
    (worker,) = score["workers"].values()
    phase_s = run["timing"]["score_s"]  # the phase less its load: fit, batches, tail
    judged = run["work"]["judgements_done"]
    figures = {
        "name": name,
        "process_wall_s": run["process_wall_s"],
        "load_s": score["load_s"],
        "phase_s": phase_s,
        "judged": judged,
        "phase_img_per_s": judged / phase_s,
        "worker": worker,
        "batch_size_lines": _batch_size_lines([out / f"{name}.log", *(out / name).rglob("*.log")]),
    }
    log.info("%s: %s", name, json.dumps(figures))
    return figures


def _batch_size_lines(logs: list[Path]) -> list[str]:
    """The judge's lines on its batch size (fitted, remembered, lowered), from the run's logs."""
    return [
        line.strip()
        for path in logs
        for line in path.read_text(errors="replace").splitlines()
        if "batch_size" in line or "batch size" in line
    ][:10]


def batch_size_used(lines: list[str]) -> int:
    """The batch size the run judged at, as its log names it: fitted, remembered (the fit
    itself may be larger: the run takes at most ``max_batch_size``) or, on the CPU, fixed."""
    (size,) = {int(m.group(1)) for line in lines if (m := re.search(r"auto: (\d+)", line))}
    return size


def cli_requests(overrides: list[str]) -> list[Any]:
    """The judge requests of the CLI run ``overrides`` describe, in the order its plan makes
    them: the same config composed, validated and planned as ``python -m editbench`` does."""
    register_schemas()
    register_resolvers()
    with initialize_config_module("editbench.conf", version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    plan = validate(cfg).plan(cfg.seed, Store(cfg.store.root))
    return [task.request for task in plan.judgements]


def bare(
    checkpoint: Path, requests: list[Any], batch: int, batches: int, device: str, dtype: str
) -> dict[str, Any]:
    """The bare forward over the first ``batches`` batches of ``batch`` requests, on the very
    tensors the judge feeds its model (:meth:`Qwen3VLJudge.prepare`), each moved to the device
    before its forward is timed."""
    if len(requests) < 2 * batch:
        raise ValueError(f"{len(requests)} requests: the bare forward needs 2 batches of {batch}")
    # At the run's batch size, so that each chunk is prepared as one pass.
    judge = RandomWeightsQwen3VLJudge(
        model=str(checkpoint),
        dtype=dtype,
        score_mode="expected",
        batch_size=batch,
        max_batch_size=batch,
    )
    judge.load([device])
    model, seconds, judged = judge._model, 0.0, 0
    chunks = [requests[i * batch : (i + 1) * batch] for i in range(batches + 1)]
    with torch.inference_mode():
        for i, chunk in enumerate(c for c in chunks if c):
            for features in judge.prepare(chunk).values():
                inputs = features.to(device)
                sync(device)
                started = time.perf_counter()
                model(**inputs, use_cache=False, logits_to_keep=2)
                sync(device)
                if i:  # the first batch warms up
                    seconds += time.perf_counter() - started
                log.info("bare: batch %d of %d requests, %.2f s", i, len(chunk), seconds)
                del inputs
            judged += len(chunk) if i else 0
    judge.close()
    del judge, model
    release(device)
    return {"bare_s": seconds, "bare_judged": judged, "bare_img_per_s": judged / seconds}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=900)
    parser.add_argument(
        "--bare-batches", type=int, default=5, help="0: the CLI runs alone, no bare forward"
    )
    parser.add_argument("--model", default="qwen3-vl-8b")
    parser.add_argument(
        "--runs",
        nargs="+",
        default=["first", "again"],
        choices=["first", "again"],
        help="the CLI runs: first (fits the batch size), again (starts at the remembered one)",
    )
    parser.add_argument("--tiny", action="store_true", help="tiny judge on the CPU")
    parser.add_argument("--out", type=Path, default=Path("bench_out"))
    args = parser.parse_args(argv)
    log_to(args.out, "judge_phase")
    device = "cpu" if args.tiny else "cuda:0"
    facts = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "device": "cpu" if args.tiny else torch.cuda.get_device_name(0),
        "samples": args.samples,
        "model": args.model,
    }
    results: dict[str, Any] = {**facts, "runs": []}

    def save() -> None:
        (args.out / "judge_phase.json").write_text(json.dumps(results, indent=2))

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        checkpoint = write_checkpoint(tmp / "judge", args.model, build_qwen_tokenizer(), args.tiny)
        dataset, edits = tmp / "data", tmp / "edits"
        ids = write_dataset(dataset, args.samples, 256 if args.tiny else 1024)
        write_edits(edits, dataset, ids)
        common = [
            "scorer=qwen3_vl_multi",
            f"scorer._target_={JUDGE}",
            f"scorer.model={checkpoint}",
            "editor=precomputed",
            f"editor.root={edits}",
            f"dataset.root={dataset}",
            "tracking=none",
            "bootstrap_samples=100",
            f"gpus={'cpu' if args.tiny else 1}",
        ] + (["scorer.dtype=float32"] if args.tiny else [])
        cache = tmp / "cache"
        for name in args.runs:
            overrides = [*common, f"store.root={tmp / ('store-' + name)}"]
            results["runs"].append(run_cli(name, overrides, args.out, cache))
            save()
        if not args.bare_batches:
            return
        batch = batch_size_used(results["runs"][-1]["batch_size_lines"])
        requests = cli_requests([*common, f"store.root={tmp / ('store-' + args.runs[-1])}"])
        results["request_batch"] = batch
        dtype = "float32" if args.tiny else "bfloat16"
        results.update(bare(checkpoint, requests, batch, args.bare_batches, device, dtype))
        for run in results["runs"]:
            run["ratio_to_bare"] = run["phase_img_per_s"] / results["bare_img_per_s"]
        save()
    log.info("%s", table(results))


def table(results: dict[str, Any]) -> str:
    rows = [
        f"\n{results['device']}, torch {results['torch']}, transformers "
        f"{results['transformers']}, {results['model']}, {results['samples']} items, "
        f"{results['date']}",
        f"bare forward: {results['bare_img_per_s']:.2f} judged edits/s (batch "
        f"{results['request_batch']}, {results['bare_judged']} requests of the run)",
        "| run | load s | score phase s (less load) | judged | judged/s | ÷ bare |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for run in results["runs"]:
        rows.append(
            f"| {run['name']} | {run['load_s']:.1f} | {run['phase_s']:.1f} | {run['judged']} "
            f"| {run['phase_img_per_s']:.2f} | {run['ratio_to_bare']:.2f} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    main()
