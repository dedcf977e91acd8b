"""ImagenHub's human ratings: one TSV per rater (``eval/human_ratings/<task>/<task>_rater<N>.tsv``
in TIGER-AI-Lab/ImagenHub). The header is ``uid`` then one column per model; each row is one
sample (``sample_100081_1.jpg``), each cell that model's edit of it rated ``[SC, PQ]``: semantic
consistency and perceptual quality, each 0, 0.5 or 1. ImagenHub's overall human score of a cell
is the geometric mean sqrt(SC * PQ)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from editbench.agreement.records import Problems, Rating

CRITERIA = ("SC", "PQ")  # the order of a cell's two numbers
SCALE = (0.0, 0.5, 1.0)
_IMAGE_EXTENSION = re.compile(r"\.(jpe?g|png|webp)$", re.IGNORECASE)
_RATER = re.compile(r"_(rater\d+)$")  # Text-Guided_IE_rater2 → rater2


def read_imagenhub(path: Path, text: str, model: str | None, problems: Problems) -> list[Rating]:
    """Each cell of one rater's TSV as three ratings: the overall sqrt(SC * PQ) (criterion
    None), ``SC`` and ``PQ``. The rater is named by the file (``rater2``).

    A sample's id is its uid without the image extension (``sample_100081_1``), as the
    precomputed editor names edits, when ``model`` picks that model's column; without
    ``model``, every column is read and the id is ``<model>/<uid without extension>``. An
    empty cell is a sample that rater did not rate."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    header = lines[0].split("\t")
    if header[0].strip() != "uid" or len(header) < 2:
        problems.add(
            f"{path}: header {header[:4]} is not ImagenHub's rater layout; expected 'uid' then "
            "one column per model, tab-separated"
        )
        return []
    models = [name.strip() for name in header[1:]]
    if model is not None and model not in models:
        problems.add(f"{path}: no column for model {model!r}; its models are {models}")
        return []
    found = _RATER.search(path.stem)
    rater = found.group(1) if found else path.stem
    ratings: list[Rating] = []
    problems_before = len(problems.messages)
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split("\t")
        where = f"{path} line {number}"
        if len(cells) != len(header):
            problems.add(f"{where}: has {len(cells)} cells; the header has {len(header)}")
            continue
        sample = _IMAGE_EXTENSION.sub("", cells[0].strip())
        if not sample:
            problems.add(f"{where}: empty uid")
            continue
        for name, cell in zip(models, cells[1:], strict=True):
            if model is not None and name != model:
                continue
            if not cell.strip():
                continue
            pair = _cell(cell)
            if pair is None:
                problems.add(
                    f"{where}, column {name!r}: cell {cell!r}; expected [SC, PQ], each of "
                    f"{[f'{v:g}' for v in SCALE]} (ImagenHub's scale)"
                )
                continue
            sample_id = sample if model is not None else f"{name}/{sample}"
            cell_where = f"{where}, column {name!r}"
            ratings.append(Rating(sample_id, rater, None, math.sqrt(pair[0] * pair[1]), cell_where))
            for criterion, score in zip(CRITERIA, pair, strict=True):
                ratings.append(Rating(sample_id, rater, criterion, score, cell_where))
    if not ratings and len(problems.messages) == problems_before:
        problems.add(f"{path}: holds no rating")
    return ratings


def _cell(text: str) -> tuple[float, float] | None:
    """``[0.5, 1]`` (spaces anywhere) as (SC, PQ), or None if it is not two values of the
    scale."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, list) or len(value) != 2:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return None
    if not all(float(v) in SCALE for v in value):
        return None
    return float(value[0]), float(value[1])
