"""Each editor preset end to end on the CPU, as a user runs it on the preset's tiny twin:
``python -m editbench experiment=demo editor=<preset> "editor.model=${tiny_model:<preset>}"``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import local_overrides

# A hang guard, far above the slowest preset's normal time on an idle 2-core machine.
RUN_S = 600
# Every preset's settings but its step count (InstructPix2Pix's reference is 100): the test is
# about the preset's code path, and the steps would make it minutes per preset.
STEPS = 4


def editbench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "editbench", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=RUN_S,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "preset",
    [
        "flux_kontext",
        "instruct_pix2pix",
        "instruct_pix2pix_xl",
        "longcat_image_edit",
        "flux2_klein",
    ],
)
def test_the_preset_edits_and_judges_on_its_tiny_twin(preset: str, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = editbench(
        "experiment=demo",
        "tracking=none",
        f"editor={preset}",
        f"editor.model=${{tiny_model:{preset}}}",
        f"editor.call.num_inference_steps={STEPS}",
        "dataset.limit=2",  # the path, not the count: the demo's ten take minutes per preset
        f"hydra.run.dir={run_dir}",
        *local_overrides(tmp_path),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert Path(row["edited_image"]).is_file()
        assert row["status"] == "ok"
    config = (run_dir / "config.yaml").read_text()
    assert f"num_inference_steps: {STEPS}" in config


def test_a_setting_the_pipeline_does_not_take_stops_the_run_before_anything_loads(
    tmp_path: Path,
) -> None:
    result = editbench(
        "experiment=demo",
        "tracking=none",
        "editor=flux_kontext",
        "editor.model=/nowhere",  # never read: the check comes first
        "+editor.call.no_such_setting=3",
        f"hydra.run.dir={tmp_path / 'run'}",
        *local_overrides(tmp_path),
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "editor.call.no_such_setting: FluxKontextPipeline.__call__ takes no such setting" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "store" / "edits").exists()
