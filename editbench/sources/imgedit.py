"""ImgEdit-Bench's Basic suite, as its repository and dataset publish it.

``basic_edit.json`` (PKU-YuanGroup/ImgEdit, ``Benchmark/Basic/``) is one JSON object mapping
each key (a numeric string) to ``{"id": <source image path>, "prompt": <instruction>,
"edit_type": <one of the nine types>}``; ``id`` is relative to ``Benchmark/singleturn`` of
``Benchmark.tar`` (Hugging Face dataset ``sysuyy/ImgEdit``), extracted beside it. A sample is
one key: its id is the key (ImgEdit saves the edit as ``<key>.png``), its category the
``edit_type``, its instruction the ``prompt``, its one input image the file ``id`` names; the
``id`` itself is kept as the extra field ``image_id``. Keys keep the file's order. Any other
field an annotation has is kept as an extra field too, unless editbench uses its name.

The first release of the file (ImgEdit commit c14480a, still shipped by UniWorld-V1) spells the
adjust type ``"alter"`` and words 57 prompts differently; ImgEdit's judge has no prompt for
``"alter"``. It is rejected with the fix, not read as ``adjust``: with 57 other instructions, a
run on it could not be set beside runs on the current file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from editbench.errors import EditbenchError
from editbench.records import Sample
from editbench.sources.fields import SAMPLE_FIELDS, Entry, build_entry
from editbench.sources.images import dataset_root, inside
from editbench.sources.problems import Problems
from editbench.sources.selection import Filter, select

# The nine edit types, in the order of ImgEdit's result tables (compose is "Hybrid" there).
EDIT_TYPES = (
    "add",
    "adjust",
    "extract",
    "replace",
    "remove",
    "background",
    "style",
    "compose",
    "action",
)
FIELDS = ("id", "prompt", "edit_type")  # every annotation's fields, all strings
IMAGE_ID = "image_id"  # the extra field keeping the annotation's id (the source image's path)
_RESERVED = (*SAMPLE_FIELDS, IMAGE_ID)  # names another annotation field cannot take
_OLD_ADJUST = "alter"


class _Pairs(list):
    """A JSON object's key-value pairs in order, repeats kept (a repeated key is a problem)."""


def load_imgedit(
    root: str | Path,
    annotations: str = "basic_edit.json",
    images: str = "Benchmark/singleturn",
    categories: Sequence[str] | str | None = None,
    where: Filter | None = None,
    limit: int | None = None,
    shard: str | None = None,
    subsets: Mapping[str, Filter] | None = None,
) -> list[Sample]:
    """The selected samples of the ImgEdit-Bench folder ``root`` (see the module's docstring),
    in the annotation file's order. ``annotations`` and ``images`` are relative to ``root``
    (or absolute); every image path must stay inside ``images``. Raises
    :class:`EditbenchError` naming every problem with its key and field (see
    :func:`~editbench.sources.selection.select` for the selection)."""
    root_dir = dataset_root(
        root,
        f"the ImgEdit-Bench folder holding {annotations} and {images}/ (Benchmark.tar extracted)",
    )
    annotation_file = root_dir / annotations
    if not annotation_file.is_file():
        raise EditbenchError(
            f"ImgEdit-Bench folder {str(root_dir)!r} has no annotation file "
            f"{str(annotation_file)!r}; expected ImgEdit's Benchmark/Basic/basic_edit.json "
            "there (or set dataset.annotations)"
        )
    image_dir = root_dir / images
    if not image_dir.is_dir():
        raise EditbenchError(
            f"ImgEdit-Bench folder {str(root_dir)!r} has no image folder {str(image_dir)!r}; "
            "expected Benchmark.tar (Hugging Face dataset sysuyy/ImgEdit) extracted there, its "
            "singleturn folder holding the source images (or set dataset.images)"
        )
    image_dir = image_dir.resolve()
    problems = Problems(str(annotation_file))
    entries = _read(annotation_file, image_dir, problems)
    return select(entries, problems, categories, where, limit, shard, subsets)


def _read(annotation_file: Path, image_dir: Path, problems: Problems) -> list[Entry]:
    """Every valid annotation's entry; the problems of the others are recorded by key."""
    try:
        text = annotation_file.read_bytes().decode("utf-8")
    except OSError as err:
        raise EditbenchError(
            f"Cannot read {annotation_file} ({err.strerror}); expected a readable file"
        ) from err
    except UnicodeDecodeError as err:
        raise EditbenchError(
            f"{annotation_file} is not valid UTF-8 ({err.reason} at byte {err.start}); expected "
            "ImgEdit's basic_edit.json, a JSON file"
        ) from None
    try:
        document = json.loads(text, object_pairs_hook=_Pairs)
    except json.JSONDecodeError as err:
        raise EditbenchError(
            f"{annotation_file} is not valid JSON ({err.msg} at line {err.lineno}, column "
            f"{err.colno}); expected one JSON object mapping each key to "
            '{"id": ..., "prompt": ..., "edit_type": ...}'
        ) from None
    if not isinstance(document, _Pairs):
        raise EditbenchError(
            f"{annotation_file} holds a JSON {_json_type(document)}; expected one JSON object "
            'mapping each key to {"id": ..., "prompt": ..., "edit_type": ...}'
        )
    entries = []
    seen: set[str] = set()
    old_spelling: list[str] = []
    for key, annotation in document:
        where = f"{annotation_file.name} key {key!r}"
        if key in seen:
            problems.add(
                f"key {key!r} appears more than once in the object; expected every key once "
                "(a JSON reader would silently keep the last)",
                where,
            )
            continue
        seen.add(key)
        record = _record(key, annotation, where, problems, old_spelling)
        if record is None:
            continue
        entry = build_entry(record, where, problems, lambda path: _source_image(image_dir, path))
        if entry is not None:
            entries.append(entry)
    if old_spelling:
        count = len(old_spelling)
        problems.add(
            f"{count} key{'s' if count > 1 else ''} (first {old_spelling[0]!r}) give edit_type "
            "'alter', the first release's spelling of 'adjust' (ImgEdit commit c14480a, as "
            "UniWorld-V1 ships it), whose prompts differ from the current file's in 57 keys; "
            "expected the current Benchmark/Basic/basic_edit.json of PKU-YuanGroup/ImgEdit "
            "(commit b3eb8e7 or later), which spells it 'adjust'"
        )
    return entries


def _record(
    key: str, annotation: Any, where: str, problems: Problems, old_spelling: list[str]
) -> dict[str, Any] | None:
    """The annotation under our field names, or None after recording why it cannot be one (a
    key whose edit_type is the old ``"alter"`` goes to ``old_spelling``, reported once)."""
    if not isinstance(annotation, _Pairs):
        problems.add(
            f"a JSON {_json_type(annotation)}; expected an object with fields {', '.join(FIELDS)}",
            where,
        )
        return None
    fields: dict[str, Any] = {}
    found_before = len(problems)
    if not key.strip():
        problems.add(f"key {key!r} is empty; expected a non-empty key, such as '1082'", where)
    for name, value in annotation:
        if name in fields:
            problems.add(f"field {name!r} appears more than once; expected it once", where)
        elif name not in FIELDS and name in _RESERVED:
            problems.add(
                f"field {name!r} is not one of ImgEdit's ({', '.join(FIELDS)}) and editbench "
                "uses its name; expected no such field",
                where,
            )
        fields[name] = value
    for name in FIELDS:
        if name not in fields:
            problems.add(f"missing field {name!r}; expected a non-empty string", where)
        elif not isinstance(fields[name], str):
            problems.add(
                f"field {name!r} is {_shown(fields[name])} ({_json_type(fields[name])}); "
                "expected a non-empty string",
                where,
            )
        elif not fields[name].strip():
            problems.add(
                f"field {name!r} is empty ({fields[name]!r}); expected a non-empty string", where
            )
    edit_type = fields.get("edit_type")
    if edit_type == _OLD_ADJUST:
        old_spelling.append(key)
        return None
    if isinstance(edit_type, str) and edit_type not in EDIT_TYPES:
        problems.add(
            f"edit_type {edit_type!r} is not an ImgEdit edit type; expected one of "
            f"{', '.join(EDIT_TYPES)}",
            where,
        )
    if len(problems) > found_before:
        return None
    extra = {name: value for name, value in fields.items() if name not in FIELDS}
    return {
        **extra,
        "id": key,
        "category": edit_type,
        "instruction": fields["prompt"],
        "image": fields["id"],
        IMAGE_ID: fields["id"],
    }


def _source_image(image_dir: Path, relative: Any) -> tuple[str | None, str | None]:
    """The source image that an annotation's ``id`` names, inside ``image_dir``, or what is
    wrong with it, saying which field named it."""
    path, problem = inside(image_dir, relative)
    return path, None if problem is None else f"(field 'id') {problem}"


def _json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages."""
    if isinstance(value, _Pairs):
        return "object"
    if isinstance(value, bool):
        return "boolean"
    names = {str: "string", int: "number", float: "number", list: "array", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    """A value as a message shows it: short, as JSON writes it."""
    text = json.dumps(_plain(value), ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."


def _plain(value: Any) -> Any:
    """A decoded value with its objects as dicts again."""
    if isinstance(value, _Pairs):
        return {key: _plain(item) for key, item in value}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
