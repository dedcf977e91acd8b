"""An editor over edits made elsewhere: a folder of images named by sample id, or laid out as a
benchmark releases them, judged as they are.

Matching rule: the edit of sample ``<id>`` is the file ``<root>/<id>.<ext>``, where ``<ext>`` is
png, jpg, jpeg or webp in any case (``chair-01.PNG``). The id is matched exactly, character for
character and case-sensitively, so an id may hold anything a file name can (spaces, dots,
accents); only the folder's top level is read. An id holding ``/`` cannot be a file name, so its
sample is reported as unmatched. Each id needs exactly one such file: none, or several (``a.png``
and ``a.jpg``), is an error.

With a ``pattern``, the edit's path under ``root`` is the pattern filled with the sample's fields
(``{task_type}/{instruction_language}/{key}.png``, GEdit-Bench's release layout; any field of
:meth:`~editbench.records.Sample.fields`). A pattern without an extension matches the four
above, as the default rule does. The filled path must stay inside ``root``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from editbench.editors.base import Editor
from editbench.errors import EditbenchError, SampleError
from editbench.images import image_problem, size_problem, to_rgb
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

    def __init__(self, root: str, pattern: str | None = None) -> None:
        path = Path(root).expanduser()
        if not path.is_dir():
            state = "is not a directory" if path.exists() else "does not exist"
            raise ValueError(
                f"edits folder {root!r} {state}; expected a folder of images named "
                f"<sample id>.<{'|'.join(EXTENSIONS)}>"
            )
        self.root = path.resolve()
        if pattern is not None:
            try:
                fields = [name for _, name, _, _ in string.Formatter().parse(pattern) if name]
            except ValueError as error:
                raise ValueError(
                    f"pattern {pattern!r} is not a path pattern ({error}); expected fields "
                    "in braces, e.g. '{task_type}/{instruction_language}/{key}.png'"
                ) from None
            if not fields or not pattern.strip():
                raise ValueError(
                    f"pattern {pattern!r} names no field; expected e.g. "
                    "'{task_type}/{instruction_language}/{key}.png'"
                )
        self.pattern = pattern
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
            if self.pattern is None:
                names = sorted(name for matches in self._index().values() for name in matches)
            else:  # any image below root may be an edit
                names = sorted(
                    str(path.relative_to(self.root))
                    for path in self.root.rglob("*")
                    if path.suffix[1:].lower() in EXTENSIONS and path.is_file()
                )
            files = [[name, file_sha256(self.root / name)] for name in names]
            self._settings = {
                "root": str(self.root),
                "files_sha256": hashlib.sha256(json.dumps(files).encode()).hexdigest(),
            }
            if self.pattern is not None:
                self._settings["pattern"] = self.pattern
        return self._settings

    def check(self, requests: Sequence[EditRequest]) -> None:
        """Raise :class:`EditbenchError` listing every request without exactly one readable image
        (missing, ambiguous, not an image, or of a size no judge takes: 1x5000, say), with the
        file names expected."""
        problems = [
            f"  {request.sample_id!r}: {problem}"
            for request in requests
            if (problem := self._problem(request))
        ]
        if not problems:
            return
        expected = (
            f"<sample id>.<{'|'.join(EXTENSIONS)}>"
            if self.pattern is None
            else f"at the pattern {self.pattern!r}"
        )
        lines = [
            f"Edits folder {self.root} has no usable image for {len(problems)} of "
            f"{len(requests)} samples; expected exactly one file {expected} per sample:",
            *problems[:_MAX_REPORTED],
        ]
        if len(problems) > _MAX_REPORTED:
            lines.append(f"  ... and {len(problems) - _MAX_REPORTED} more")
        raise EditbenchError("\n".join(lines))

    def load(self, device: str) -> None:
        """Nothing to load: the edits exist already."""

    def edit(self, requests: Sequence[EditRequest]) -> list[Image.Image | bytes]:
        """Each request's image from the folder; the instruction and seed are ignored.

        Each file is checked whole first: its size (:func:`~editbench.images.size_problem`)
        and all of its data (:func:`~editbench.images.image_problem`; a PNG's pixel data can
        be damaged behind valid checksums). A file that fails raises :class:`SampleError`
        naming the sample, the file and what is wrong: that sample fails, the others go on.

        An RGB PNG then comes back as the file's bytes, not decoded again into an image: the
        store keeps it as it is, where decoding and encoding it again took about 40 ms per
        1024² image (docs/benchmarks.md). Any other file comes back as an RGB image
        (:func:`~editbench.images.to_rgb`).
        """
        edits: list[Image.Image | bytes] = []
        for request in requests:
            path, problem = self._match(request)
            if path is None:
                raise EditbenchError(f"{request.sample_id!r} in {self.root}: {problem}")
            data = path.read_bytes()  # read once: checked, then stored or decoded
            problem = image_problem(data)
            if problem:
                raise SampleError(f"sample {request.sample_id!r}: the edit {path} {problem}")
            with Image.open(io.BytesIO(data)) as image:
                if image.format != "PNG" or image.mode != "RGB":
                    edits.append(to_rgb(image))
                    continue
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

    def _match(self, request: EditRequest) -> tuple[Path | None, str | None]:
        """The one image file of the request's sample, or None and why there is not exactly
        one."""
        if self.pattern is not None:
            return self._match_pattern(request)
        sample_id = request.sample_id
        if "/" in sample_id:
            return None, "the id contains '/', which no file name can hold; rename the sample"
        matches = self._index().get(sample_id, [])
        if not matches:
            expected = ", ".join(f"{sample_id}.{extension}" for extension in EXTENSIONS)
            return None, f"no image; expected one of {expected}"
        if len(matches) > 1:
            return None, f"{len(matches)} images ({', '.join(matches)}); expected exactly one"
        return self.root / matches[0], None

    def _match_pattern(self, request: EditRequest) -> tuple[Path | None, str | None]:
        fields = {name: str(value) for name, value in request.fields.items() if value is not None}
        try:
            relative = self.pattern.format_map(fields)
        except KeyError as error:
            return None, (
                f"pattern {self.pattern!r} names the field {error.args[0]!r}, which the sample "
                f"does not have; its fields are: {', '.join(sorted(fields))}"
            )
        except (ValueError, IndexError) as error:
            return None, f"pattern {self.pattern!r} cannot be filled ({error})"
        if Path(relative).is_absolute():
            return (
                None,
                f"the pattern gives the absolute path {relative!r}; expected one under root",
            )
        stem = self.root / relative
        if stem.suffix[1:].lower() in EXTENSIONS:
            found = [stem] if stem.is_file() else []
            expected = relative
        else:  # any of the extensions, in any case, as the default rule matches them
            siblings = stem.parent.iterdir() if stem.parent.is_dir() else ()
            found = sorted(
                path
                for path in siblings
                if path.stem == stem.name
                and path.suffix[1:].lower() in EXTENSIONS
                and path.is_file()
            )
            expected = f"{relative}.<{'|'.join(EXTENSIONS)}>"
        if not found:
            return None, f"no image; expected {expected} under {self.root}"
        if len(found) > 1:
            names = ", ".join(path.name for path in found)
            return None, f"{len(found)} images ({names}); expected exactly one"
        path = found[0].resolve()
        if not path.is_relative_to(self.root):
            return None, f"{relative!r} leads outside {self.root}; expected a path inside it"
        return path, None

    def _problem(self, request: EditRequest) -> str | None:
        """Why the request's sample has no usable image, or None when its one file opens as an
        image of a size the judges take."""
        path, problem = self._match(request)
        if path is None:
            return problem
        try:
            # Reads the header only: catches a file that is no image at all, or of a size no
            # judge takes, cheaply. Damaged pixel data is found by edit(), for that sample.
            with Image.open(path) as image:
                size = image.size
        except Exception as error:  # Pillow reports bad files as OSError, SyntaxError, ...
            return f"{path.name} cannot be read as an image ({type(error).__name__}: {error})"
        problem = size_problem(*size)
        return None if problem is None else f"{path.name} {problem}"
