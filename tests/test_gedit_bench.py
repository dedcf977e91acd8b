"""dataset=gedit_bench with the viescore protocol, on a small dataset in GEdit-Bench's hub layout
(editbench.sample_data.gedit_bench): the source, the two VIEScore calls, the results as GEdit
publishes them (SC, PQ, O per task type, the mean of the task types, four subsets), and judging
edits released in GEdit's nested layout."""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from PIL import Image

from editbench.config.validate import validate
from editbench.errors import EditbenchError
from editbench.protocols.spec import Protocol
from editbench.protocols.verdict import sample_verdict
from editbench.results.aggregate import benchmark_results
from editbench.sample_data.gedit_bench import write

from .conftest import CONF, ROOT, local_overrides

# sha256 of VIEScore's assembled prompts as GEdit-Bench sends them (stepfun-ai/Step1X-Edit,
# GEdit-Bench/viescore/vie_prompts.py joined as viescore/__init__.py joins them), with the
# instruction's placeholder as the original writes it.
PUBLISHED_SC_SHA256 = "8f529562c2f89f8db51a3f7cc4d487686f676909c21010b67b0e65ec78150de5"
PUBLISHED_PQ_SHA256 = "2473ff2c7406e06545c5c039ceb039ff2604ebacf150868a48f0bf07c9e733b0"
SUBSETS = ["en/fullset", "en/intersection", "cn/fullset", "cn/intersection"]
# A hang guard, about ten times an end-to-end run's normal time on an idle 2-core machine.
RUN_S = 600


@pytest.fixture(scope="module")
def gedit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("gedit") / "GEdit-Bench")


def _compose(tmp_path: Path, *overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=[*local_overrides(tmp_path), *overrides])


def _protocol(cfg) -> Protocol:
    return Protocol.from_config(
        OmegaConf.to_container(cfg.protocol, resolve=True, enum_to_str=True)
    )


def test_the_preset_reads_the_hub_layout_with_its_published_columns(gedit, tmp_path):
    cfg = _compose(tmp_path, "experiment=demo", "dataset=gedit_bench", f"dataset.path={gedit}")
    setup = validate(cfg)

    assert cfg.protocol.name == "viescore"  # the benchmark's own protocol by default
    assert len(setup.samples) == 22  # 11 cases, one per task type, each in en and cn
    first = setup.samples[0]
    assert first.id == f"{first.extra['key']}/en"
    assert first.category == "background_change"
    # the columns that hold no image, under GEdit's names (task_type too: its release layout
    # names folders by it); the instruction is the sample's own
    assert set(first.extra) == {"task_type", "key", "instruction_language", "Intersection_exist"}
    assert len(first.images) == 1  # input_image; input_image_raw is not the editor's input
    assert set(setup.subsets) == set(SUBSETS)


def test_the_published_prompts_are_sent_verbatim(gedit, tmp_path):
    protocol = _protocol(_compose(tmp_path, "dataset=gedit_bench", f"dataset.path={gedit}"))
    sc, pq = protocol.calls
    sc_text = sc.prompt["user_prompt_template"].replace("{{instruction}}", "<instruction>")
    pq_text = pq.prompt["user_prompt_template"]
    assert hashlib.sha256(sc_text.encode()).hexdigest() == PUBLISHED_SC_SHA256
    assert hashlib.sha256(pq_text.encode()).hexdigest() == PUBLISHED_PQ_SHA256
    assert sc.prompt["system_prompt"] is None and pq.prompt["system_prompt"] is None


def test_dry_run_shows_two_calls_per_sample(gedit, tmp_path):
    run_dir = tmp_path / "dry"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "editbench",
            "experiment=demo",
            "tracking=none",
            "dataset=gedit_bench",
            f"dataset.path={gedit}",
            "dry_run=true",
            f"hydra.run.dir={run_dir}",
            *local_overrides(tmp_path),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=RUN_S,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    entries = [
        json.loads(line) for line in (run_dir / "judge_requests.jsonl").read_text().splitlines()
    ]
    assert len(entries) == 44
    by_sample: dict[str, list[dict]] = {}
    for entry in entries:
        by_sample.setdefault(entry["id"], []).append(entry)
    for calls in by_sample.values():
        assert [c["call"] for c in calls] == ["SC", "PQ"]
        sc, pq = ([p for m in c["messages"] for p in m["content"]] for c in calls)
        # SC: [source, edit, text]; PQ: [edit, text]; one user message, no system prompt.
        assert [p["type"] for p in sc] == ["image", "image", "text"]
        assert [p["type"] for p in pq] == ["image", "text"]
        assert all(len(c["messages"]) == 1 and c["messages"][0]["role"] == "user" for c in calls)
        source, edit = sc[0]["image"], sc[1]["image"]
        assert pq[0]["image"] == edit and source != edit
        # the edit is shown at the source's size
        with Image.open(source) as image:
            assert sc[1]["resize_to"] == pq[0]["resize_to"] == list(image.size)
        assert calls[0]["reply"] == "score_list" and calls[0]["scale"] == [0.0, 10.0]
        assert calls[0]["criteria"] == {"editing_success": "SC", "overediting": "SC"}
        assert calls[1]["criteria"] == {"naturalness": "PQ", "artifacts": "PQ"}
    sample = next(iter(by_sample))
    instruction = by_sample[sample][0]["messages"][0]["content"][-1]["text"]
    assert instruction.endswith(
        "Editing instruction: Place a shiny chrome ball on the table next to the vase.\n"
    )


def test_validation_lists_every_task_type_without_a_prompt(gedit, tmp_path):
    cfg = _compose(
        tmp_path,
        "experiment=demo",
        "dataset=gedit_bench",
        f"dataset.path={gedit}",
        "protocol=editbench",
    )
    with pytest.raises(EditbenchError) as raised:
        validate(cfg)
    message = str(raised.value)
    for task_type in ("background_change", "color_alter", "subject-add", "tone_transfer"):
        assert f"no prompt for category {task_type!r}" in message


def _rows(protocol: Protocol, samples, replies) -> list[dict]:
    rows = []
    for sample in samples:
        sc, pq = replies[sample.id]
        records = {
            "SC": {
                "status": "ok",
                "score": min(sc),
                "criteria": dict(zip(("editing_success", "overediting"), sc, strict=True)),
                "reply": "",
            },
            "PQ": {
                "status": "ok",
                "score": min(pq),
                "criteria": dict(zip(("naturalness", "artifacts"), pq, strict=True)),
                "reply": "",
            },
        }
        rows.append(
            {
                "id": sample.id,
                "category": sample.category,
                "extra": sample.extra,
                **sample_verdict(protocol, sample, records),
            }
        )
    return rows


def test_results_follow_gedits_statistics(gedit, tmp_path):
    cfg = _compose(tmp_path, "experiment=demo", "dataset=gedit_bench", f"dataset.path={gedit}")
    setup = validate(cfg)
    replies = {s.id: ((7 + i % 3, 9 - i % 2), (8, 6 + i % 4)) for i, s in enumerate(setup.samples)}
    rows = _rows(setup.protocol, setup.samples, replies)
    categories = list(dict.fromkeys(s.category for s in setup.samples))
    results = benchmark_results(rows, categories, "mean_of_categories", setup.subsets, 200, 0)

    # Per sample: SC = min of its two scores, PQ = min of its two, O = sqrt(SC * PQ).
    for row, sample in zip(rows, setup.samples, strict=True):
        (sc, pq) = replies[sample.id]
        assert row["criteria"]["SC"] == min(sc) and row["criteria"]["PQ"] == min(pq)
        assert row["score"] == pytest.approx(math.sqrt(min(sc) * min(pq)))
    # Every figure: each task type's mean, then the mean of the task types
    # (GEdit-Bench's calculate_statistics.py).
    for subset in SUBSETS:
        language, part = subset.split("/")
        members = [
            (s, r)
            for s, r in zip(setup.samples, rows, strict=True)
            if s.extra["instruction_language"] == language
            and (part == "fullset" or s.extra["Intersection_exist"])
        ]
        by_type: dict[str, list] = {}
        for sample, row in members:
            by_type.setdefault(sample.category, []).append(row)
        for name in ("SC", "PQ"):
            expected = sum(
                sum(r["criteria"][name] for r in type_rows) / len(type_rows)
                for type_rows in by_type.values()
            ) / len(by_type)
            assert results["subsets"][subset]["overall"]["criteria"][name] == pytest.approx(
                expected
            )
        expected_o = sum(
            sum(r["score"] for r in type_rows) / len(type_rows) for type_rows in by_type.values()
        ) / len(by_type)
        assert results["subsets"][subset]["overall"]["headline"] == pytest.approx(expected_o)
        assert results["subsets"][subset]["overall"]["ci95_headline"] is not None


@pytest.mark.slow
def test_end_to_end_with_the_demo_models(gedit, tmp_path):
    run_dir = tmp_path / "run"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "editbench",
            "experiment=demo",
            "tracking=none",
            "dataset=gedit_bench",
            f"dataset.path={gedit}",
            "scorer._target_=tests.scripted.ScriptedJudge",  # replies that parse
            "scorer.score_mode=generate",
            f"hydra.run.dir={run_dir}",
            *local_overrides(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_S,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["protocol"]["name"] == "viescore"
    assert results["overall"]["coverage"] == 1.0
    for stats in results["categories"].values():
        assert set(stats["criteria"]) >= {"SC", "PQ", "editing_success", "naturalness"}
    assert set(results["subsets"]) == set(SUBSETS)
    for name, subset in results["subsets"].items():
        overall = subset["overall"]
        # 11 cases per language; the even ones are in the intersection
        assert overall["n"] == (11 if name.endswith("fullset") else 6)
        assert overall["headline"] is not None and set(overall["criteria"]) >= {"SC", "PQ"}
    rows = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert all(row["status"] == "ok" and set(row["calls"]) == {"SC", "PQ"} for row in rows)
    assert "en/intersection" in (run_dir / "report.html").read_text()


def test_published_edits_are_judged_from_gedits_release_layout(gedit, tmp_path):
    cfg = _compose(tmp_path, "experiment=demo", "dataset=gedit_bench", f"dataset.path={gedit}")
    samples = validate(cfg).samples
    release = tmp_path / "results" / "fullset"
    for sample in samples[:-1]:
        folder = release / sample.category / sample.extra["instruction_language"]
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(sample.image, folder / f"{sample.extra['key']}.png")
        shutil.copy(sample.image, folder / f"{sample.extra['key']}_SRCIMG.png")  # as GEdit saves
    pattern = "editor.pattern='{task_type}/{instruction_language}/{key}.png'"
    cfg = _compose(
        tmp_path,
        "experiment=demo",
        "dataset=gedit_bench",
        f"dataset.path={gedit}",
        "editor=precomputed",
        f"editor.root={release}",
        pattern,
    )
    setup = validate(cfg)
    from editbench.store import Store

    plan = setup.plan(0, Store(tmp_path / "store"))
    with pytest.raises(EditbenchError) as raised:
        setup.editor.check([task.request for task in plan.edits])
    last = samples[-1]
    expected = f"{last.category}/{last.extra['instruction_language']}/{last.extra['key']}.png"
    assert f"{last.id!r}: no image; expected {expected}" in str(raised.value)
    assert "1 of 22 samples" in str(raised.value)
    edited = setup.editor.edit([task.request for task in plan.edits[:2]])
    assert len(edited) == 2
