"""A finished run as data: one row per sample, the MLflow metrics, timing and throughput, and the
run's name, tags and details for the report."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from editbench.launch.pool import PhaseStats
from editbench.plan import Plan
from editbench.records import CATEGORIES
from editbench.store import Store


def collect_rows(plan: Plan, store: Store) -> list[dict[str, Any]]:
    """One row per sample, read back from the store: what samples.jsonl holds."""
    rows = []
    for sample, edit, judge in zip(plan.samples, plan.edits, plan.judgements, strict=True):
        edited = store.read_edit(edit.key)
        verdict = store.read_judgement(judge.key) or {}
        rows.append(
            {
                "id": sample.id,
                "category": sample.category,
                "instruction": sample.instruction,
                "source_image": sample.image,
                "edited_image": str(store.edit_image_path(edit.key)) if edited else None,
                "status": verdict.get("status", "missing"),
                "score": verdict.get("score"),
                "reply": verdict.get("reply"),
                "entropy": verdict.get("entropy"),
                "distribution": verdict.get("distribution"),
                "error": verdict.get("error"),
                "criteria": verdict.get("criteria"),
                "samples": verdict.get("samples"),
                "spread": verdict.get("spread"),
                "seed": edit.request.seed,
                "edit_key": edit.key,
                "judgement_key": judge.key,
                **({"extra": sample.extra} if sample.extra else {}),
            }
        )
    return rows


def metrics(results: Mapping[str, Any]) -> dict[str, float]:
    """MLflow metrics, named ``score/<category>/mean`` etc. so runs line up in the UI."""
    out: dict[str, float] = {}
    for name, category in results["categories"].items():
        out[f"score/{name}/mean"] = category["mean"]
        out[f"score/{name}/std"] = category["std"]
        out[f"score/{name}/coverage"] = category["coverage"]
        out[f"score/{name}/judged"] = category["judged"]
        for status, count in category["failures"].items():
            out[f"failures/{name}/{status}"] = count
        if category["ci95"]:
            out[f"score/{name}/ci95_lo"], out[f"score/{name}/ci95_hi"] = category["ci95"]
    overall = results["overall"]
    out["score/overall"] = overall["mean_of_categories"]
    out["score/overall_sample_mean"] = overall["sample_mean"]
    out["coverage/overall"] = overall["coverage"]
    for key, value in results["work"].items():
        out[f"work/{key}"] = value
    for key, value in results["timing"].items():
        out[f"timing/{key}"] = value
    for phase, figures in results["throughput"].items():
        out[f"throughput/{phase}_images_per_s"] = figures["images_per_s"]
        for worker, own in figures["workers"].items():
            for key in ("images_per_s", "load_s", "gpu_utilization_pct"):
                out[f"throughput/{worker}/{key}"] = own[key]
    return out


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
    versions = {c: choices.get(f"prompts/{c}", "?") for c in CATEGORIES}
    if len(set(versions.values())) == 1:
        return next(iter(versions.values()))
    return ",".join(f"{c}={v}" for c, v in versions.items())


def run_name(choices: Mapping[str, str]) -> str:
    editor, judge = choices.get("editor", "editor"), choices.get("scorer", "scorer")
    return f"{editor} × {judge} · prompts {prompt_versions(choices)}"


def run_tags(cfg: DictConfig, choices: Mapping[str, str]) -> dict[str, str]:
    return {
        "editbench.editor": f"{choices.get('editor', '?')} ({_model(cfg.editor)})",
        "editbench.judge": f"{choices.get('scorer', '?')} ({_model(cfg.scorer)})",
        "editbench.prompts": prompt_versions(choices),
        "editbench.dataset": str(cfg.dataset.root),
        "editbench.experiment": str(choices.get("experiment") or "-"),
    }


def _model(node: DictConfig) -> str:
    """What a model config runs: its hub id or path, or the folder of precomputed edits."""
    return str(node.get("model") or node.get("root"))


def run_details(cfg: DictConfig, choices: Mapping[str, str], output_dir: Path) -> dict[str, str]:
    return {
        "editor": f"{choices.get('editor', '?')}: {_model(cfg.editor)}",
        "judge": f"{choices.get('scorer', '?')}: {_model(cfg.scorer)} ({cfg.scorer.score_mode})",
        "prompts": prompt_versions(choices),
        "dataset": str(cfg.dataset.root),
        "run folder": str(output_dir),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
