"""People's judgements of the edits, read from files: scores per sample and rater (CSV or JSONL
with ``id``, ``rater``, ``score`` and optionally ``criterion``; ImagenHub's rater TSVs), and
pairwise preferences (``id_a``, ``id_b``, ``winner``). Every problem of every file is listed in
one error, each with its file and line, before anything is computed."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from editbench.agreement.imagenhub import read_imagenhub
from editbench.agreement.records import HumanJudgements, Preference, Problems, Rating

RATING_COLUMNS = ("id", "rater", "score")
PREFERENCE_COLUMNS = ("id_a", "id_b", "winner")
WINNERS = ("a", "b", "tie")
EXPECTED_SHAPES = (
    "expected columns id, rater, score and optionally criterion (scores), or id_a, id_b, winner "
    "and optionally rater, criterion (preferences)"
)


def read_human(paths: Sequence[Path], imagenhub_model: str | None = None) -> HumanJudgements:
    """The ratings and preferences of every file in ``paths``: ``.csv``, ``.jsonl``, or
    ImagenHub's rater ``.tsv`` (read by :mod:`editbench.agreement.imagenhub`, which takes
    ``imagenhub_model``). Raises :class:`EditbenchError` naming every bad file, line and value,
    and every (id, rater, criterion) rated twice."""
    problems = Problems()
    ratings: list[Rating] = []
    preferences: list[Preference] = []
    for path in paths:
        text = _read_text(path, problems)
        if text is None:
            continue
        suffix = path.suffix.lower()
        if suffix == ".tsv":
            ratings += read_imagenhub(path, text, imagenhub_model, problems)
        elif suffix in (".csv", ".jsonl"):
            header, rows = (_csv_rows if suffix == ".csv" else _jsonl_rows)(path, text)
            found = _read_rows(path, header, rows, problems)
            ratings += found[0]
            preferences += found[1]
        else:
            problems.add(
                f"{path}: unknown file type {path.suffix or '(none)'!r}; expected .csv, .jsonl "
                "or ImagenHub's rater .tsv"
            )
    _check_duplicates(ratings, preferences, problems)
    problems.raise_any()
    return HumanJudgements([str(path) for path in paths], ratings, preferences)


def _read_text(path: Path, problems: Problems) -> str | None:
    """The file as text, or None with a problem recorded: missing, a folder, empty, not
    UTF-8 (named with its line). A byte-order mark, as spreadsheets write, is dropped."""
    if not path.exists():
        problems.add(f"{path}: does not exist")
        return None
    if not path.is_file():
        problems.add(f"{path}: is not a file")
        return None
    try:
        data = path.read_bytes()
    except OSError as error:
        problems.add(f"{path}: cannot be read ({error.strerror})")
        return None
    if not data.strip():
        problems.add(f"{path}: is empty; {EXPECTED_SHAPES}")
        return None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        problems.add(f"{path}: line {line} is not UTF-8 ({error.reason} at byte {error.start})")
        return None


# A file's rows: (where, the fields as read), or (where, a problem) where a line is unreadable.
_Row = tuple[str, "Mapping[str, Any] | str"]


def _csv_rows(path: Path, text: str) -> tuple[list[str], list[_Row]]:
    """The header's column names and the rows of a CSV file."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip() for name in next(reader, [])]
    rows: list[_Row] = []
    for cells in reader:
        where = f"{path} line {reader.line_num}"
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            rows.append((where, f"has {len(cells)} cells; the header has {len(header)}"))
        else:
            rows.append((where, dict(zip(header, cells, strict=True))))
    return header, rows


def _jsonl_rows(path: Path, text: str) -> tuple[list[str], list[_Row]]:
    """The first object's keys, which say the file's shape as a header would, and the rows of
    a JSONL file."""
    header: list[str] = []
    rows: list[_Row] = []
    # Split on "\n" alone: splitlines() would also split inside strings on U+2028 and the like.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            record = json.loads(line)
        except ValueError as error:
            rows.append((where, f"is not JSON ({error})"))
            continue
        if not isinstance(record, dict):
            rows.append((where, f"is a JSON {type(record).__name__}; expected an object"))
            continue
        header = header or list(record)
        rows.append((where, record))
    return header, rows


def _read_rows(
    path: Path, header: list[str], rows: list[_Row], problems: Problems
) -> tuple[list[Rating], list[Preference]]:
    """Ratings or preferences, by the columns the header names."""
    ratings: list[Rating] = []
    preferences: list[Preference] = []
    if not header:  # no line could be read: say why each could not
        for where, problem in rows:
            problems.add(f"{where} {problem}")
        return ratings, preferences
    if all(name in header for name in PREFERENCE_COLUMNS):
        shape = PREFERENCE_COLUMNS
    elif all(name in header for name in RATING_COLUMNS):
        shape = RATING_COLUMNS
    else:
        missing = [name for name in RATING_COLUMNS if name not in header]
        problems.add(f"{path}: columns {header} lack {missing}; {EXPECTED_SHAPES}")
        return ratings, preferences
    if not rows:
        problems.add(f"{path}: has a header but no rows")
    for where, record in rows:
        if isinstance(record, str):
            problems.add(f"{where} {record}")
        elif shape is RATING_COLUMNS:
            rating = _rating(where, record, problems)
            if rating is not None:
                ratings.append(rating)
        else:
            preference = _preference(where, record, problems)
            if preference is not None:
                preferences.append(preference)
    return ratings, preferences


def _rating(where: str, record: Mapping[str, Any], problems: Problems) -> Rating | None:
    found = len(problems.messages)
    sample = _name(where, record, "id", problems)
    rater = _name(where, record, "rater", problems)
    criterion = _optional_name(where, record, "criterion", problems)
    score = _parse_score(record.get("score"))
    if isinstance(score, str):
        problems.add(f"{where}: score {_shown(record.get('score'))} {score}")
    if len(problems.messages) > found:
        return None
    return Rating(sample, rater, criterion, score, where)


def _preference(where: str, record: Mapping[str, Any], problems: Problems) -> Preference | None:
    found = len(problems.messages)
    id_a = _name(where, record, "id_a", problems)
    id_b = _name(where, record, "id_b", problems)
    rater = _optional_name(where, record, "rater", problems)
    criterion = _optional_name(where, record, "criterion", problems)
    winner = record.get("winner")
    if not isinstance(winner, str) or winner.strip().lower() not in WINNERS:
        problems.add(f"{where}: winner {_shown(winner)}; expected one of {list(WINNERS)}")
    if id_a is not None and id_a == id_b:
        problems.add(f"{where}: id_a and id_b are both {id_a!r}; expected two samples")
    if len(problems.messages) > found:
        return None
    return Preference(id_a, id_b, winner.strip().lower(), rater, criterion, where)


def _name(where: str, record: Mapping[str, Any], key: str, problems: Problems) -> str | None:
    """A required text field: a non-empty string (a JSON integer is read as its digits)."""
    value = record.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        problems.add(f"{where}: {key} {_shown(value)}; expected a non-empty text")
        return None
    return value.strip()


def _optional_name(
    where: str, record: Mapping[str, Any], key: str, problems: Problems
) -> str | None:
    """An optional text field: absent, null or blank is None."""
    value = record.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _name(where, record, key, problems)


def _parse_score(value: Any) -> float | str:
    """``value`` as a finite number, or why it is not one (a phrase: "is not a number")."""
    if isinstance(value, bool) or value is None:
        return "is not a number"
    if isinstance(value, list) or (isinstance(value, str) and value.strip().startswith("[")):
        return (
            "is a list, whose criteria are unknown; give one number per row and name its "
            "criterion in a criterion column (lists are read only from ImagenHub's rater TSVs, "
            "as [SC, PQ])"
        )
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return "is not a number"
    if not isinstance(value, (int, float)):
        return "is not a number"
    if not math.isfinite(value):
        return "is not finite; expected a number"
    return float(value)


def _shown(value: Any) -> str:
    """A value as it appears in a message: quoted, cut short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _check_duplicates(
    ratings: Sequence[Rating], preferences: Sequence[Preference], problems: Problems
) -> None:
    """A sample rated twice by one rater on one criterion is refused, naming both places: a
    mean over such rows would weigh that rater double. Preferences with a rater likewise."""
    seen: dict[tuple[Any, ...], str] = {}
    for rating in ratings:
        key = ("rating", rating.id, rating.rater, rating.criterion)
        if key in seen:
            problems.add(
                f"{rating.where}: sample {rating.id!r} rated again by rater {rating.rater!r}"
                f"{_criterion_text(rating.criterion)} (first at {seen[key]})"
            )
        else:
            seen[key] = rating.where
    for preference in preferences:
        if preference.rater is None:
            continue  # each row is one vote
        pair = tuple(sorted((preference.id_a, preference.id_b)))
        key = ("preference", pair, preference.rater, preference.criterion)
        if key in seen:
            problems.add(
                f"{preference.where}: pair {pair[0]!r}, {pair[1]!r} judged again by rater "
                f"{preference.rater!r}{_criterion_text(preference.criterion)} "
                f"(first at {seen[key]})"
            )
        else:
            seen[key] = preference.where


def _criterion_text(criterion: str | None) -> str:
    return "" if criterion is None else f" on criterion {criterion!r}"
