"""dry_run=true: everything is validated and rendered, nothing is loaded, edited or judged."""

from __future__ import annotations

import json

from editbench.run import run


def test_dry_run_renders_every_judge_request_and_loads_nothing(compose_config, tmp_path):
    cfg = compose_config("experiment=demo", "dry_run=true", "prompts/causal=v2")
    summary = run(cfg, tmp_path / "run")
    assert summary == {
        "dry_run": True,
        "samples": 10,
        "edits_to_do": 10,
        "edits_reused": 0,
        "judgements_to_do": 10,
        "judgements_reused": 0,
    }
    folder = tmp_path / "run"
    requests = [
        json.loads(line) for line in (folder / "judge_requests.jsonl").read_text().splitlines()
    ]
    assert len(requests) == 10
    causal = next(r for r in requests if r["category"] == "causal")
    assert causal["reasoning_first"] is True
    system, user = causal["messages"]
    assert system["role"] == "system" and system["content"][0]["type"] == "text"
    assert [part["type"] for part in user["content"]] == ["text", "image", "text", "image", "text"]
    page = (folder / "judge_requests.html").read_text()
    assert all(r["id"] in page for r in requests)
    assert page.count("data:image/jpeg;base64,") == 10  # the sources; no edit exists yet
    assert "edit not made yet" in page
    assert not (tmp_path / "store").exists()
    assert not list(folder.glob("*-[0-9].log"))  # no worker was started
    assert not (tmp_path / "mlflow.db").exists()
