"""One editbench run: validate, plan, edit, judge, aggregate, report, log.

``run(cfg, output_dir)`` is what the CLI calls and what tests call directly. It validates
everything before any model loads, does only the work the store does not already hold, and
writes samples.jsonl, results.json, report.html and the resolved config into ``output_dir``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from editbench.aggregate import aggregate
from editbench.devices import resolve_devices
from editbench.errors import EditbenchError
from editbench.launcher import PhaseStats, WorkerFailed, run_phase
from editbench.plan import Plan, make_plan
from editbench.prompts import check_prompts
from editbench.records import CATEGORIES, Sample
from editbench.report import write_report
from editbench.store import Store
from editbench.tracking import flatten
from editbench.worker import EDIT, SCORE, WorkerSpec

log = logging.getLogger(__name__)

# Scorer keys that tell the launcher how to place the judge; they are not judge arguments.
PLACEMENT_KEYS = ("placement",)
PLACEMENTS = ("replica", "spread")


@dataclass
class Setup:
    """Everything validated before any model loads."""

    samples: list[Sample]
    prompts: dict[str, dict[str, Any]]
    devices: list[str]
    editor_config: dict[str, Any]
    judge_config: dict[str, Any]
    placement: str
    editor_fingerprint: dict[str, Any]
    judge_fingerprint: dict[str, Any]


def validate(cfg: DictConfig) -> Setup:
    """Check the dataset, the prompts, the devices and the model configs, in that order.

    Raises :class:`EditbenchError` naming the first bad value. Loads no model (building a
    missing tiny model into the cache is the only work, once, on the CPU).
    """
    samples = instantiate(cfg.dataset)
    prompts = {c: OmegaConf.to_container(cfg.prompts[c], resolve=True) for c in CATEGORIES}
    check_prompts(prompts, samples)
    devices = resolve_devices(cfg.gpus)
    if cfg.layout.name != "shared":
        raise EditbenchError(f"layout.name={cfg.layout.name!r} is not supported; expected 'shared'")
    if cfg.layout.load not in ("parallel", "serial"):
        raise EditbenchError(f"layout.load={cfg.layout.load!r}; expected 'parallel' or 'serial'")
    if cfg.layout.workers_per_device < 1:
        raise EditbenchError(
            f"layout.workers_per_device={cfg.layout.workers_per_device}; expected at least 1"
        )
    editor_config = _resolved(cfg, "editor")
    judge_config = _resolved(cfg, "scorer")
    placement = judge_config.get("placement", "replica")
    if placement not in PLACEMENTS:
        raise EditbenchError(f"scorer.placement={placement!r}; expected one of {list(PLACEMENTS)}")
    judge_config = {k: v for k, v in judge_config.items() if k not in PLACEMENT_KEYS}
    editor = _build("editor", editor_config)
    judge = _build("scorer", judge_config)
    return Setup(
        samples,
        prompts,
        devices,
        editor_config,
        judge_config,
        placement,
        editor.fingerprint(),
        judge.fingerprint(),
    )


def _resolved(cfg: DictConfig, group: str) -> dict[str, Any]:
    try:
        return OmegaConf.to_container(cfg[group], resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as error:
        raise EditbenchError(
            f"{error.full_key} has no value; set it, e.g. {error.full_key}=..."
        ) from None


def _build(group: str, config: dict[str, Any]) -> Any:
    """Instantiate an editor or judge (cheap: constructors only check their arguments)."""
    try:
        return instantiate(config)
    except Exception as error:
        cause = error.__cause__ or error
        raise EditbenchError(f"{group} config ({config.get('_target_')}): {cause}") from None


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
        setup.editor_fingerprint,
        setup.judge_fingerprint,
        cfg.seed,
        store,
    )
    resolved = OmegaConf.to_container(cfg, resolve=True)
    (output_dir / "config.yaml").write_text(OmegaConf.to_yaml(resolved))

    tracker = instantiate(cfg.tracking)
    tracker.start(_run_name(choices or {}), _tags(cfg, choices or {}), flatten(resolved))
    status = "FAILED"
    try:
        edit_stats, edits_done = _edit_phase(cfg, setup, plan, store, output_dir)
        score_stats, judgements_done = _score_phase(cfg, setup, plan, store, output_dir)
        rows = collect_rows(plan, store)
        results = aggregate(rows, CATEGORIES, n_bootstrap=cfg.bootstrap_samples, seed=cfg.seed)
        results["work"] = {
            "edits_done": edits_done,
            "edits_reused": len(plan.edits) - edits_done,
            "judgements_done": judgements_done,
            "judgements_reused": len(plan.judgements) - judgements_done,
        }
        results["timing"] = {
            "wall_s": round(time.perf_counter() - started, 3),
            "load_s": round(edit_stats.load_s + score_stats.load_s, 3),
            "edit_s": round(edit_stats.wall_s - edit_stats.load_s, 3),
            "score_s": round(score_stats.wall_s - score_stats.load_s, 3),
        }
        results["throughput"] = {EDIT: _throughput(edit_stats), SCORE: _throughput(score_stats)}
        write_outputs(output_dir, rows, results, _details(cfg, choices or {}, output_dir))
        tracker.log_metrics(metrics(results))
        tracker.log_artifacts(
            [
                output_dir / name
                for name in (
                    "results.json",
                    "samples.jsonl",
                    "report.html",
                    "config.yaml",
                    ".hydra",
                )
            ]
        )
        status = "FINISHED"
        return results
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        tracker.finish(status)


def _worker_specs(
    phase: str,
    config: dict[str, Any],
    groups: Sequence[tuple[str, ...]],
    cfg: DictConfig,
    output_dir: Path,
) -> list[WorkerSpec]:
    names = [f"{phase}-{i}" for i in range(len(groups))]
    threads = max(1, (os.cpu_count() or 1) // len(groups))
    return [
        WorkerSpec(
            name,
            phase,
            devices,
            config,
            str(Path(cfg.store.root).resolve()),
            str(output_dir / f"{name}.log"),
            threads,
        )
        for name, devices in zip(names, groups, strict=True)
    ]


def _replicas(devices: Sequence[str], per_device: int) -> list[tuple[str, ...]]:
    return [(device,) for device in devices for _ in range(per_device)]


def _edit_phase(
    cfg: DictConfig, setup: Setup, plan: Plan, store: Store, output_dir: Path
) -> tuple[PhaseStats, int]:
    todo = [task for task in plan.edits if store.read_edit(task.key) is None]
    log.info(
        "edit: %d of %d to do, %d in the store",
        len(todo),
        len(plan.edits),
        len(plan.edits) - len(todo),
    )
    if not todo:
        return PhaseStats(EDIT), 0
    groups = _replicas(setup.devices, cfg.layout.workers_per_device)[: len(todo)]
    specs = _worker_specs(EDIT, setup.editor_config, groups, cfg, output_dir)
    stats = run_phase(specs, [[task] for task in todo], load=cfg.layout.load)
    return stats, len(todo)


def _score_phase(
    cfg: DictConfig, setup: Setup, plan: Plan, store: Store, output_dir: Path
) -> tuple[PhaseStats, int]:
    todo = [task for task in plan.judgements if store.read_judgement(task.key) is None]
    log.info(
        "score: %d of %d to do, %d in the store",
        len(todo),
        len(plan.judgements),
        len(plan.judgements) - len(todo),
    )
    if not todo:
        return PhaseStats(SCORE), 0
    batch_size = setup.judge_config.get("batch_size", 1)
    batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
    if setup.placement == "spread":
        groups = [tuple(setup.devices)]
    else:
        groups = _replicas(setup.devices, cfg.layout.workers_per_device)[: len(batches)]
    specs = _worker_specs(SCORE, setup.judge_config, groups, cfg, output_dir)
    stats = run_phase(specs, batches, load=cfg.layout.load)
    return stats, len(todo)


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
        out[f"score/{name}/coverage"] = category["coverage"]
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
    return out


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
        "editbench.editor": f"{choices.get('editor', '?')} ({cfg.editor.model})",
        "editbench.judge": f"{choices.get('scorer', '?')} ({cfg.scorer.model})",
        "editbench.prompts": _prompt_versions(choices),
        "editbench.dataset": str(cfg.dataset.root),
        "editbench.experiment": str(choices.get("experiment") or "-"),
    }


def _details(cfg: DictConfig, choices: Mapping[str, str], output_dir: Path) -> dict[str, str]:
    return {
        "editor": f"{choices.get('editor', '?')}: {cfg.editor.model}",
        "judge": f"{choices.get('scorer', '?')}: {cfg.scorer.model} ({cfg.scorer.score_mode})",
        "prompts": _prompt_versions(choices),
        "dataset": str(cfg.dataset.root),
        "run folder": str(output_dir),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


__all__ = ["WorkerFailed", "collect_rows", "metrics", "run", "validate"]
