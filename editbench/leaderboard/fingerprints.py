"""Who made a run's edits and judgements, and under which protocol: the identities that make a
leaderboard's entries (editor × judge × protocol) and tell its boards (judge × protocol) apart.

An editor's or judge's fingerprint is read from the store's records of the run's samples: each
edit and judgement record holds the fingerprint it was made under, the one its key was hashed
from, and the ids shown here are those of ``python -m editbench.store list``. Where no record
can be read (the store was moved, the run was made on another machine), the run's config.yaml
stands in: its editor or scorer settings, some of which change no result (a batch size), so
such runs are kept apart rather than wrongly merged. A run with neither stands for itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from editbench.errors import EditbenchError
from editbench.leaderboard.runs import FinishedRun
from editbench.results.tracking import flatten
from editbench.store import Store, content_hash

STORE, CONFIG, RUN = "store", "config.yaml", "run"  # where a fingerprint was read
# Store records tried per run: every record of a run holds the same fingerprint, so a few
# suffice, and a moved store costs a few failed reads, not one per sample.
_RECORDS_TRIED = 3
_KEY = re.compile(r"[0-9a-f]{64}")  # a store key: a sha256; anything else is no file of a store
# Config settings that say how to run, never what comes out: left out of a fingerprint.
_HOW_TO_RUN = ("_target_", "python")


@dataclass(frozen=True)
class Identity:
    """An editor or a judge: its fingerprint, where it was read, and the config option the run
    chose for it (``editor=qwen_image_edit``) where the run recorded its choices."""

    fingerprint: dict[str, Any]
    source: str  # STORE, CONFIG or RUN
    choice: str | None

    @property
    def id(self) -> str:
        return content_hash(self.fingerprint)

    @property
    def model(self) -> str | None:
        """Its model id or path; a precomputed editor's folder stands for its model."""
        model = self.fingerprint.get("model") or self.fingerprint.get("root")
        return None if model is None else str(model)

    @property
    def label(self) -> str:
        """``qwen_image_edit (Qwen/Qwen-Image-Edit)``: the option chosen, else the declared
        pipeline or name, and the model; either alone where the other is unknown."""
        fingerprint = self.fingerprint
        name = self.choice or fingerprint.get("pipeline") or fingerprint.get("name")
        if name and self.model:
            return f"{name} ({self.model})"
        return str(self.model or name or fingerprint.get("run") or "?")

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "choice": self.choice,
            "model": self.model,
            "fingerprint_id": self.id,
            "fingerprint": self.fingerprint,
            "from": self.source,
        }


@dataclass(frozen=True)
class ProtocolIdentity:
    """How a run's edits were judged: the protocol's name, the overall figure it publishes,
    and all its settings (calls, prompts, how they combine), whose hash tells protocols of one
    name apart."""

    name: str | None  # None: the run recorded none
    headline: str
    settings: dict[str, Any]
    prompts: str | None  # the prompt versions chosen, where the run recorded them

    @property
    def id(self) -> str:
        return content_hash(self.settings)

    @property
    def label(self) -> str:
        name = self.name or "(protocol not recorded)"
        return f"{name} (prompts {self.prompts})" if self.prompts else name

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "name": self.name,
            "headline": self.headline,
            "settings_id": self.id,
        }


def editor_identity(run: FinishedRun) -> Identity:
    """The editor that made the run's edits."""

    def read(store: Store, row: Mapping[str, Any]) -> dict[str, Any] | None:
        return store.read_edit(row["edit_key"])

    return _identity(run, "editor", "editor", read)


def judge_identity(run: FinishedRun) -> Identity:
    """The judge that judged the run's edits."""

    def read(store: Store, row: Mapping[str, Any]) -> dict[str, Any] | None:
        keys = [row.get("judgement_key"), *(row.get("judgement_keys") or {}).values()]
        key = next((key for key in keys if isinstance(key, str) and _KEY.fullmatch(key)), None)
        return None if key is None else store.read_judgement(key)

    return _identity(run, "judge", "scorer", read)


def protocol_identity(run: FinishedRun) -> ProtocolIdentity:
    """The protocol that judged the run: its config.yaml settings, else the name and headline
    that results.json records."""
    node = run.config.get("protocol")
    settings = node if isinstance(node, dict) else {"name": run.protocol, "headline": run.headline}
    prompts = None
    # The editbench protocol picks a prompt per category (prompts/<category>=v1); the other
    # protocols carry their own, as results.summary.judging names them too.
    if run.protocol == "editbench":
        prompts = _prompt_versions(run.choices)
    return ProtocolIdentity(run.protocol, run.headline, settings, prompts)


Reader = Callable[[Store, Mapping[str, Any]], "dict[str, Any] | None"]


def _identity(run: FinishedRun, field: str, group: str, read: Reader) -> Identity:
    """The fingerprint under ``field`` of the run's store records, else the config's ``group``
    node, else the run itself."""
    choice = run.choices.get(group)
    for store in _stores(run):
        tried = 0
        for row in run.rows:
            if tried == _RECORDS_TRIED:
                break
            if not (isinstance(row.get("edit_key"), str) and _KEY.fullmatch(row["edit_key"])):
                continue
            tried += 1
            record = read(store, row)
            if record is not None and isinstance(record.get(field), dict):
                return Identity(record[field], STORE, choice)
    node = run.config.get(group)
    if isinstance(node, dict):
        settings = {
            key: value
            for key, value in flatten(node).items()
            if key not in _HOW_TO_RUN and value is not None
        }
        return Identity(settings, CONFIG, choice)
    return Identity({"run": run.source}, RUN, choice)


def _stores(run: FinishedRun) -> list[Store]:
    """The stores the run may have written: the one its edited images lie in, and the
    configured ``store.root`` where that is an absolute path (a relative one depended on the
    run's working folder). A store of another format is passed over."""
    roots = []
    for row in run.rows:
        image = row.get("edited_image")
        if isinstance(image, str) and Path(image).parent.parent.name == "edits":
            roots.append(Path(image).parents[2])  # <root>/edits/<k[:2]>/<key>.png
            break
    configured = (run.config.get("store") or {}).get("root")
    if isinstance(configured, str) and Path(configured).is_absolute():
        roots.append(Path(configured))
    stores = []
    for root in dict.fromkeys(roots):
        try:
            stores.append(Store(root))
        except EditbenchError:
            continue
    return stores


def _prompt_versions(choices: Mapping[str, str]) -> str | None:
    """The prompts/<category> options chosen: one version when all agree."""
    versions = {
        group.removeprefix("prompts/"): option
        for group, option in sorted(choices.items())
        if group.startswith("prompts/")
    }
    if not versions:
        return None
    if len(set(versions.values())) == 1:
        return next(iter(versions.values()))
    return ",".join(f"{category}={option}" for category, option in versions.items())
