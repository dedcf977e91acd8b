"""What a re-run redoes: only what is missing, torn, or failed for want of an answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from editbench.run import run
from editbench.store import Store

SMALL = ["experiment=demo", "tracking=none", "dataset.limit=2"]
# What a judgement gives; the rest of a sample's row says what was judged.
SCORED = ("score", "distribution", "entropy")
# Computed from the scores; the rest of a category's summary counts samples.
STATISTICS = ("mean", "std", "min", "max", "ci95")


def sample_rows(output_dir: Path) -> dict[str, dict[str, Any]]:
    lines = (output_dir / "samples.jsonl").read_text().splitlines()
    return {row["id"]: row for row in map(json.loads, lines)}


def test_rerun_redoes_torn_edits_and_unreached_judgements_only(compose_config, tmp_path):
    cfg = compose_config(*SMALL)
    first = run(cfg, tmp_path / "first")
    assert first["work"] == {
        "edits_done": 2,
        "edits_reused": 0,
        "judgements_done": 2,
        "judgements_reused": 0,
    }
    torn, unreached = sample_rows(tmp_path / "first").values()
    store = Store(tmp_path / "store")
    # A crash tore one edit's image; the endpoint could not be reached for one judgement.
    image = store.edit_image_path(torn["edit_key"])
    image.write_bytes(image.read_bytes()[:100])
    judgement = store.judgement_path(unreached["judgement_key"])
    record = json.loads(judgement.read_text())
    judgement.write_text(
        json.dumps({**record, "status": "api_error", "score": None, "error": "503"})
    )

    second = run(cfg, tmp_path / "second")
    # the torn edit is redone, so its judgement (keyed by the edit) is read back as before
    assert second["work"] == {
        "edits_done": 1,
        "edits_reused": 1,
        "judgements_done": 1,
        "judgements_reused": 1,
    }
    assert second["overall"]["judged"] == 2
    rows = sample_rows(tmp_path / "second")
    # The torn edit was made again: the same pixels, so its judgement is read back from the
    # store bit for bit; only the time its making took is the redo's own.
    remade = rows[torn["id"]]
    assert remade["edit_device_s"] > 0
    assert {k: v for k, v in remade.items() if k != "edit_device_s"} == {
        k: v for k, v in torn.items() if k != "edit_device_s"
    }
    # Judged again, in a batch of its own: the same up to the rounding a batch brings.
    redone = rows[unreached["id"]]
    assert {k: v for k, v in redone.items() if k not in SCORED} == {
        k: v for k, v in unreached.items() if k not in SCORED
    }
    for field in SCORED:
        assert redone[field] == pytest.approx(unreached[field], abs=1e-6), field
    assert second["categories"].keys() == first["categories"].keys()
    for name, summary in first["categories"].items():
        again = second["categories"][name]
        assert {k: v for k, v in again.items() if k not in STATISTICS} == {
            k: v for k, v in summary.items() if k not in STATISTICS
        }
        for field in STATISTICS:
            assert again[field] == pytest.approx(summary[field], abs=1e-6), (name, field)
