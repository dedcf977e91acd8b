"""The keyed store: every edit and judgement lives under a hash of everything that determines it.

Layout under ``root``::

    editbench-store.json      {"format": 2}, written before the first record
    edits/<k[:2]>/<key>.png   edited image
    edits/<k[:2]>/<key>.json  its record (written last: its presence marks the edit done);
                              a failed edit's record (status edit_error) has no image
    judgements/<k[:2]>/<key>.json

The format says how keys are made. A store of another format is refused whole, not read as if
it were empty: its keys would silently miss. Format 1 (no format file) named each editor and
judge by its module path; format 2 by its declared name and version.

Every file is written to a temporary name in the same folder and renamed into place, so a
reader sees either nothing or the whole file; JSON is written without NaN or Infinity. Every
record is checked when read (:mod:`editbench.store.schema`): a damaged one, or an edit whose
image no longer matches the hash in its record (torn by a crash, edited by hand), is logged
once with its file and what is wrong, and counts as missing, so a run redoes it.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from pathlib import Path
from typing import Any

from PIL import Image

from editbench.errors import EditbenchError
from editbench.files import atomic_write_bytes, atomic_write_json
from editbench.records import EDIT_ERROR, OK
from editbench.store.schema import RecordKind, parse_record

log = logging.getLogger(__name__)

FORMAT = 2
FORMAT_FILE = "editbench-store.json"


def content_hash(value: Any) -> str:
    """sha256 of the canonical JSON of ``value``: equal values give equal keys."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def edit_key(
    editor_fingerprint: Any, sample_id: str, source_sha256: str, instruction: str, seed: int
) -> str:
    """The key of an edit: everything that determines its pixels."""
    return content_hash(
        {
            "editor": editor_fingerprint,
            "sample_id": sample_id,
            "source_sha256": source_sha256,
            "instruction": instruction,
            "seed": seed,
        }
    )


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_format(root: Path) -> bool:
    """Whether ``root`` has this editbench's format file; False for a root that holds nothing yet.
    Raises :class:`EditbenchError` for a store of another format or a damaged format file."""
    path = root / FORMAT_FILE
    expected = json.dumps({"format": FORMAT})
    try:
        text = path.read_text()
    except FileNotFoundError:
        if (root / "edits").exists() or (root / "judgements").exists():
            raise EditbenchError(
                f"store {root} was written by an earlier editbench (format 1, which named each "
                f"editor and judge by its module path): none of its keys would be reached. Use a "
                f"new store (store.root=... for a run), or re-key its edits with `python -m "
                f"editbench.store migrate --root {root}` (its judgements are redone)"
            ) from None
        return False
    except (OSError, UnicodeDecodeError) as error:
        raise EditbenchError(
            f"store format file {path} cannot be read ({type(error).__name__}: {error}); "
            f"expected {expected}"
        ) from None
    try:
        found = json.loads(text)
    except json.JSONDecodeError as error:
        raise EditbenchError(
            f"store format file {path} is not JSON ({error}); expected {expected}"
        ) from None
    version = found.get("format") if isinstance(found, dict) else None
    if isinstance(version, bool) or not isinstance(version, int):
        raise EditbenchError(
            f"store format file {path} holds {text.strip()[:200]!r}; expected {expected}"
        )
    if version != FORMAT:
        raise EditbenchError(
            f"store {root} has format {version} ({path}); this editbench reads format {FORMAT} "
            "only. Use the editbench that wrote it, or a new store (store.root=... for a run)"
        )
    return True


def write_format(root: Path) -> None:
    """Mark ``root`` as a store of this editbench's format."""
    atomic_write_json(root / FORMAT_FILE, {"format": FORMAT})


class Store:
    """Edits and judgements by key, under one root folder shared by runs.

    Opening a store checks its format (see :func:`check_format`); the format file is written
    with the first record, so a store that is opened and never written stays untouched.
    Every write raises ValueError, naming the file, for a record that a read would refuse
    (:mod:`editbench.store.schema`), before anything is written: stored, it would be redone on
    every run.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self._has_format = check_format(self.root)
        self._reported: set[tuple[Path, str]] = set()

    def _mark_format(self) -> None:
        if not self._has_format:
            write_format(self.root)
            self._has_format = True

    def _path(self, kind: str, key: str, suffix: str) -> Path:
        return self.root / kind / key[:2] / f"{key}{suffix}"

    def edit_image_path(self, key: str) -> Path:
        return self._path("edits", key, ".png")

    def judgement_path(self, key: str) -> Path:
        return self._path("judgements", key, ".json")

    def read_edit(self, key: str) -> dict[str, Any] | None:
        """The edit's record, with its ``status``: ``"ok"`` for an edit whose image is stored
        whole (its hash matches the record), ``"edit_error"`` for an edit the editor could not
        make. None when there is no record, or it is damaged (logged): a run redoes it."""
        path = self._path("edits", key, ".json")
        record = self._read_record(path, "edit", key)
        if record is None:
            return None
        if record.get("status", OK) == EDIT_ERROR:
            return record
        if problem := stored_image_problem(self.edit_image_path(key), record):
            self._report(path, problem)
            return None
        return {**record, "status": OK}

    def write_edit(
        self, key: str, image: Image.Image | bytes, record: dict[str, Any]
    ) -> dict[str, Any]:
        """Store an edit: an image, written as PNG, or the bytes of a PNG file, as they are;
        then its record, with ``status`` "ok", the key and the image's hash."""
        if isinstance(image, bytes):
            data = image
        else:
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            data = buffer.getvalue()
        path = self._path("edits", key, ".json")
        image_sha256 = hashlib.sha256(data).hexdigest()
        record = {**record, "status": OK, "key": key, "image_sha256": image_sha256}
        _check_writable(path, "edit", key, record)
        self._mark_format()
        atomic_write_bytes(self.edit_image_path(key), data)
        atomic_write_json(path, record)
        return record

    def write_edit_failure(self, key: str, record: dict[str, Any]) -> dict[str, Any]:
        """Store an edit the editor could not make: ``record`` (its ``sample_id``, ``error``
        and ``attempts``) with ``status`` "edit_error" and the key, and no image. A stale image
        of the key goes first, so that a crash in between leaves an edit that is redone."""
        path = self._path("edits", key, ".json")
        record = {**record, "status": EDIT_ERROR, "key": key}
        _check_writable(path, "edit", key, record)
        self._mark_format()
        self.edit_image_path(key).unlink(missing_ok=True)
        atomic_write_json(path, record)
        return record

    def read_judgement(self, key: str) -> dict[str, Any] | None:
        """The judgement's record; None when there is none or it is damaged (logged): a run
        judges it again."""
        return self._read_record(self.judgement_path(key), "judgement", key)

    def write_judgement(self, key: str, record: dict[str, Any]) -> dict[str, Any]:
        """Store a judgement's record with its key."""
        path = self.judgement_path(key)
        record = {**record, "key": key}
        _check_writable(path, "judgement", key, record)
        self._mark_format()
        atomic_write_json(path, record)
        return record

    def _read_record(self, path: Path, kind: RecordKind, key: str) -> dict[str, Any] | None:
        """The record at ``path`` if it is valid; None (and the problem logged) otherwise."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            self._report(path, f"cannot be read ({type(error).__name__}: {error})")
            return None
        record, problem = parse_record(data, kind, key)
        if problem:
            self._report(path, problem)
            return None
        return record

    def _report(self, path: Path, problem: str) -> None:
        # Once per file and problem: plan and results read the same record.
        if (path, problem) not in self._reported:
            self._reported.add((path, problem))
            log.warning("damaged store record %s: %s; counted as not done", path, problem)


def stored_image_problem(image: Path, record: dict[str, Any]) -> str | None:
    """Why the image of an edit made (``record``, valid) is not stored whole, or None."""
    if not image.is_file():
        return "image is missing"
    if file_sha256(image) != record["image_sha256"]:
        return "image does not match the record's image_sha256 (torn or changed)"
    return None


def _check_writable(path: Path, kind: RecordKind, key: str, record: dict[str, Any]) -> None:
    """ValueError unless ``record`` reads back as valid: checked as JSON, as a reader sees it
    (a tuple is a list there; NaN is refused)."""
    data = json.dumps(record, ensure_ascii=False).encode()
    if problem := parse_record(data, kind, key)[1]:
        raise ValueError(f"{path}: {kind} not written: {problem}")
