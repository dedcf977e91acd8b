"""Runs into entries, and entries into boards.

An entry is one editor (its fingerprint) judged by one judge under one protocol. Runs of one
entry are merged where they share no sample (the shards of a benchmark, or its parts run
apart); two runs of one entry that share a sample are refused, naming both, since either one's
verdict could stand for it. Entries judged alike (one judge, one protocol) make a board and
are ranked together. Entries judged in several ways are refused unless ``allow_mixed``, and
then each board is ranked on its own: the scores of two judges, or of two prompts, are not on
one scale.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from editbench.errors import EditbenchError
from editbench.leaderboard.fingerprints import (
    Identity,
    ProtocolIdentity,
    editor_identity,
    judge_identity,
    protocol_identity,
)
from editbench.leaderboard.runs import FinishedRun

_SHORT_ID = 12  # characters of a fingerprint id shown where two labels would read alike


@dataclass
class Entry:
    """One editor × judge × protocol, and the runs that make it; ``label`` names it on the
    board (its editor, and the settings that tell it from entries of the same editor)."""

    editor: Identity
    judge: Identity
    protocol: ProtocolIdentity
    runs: list[FinishedRun]
    label: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return self.editor.id, self.judge.id, self.protocol.id

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [row for run in self.runs for row in run.rows]

    @property
    def sources(self) -> list[str]:
        return [run.source for run in self.runs]


@dataclass
class Board:
    """The entries judged by one judge under one protocol, ranked together."""

    judge: Identity
    protocol: ProtocolIdentity
    entries: list[Entry] = field(default_factory=list)


def make_boards(runs: Sequence[FinishedRun], allow_mixed: bool = False) -> list[Board]:
    """The boards of ``runs``, in the order the runs first show each, every entry labelled.
    Raises :class:`EditbenchError` when fewer than two entries remain, when two runs of one
    entry share a sample, or when the entries were judged in several ways and not
    ``allow_mixed``."""
    entries: dict[tuple[str, str, str], Entry] = {}
    for run in runs:
        entry = Entry(editor_identity(run), judge_identity(run), protocol_identity(run), [run])
        if entry.key in entries:
            _merge(entries[entry.key], run)
        else:
            entries[entry.key] = entry
    if len(entries) < 2:
        given = ", ".join(repr(run.source) for run in runs)
        what = f"one run ({given}) is" if len(runs) == 1 else f"the runs {given} are"
        raise EditbenchError(
            f"{what} one entry (editor × judge × protocol); a leaderboard ranks at least two: "
            "expected runs of two editors, or of one editor in two settings"
        )
    boards: dict[tuple[str, str], Board] = {}
    for entry in entries.values():
        key = (entry.judge.id, entry.protocol.id)
        boards.setdefault(key, Board(entry.judge, entry.protocol)).entries.append(entry)
    if len(boards) > 1 and not allow_mixed:
        ways = "; ".join(
            f"judge {board.judge.label} with protocol {board.protocol.label}: "
            + ", ".join(repr(source) for entry in board.entries for source in entry.sources)
            for board in boards.values()
        )
        raise EditbenchError(
            f"the runs were judged in {len(boards)} ways ({ways}); scores of different judges "
            "or protocols are not on one scale: expected runs of one judge and protocol, or "
            "--allow-mixed to rank each apart"
        )
    _label(list(entries.values()))
    return list(boards.values())


def _merge(entry: Entry, run: FinishedRun) -> None:
    """Add ``run`` to ``entry``, unless the two share a sample."""
    ids = {row["id"] for row in run.rows}
    for other in entry.runs:
        shared = sorted(ids & {row["id"] for row in other.rows})
        if shared:
            raise EditbenchError(
                f"runs {other.source!r} and {run.source!r} are one entry (editor "
                f"{entry.editor.label}, judge {entry.judge.label}, protocol "
                f"{entry.protocol.label}) and share {len(shared)} sample(s), e.g. {shared[0]!r}; "
                "expected one run per entry, or shards of one that share no sample"
            )
    entry.runs.append(run)


def _label(entries: Sequence[Entry]) -> None:
    """Label each entry by its editor; where entries of different fingerprints read alike
    (one editor in two settings), add the settings in which their fingerprints differ
    (``num_inference_steps=20``); where even that leaves two alike, a fingerprint id."""
    alike: dict[str, dict[str, Identity]] = {}
    for entry in entries:
        alike.setdefault(entry.editor.label, {})[entry.editor.id] = entry.editor
    for entry in entries:
        entry.label = entry.editor.label
        editors = list(alike[entry.editor.label].values())
        if len(editors) > 1:
            settings = ", ".join(
                f"{key}={_shown(entry.editor.fingerprint.get(key))}" for key in _differing(editors)
            )
            entry.label = f"{entry.label} {settings}".rstrip()
    seen: dict[str, set[str]] = {}
    for entry in entries:
        seen.setdefault(entry.label, set()).add(entry.editor.id)
    for entry in entries:
        if len(seen[entry.label]) > 1:
            entry.label = f"{entry.label} [{entry.editor.id[:_SHORT_ID]}]"


def _differing(editors: Sequence[Identity]) -> list[str]:
    """The fingerprint keys whose values are not the same in all ``editors``, in the order
    the fingerprints list them."""
    keys = list(dict.fromkeys(key for editor in editors for key in editor.fingerprint))
    return [
        key for key in keys if len({_shown(editor.fingerprint.get(key)) for editor in editors}) > 1
    ]


def _shown(value: Any) -> str:
    """A setting's value as JSON writes it: ``20``, ``" "``, ``null``."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
