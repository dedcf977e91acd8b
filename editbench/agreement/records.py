"""What people said about the edits, as records: a rater's score of a sample, a preference
between two samples; and the problems found while reading them."""

from __future__ import annotations

from dataclasses import dataclass, field

from editbench.errors import EditbenchError

_MAX_LISTED = 20  # problems listed in one error; the rest are counted


@dataclass(frozen=True)
class Rating:
    """One rater's score of one sample: of the sample as a whole (``criterion`` None), or of
    one criterion the run's judge also reports (``SC``, ``PQ``, ...)."""

    id: str
    rater: str
    criterion: str | None
    score: float
    where: str  # file and line, for messages


@dataclass(frozen=True)
class Preference:
    """Which of two samples' edits a person preferred: ``a``, ``b`` or ``tie``."""

    id_a: str
    id_b: str
    winner: str
    rater: str | None
    criterion: str | None
    where: str


@dataclass(frozen=True)
class HumanJudgements:
    """Everything read from the ``--human`` files."""

    files: list[str]
    ratings: list[Rating] = field(default_factory=list)
    preferences: list[Preference] = field(default_factory=list)

    @property
    def raters(self) -> list[str]:
        return sorted({rating.rater for rating in self.ratings})

    @property
    def criteria(self) -> list[str | None]:
        """The criteria rated, None (the whole sample) first."""
        names = {r.criterion for r in self.ratings} | {p.criterion for p in self.preferences}
        return sorted(names, key=lambda name: (name is not None, name or ""))


class Problems:
    """Every problem found in the files, raised together as one :class:`EditbenchError`."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, message: str) -> None:
        self.messages.append(message)

    def raise_any(self) -> None:
        if not self.messages:
            return
        shown = self.messages[:_MAX_LISTED]
        more = len(self.messages) - len(shown)
        lines = [f"human ratings: {len(self.messages)} problem(s):", *(f"  {m}" for m in shown)]
        if more:
            lines.append(f"  ... and {more} more")
        raise EditbenchError("\n".join(lines))
