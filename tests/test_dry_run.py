"""dry_run=true: everything is validated and rendered, nothing is loaded, edited or judged."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from editbench.run import run


def test_dry_run_renders_every_judge_request_and_loads_nothing(compose_config, tmp_path):
    cfg = compose_config("experiment=demo", "dry_run=true", "prompts/causal=v2")
    summary = run(cfg, tmp_path / "run")
    assert summary == {
        "dry_run": True,
        "samples": 10,
        "judge_calls": 10,
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
    assert {r["call"] for r in requests} == {"score"}
    assert {(r["reply"], tuple(r["scale"])) for r in requests} == {("score", (0.0, 10.0))}
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


def test_dry_run_of_a_protocol_of_several_calls(compose_config, tmp_path):
    cfg = compose_config("experiment=demo", "dry_run=true", "protocol=viescore")
    summary = run(cfg, tmp_path / "run")
    assert (summary["samples"], summary["judge_calls"], summary["edits_to_do"]) == (10, 20, 10)
    assert summary["judgements_to_do"] == 20
    requests = [
        json.loads(line)
        for line in (tmp_path / "run" / "judge_requests.jsonl").read_text().splitlines()
    ]
    assert [r["call"] for r in requests] == ["SC", "PQ"] * 10
    for first, second in zip(requests[::2], requests[1::2], strict=True):
        assert first["id"] == second["id"] and first["edit_key"] == second["edit_key"]
        assert first["judgement_key"] != second["judgement_key"]
    sc, pq = requests[:2]
    assert (sc["reply"], pq["reply"]) == ("score_list", "score_list")
    (user,) = sc["messages"]  # the published prompt is the user's whole message
    images = [part for part in user["content"] if part["type"] == "image"]
    assert [Path(part["image"]).name for part in images] == [
        f"{sc['id']}.png",  # the sample's source, then the edit it will get
        f"{sc['edit_key']}.png",
    ]
    assert "resize_to" not in images[0]
    with Image.open(images[0]["image"]) as source:
        assert images[1]["resize_to"] == list(source.size)  # shown at the source's size
    (pq_user,) = pq["messages"]
    assert [part["type"] for part in pq_user["content"]].count("image") == 1  # the edit alone
