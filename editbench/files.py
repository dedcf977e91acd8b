"""Files written whole or not at all: to a temporary name in the same folder, then renamed into
place, so that a reader (another run, a crash's survivor) sees the old file or the new one."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any


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
    """Write ``record`` to ``path`` atomically; ValueError, naming ``path``, for a record holding
    NaN or Infinity, which no JSON reader (ours included) accepts back."""
    try:
        text = json.dumps(record, indent=1, ensure_ascii=False, allow_nan=False)
    except ValueError as error:
        raise ValueError(f"{path}: record not written: {error}; expected finite numbers") from None
    atomic_write_bytes(path, (text + "\n").encode())
