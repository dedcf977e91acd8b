"""What a run's results cost: device-seconds of the edits and judgements, and an API judge's
tokens, latency and money, in results.json, the report and the MLflow metrics.

The API judge's own side (usage read from a real server's bodies, and from bodies that get it
wrong) is in ``tests/test_openai_judge.py``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from editbench.config.validate import validate
from editbench.errors import EditbenchError
from editbench.judges.openai_api import OpenAIJudge, check_price
from editbench.plan import EditTask, JudgeTask, Plan
from editbench.records import EditRequest, JudgeRequest, Sample
from editbench.results.report import write_report
from editbench.results.summary import cost, metrics
from editbench.run import run
from editbench.store import Store, content_hash
from editbench.store.schema import judgement_record_problem

DEMO = ["experiment=demo", "tracking=none", "dataset.limit=2"]
EDIT_KEYS = ("edit", "samples", "device_s", "device_s_per_sample", "device_s_per_1000")
JUDGE_KEYS = (
    "judgements",
    "device_s",
    "device_s_per_judgement",
    "device_s_per_1000",
    "prompt_tokens",
    "completion_tokens",
    "latency_s_mean",
    "money",
    "money_per_1000",
    "currency",
)
PRICE = {"prompt_per_million": 2.0, "completion_per_million": 8.0, "currency": "EUR"}


def test_a_demo_run_reports_device_seconds_and_no_tokens(compose_config, tmp_path: Path) -> None:
    results = run(compose_config(*DEMO), tmp_path / "first")
    written = json.loads((tmp_path / "first" / "results.json").read_text())
    assert written["cost"] == results["cost"]
    edit, judge = results["cost"]["edit"], results["cost"]["judge"]
    assert set(EDIT_KEYS[1:]) <= set(edit) and set(JUDGE_KEYS) <= set(judge)
    assert (edit["samples"], judge["judgements"]) == (2, 2)
    assert edit["device_s"] > 0 and judge["device_s"] > 0
    assert edit["device_s_per_sample"] == pytest.approx(edit["device_s"] / 2, abs=1e-4)
    assert edit["device_s_per_1000"] == pytest.approx(500 * edit["device_s"], abs=1e-3)
    assert judge["device_s_per_judgement"] == pytest.approx(judge["device_s"] / 2, abs=1e-4)
    assert judge["device_s_per_1000"] == pytest.approx(500 * judge["device_s"], abs=1e-3)
    # A local judge reports no usage: no tokens, no latency of requests, no money.
    for key in ("prompt_tokens", "completion_tokens", "latency_s_mean", "money", "currency"):
        assert judge[key] is None, key
    assert judge["money_per_1000"] is None

    logged = metrics(results)
    assert logged["cost/edit/device_s_per_sample"] == edit["device_s_per_sample"]
    assert logged["cost/judge/device_s"] == judge["device_s"]
    assert "cost/judge/money" not in logged and "cost/judge/currency" not in logged
    report = (tmp_path / "first" / "report.html").read_text()
    assert 'id="cost"' in report and "The judge reports no token usage." in report

    # Everything reused: the results, and so their cost, are the same.
    again = run(compose_config(*DEMO), tmp_path / "second")
    assert again["work"]["edits_done"] == again["work"]["judgements_done"] == 0
    assert again["cost"] == results["cost"]


def make_plan(tmp_path: Path, samples: int) -> Plan:
    """A plan of ``samples`` samples with one judge call each; only the keys matter here."""
    image = tmp_path / "source.png"
    Image.new("RGB", (16, 16)).save(image)
    plan = Plan([], [], [])
    for index in range(samples):
        sample_id = f"s{index}"
        edit_key = content_hash({"edit": sample_id})
        plan.samples.append(Sample(sample_id, "physical", "edit it", (str(image),)))
        request = EditRequest(sample_id, (str(image),), "edit it", seed=index)
        plan.edits.append(EditTask(edit_key, sample_id, request, source_sha256="0" * 64))
        plan.judgements.append(
            JudgeTask(
                content_hash({"judge": sample_id}),
                sample_id,
                "score",
                edit_key,
                JudgeRequest(messages=[]),
                prompt_sha256="0" * 64,
            )
        )
    return plan


def judgement(plan: Plan, index: int, **fields: Any) -> dict[str, Any]:
    return {
        "sample_id": plan.samples[index].id,
        "edit_key": plan.edits[index].key,
        "status": "ok",
        "score": 5.0,
        "reply": "Score: 5",
        **fields,
    }


def test_cost_sums_device_seconds_tokens_and_money_over_the_stored_records(
    tmp_path: Path,
) -> None:
    plan = make_plan(tmp_path, 4)
    store = Store(tmp_path / "store")
    edit = {"device": "cuda:0", "seconds": 2.0}
    for task in plan.edits[:3]:  # the fourth edit is not in the store: nothing is counted
        store.write_edit(task.key, Image.new("RGB", (4, 4)), {"sample_id": task.sample_id, **edit})
    usage = {"prompt_tokens": 1000, "completion_tokens": 50}
    records = [
        # a judge spread over two devices: its seconds count twice
        judgement(plan, 0, device="cuda:0,cuda:1", seconds=1.5),
        judgement(plan, 1, device="cpu", seconds=0.5, usage=usage, latency_s=0.25),
        judgement(plan, 2, device="cpu", seconds=0.5, usage=usage, latency_s=0.75),
        # an earlier editbench's record: no usage, no latency, no device or seconds
        {"status": "parse_error", "reply": "?", "sample_id": "s3"},
    ]
    for task, record in zip(plan.judgements, records, strict=True):
        store.write_judgement(task.key, record)

    edit_cost, judge_cost = cost(plan, store, PRICE).values()
    assert edit_cost == {
        "samples": 4,
        "edits": 3,
        "device_s": 6.0,
        "device_s_per_sample": 1.5,
        "device_s_per_1000": 1500.0,
    }
    money = (2000 * 2.0 + 100 * 8.0) / 1e6
    assert judge_cost == {
        "judgements": 4,
        "device_s": 4.0,
        "device_s_per_judgement": 1.0,
        "device_s_per_1000": 1000.0,
        "judgements_with_usage": 2,
        "prompt_tokens": 2000,
        "completion_tokens": 100,
        "prompt_tokens_per_judgement": 1000.0,
        "completion_tokens_per_judgement": 50.0,
        "latency_s_mean": 0.5,
        "money": pytest.approx(money),
        "money_per_judgement": pytest.approx(money / 2),
        "money_per_1000": pytest.approx(money * 250),
        "currency": "EUR",
    }
    # Without a price (null, or neither of its prices set): the tokens, and no money.
    for price in (None, {"prompt_per_million": None, "completion_per_million": None}):
        unpriced = cost(plan, store, price)["judge"]
        assert unpriced["prompt_tokens"] == 2000
        assert unpriced["money"] is unpriced["money_per_1000"] is unpriced["currency"] is None

    metric = metrics({**empty_results(), "cost": {"edit": edit_cost, "judge": judge_cost}})
    assert metric["cost/judge/money"] == pytest.approx(money)
    assert metric["cost/judge/prompt_tokens"] == 2000
    assert metric["cost/edit/device_s_per_1000"] == 1500.0
    assert "cost/judge/currency" not in metric


def test_the_report_shows_the_tokens_and_money(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, 2)
    store = Store(tmp_path / "store")
    for task in plan.judgements:
        usage = {"prompt_tokens": 1234, "completion_tokens": 56}
        store.write_judgement(
            task.key, {"status": "parse_error", "reply": "", "usage": usage, "latency_s": 0.4}
        )
    results = {**empty_results(), "cost": cost(plan, store, PRICE)}
    write_report(tmp_path / "report.html", [], results, title="t", details={})
    page = (tmp_path / "report.html").read_text()
    assert "2,468" in page and "112" in page  # the prompt and completion tokens in all
    assert "money (EUR)" in page and "0.00583" in page  # 2468 × 2 + 112 × 8, per million
    assert "Mean request latency 0.4 s" in page


def empty_results() -> dict[str, Any]:
    """results.json of a run of no samples, as far as the metrics and the report read it."""
    overall = {
        "n": 0,
        "judged": 0,
        "coverage": 0.0,
        "mean_of_categories": None,
        "sample_mean": None,
        "ci95_mean_of_categories": None,
    }
    return {"categories": {}, "overall": overall, "work": {}, "timing": {}, "throughput": {}}


@pytest.mark.parametrize(
    ("price", "message"),
    [
        (
            {"prompt_per_million": -1.0, "completion_per_million": 8.0},
            "price.prompt_per_million=-1.0; expected a finite number >= 0",
        ),
        (
            {"prompt_per_million": 2.0, "completion_per_million": math.nan},
            "price.completion_per_million=nan; expected a finite number >= 0",
        ),
        (
            {"prompt_per_million": math.inf, "completion_per_million": 8.0},
            "price.prompt_per_million=inf; expected",
        ),
        (
            {"prompt_per_million": "2", "completion_per_million": 8.0},
            "price.prompt_per_million='2'; expected",
        ),
        (
            {"prompt_per_million": True, "completion_per_million": 8.0},
            "price.prompt_per_million=True; expected",
        ),
        (
            {"prompt_per_million": 2.0, "completion_per_million": None},
            "price.completion_per_million=None; expected a finite number >= 0, the price of a "
            "million completion tokens (set both prices, or neither)",
        ),
        (
            {"prompt_per_million": 2.0, "completion_per_million": 8.0, "currency": " "},
            "price.currency=' '; expected a currency's name",
        ),
        (2.0, "price=2.0; expected null or {prompt_per_million"),
    ],
)
def test_a_bad_price_is_named(price: Any, message: str) -> None:
    with pytest.raises(EditbenchError) as raised:
        check_price(price)
    assert message in str(raised.value)
    with pytest.raises(EditbenchError, match="price"):
        OpenAIJudge("http://127.0.0.1:8000/v1", "judge", price=price)


def test_a_price_is_checked_before_any_model_loads(compose_config) -> None:
    api = ["experiment=demo", "scorer=openai_api", "scorer.api_key_env=null"]
    prices = ["scorer.price.prompt_per_million=nan", "scorer.price.completion_per_million=1"]
    with pytest.raises(EditbenchError) as raised:
        validate(compose_config(*api, *prices))
    assert "price.prompt_per_million=nan; expected a finite number >= 0" in str(raised.value)
    with pytest.raises(EditbenchError, match=r"price.completion_per_million=None; .*neither"):
        validate(compose_config(*api, "scorer.price.prompt_per_million=2"))
    priced = validate(compose_config(*api, "scorer.price.prompt_per_million=2", prices[1]))
    assert priced.judge_config["price"] == {
        "prompt_per_million": 2.0,
        "completion_per_million": 1.0,
        "currency": "USD",
    }


def test_a_price_changes_no_judgement_key() -> None:
    url = "http://127.0.0.1:8000/v1"
    priced = OpenAIJudge(url, "judge", price=PRICE)
    assert priced.fingerprint() == OpenAIJudge(url, "judge").fingerprint()


USAGE = {"prompt_tokens": 10, "completion_tokens": 2}


@pytest.mark.parametrize(
    "fields",
    [
        {},  # an earlier editbench's record
        {"usage": None, "latency_s": None},  # a local judge's
        {"usage": USAGE, "latency_s": 0.0},
        {"usage": {**USAGE, "total_tokens": 12}, "latency_s": 1.5},
    ],
)
def test_a_judgement_with_or_without_usage_is_valid(fields: dict[str, Any]) -> None:
    record = {"status": "ok", "score": 5.0, "reply": "Score: 5", **fields}
    assert judgement_record_problem(record, "k") is None


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"usage": {"prompt_tokens": -1, "completion_tokens": 2}}, "usage is {'prompt_tokens': -1"),
        ({"usage": {"prompt_tokens": 10}}, "usage is {'prompt_tokens': 10}; expected null or"),
        ({"usage": {**USAGE, "prompt_tokens": "10"}}, "usage is"),
        ({"usage": {**USAGE, "prompt_tokens": 1.5}}, "usage is"),
        ({"usage": {**USAGE, "prompt_tokens": True}}, "usage is"),
        ({"usage": {**USAGE, "prompt_tokens": 2**53}}, "usage is"),
        ({"usage": [10, 2]}, "usage is [10, 2]; expected null or an object"),
        ({"latency_s": -0.5}, "latency_s is -0.5; expected a finite number of seconds >= 0"),
        ({"latency_s": "fast"}, "latency_s is 'fast'"),
        ({"latency_s": True}, "latency_s is True"),
    ],
)
def test_a_judgement_with_a_damaged_usage_is_refused(fields: dict[str, Any], problem: str) -> None:
    record = {"status": "ok", "score": 5.0, "reply": "Score: 5", **fields}
    assert problem in judgement_record_problem(record, "k")
