"""An editor over edits made elsewhere: a folder of images named by sample id, judged as they are.

Matching rule: the edit of sample ``<id>`` is the file ``<root>/<id>.<ext>``, where ``<ext>`` is
png, jpg, jpeg or webp in any case (``chair-01.PNG``). The id is matched exactly, character for
character and case-sensitively, so an id may hold anything a file name can (spaces, dots,
accents); only the folder's top level is read. An id holding ``/`` cannot be a file name, so its
sample is reported as unmatched. Each id needs exactly one such file: none, or several (``a.png``
and ``a.jpg``), is an error.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from editbench.editors.base import Editor
from editbench.errors import EditbenchError
from editbench.records import EditRequest
from editbench.store import file_sha256

EXTENSIONS = ("png", "jpg", "jpeg", "webp")
_MAX_REPORTED = 20  # unmatched samples listed in one error; the rest are counted


class PrecomputedEditor(Editor):
    """Serves the images in ``root`` as the edits, matched by sample id (see the module's rule).

    Nothing is generated: the instruction and the seed are ignored, and ``step_callback`` is
    never called. The folder is listed once per instance, on first use.
    """

    name = "precomputed"
    version = 1

    def __init__(self, root: str) -> None:
        path = Path(root).expanduser()
        if not path.is_dir():
            state = "is not a directory" if path.exists() else "does not exist"
            raise ValueError(
                f"edits folder {root!r} {state}; expected a folder of images named "
                f"<sample id>.<{'|'.join(EXTENSIONS)}>"
            )
        self.root = path.resolve()
        self._files: dict[str, list[str]] | None = None  # id -> matching file names
        self._settings: dict[str, Any] | None = None

    def settings(self) -> dict[str, Any]:
        """The folder, and a digest of every image file's name and bytes, so that replacing any
        file changes every edit key and no stale judgement is reused."""
        if self._settings is None:
            # Reads every byte, once per instance (the parent, then each edit worker): ~1000
            # edits of ~1 MB hash in about a second on one core from the page cache (measured:
            # 1.1 s for 1000 x 1 MiB); a cold or network disk adds its read time. Sizes and
            # mtimes would be cheaper but unsound: a copy resets mtimes, a same-size rewrite
            # keeps the size.
            names = sorted(name for matches in self._index().values() for name in matches)
            files = [[name, file_sha256(self.root / name)] for name in names]
            self._settings = {
                "root": str(self.root),
                "files_sha256": hashlib.sha256(json.dumps(files).encode()).hexdigest(),
            }
        return self._settings

    def check(self, requests: Sequence[EditRequest]) -> None:
        """Raise :class:`EditbenchError` listing every request without exactly one readable image
        (missing, ambiguous, or not an image), with the file names expected."""
        problems = [
            f"  {request.sample_id!r}: {problem}"
            for request in requests
            if (problem := self._problem(request.sample_id))
        ]
        if not problems:
            return
        lines = [
            f"Edits folder {self.root} has no usable image for {len(problems)} of "
            f"{len(requests)} samples; expected exactly one file <sample id>."
            f"<{'|'.join(EXTENSIONS)}> per sample:",
            *problems[:_MAX_REPORTED],
        ]
        if len(problems) > _MAX_REPORTED:
            lines.append(f"  ... and {len(problems) - _MAX_REPORTED} more")
        raise EditbenchError("\n".join(lines))

    def load(self, device: str) -> None:
        """Nothing to load: the edits exist already."""

    def edit(self, requests: Sequence[EditRequest]) -> list[Image.Image | bytes]:
        """Each request's image from the folder; the instruction and seed are ignored.

        An RGB PNG comes back as the file's bytes, checked whole (every chunk's checksum) but
        not decoded: the store keeps it as it is, where decoding and encoding it again took
        about 40 ms per 1024² image (docs/benchmarks.md). Any other file comes back decoded,
        as an RGB image.
        """
        edits: list[Image.Image | bytes] = []
        for request in requests:
            path, problem = self._match(request.sample_id)
            if path is None:
                raise EditbenchError(f"{request.sample_id!r} in {self.root}: {problem}")
            data = path.read_bytes()  # read once: checked, then stored or decoded
            with Image.open(io.BytesIO(data)) as image:
                if image.format != "PNG" or image.mode != "RGB":
                    edits.append(image.convert("RGB"))
                    continue
                try:
                    image.verify()
                except Exception as error:  # Pillow reports bad files as OSError, SyntaxError
                    raise EditbenchError(
                        f"{request.sample_id!r}: {path} is a damaged PNG "
                        f"({type(error).__name__}: {error})"
                    ) from None
            edits.append(data)
        return edits

    def _index(self) -> dict[str, list[str]]:
        """The folder's image files by the id they name, listed once."""
        if self._files is None:
            files: dict[str, list[str]] = {}
            with os.scandir(self.root) as entries:
                for entry in entries:
                    stem, dot, extension = entry.name.rpartition(".")
                    if stem and dot and extension.lower() in EXTENSIONS and entry.is_file():
                        files.setdefault(stem, []).append(entry.name)
            self._files = {stem: sorted(names) for stem, names in files.items()}
        return self._files

    def _match(self, sample_id: str) -> tuple[Path | None, str | None]:
        """The one image file of ``sample_id``, or None and why there is not exactly one."""
        if "/" in sample_id:
            return None, "the id contains '/', which no file name can hold; rename the sample"
        matches = self._index().get(sample_id, [])
        if not matches:
            expected = ", ".join(f"{sample_id}.{extension}" for extension in EXTENSIONS)
            return None, f"no image; expected one of {expected}"
        if len(matches) > 1:
            return None, f"{len(matches)} images ({', '.join(matches)}); expected exactly one"
        return self.root / matches[0], None

    def _problem(self, sample_id: str) -> str | None:
        """Why ``sample_id`` has no usable image, or None when its one file opens as an image."""
        path, problem = self._match(sample_id)
        if path is None:
            return problem
        try:
            # Reads the header only: catches a file that is no image at all, cheaply.
            with Image.open(path):
                pass
        except Exception as error:  # Pillow reports bad files as OSError, SyntaxError, ...
            return f"{path.name} cannot be read as an image ({type(error).__name__}: {error})"
        return None
