"""RISEBench as its authors release it: one JSON list of items and the images it names.

The release (Hugging Face ``PhoenixZ/RISEBench``) is ``datav2_total_w_subtask.json`` beside
``data/``, the extracted ``data.zip``: ``data/<category>_images/<n>.png``. Each item is a flat
object whose keys are present only where they apply:

- ``index`` (the id, ``"temporal_reasoning_1"``), ``category`` (``temporal_reasoning``,
  ``causal_reasoning``, ``spatial_reasoning``, ``logical_reasoning``), ``instruction``,
  ``image`` (a path relative to ``data/``), ``subtask`` (absent from the early 64-item set);
- ``reference`` (the expected outcome, in words; temporal, causal and spatial items),
  ``reference_txt`` (a logical item's answer, in words), ``reference_img`` (the expected
  result as an image; some spatial and logical items);
- the flags ``reasoning_img`` (the reasoning judge also sees the source image),
  ``consistency_free`` (no consistency judgement) and ``reasoning_wo_ins`` (a logical item's
  reasoning judge does not see the instruction).

The sample's reference text is ``reference_txt`` for a logical item and ``reference`` for the
others, as the official judge fills its prompts (the other one, if present, is kept under its
own name). ``reference_img`` becomes the reference image. Every other key is kept in
``Sample.extra``, with ``subtask`` (None where absent) and each flag as a boolean.

A flag is set only when it is present and truthy. The official code reads the item as a pandas
row of a table built from the whole file, so a key that one item has is a column that every
item has (NaN where absent), and it tests flags in three ways: ``pd.isna`` (any value but
null counts, ``false`` and ``0`` included), ``'key' in row`` (true for every row once any item
has the key: ``reasoning_wo_ins``) and Python truth (NaN counts: the weighted score's
``consistency_free``). Here null, NaN, ``false``, ``0`` and ``""`` are unset, per item.

``judge_variant`` (an extra field the source sets) names the judging variant that picks each
call's prompt in ``conf/protocol/rise.yaml``, as the official judge picks them, in this order:

============================== ============================================================
temporal_causal                temporal or causal item
temporal_causal_with_input     temporal or causal item with ``reasoning_img``
spatial_ref_img                spatial item with ``reference_img``
spatial_with_input             other spatial item with ``reasoning_img``
spatial                        other spatial item
logical_text                   logical item with ``reference_txt``
logical_image                  other logical item with ``reference_img``
logical_image_wo_ins           the same with ``reasoning_wo_ins``
============================== ============================================================

A variant whose prompts quote the reference text needs it: every variant but
``spatial_ref_img``, ``logical_image`` and ``logical_image_wo_ins``; a logical item needs
``reference_txt`` or ``reference_img``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from editbench.errors import EditbenchError
from editbench.records import Sample
from editbench.sources.fields import SAMPLE_FIELDS, build_entry, shown
from editbench.sources.images import dataset_root, inside
from editbench.sources.problems import Problems
from editbench.sources.selection import Filter, select

CATEGORIES = ("temporal_reasoning", "causal_reasoning", "spatial_reasoning", "logical_reasoning")
FLAGS = ("consistency_free", "reasoning_img", "reasoning_wo_ins")
VARIANT = "judge_variant"
# Variants whose prompts need no reference text: the reference image stands for it.
_IMAGE_VARIANTS = ("spatial_ref_img", "logical_image", "logical_image_wo_ins")
# Keys an item may not carry: our own names for what the source builds from RISEBench's.
_RESERVED = (
    *(name for name in SAMPLE_FIELDS if name not in ("category", "instruction", "image")),
    VARIANT,
)


def load_rise(
    root: str | Path,
    annotations: str = "datav2_total_w_subtask.json",
    images: str = "data",
    categories: Sequence[str] | str | None = None,
    where: Filter | None = None,
    limit: int | None = None,
    shard: str | None = None,
    subsets: Mapping[str, Filter] | None = None,
) -> list[Sample]:
    """The selected items of ``<root>/<annotations>`` in the file's order, with image paths
    relative to ``<root>/<images>`` (see the module's docstring; selection as in
    :func:`~editbench.sources.selection.select`). Raises :class:`EditbenchError` listing every
    problem, each with the item's position and index."""
    root_dir = dataset_root(
        root,
        f"the RISEBench folder holding {annotations} and {images}/",
    )
    annotation_file = root_dir / annotations
    if not annotation_file.is_file():
        raise EditbenchError(
            f"Dataset root {str(root_dir)!r} has no annotations file {annotations!r}; expected "
            f"the file {str(annotation_file)!r} (a JSON list of items; dataset.annotations "
            "names another)"
        )
    image_dir = root_dir / images
    if not image_dir.is_dir():
        raise EditbenchError(
            f"Dataset root {str(root_dir)!r} has no image folder {images!r}; expected the "
            f"folder {str(image_dir)!r} (the extracted data.zip; dataset.images names another)"
        )
    image_dir = image_dir.resolve()
    items = _read_items(annotation_file)
    problems = Problems(str(root_dir))
    entries = []
    for position, item in enumerate(items):
        where_found = _place(annotations, position, item)
        if not isinstance(item, dict):
            problems.add(
                f"a JSON {type(item).__name__}; expected an object with index, category, "
                "instruction, image",
                where_found,
            )
            continue
        record = _record(item, where_found, problems)
        if record is None:
            continue
        entry = build_entry(record, where_found, problems, lambda path: inside(image_dir, path))
        if entry is not None:
            entries.append(entry)
    return select(entries, problems, categories, where, limit, shard, subsets)


def _read_items(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise EditbenchError(
            f"Cannot read {path} ({err.strerror}); expected a readable file"
        ) from err
    except UnicodeDecodeError as err:
        raise EditbenchError(
            f"{path} is not valid UTF-8 ({err.reason} at byte {err.start}); expected a JSON file"
        ) from None
    try:
        items = json.loads(text)
    except json.JSONDecodeError as err:
        raise EditbenchError(
            f"{path} is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno}); "
            "expected a JSON list of items"
        ) from None
    if not isinstance(items, list):
        raise EditbenchError(
            f"{path} holds a JSON {type(items).__name__}; expected a list of items, each an "
            "object with index, category, instruction, image"
        )
    return items


def _place(annotations: str, position: int, item: Any) -> str:
    index = item.get("index") if isinstance(item, dict) else None
    named = f" (index {str(index)[:80]!r})" if isinstance(index, str | int) else ""
    return f"{annotations} item {position}{named}"


def _record(item: Mapping[str, Any], where: str, problems: Problems) -> dict[str, Any] | None:
    """The item under our names (see :func:`~editbench.sources.fields.build_entry`), or None
    after recording what makes it unusable."""
    found_before = len(problems)
    for key in _RESERVED:
        if key in item:
            problems.add(
                f"has the key {key!r}, which RISEBench items do not have and this source sets "
                "itself; expected RISEBench's keys (index, category, instruction, image, ...)",
                where,
            )
    index = item.get("index")
    if isinstance(index, bool) or not isinstance(index, str | int) or not str(index).strip():
        problems.add(
            f"field 'index' is {shown(index)}; expected the item's id, a non-empty string"
            if "index" in item
            else "missing field 'index'; expected the item's id, a non-empty string",
            where,
        )
    category = item.get("category")
    if isinstance(category, str) and category not in CATEGORIES:
        problems.add(
            f"field 'category' is {category!r}; expected one of {', '.join(CATEGORIES)}", where
        )
    flags = {name: _flag(item, name, where, problems) for name in FLAGS}
    texts = {name: _text(item, name, where, problems) for name in ("reference", "reference_txt")}
    subtask = item.get("subtask")
    if subtask is not None and not isinstance(subtask, str):
        problems.add(
            f"field 'subtask' is {subtask!r} ({type(subtask).__name__}); expected a string",
            where,
        )
    if len(problems) > found_before:
        return None
    reference_img = item.get("reference_img")
    has_image = reference_img not in (None, "")
    variant = _variant(category, flags, texts, has_image)
    if category == "logical_reasoning" and variant is None:
        problems.add(
            "logical item has neither 'reference_txt' nor 'reference_img'; expected one of them "
            "(the answer the judge compares the edit with)",
            where,
        )
        return None
    text_key = "reference_txt" if category == "logical_reasoning" else "reference"
    if variant is not None and variant not in _IMAGE_VARIANTS and texts[text_key] is None:
        problems.add(
            f"has no {text_key!r}; expected the expected outcome in words, which the judge's "
            f"prompts for this item ({VARIANT} {variant!r}) quote",
            where,
        )
        return None

    passed = {key: value for key, value in item.items() if key not in _RISE_KEYS}
    record: dict[str, Any] = {
        **passed,
        "id": index,
        "category": category,
        "instruction": item.get("instruction"),
        "image": item.get("image"),
        "subtask": subtask,
        **flags,
        VARIANT: variant,
    }
    if "image" not in item:
        del record["image"]  # build_entry names the missing field
    if has_image:
        record["reference_image"] = reference_img
    record["reference_text"] = texts[text_key]
    other = "reference" if text_key == "reference_txt" else "reference_txt"
    if texts[other] is not None:
        record[other] = texts[other]
    return record


# RISEBench keys the record renames or reads; every other key passes through to extra.
_RISE_KEYS = (
    "index",
    "category",
    "instruction",
    "image",
    "subtask",
    "reference",
    "reference_txt",
    "reference_img",
    *FLAGS,
)


def _variant(
    category: Any, flags: Mapping[str, bool], texts: Mapping[str, str | None], has_image: bool
) -> str | None:
    """The item's judging variant (the module's table); None for an unknown category or a
    logical item without an answer."""
    if category in ("temporal_reasoning", "causal_reasoning"):
        return "temporal_causal_with_input" if flags["reasoning_img"] else "temporal_causal"
    if category == "spatial_reasoning":
        if has_image:
            return "spatial_ref_img"
        return "spatial_with_input" if flags["reasoning_img"] else "spatial"
    if category == "logical_reasoning":
        if texts["reference_txt"] is not None:
            return "logical_text"
        if has_image:
            return "logical_image_wo_ins" if flags["reasoning_wo_ins"] else "logical_image"
    return None


def _flag(item: Mapping[str, Any], name: str, where: str, problems: Problems) -> bool:
    """Whether the flag ``name`` is set: present and truthy; null and NaN (pandas' "absent")
    are unset. A list or object is not a flag."""
    value = item.get(name)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    if not isinstance(value, bool | int | float | str):
        problems.add(
            f"field {name!r} is {shown(value)} ({type(value).__name__}); expected a flag: "
            "true/false, a number, a string or null",
            where,
        )
        return False
    return bool(value)


def _text(item: Mapping[str, Any], name: str, where: str, problems: Problems) -> str | None:
    """The text of field ``name``: None where it is absent or null."""
    value = item.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.add(
            f"field {name!r} is {shown(value)} ({type(value).__name__}); expected a non-empty "
            "string or null",
            where,
        )
        return None
    return value
