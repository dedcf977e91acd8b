"""Load time of the judge: a full-size checkpoint read from disk straight onto a worker's GPU.

Writes a full-size Qwen3-VL checkpoint with random bf16 weights (built on the device, saved in
shards of the real checkpoint's size, fsynced), measures the disk's own read speed over its
files, then times loads, each in a fresh process as a worker does it, cold and warm (right
after). Cold: the files evicted from the page cache (``posix_fadvise``, else ``drop_caches``) and
the eviction checked with mincore; a cold number that could not be checked says so.

- ``judge``: :meth:`Qwen3VLJudge.load`, i.e. ``from_pretrained(..., device_map=device)``, with
  variants of what transformers lets one turn (``HF_DEACTIVATE_ASYNC_LOAD``, the loader's thread
  count ``core_model_loading.GLOBAL_WORKERS``, transformers 4's ``HF_ENABLE_PARALLEL_LOADING``);
  a variant whose knob the installed transformers never reads is skipped, and says so;
- ``safetensors`` / ``safetensors-pread``: bare ``safetensors.torch.load_file(shard, device)``;
- ``stream``: the raw bytes of each shard read in 64 MiB pieces into two pinned buffers and
  copied to the device as they come: what disk and bus allow without parsing;
- the judge loaded by two processes at once, as two workers starting on one disk (their
  aggregate GB/s counts the bytes that reach both; the disk reads them once).

Children are spawned ahead of their load and report once imported (torch, transformers, the
judge), so start-up and load are timed apart: one child alone, the rest all at once as a run's
workers start. The parent never imports torch. Peak anonymous memory is the measure of a CPU
copy: the safetensors files are memory-mapped, so the mapped pages count in the RSS (and
``ru_maxrss``) without being a copy. GB are 10^9 bytes.

    python -m benchmarks.load_time --out $OUT                  # GPU: the 8B judge, ~4 min
    python -m benchmarks.load_time --out DIR --tiny            # CPU: same path, tiny config
"""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import math
import mmap
import os
import select
import shutil
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata, util
from pathlib import Path
from typing import Any, TextIO

log = logging.getLogger("load_time")

GB = 1e9
CHUNK = 64 * 2**20  # bytes per read, for the disk test and the stream load
ROOT = Path(__file__).resolve().parents[1]
COLD, WARM = "cold", "warm"
MODEL_NAMES = ("qwen3-vl-8b", "qwen3-vl-30b-a3b")  # benchmarks.qwen3_vl_models.MODELS
COLD_RESIDENT = 0.02  # a dropped cache may keep at most this fraction of the files' pages


@dataclass(frozen=True)
class LoadSpec:
    name: str
    kind: str  # "judge", "safetensors" or "stream": what the child does (CHILD_KINDS)
    env: dict[str, str] = field(default_factory=dict)
    workers: int | None = None  # transformers' loader threads (core_model_loading.GLOBAL_WORKERS)
    backend: str | None = None  # safetensors' backend ("mmap", "pread")
    knob: str | None = None  # a name transformers must read for the variant to mean anything


SPECS = (
    LoadSpec("judge", "judge"),
    LoadSpec(
        "judge-sync",
        "judge",
        env={"HF_DEACTIVATE_ASYNC_LOAD": "1"},
        knob="HF_DEACTIVATE_ASYNC_LOAD",
    ),
    LoadSpec("judge-8threads", "judge", workers=8, knob="GLOBAL_WORKERS"),
    LoadSpec(
        "judge-parallel-env",
        "judge",
        env={"HF_ENABLE_PARALLEL_LOADING": "true", "HF_PARALLEL_LOADING_WORKERS": "8"},
        knob="HF_ENABLE_PARALLEL_LOADING",
    ),
    LoadSpec("safetensors", "safetensors"),
    LoadSpec("safetensors-pread", "safetensors", backend="pread"),
    LoadSpec("stream", "stream"),
)
SPEC_NAMES = [spec.name for spec in SPECS]
KNOBS = ("HF_ENABLE_PARALLEL_LOADING", "HF_PARALLEL_LOADING_WORKERS", "HF_DEACTIVATE_ASYNC_LOAD")


# --- page cache and disk -------------------------------------------------------------------


def resident_fraction(paths: list[Path]) -> float | None:
    """The fraction of the files' pages in the page cache (mincore), None where it can't tell."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t] + [ctypes.c_int] * 3
        libc.mmap.argtypes += [ctypes.c_long]
        libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        page = os.sysconf("SC_PAGE_SIZE")
        resident = total = 0
        for path in paths:
            size = path.stat().st_size
            pages = -(-size // page)
            fd = os.open(path, os.O_RDONLY)
            try:
                address = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
                if address in (None, ctypes.c_void_p(-1).value):
                    return None
                vector = (ctypes.c_ubyte * pages)()
                failed = libc.mincore(address, size, vector)
                libc.munmap(address, size)
            finally:
                os.close(fd)
            if failed:
                return None
            resident += pages - bytes(vector).count(0)
            total += pages
        return resident / total if total else None
    except (OSError, AttributeError):
        return None


def drop_cache(paths: list[Path]) -> dict[str, Any]:
    """Evict the files from the page cache and check it with mincore.

    ``posix_fadvise(DONTNEED)`` on each file first: it evicts the checkpoint alone and leaves
    the libraries that a child imports lazily while it loads cached, as they are in a run.
    Where that does not take (some container filesystems), ``drop_caches`` (root only)."""
    os.sync()
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    method, note, resident = "fadvise", None, resident_fraction(paths)
    if resident is None or resident > COLD_RESIDENT:
        try:
            Path("/proc/sys/vm/drop_caches").write_text("1\n")
            method = "drop_caches"
        except OSError as error:
            note = f"fadvise left {resident}; drop_caches: {error}"
        resident = resident_fraction(paths)
    cold = None if resident is None else resident <= COLD_RESIDENT
    state = {"dropped_by": method, "resident": resident, "cold": cold, "note": note}
    if not cold:
        log.warning("page cache not verified dropped: %s", state)
    return state


def read_files(paths: list[Path], readers: int) -> float:
    """Seconds to read every byte of ``paths`` with ``readers`` threads, one file each at a
    time, in CHUNK-sized reads into one buffer per thread."""

    def read(path: Path) -> None:
        buffer = memoryview(bytearray(CHUNK))
        with path.open("rb", buffering=0) as file:
            while file.readinto(buffer):
                pass

    start = time.perf_counter()
    with ThreadPoolExecutor(readers) as pool:
        list(pool.map(read, paths))
    return time.perf_counter() - start


def measure_disk(paths: list[Path]) -> dict[str, Any]:
    """Cold and page-cache read speed of the files, with one reader and one per file."""
    size = sum(path.stat().st_size for path in paths)
    reads = []
    for readers in sorted({1, len(paths)}):
        state = drop_cache(paths)
        for cache in (COLD, WARM):
            seconds = read_files(paths, readers)
            reads.append(
                {"readers": readers, "cache": cache, "s": seconds, "gbps": size / GB / seconds}
            )
            reads[-1].update(state if cache == COLD else {"resident": resident_fraction(paths)})
            log.info("disk: %s", reads[-1])
    cold = [r["gbps"] for r in reads if r["cache"] == COLD and r["cold"]]
    return {
        "reads": reads,
        "disk_gbps": max(cold) if cold else None,  # None: no read was verified cold
        "page_cache_gbps": max(r["gbps"] for r in reads if r["cache"] == WARM),
    }


# --- the child: one fresh process, one load ------------------------------------------------


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

        import editbench.scorers.qwen3_vl
        import editbench.worker  # noqa: F401

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


def shard_paths(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.safetensors"))


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

    from editbench.scorers.qwen3_vl import Qwen3VLJudge

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


# --- the parent ----------------------------------------------------------------------------


class Child:
    """A spawned child process, spoken to over its stdin and stdout; its stderr is its log."""

    def __init__(self, label: str, spec: LoadSpec, args: argparse.Namespace) -> None:
        self.label = label
        command = [sys.executable, "-m", "benchmarks.load_time", "--child", spec.kind]
        command += ["--dir", str(args.dir), "--device", args.device, "--model", args.model]
        command += ["--shards", str(args.shards), "--spawned-at", repr(time.time())]
        command += ["--tiny"] * args.tiny
        command += ["--workers", str(spec.workers)] * (spec.workers is not None)
        command += ["--backend", spec.backend] * (spec.backend is not None)
        path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
        env = {**os.environ, **spec.env, "PYTHONPATH": path}
        self.log_file = args.out / "children" / f"{label}.log"
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("w") as stderr:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env,
                text=True,
            )
        self.timeout = args.timeout
        self.ready: dict[str, Any] = {}

    def wait_ready(self) -> dict[str, Any]:
        """The child's start-up report, once it has imported what a worker imports."""
        self.ready = self.receive()
        return self.ready

    def receive(self) -> dict[str, Any]:
        """The child's next report; an error report if it died or ran past the timeout."""
        stdout: TextIO = self.process.stdout  # type: ignore[assignment]
        if not select.select([stdout], [], [], self.timeout)[0]:
            self.process.kill()
            return {"error": f"no report within {self.timeout} s, killed (see {self.log_file})"}
        line = stdout.readline()
        if not line:
            code = self.process.wait()
            return {"error": f"exited with {code} before reporting (see {self.log_file})"}
        return json.loads(line)

    def go(self) -> None:
        """Start the load (nothing if the child failed to start)."""
        if "error" not in self.ready:
            try:
                self.process.stdin.write("go\n")  # type: ignore[union-attr]
                self.process.stdin.flush()  # type: ignore[union-attr]
            except OSError:  # it died: receive() says how
                pass

    def result(self) -> dict[str, Any]:
        """The load's report, or why there is none."""
        return self.ready if "error" in self.ready else self.receive()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def run_children(children: list[Child], cache: str, shards: list[Path]) -> list[dict[str, Any]]:
    """Drop the page cache if ``cache`` is cold, start the children's loads at once, and
    collect their reports."""
    state = drop_cache(shards) if cache == COLD else {"resident": resident_fraction(shards)}
    for child in children:
        child.go()
    rows = []
    for child in children:
        rows.append({"label": child.label, "cache": cache, **state, **child.result()})
        child.close()
        log.info("%s: %s", child.label, json.dumps(rows[-1]))
    return rows


def knobs_read(names: tuple[str, ...]) -> dict[str, list[str]]:
    """For each name, the modules of the installed transformers (top level) that mention it."""
    spec = util.find_spec("transformers")
    folder = Path(next(iter(spec.submodule_search_locations)))  # type: ignore[union-attr]
    sources = {path.name: path.read_text(errors="replace") for path in folder.glob("*.py")}
    return {name: [file for file, text in sources.items() if name in text] for name in names}


def run_loads(args: argparse.Namespace, shards: list[Path], report: dict[str, Any]) -> None:
    """Every load of ``args.only``, cold then warm, each in a fresh process; then the judge
    by two processes at once. Rows go to ``report["loads"]`` as they come."""
    groups: list[list[tuple[LoadSpec, str]]] = []
    for spec in (spec for spec in SPECS if spec.name in args.only):
        if spec.knob is None or report["loading_knobs"].get(spec.knob):
            groups += [[(spec, COLD)], [(spec, WARM)]]
            continue
        reason = f"transformers {report['transformers']} does not read {spec.knob}"
        log.info("%s: skipped, %s", spec.name, reason)
        report["loads"].append({"label": spec.name, "skipped": reason})
    if args.pair:
        groups += [[(SPECS[0], cache)] * 2 for cache in (COLD, WARM)]
    if not groups:
        return

    def spawn(group: list[tuple[LoadSpec, str]]) -> list[Child]:
        pair = "-x2" if len(group) > 1 else ""
        return [
            Child(f"{spec.name}{pair}-{cache}{f'-{i}' if pair else ''}", spec, args)
            for i, (spec, cache) in enumerate(group)
        ]

    spawned: list[list[Child]] = []
    try:
        # The first child alone: start-up with nothing else going on; then the rest at once,
        # as a run's workers start, their imports overlapping.
        spawned.append(spawn(groups[0]))
        report["startup"] = {"alone": spawned[0][0].wait_ready()}
        log.info("start-up alone: %s", json.dumps(report["startup"]["alone"]))
        spawned += [spawn(group) for group in groups[1:]]
        together = [child.wait_ready() for children in spawned[1:] for child in children]
        startup = [ready["startup_s"] for ready in together if "startup_s" in ready]
        report["startup"]["together"] = {
            "children": len(together),
            "median_s": statistics.median(startup) if startup else None,
            "max_s": max(startup, default=None),
            "errors": [ready["error"] for ready in together if "error" in ready],
        }
        log.info("start-up together: %s", json.dumps(report["startup"]["together"]))
        for group, children in zip(groups, spawned, strict=True):
            rows = run_children(children, group[0][1], shards)
            for row in rows:
                row.update(load=group[0][0].name, bytes=report["checkpoint"]["bytes"])
            report["loads"] += rows
            if len(rows) > 1 and all("load_s" in row for row in rows):
                span = max(r["end_wall"] for r in rows) - min(r["start_wall"] for r in rows)
                report["loads"].append(
                    {
                        "label": f"{group[0][0].name}-x2 aggregate (bytes to both)",
                        "cache": group[0][1],
                        "load_s": span,
                        "bytes": sum(row["bytes"] for row in rows),
                    }
                )
    finally:
        for children in spawned:
            for child in children:
                child.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    """All steps; a failed step is recorded under ``errors`` and the next one runs."""
    report: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **{name: metadata.version(name) for name in ("torch", "transformers", "safetensors")},
        "python": sys.version.split()[0],
        "model": args.model,
        "tiny": args.tiny,
        "device": args.device,
        "dir": str(args.dir),
        "loading_knobs": knobs_read((*KNOBS, "GLOBAL_WORKERS")),
        "loads": [],
        "errors": {},
    }
    log.info("%s", json.dumps(report))
    if args.dir.exists() and any(args.dir.iterdir()):
        raise SystemExit(f"--dir {args.dir} is not empty: it is written, then removed, here")
    args.dir.mkdir(parents=True, exist_ok=True)

    def write() -> None:
        log.info("writing %s in %d shards from %s", args.model, args.shards, args.device)
        writer = Child("write", LoadSpec("write", "write"), args)
        writer.wait_ready()
        writer.go()
        report["checkpoint"] = writer.result()
        writer.close()
        if "error" in report["checkpoint"]:
            raise RuntimeError(report["checkpoint"]["error"])
        report["device_name"] = report["checkpoint"]["device_name"]

    try:
        for name, step in (
            ("write", write),
            ("disk", lambda: report.update(disk=measure_disk(shard_paths(args.dir)))),
            ("loads", lambda: run_loads(args, shard_paths(args.dir), report)),
        ):
            log.info("step %s", name)
            try:
                step()
            except Exception as error:  # record it and go on to the next step
                log.exception("step %s failed", name)
                report["errors"][name] = f"{type(error).__name__}: {error}"
                if name == "write":  # nothing to read
                    break
    finally:
        shutil.rmtree(args.dir, ignore_errors=True)
    disk = (report.get("disk") or {}).get("disk_gbps")
    for row in report["loads"]:
        if "load_s" in row:
            row["gbps"] = row["bytes"] / GB / row["load_s"]
            row["x_disk"] = row["gbps"] / disk if disk else None
    return report


def table(report: dict[str, Any]) -> str:
    """The short summary printed last. x disk: GB/s over the disk's best verified cold read."""

    def number(value: float | None, spec: str = ".3g") -> str:
        return "n/a" if value is None else format(value, spec)

    checkpoint = report.get("checkpoint", {})
    lines = [
        f"\n{report.get('device_name', report['device'])}, torch {report['torch']}, transformers "
        f"{report['transformers']}, safetensors {report['safetensors']}, {report['date']}",
        f"checkpoint {report['model']}{' (tiny)' * report['tiny']}: "
        f"{number(checkpoint.get('bytes', 0) / GB)} GB in {checkpoint.get('shards')} shards, "
        f"written at {number(checkpoint.get('write_gbps'))} GB/s (save + fsync)",
    ]
    if "disk" in report:
        reads = report["disk"]["reads"]
        cold = reads[0]
        lines.append(
            "disk reads (GB/s): "
            + ", ".join(f"{r['cache']} {r['readers']} reader(s) {number(r['gbps'])}" for r in reads)
            + f"; cache dropped by {cold['dropped_by']}, resident after: "
            + ("unknown" if cold["resident"] is None else f"{cold['resident']:.1%}")
            + ("" if cold["cold"] else " (NOT cold: no disk speed)")
        )
    startup = report.get("startup", {})
    if "alone" in startup:
        alone, together = startup["alone"], startup.get("together", {})
        lines.append(
            f"start-up (spawn + imports + CUDA init): {number(alone.get('startup_s'), '.1f')} s "
            f"alone (imports {number(alone.get('imports_s'), '.1f')} s); "
            f"median {number(together.get('median_s'), '.1f')} s, "
            f"max {number(together.get('max_s'), '.1f')} s with {together.get('children')} at once"
        )
    lines += [f"error in {step}: {error}" for step, error in report["errors"].items()]
    lines += [
        "| load | cache | load s | weights s | GB/s | x disk "
        "| peak anon GB | peak RSS GB | GPU GB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in report["loads"]:
        if "skipped" in row or "error" in row:
            reason = row.get("skipped") or row["error"]
            lines.append(f"| {row['label']} | {row.get('cache', '')} | {reason} |")
            continue
        columns = [row["load_s"], row.get("weights_s"), row["gbps"], row["x_disk"]]
        columns += [row.get(key) for key in ("peak_anon_gb", "peak_rss_gb", "gpu_allocated_gb")]
        lines.append(
            f"| {row['label']} | {row['cache']} | " + " | ".join(map(number, columns)) + " |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench_out"))
    parser.add_argument("--model", default=MODEL_NAMES[0], choices=MODEL_NAMES)
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path("/tmp/load_time_ckpt"),
        help="checkpoint folder: must be empty or absent; removed at the end",
    )
    parser.add_argument("--tiny", action="store_true", help="tiny config (CPU)")
    parser.add_argument("--device", default=None, help="cuda:0 where a GPU is; cpu with --tiny")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--only", nargs="+", default=SPEC_NAMES, choices=SPEC_NAMES)
    parser.add_argument(
        "--pair",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also the judge loaded by two processes at once",
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds per child report")
    # The child's own options (set by the parent).
    parser.add_argument("--child", choices=list(CHILD_KINDS), help=argparse.SUPPRESS)
    parser.add_argument("--spawned-at", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--backend", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.device is None:  # the parent never imports torch: look for the driver's device
        gpu = Path("/dev/nvidiactl").exists() and not args.tiny
        args.device = "cuda:0" if gpu else "cpu"
    args.dir = args.dir.resolve()
    args.out = args.out.resolve()
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        child_main(args)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(message)s",
        handlers=[
            logging.StreamHandler(sys.stdout),
            logging.FileHandler(args.out / "load_time.log"),
        ],
    )
    report = run(args)
    (args.out / "load_time.json").write_text(json.dumps(report, indent=2))
    log.info("%s", table(report))


if __name__ == "__main__":
    main()
