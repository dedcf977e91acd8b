"""Reading and validating a benchmark dataset: a folder with ``manifest.jsonl`` and its images.

Each manifest line is one JSON object with ``id``, ``category``, ``instruction`` and ``image``
(a path relative to the dataset folder); any other field is kept in ``Sample.extra``. Every
problem in the dataset is collected and reported in one error, so a user fixes them in one go.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from editbench.errors import EditbenchError
from editbench.records import CATEGORIES, Sample

MANIFEST = "manifest.jsonl"
REQUIRED_FIELDS = ("id", "category", "instruction", "image")
_MAX_REPORTED = 20  # problems listed in one error; the rest are counted


def load_samples(
    root: str | Path,
    categories: Sequence[str] | None = None,
    limit: int | None = None,
    shard: str | None = None,
) -> list[Sample]:
    """Read ``<root>/manifest.jsonl`` and return its samples in manifest order.

    ``categories`` keeps only samples of those categories (a single string is one category);
    ``limit`` then keeps the first ``limit`` of them; ``shard="i/N"`` then keeps part ``i`` of
    ``N``, chosen by a hash of each id, so the N shards partition the selection whatever the
    manifest's order (a shard may be empty). Every manifest line is checked (fields,
    category, unique id, image path inside ``root`` and present); the images of the selected
    samples are also fully decoded, since that is the slow part.

    Raises :class:`EditbenchError` listing every problem found.
    """
    root_dir = Path(root).expanduser()
    if not root_dir.is_dir():
        state = "is not a directory" if root_dir.exists() else "does not exist"
        raise EditbenchError(
            f"Dataset root {str(root)!r} {state}; expected a folder holding {MANIFEST}"
        )
    root_dir = root_dir.resolve()
    manifest = root_dir / MANIFEST
    if not manifest.is_file():
        raise EditbenchError(
            f"Dataset root {str(root_dir)!r} has no {MANIFEST}; expected a file {str(manifest)!r} "
            "with one JSON object per line"
        )

    problems = _Problems(manifest)
    wanted = _category_filter(categories, problems)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        problems.add(f"limit: {limit!r}; expected a positive integer or None")
        limit = None
    part = _parse_shard(shard, problems)

    entries = _read_manifest(manifest, root_dir, problems)
    selected = [e for e in entries if wanted is None or e.sample.category in wanted][:limit]
    for entry in selected:
        problem = _decode_problem(Path(entry.sample.image))
        if problem:
            problems.add(f"image {entry.image_field!r} {problem}", entry.line_no)

    if not problems and not selected:
        if not entries:
            problems.add(f"{manifest}: no samples; expected at least one JSON object line")
        else:
            problems.add(f"categories: {sorted(wanted or ())} match no sample in {manifest}")
    if problems:
        raise EditbenchError(problems.report(root_dir))
    samples = [entry.sample for entry in selected]
    if part is not None:
        index, count = part
        samples = [s for s in samples if shard_of(s.id, count) == index]
    return samples


def shard_of(sample_id: str, count: int) -> int:
    """Which of ``count`` shards a sample belongs to: stable across runs, machines, orders."""
    return int.from_bytes(hashlib.sha256(sample_id.encode()).digest()[:8], "big") % count


def _parse_shard(shard: str | None, problems: _Problems) -> tuple[int, int] | None:
    if shard is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(shard))
    if not match or not 0 <= int(match[1]) < int(match[2]):
        problems.add(f"shard: {shard!r}; expected 'i/N' with 0 <= i < N, e.g. '0/4'")
        return None
    return int(match[1]), int(match[2])


class _Problems:
    """Problems found so far, each tied to a manifest line (or to none, for the arguments)."""

    def __init__(self, manifest: Path) -> None:
        self.manifest = manifest
        self._found: list[tuple[int, str]] = []

    def add(self, text: str, line_no: int = 0) -> None:
        self._found.append((line_no, text))

    def __len__(self) -> int:
        return len(self._found)

    def report(self, root: Path) -> str:
        """One message listing the first problems in line order and counting the rest."""
        found = sorted(self._found, key=lambda problem: problem[0])  # stable: keeps check order
        lines = [f"Dataset {root} has {len(found)} problem{'s' if len(found) > 1 else ''}:"]
        for line_no, text in found[:_MAX_REPORTED]:
            lines.append(f"  {self.manifest}:{line_no}: {text}" if line_no else f"  {text}")
        if len(found) > _MAX_REPORTED:
            lines.append(f"  ... and {len(found) - _MAX_REPORTED} more")
        return "\n".join(lines)


def _category_filter(categories: Sequence[str] | None, problems: _Problems) -> set[str] | None:
    """The set of categories to keep (None: all); unknown names are recorded as problems."""
    if categories is None:
        return None
    if isinstance(categories, str):  # e.g. `dataset.categories=physical` on the command line
        categories = [categories]
    allowed = ", ".join(CATEGORIES)
    for category in categories:
        if category not in CATEGORIES:
            problems.add(f"categories: unknown category {category!r}; expected any of {allowed}")
    return set(categories)


@dataclass(frozen=True)
class _Entry:
    """A valid manifest line: where it is, its image field as written, and its sample."""

    line_no: int
    image_field: str
    sample: Sample


def _read_manifest(manifest: Path, root: Path, problems: _Problems) -> list[_Entry]:
    """Parse and check every line; returns the valid lines and records the problems of the rest."""
    try:
        data = manifest.read_bytes()
    except OSError as err:
        raise EditbenchError(
            f"Cannot read {manifest} ({err.strerror}); expected a readable file"
        ) from err
    entries: list[_Entry] = []
    first_line_of_id: dict[str, int] = {}
    # Split the bytes on "\n" ourselves: str.splitlines() would also split inside a JSON string
    # holding U+2028 or similar, and decoding per line lets a bad byte be reported by line number.
    for line_no, raw in enumerate(data.split(b"\n"), start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            problems.add(f"not valid UTF-8 ({err.reason} at byte {err.start})", line_no)
            continue
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as err:
            problems.add(
                f"not valid JSON ({err.msg} at column {err.colno}); "
                "expected one JSON object per line",
                line_no,
            )
            continue
        if not isinstance(record, dict):
            problems.add(
                f"a JSON {type(record).__name__}; expected an object with fields "
                f"{', '.join(REQUIRED_FIELDS)}",
                line_no,
            )
            continue

        # Check id and image even when other fields are bad, so that one run lists everything.
        bad_fields = _field_problems(record)
        line_problems = list(bad_fields.values())
        if "id" not in bad_fields:
            first = first_line_of_id.setdefault(record["id"], line_no)
            if first != line_no:
                line_problems.append(
                    f"duplicate id {record['id']!r} (first on line {first}); "
                    "expected every id to be unique"
                )
        if "image" not in bad_fields:
            image, problem = _resolve_image(root, record["image"])
            if problem:
                line_problems.append(f"image {record['image']!r} {problem}")
        for problem in line_problems:
            problems.add(problem, line_no)
        if not line_problems:
            extra = {k: v for k, v in record.items() if k not in REQUIRED_FIELDS}
            sample = Sample(
                id=record["id"],
                category=record["category"],
                instruction=record["instruction"],
                image=str(image),
                extra=extra,
            )
            entries.append(_Entry(line_no, record["image"], sample))
    return entries


def _field_problems(record: dict[str, Any]) -> dict[str, str]:
    """What is wrong with the required fields of one manifest object, by field name."""
    problems = {}
    for name in REQUIRED_FIELDS:
        if name not in record:
            problems[name] = f"missing field {name!r}; expected a non-empty string"
            continue
        value = record[name]
        if not isinstance(value, str):
            problems[name] = (
                f"field {name!r} is {value!r} ({type(value).__name__}); expected a non-empty string"
            )
        elif not value.strip():
            problems[name] = f"field {name!r} is empty ({value!r}); expected a non-empty string"
        elif name == "category" and value not in CATEGORIES:
            problems[name] = f"unknown category {value!r}; expected one of {', '.join(CATEGORIES)}"
    return problems


def _resolve_image(root: Path, relative: str) -> tuple[Path, str | None]:
    """The image's absolute path with symlinks resolved, and what is wrong with it, if anything."""
    if Path(relative).is_absolute():
        return Path(relative), f"is an absolute path; expected a path relative to {root}"
    path = (root / relative).resolve()
    # Resolving first means neither `..` nor a symlink can lead outside the dataset folder.
    if not path.is_relative_to(root):
        return (
            path,
            f"resolves to {path}, outside the dataset folder; expected a path inside {root}",
        )
    if not path.is_file():
        return path, f"not found at {path}; expected an image file"
    return path, None


def _decode_problem(path: Path) -> str | None:
    """Why the image at ``path`` cannot be used, or None when it decodes completely."""
    # verify() walks the file's structure and checksums (it catches a PNG cut after its last
    # pixel data, which load() accepts); load() then decodes every pixel, which catches a
    # truncated JPEG. verify() leaves the image unusable, hence the second open.
    try:
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            image.load()
    except Exception as err:  # Pillow reports broken files as OSError, SyntaxError, ValueError...
        return (
            f"cannot be read as an image ({type(err).__name__}: {err}); "
            "expected a complete, readable image file"
        )
    return None
