"""A benchmark as a folder: ``manifest.jsonl`` and its images.

Each manifest line is one JSON object with ``id``, ``category``, ``instruction`` and either
``image`` (a path relative to the folder) or ``images`` (a list of them, for editors that take
several inputs), and optionally ``reference_image`` (a path) and ``reference_text``. Any other
field is kept in ``Sample.extra``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from editbench.errors import EditbenchError
from editbench.records import Sample
from editbench.sources.fields import Entry, build_entry
from editbench.sources.images import dataset_root, inside
from editbench.sources.problems import Problems
from editbench.sources.selection import Filter, select

MANIFEST = "manifest.jsonl"


def load_manifest(
    root: str | Path,
    categories: Sequence[str] | str | None = None,
    where: Filter | None = None,
    limit: int | None = None,
    shard: str | None = None,
    subsets: Mapping[str, Filter] | None = None,
) -> list[Sample]:
    """Read ``<root>/manifest.jsonl`` and return the selected samples in manifest order (see
    :func:`~editbench.sources.selection.select` for the selection). Every line is checked
    (fields, unique id, image paths inside ``root`` and present); raises
    :class:`EditbenchError` listing every problem, each with its line number."""
    root_dir = dataset_root(
        root,
        f"a folder holding {MANIFEST}",
    )
    manifest = root_dir / MANIFEST
    if not manifest.is_file():
        raise EditbenchError(
            f"Dataset root {str(root_dir)!r} has no {MANIFEST}; expected a file {str(manifest)!r} "
            "with one JSON object per line"
        )
    problems = Problems(str(root_dir))
    entries = _read(manifest, root_dir, problems)
    return select(entries, problems, categories, where, limit, shard, subsets)


def _read(manifest: Path, root: Path, problems: Problems) -> list[Entry]:
    """Every valid line's entry; the problems of the others are recorded by line number."""
    try:
        data = manifest.read_bytes()
    except OSError as err:
        raise EditbenchError(
            f"Cannot read {manifest} ({err.strerror}); expected a readable file"
        ) from err
    entries = []
    # Split the bytes on "\n" ourselves: str.splitlines() would also split inside a JSON string
    # holding U+2028 or similar, and decoding per line lets a bad byte be reported by line number.
    for line_no, raw in enumerate(data.split(b"\n"), start=1):
        where = f"{manifest}:{line_no}"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            problems.add(f"not valid UTF-8 ({err.reason} at byte {err.start})", where)
            continue
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as err:
            problems.add(
                f"not valid JSON ({err.msg} at column {err.colno}); "
                "expected one JSON object per line",
                where,
            )
            continue
        if not isinstance(record, dict):
            problems.add(
                f"a JSON {type(record).__name__}; expected an object with fields "
                "id, category, instruction, image",
                where,
            )
            continue
        entry = build_entry(record, where, problems, lambda path: inside(root, path))
        if entry is not None:
            entries.append(entry)
    return entries
