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

This module is the parent and the command line; the children run
:mod:`benchmarks.load_time_child`, and :mod:`benchmarks.disk` reads and evicts the files.

    python -m benchmarks.load_time --out $OUT                  # GPU: the 8B judge, ~4 min
    python -m benchmarks.load_time --out DIR --tiny            # CPU: same path, tiny config
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import select
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata, util
from pathlib import Path
from typing import Any, TextIO

from benchmarks.disk import COLD, GB, WARM, drop_cache, measure_disk, resident_fraction, shard_paths
from benchmarks.load_time_child import CHILD_KINDS, child_main

log = logging.getLogger("load_time")

ROOT = Path(__file__).resolve().parents[1]
MODEL_NAMES = ("qwen3-vl-8b", "qwen3-vl-30b-a3b")  # benchmarks.qwen3_vl_models.MODELS


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


class Child:
    """A spawned child process, spoken to over its stdin and stdout; its stderr is its log."""

    def __init__(self, label: str, spec: LoadSpec, args: argparse.Namespace) -> None:
        self.label = label
        # This module's command line, whose main() hands --child to load_time_child.child_main.
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
