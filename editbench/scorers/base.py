"""The scorer interface: a judge that rates edits from rendered conversations."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from editbench.records import Judgement, JudgeRequest


class Scorer(ABC):
    """A judge. Construction is cheap and loads nothing; a worker calls :meth:`load` once."""

    batch_size: int = 1

    @abstractmethod
    def fingerprint(self) -> dict[str, Any]:
        """Everything that determines a judgement besides the request (JSON-serialisable):
        class, model id or endpoint, revision, dtype, score mode, decoding parameters."""

    @abstractmethod
    def load(self, devices: Sequence[str]) -> None:
        """Load the judge onto ``devices``: one, or several for a judge split with device_map."""

    @abstractmethod
    def score(self, requests: Sequence[JudgeRequest]) -> list[Judgement]:
        """Judge each request; returns one :class:`Judgement` per request, in order.

        A reply the judge cannot be read from is a judgement with a failure status and no
        score, never a default number. Raises only for failures of the judge itself (out of
        memory, a broken model), which stop the run.
        """
