"""Bring a store of format 1 to format 2, keeping its edits.

Format 1 named each editor and judge by the module path of its class (a fingerprint's
``"class"``); format 2 by the class's declared name and version (:mod:`editbench.identity`).

An edit's record holds everything its key is made of, so each edit is re-keyed in place: its
image is renamed to the new key, its record written there, and the old record removed. A
judgement cannot be: its key covers the hash of its rendered prompt, which names the edited
image by the edit's key and is not stored. So the judgements are moved aside, whole, into
``format1-judgements/``, where nothing reads them; the next run judges the re-keyed edits again.

An interrupted migration leaves a store that runs still refuse (it has no format file yet), and
running it again finishes it.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from editbench.errors import EditbenchError
from editbench.identity import NAME_PATTERN, declared_fingerprint
from editbench.store import (
    FORMAT,
    FORMAT_FILE,
    atomic_write_json,
    check_format,
    edit_key,
    file_sha256,
    write_format,
)
from editbench.store.admin import Entry, check_store_folder, edit_entries

# The module paths that format 1 stored, and the names declared in their place. Frozen: format 1
# is history, and a class renamed later keeps its entry here. Every class was at version 1.
FORMAT1_NAMES = {
    "editbench.editors.diffusers_editor.DiffusersEditor": "diffusers",
    "editbench.editors.precomputed.PrecomputedEditor": "precomputed",
    "editbench.scorers.qwen3_vl.Qwen3VLJudge": "qwen3_vl",
    "editbench.judges.qwen3_vl.Qwen3VLJudge": "qwen3_vl",
    "editbench.scorers.openai_api.OpenAIJudge": "openai_api",
    "editbench.judges.openai_api.OpenAIJudge": "openai_api",
    "benchmarks.qwen_image_models.RandomWeightsQwenImageEditor": "diffusers_random_weights",
    "benchmarks.qwen3_vl_models.RandomWeightsQwen3VLJudge": "qwen3_vl_random_weights",
}
FORMAT1_VERSION = 1
SET_ASIDE = "format1-judgements"  # where a migration moves the judgements it cannot re-key
_EDIT_FIELDS = ("sample_id", "source_sha256", "instruction", "seed")


@dataclass(frozen=True)
class Rekey:
    """One format-1 edit and where it goes."""

    entry: Entry
    image: Path  # its intact image: the old one, or the new one if an earlier run moved it
    key: str  # the new key
    record: dict[str, Any]  # the new record


@dataclass
class Migration:
    """What migrating a format-1 store does; nothing is changed until :func:`apply`."""

    root: Path
    rekeys: list[Rekey]
    done: int  # edits that an interrupted migration re-keyed already
    left: list[tuple[Path, str]]  # edit records that cannot be re-keyed, and why
    judgements: int  # judgement records to move aside

    def format(self, dry_run: bool) -> str:
        names = Counter(rekey.record["editor"]["name"] for rekey in self.rekeys)
        per_name = ", ".join(f"{name} {count}" for name, count in sorted(names.items()))
        rekey, move = ("would re-key", "would move") if dry_run else ("re-keyed", "moved")
        lines = [
            f"store {self.root}: format 1 -> {FORMAT}",
            f"{rekey} {len(self.rekeys)} edits" + (f" ({per_name})" if per_name else ""),
        ]
        if self.done:
            lines.append(f"{self.done} edits were re-keyed by an earlier, interrupted migration")
        if self.judgements:
            lines.append(
                f"{move} {self.judgements} judgements to {SET_ASIDE}/, unread: their keys "
                "cover the rendered prompt, which names the edit by its old key and is not "
                "stored, so the next run judges again (delete the folder when you no longer "
                "need the old replies)"
            )
        for path, reason in self.left:
            lines.append(f"left as it is: {path.relative_to(self.root)}: {reason}")
        if self.left:
            lines.append(
                f"{len(self.left)} edits cannot be re-keyed: no run reads them, and the next run "
                "redoes them; `python -m editbench.store list` shows them under their format-1 "
                "fingerprint (name '?'), and `prune --editor ID` removes them"
            )
        if dry_run:
            lines.append("dry run: changed nothing")
        return "\n".join(lines)


def plan_migration(root: str | Path, extra_names: Mapping[str, str] | None = None) -> Migration:
    """What migrating the format-1 store at ``root`` would do. ``extra_names`` maps the module
    paths of editors that :data:`FORMAT1_NAMES` does not know (a project's own subclasses) to
    the names they now declare. Raises :class:`EditbenchError` for a root that is not a
    format-1 store, and for edits of an editor with no name to map to, before anything changes.
    """
    check_store_folder(root)
    path = Path(root).resolve()
    if (path / FORMAT_FILE).exists():
        check_format(path)  # a damaged or foreign format file is named
        raise EditbenchError(f"store {path} has format {FORMAT} already; nothing to migrate")
    if (path / "judgements").exists() and (path / SET_ASIDE).exists():
        raise EditbenchError(
            f"store {path} holds both judgements/ and {SET_ASIDE}/; expected at most one: move "
            f"{SET_ASIDE}/ elsewhere and migrate again"
        )
    names = {**FORMAT1_NAMES, **_checked_names(extra_names or {})}
    rekeys, left, unknown, done = [], [], Counter[str](), 0
    for entry in edit_entries(path):
        editor = entry.record.get("editor") if entry.record else None
        if isinstance(editor, dict) and "class" not in editor and "name" in editor:
            done += 1
            continue
        problem = _edit_problem(entry.record)
        if problem:
            left.append((entry.files[0], problem))
            continue
        class_path = editor["class"]
        if class_path not in names:
            unknown[class_path] += 1
            continue
        rekey = _rekey(path, entry, names[class_path])
        if isinstance(rekey, str):
            left.append((entry.files[0], rekey))
        else:
            rekeys.append(rekey)
    if unknown:
        listed = "; ".join(f"{name} ({count} edits)" for name, count in sorted(unknown.items()))
        raise EditbenchError(
            f"store {path} has edits of editor classes with no declared name to map to: "
            f"{listed}. Give each the name its class declares now, as --name CLASS=NAME; "
            f"known classes: {', '.join(sorted(FORMAT1_NAMES))}"
        )
    judgements = sum(1 for _ in (path / "judgements").glob("*/*.json"))
    return Migration(path, rekeys, done, left, judgements)


def apply(migration: Migration) -> None:
    """Move the judgements aside, re-key every edit, then write the format file: until that is
    written, runs refuse the store, and :func:`plan_migration` picks up where this stopped."""
    root = migration.root
    if (root / "judgements").exists():
        os.replace(root / "judgements", root / SET_ASIDE)
    for rekey in migration.rekeys:
        new_record = root / "edits" / rekey.key[:2] / f"{rekey.key}.json"
        new_image = new_record.with_suffix(".png")
        if _intact(new_record, new_image, rekey.record["image_sha256"]):
            # The same edit, re-keyed already (an earlier edit of a class mapped to the same
            # name, or an interrupted migration): only the old files go.
            _remove(rekey.entry.files)
            continue
        if rekey.image != new_image:
            new_image.parent.mkdir(parents=True, exist_ok=True)
            os.replace(rekey.image, new_image)
        atomic_write_json(new_record, rekey.record)  # last: its presence marks the edit done
        _remove(rekey.entry.files)
    write_format(root)


def parse_names(pairs: list[str]) -> dict[str, str]:
    """``["pkg.mod.MyEditor=my_editor", ...]`` as a mapping; :class:`EditbenchError` for a pair
    without ``=``."""
    names = {}
    for pair in pairs:
        class_path, sep, name = pair.partition("=")
        if not sep or not class_path:
            raise EditbenchError(f"--name {pair!r}; expected CLASS=NAME, e.g. mypkg.MyEditor=mine")
        names[class_path] = name
    return names


def _checked_names(names: Mapping[str, str]) -> dict[str, str]:
    for class_path, name in names.items():
        if not NAME_PATTERN.fullmatch(name):
            raise EditbenchError(
                f"--name {class_path}={name!r}; expected a name of lowercase letters, digits, "
                "'_' and '-', as the class declares it"
            )
    return dict(names)


def _edit_problem(record: dict[str, Any] | None) -> str | None:
    """Why a format-1 edit record cannot be re-keyed, or None."""
    if record is None:
        return "record is not a JSON object"
    editor = record.get("editor")
    if not isinstance(editor, dict) or not isinstance(editor.get("class"), str):
        return "record has no editor fingerprint with a class"
    missing = [name for name in (*_EDIT_FIELDS, "image_sha256") if name not in record]
    if missing:
        return f"record lacks {', '.join(missing)}"
    return None


def _rekey(root: Path, entry: Entry, name: str) -> Rekey | str:
    """Where a readable format-1 edit goes, or why it cannot go anywhere."""
    record = entry.record
    settings = {k: v for k, v in record["editor"].items() if k != "class"}
    editor = declared_fingerprint(name, FORMAT1_VERSION, settings)
    key = edit_key(editor, *(record[field] for field in _EDIT_FIELDS))
    new_image = root / "edits" / key[:2] / f"{key}.png"
    old_image = entry.files[0].with_suffix(".png")
    for image in (old_image, new_image):
        if image.is_file() and file_sha256(image) == record["image_sha256"]:
            return Rekey(entry, image, key, {**record, "editor": editor, "key": key})
    return "image is missing or does not match the record's image_sha256"


def _intact(record: Path, image: Path, image_sha256: str) -> bool:
    return record.is_file() and image.is_file() and file_sha256(image) == image_sha256


def _remove(paths: tuple[Path, ...]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
