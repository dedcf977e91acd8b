"""Which of a dataset's samples a run takes, and the checks every source shares: unique ids,
known categories and fields in the filters, and images that decode at a size models take."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from editbench.records import Sample
from editbench.sources.fields import Entry
from editbench.sources.images import decode_problems
from editbench.sources.problems import Problems

# A filter: each field's value must equal the given value, or be one of the given list.
Filter = Mapping[str, Any]


def select(
    entries: Sequence[Entry],
    problems: Problems,
    categories: Sequence[str] | str | None = None,
    where: Filter | None = None,
    limit: int | None = None,
    shard: str | None = None,
    subsets: Mapping[str, Filter] | None = None,
) -> list[Sample]:
    """The samples a run takes from ``entries``, in their order; raises listing every problem.

    ``categories`` keeps the samples of those categories (a single string is one), ``where``
    those whose fields match it (:func:`matches`), ``limit`` then the first ``limit``;
    ``shard="i/N"`` then keeps part ``i`` of ``N``, chosen by a hash of each id, so the N
    shards partition the selection whatever the order (a shard may be empty). ``subsets`` are
    the filters the results are also reported under; each must name fields the samples have.
    Ids must be unique over all entries; the images of the selected samples are decoded whole
    and their sizes checked (:func:`~editbench.sources.images.decode_problem`).
    """
    _check_unique_ids(entries, problems)
    wanted = _categories(categories, entries, problems)
    if not _check_filter("where", where, entries, problems):
        where = None  # reported; the other problems are still looked for
    for name, subset in (subsets or {}).items():
        _check_filter(f"subsets.{name}", subset, entries, problems)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        problems.add(f"limit: {limit!r}; expected a positive integer or null")
        limit = None
    part = parse_shard(shard, problems)

    selected = [
        entry
        for entry in entries
        if (wanted is None or entry.sample.category in wanted)
        and (where is None or matches(entry.sample, where))
    ][:limit]
    decoded = decode_problems(path for entry in selected for path in entry.image_names)
    for entry in selected:
        for path, name in entry.image_names.items():
            problem = decoded[path]
            if problem:
                problems.add(f"{name} {problem}", entry.where)
    if not problems and not selected:
        if not entries:
            problems.add("no samples; expected at least one")
        else:
            problems.add(
                f"the selection (categories={_listed(categories)}, where={_listed(where)}) "
                "matches no sample"
            )
    problems.raise_if_any()
    samples = [entry.sample for entry in selected]
    if part is not None:
        index, count = part
        samples = [s for s in samples if shard_of(s.id, count) == index]
    return samples


def matches(sample: Sample, where: Filter) -> bool:
    """Whether each field named in ``where`` has the given value, or one of the given list."""
    return fields_match(sample.fields(), where)


def fields_match(fields: Mapping[str, Any], where: Filter) -> bool:
    """Whether each of ``fields`` named in ``where`` has the given value, or one of the given
    list (a field that is absent has none)."""
    for name, wanted in where.items():
        value = fields.get(name)
        if isinstance(wanted, list | tuple):
            if value not in wanted:
                return False
        elif value != wanted:
            return False
    return True


def shard_of(sample_id: str, count: int) -> int:
    """Which of ``count`` shards a sample belongs to: stable across runs, machines, orders."""
    return int.from_bytes(hashlib.sha256(sample_id.encode()).digest()[:8], "big") % count


def parse_shard(shard: str | None, problems: Problems) -> tuple[int, int] | None:
    if shard is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(shard))
    if not match or not 0 <= int(match[1]) < int(match[2]):
        problems.add(f"shard: {shard!r}; expected 'i/N' with 0 <= i < N, e.g. '0/4'")
        return None
    return int(match[1]), int(match[2])


def _check_unique_ids(entries: Sequence[Entry], problems: Problems) -> None:
    first_place: dict[str, str] = {}
    for entry in entries:
        first = first_place.setdefault(entry.sample.id, entry.where)
        if first != entry.where:
            problems.add(
                f"duplicate id {entry.sample.id!r} (first at {first}); "
                "expected every id to be unique",
                entry.where,
            )


def _categories(
    categories: Sequence[str] | str | None, entries: Sequence[Entry], problems: Problems
) -> set[str] | None:
    """The categories to keep (None: all); a name no sample has is a problem that lists the
    dataset's categories."""
    if categories is None:
        return None
    if isinstance(categories, str):  # e.g. `dataset.categories=physical` on the command line
        categories = [categories]
    present = list(dict.fromkeys(entry.sample.category for entry in entries))
    for category in categories:
        if entries and category not in present:
            problems.add(
                f"categories: unknown category {category!r}; this dataset's categories are: "
                f"{', '.join(present)}"
            )
    return set(categories)


def _check_filter(
    name: str, where: Filter | None, entries: Sequence[Entry], problems: Problems
) -> bool:
    """Whether ``where`` is a filter that can be applied (None is); records what is wrong."""
    if where is None:
        return True
    if not isinstance(where, Mapping) or not where:
        problems.add(f"{name}: {where!r}; expected a mapping of field names to values")
        return False
    if not entries:
        return True
    known = set().union(*(entry.sample.fields() for entry in entries))
    for field_name in where:
        if field_name not in known:
            problems.add(
                f"{name}: no sample has the field {field_name!r}; the samples' fields are: "
                f"{', '.join(sorted(known))}"
            )
    return True


def _listed(value: Any) -> str:
    return "all" if value is None else repr(value)
