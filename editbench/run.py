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
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from editbench.config.validate import validate
from editbench.errors import RunIncomplete
from editbench.launch.phases import execute
from editbench.launch.worker import EDIT, SCORE
from editbench.protocols.spec import describe
from editbench.results.aggregate import benchmark_results
from editbench.results.chart import write_category_chart
from editbench.results.dry_run import write_dry_run
from editbench.results.report import write_report
from editbench.results.summary import (
    collect_rows,
    cost,
    coverage_problem,
    metrics,
    run_details,
    run_name,
    run_tags,
    throughput,
    timing,
)
from editbench.results.tracking import TRACKING_FILE, flatten
from editbench.store import Store

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
    plan = setup.plan(cfg.seed, store)
    setup.editor.check([task.request for task in plan.edits])
    setup.judge.check([task.request for task in plan.judgements])
    resolved = OmegaConf.to_container(cfg, resolve=True)
    (output_dir / "config.yaml").write_text(OmegaConf.to_yaml(resolved))
    if cfg.dry_run:
        summary = write_dry_run(output_dir, plan, store, cfg.store.max_attempts)
        log.info("dry run: %s; see %s", summary, output_dir / "judge_requests.html")
        return summary

    tracker = instantiate(cfg.tracking)
    tracker.start(run_name(choices or {}), run_tags(cfg, choices or {}), flatten(resolved))
    if (where := tracker.where()) is not None:
        (output_dir / TRACKING_FILE).write_text(json.dumps(where) + "\n", encoding="utf-8")
    status = "FAILED"
    try:
        stats, to_do = execute(cfg, setup, plan, store, output_dir)
        edit_stats, score_stats = stats[EDIT], stats[SCORE]
        rows = collect_rows(plan, store, setup.protocol)
        results = benchmark_results(
            rows,
            list(dict.fromkeys(sample.category for sample in setup.samples)),
            headline=setup.protocol.headline,
            subsets=setup.subsets,
            n_bootstrap=cfg.bootstrap_samples,
            seed=cfg.seed,
        )
        results["protocol"] = describe(setup.protocol, plan, setup.judge_config["score_mode"])
        results["work"] = {
            "edits_done": edit_stats.items,
            "edits_reused": len(plan.edits) - to_do["edits"],
            "judgements_done": score_stats.items,
            "judgements_reused": len(plan.judgements) - to_do["judgements"],
        }
        results["timing"] = timing(time.perf_counter() - started, edit_stats, score_stats, cfg)
        results["throughput"] = {EDIT: throughput(edit_stats), SCORE: throughput(score_stats)}
        results["cost"] = cost(plan, store, setup.judge_config.get("price"))
        write_outputs(output_dir, rows, results, run_details(cfg, choices or {}, output_dir))
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
        problem = coverage_problem(rows, results, cfg.min_coverage)
        if problem is not None:
            raise RunIncomplete(problem)
        status = "FINISHED"
        return results
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        tracker.finish(status)


def write_outputs(
    output_dir: Path, rows: list[dict[str, Any]], results: dict[str, Any], details: dict[str, str]
) -> None:
    with open(output_dir / "samples.jsonl", "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    (output_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    write_report(
        output_dir / "report.html", rows, results, title="editbench report", details=details
    )
