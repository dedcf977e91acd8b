"""The keyed store: every edit and judgement lives under a hash of everything that determines it.

Layout under ``root``::

    editbench-store.json      {"format": 2}, written before the first record
    edits/<k[:2]>/<key>.png   edited image
    edits/<k[:2]>/<key>.json  its record (written last: its presence marks the edit done)
    judgements/<k[:2]>/<key>.json

The format says how keys are made. A store of another format is refused whole, not read as if
it were empty: its keys would silently miss. Format 1 (no format file) named each editor and
judge by its module path; format 2 by its declared name and version.

Every file is written to a temporary name in the same folder and renamed into place, so a
reader sees either nothing or the whole file. An edit whose image no longer matches the hash
in its record (torn by a crash, edited by hand) counts as missing and is redone.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
from pathlib import Path
from typing import Any

from PIL import Image

from editbench.errors import EditbenchError

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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(staging, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def atomic_write_json(path: Path, record: dict[str, Any]) -> None:
    atomic_write_bytes(path, (json.dumps(record, indent=1, ensure_ascii=False) + "\n").encode())


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
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self._has_format = check_format(self.root)

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
        """The edit's record if the edit is complete and intact, else None."""
        record = _read_json(self._path("edits", key, ".json"))
        image = self.edit_image_path(key)
        if (
            record is None
            or not image.is_file()
            or file_sha256(image) != record.get("image_sha256")
        ):
            return None
        return record

    def write_edit(
        self, key: str, image: Image.Image | bytes, record: dict[str, Any]
    ) -> dict[str, Any]:
        """Store an edit: an image, written as PNG, or the bytes of a PNG file, as they are."""
        self._mark_format()
        if isinstance(image, bytes):
            data = image
        else:
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            data = buffer.getvalue()
        atomic_write_bytes(self.edit_image_path(key), data)
        record = {**record, "key": key, "image_sha256": hashlib.sha256(data).hexdigest()}
        atomic_write_json(self._path("edits", key, ".json"), record)
        return record

    def read_judgement(self, key: str) -> dict[str, Any] | None:
        return _read_json(self.judgement_path(key))

    def write_judgement(self, key: str, record: dict[str, Any]) -> dict[str, Any]:
        self._mark_format()
        record = {**record, "key": key}
        atomic_write_json(self.judgement_path(key), record)
        return record


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        # A record that does not parse cannot have been written by us whole: redo the work.
        return None
