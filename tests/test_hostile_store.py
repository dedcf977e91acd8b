"""A store that lies: every damaged record is read as missing (and named in the log), reported by
``python -m editbench.store verify``, and never trusted; nothing damaged can be written."""

from __future__ import annotations

import io
import json
import logging
import random
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from editbench.records import EDIT_ERROR, MAX_REPLY_CHARS
from editbench.store import Store, atomic_write_json, content_hash
from editbench.store.admin import verify

EDITOR = {"name": "diffusers", "version": 1, "model": "org/edit"}
JUDGE = {"name": "qwen3_vl", "version": 1, "model": "org/judge"}
EDIT_KEY = content_hash({"editor": EDITOR, "sample_id": "s1"})
JUDGEMENT_KEY = content_hash({"edit_key": EDIT_KEY, "judge": JUDGE})


def judgement(**change: object) -> dict:
    """A judgement as the worker writes it, with ``change`` applied."""
    return {
        "sample_id": "s1",
        "edit_key": EDIT_KEY,
        "judge": JUDGE,
        "prompt_sha256": "0" * 64,
        "status": "ok",
        "reply": "Score: 7",
        "score": 7.0,
        "distribution": None,
        "entropy": None,
        "error": None,
        "criteria": None,
        "samples": None,
        "spread": None,
        "device": "cuda:0",
        "seconds": 0.5,
        "created": "2026-12-01T00:00:00+00:00",
        "key": JUDGEMENT_KEY,
        **change,
    }


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """One edit, of a 32x32 image, and its judgement."""
    store = Store(tmp_path / "store")
    store.write_edit(EDIT_KEY, noise(32, 32), {"sample_id": "s1", "editor": EDITOR, "seed": 0})
    store.write_judgement(JUDGEMENT_KEY, judgement())
    assert verify(store).problems == []
    return store


def noise(width: int, height: int) -> Image.Image:
    pixels = random.Random(0).randbytes(width * height * 3)
    return Image.frombytes("RGB", (width, height), pixels)


def assert_damaged(store: Store, path: Path, read, reason: str, caplog) -> None:
    """``read()`` gives None, logged once with the file and ``reason``; verify names both."""
    with caplog.at_level(logging.WARNING, logger="editbench.store"):
        assert read() is None
        assert read() is None
    [logged] = [r.getMessage() for r in caplog.records if r.name == "editbench.store"]
    assert str(path) in logged and reason in logged, logged
    [problem] = verify(store).problems
    assert problem.path == path and reason in problem.reason, problem


# --- judgements ------------------------------------------------------------------------------

DAMAGED_JUDGEMENTS = {
    "non_utf8": (
        json.dumps(judgement(reply="Score: 7 é"), ensure_ascii=False)
        .encode()
        .replace("é".encode(), b"\xe9"),  # Latin-1, not UTF-8
        "record is not UTF-8 text (byte 0xe9 at offset",
    ),
    "list": (b"[]", "record is a JSON list; expected a JSON object"),
    "empty_object": (b"{}", "status None is not one of ok, parse_error"),
    "nan_score": (
        json.dumps(judgement(score=float("nan"))).encode(),
        "record holds NaN, which is not JSON",
    ),
    "infinite_score": (
        json.dumps(judgement()).replace('"score": 7.0', '"score": 1e999').encode(),
        "status is 'ok' but score is inf; expected a finite number",
    ),
    "boolean_score": (
        json.dumps(judgement(score=True)).encode(),
        "status is 'ok' but score is True; expected a finite number",
    ),
    "score_with_parse_error": (
        json.dumps(judgement(status="parse_error")).encode(),
        "status is 'parse_error' but it has a score (7.0); only 'ok' has one",
    ),
    "criterion_not_a_number": (
        json.dumps(judgement(criteria={"editing_success": "high"})).encode(),
        "criteria is {'editing_success': 'high'}; expected null or an object of names",
    ),
    "reply_too_long": (
        json.dumps(judgement(reply="x" * (MAX_REPLY_CHARS + 1))).encode(),
        f"reply is a string of {MAX_REPLY_CHARS + 1} characters; expected a string of at most",
    ),
    "wrong_key": (
        json.dumps(judgement(key="ab" * 32)).encode(),
        f"record's key '{'ab' * 32}' differs from its file name",
    ),
    "truncated": (
        json.dumps(judgement()).encode()[:40],
        "record is not a JSON object: invalid JSON",
    ),
    "attempts_zero": (
        json.dumps(judgement(status="judge_error", score=None, attempts=0)).encode(),
        "attempts is 0; expected an integer >= 1",
    ),
    "deeply_nested": (b"[" * 100_000 + b"]" * 100_000, "RecursionError"),
}


@pytest.mark.parametrize("case", DAMAGED_JUDGEMENTS)
def test_a_damaged_judgement_is_missing_logged_and_reported(store: Store, case: str, caplog):
    content, reason = DAMAGED_JUDGEMENTS[case]
    path = store.judgement_path(JUDGEMENT_KEY)
    path.write_bytes(content)
    assert_damaged(store, path, lambda: store.read_judgement(JUDGEMENT_KEY), reason, caplog)


@pytest.mark.parametrize(
    "change",
    [
        {"status": "judge_error", "score": None, "reply": "", "error": "boom", "attempts": 2},
        {"status": "reply_too_long", "score": None, "reply": "x" * MAX_REPLY_CHARS},
        {"criteria": {"SC": 7, "PQ": 8.5}, "samples": [7.0, None], "spread": 0.0},
        {"distribution": [0.0] * 7 + [1.0, 0.0, 0.0, 0.0], "entropy": 0.0},
    ],
)
def test_every_judgement_the_worker_writes_reads_back(store: Store, change: dict):
    written = store.write_judgement(JUDGEMENT_KEY, judgement(**change))
    assert store.read_judgement(JUDGEMENT_KEY) == written
    assert verify(store).problems == []


def test_a_judgement_of_an_older_editbench_stays_valid(store: Store):
    """No attempts, samples, spread or distribution: what earlier versions wrote."""
    older = {
        "status": "ok",
        "score": 3.0,
        "reply": "Score: 3",
        "judge": JUDGE,
        "key": JUDGEMENT_KEY,
    }
    store.judgement_path(JUDGEMENT_KEY).write_text(json.dumps(older))
    assert store.read_judgement(JUDGEMENT_KEY) == older
    assert verify(store).problems == []


# --- edits -----------------------------------------------------------------------------------


def edit_record_path(store: Store, key: str = EDIT_KEY) -> Path:
    return store.edit_image_path(key).with_suffix(".json")


def test_an_edit_whose_image_is_missing_is_missing_logged_and_reported(store: Store, caplog):
    store.edit_image_path(EDIT_KEY).unlink()
    path = edit_record_path(store)
    assert_damaged(store, path, lambda: store.read_edit(EDIT_KEY), "image is missing", caplog)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "maybe"}, "status 'maybe' is not one of ok, edit_error"),
        ({"image_sha256": None}, "image_sha256 is None; expected 64 lowercase hex digits"),
        ({"seed": "7"}, "seed is '7'; expected an integer"),
        ({"key": "ab" * 32}, "differs from its file name"),
    ],
)
def test_a_damaged_edit_record_is_missing_logged_and_reported(
    store: Store, change: dict, reason: str, caplog
):
    path = edit_record_path(store)
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    assert_damaged(store, path, lambda: store.read_edit(EDIT_KEY), reason, caplog)


def test_an_edit_record_holding_nan_is_missing_logged_and_reported(store: Store, caplog):
    path = edit_record_path(store)
    path.write_text(path.read_text().replace('"seed": 0', '"seconds": NaN, "seed": 0'))
    assert_damaged(store, path, lambda: store.read_edit(EDIT_KEY), "record holds NaN", caplog)


def test_an_edit_of_an_older_editbench_reads_as_ok(store: Store):
    path = edit_record_path(store)
    older = {k: v for k, v in json.loads(path.read_text()).items() if k != "status"}
    path.write_text(json.dumps(older))
    assert store.read_edit(EDIT_KEY) == {**older, "status": "ok"}
    assert verify(store).problems == []


def failure(**change: object) -> dict:
    return {
        "sample_id": "s1",
        "editor": EDITOR,
        "error": "ValueError: NaN",
        "attempts": 1,
        **change,
    }


def test_a_failed_edit_replaces_the_image_and_reads_back_as_edit_error(store: Store):
    written = store.write_edit_failure(EDIT_KEY, failure())
    assert written["status"] == EDIT_ERROR and written["key"] == EDIT_KEY
    assert not store.edit_image_path(EDIT_KEY).exists()  # the stale image went with it
    assert store.read_edit(EDIT_KEY) == written
    assert verify(store).problems == []
    # done at the next attempt: an ok edit again
    assert store.write_edit(EDIT_KEY, noise(32, 32), {"sample_id": "s1"})["status"] == "ok"
    assert store.read_edit(EDIT_KEY)["status"] == "ok"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"attempts": 0}, "attempts is 0; expected an integer >= 1"),
        ({"attempts": None}, "attempts is None; expected an integer >= 1"),
        ({"error": 3}, "error is 3; expected a string or null"),
        ({"image_sha256": "0" * 64}, "a failed edit (status 'edit_error') has an image_sha256"),
    ],
)
def test_a_damaged_failed_edit_is_missing_logged_and_reported(
    store: Store, change: dict, reason: str, caplog
):
    store.write_edit_failure(EDIT_KEY, failure())
    path = edit_record_path(store)
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    assert_damaged(store, path, lambda: store.read_edit(EDIT_KEY), reason, caplog)


def test_a_failed_edit_without_its_sample_error_or_attempts_is_refused(store: Store):
    before = edit_record_path(store).read_bytes()
    with pytest.raises(
        ValueError, match=r"edit not written: a failed edit .* lacks error, attempts"
    ):
        store.write_edit_failure(EDIT_KEY, {"sample_id": "s1"})
    assert edit_record_path(store).read_bytes() == before
    assert store.read_edit(EDIT_KEY)["status"] == "ok"


def test_an_image_left_beside_a_failed_edit_is_reported_and_removed_alone(store: Store):
    store.write_edit_failure(EDIT_KEY, failure())
    image = store.edit_image_path(EDIT_KEY)
    noise(32, 32).save(image)
    [problem] = verify(store).problems
    assert problem.path == image and problem.files == (image,)
    assert "beside the record of a failed edit" in problem.reason
    assert store.read_edit(EDIT_KEY)["status"] == EDIT_ERROR  # the failure stands


# --- images a run would trip on --------------------------------------------------------------


def png_with_corrupt_pixel_data(image: Image.Image) -> bytes:
    """A PNG whose zlib stream is damaged but whose every chunk CRC is right: only decoding the
    pixels finds it."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    position = 8  # after the signature
    while True:
        (length,) = struct.unpack(">I", data[position : position + 4])
        start = position + 8
        if data[position + 4 : start] == b"IDAT":
            break
        position = start + length + 4
    for i in range(start + length // 2, start + length // 2 + 8):
        data[i] ^= 0xFF
    crc = zlib.crc32(data[position + 4 : start + length])
    data[start + length : start + length + 4] = struct.pack(">I", crc)
    return bytes(data)


def test_verify_finds_an_edit_whose_pixels_do_not_decode(store: Store, tmp_path: Path):
    data = png_with_corrupt_pixel_data(noise(32, 32))
    with Image.open(io.BytesIO(data)) as image:
        image.verify()  # every checksum passes
    store.write_edit(EDIT_KEY, data, {"sample_id": "s1", "editor": EDITOR})
    [problem] = verify(store).problems
    assert problem.path == edit_record_path(store)
    assert problem.reason.startswith("image cannot be read"), problem.reason
    assert problem.files == (edit_record_path(store), store.edit_image_path(EDIT_KEY))


def test_verify_finds_an_edit_of_a_degenerate_size(store: Store):
    store.write_edit(EDIT_KEY, noise(1, 5000), {"sample_id": "s1", "editor": EDITOR})
    [problem] = verify(store).problems
    assert problem.path == edit_record_path(store)
    assert problem.reason == "image is 1x5000 pixels; expected at least 16 pixels on each side"


# --- the command line ------------------------------------------------------------------------


def test_verify_cli_reports_the_damage_and_delete_lets_a_run_redo_it(store: Store, tmp_path: Path):
    other = content_hash({"editor": EDITOR, "sample_id": "s2"})
    store.write_edit(other, png_with_corrupt_pixel_data(noise(32, 32)), {"editor": EDITOR})
    store.judgement_path(JUDGEMENT_KEY).write_bytes(b"{}")
    command = [sys.executable, "-m", "editbench.store", "verify", "--root", str(store.root)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert f"judgements/{JUDGEMENT_KEY[:2]}/{JUDGEMENT_KEY}.json: status None" in lines[1]
    assert lines[0].startswith(f"edits/{other[:2]}/{other}.json: image cannot be read")
    assert lines[-1].endswith("2 problems")

    result = subprocess.run([*command, "--delete"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "deleted 3 files" in result.stdout, result.stdout
    fresh = Store(store.root)
    assert fresh.read_judgement(JUDGEMENT_KEY) is None and fresh.read_edit(other) is None
    assert fresh.read_edit(EDIT_KEY)["status"] == "ok"  # the intact edit stays
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.endswith("no problems\n"), result.stdout


# --- writing ---------------------------------------------------------------------------------


def test_nan_is_never_written(store: Store):
    before = store.judgement_path(JUDGEMENT_KEY).read_bytes()
    with pytest.raises(ValueError, match=re.escape(str(store.judgement_path(JUDGEMENT_KEY)))):
        store.write_judgement(JUDGEMENT_KEY, judgement(score=float("nan")))
    assert store.judgement_path(JUDGEMENT_KEY).read_bytes() == before
    target = store.root / "elsewhere.json"
    with pytest.raises(
        ValueError, match=re.escape(f"{target}: record not written: Out of range float")
    ):
        atomic_write_json(target, {"mean": float("inf")})
    assert not target.exists()


def test_a_judgement_a_reader_would_refuse_is_not_written(store: Store):
    with pytest.raises(ValueError, match="judgement not written: status is 'ok' but score is"):
        store.write_judgement(JUDGEMENT_KEY, judgement(score=None))
    assert store.read_judgement(JUDGEMENT_KEY)["score"] == 7.0
