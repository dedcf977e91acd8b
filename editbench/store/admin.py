"""Store housekeeping: what a store holds, what in it is broken, and pruning one fingerprint.

The functions here read a store, return plain results and format them as text; only
:func:`remove` deletes anything. ``python -m editbench.store`` (``__main__``) wires them to a
command line. Run them while no run writes to the store: a write in flight looks exactly like
a crash's leftover temporary file or an image without its record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from PIL import Image

from editbench.errors import EditbenchError
from editbench.images import size_problem
from editbench.records import EDIT_ERROR
from editbench.sources.images import decode_problem
from editbench.store import Store, content_hash, stored_image_problem
from editbench.store.schema import RecordKind, parse_record

Kind = Literal["editor", "judge"]

SHORT_ID = 12  # characters of a fingerprint id that `list` shows
MIN_PREFIX = 6  # fewest characters of an id that `prune` accepts


def open_store(root: str | Path) -> Store:
    """The store at ``root``; :class:`EditbenchError` if ``root`` is not a store folder or is a
    store of another format."""
    check_store_folder(root)
    return Store(root)


def check_store_folder(root: str | Path) -> None:
    """Raise :class:`EditbenchError` unless ``root`` is a folder holding edits/ or judgements/."""
    path = Path(root)
    if not path.is_dir():
        state = "is not a directory" if path.exists() else "does not exist"
        raise EditbenchError(
            f"store root {str(root)!r} {state}; expected the folder a run's store.root names"
        )
    if not (path / "edits").is_dir() and not (path / "judgements").is_dir():
        raise EditbenchError(
            f"store root {str(root)!r} holds neither edits/ nor judgements/; expected the folder "
            "a run's store.root names"
        )


@dataclass(frozen=True)
class Entry:
    """One edit or judgement on disk."""

    key: str  # the record's file name, without .json
    record: dict[str, Any] | None  # None when the record is not a JSON object
    files: tuple[Path, ...]  # the entry's files that exist: record, then an edit's image
    bytes: int  # their total size when read
    problem: str | None = None  # what the store's schema finds wrong with the record


def edit_entries(root: Path) -> Iterator[Entry]:
    """Every edit under store root ``root`` that has a record, in key order."""
    for record_path in sorted((root / "edits").glob("*/*.json")):
        image = record_path.with_suffix(".png")
        files = (record_path, image) if image.is_file() else (record_path,)
        yield _entry(files, "edit")


def judgement_entries(root: Path) -> Iterator[Entry]:
    """Every judgement under store root ``root``, in key order."""
    for record_path in sorted((root / "judgements").glob("*/*.json")):
        yield _entry((record_path,), "judgement")


def _entry(files: tuple[Path, ...], kind: RecordKind) -> Entry:
    record_path = files[0]
    try:
        record, problem = parse_record(record_path.read_bytes(), kind, record_path.stem)
    except OSError as error:  # a folder named like a record, a file without permission
        record, problem = None, f"record cannot be read ({type(error).__name__}: {error})"
    return Entry(
        record_path.stem,
        record,
        files,
        sum(path.stat().st_size for path in files),
        problem,
    )


# --- list ------------------------------------------------------------------------------------


@dataclass
class FingerprintGroup:
    """Every edit made under one editor fingerprint, or every judgement under one judge's."""

    id: str  # content_hash of the fingerprint
    fingerprint: dict[str, Any]
    entries: list[Entry] = field(default_factory=list)

    @property
    def short_id(self) -> str:
        return self.id[:SHORT_ID]

    @property
    def model(self) -> str | None:
        # A precomputed editor has no model: the folder of its images stands for it.
        return self.fingerprint.get("model") or self.fingerprint.get("root")

    @property
    def label(self) -> str:
        """The declared name and version, then the diffusers pipeline when there is one:
        ``diffusers v1/QwenImageEditPipeline``."""
        name = f"{self.fingerprint.get('name', '?')} v{self.fingerprint.get('version', '?')}"
        pipeline = self.fingerprint.get("pipeline")
        return f"{name}/{pipeline}" if pipeline else name

    @property
    def bytes(self) -> int:
        return sum(entry.bytes for entry in self.entries)

    @property
    def statuses(self) -> dict[str, int]:
        """Judgements per status, most frequent first."""
        counts = Counter(str(entry.record.get("status")) for entry in self.entries)
        return dict(counts.most_common())

    def describe(self) -> str:
        return f"{self.short_id} ({self.model}, {self.label})"


def group_by_fingerprint(
    entries: Iterable[Entry], kind: Kind
) -> tuple[list[FingerprintGroup], int]:
    """Entries grouped by the hash of their record's ``kind`` fingerprint, ordered by model,
    label and id; and how many entries have no readable fingerprint."""
    groups: dict[str, FingerprintGroup] = {}
    unreadable = 0
    for entry in entries:
        fingerprint = entry.record.get(kind) if entry.record else None
        if not isinstance(fingerprint, dict):
            unreadable += 1
            continue
        group_id = content_hash(fingerprint)
        groups.setdefault(group_id, FingerprintGroup(group_id, fingerprint)).entries.append(entry)
    ordered = sorted(groups.values(), key=lambda g: (str(g.model), g.label, g.id))
    return ordered, unreadable


@dataclass
class Summary:
    """What a store holds, per editor and per judge fingerprint."""

    root: Path
    editors: list[FingerprintGroup]
    judges: list[FingerprintGroup]
    unreadable_edits: int  # edit records without a readable editor fingerprint
    unreadable_judgements: int

    def as_json(self) -> dict[str, Any]:
        def group_json(group: FingerprintGroup, kind: Kind) -> dict[str, Any]:
            statuses = {"statuses": group.statuses} if kind == "judge" else {}
            return {
                "id": group.id,
                "short_id": group.short_id,
                "model": group.model,
                "name": group.fingerprint.get("name"),
                "version": group.fingerprint.get("version"),
                "pipeline": group.fingerprint.get("pipeline"),
                "count": len(group.entries),
                "bytes": group.bytes,
                **statuses,
                "fingerprint": group.fingerprint,
            }

        return {
            "root": str(self.root),
            "editors": [group_json(group, "editor") for group in self.editors],
            "judges": [group_json(group, "judge") for group in self.judges],
            "unreadable": {
                "edits": self.unreadable_edits,
                "judgements": self.unreadable_judgements,
            },
        }

    def format(self) -> str:
        editors = _group_table(self.editors, "edits", self.unreadable_edits)
        judges = _group_table(self.judges, "judgements", self.unreadable_judgements)
        return f"store {self.root}\n\neditors\n{editors}\n\njudges\n{judges}"


def summarize(store: Store) -> Summary:
    """Group the store's edits by editor fingerprint and its judgements by judge fingerprint."""
    editors, unreadable_edits = group_by_fingerprint(edit_entries(store.root), "editor")
    judges, unreadable_judgements = group_by_fingerprint(judgement_entries(store.root), "judge")
    return Summary(store.root, editors, judges, unreadable_edits, unreadable_judgements)


def _group_table(groups: Sequence[FingerprintGroup], noun: str, unreadable: int) -> str:
    """One row per fingerprint; judgements also get their counts by status."""
    judges = noun == "judgements"
    header = ["id", "model", "name", noun, "size", *(["statuses"] if judges else [])]
    rows = [
        [
            group.short_id,
            str(group.model),
            group.label,
            str(len(group.entries)),
            format_bytes(group.bytes),
            *([", ".join(f"{s} {n}" for s, n in group.statuses.items())] if judges else []),
        ]
        for group in groups
    ]
    text = _table(header, rows, right={3, 4}) if rows else f"no {noun}"
    if unreadable:
        text += (
            f"\nnot counted above, their record unreadable or without a fingerprint: "
            f"{unreadable} (run `python -m editbench.store verify`)"
        )
    return text


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    """Columns padded to their widest cell; those in ``right`` aligned right."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [header, *rows]
    )


# --- verify ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Something in the store that a run would not read back whole."""

    path: Path  # the file the problem is about
    reason: str
    files: tuple[Path, ...]  # what deleting the broken entry removes


@dataclass
class Verification:
    """The problems found in a store, and how much was checked."""

    root: Path
    edits: int  # edit records checked
    judgements: int  # judgement records checked
    problems: list[Problem]

    def format(self) -> str:
        lines = [f"{p.path.relative_to(self.root)}: {p.reason}" for p in self.problems]
        found = {0: "no problems", 1: "1 problem"}.get(n := len(self.problems), f"{n} problems")
        lines.append(
            f"checked {self.edits} edits and {self.judgements} judgements in {self.root}: {found}"
        )
        return "\n".join(lines)


def verify(store: Store) -> Verification:
    """Check every edit (its record against the store's schema, as a run reads it; its
    fingerprint; its image: there, matching its hash, decoding whole, of a size a judge takes),
    every image without a record, every judgement (schema and fingerprint) and every temporary
    file left by an interrupted write."""
    edits = list(edit_entries(store.root))
    judgements = list(judgement_entries(store.root))
    problems = [
        *(problem for entry in edits if (problem := _edit_problem(entry))),
        *(
            Problem(image, "image without a record: its edit never finished", (image,))
            for image in sorted((store.root / "edits").glob("*/*.png"))
            if not image.with_suffix(".json").is_file()
        ),
        *(
            Problem(j.files[0], reason, j.files)
            for j in judgements
            if (reason := _record_problem(j, "judge"))
        ),
        *(
            Problem(path, "temporary file left by an interrupted write", (path,))
            for folder in ("edits", "judgements")
            for path in sorted((store.root / folder).rglob("*.tmp"))
        ),
    ]
    return Verification(store.root, len(edits), len(judgements), problems)


def _record_problem(entry: Entry, kind: Kind) -> str | None:
    if entry.problem:
        return entry.problem
    # A run reads records without it (their key covers it), but list and prune group by it.
    if not isinstance(entry.record.get(kind), dict):
        return f"record has no {kind} fingerprint"
    return None


def _edit_problem(entry: Entry) -> Problem | None:
    record_path, files = entry.files[0], entry.files
    if reason := _record_problem(entry, "editor"):
        return Problem(record_path, reason, files)
    if entry.record.get("status") == EDIT_ERROR:
        if len(files) > 1:  # the failure stands; only the image goes
            return Problem(files[1], "image beside the record of a failed edit", files[1:])
        return None
    if reason := stored_image_problem(record_path.with_suffix(".png"), entry.record):
        return Problem(record_path, reason, files)
    if reason := _image_problem(files[1]):
        return Problem(record_path, f"image {reason}", files)
    return None


def _image_problem(path: Path) -> str | None:
    """Why a stored edit's image would stop a run that judges it: it does not decode whole
    (damaged pixel data can hide behind valid checksums), or no judge takes its size."""
    if problem := decode_problem(path):
        return problem
    with Image.open(path) as image:
        return size_problem(*image.size)


# --- prune -----------------------------------------------------------------------------------


@dataclass
class Pruning:
    """One fingerprint's edits or judgements, chosen for removal."""

    root: Path
    kind: Kind
    group: FingerprintGroup
    kept_judgements: int  # judgements of the pruned edits, which pruning an editor leaves alone

    @property
    def files(self) -> list[Path]:
        """Every file to remove; an edit's record before its image, so that an interruption
        leaves at worst an image without a record, which the next run redoes."""
        return [path for entry in self.group.entries for path in entry.files]

    def format(self, dry_run: bool) -> str:
        noun = "edits" if self.kind == "editor" else "judgements"
        verb = "would remove" if dry_run else "remove"
        lines = [f"{self.kind} {self.group.describe()}: {len(self.group.entries)} {noun}"]
        lines += [f"{verb} {path.relative_to(self.root)}" for path in self.files]
        size = format_bytes(self.group.bytes)
        if dry_run:
            lines.append(f"dry run: would free {size} in {len(self.files)} files; removed nothing")
        else:
            lines.append(f"freed {size} in {len(self.files)} files")
        if self.kind == "editor":
            lines.append(
                f"{self.kept_judgements} judgement(s) of these edits stay in the store: nothing "
                "reaches them unless this same editor fingerprint runs again, which redoes the "
                "edits under the same keys and reuses these judgements unchanged"
            )
        return "\n".join(lines)


def plan_prune(store: Store, kind: Kind, id_prefix: str) -> Pruning:
    """Every edit of the editor fingerprint (or judgement of the judge fingerprint) whose id
    starts with ``id_prefix``; nothing is removed yet (see :func:`remove`)."""
    entries = edit_entries(store.root) if kind == "editor" else judgement_entries(store.root)
    group = resolve(group_by_fingerprint(entries, kind)[0], id_prefix, kind)
    kept = 0
    if kind == "editor":
        keys = {entry.key for entry in group.entries}
        kept = sum(
            1
            for j in judgement_entries(store.root)
            if j.record and j.record.get("edit_key") in keys
        )
    return Pruning(store.root, kind, group, kept)


def resolve(groups: Sequence[FingerprintGroup], id_prefix: str, kind: Kind) -> FingerprintGroup:
    """The one group whose id starts with ``id_prefix``; :class:`EditbenchError` naming the
    candidates otherwise."""
    if len(id_prefix) < MIN_PREFIX:
        raise EditbenchError(
            f"{kind} id {id_prefix!r} is too short; expected at least {MIN_PREFIX} characters "
            "of an id that `python -m editbench.store list` shows"
        )
    matches = [group for group in groups if group.id.startswith(id_prefix.lower())]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise EditbenchError(
            f"{kind} id {id_prefix!r} matches {len(matches)} fingerprints: "
            f"{'; '.join(group.describe() for group in matches)}; expected a longer prefix"
        )
    known = "; ".join(group.describe() for group in groups) or "none"
    raise EditbenchError(
        f"no {kind} fingerprint has an id starting with {id_prefix!r}; the store has: {known}"
    )


def remove(paths: Iterable[Path]) -> int:
    """Delete ``paths``, skipping any already gone; the bytes freed."""
    freed = 0
    for path in paths:
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            continue
        freed += size
    return freed


def format_bytes(size: int) -> str:
    """``1234567`` -> ``"1.2 MiB"``."""
    value, unit = float(size), "B"
    for larger in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, larger
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
