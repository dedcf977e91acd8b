"""Image files of a dataset: paths kept inside the dataset's folder, images kept by content, and
the check that an image decodes whole."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from editbench.errors import EditbenchError
from editbench.store import atomic_write_bytes


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


def decode_problem(path: str | Path) -> str | None:
    """Why the image at ``path`` cannot be used, or None when it decodes completely."""
    # verify() walks the file's structure and checksums (it catches a PNG cut after its last
    # pixel data, which load() accepts); load() then decodes every pixel, which catches a
    # truncated JPEG. verify() leaves the image unusable, hence the second open.
    try:
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            image.load()
    except Exception as error:  # Pillow reports broken files as OSError, SyntaxError, ValueError...
        return (
            f"cannot be read as an image ({type(error).__name__}: {error}); "
            "expected a complete, readable image file"
        )
    return None
