"""How long the README's demo takes: ``python -m editbench experiment=demo``, first and later runs.

Each round runs the demo three times: ``first`` in a new empty folder with an empty
``EDITBENCH_CACHE`` (it builds the tiny models and checks the sample images; its store and
MLflow database are new), ``second`` again in the same folder (the store answers every edit and
judgement), and ``new_store`` in another new folder with the same cache (the tiny models built,
every edit and judgement done again). For each run: the process's wall time, the CPU seconds of
the run and all its workers, the load average when it started (other work on the machine slows
the wall time, and the CPU seconds too where torch's threads wait for a busy core), and the
run's own ``timing`` from results.json.

    python -m benchmarks.demo_time --out /tmp/demo-time [--rounds 2]

Run it from the repository; ``PYTHONPATH`` chooses which editbench the demo runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

COMMAND = [sys.executable, "-m", "editbench", "experiment=demo"]


def timed_demo(folder: Path, cache: Path, out: Path) -> dict[str, Any]:
    """Run the demo in ``folder`` with ``cache`` as its EDITBENCH_CACHE; its figures. Its output
    goes to ``out``.log, and its run folder's logs and results.json to ``out``/."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()
    start = time.perf_counter()
    with open(out.with_suffix(".log"), "w") as output:
        done = subprocess.run(
            COMMAND,
            cwd=folder,
            env={**os.environ, "EDITBENCH_CACHE": str(cache)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    runs = sorted(folder.glob("outputs/runs/*/*"), key=lambda path: path.stat().st_mtime)
    timing = None
    if runs:  # the newest run folder: the one this run wrote
        out.mkdir()
        for path in [*runs[-1].glob("*.log"), *runs[-1].glob("results.json")]:
            shutil.copy2(path, out)
        if (out / "results.json").exists():
            timing = json.loads((out / "results.json").read_text())["timing"]
    return {
        "exit_code": done.returncode,
        "wall_s": round(wall, 2),
        "cpu_s": round(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 2),
        "load_average_1_5_15": [round(x, 2) for x in load],
        "timing": timing,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="results and logs go here")
    parser.add_argument("--rounds", type=int, default=1, help="how many times to run the three")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for round_ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            cache = Path(tmp) / "cache"
            for run, folder in (("first", "a"), ("second", "a"), ("new_store", "b")):
                (Path(tmp) / folder).mkdir(exist_ok=True)
                row = {"round": round_, "run": run}
                out = args.out / f"demo-{round_}-{run}"
                row |= timed_demo(Path(tmp) / folder, cache, out)
                rows.append(row)
                print(json.dumps(row), flush=True)
    (args.out / "demo_time.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
