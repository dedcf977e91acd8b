"""KRIS-Bench in its published layout: the ``KRIS_Bench`` folder of the Hugging Face dataset
``Liang0223/KRIS_Bench``, one folder per category, each holding ``annotation.json`` and the
images it names.

``annotation.json`` maps ids ("1", "2", ...) to records of ``ori_img`` (one file name, or a
list of them for ``multi-element_composition`` and ``temporal_prediction``), ``gt_img`` (a
ground-truth file name, usually "" and absent in ``abstract_reasoning``), ``ins_en`` (the
instruction) and ``explain_en`` (the knowledge hint, possibly ""). Each record becomes a
sample with id ``<category>/<id>``, the ``ori_img`` files as its images in order, ``gt_img``
as its reference image where there is one, and two extra fields: ``explain_en`` and
``judge_variant``, the official script that judges the category (:data:`JUDGE_VARIANTS`),
which picks the prompts of the ``kris`` protocol. A ``temporal_prediction`` sample also has
``predicted_frame``: the number (1-4) of the frame its edit stands for, found from the frame
numbers in its ``ori_img`` names as the official script finds it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import reprlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from editbench.errors import EditbenchError
from editbench.records import Sample
from editbench.sources.fields import Entry, build_entry
from editbench.sources.images import dataset_root, inside
from editbench.sources.problems import Problems
from editbench.sources.selection import Filter, select

log = logging.getLogger(__name__)

ANNOTATION = "annotation.json"

# Which official script judges each category: metrics_common.py (common), metrics_view_change.py
# (view), metrics_knowledge.py (knowledge), metrics_multi_element.py (multi) and
# metrics_temporal_prediction.py (temporal). anomaly_correction is judged by the common script
# with the plain instruction-following prompt: the script's test for its own prompt looks for
# "abnormality_correction", which no folder is named.
JUDGE_VARIANTS: dict[str, str] = {
    "count_change": "common",
    "color_change": "common",
    "anomaly_correction": "common",
    "position_movement": "common",
    "size_adjustment": "common",
    "part_completion": "common",
    "multi-instruction_execution": "common",
    "viewpoint_change": "view",
    "abstract_reasoning": "knowledge",
    "mathematics": "knowledge",
    "practical_knowledge": "knowledge",
    "medicine": "knowledge",
    "rule-based_reasoning": "knowledge",
    "biology": "knowledge",
    "geography": "knowledge",
    "chemistry": "knowledge",
    "humanities": "knowledge",
    "physics": "knowledge",
    "multi-element_composition": "multi",
    "temporal_prediction": "temporal",
}
# The variants whose ori_img is a list of files; every other category's is one file name.
_IMAGE_LISTS = ("multi", "temporal")
# A temporal frame's file name, "<id>-<frame>.jpg": the official script reads the frame number
# as the second group of the first match.
_FRAME = re.compile(r"(\d+)-(\d+)")
_FRAMES = frozenset({1, 2, 3, 4})


def load_kris(
    root: str | Path,
    categories: Sequence[str] | str | None = None,
    where: Filter | None = None,
    limit: int | None = None,
    shard: str | None = None,
    subsets: Mapping[str, Filter] | None = None,
) -> list[Sample]:
    """The selected samples of the KRIS_Bench folder ``root``, category folders in name order
    and each one's records in its file's order (see
    :func:`~editbench.sources.selection.select` for the selection). Every record is checked;
    raises :class:`EditbenchError` listing every problem, each with its file and id."""
    root_dir = dataset_root(
        root,
        f"the KRIS_Bench folder, with one folder per category holding {ANNOTATION}",
    )
    if (root_dir / ANNOTATION).is_file():
        raise EditbenchError(
            f"Dataset root {str(root_dir)!r} holds {ANNOTATION}, so it is one category's folder; "
            f"expected the KRIS_Bench folder above it, {str(root_dir.parent)!r}"
        )
    problems = Problems(str(root_dir))
    entries: list[Entry] = []
    folders = sorted(p for p in root_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    for folder in folders:
        if folder.name not in JUDGE_VARIANTS:
            problems.add(
                f"folder {folder.name!r} is not a KRIS-Bench category; expected only the "
                f"category folders: {', '.join(sorted(JUDGE_VARIANTS))}"
            )
            continue
        entries += _read_category(folder, problems)
    absent = [name for name in sorted(JUDGE_VARIANTS) if not (root_dir / name).is_dir()]
    if absent and len(absent) < len(JUDGE_VARIANTS):
        # A partial copy is usable, but its overall figure is not the benchmark's.
        log.warning("KRIS-Bench folder %s lacks the categories: %s", root_dir, ", ".join(absent))
    return select(entries, problems, categories, where, limit, shard, subsets)


def _read_category(folder: Path, problems: Problems) -> list[Entry]:
    """Every valid record's entry of one category folder; the others' problems are recorded."""
    annotation = folder / ANNOTATION
    if not annotation.is_file():
        problems.add("not found; expected the category's records", str(annotation))
        return []
    repeated: list[str] = []
    try:
        records = json.loads(
            annotation.read_bytes().decode("utf-8-sig"),  # a BOM is no problem
            object_pairs_hook=lambda pairs: _unique(pairs, repeated),
        )
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        problems.add(
            f"cannot be read as JSON ({error}); expected an object of records by id",
            str(annotation),
        )
        return []
    if repeated:
        # json would keep the last of each silently; ids and fields must be given once
        problems.add(
            f"repeats the keys {sorted(set(repeated))}; expected every id, and every field of "
            "a record, once",
            str(annotation),
        )
    if not isinstance(records, dict):
        problems.add(
            f"a JSON {type(records).__name__}; expected an object of records by id "
            '({"1": {"ori_img": ..., "ins_en": ...}, ...})',
            str(annotation),
        )
        return []
    if not records:
        problems.add("has no records; expected at least one", str(annotation))
    entries = []
    for key, record in records.items():
        entry = _entry(folder, key, record, problems, f"{annotation} id {key!r}")
        if entry is not None:
            entries.append(entry)
    return entries


def _unique(pairs: list[tuple[str, Any]], repeated: list[str]) -> dict[str, Any]:
    """The object of ``pairs``, noting in ``repeated`` each key given twice."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            repeated.append(key)
        found[key] = value
    return found


def _entry(folder: Path, key: str, record: Any, problems: Problems, where: str) -> Entry | None:
    """The entry of one annotation record, or None after recording its problems."""
    if not isinstance(record, dict):
        problems.add(
            f"a JSON {type(record).__name__}; expected an object with ori_img, ins_en, "
            "explain_en and gt_img",
            where,
        )
        return None
    found_before = len(problems)
    category = folder.name
    variant = JUDGE_VARIANTS[category]
    names: dict[str, str] = {}  # absolute path -> how the record names it, for decode messages

    def resolve(field: str, value: str) -> str | None:
        path, problem = inside(folder, value)
        if problem:
            problems.add(f"{field} {value!r} {problem}", where)
            return None
        names.setdefault(path, f"{field} {value!r}")
        return path

    sources = [resolve("ori_img", name) for name in _source_names(record, variant, problems, where)]
    images = [path for path in sources if path is not None]
    gt = record.get("gt_img", "")
    reference = None
    if not isinstance(gt, str):
        problems.add(
            f"gt_img is {reprlib.repr(gt)}; expected a file name or an empty string", where
        )
    elif gt:
        reference = resolve("gt_img", gt)
    elif variant == "view":
        problems.add(
            "gt_img is empty; expected the ground-truth view, which the judge of "
            f"{category} is shown",
            where,
        )
    explanation = record.get("explain_en", "")  # absent is empty, as the official scripts read it
    if not isinstance(explanation, str):
        problems.add(
            f"explain_en is {reprlib.repr(explanation)}; expected a string (possibly empty)", where
        )
    instruction = record.get("ins_en")
    if not isinstance(instruction, str) or not instruction.strip():
        shown = "missing" if "ins_en" not in record else reprlib.repr(instruction)
        problems.add(f"ins_en is {shown}; expected the instruction, a non-empty string", where)
    if len(problems) > found_before:
        return None
    sample: dict[str, Any] = {
        "id": f"{category}/{key}",
        "category": category,
        "instruction": instruction,
        "images": images,
        "reference_image": reference,
        "explain_en": explanation,
        "judge_variant": variant,
    }
    if variant == "temporal":
        sample["predicted_frame"] = _predicted_frame(record["ori_img"])
    entry = build_entry(sample, where, problems, lambda path: (path, None))
    return None if entry is None else dataclasses.replace(entry, image_names=names)


def _source_names(
    record: Mapping[str, Any], variant: str, problems: Problems, where: str
) -> list[str]:
    """The record's ori_img file names, in order: a list of them where the variant's script
    takes several images, else one name."""
    value = record.get("ori_img")
    if variant in _IMAGE_LISTS:
        if not (
            isinstance(value, list)
            and value
            and all(isinstance(name, str) and name.strip() for name in value)
        ):
            shown = "missing" if "ori_img" not in record else reprlib.repr(value)
            problems.add(f"ori_img is {shown}; expected a list of file names", where)
            return []
        if variant == "temporal":
            unnumbered = [name for name in value if not _FRAME.search(name)]
            if unnumbered:
                problems.add(
                    f"ori_img names {unnumbered} carry no frame number; expected names "
                    "'<id>-<frame>.<ext>'",
                    where,
                )
                return []
        return list(value)
    if not isinstance(value, str) or not value.strip():
        shown = "missing" if "ori_img" not in record else reprlib.repr(value)
        problems.add(f"ori_img is {shown}; expected one file name", where)
        return []
    return [value]


def _predicted_frame(references: Sequence[str]) -> int:
    """The frame the edit stands for: the one of 1-4 that no reference is, else the frame
    after the last (metrics_temporal_prediction.py)."""
    frames = {int(_FRAME.search(name).group(2)) for name in references}
    missing = _FRAMES - frames
    return next(iter(missing)) if len(missing) == 1 else max(frames) + 1
