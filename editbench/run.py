"""One editbench run: validate, plan, edit, judge, aggregate, report, log.

``run(cfg, output_dir)`` is what the CLI calls and what tests call directly. It validates
everything before any model loads, does only the work the store does not already hold, and
writes samples.jsonl, results.json, report.html and the resolved config into ``output_dir``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from editbench.aggregate import aggregate
from editbench.chart import write_category_chart
from editbench.dry_run import write_dry_run
from editbench.launcher import PhaseStats
from editbench.plan import Plan, make_plan
from editbench.records import CATEGORIES
from editbench.report import write_report
from editbench.schedule import execute
from editbench.setup import validate
from editbench.store import Store
from editbench.tracking import flatten
from editbench.worker import EDIT, SCORE

log = logging.getLogger(__name__)


def run(
    cfg: DictConfig, output_dir: str | Path, choices: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Run the benchmark described by ``cfg``; returns the contents of results.json.

    ``choices`` are Hydra's group choices (``{"editor": "tiny", ...}``), used to name the run.
    """
    started = time.perf_counter()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    setup = validate(cfg)
    store = Store(cfg.store.root)
    plan = make_plan(
        setup.samples,
        setup.prompts,
        setup.editor.fingerprint(),
        setup.judge.fingerprint(),
        cfg.seed,
        store,
    )
    setup.editor.check([task.request for task in plan.edits])
    resolved = OmegaConf.to_container(cfg, resolve=True)
    (output_dir / "config.yaml").write_text(OmegaConf.to_yaml(resolved))
    if cfg.dry_run:
        summary = write_dry_run(output_dir, plan, store)
        log.info("dry run: %s; see %s", summary, output_dir / "judge_requests.html")
        return summary

    tracker = instantiate(cfg.tracking)
    tracker.start(_run_name(choices or {}), _tags(cfg, choices or {}), flatten(resolved))
    status = "FAILED"
    try:
        stats, done = execute(cfg, setup, plan, store, output_dir)
        edit_stats, score_stats = stats[EDIT], stats[SCORE]
        rows = collect_rows(plan, store)
        results = aggregate(rows, CATEGORIES, n_bootstrap=cfg.bootstrap_samples, seed=cfg.seed)
        results["work"] = {
            "edits_done": done["edits"],
            "edits_reused": len(plan.edits) - done["edits"],
            "judgements_done": done["judgements"],
            "judgements_reused": len(plan.judgements) - done["judgements"],
        }
        results["timing"] = _timing(time.perf_counter() - started, edit_stats, score_stats, cfg)
        results["throughput"] = {EDIT: _throughput(edit_stats), SCORE: _throughput(score_stats)}
        write_outputs(output_dir, rows, results, _details(cfg, choices or {}, output_dir))
        write_category_chart(output_dir / "categories.png", results)
        tracker.log_metrics(metrics(results))
        tracker.log_table(rows)
        artifacts = (
            "results.json",
            "samples.jsonl",
            "report.html",
            "categories.png",
            "config.yaml",
        )
        tracker.log_artifacts([output_dir / name for name in (*artifacts, ".hydra")])
        status = "FINISHED"
        return results
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        tracker.finish(status)


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


def write_outputs(
    output_dir: Path, rows: list[dict[str, Any]], results: dict[str, Any], details: dict[str, str]
) -> None:
    with open(output_dir / "samples.jsonl", "w") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    (output_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    write_report(
        output_dir / "report.html", rows, results, title="editbench report", details=details
    )


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


def _timing(
    wall_s: float, edit: PhaseStats, score: PhaseStats, cfg: DictConfig
) -> dict[str, float]:
    loads = (edit.load_s, score.load_s)
    # split loads both phases' models at once; shared loads one phase after the other
    load_s = max(loads) if cfg.layout.name == "split" else sum(loads)
    return {
        "wall_s": round(wall_s, 3),
        "load_s": round(load_s, 3),
        "edit_s": round(edit.wall_s - edit.load_s, 3),
        "score_s": round(score.wall_s - score.load_s, 3),
    }


def _throughput(stats: PhaseStats) -> dict[str, Any]:
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


def _prompt_versions(choices: Mapping[str, str]) -> str:
    versions = {c: choices.get(f"prompts/{c}", "?") for c in CATEGORIES}
    if len(set(versions.values())) == 1:
        return next(iter(versions.values()))
    return ",".join(f"{c}={v}" for c, v in versions.items())


def _run_name(choices: Mapping[str, str]) -> str:
    editor, judge = choices.get("editor", "editor"), choices.get("scorer", "scorer")
    return f"{editor} × {judge} · prompts {_prompt_versions(choices)}"


def _tags(cfg: DictConfig, choices: Mapping[str, str]) -> dict[str, str]:
    return {
        "editbench.editor": f"{choices.get('editor', '?')} ({_model(cfg.editor)})",
        "editbench.judge": f"{choices.get('scorer', '?')} ({_model(cfg.scorer)})",
        "editbench.prompts": _prompt_versions(choices),
        "editbench.dataset": str(cfg.dataset.root),
        "editbench.experiment": str(choices.get("experiment") or "-"),
    }


def _model(node: DictConfig) -> str:
    """What a model config runs: its hub id or path, or the folder of precomputed edits."""
    return str(node.get("model") or node.get("root"))


def _details(cfg: DictConfig, choices: Mapping[str, str], output_dir: Path) -> dict[str, str]:
    return {
        "editor": f"{choices.get('editor', '?')}: {_model(cfg.editor)}",
        "judge": f"{choices.get('scorer', '?')}: {_model(cfg.scorer)} ({cfg.scorer.score_mode})",
        "prompts": _prompt_versions(choices),
        "dataset": str(cfg.dataset.root),
        "run folder": str(output_dir),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
