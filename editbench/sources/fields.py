"""One record made a sample: the fields every source maps its own names to, checked.

A source hands :func:`build_entry` a record under these names: ``id``, ``category``,
``instruction``, ``images`` (a list of image references, or ``image``: one), and optionally
``reference_image``, ``reference_text``; everything else is kept in ``Sample.extra``. What an
image reference is (a path relative to the dataset folder, bytes from a table) is the source's
business: it passes a function that turns one into an absolute path or says what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from editbench.records import Sample
from editbench.sources.problems import Problems

# The record's names that make the sample; the rest go to Sample.extra.
SAMPLE_FIELDS = (
    "id",
    "category",
    "instruction",
    "image",
    "images",
    "reference_image",
    "reference_text",
)

# reference -> (absolute path, None) or (None, what is wrong with it)
ImageResolver = Callable[[Any], tuple[str | None, str | None]]


@dataclass(frozen=True)
class Entry:
    """A valid record: its sample, where it was found, and how the record named each of its
    image files (for messages about an image that does not decode)."""

    sample: Sample
    where: str
    image_names: dict[str, str] = field(default_factory=dict)  # absolute path -> field and value


def build_entry(
    record: Mapping[str, Any], where: str, problems: Problems, resolve: ImageResolver
) -> Entry | None:
    """The entry of ``record``, or None after recording each of its problems at ``where``."""
    found_before = len(problems)
    sample_id = _identifier(record, problems, where)
    category = _text(record, "category", problems, where)
    instruction = _text(record, "instruction", problems, where)
    names: dict[str, str] = {}
    images = []
    for label, reference in _image_references(record, problems, where):
        path = _image(label, reference, resolve, problems, where)
        if path is not None:
            images.append(path)
            names.setdefault(path, f"{label} {shown(reference)}")
    reference_image = None
    if record.get("reference_image") not in (None, ""):
        reference = record["reference_image"]
        reference_image = _image("reference_image", reference, resolve, problems, where)
        if reference_image is not None:
            names.setdefault(reference_image, f"reference_image {shown(reference)}")
    reference_text = record.get("reference_text")
    if reference_text == "":
        reference_text = None  # an empty hint is no hint
    if reference_text is not None and not isinstance(reference_text, str):
        problems.add(
            f"field 'reference_text' is {shown(reference_text)} "
            f"({type(reference_text).__name__}); expected a string or null",
            where,
        )
    if len(problems) > found_before:
        return None
    extra = {key: value for key, value in record.items() if key not in SAMPLE_FIELDS}
    sample = Sample(
        id=sample_id,
        category=category,
        instruction=instruction,
        images=tuple(images),
        reference_image=reference_image,
        reference_text=reference_text,
        extra=extra,
    )
    return Entry(sample, where, names)


def _identifier(record: Mapping[str, Any], problems: Problems, where: str) -> str:
    """The id as a string: a benchmark's keys may be integers (RISEBench's ``index``); a
    string id is kept exactly as written."""
    value = record.get("id")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _text(record, "id", problems, where, expected="a non-empty string or an integer")


def _text(
    record: Mapping[str, Any],
    name: str,
    problems: Problems,
    where: str,
    expected: str = "a non-empty string",
) -> str:
    if name not in record or record[name] is None:
        problems.add(f"missing field {name!r}; expected {expected}", where)
        return ""
    value = record[name]
    if not isinstance(value, str):
        problems.add(
            f"field {name!r} is {shown(value)} ({type(value).__name__}); expected {expected}",
            where,
        )
        return ""
    if not value.strip():
        problems.add(f"field {name!r} is empty ({value!r}); expected {expected}", where)
        return ""
    return value


def _image_references(
    record: Mapping[str, Any], problems: Problems, where: str
) -> list[tuple[str, Any]]:
    """``(label, reference)`` of each input image: ``image`` alone or ``images`` in order."""
    has_one, has_many = "image" in record, "images" in record
    if has_one and has_many:
        problems.add("fields 'image' and 'images' both given; expected one of them", where)
        return []
    if has_one:
        return [("image", record["image"])]
    if not has_many:
        problems.add(
            "missing field 'image'; expected an image, or 'images': a list of images", where
        )
        return []
    images = record["images"]
    if not isinstance(images, list) or not images:
        problems.add(
            f"field 'images' is {shown(images)}; expected a non-empty list of images", where
        )
        return []
    return [(f"images[{i}]", reference) for i, reference in enumerate(images)]


def _image(
    label: str, reference: Any, resolve: ImageResolver, problems: Problems, where: str
) -> str | None:
    path, problem = resolve(reference)
    if problem:
        problems.add(f"{label} {shown(reference)} {problem}", where)
        return None
    return path


def shown(value: Any) -> str:
    """A value as a message shows it: short, whatever its size."""
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key!r}: {shown(item)}" for key, item in value.items()) + "}"
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
