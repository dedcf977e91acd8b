"""editbench's own cache folder: what it builds or checks once and keeps between runs."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(name: str) -> Path:
    """The cache folder ``name``: under ``$EDITBENCH_CACHE``, or ``~/.cache/editbench``."""
    base = os.environ.get("EDITBENCH_CACHE") or Path.home() / ".cache" / "editbench"
    return Path(base) / name
