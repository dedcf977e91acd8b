"""The process model: data-parallel workers, layouts, fail-fast, resume, other interpreters."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from editbench.run import run

from .conftest import ROOT, local_overrides

# One torch thread per worker: CPU reductions, and so the bits, depend on the thread count.
SMALL = ["experiment=demo", "tracking=none", "dataset.limit=4", "layout.cpu_threads=1"]
# Hang guards, ten times the normal time on an idle 2-core machine. A whole demo run through the
# CLI (10 samples, two workers per device) takes 43 s, and no wait for a run's first results
# takes longer; the workers of a run that has ended are gone within 1.3 s.
RUN_S = 450
EXIT_S = 15


def store_contents(root: Path) -> dict[str, bytes]:
    """Edited images and judgement scores by key."""
    contents = {p.name: p.read_bytes() for p in (root / "edits").rglob("*.png")}
    for p in (root / "judgements").rglob("*.json"):
        record = json.loads(p.read_text())
        contents[p.name] = json.dumps(
            [record["status"], record["score"], record["distribution"]]
        ).encode()
    return contents


def test_results_do_not_depend_on_worker_count(compose_config, tmp_path):
    one = run(compose_config(*SMALL, f"store.root={tmp_path / 'one'}"), tmp_path / "run-one")
    two = run(
        compose_config(*SMALL, f"store.root={tmp_path / 'two'}", "layout.workers_per_device=2"),
        tmp_path / "run-two",
    )
    assert len(two["throughput"]["edit"]["workers"]) == 2
    assert all(w["images"] >= 1 for w in two["throughput"]["edit"]["workers"].values())
    first, second = store_contents(tmp_path / "one"), store_contents(tmp_path / "two")
    assert len(first) == 8 and first == second
    assert one["categories"] == two["categories"]


def start_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "editbench", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            **(env or {}),
        },
        start_new_session=True,  # its own process group, as a terminal's foreground job
        # Ctrl-C as a terminal delivers it, even where these tests run as a background job
        # (a shell starts those with SIGINT ignored, and children inherit that).
        preexec_fn=_interruptible,
    )


def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stored_edits(store: Path) -> int:
    return sum(1 for _ in (store / "edits").rglob("*.json")) if store.exists() else 0


def wait_until(process: subprocess.Popen[str], done: Callable[[], bool], what: str) -> None:
    """Poll ``done()`` while ``process`` runs, for at most ``RUN_S``; ``what`` names the wait."""
    deadline = time.monotonic() + RUN_S
    while not done():
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, f"no {what}"
        time.sleep(0.1)


def wait_for_edits(process: subprocess.Popen[str], store: Path, count: int) -> None:
    wait_until(process, lambda: stored_edits(store) >= count, "edits appeared")


def workers_of(process: subprocess.Popen[str]) -> list[psutil.Process]:
    children = psutil.Process(process.pid).children(recursive=True)
    return [c for c in children if "spawn_main" in command_line(c)]


def command_line(process: psutil.Process) -> str:
    """The process's command line; "" for one that ended since it was listed (a zombie too)."""
    try:
        return " ".join(process.cmdline())
    except psutil.NoSuchProcess:  # ZombieProcess is one
        return ""


def edit_workers(process: subprocess.Popen[str], run_dir: Path) -> list[psutil.Process]:
    """The edit workers among ``process``'s workers (the judges start early, and wait), by the
    pid each worker writes in its log."""
    pids = {
        int(line.rsplit("pid=", 1)[1])
        for log in run_dir.glob("edit-*.log")
        for line in log.read_text().splitlines()
        if "pid=" in line
    }
    return [worker for worker in workers_of(process) if worker.pid in pids]


def cli_args(tmp_path: Path, run: str, *extra: str) -> list[str]:
    return [
        "experiment=demo",
        "tracking=none",
        "layout.workers_per_device=2",
        f"hydra.run.dir={tmp_path / run}",
        *local_overrides(tmp_path),
        *extra,
    ]


def finish(process: subprocess.Popen[str]) -> str:
    _, stderr = process.communicate(timeout=RUN_S)
    return stderr


def assert_no_orphans(workers: list[psutil.Process]) -> None:
    _, alive = psutil.wait_procs(workers, timeout=EXIT_S)
    assert not alive, f"workers left running: {alive}"


def resume(tmp_path: Path) -> dict:
    process = start_cli(*cli_args(tmp_path, "resumed"), cwd=tmp_path)
    stderr = finish(process)
    assert process.returncode == 0, stderr[-3000:]
    return json.loads((tmp_path / "resumed" / "results.json").read_text())


@pytest.mark.slow
def test_killed_worker_stops_the_run_and_a_rerun_resumes(tmp_path):
    process = start_cli(*cli_args(tmp_path, "killed"), cwd=tmp_path)
    wait_for_edits(process, tmp_path / "store", 2)
    workers = workers_of(process)
    assert len(workers) == 4  # two editors, and two judges started early, waiting to load
    edit_workers(process, tmp_path / "killed")[0].kill()
    stderr = finish(process)

    assert process.returncode == 1
    assert "killed by signal 9" in stderr and "worker edit-" in stderr and "on cpu" in stderr
    assert "re-run the same command to resume" in stderr
    assert_no_orphans(workers)
    kept = stored_edits(tmp_path / "store")
    assert kept >= 2
    assert not list((tmp_path / "store").rglob("*.tmp"))

    results = resume(tmp_path)
    assert results["work"]["edits_reused"] == kept
    assert results["work"]["edits_done"] == 10 - kept
    assert results["overall"]["judged"] == 10


@pytest.mark.slow
def test_worker_raising_names_the_sample_and_cause(tmp_path):
    process = start_cli(
        *cli_args(tmp_path, "raised", "editor._target_=tests.faulty.FlakyEditor"),
        cwd=tmp_path,
        env={"EDITBENCH_TEST_FAIL_ON": "wooden log", "EDITBENCH_TEST_FAIL_AS": "MemoryError"},
    )
    workers = []
    while process.poll() is None and not workers:
        time.sleep(0.1)
        workers = workers_of(process)
    stderr = finish(process)
    assert process.returncode == 1
    assert "failed on sample(s) physical-pond-log" in stderr
    assert "MemoryError: injected failure on 'Put a large wooden log into the pond.'" in stderr
    assert_no_orphans(workers)

    kept = stored_edits(tmp_path / "store")
    results = resume(tmp_path)
    assert results["work"]["edits_reused"] == kept
    assert results["work"]["edits_done"] == 10 - kept


@pytest.mark.slow
def test_ctrl_c_stops_every_worker_and_keeps_the_work(tmp_path):
    process = start_cli(*cli_args(tmp_path, "interrupted"), cwd=tmp_path)
    wait_for_edits(process, tmp_path / "store", 1)
    workers = workers_of(process)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends
    stderr = finish(process)
    assert process.returncode == 130
    assert "interrupted" in stderr
    assert "Traceback" not in stderr
    assert_no_orphans(workers)
    assert stored_edits(tmp_path / "store") >= 1
    assert not list((tmp_path / "store").rglob("*.tmp"))


@pytest.mark.slow
def test_killed_judge_worker_leaves_no_preparing_process(tmp_path):
    """A judge that prepares its batches in a process of its own (as on a GPU): killing its
    worker stops the run, and that process goes too."""
    process = start_cli(
        *cli_args(
            tmp_path,
            "killed",
            "scorer._target_=tests.faulty.SlowJudge",
            "scorer.prepare_processes=1",
            "scorer.batch_size=1",
        ),
        cwd=tmp_path,
    )
    judgements = tmp_path / "store" / "judgements"
    wait_until(process, lambda: any(judgements.rglob("*.json")), "judgements appeared")
    descendants = psutil.Process(process.pid).children(recursive=True)
    scorers = [w for w in workers_of(process) if w.children()]  # a worker with its preparer
    assert scorers, [command_line(d) for d in descendants]
    scorers[0].kill()
    stderr = finish(process)
    assert process.returncode == 1
    assert "worker score-" in stderr and "killed by signal 9" in stderr
    assert_no_orphans(descendants)


@pytest.mark.slow
def test_killed_editor_leaves_no_preparing_process_of_a_waiting_judge(tmp_path):
    """Judges start their preparing process while the editors work (as on a GPU). An editor
    killed then stops the run, and no process is left behind, not even a preparing process
    that was still starting when its judge was stopped (it would hold the run's output open)."""
    process = start_cli(
        *cli_args(
            tmp_path,
            "killed",
            "editor._target_=tests.faulty.SlowEditor",
            "scorer.prepare_processes=1",
        ),
        cwd=tmp_path,
        env={"EDITBENCH_TEST_EDIT_DELAY": "5"},
    )
    logs, started = tmp_path / "killed", "starting 1 preparing process"
    wait_until(
        process,
        lambda: any(started in log.read_text() for log in logs.glob("score-*.log")),
        "judge started its preparing process",
    )
    descendants = psutil.Process(process.pid).children(recursive=True)
    edit_workers(process, logs)[0].kill()  # while that preparing process still imports
    stderr = finish(process)
    assert process.returncode == 1
    assert "worker edit-" in stderr and "killed by signal 9" in stderr
    assert_no_orphans(descendants)


@pytest.mark.slow
def test_a_judge_worker_with_a_preparing_process_exits_when_done(tmp_path):
    """A judge worker stops its preparing process itself once its work is done: a process
    joins its children as it exits, and would wait for that one for ever."""
    process = start_cli(
        *cli_args(
            tmp_path, "kept", "scorer._target_=tests.faulty.KeptJudge", "scorer.prepare_processes=1"
        ),
        cwd=tmp_path,
    )
    stderr = finish(process)
    assert process.returncode == 0, stderr[-3000:]
    results = json.loads((tmp_path / "kept" / "results.json").read_text())
    assert results["overall"]["judged"] == 10


def log_times(log: Path, phase: str) -> list[float]:
    """When each batch of ``phase`` finished, from a worker's log (``YYYY-mm-dd HH:MM:SS,ms``)."""
    times = []
    for line in log.read_text().splitlines():
        if f" {phase} [" in line:
            stamp = time.strptime(line[:19], "%Y-%m-%d %H:%M:%S")
            times.append(time.mktime(stamp) + int(line[20:23]) / 1000)
    return times


def test_split_layout_scores_edits_as_they_land(compose_config, tmp_path):
    cfg = compose_config(*SMALL, "layout=split", "scorer.batch_size=1")
    results = run(cfg, tmp_path / "run")
    assert results["overall"]["judged"] == 4
    assert results["work"] == {
        "edits_done": 4,
        "edits_reused": 0,
        "judgements_done": 4,
        "judgements_reused": 0,
    }
    first_judgement = min(log_times(tmp_path / "run" / "score-0.log", "score"))
    last_edit = max(log_times(tmp_path / "run" / "edit-0.log", "edit"))
    assert first_judgement < last_edit


def make_venv(path: Path, *search_path: Path) -> Path:
    """A second Python environment whose site-packages lists ``search_path`` in a .pth file."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "editbench_test.pth").write_text("".join(f"{p}\n" for p in search_path))
    return python


def test_judge_runs_under_another_interpreter(compose_config, tmp_path):
    import sysconfig

    marker = tmp_path / "only-in-the-second-env"
    marker.mkdir()
    python = make_venv(tmp_path / "judge-env", Path(sysconfig.get_paths()["purelib"]), ROOT, marker)
    cfg = compose_config(*SMALL, "dataset.limit=2", f"scorer.python={python}")
    results = run(cfg, tmp_path / "run")
    assert results["overall"]["judged"] == 2
    log = (tmp_path / "run" / "score-0.log").read_text()
    assert f"interpreter {python}" in log
    assert str(marker) in log  # the second environment's own search path, not the parent's
    assert str(marker) not in (tmp_path / "run" / "edit-0.log").read_text()


def test_interpreter_is_checked_before_any_model_loads(compose_config, tmp_path):
    from editbench.config.validate import validate
    from editbench.errors import EditbenchError

    with pytest.raises(EditbenchError, match=r"scorer\.python='/no/python': no such interpreter"):
        validate(compose_config(*SMALL, "scorer.python=/no/python"))
    bare = make_venv(tmp_path / "bare-env")
    with pytest.raises(EditbenchError, match=r"editor\.python=.* cannot import editbench"):
        validate(compose_config(*SMALL, f"editor.python={bare}"))


def test_a_worker_loads_only_the_standard_library_before_it_restores_its_path():
    """Spawn imports the worker's module, and the messages it sends, under the parent's
    sys.path: nothing else may load before the worker restores its interpreter's own."""
    code = (
        "import sys; before = set(sys.modules); import editbench.launch.worker;"
        " print(sorted({m.split('.')[0] for m in set(sys.modules) - before}"
        " - set(sys.stdlib_module_names)))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert loaded.stdout.strip() == "['editbench']", loaded.stderr


def first_time(log: Path, text: str) -> float:
    """When ``text`` first appears in a worker's log (``YYYY-mm-dd HH:MM:SS,ms`` stamps)."""
    line = next(line for line in log.read_text().splitlines() if text in line)
    return time.mktime(time.strptime(line[:19], "%Y-%m-%d %H:%M:%S")) + int(line[20:23]) / 1000


def test_serial_load_starts_each_worker_after_the_previous_has_loaded(compose_config, tmp_path):
    cfg = compose_config(
        *SMALL, "layout.workers_per_device=2", "layout.load=serial", "scorer.batch_size=1"
    )
    results = run(cfg, tmp_path / "run")
    assert results["overall"]["judged"] == 4
    for phase in ("edit", "score"):
        first_loaded = first_time(tmp_path / "run" / f"{phase}-0.log", "loaded in")
        second_started = first_time(tmp_path / "run" / f"{phase}-1.log", "interpreter")
        assert second_started > first_loaded


def test_judges_start_while_editors_work_and_load_after_them(compose_config, tmp_path):
    """Under the shared layout, a judge worker's start-up (spawn, imports, its preparing
    process) overlaps the edit phase; its model loads only once every editor has ended."""
    cfg = compose_config(
        *SMALL, "layout.workers_per_device=2", "scorer.batch_size=1", "scorer.prepare_processes=1"
    )
    results = run(cfg, tmp_path / "run")
    assert results["overall"]["judged"] == 4
    folder = tmp_path / "run"
    edits_done = max(t for i in (0, 1) for t in log_times(folder / f"edit-{i}.log", "edit"))
    for i in (0, 1):
        log = folder / f"score-{i}.log"
        assert first_time(log, "interpreter") < edits_done  # started during the edit phase
        assert first_time(log, "starting 1 preparing process") < edits_done
        assert first_time(log, "loading onto") >= edits_done  # loaded after it
    # The score phase's own clock starts when the editors have ended.
    assert 0 < results["throughput"]["score"]["load_s"] < results["timing"]["wall_s"] / 2
