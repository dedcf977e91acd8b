"""Hostile runs: a sample that only the model can reject, a damaged edit in the store, a judge that
writes too much or a number that is not one, a server that never answers. Each such sample gets a
status of its own and the run goes on; a run that judged nothing (or too little) says so and is
not a result."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from editbench.config.resolvers import SAMPLE_DATA
from editbench.config.validate import validate
from editbench.errors import EditbenchError, RunIncomplete
from editbench.launch.failures import each_result, stops_the_worker, storable
from editbench.records import (
    EDIT_ERROR,
    JUDGE_ERROR,
    MAX_REPLY_CHARS,
    OK,
    REPLY_TOO_LONG,
    Judgement,
)
from editbench.results.summary import coverage_problem
from editbench.run import run
from editbench.store import Store

from .conftest import ROOT, local_overrides

SMALL = ["experiment=demo", "tracking=none", "dataset.limit=4", "layout.cpu_threads=1"]
FLAKY = "editor._target_=tests.faulty.FlakyEditor"


def rows_of(run_dir: Path) -> dict[str, dict]:
    lines = (run_dir / "samples.jsonl").read_text().split("\n")
    return {row["id"]: row for row in map(json.loads, filter(None, lines))}


# --- the worker's rules, one sample at a time -----------------------------------------------


def test_errors_of_the_worker_itself_stop_it_and_others_fail_one_sample():
    class OutOfMemoryError(RuntimeError):  # torch's, by name
        pass

    for error in (MemoryError(), OutOfMemoryError("CUDA out of memory"), AttributeError("x")):
        assert stops_the_worker(error), error
    assert stops_the_worker(RuntimeError("CUDA error: device-side assert triggered"))
    for error in (
        ValueError("height and width must be > 0"),
        OSError("broken data stream when reading image file"),
        RuntimeError("The size of tensor a (4096) must match the size of tensor b (1024)"),
        ZeroDivisionError("division by zero"),
    ):
        assert not stops_the_worker(error), error


def test_a_batch_that_fails_is_run_again_one_by_one_so_only_the_culprit_fails():
    calls = []

    def run(requests):
        calls.append(list(requests))
        if "bad" in requests:
            raise ValueError("cannot take 'bad'")
        return [f"done {r}" for r in requests]

    results = [(task, result) for task, result, _ in each_result(run, ["a", "bad", "c"], [1, 2, 3])]
    assert [task for task, _ in results] == [1, 2, 3]
    assert results[0][1] == "done a" and results[2][1] == "done c"
    assert isinstance(results[1][1], ValueError)
    assert calls == [["a", "bad", "c"], ["a"], ["bad"], ["c"]]


def test_a_worker_error_in_a_batch_is_raised_not_stored():
    def run(requests):
        raise MemoryError("out of host memory")

    with pytest.raises(MemoryError):
        list(each_result(run, ["a", "b"], [1, 2]))


def test_a_reply_over_the_cap_is_cut_and_kept_as_its_own_status():
    verdict = storable(Judgement(OK, "Score: 7 " + "x" * (MAX_REPLY_CHARS + 10), score=7.0))
    assert verdict.status == REPLY_TOO_LONG and verdict.score is None
    assert len(verdict.reply) == MAX_REPLY_CHARS
    assert f"{MAX_REPLY_CHARS + 19:,} characters" in verdict.error


@pytest.mark.parametrize(
    "verdict",
    [
        Judgement(OK, "Score: nan", score=math.nan),
        Judgement(OK, "Score: 5", score=5.0, criteria={"SC": math.inf}),
        Judgement(OK, "Score: 5", score=5.0, distribution=[math.nan] * 11, entropy=math.nan),
    ],
)
def test_a_number_that_is_not_finite_is_the_judges_failure_not_a_score(verdict):
    stored = storable(verdict)
    assert stored.status == JUDGE_ERROR and stored.score is None
    assert "not finite" in stored.error


def test_a_short_reply_with_finite_numbers_is_stored_as_it_is():
    verdict = Judgement(OK, "Score: 7", score=7.0, criteria={"SC": 7.0})
    assert storable(verdict) is verdict


# --- the end of a run ------------------------------------------------------------------------


def results_with(judged: int, n: int) -> dict:
    return {"overall": {"n": n, "judged": judged}}


def test_a_run_that_judged_nothing_is_not_a_result_whatever_the_threshold():
    rows = [
        {"id": "a", "status": "api_error", "error": "Connection refused"},
        {"id": "b", "status": "api_error", "error": "Connection refused"},
        {"id": "c", "status": EDIT_ERROR, "error": "ValueError: NaN"},
    ]
    problem = coverage_problem(rows, results_with(0, 3), min_coverage=0.0)
    assert problem.startswith("judged none of the 3 samples")
    assert "2 api_error, e.g. 'a': Connection refused" in problem
    assert "1 edit_error, e.g. 'c': ValueError: NaN" in problem
    assert "Re-run the same command" in problem


def test_coverage_under_the_threshold_is_named_with_the_threshold():
    rows = [{"id": str(i), "status": OK} for i in range(3)] + [
        {"id": "p", "status": "parse_error", "error": "no score"}
    ]
    assert coverage_problem(rows, results_with(3, 4), min_coverage=0.75) is None
    problem = coverage_problem(rows, results_with(3, 4), min_coverage=0.9)
    assert problem.startswith("judged 3 of 4 samples (75.0%), under min_coverage=0.9")
    assert "Re-run" not in problem  # a parse error is a verdict: re-running changes nothing


# --- settings refused before anything runs ---------------------------------------------------


def test_a_store_root_that_is_a_file_is_refused_before_any_model_loads(compose_config, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    for root, says in ((tmp_path / "file", "is a file"), (tmp_path / "file" / "s", "lies under")):
        with pytest.raises(EditbenchError, match=f"store.root=.*{says}.*expected a folder"):
            validate(compose_config(*SMALL, f"store.root={root}"))


@pytest.mark.parametrize(
    "setting", ["min_coverage=1.5", "min_coverage=-0.1", "store.max_attempts=0"]
)
def test_thresholds_outside_their_range_are_refused(compose_config, setting):
    with pytest.raises(EditbenchError, match=setting.split("=")[0].replace(".", r"\.")):
        validate(compose_config(*SMALL, setting))


# --- whole runs ------------------------------------------------------------------------------


def test_a_sample_the_editor_rejects_fails_alone_and_is_retried_a_bounded_number_of_times(
    compose_config, tmp_path, monkeypatch
):
    monkeypatch.setenv("EDITBENCH_TEST_FAIL_ON", "wooden log")
    cfg = compose_config(*SMALL, FLAKY, "store.max_attempts=2")
    first = run(cfg, tmp_path / "first")
    rows = rows_of(tmp_path / "first")
    failed = rows["physical-pond-log"]
    assert failed["status"] == EDIT_ERROR and failed["score"] is None
    assert failed["edited_image"] is None
    assert "ValueError: injected failure on 'Put a large wooden log" in failed["error"]
    assert [row["status"] for row in rows.values()].count(OK) == 3
    assert first["overall"]["judged"] == 3
    assert first["categories"]["physical"]["failures"] == {EDIT_ERROR: 1}
    store = Store(tmp_path / "store")
    assert store.read_edit(failed["edit_key"])["attempts"] == 1

    second = run(cfg, tmp_path / "second")  # tried again: attempt 2 of 2
    assert second["work"]["edits_done"] == 1 and second["work"]["judgements_done"] == 0
    assert store.read_edit(failed["edit_key"])["attempts"] == 2

    third = run(cfg, tmp_path / "third")  # tried twice: kept as it is
    assert third["work"]["edits_done"] == 0 and third["work"]["judgements_done"] == 0
    assert rows_of(tmp_path / "third")["physical-pond-log"]["status"] == EDIT_ERROR

    # Once the editor can make it, a run with more attempts allowed makes and judges it.
    monkeypatch.delenv("EDITBENCH_TEST_FAIL_ON")
    fourth = run(compose_config(*SMALL, FLAKY, "store.max_attempts=3"), tmp_path / "fourth")
    assert fourth["work"]["edits_done"] == 1 and fourth["work"]["judgements_done"] == 1
    assert fourth["overall"]["judged"] == 4


def test_a_huge_instruction_fails_its_sample_alone(compose_config, tmp_path):
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    lines = []
    for i, line in enumerate((SAMPLE_DATA / "manifest.jsonl").read_text().split("\n")[:3]):
        entry = json.loads(line)
        (data / entry["image"]).write_bytes((SAMPLE_DATA / entry["image"]).read_bytes())
        if i == 1:
            entry["instruction"] = "Make it brighter. " * 6000  # 108 KB
        lines.append(json.dumps(entry))
    (data / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    results = run(compose_config(*SMALL, f"dataset.root={data}"), tmp_path / "run")
    rows = list(rows_of(tmp_path / "run").values())
    assert [row["status"] for row in rows] == [OK, EDIT_ERROR, OK]
    assert rows[1]["error"]
    assert results["overall"]["judged"] == 2


def test_edits_the_model_returns_as_nan_are_failures_and_the_run_is_not_a_result(
    compose_config, tmp_path
):
    cfg = compose_config(*SMALL, "editor.call.num_inference_steps=1")
    with pytest.raises(RunIncomplete, match="judged none of the 4 samples") as raised:
        run(cfg, tmp_path / "run")
    assert "4 edit_error" in str(raised.value) and "finite" in str(raised.value)
    rows = rows_of(tmp_path / "run")  # written before the run said so
    assert {row["status"] for row in rows.values()} == {EDIT_ERROR}
    assert not list((tmp_path / "store" / "edits").rglob("*.png"))


def corrupt_png_data(image: Image.Image) -> bytes:
    """A PNG whose every chunk checksum is right and whose image data is not a zlib stream."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    start = data.index(b"IDAT") + 4
    length = int.from_bytes(data[start - 8 : start - 4], "big")
    for i in range(start + 2, start + length, 7):
        data[i] ^= 0x5A
    crc = zlib.crc32(bytes(data[start - 4 : start + length]))
    data[start + length : start + length + 4] = crc.to_bytes(4, "big")
    return bytes(data)


def replace_edit(store: Store, key: str, data: bytes) -> None:
    """Replace an edit's image and its record's hash, as an older editbench would have stored
    it: intact by the store's own check."""
    import hashlib

    store.edit_image_path(key).write_bytes(data)
    record_path = store.edit_image_path(key).with_suffix(".json")
    record = json.loads(record_path.read_text())
    record["image_sha256"] = hashlib.sha256(data).hexdigest()
    record_path.write_text(json.dumps(record))


def test_a_damaged_edit_in_the_store_fails_its_judgement_alone(compose_config, tmp_path):
    cfg = compose_config(*SMALL)
    run(cfg, tmp_path / "first")
    rows = list(rows_of(tmp_path / "first").values())
    store = Store(tmp_path / "store")
    with Image.open(rows[0]["edited_image"]) as image:
        replace_edit(store, rows[0]["edit_key"], corrupt_png_data(image.convert("RGB")))
    sliver = io.BytesIO()
    Image.new("RGB", (5000, 1), "red").save(sliver, format="PNG")
    replace_edit(store, rows[1]["edit_key"], sliver.getvalue())
    for row in rows:
        store.judgement_path(row["judgement_key"]).unlink()

    results = run(cfg, tmp_path / "second")
    again = list(rows_of(tmp_path / "second").values())
    assert [row["status"] for row in again] == [JUDGE_ERROR, JUDGE_ERROR, OK, OK]
    assert "OSError" in again[0]["error"] or "SyntaxError" in again[0]["error"]
    assert "ratio" in again[1]["error"]
    assert results["overall"]["judged"] == 2
    record = store.read_judgement(again[0]["judgement_key"])
    assert record["status"] == JUDGE_ERROR and record["attempts"] == 1


def test_a_judge_that_writes_too_much_or_no_number_fails_those_samples_alone(
    compose_config, tmp_path, monkeypatch
):
    monkeypatch.setenv("EDITBENCH_TEST_FAIL_ON", "wooden log")
    monkeypatch.setenv("EDITBENCH_TEST_NAN_ON", "chrome ball")
    cfg = compose_config(
        *SMALL, "scorer._target_=tests.faulty.OverflowingJudge", "scorer.score_mode=generate"
    )
    results = run(cfg, tmp_path / "run")
    rows = rows_of(tmp_path / "run")
    assert rows["physical-pond-log"]["status"] == REPLY_TOO_LONG
    assert "characters, over the" in rows["physical-pond-log"]["error"]
    assert rows["physical-chrome-ball"]["status"] == JUDGE_ERROR
    assert "not finite" in rows["physical-chrome-ball"]["error"]
    assert results["overall"]["judged"] == 2
    stored = Store(tmp_path / "store").read_judgement(rows["physical-pond-log"]["judgement_key"])
    assert len(stored["reply"]) == MAX_REPLY_CHARS
    assert "NaN" not in (tmp_path / "run" / "results.json").read_text()


@pytest.mark.slow
def test_a_run_whose_judge_was_never_reached_exits_non_zero(tmp_path):
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "editbench",
            *SMALL,
            "dataset.limit=2",
            "scorer=openai_api",
            "scorer.base_url=http://127.0.0.1:9/v1",  # the discard port: nothing listens
            "scorer.model=judge",
            "scorer.max_retries=0",
            f"hydra.run.dir={tmp_path / 'run'}",
            *local_overrides(tmp_path),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "OPENAI_API_KEY": "sk-test", "PYTHONPATH": str(ROOT)},
        timeout=600,
    )
    assert process.returncode == 1, process.stderr[-3000:]
    assert "judged none of the 2 samples" in process.stderr
    assert "2 api_error" in process.stderr and "Re-run the same command" in process.stderr
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["overall"]["coverage"] == 0.0
