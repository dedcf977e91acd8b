"""A protocol as plain data, read from its resolved config (``conf/protocol/<name>.yaml``, typed
by :class:`~editbench.config.schema.ProtocolSchema`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from editbench.records import Sample

# The editbench protocol's captions (conf/protocol/editbench.yaml).
EDITBENCH_LABELS = {"source": "Source image:", "edit": "Edited image:"}


@dataclass(frozen=True)
class Call:
    """One judge call a protocol makes per sample (see ``CallSchema`` for each setting)."""

    name: str
    images: tuple[str, ...]
    text_first: bool
    labels: Mapping[str, str] | None
    resize_edit_to_source: bool
    prompt_key: str
    prompt: Mapping[str, Any] | None
    prompts: Mapping[str, Mapping[str, Any]]
    skip_for: tuple[str, ...]
    skip_if: str | None
    report_score: bool = True

    def key_of(self, sample: Sample) -> str | None:
        """The value of the sample's field that picks this call's prompt, None if it has none."""
        value = sample.fields().get(self.prompt_key)
        return None if value is None else str(value)

    def made_for(self, sample: Sample) -> bool:
        """Whether this call is made for ``sample``."""
        if self.skip_if is not None and sample.fields().get(self.skip_if):
            return False
        return self.key_of(sample) not in self.skip_for

    def prompt_for(self, sample: Sample) -> dict[str, Any] | None:
        """The sample's prompt: the one of its key, else the call's default; None if neither.
        Its images and captions are the prompt's own where it sets them, else the call's."""
        prompt = self.prompts.get(self.key_of(sample) or "", self.prompt)
        if prompt is None:
            return None
        resolved = dict(prompt)
        resolved["images"] = tuple(prompt.get("images") or self.images)
        resolved["labels"] = (
            prompt.get("labels") if prompt.get("labels") is not None else self.labels
        )
        return resolved


@dataclass(frozen=True)
class Protocol:
    name: str
    calls: tuple[Call, ...]
    combine: str
    weights: Mapping[str, float] | None
    all_max_as: str | None
    score_is_all_max: bool
    rescale_to: tuple[float, float] | None
    headline: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Protocol:
        """The protocol of a resolved ``protocol`` config (plain data, choices as strings)."""
        calls = tuple(
            Call(
                name=name,
                images=tuple(call["images"]),
                text_first=call["text_first"],
                labels=call.get("labels"),
                resize_edit_to_source=call["resize_edit_to_source"],
                prompt_key=call["prompt_key"],
                prompt=call.get("prompt"),
                prompts=call.get("prompts") or {},
                skip_for=tuple(call.get("skip_for") or ()),
                skip_if=call.get("skip_if"),
                report_score=call.get("report_score", True),
            )
            for name, call in config["calls"].items()
        )
        rescale = config.get("rescale_to")
        return cls(
            name=config["name"],
            calls=calls,
            combine=config["combine"],
            weights=config.get("weights"),
            all_max_as=config.get("all_max_as"),
            score_is_all_max=bool(config.get("score_is_all_max", False)),
            rescale_to=None if rescale is None else (float(rescale[0]), float(rescale[1])),
            headline=config["headline"],
        )

    @classmethod
    def editbench(cls, prompts: Mapping[str, Mapping[str, Any]]) -> Protocol:
        """The editbench protocol (``conf/protocol/editbench.yaml``) with ``prompts`` as its
        per-category prompts: one call, [source, edit] captioned, the category's prompt."""
        call = Call(
            name="score",
            images=("source", "edit"),
            text_first=False,
            labels=dict(EDITBENCH_LABELS),
            resize_edit_to_source=False,
            prompt_key="category",
            prompt=None,
            prompts=prompts,
            skip_for=(),
            skip_if=None,
        )
        return cls("editbench", (call,), "mean", None, None, False, None, "mean_of_categories")

    def calls_for(self, sample: Sample) -> list[Call]:
        """The calls made for ``sample``, in the protocol's order."""
        return [call for call in self.calls if call.made_for(sample)]


def describe(protocol: Protocol, plan: Any, score_mode: str) -> dict[str, Any]:
    """What results.json says of the protocol: its name, how its calls' scores combine, the
    overall figure it publishes, and how each call's replies were read in this score mode,
    saying where expected mode could not read them (a reply of several numbers)."""
    calls: dict[str, Any] = {}
    for task in plan.judgements:
        entry = calls.setdefault(task.call, {"judgements": 0, "read_by": set()})
        entry["judgements"] += 1
        entry["read_by"].add(task.request.mode(score_mode))
    for name, entry in calls.items():
        read_by = sorted(entry["read_by"])
        entry["read_by"] = read_by[0] if len(read_by) == 1 else read_by
        if score_mode == "expected" and "generate" in read_by:
            entry["note"] = (
                f"call {name}: replies of several numbers are generated and parsed; expected "
                "mode reads a single score's distribution"
            )
    return {
        "name": protocol.name,
        "combine": protocol.combine,
        "score": protocol.all_max_as if protocol.score_is_all_max else protocol.combine,
        "headline": protocol.headline,
        "rescale_to": None if protocol.rescale_to is None else list(protocol.rescale_to),
        "calls": calls,
    }
