"""A finished run as data: one row per sample, the MLflow metrics, timing, throughput and cost,
and the run's name, tags and details for the report."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from editbench.launch.pool import PhaseStats
from editbench.plan import Plan
from editbench.protocols.spec import Protocol
from editbench.protocols.verdict import sample_verdict
from editbench.records import API_ERROR, EDIT_ERROR, OK, RETRIED_STATUSES, USAGE_FIELDS
from editbench.results.tracking import metric_name
from editbench.store import Store


def collect_rows(plan: Plan, store: Store, protocol: Protocol) -> list[dict[str, Any]]:
    """One row per sample, read back from the store: what samples.jsonl holds. The sample's
    status, score and criteria come from its calls' judgements
    (:func:`~editbench.protocols.verdict.sample_verdict`)."""
    rows = []
    judgements = plan.judgements_of()
    for sample, edit in zip(plan.samples, plan.edits, strict=True):
        edited = store.read_edit(edit.key)
        tasks = judgements[sample.id]
        records = {task.call: store.read_judgement(task.key) for task in tasks}
        verdict = sample_verdict(protocol, sample, records)
        if edited is not None and edited["status"] == EDIT_ERROR:
            # No edit, nothing judged: judgements kept from an earlier edit of the key do not
            # count.
            verdict.update(status=EDIT_ERROR, score=None, criteria=None, error=edited["error"])
            verdict.pop("pooled", None)
        rows.append(
            {
                "id": sample.id,
                "category": sample.category,
                "instruction": sample.instruction,
                "source_image": sample.image,
                **({"source_images": list(sample.images)} if len(sample.images) > 1 else {}),
                **(
                    {"reference_image": sample.reference_image}
                    if sample.reference_image is not None
                    else {}
                ),
                **(
                    {"reference_text": sample.reference_text}
                    if sample.reference_text is not None
                    else {}
                ),
                "edited_image": (
                    str(store.edit_image_path(edit.key))
                    if edited is not None and edited["status"] == OK
                    else None
                ),
                **verdict,
                "edit_device_s": _edit_device_seconds(edited),
                "seed": edit.request.seed,
                "edit_key": edit.key,
                "judgement_key": tasks[0].key if len(tasks) == 1 else None,
                **({"judgement_keys": {t.call: t.key for t in tasks}} if len(tasks) > 1 else {}),
                **({"extra": sample.extra} if sample.extra else {}),
            }
        )
    return rows


def _edit_device_seconds(edited: Mapping[str, Any] | None) -> float | None:
    """What making the sample's edit took on its devices (device-seconds: its share of its
    batch's time, times the devices), or None where there is no edit or no time recorded."""
    if edited is None or edited["status"] != OK or "seconds" not in edited:
        return None
    return round(_device_seconds([edited]), 4)


def coverage_problem(
    rows: Sequence[Mapping[str, Any]], results: Mapping[str, Any], min_coverage: float
) -> str | None:
    """Why the run is not a result, or None: it judged no sample, or a share of them under
    ``min_coverage``. Counts the failures by status with the first error of each, and says
    which a re-run tries again."""
    overall = results["overall"]
    n, judged = overall["n"], overall["judged"]
    if n and judged and judged / n >= min_coverage:
        return None
    failures: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        if row["status"] != OK:
            failures.setdefault(row["status"], []).append(row)
    lines = [
        f"judged {judged} of {n} samples ({judged / n:.1%}), under min_coverage={min_coverage}"
        if judged
        else f"judged none of the {n} samples"
    ]
    for status, failed in sorted(failures.items(), key=lambda item: -len(item[1])):
        first = failed[0]
        lines.append(
            f"  {len(failed)} {status}, e.g. {first['id']!r}: {_shorter(first.get('error'))}"
        )
    if API_ERROR in failures or set(failures) & set(RETRIED_STATUSES):
        lines.append(
            "Re-run the same command to try api_error again (and edit_error, judge_error up to "
            "store.max_attempts); everything judged is kept in the store."
        )
    return "\n".join(lines)


def _shorter(text: str | None, limit: int = 300) -> str:
    text = " ".join((text or "no error recorded").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def metrics(results: Mapping[str, Any]) -> dict[str, float]:
    """MLflow metrics, named ``score/<category>/mean``, ``criterion/<name>/overall``,
    ``subset/<subset>/overall`` etc. so runs line up in the UI. A category, criterion or subset
    name is kept as the benchmark spells it, with characters MLflow refuses replaced by ``_``."""
    out: dict[str, float] = {}
    for name, category in results["categories"].items():
        name = metric_name(name)
        out[f"score/{name}/mean"] = category["mean"]
        out[f"score/{name}/std"] = category["std"]
        out[f"score/{name}/coverage"] = category["coverage"]
        out[f"score/{name}/judged"] = category["judged"]
        for status, count in category["failures"].items():
            out[f"failures/{name}/{status}"] = count
        if category["ci95"]:
            out[f"score/{name}/ci95_lo"], out[f"score/{name}/ci95_hi"] = category["ci95"]
        for criterion, stats in (category.get("criteria") or {}).items():
            out[f"criterion/{metric_name(criterion)}/{name}/mean"] = stats["mean"]
    overall = results["overall"]
    out["score/overall"] = overall["mean_of_categories"]
    out["score/overall_sample_mean"] = overall["sample_mean"]
    if "headline" in overall:
        out["score/headline"] = overall["headline"]
    out["coverage/overall"] = overall["coverage"]
    for criterion, value in (overall.get("criteria") or {}).items():
        out[f"criterion/{metric_name(criterion)}/overall"] = value
    for subset, figures in (results.get("subsets") or {}).items():
        subset = metric_name(subset)
        out[f"subset/{subset}/overall"] = figures["overall"].get("headline")
        out[f"subset/{subset}/coverage"] = figures["overall"]["coverage"]
        for criterion, value in (figures["overall"].get("criteria") or {}).items():
            out[f"subset/{subset}/{metric_name(criterion)}"] = value
    for key, value in results["work"].items():
        out[f"work/{key}"] = value
    for key, value in results["timing"].items():
        out[f"timing/{key}"] = value
    for phase, figures in results["throughput"].items():
        out[f"throughput/{phase}_images_per_s"] = figures["images_per_s"]
        for worker, own in figures["workers"].items():
            for key in ("images_per_s", "load_s", "gpu_utilization_pct"):
                out[f"throughput/{worker}/{key}"] = own[key]
    for phase, figures in (results.get("cost") or {}).items():
        for key, value in figures.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[f"cost/{phase}/{key}"] = value  # null and the currency's name are no metric
    return out


def cost(plan: Plan, store: Store, price: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the run's results cost, read from the store's records of every sample of the run,
    made by this run or reused: the cost of these results, not of this run's work alone.

    Device-seconds: each record's ``seconds`` (its share of its batch's time) times the number
    of devices it ran on (a judge spread with device_map holds several). The judge's tokens and
    latency come from the judgements that report them (an API judge's); null where none does.
    Money prices those tokens at ``price`` (the judge config's, per million tokens); null
    without a price or without tokens. ``_per_1000``: per 1,000 samples of the run.
    """
    samples = len(plan.samples)
    edits = _present(store.read_edit(task.key) for task in plan.edits)
    judgements = _present(store.read_judgement(task.key) for task in plan.judgements)
    edit_s, judge_s = _device_seconds(edits), _device_seconds(judgements)
    usages = [record["usage"] for record in judgements if record.get("usage") is not None]
    tokens = {name: sum(u[name] for u in usages) if usages else None for name in USAGE_FIELDS}
    latencies = [r["latency_s"] for r in judgements if r.get("latency_s") is not None]
    priced = _priced(price)
    money = None
    if priced is not None and usages:
        money = (
            tokens["prompt_tokens"] * priced["prompt_per_million"]
            + tokens["completion_tokens"] * priced["completion_per_million"]
        ) / 1e6
    return {
        "edit": {
            "samples": samples,
            "edits": len(edits),
            "device_s": round(edit_s, 4),
            "device_s_per_sample": _per(edit_s, samples),
            "device_s_per_1000": _per(1000 * edit_s, samples),
        },
        "judge": {
            "judgements": len(judgements),
            "device_s": round(judge_s, 4),
            "device_s_per_judgement": _per(judge_s, len(judgements)),
            "device_s_per_1000": _per(1000 * judge_s, samples),
            "judgements_with_usage": len(usages),
            "prompt_tokens": tokens["prompt_tokens"],
            "completion_tokens": tokens["completion_tokens"],
            "prompt_tokens_per_judgement": _per(tokens["prompt_tokens"], len(usages)),
            "completion_tokens_per_judgement": _per(tokens["completion_tokens"], len(usages)),
            "latency_s_mean": _per(math.fsum(latencies), len(latencies)),
            "money": _money(money),
            "money_per_judgement": None if money is None else _money(money / len(usages)),
            "money_per_1000": None if money is None else _money(1000 * money / samples),
            "currency": None if priced is None else priced["currency"],
        },
    }


def _present(records: Iterable[dict[str, Any] | None]) -> list[dict[str, Any]]:
    """The records the store holds (a missing or damaged one reads as None)."""
    return [record for record in records if record is not None]


def _device_seconds(records: Sequence[Mapping[str, Any]]) -> float:
    """Worker-seconds on the devices: each record's seconds times its devices (comma-joined)."""
    return math.fsum(
        record.get("seconds", 0.0) * len(record.get("device", "cpu").split(","))
        for record in records
    )


def _priced(price: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The judge config's price where it sets one (both prices; the judge checked them)."""
    if price is None or price.get("prompt_per_million") is None:
        return None
    return {"currency": "USD", **price}


def _money(amount: float | None) -> float | None:
    """An amount to a billionth: a run of a few judgements costs fractions of a cent."""
    return None if amount is None else round(amount, 9)


def _per(total: float | None, count: int) -> float | None:
    """``total / count``, rounded; None where either is missing."""
    return None if total is None or not count else round(total / count, 4)


def timing(wall_s: float, edit: PhaseStats, score: PhaseStats, cfg: DictConfig) -> dict[str, float]:
    loads = (edit.load_s, score.load_s)
    # split loads both phases' models at once; shared loads one phase after the other
    load_s = max(loads) if cfg.layout.name == "split" else sum(loads)
    return {
        "wall_s": round(wall_s, 3),
        "load_s": round(load_s, 3),
        "edit_s": round(edit.wall_s - edit.load_s, 3),
        "score_s": round(score.wall_s - score.load_s, 3),
    }


def throughput(stats: PhaseStats) -> dict[str, Any]:
    return {
        "images": stats.items,
        "images_per_s": _round(stats.items_per_s),
        "load_s": round(stats.load_s, 3),
        "workers": {
            w.name: {
                "devices": w.devices,
                "load_s": round(w.load_s, 3),
                "images": w.items,
                "images_per_s": _round(w.items_per_s),
                "gpu_utilization_pct": _round(w.gpu_utilization_pct),
                "python": w.python,
            }
            for w in stats.workers
        },
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def prompt_versions(choices: Mapping[str, str]) -> str:
    """The prompts/<category> choices of the run: one version when all agree."""
    versions = {
        group.removeprefix("prompts/"): choice
        for group, choice in sorted(choices.items())
        if group.startswith("prompts/")
    }
    if not versions:
        return "?"
    if len(set(versions.values())) == 1:
        return next(iter(versions.values()))
    return ",".join(f"{c}={v}" for c, v in versions.items())


def judging(choices: Mapping[str, str]) -> str:
    """How the run judges: the protocol, and the prompt versions of the editbench protocol."""
    protocol = choices.get("protocol", "editbench")
    if protocol != "editbench":
        return f"protocol {protocol}"
    return f"prompts {prompt_versions(choices)}"


def run_name(choices: Mapping[str, str]) -> str:
    editor, judge = choices.get("editor", "editor"), choices.get("scorer", "scorer")
    dataset = choices.get("dataset", "sample")
    on = "" if dataset == "sample" else f" on {dataset}"
    return f"{editor} × {judge}{on} · {judging(choices)}"


def run_tags(cfg: DictConfig, choices: Mapping[str, str]) -> dict[str, str]:
    return {
        "editbench.editor": f"{choices.get('editor', '?')} ({_model(cfg.editor)})",
        "editbench.judge": f"{choices.get('scorer', '?')} ({_model(cfg.scorer)})",
        "editbench.prompts": prompt_versions(choices),
        "editbench.protocol": str(cfg.protocol.name),
        "editbench.dataset": dataset_label(cfg, choices),
        "editbench.experiment": str(choices.get("experiment") or "-"),
    }


def dataset_label(cfg: DictConfig, choices: Mapping[str, str]) -> str:
    """The dataset option and where its data is: a folder, a hub id and its revision."""
    node = cfg.dataset
    where = node.get("root") or node.get("path") or "?"
    revision = node.get("revision")
    at = f"@{revision}" if revision else ""
    return f"{choices.get('dataset', '?')}: {where}{at}"


def _model(node: DictConfig) -> str:
    """What a model config runs: its hub id or path, or the folder of precomputed edits."""
    return str(node.get("model") or node.get("root"))


def run_details(cfg: DictConfig, choices: Mapping[str, str], output_dir: Path) -> dict[str, str]:
    return {
        "editor": f"{choices.get('editor', '?')}: {_model(cfg.editor)}",
        "judge": f"{choices.get('scorer', '?')}: {_model(cfg.scorer)} ({cfg.scorer.score_mode})",
        "judging": judging(choices),
        "dataset": dataset_label(cfg, choices),
        "run folder": str(output_dir),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
