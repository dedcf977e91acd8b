"""A sample's verdict from its calls' judgements: one status, one score, its criteria.

A sample is ``ok`` only when every call made for it is: its score is then the protocol's
combination of the calls' scores (a single call's score is the sample's). Otherwise its status
is that of the first call, in the protocol's order, that is not ok (``missing`` where a call was
never judged), and it has no score: a failed call is never replaced by a number.

Criteria reported per sample: each call's named scores, by name, and, where the protocol makes
several calls, each call's score under the call's name unless the call says not to (VIEScore:
``SC``, ``PQ``, and the four scores they are the minimum of; KRIS-Bench: its named scores
alone). Where the protocol rescales (KRIS-Bench's and RISEBench's 1-5
as 0-100), every score and criterion is reported rescaled; the replies keep what the judge
wrote.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping
from typing import Any

from editbench.choices import Headline
from editbench.protocols.spec import Call, Protocol
from editbench.records import DEFAULT_SCALE, OK, Sample

MISSING = "missing"
# What a single-call protocol's row takes from its call's judgement as it is.
_PASSED_THROUGH = ("entropy", "distribution", "samples", "spread")


def sample_verdict(
    protocol: Protocol, sample: Sample, records: Mapping[str, Mapping[str, Any] | None]
) -> dict[str, Any]:
    """The row fields of ``sample`` from ``records``, each call's stored judgement by call name
    (None where the store has none): ``status``, ``score``, ``criteria``, ``error``, ``reply``,
    the single call's ``entropy``, ``distribution``, ``samples`` and ``spread``, and, with
    several calls, ``calls``: each call's own status, score, criteria, reply and error."""
    calls = protocol.calls_for(sample)
    judged = {
        call.name: _call_verdict(protocol, call, sample, records.get(call.name)) for call in calls
    }
    row: dict[str, Any] = {"status": OK, "score": None, "criteria": None, "error": None}
    failed = next((name for name, verdict in judged.items() if verdict["status"] != OK), None)
    if len(calls) == 1:
        only = judged[calls[0].name]
        row.update({key: only[key] for key in ("reply", *_PASSED_THROUGH)})
    else:
        row["reply"] = "\n\n".join(
            f"--- {name} ---\n{verdict['reply'] or ''}" for name, verdict in judged.items()
        )
        row.update(dict.fromkeys(_PASSED_THROUGH))
        row["calls"] = {
            name: {key: verdict[key] for key in ("status", "score", "criteria", "reply", "error")}
            for name, verdict in judged.items()
        }
    if failed is not None:
        verdict = judged[failed]
        row["status"] = verdict["status"]
        reason = verdict["error"] or ("never judged" if verdict["status"] == MISSING else "")
        row["error"] = reason if len(calls) == 1 else f"{failed}: {reason}"
        return row

    criteria: dict[str, float] = {}
    for call in calls:
        verdict = judged[call.name]
        criteria.update(verdict["criteria"] or {})
        if len(calls) > 1 and call.report_score:
            criteria[call.name] = verdict["score"]
    if protocol.all_max_as is not None:
        top = all(verdict["at_top"] for verdict in judged.values())
        low, high = protocol.rescale_to or (0.0, 1.0)
        criteria[protocol.all_max_as] = high if top else low
    row["score"] = _combine(protocol, {name: v["score"] for name, v in judged.items()})
    if protocol.score_is_all_max:
        criteria[protocol.combine] = row["score"]
        row["score"] = criteria[protocol.all_max_as]
    row["criteria"] = criteria or None
    if protocol.headline == Headline.pooled:
        row["pooled"] = [value for verdict in judged.values() for value in verdict["pooled"]]
    return row


def _call_verdict(
    protocol: Protocol, call: Call, sample: Sample, record: Mapping[str, Any] | None
) -> dict[str, Any]:
    if record is None:
        return {
            "status": MISSING,
            "score": None,
            "criteria": None,
            "reply": None,
            "error": None,
            **dict.fromkeys(_PASSED_THROUGH),
        }
    verdict = {
        "status": record.get("status", MISSING),
        "score": record.get("score"),
        "criteria": record.get("criteria"),
        "reply": record.get("reply"),
        "error": record.get("error"),
        **{key: record.get(key) for key in _PASSED_THROUGH},
    }
    if verdict["status"] != OK:
        return verdict
    prompt = call.prompt_for(sample) or {}
    low, high = (float(v) for v in prompt.get("scale") or DEFAULT_SCALE)
    verdict["at_top"] = verdict["score"] == high
    rescale = _rescaler(protocol, low, high)
    leaves = dict(verdict["criteria"] or {})
    verdict["score"] = rescale(verdict["score"])
    verdict["criteria"] = {name: rescale(value) for name, value in leaves.items()} or None
    verdict["pooled"] = list((verdict["criteria"] or {}).values()) or [verdict["score"]]
    return verdict


def _rescaler(protocol: Protocol, low: float, high: float) -> Callable[[float], float]:
    if protocol.rescale_to is None:
        return lambda value: value
    new_low, new_high = protocol.rescale_to
    factor = (new_high - new_low) / (high - low)
    return lambda value: new_low + (value - low) * factor


def _combine(protocol: Protocol, scores: Mapping[str, float]) -> float:
    """The sample's score from its calls' scores, as the protocol combines them."""
    values = list(scores.values())
    if len(values) == 1:
        return values[0]
    if protocol.combine == "min":
        return min(values)
    if protocol.combine == "geometric_mean":
        return math.prod(values) ** (1 / len(values))
    if protocol.combine == "weighted":
        weights = protocol.weights or {}
        total = math.fsum(weights[name] for name in scores)
        return math.fsum(weights[name] * score for name, score in scores.items()) / total
    return statistics.fmean(values)
