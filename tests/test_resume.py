"""What a re-run redoes: only what is missing, torn, or failed for want of an answer."""

from __future__ import annotations

import json

from editbench.run import run
from editbench.store import Store

SMALL = ["experiment=demo", "tracking=none", "dataset.limit=2"]


def test_rerun_redoes_torn_edits_and_unreached_judgements_only(compose_config, tmp_path):
    cfg = compose_config(*SMALL)
    first = run(cfg, tmp_path / "first")
    assert first["work"] == {
        "edits_done": 2,
        "edits_reused": 0,
        "judgements_done": 2,
        "judgements_reused": 0,
    }
    rows = [
        json.loads(line) for line in (tmp_path / "first" / "samples.jsonl").read_text().splitlines()
    ]
    store = Store(tmp_path / "store")
    # A crash tore one edit's image; the endpoint could not be reached for one judgement.
    image = store.edit_image_path(rows[0]["edit_key"])
    image.write_bytes(image.read_bytes()[:100])
    judgement = store.judgement_path(rows[1]["judgement_key"])
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
    assert second["categories"] == first["categories"]
