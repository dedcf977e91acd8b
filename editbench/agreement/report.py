"""The agreement report as one document (what agreement.json holds): the inputs, each run's
judge against people, and the judges against each other."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from editbench.agreement.human import agreement_with_people
from editbench.agreement.mlflow_runs import MlflowLink
from editbench.agreement.panel import agreement_between_judges
from editbench.agreement.records import HumanJudgements
from editbench.agreement.runs import judged_runs
from editbench.agreement.statistics import MIN_SAMPLES
from editbench.compare.sources import LoadedRun
from editbench.errors import EditbenchError


def agreement_report(
    runs: Sequence[LoadedRun],
    human: HumanJudgements | None,
    links: Sequence[MlflowLink],
    n_bootstrap: int = 1000,
    seed: int = 0,
    top: int = 10,
) -> dict[str, Any]:
    """Measure each run's judge against ``human`` (where given) and, with two or more runs,
    the judges against each other. ``links`` (one per run) say where each run is logged.
    Raises :class:`EditbenchError` where there is nothing to measure, a run repeats a sample
    id or has an ok sample without a finite score, or no rated id is a sample of a run."""
    if human is None and len(runs) < 2:
        raise EditbenchError(
            "nothing to measure: give --human FILE (people's ratings), or two or more runs "
            "over the same edits (a panel of judges)"
        )
    judged = judged_runs(runs)
    document: dict[str, Any] = {
        "settings": {"bootstrap": n_bootstrap, "seed": seed, "min_samples": MIN_SAMPLES},
        "human": None,
        "runs": [],
        "judges": agreement_between_judges(judged, top) if len(judged) > 1 else None,
    }
    if human is not None:
        document["human"] = {
            "files": human.files,
            "raters": human.raters,
            "ratings": len(human.ratings),
            "preferences": len(human.preferences),
            "criteria": [name for name in human.criteria if name is not None],
        }
    for run, link in zip(judged, links, strict=True):
        document["runs"].append(
            {
                "label": run.label,
                "source": run.loaded.source,
                "protocol": run.loaded.protocol,
                "mlflow": {"run_id": link.run_id, "note": link.note},
                "human": (
                    agreement_with_people(run, human, n_bootstrap, seed)
                    if human is not None
                    else None
                ),
            }
        )
    return document
