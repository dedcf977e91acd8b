"""What a valid stored record is: the one check that every reader of the store goes through.

A record is parsed strictly (UTF-8, JSON without NaN or Infinity) and then checked field by
field, so that a damaged one (torn, changed by hand, written by a bug) is redone or reported,
never trusted. Fields are checked where present: records written by earlier editbench versions
(no ``status`` on an edit, no ``attempts``, no ``usage`` or ``latency_s`` on a judgement) stay
valid, and so do fields this version does not know.

Two kinds of edit record: an edit that was made (``status`` "ok", or absent in older stores)
names its PNG by ``image_sha256``; an edit the editor could not make (``status``
"edit_error") has no image, and says why and after how many attempts.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any, Literal

from editbench.records import (
    EDIT_ERROR,
    JUDGE_STATUSES,
    MAX_REPLY_CHARS,
    MAX_TOKEN_COUNT,
    OK,
    USAGE_FIELDS,
)

RecordKind = Literal["edit", "judgement"]

EDIT_STATUSES = (OK, EDIT_ERROR)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SHOWN_CHARS = 80  # of a bad value, in a problem: a damaged reply may be megabytes


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_finite(value: Any) -> bool:
    """A real number that statistics can use: not a bool (JSON true is no score), not
    infinite (``1e999`` parses as inf without any NaN constant), not too large for a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int of hundreds of digits
        return False


def _is_attempts(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _or_null(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


def _is_reply(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_REPLY_CHARS


def _is_criteria(value: Any) -> bool:
    return isinstance(value, dict) and all(_is_finite(v) for v in value.values())


def _is_distribution(value: Any) -> bool:
    return isinstance(value, list) and all(_is_finite(v) for v in value)


def _is_draws(value: Any) -> bool:
    return isinstance(value, list) and all(v is None or _is_finite(v) for v in value)


def _is_token_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_TOKEN_COUNT


def _is_usage(value: Any) -> bool:
    """The token counts of an API judge's requests; the costs sum them, so each must be one."""
    return isinstance(value, dict) and all(_is_token_count(value.get(n)) for n in USAGE_FIELDS)


def _is_seconds(value: Any) -> bool:
    return _is_finite(value) and value >= 0


Field = tuple[Callable[[Any], bool], str]  # the check of a field's value, and what it expects

_STRING: Field = (_is_str, "a string")
_SECONDS: Field = (_is_seconds, "a finite number of seconds >= 0")
_ATTEMPTS: Field = (_is_attempts, "an integer >= 1")
# What the worker writes beside every record's own fields.
_PROVENANCE: dict[str, Field] = {
    "sample_id": _STRING,
    "device": _STRING,
    "seconds": _SECONDS,
    "created": _STRING,
    "attempts": _ATTEMPTS,
}
_JUDGEMENT_FIELDS: dict[str, Field] = {
    **_PROVENANCE,
    "edit_key": _STRING,
    "prompt_sha256": _STRING,
    "reply": (_or_null(_is_reply), f"a string of at most {MAX_REPLY_CHARS} characters or null"),
    "error": (_or_null(_is_str), "a string or null"),
    "criteria": (_or_null(_is_criteria), "null or an object of names to finite numbers"),
    "distribution": (_or_null(_is_distribution), "null or a list of finite numbers"),
    "entropy": (_or_null(_is_finite), "a finite number or null"),
    "spread": (_or_null(_is_finite), "a finite number or null"),
    "samples": (_or_null(_is_draws), "null or a list of finite numbers and nulls"),
    "usage": (
        _or_null(_is_usage),
        f"null or an object of {' and '.join(USAGE_FIELDS)}, integers from 0 below 2**53",
    ),
    "latency_s": (_or_null(_is_seconds), "a finite number of seconds >= 0 or null"),
}
_EDIT_FIELDS: dict[str, Field] = {
    **_PROVENANCE,
    "instruction": _STRING,
    "seed": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "source_sha256": _STRING,
    "error": (_or_null(_is_str), "a string or null"),
}
# A failed edit must say which sample, why, and how often it was tried.
_FAILED_EDIT_REQUIRED = ("sample_id", "error", "attempts")


class DamagedRecord(ValueError):
    """A record's bytes are not a JSON document that editbench could have written."""


def decode_record(data: bytes) -> Any:
    """The JSON value held in a record's bytes; :class:`DamagedRecord` saying what is wrong when
    they are not UTF-8, not JSON, or hold NaN or Infinity (which editbench never writes)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DamagedRecord(
            f"record is not UTF-8 text (byte {data[error.start]:#04x} at offset {error.start}); "
            "expected a JSON object"
        ) from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except DamagedRecord:
        raise
    except json.JSONDecodeError as error:
        raise DamagedRecord(
            f"record is not a JSON object: invalid JSON ({error}); torn or changed by hand"
        ) from None
    except (ValueError, RecursionError) as error:  # an int of 5000 digits, [[[[...]]]]
        raise DamagedRecord(
            f"record is not a JSON object editbench could have written "
            f"({type(error).__name__}: {str(error)[:_SHOWN_CHARS]})"
        ) from None


def _refuse_constant(name: str) -> Any:
    raise DamagedRecord(f"record holds {name}, which is not JSON; expected finite numbers only")


def parse_record(
    data: bytes, kind: RecordKind, key: str
) -> tuple[dict[str, Any] | None, str | None]:
    """The record in ``data``, stored under ``key``, and what is wrong with it (None when it is
    valid). The record is None when ``data`` does not hold a JSON object at all."""
    try:
        record = decode_record(data)
    except DamagedRecord as error:
        return None, str(error)
    problem_of = edit_record_problem if kind == "edit" else judgement_record_problem
    return (record if isinstance(record, dict) else None), problem_of(record, key)


def judgement_record_problem(record: Any, key: str) -> str | None:
    """What is wrong with a parsed judgement record stored under ``key``, or None when it is
    valid: a known status, a finite score exactly when the status is ok, and every other field
    a run reads of the type it expects."""
    if problem := _object_problem(record, key):
        return problem
    status, score = record.get("status"), record.get("score")
    if status not in JUDGE_STATUSES:
        return f"status {_show(status)} is not one of {', '.join(JUDGE_STATUSES)}"
    if status == OK and not _is_finite(score):
        return f"status is 'ok' but score is {_show(score)}; expected a finite number"
    if status != OK and score is not None:
        return f"status is {status!r} but it has a score ({_show(score)}); only 'ok' has one"
    return _fields_problem(record, _JUDGEMENT_FIELDS)


def edit_record_problem(record: Any, key: str) -> str | None:
    """What is wrong with a parsed edit record stored under ``key``, or None when it is valid:
    an edit that was made names its image by ``image_sha256``; a failed edit (status
    ``edit_error``) has no image and names its sample, its error and its attempts. Whether the
    image is there and matches is the reader's check: it needs the file."""
    if problem := _object_problem(record, key):
        return problem
    status = record.get("status", OK)
    if status == OK:
        image_sha256 = record.get("image_sha256")
        if not (isinstance(image_sha256, str) and _SHA256.fullmatch(image_sha256)):
            return f"image_sha256 is {_show(image_sha256)}; expected 64 lowercase hex digits"
    elif status == EDIT_ERROR:
        if "image_sha256" in record:
            return "a failed edit (status 'edit_error') has an image_sha256; expected no image"
        missing = [name for name in _FAILED_EDIT_REQUIRED if name not in record]
        if missing:
            return f"a failed edit (status 'edit_error') lacks {', '.join(missing)}"
    else:
        return f"status {_show(status)} is not one of {', '.join(EDIT_STATUSES)}"
    return _fields_problem(record, _EDIT_FIELDS)


def _object_problem(record: Any, key: str) -> str | None:
    if not isinstance(record, dict):
        return f"record is a JSON {_json_type(record)}; expected a JSON object"
    if "key" in record and record["key"] != key:
        return f"record's key {_show(record['key'])} differs from its file name"
    return None


def _fields_problem(record: dict[str, Any], fields: dict[str, Field]) -> str | None:
    for name, (check, expected) in fields.items():
        if name in record and not check(record[name]):
            return f"{name} is {_show(record[name])}; expected {expected}"
    return None


def _json_type(value: Any) -> str:
    names = {list: "list", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    """``value`` as a problem quotes it: a long string by its length, anything else cut."""
    if isinstance(value, str) and len(value) > _SHOWN_CHARS:
        return f"a string of {len(value)} characters"
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."
