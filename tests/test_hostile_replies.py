"""Hostile judge replies, for every request every shipped protocol makes: whatever a judge writes,
reading it gives a judgement of a known status, with a finite score on the request's scale only
when it is ok. A new protocol or reply format is covered by being shipped."""

from __future__ import annotations

import json
import math

import pytest
from omegaconf import DictConfig

from editbench.config.validate import validate
from editbench.judges.draws import read_reply
from editbench.records import JUDGE_STATUSES, OK, JudgeRequest
from editbench.sample_data import benchmarks
from editbench.store import Store

# dataset preset -> the key its folder goes under (None: the bundled sample, nothing to write)
PRESETS = {
    "sample": None,
    "gedit_bench": "path",
    "imgedit": "root",
    "kris_bench": "root",
    "rise_bench": "root",
}

HOSTILE_REPLIES = [
    "",
    " \n\t ",
    "Score:",
    "Score: nan",
    "Score: NaN",
    "Score: inf",
    "Score: -inf",
    "Score: 1e999",
    "Score: -3",
    "Score: 11",
    "Score: 10000000000000000000000000000000000",
    "Score: 7" * 5000,
    "Score: ７",  # a full-width digit
    "Score: 3\nScore: 9",
    "{",
    "[]",
    "null",
    '{"score": "seven"}',
    '{"score": [NaN, NaN]}',
    '{"score": [1e999, 1e999, 1e999]}',
    '{"score": [[1], [2]]}',
    '{"score": {"a": 1}}',
    '{"score": [true, false]}',
    '{"reasoning": "fine"}',
    '{"SC": "high", "PQ": null}',
    '{"SC": -1, "PQ": 99}',
    '{"' + "a" * 10_000 + '": 5}',
    "[" * 100_000,
    "\x00\x01\x02 Score: 5 \ud800",
    "<html><body>502 Bad Gateway</body></html>",
    "I cannot evaluate this image.",
    "Instruction following: 5\nQuality: nan\nOverall: ∞",
]


def requests_of(cfg: DictConfig, store: Store) -> list[JudgeRequest]:
    """One request of each reply shape the protocol asks for."""
    plan = validate(cfg).plan(cfg.seed, store)
    shapes: dict[str, JudgeRequest] = {}
    for task in plan.judgements:
        request = task.request
        shape = json.dumps([request.reply, request.criteria, list(request.scale), request.combine])
        shapes.setdefault(shape, request)
    return list(shapes.values())


@pytest.fixture(scope="module")
def protocol_requests(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, list[JudgeRequest]]:
    from hydra import compose, initialize_config_dir

    from .conftest import CONF, local_overrides

    tmp = tmp_path_factory.mktemp("hostile-replies")
    made = {}
    for preset, key in PRESETS.items():
        overrides = ["experiment=demo", "tracking=none", f"dataset={preset}"]
        if key is not None:
            overrides.append(f"dataset.{key}={benchmarks.write(preset, tmp / preset)}")
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose("config", overrides=[*local_overrides(tmp / preset), *overrides])
        made[preset] = requests_of(cfg, Store(tmp / preset / "store"))
    return made


def check(request: JudgeRequest, reply: str) -> None:
    judgement = read_reply(request, reply)
    assert judgement.status in JUDGE_STATUSES
    low, high = request.scale
    if judgement.status != OK:
        assert judgement.score is None
        return
    numbers = [judgement.score, *(judgement.criteria or {}).values()]
    for value in numbers:
        assert math.isfinite(value), (reply[:80], judgement)
    for value in (judgement.criteria or {}).values():
        assert low <= value <= high, (reply[:80], judgement)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_hostile_reply_reads_as_a_status_and_never_as_a_wrong_number(
    protocol_requests: dict[str, list[JudgeRequest]], preset: str
) -> None:
    requests = protocol_requests[preset]
    assert requests, preset
    for request in requests:
        for reply in HOSTILE_REPLIES:
            check(request, reply)


def test_the_presets_ask_for_every_reply_format(
    protocol_requests: dict[str, list[JudgeRequest]],
) -> None:
    formats = {request.reply for requests in protocol_requests.values() for request in requests}
    assert formats == {"score", "score_list", "lines", "json_object"}


@pytest.mark.parametrize("reply", ["Score: nan", "Score: inf", "Score: 11", "Score: -3"])
def test_a_single_score_off_the_scale_or_not_a_number_is_no_score(
    protocol_requests: dict[str, list[JudgeRequest]], reply: str
) -> None:
    request = next(r for r in protocol_requests["sample"] if r.reply == "score")
    assert read_reply(request, reply).status != OK
