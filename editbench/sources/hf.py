"""Any Hugging Face dataset, through the ``datasets`` library.

``path`` is a hub id, read at the pinned ``revision``, or a local folder laid out like the hub
repository (``data/*.parquet``, or a folder written by ``Dataset.save_to_disk``). A column map
says which column holds the id, the category, the instruction, the input image(s), the
reference image and text (an id may be made of several columns, joined by ``/``: GEdit-Bench's
``key/instruction_language``); the columns that hold no image (unless the map lists which) are
also kept as fields under their own names, for judge prompts, filters, subsets and path
patterns.

Image columns are read undecoded, as the file bytes the dataset holds, and written once into
``image_cache`` under the hash of those bytes: the same image has the same file on every run,
so the store's keys, which hash the input files, stay the same from run to run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from editbench.errors import EditbenchError
from editbench.records import Sample
from editbench.sources.fields import SAMPLE_FIELDS, build_entry
from editbench.sources.images import ContentCache
from editbench.sources.problems import Problems
from editbench.sources.selection import Filter, select

_COLUMN_KEYS = ("id", "category", "instruction", "images", "reference_image", "reference_text")


def load_hf(
    path: str,
    split: str = "train",
    revision: str | None = None,
    name: str | None = None,
    columns: Mapping[str, Any] | None = None,
    image_cache: str = "outputs/store/dataset_images",
    categories: Sequence[str] | str | None = None,
    where: Filter | None = None,
    limit: int | None = None,
    shard: str | None = None,
    subsets: Mapping[str, Filter] | None = None,
) -> list[Sample]:
    """The selected samples of the dataset at ``path`` (see the module's docstring), in the
    split's row order; raises :class:`EditbenchError` naming every problem, each with its row
    and the row's id."""
    import datasets  # imported here: a heavy import that only this source needs

    columns = {"images": ["image"], **dict(columns or {})}
    dataset = _open(datasets, path, split, revision, name)
    mapping = _column_map(columns, dataset.column_names, path)
    image_columns = {
        column
        for column in dataset.column_names
        if isinstance(dataset.features[column], datasets.Image)
    }
    for column in [*mapping["images"], mapping.get("reference_image")]:
        if column is not None and column not in image_columns:
            # A column of paths or bytes under another feature type: read it as images too.
            image_columns.add(column)
    wanted = [
        *dict.fromkeys(
            [
                *mapping["id"],
                *(mapping[k] for k in _COLUMN_KEYS if k not in ("id", "images")),
                *mapping["images"],
                *(mapping["extra"] or []),
            ]
        )
    ]
    if mapping["extra"] is None:  # every column holding no image is kept
        wanted += [c for c in dataset.column_names if c not in image_columns and c not in wanted]
    dataset = dataset.select_columns([c for c in wanted if c is not None])
    dataset = dataset.cast(
        datasets.Features(
            {
                column: datasets.Image(decode=False) if column in image_columns else feature
                for column, feature in dataset.features.items()
            }
        )
    )
    extra = mapping["extra"]
    if extra is None:
        # Every column that holds no image stays a field under its own name, mapped ones too
        # (GEdit's task_type is the category, and its release layout names folders by it),
        # except where the name is one of a sample's own.
        extra = [
            c for c in dataset.column_names if c not in image_columns and c not in SAMPLE_FIELDS
        ]
    cache = ContentCache(image_cache)
    problems = Problems(f"{path}{f'@{revision}' if revision else ''} (split {split!r})")
    entries = []
    for index, row in enumerate(dataset):
        record: dict[str, Any] = {
            key: row[mapping[key]]
            for key in ("category", "instruction", "reference_text", "reference_image")
            if mapping.get(key) is not None
        }
        ids = [row[column] for column in mapping["id"]]
        record["id"] = ids[0] if len(ids) == 1 else "/".join(str(value) for value in ids)
        record["images"] = [row[column] for column in mapping["images"]]
        record.update({column: row[column] for column in extra})
        where_found = f"row {index} (id {str(record['id'])[:80]!r})"
        entry = build_entry(record, where_found, problems, lambda value: _cached(value, cache))
        if entry is not None:
            entries.append(entry)
    return select(entries, problems, categories, where, limit, shard, subsets)


def _open(datasets: Any, path: str, split: str, revision: str | None, name: str | None) -> Any:
    """The split of the dataset at ``path``: a local folder (parquet files, or save_to_disk's
    layout) or a hub id at a pinned revision."""
    local = Path(path).expanduser()
    try:
        if local.is_dir():
            if (local / "dataset_info.json").is_file() or (local / "state.json").is_file():
                return datasets.load_from_disk(str(local))
            if (local / "dataset_dict.json").is_file():
                return datasets.load_from_disk(str(local))[split]
            return datasets.load_dataset(str(local), name, split=split)
        if local.exists() or path.startswith((".", "/", "~")):
            raise EditbenchError(
                f"dataset.path={path!r} is not a folder; expected a hub id (owner/name) or a "
                "folder laid out like the hub repository (data/*.parquet)"
            )
        if revision is None:
            raise EditbenchError(
                f"dataset.path={path!r} is a hub id without a revision; pin the commit you "
                "evaluate (dataset.revision=<commit sha>, from the dataset's 'Files and "
                "versions' history), so that every run reads the same data"
            )
        return datasets.load_dataset(path, name, split=split, revision=revision)
    except EditbenchError:
        raise
    except Exception as error:  # datasets reports a missing split, file or hub id in many types
        raise EditbenchError(
            f"Cannot read the dataset {path!r} (split {split!r}"
            f"{f', revision {revision!r}' if revision else ''}): {type(error).__name__}: {error}"
        ) from None


def _column_map(columns: Mapping[str, Any], present: Sequence[str], path: str) -> dict[str, Any]:
    """The column map with every named column checked against the dataset's columns."""
    unknown_keys = sorted(set(columns) - {*_COLUMN_KEYS, "extra"})
    problems = [
        f"columns.{key}: not a field; expected one of {', '.join((*_COLUMN_KEYS, 'extra'))}"
        for key in unknown_keys
    ]
    mapping = {key: columns.get(key) for key in (*_COLUMN_KEYS, "extra")}
    for key in ("id", "images"):  # one column, or several (an id made of "key/language")
        if isinstance(mapping[key], str):
            mapping[key] = [mapping[key]]
    if not mapping["id"]:
        problems.append("columns.id: empty; expected the id column(s)")
    if not mapping["images"]:
        problems.append("columns.images: empty; expected the input image column(s)")
    named = [
        (f"columns.{key}", mapping[key])
        for key in ("category", "instruction", "reference_image", "reference_text")
        if mapping[key] is not None
    ]
    named += [(f"columns.id[{i}]", column) for i, column in enumerate(mapping["id"] or [])]
    named += [(f"columns.images[{i}]", column) for i, column in enumerate(mapping["images"] or [])]
    named += [(f"columns.extra[{i}]", column) for i, column in enumerate(mapping["extra"] or [])]
    for key, column in named:
        if column not in present:
            problems.append(
                f"{key}: no column {column!r}; the dataset's columns are: {', '.join(present)}"
            )
    if problems:
        raise EditbenchError(
            f"Dataset {path} cannot be read with this column map:\n"
            + "\n".join(f"  {problem}" for problem in problems)
        )
    return mapping


def _cached(value: Any, cache: ContentCache) -> tuple[str | None, str | None]:
    """The cached file of one image cell: ``{"bytes": ..., "path": ...}`` as ``datasets``
    gives an undecoded image, or the bytes themselves."""
    if isinstance(value, Mapping):
        data = value.get("bytes")
        if data is None and value.get("path"):
            file = Path(value["path"])
            if not file.is_file():
                return None, f"names the file {value['path']!r}, which does not exist"
            data = file.read_bytes()
        value = data
    if value is None:
        return None, "is empty; expected an image"
    return cache.path_of(value)
