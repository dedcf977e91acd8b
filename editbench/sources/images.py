"""Image files of a dataset: paths kept inside the dataset's folder, images kept by content, and
the check that an image decodes whole."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from editbench.cache import cache_dir
from editbench.errors import EditbenchError
from editbench.files import atomic_write_bytes
from editbench.images import DECODE_CHECK_VERSION, image_problem

# Files decoded at once at validation: the cores this process may use, up to 8 (past that the
# disk, not the decoder, is the limit).
_DECODE_THREADS = min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 4)


def dataset_root(root: str | Path, expected: str) -> Path:
    """``root`` resolved, or :class:`EditbenchError` saying that it is missing or not a
    folder, and what was ``expected`` there."""
    folder = Path(root).expanduser()
    if not folder.is_dir():
        state = "is not a directory" if folder.exists() else "does not exist"
        raise EditbenchError(f"Dataset root {str(root)!r} {state}; expected {expected}")
    return folder.resolve()


def inside(root: Path, relative: Any) -> tuple[str | None, str | None]:
    """The absolute path of ``relative`` inside ``root`` (symlinks resolved), or what is wrong:
    not a string, absolute, leading outside ``root``, or no file there."""
    if not isinstance(relative, str) or not relative.strip():
        return None, "is not a path; expected a non-empty path relative to the dataset folder"
    if Path(relative).is_absolute():
        return None, f"is an absolute path; expected a path relative to {root}"
    path = (root / relative).resolve()
    # Resolving first means neither `..` nor a symlink can lead outside the dataset folder.
    if not path.is_relative_to(root):
        return (
            None,
            f"resolves to {path}, outside the dataset folder; expected a path inside {root}",
        )
    if not path.is_file():
        return None, f"not found at {path}; expected an image file"
    return str(path), None


class ContentCache:
    """Images that come as bytes (a table's image column), written once to ``root`` under the
    sha256 of their bytes. The same image gets the same path on every run, so the store's keys,
    which hash the file, stay the same."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()

    def path_of(self, data: bytes) -> tuple[str | None, str | None]:
        """The cached file holding ``data``, written if it is not there yet; or what is wrong
        (not bytes, empty, no image format that Pillow knows)."""
        if not isinstance(data, bytes | bytearray) or not data:
            return None, "has no image bytes; expected an encoded image"
        try:
            with Image.open(io.BytesIO(data)) as image:
                extension = (image.format or "").lower()
        except UnidentifiedImageError:
            return None, "cannot be read as an image (no format Pillow knows); expected an image"
        except Exception as error:  # Pillow reports damaged headers as OSError, SyntaxError...
            return None, f"cannot be read as an image ({type(error).__name__}: {error})"
        digest = hashlib.sha256(data).hexdigest()
        path = self.root / digest[:2] / f"{digest}.{extension or 'img'}"
        if not path.is_file():
            atomic_write_bytes(path, bytes(data))
        return str(path), None


def decode_problems(paths: Iterable[str]) -> dict[str, str | None]:
    """:func:`decode_problem` of each of ``paths`` (each file once), several files at a time.

    Threads suffice: zlib and Pillow's decoders release the GIL while they inflate and decode,
    which is nearly all of the work.
    """
    unique = list(dict.fromkeys(paths))
    if not unique:
        return {}
    workers = min(len(unique), _DECODE_THREADS)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:
        return dict(zip(unique, pool.map(decode_problem, unique), strict=True))


def decode_problem(path: str | Path) -> str | None:
    """Why the image at ``path`` cannot be used, or None when its size suits the models and
    all of its data decodes (:func:`~editbench.images.image_problem`).

    Bytes that passed once are remembered by their sha256 (:func:`_passed_marker`); later only
    their header is read.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        return f"cannot be read ({error.strerror}); expected a readable image file"
    marker = _passed_marker(data)
    passed_before = marker.exists()
    problem = image_problem(data, decode=not passed_before)
    if problem is None and not passed_before:
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        except OSError:  # a cache that cannot be written costs time on the next run, no more
            pass
    return problem


def _passed_marker(data: bytes) -> Path:
    """The empty file that says ``data`` passed the whole check, under the editbench cache
    (``$EDITBENCH_CACHE`` or ``~/.cache/editbench``, as the tiny models' cache).

    Inflating a photograph's PNG costs 10-15 ms and hashing it 1-2: every run of a sweep and
    every resumed run validates the same files again. The folder is named by the check's
    version, so that nothing passed by an older check is taken on trust.
    """
    digest = hashlib.sha256(data).hexdigest()
    return cache_dir(f"passed-images-v{DECODE_CHECK_VERSION}") / digest[:2] / digest
