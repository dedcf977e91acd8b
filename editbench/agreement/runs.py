"""The runs whose judges are measured: their rows by sample id, a label for each, and the
judge's value of a sample (its score, or one criterion's) where it judged the sample ok."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from editbench.compare.sources import LoadedRun
from editbench.errors import EditbenchError
from editbench.records import OK
from editbench.results.chart import finite


@dataclass(frozen=True)
class JudgedRun:
    """One run: ``label`` names it in the outputs (its folder or MLflow run, made unique)."""

    label: str
    loaded: LoadedRun
    rows: dict[str, Mapping[str, Any]]  # by sample id
    categories: list[str]  # in the order the run lists them

    def judge_value(self, sample: str, criterion: str | None) -> float | None:
        """The judge's score of ``sample`` (``criterion`` None) or its value of one criterion;
        None where the sample is not judged ok or the judge gave no such criterion."""
        row = self.rows[sample]
        if row["status"] != OK:
            return None
        if criterion is None:
            value = row["score"]
        else:
            value = (row.get("criteria") or {}).get(criterion)
            if value is None:
                return None
        if finite(value) is None:
            name = "score" if criterion is None else f"criterion {criterion!r}"
            raise EditbenchError(
                f"{self.loaded.source}: sample {sample!r} has status 'ok' but its {name} is "
                f"{value!r}; expected a finite number"
            )
        return float(value)


def judged_runs(runs: Sequence[LoadedRun]) -> list[JudgedRun]:
    """Each run with its rows by id (a repeated id is refused) and a unique label."""
    names = [run.name for run in runs]
    judged = []
    for index, run in enumerate(runs):
        # Two folders can share a name (job 0 of two sweeps): number them in order.
        same = names[: index + 1].count(run.name)
        label = run.name if names.count(run.name) == 1 else f"{run.name} #{same}"
        rows: dict[str, Mapping[str, Any]] = {}
        for row in run.rows:
            key = str(row["id"])
            if key in rows:
                raise EditbenchError(f"{run.source}: sample id {key!r} appears twice")
            rows[key] = row
        categories = list(dict.fromkeys(str(row["category"]) for row in run.rows))
        judged.append(JudgedRun(label, run, rows, categories))
    return judged
