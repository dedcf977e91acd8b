"""benchmarks/load_time.py: the tiny path as a user runs it; its disk helpers (benchmarks/disk.py)
and the stream load of its child (benchmarks/load_time_child.py)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import disk, load_time_child

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_tiny_run_loads_through_the_judge(tmp_path: Path) -> None:
    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    command = [sys.executable, "-m", "benchmarks.load_time", "--tiny", "--out", str(out)]
    command += ["--dir", str(checkpoint), "--only", "judge", "--no-pair", "--timeout", "120"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]

    report = json.loads((out / "load_time.json").read_text())
    assert report["errors"] == {}
    written = report["checkpoint"]
    assert written["bytes"] > 0 and written["shards"] > 1
    assert written["write_gbps"] > 0
    reads = report["disk"]["reads"]
    assert all(read["gbps"] > 0 for read in reads)
    # A disk speed only from a read whose cold cache was checked; no number otherwise.
    verified = [read["gbps"] for read in reads if read["cache"] == "cold" and read["cold"]]
    assert report["disk"]["disk_gbps"] == (max(verified) if verified else None)

    loads = {row["label"]: row for row in report["loads"]}
    assert set(loads) == {"judge-cold", "judge-warm"}
    for row in loads.values():
        assert row["via"] == "Qwen3VLJudge.load"
        assert row["loaded_class"] == "Qwen3VLForConditionalGeneration"
        assert row["param_devices"] == ["cpu"]
        assert row["load_s"] >= row["weights_s"] > 0
        assert row["bytes"] == written["bytes"]
        assert row["gbps"] == pytest.approx(written["bytes"] / 1e9 / row["load_s"])
        assert 0 < row["peak_anon_gb"] <= row["peak_rss_gb"]
    assert loads["judge-warm"]["resident"] == 1.0
    startup = report["startup"]
    assert startup["alone"]["imports_s"] > 0 and startup["together"]["children"] == 1

    assert not checkpoint.exists()  # removed at the end
    assert (out / "load_time.log").exists() and (out / "children" / "judge-cold.log").exists()
    assert done.stdout.rstrip().splitlines()[-1].startswith("| judge-warm | warm |")


def test_drop_cache_is_checked_with_mincore(tmp_path: Path) -> None:
    path = tmp_path / "weights.safetensors"
    path.write_bytes(os.urandom(3 * 2**20))
    path.read_bytes()
    assert disk.resident_fraction([path]) == 1.0
    state = disk.drop_cache([path])
    resident = disk.resident_fraction([path])
    assert state["dropped_by"] in ("fadvise", "drop_caches")
    # Cold only where mincore says so (tmpfs, for one, cannot drop its pages).
    assert state["cold"] == (resident is not None and resident <= disk.COLD_RESIDENT)


def test_stream_copies_every_byte(tmp_path: Path) -> None:
    sizes = (disk.CHUNK + 12345, 777)
    contents = [os.urandom(size) for size in sizes]
    for i, content in enumerate(contents):
        (tmp_path / f"model-{i}.safetensors").write_bytes(content)
    args = argparse.Namespace(dir=tmp_path, device="cpu")
    facts, targets = load_time_child.load_stream(args)
    assert facts["reads"] == 3
    assert [target.numpy().tobytes() for target in targets] == contents
    assert disk.read_files(sorted(tmp_path.iterdir()), readers=2) > 0
