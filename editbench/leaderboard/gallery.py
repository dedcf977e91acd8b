"""The N-way gallery of a board: one row per sample, its input image(s) and every entry's edit
side by side, each with its score and status.

Images are embedded as small JPEG thumbnails, made once per file and in parallel, each linked
to its full-size file relative to the page's folder: the page opens offline, and at some 4 KB
a thumbnail, a thousand samples of five entries stay near 25 MB.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from editbench.leaderboard.entries import Board
from editbench.records import EDIT_ERROR, OK
from editbench.results.chart import finite
from editbench.results.report import ERROR_EXCERPT_CHARS, excerpt
from editbench.results.thumbnails import thumbnail_data_uri

# Longest side of a thumbnail, in pixels: sharp in the gallery's 128-pixel boxes.
GALLERY_THUMBNAIL_SIZE = 128
ABSENT = "not in run"  # the status shown where an entry's runs lack the sample


@dataclass(frozen=True)
class Picture:
    """One image cell: an embedded thumbnail and its full-size link, or a note saying why
    there is no image."""

    src: str | None
    link: str | None
    note: str


_ABSENT = Picture(None, None, ABSENT)
_EDIT_FAILED = Picture(None, None, "edit failed: no image")
_NO_IMAGE = Picture(None, None, "no image")


def gallery_rows(board: Board, folder: Path) -> list[dict[str, Any]]:
    """One row per sample of the board's entries, in the order the entries list them; each
    with its ``inputs`` and one ``cell`` per entry (``status``, ``score`` when ok, ``picture``,
    ``error``), and the ``spread`` of the ok scores (largest minus smallest) where two entries
    scored it. Links are relative to ``folder``, where the page is written."""
    by_entry = [{row["id"]: row for row in entry.rows} for entry in board.entries]
    ids = list(dict.fromkeys(key for rows in by_entry for key in rows))
    paths = [
        path
        for rows in by_entry
        for row in rows.values()
        for path in (*_inputs(row), _edited(row))
        if path is not None
    ]
    pictures = _pictures(paths, folder.resolve())
    gallery = []
    for key in ids:
        first = next(rows[key] for rows in by_entry if key in rows)
        cells = [_cell(rows.get(key), pictures) for rows in by_entry]
        scores = [cell["score"] for cell in cells if cell["score"] is not None]
        instruction = first.get("instruction")
        gallery.append(
            {
                "id": key,
                "category": first["category"],
                "instruction": instruction if isinstance(instruction, str) else "",
                "inputs": [pictures[path] if path else _NO_IMAGE for path in _inputs(first)],
                "cells": cells,
                "spread": max(scores) - min(scores) if len(scores) > 1 else None,
            }
        )
    return gallery


def _cell(row: Mapping[str, Any] | None, pictures: Mapping[str, Picture]) -> dict[str, Any]:
    if row is None:
        return {"status": ABSENT, "score": None, "picture": _ABSENT, "error": None}
    edited = _edited(row)
    if row["status"] == EDIT_ERROR:
        picture = _EDIT_FAILED
    else:
        picture = pictures[edited] if edited else Picture(None, None, "no edit")
    error = row.get("error")
    return {
        "status": row["status"],
        "score": finite(row["score"]) if row["status"] == OK else None,
        "picture": picture,
        "error": excerpt(error, ERROR_EXCERPT_CHARS) if isinstance(error, str) else None,
    }


def _inputs(row: Mapping[str, Any]) -> list[str | None]:
    """A row's input images: ``source_images`` where the sample has several."""
    images = row.get("source_images") or [row.get("source_image")]
    return [image if isinstance(image, str) else None for image in images]


def _edited(row: Mapping[str, Any]) -> str | None:
    """The edit's image; none for a failed edit, whatever path the row names."""
    image = row.get("edited_image")
    return image if isinstance(image, str) and row["status"] != EDIT_ERROR else None


def _pictures(paths: Sequence[str], folder: Path) -> dict[str, Picture]:
    """The picture of every distinct path, made in parallel: PIL releases the GIL while it
    decodes, shrinks and encodes."""
    unique = list(dict.fromkeys(paths))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        pictures = pool.map(lambda path: _picture(path, folder), unique)
    return dict(zip(unique, pictures, strict=True))


def _picture(path: str, folder: Path) -> Picture:
    if not os.path.isfile(path):
        return Picture(None, None, "not found")
    thumbnail = thumbnail_data_uri(path, GALLERY_THUMBNAIL_SIZE)
    if thumbnail is None:
        return Picture(None, None, "unreadable")
    try:
        link = quote(Path(os.path.relpath(path, folder)).as_posix())
    except ValueError:  # on Windows, a path on another drive has no relative form
        link = None
    return Picture(thumbnail, link, "")
