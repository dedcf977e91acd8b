"""The child of benchmarks.load_time: one fresh process, one load, timed as a worker does it.

The parent starts it as ``python -m benchmarks.load_time --child KIND ...``, which runs
:func:`child_main`: import what a worker imports, report, wait for "go", run ``CHILD_KINDS[KIND]``
(write the checkpoint, or load it one way), report its time and memory. torch, transformers and
editbench are imported inside the functions, never at the top: the parent imports this module
for ``CHILD_KINDS`` and must not import torch."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.disk import CHUNK, GB, shard_paths

log = logging.getLogger("load_time")


def child_main(args: argparse.Namespace) -> None:
    """A fresh process: import what a worker imports, report, wait for "go", load, report.

    Its stdout carries one JSON line per report; anything else written to stdout goes to
    stderr (the child's log file)."""
    started = time.time()
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    try:
        import torch
        import transformers

        import editbench.judges.qwen3_vl
        import editbench.launch.worker  # noqa: F401

        # The model classes are imported lazily by from_pretrained: count them as start-up.
        _ = (
            transformers.Qwen3VLForConditionalGeneration,
            transformers.Qwen3VLMoeForConditionalGeneration,
        )
        ready = {"process_s": started - args.spawned_at, "imports_s": time.time() - started}
        if torch.device(args.device).type == "cuda":
            begin = time.perf_counter()
            torch.cuda.set_device(args.device)  # as a worker does before it loads
            torch.zeros(1, device=args.device)
            ready["cuda_init_s"] = time.perf_counter() - begin
        ready["startup_s"] = time.time() - args.spawned_at
        channel.write(json.dumps(ready) + "\n")
        if sys.stdin.readline().strip() != "go":
            return
        result = measured(CHILD_KINDS[args.child], args)
    except Exception as error:  # reported to the parent, which records it and goes on
        log.exception("child %s failed", args.child)
        result = {"error": f"{type(error).__name__}: {error}"}
    channel.write(json.dumps(result) + "\n")


class MemorySampler:
    """Peak anonymous and file-backed RSS of this process, sampled from /proc/self/status."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval, self.peaks = interval, {"RssAnon": 0, "RssFile": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in self.peaks:
                self.peaks[key] = max(self.peaks[key], int(value.split()[0]) * 1024)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def measured(load: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Run ``load(args)`` (which returns facts and what it loaded) and time it, with the peak
    host memory of the process and the device memory it holds after."""
    import resource

    import torch

    cuda = torch.device(args.device).type == "cuda"
    with MemorySampler() as memory:
        start_wall, start = time.time(), time.perf_counter()
        facts, loaded = load(args)
        if cuda:
            torch.cuda.synchronize(args.device)
        load_s = time.perf_counter() - start
    result = {**facts, "load_s": load_s, "start_wall": start_wall, "end_wall": time.time()}
    result["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB
    result["peak_anon_gb"] = memory.peaks["RssAnon"] / GB
    result["peak_file_gb"] = memory.peaks["RssFile"] / GB
    result["device_name"] = torch.cuda.get_device_name(args.device) if cuda else "cpu"
    if cuda:
        result["gpu_allocated_gb"] = torch.cuda.memory_allocated(args.device) / GB
        result["gpu_peak_gb"] = torch.cuda.max_memory_allocated(args.device) / GB
    del loaded
    return result


def write_full_size(args: argparse.Namespace) -> tuple[dict[str, Any], None]:
    """Build the model on the device, save it in ``args.shards`` shards, fsync every file."""
    import torch

    from benchmarks.qwen3_vl_models import build_model, check_params, make_config, write_checkpoint
    from editbench.tiny.tokenizer import build_qwen_tokenizer

    tokenizer = build_qwen_tokenizer()
    start = time.perf_counter()
    model = build_model(make_config(args.model, tokenizer, args.tiny), args.device)
    params = sum(p.numel() for p in model.parameters())
    if not args.tiny:
        check_params(args.model, model)
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    facts = {"params": params, "build_s": time.perf_counter() - start}
    # The 8B checkpoint on the Hub: 17.5 GB in 4 shards of at most 5 GB; shards fill greedily.
    start = time.perf_counter()
    model.save_pretrained(args.dir, max_shard_size=math.ceil(weight_bytes / args.shards * 1.15))
    facts["save_s"] = time.perf_counter() - start
    del model
    if torch.device(args.device).type == "cuda":
        torch.cuda.empty_cache()
    # Config, the Instruct generation config and the processor, over what save_pretrained wrote.
    write_checkpoint(args.dir, args.model, tokenizer, args.tiny)
    start = time.perf_counter()
    for path in [*args.dir.iterdir(), args.dir]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    facts["fsync_s"] = time.perf_counter() - start
    shards = shard_paths(args.dir)
    facts["bytes"] = sum(path.stat().st_size for path in shards)
    facts["shards"] = len(shards)
    facts["write_gbps"] = facts["bytes"] / GB / (facts["save_s"] + facts["fsync_s"])
    return facts, None


def load_judge(args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    """The load a worker does: ``Qwen3VLJudge(model=folder).load([device])``."""
    import torch
    import transformers

    from editbench.judges.qwen3_vl import Qwen3VLJudge

    if args.workers is not None:
        from transformers import core_model_loading

        if not hasattr(core_model_loading, "GLOBAL_WORKERS"):
            raise RuntimeError(
                f"transformers {transformers.__version__} has no core_model_loading.GLOBAL_WORKERS"
            )
        core_model_loading.GLOBAL_WORKERS = args.workers
    judge = Qwen3VLJudge(model=str(args.dir))
    read_model, weights = judge.read_model, {}

    def timed_read_model(placement: dict[str, Any]) -> Any:  # the weights, apart from the rest
        start = time.perf_counter()
        model = read_model(placement)
        if torch.device(args.device).type == "cuda":
            torch.cuda.synchronize(args.device)
        weights["weights_s"] = time.perf_counter() - start
        return model

    judge.read_model = timed_read_model  # type: ignore[method-assign]
    judge.load([args.device])
    model = judge._model
    facts = {
        **weights,
        "via": f"{Qwen3VLJudge.__qualname__}.load",
        "loaded_class": type(model).__name__,
        "params": sum(p.numel() for p in model.parameters()),
        "param_devices": sorted({str(p.device) for p in model.parameters()}),
    }
    return facts, judge


def load_safetensors(args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    """Every shard with ``safetensors.torch.load_file(shard, device=...)``."""
    import inspect

    import safetensors
    from safetensors.torch import load_file

    options = {}
    if args.backend is not None:
        if "backend" not in inspect.signature(load_file).parameters:
            raise RuntimeError(f"safetensors {safetensors.__version__} has no backend option")
        options["backend"] = args.backend
    tensors = [load_file(path, device=args.device, **options) for path in shard_paths(args.dir)]
    return {"tensors": sum(len(shard) for shard in tensors)}, tensors


def load_stream(args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    """The raw bytes of every shard onto the device: CHUNK-sized reads into two pinned
    buffers taken in turn, each copied asynchronously while the next read fills the other."""
    import torch

    cuda = torch.device(args.device).type == "cuda"
    buffers = [torch.empty(CHUNK, dtype=torch.uint8, pin_memory=cuda) for _ in range(2)]
    views = [memoryview(buffer.numpy()) for buffer in buffers]
    copied: list[Any] = [None, None]  # the event of each buffer's last copy
    targets, count = [], 0
    for path in shard_paths(args.dir):
        size = path.stat().st_size
        target = torch.empty(size, dtype=torch.uint8, device=args.device)
        with path.open("rb", buffering=0) as file:
            offset = 0
            while offset < size:
                slot = count % 2
                if copied[slot] is not None:
                    copied[slot].synchronize()
                read = file.readinto(views[slot])
                if not read:
                    raise RuntimeError(f"{path}: ended at byte {offset} of {size}")
                target[offset : offset + read].copy_(buffers[slot][:read], non_blocking=cuda)
                if cuda:
                    copied[slot] = torch.cuda.Event()
                    copied[slot].record()
                offset, count = offset + read, count + 1
        targets.append(target)
    return {"reads": count}, targets


CHILD_KINDS = {
    "write": write_full_size,
    "judge": load_judge,
    "safetensors": load_safetensors,
    "stream": load_stream,
}
