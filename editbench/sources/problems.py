"""Problems found in a dataset, each tied to where it was found, reported together in one error
so that a user fixes them in one go."""

from __future__ import annotations

from editbench.errors import EditbenchError

MAX_REPORTED = 20  # problems listed in one error; the rest are counted


class Problems:
    """Problems found so far. Each is tied to a place (``"manifest.jsonl:12"``, ``"row 7 (key
    'abc')"``) or to none, for the source's arguments; places keep the order they were added."""

    def __init__(self, dataset: str) -> None:
        self.dataset = dataset  # what the error names first: the folder, hub id or file
        self._found: list[tuple[int, str, str]] = []  # (order of the place, place, text)
        self._places: dict[str, int] = {"": 0}

    def add(self, text: str, where: str = "") -> None:
        order = self._places.setdefault(where, len(self._places))
        self._found.append((order, where, text))

    def __len__(self) -> int:
        return len(self._found)

    def raise_if_any(self) -> None:
        """Raise :class:`EditbenchError` listing the first problems, arguments first, then in
        the order of their places, and counting the rest."""
        if not self._found:
            return
        found = sorted(self._found, key=lambda problem: problem[0])  # stable: keeps check order
        count = len(found)
        lines = [f"Dataset {self.dataset} has {count} problem{'s' if count > 1 else ''}:"]
        for _, where, text in found[:MAX_REPORTED]:
            lines.append(f"  {where}: {text}" if where else f"  {text}")
        if count > MAX_REPORTED:
            lines.append(f"  ... and {count - MAX_REPORTED} more")
        raise EditbenchError("\n".join(lines))
