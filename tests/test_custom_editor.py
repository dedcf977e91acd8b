"""Your own editor: the complete example of docs/editors.md, run through the CLI as the page
says."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT, local_overrides

# A hang guard, about ten times the run's normal time on an idle 2-core machine.
RUN_S = 600


def _example(tmp_path: Path) -> Path:
    """The page's example module, written where the page's command expects it."""
    page = (ROOT / "docs" / "editors.md").read_text()
    (code,) = re.findall(r"```python\n# mirror_editor\.py\n(.*?)```", page, re.S)
    (tmp_path / "mirror_editor.py").write_text(code)
    return tmp_path


def test_the_documented_editor_runs_end_to_end(tmp_path: Path) -> None:
    folder = _example(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)])}
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "editbench",
            "experiment=demo",
            "tracking=none",
            "editor=custom",
            "editor._target_=mirror_editor.MirrorEditor",
            "+editor.strength=0.5",
            "dataset.limit=3",
            f"hydra.run.dir={run_dir}",
            *local_overrides(tmp_path),
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_S,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(Path(row["edited_image"]).is_file() for row in rows)
    store_record = json.loads(Path(rows[0]["edited_image"]).with_suffix(".json").read_text())
    assert "mirror-example" in json.dumps(store_record)


def test_a_bad_setting_of_the_documented_editor_stops_before_any_model_loads(
    tmp_path: Path,
) -> None:
    folder = _example(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)])}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "editbench",
            "experiment=demo",
            "tracking=none",
            "editor=custom",
            "editor._target_=mirror_editor.MirrorEditor",
            "+editor.strength=3",
            f"hydra.run.dir={tmp_path / 'run'}",
            *local_overrides(tmp_path),
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_S,
    )
    assert result.returncode == 2
    assert "strength=3; expected 0 to 1" in result.stderr
    assert "Traceback" not in result.stderr
