"""The keyed store: every edit and judgement lives under a hash of everything that determines it.

Layout under ``root``::

    edits/<k[:2]>/<key>.png   edited image
    edits/<k[:2]>/<key>.json  its record (written last: its presence marks the edit done)
    judgements/<k[:2]>/<key>.json

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


def content_hash(value: Any) -> str:
    """sha256 of the canonical JSON of ``value``: equal values give equal keys."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


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


class Store:
    """Edits and judgements by key, under one root folder shared by runs."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

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
        record = {**record, "key": key}
        atomic_write_json(self.judgement_path(key), record)
        return record


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        # A record that does not parse cannot have been written by us whole: redo the work.
        return None
