"""The OpenAI-API judge against real servers on 127.0.0.1, through the real ``openai`` client.

- ``transformers serve`` running the tiny Qwen3-VL judge (a subprocess, once per module):
  generate mode end to end with images, expected mode, for which that server returns no
  logprobs, and a whole run priced by its token usage.
- A scripted server (``http.server`` in a thread) speaking the same protocol, with the replies
  and failures each test chooses: errors that pass or persist, content filter, refusals, known
  logprobs, token usage right and wrong, slow replies, and raw bytes that are no chat
  completion (``tests/test_hostile_api.py``). It records every request with its headers, and
  how many ran at once.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import math
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from editbench.errors import EditbenchError, RunIncomplete
from editbench.judges.openai_api import EXPECTED_REPLY_TOKENS, PLACEHOLDER_KEY, OpenAIJudge
from editbench.judges.parsing import parse_score
from editbench.records import (
    API_ERROR,
    CONTENT_FILTER,
    OK,
    PARSE_ERROR,
    REFUSAL,
    JudgeRequest,
)
from editbench.run import run
from editbench.store import Store
from editbench.tiny import ensure_tiny_model

# Hang guards, ten times the normal time on an idle 2-core machine (30 s at least).
HANG_S = 30  # for a wait that takes milliseconds
SERVE_READY_S = 70  # transformers serve of the tiny judge answers /health after 7 s

KEY_ENV = "EDITBENCH_TEST_JUDGE_KEY"
SECRET = "sk-editbench-test-7f3a9c2e51d4"  # recognisable, so any leak is found by search


@dataclass(frozen=True)
class Raw:
    """A response body sent as these bytes, with these headers, rather than as JSON."""

    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)  # over Content-Type and -Length


# The status and body of an answer: a JSON value, or Raw bytes.
Answer = Callable[[dict[str, Any], int], tuple[int, Any]]


class ScriptedServer:
    """A chat completions server whose ``answer(body, attempt)`` gives each HTTP status and
    body (a JSON value or :class:`Raw` bytes); ``attempt`` counts requests from 1."""

    def __init__(self, answer: Answer, delay_s: float = 0.0) -> None:
        self.answer = answer
        self.delay_s = delay_s
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def seeds(self) -> list[int]:
        return [body["seed"] for body in self.bodies]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with server.lock:
                server.bodies.append(body)
                server.headers.append({k.lower(): v for k, v in self.headers.items()})
                attempt = len(server.bodies)
                server.in_flight += 1
                server.max_in_flight = max(server.max_in_flight, server.in_flight)
            try:
                time.sleep(server.delay_s)
                status, payload = server.answer(body, attempt)
            finally:
                with server.lock:
                    server.in_flight -= 1
            raw = payload if isinstance(payload, Raw) else Raw(json.dumps(payload).encode())
            headers = {"Content-Type": raw.content_type, "Content-Length": str(len(raw.body))}
            self.send_response(status)
            for name, value in {**headers, **raw.headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw.body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads the server's records, not its log."""

    return Handler


def completion(
    content: str | None,
    finish_reason: str = "stop",
    refusal: str | None = None,
    logprobs: list[dict[str, Any]] | None = None,
) -> tuple[int, dict[str, Any]]:
    """A 200 answer with one choice."""
    choice = {
        "index": 0,
        "finish_reason": finish_reason,
        "message": {"role": "assistant", "content": content, "refusal": refusal},
        "logprobs": None if logprobs is None else {"content": logprobs},
    }
    body = {"id": "c-1", "object": "chat.completion", "created": 0, "model": "judge"}
    return 200, {**body, "choices": [choice]}


def with_usage(answer: tuple[int, dict[str, Any]], usage: Any) -> tuple[int, dict[str, Any]]:
    """``answer`` whose body counts its tokens as ``usage``."""
    status, body = answer
    return status, {**body, "usage": usage}


def error(status: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"message": message, "type": "server_error", "code": status}}


def token(text: str | bytes, top: dict[str, float] | None = None) -> dict[str, Any]:
    """One reply token (bytes for part of a character) and its top alternatives' probabilities."""
    raw = text if isinstance(text, bytes) else text.encode()
    name = raw.decode("utf-8", errors="replace")
    top = top or {name: 1.0}
    return {
        "token": name,
        "bytes": list(raw),
        "logprob": math.log(top.get(name, 1e-6)),
        "top_logprobs": [
            {"token": t, "bytes": list(t.encode()), "logprob": math.log(p)} for t, p in top.items()
        ],
    }


@pytest.fixture
def serve() -> Iterator[Callable[..., ScriptedServer]]:
    """``serve(answer, delay_s=0)`` starts a scripted server, closed after the test."""
    servers: list[ScriptedServer] = []

    def start(answer: Answer, delay_s: float = 0.0) -> ScriptedServer:
        servers.append(ScriptedServer(answer, delay_s))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def requests(tmp_path: Path) -> list[JudgeRequest]:
    """Two conversations in the shape the prompts render: source, edit, instruction."""
    Image.new("RGB", (200, 120), (220, 30, 30)).save(tmp_path / "source.png")
    Image.new("RGB", (64, 300), (30, 200, 60)).save(tmp_path / "edit.png")

    def conversation(instruction: str) -> JudgeRequest:
        images = [{"type": "image", "image": str(tmp_path / n)} for n in ("source.png", "edit.png")]
        return JudgeRequest(
            messages=[
                {"role": "system", "content": [{"type": "text", "text": "You rate image edits."}]},
                {
                    "role": "user",
                    "content": [*images, {"type": "text", "text": f"{instruction} Score: X"}],
                },
            ]
        )

    return [conversation("Make the sky red."), conversation("Add a tree on the left.")]


def loaded(base_url: str, model: str = "judge", **options: Any) -> OpenAIJudge:
    """A loaded judge that sends no key, and retries nothing unless asked."""
    judge = OpenAIJudge(base_url, model, **{"api_key_env": None, "max_retries": 0, **options})
    judge.load(["cpu"])
    return judge


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def transformers_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """``transformers serve`` of the tiny judge on the CPU: (base URL, model name)."""
    model = ensure_tiny_model("qwen3_vl")
    port = free_port()
    log_path = tmp_path_factory.mktemp("transformers-serve") / "serve.log"
    # Offline, and without the CLI's look-up of a newer release: the test talks to 127.0.0.1 only.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1"}
    command = [sys.executable, "-m", "transformers.cli.transformers", "serve", model]
    command += ["--device", "cpu", "--host", "127.0.0.1", "--port", str(port)]
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + SERVE_READY_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"transformers serve exited:\n{log_path.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"transformers serve not ready:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/v1", model
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_generate_mode_end_to_end_on_transformers_serve(
    transformers_serve: tuple[str, str], requests: list[JudgeRequest]
) -> None:
    base_url, model = transformers_serve
    judge = loaded(base_url, model=model, max_tokens=12)
    judgements = judge.score(requests)
    assert len(judgements) == len(requests)
    # Greedy at temperature 0, and each reply the same whatever the order of the requests.
    assert [j.reply for j in judge.score(requests[::-1])] == [j.reply for j in judgements[::-1]]
    for judgement in judgements:
        assert judgement.reply  # the raw reply is kept, whatever its fate
        assert judgement.score == parse_score(judgement.reply)
        assert judgement.distribution is None
        assert judgement.status == (PARSE_ERROR if judgement.score is None else OK)
        if judgement.status == PARSE_ERROR:
            assert judgement.error.startswith("the reply states no certain score")


def test_a_run_through_transformers_serve_reports_its_tokens_and_money(
    transformers_serve: tuple[str, str], compose_config: Callable[..., Any], tmp_path: Path
) -> None:
    base_url, model = transformers_serve
    prompt_price, completion_price = 3.0, 15.0
    cfg = compose_config(
        "experiment=demo",
        "dataset.limit=2",
        "scorer=openai_api",
        f"scorer.base_url={base_url}",
        f"scorer.model={model}",
        "scorer.api_key_env=null",
        "scorer.max_tokens=12",
        "scorer.max_retries=0",
        f"scorer.price.prompt_per_million={prompt_price}",
        f"scorer.price.completion_per_million={completion_price}",
        "tracking=mlflow",
    )
    # The tiny judge's random weights need not write a score (judging none, the run says it is
    # incomplete); every output is written all the same, and every request was paid for.
    with contextlib.suppress(RunIncomplete):
        run(cfg, tmp_path / "run")

    results = json.loads((tmp_path / "run" / "results.json").read_text())
    judge = results["cost"]["judge"]
    assert judge["judgements"] == judge["judgements_with_usage"] == 2
    assert judge["prompt_tokens"] > 0 and judge["completion_tokens"] > 0
    assert judge["money"] == pytest.approx(
        (judge["prompt_tokens"] * prompt_price + judge["completion_tokens"] * completion_price)
        / 1e6
    )
    assert judge["money_per_1000"] == pytest.approx(judge["money"] * 500)
    assert judge["currency"] == "USD"
    assert judge["latency_s_mean"] > 0 and judge["device_s"] > 0
    assert results["cost"]["edit"]["device_s"] > 0
    # Each judgement keeps the server's own count: the tiny judge's replies run to max_tokens
    # at most.
    rows = [json.loads(line) for line in (tmp_path / "run" / "samples.jsonl").open()]
    stored = [Store(tmp_path / "store").read_judgement(row["judgement_key"]) for row in rows]
    assert all(0 < record["usage"]["completion_tokens"] <= 12 for record in stored)
    assert sum(record["usage"]["prompt_tokens"] for record in stored) == judge["prompt_tokens"]
    assert "money (USD)" in (tmp_path / "run" / "report.html").read_text()

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("editbench")
    (logged,) = client.search_runs([experiment.experiment_id])
    assert logged.data.metrics["cost/judge/money"] == pytest.approx(judge["money"])
    assert logged.data.metrics["cost/judge/prompt_tokens"] == judge["prompt_tokens"]
    assert "cost/edit/device_s_per_sample" in logged.data.metrics


def test_expected_mode_on_a_server_without_logprobs_is_a_parse_error(
    transformers_serve: tuple[str, str], requests: list[JudgeRequest]
) -> None:
    base_url, model = transformers_serve
    for judgement in loaded(base_url, model=model, score_mode="expected").score(requests):
        assert judgement.status == PARSE_ERROR
        assert judgement.error == "server returned no logprobs"
        assert judgement.score is None and judgement.distribution is None
        assert judgement.reply


QWEN_TEN = (  # "Score: 10" in Qwen's digit-by-digit tokens, unsure between 1, 7, 8 and 10
    "Score: 10",
    [
        token("Score"),
        token(":"),
        token(" "),
        token("1", {"1": 0.5, "7": 0.3, "8": 0.2}),
        token("0", {"0": 0.6, ".": 0.4}),  # p("0" | "1"): 0.3 of the 0.5 is 10
    ],
    {1: 0.2, 7: 0.3, 8: 0.2, 10: 0.3},
)
QWEN_SEVEN = (  # after another digit p("0" | "1") is not observed: "1" reads as 1
    "Score: 7",
    [
        token("Score"),
        token(":"),
        token(" "),
        token("7", {"7": 0.5, "8": 0.25, "1": 0.05, "x": 0.2}),  # "x" is no score: left out
    ],
    {1: 0.0625, 7: 0.625, 8: 0.3125},
)
OPENAI_REASONING = (  # reasoning first; numbers are single tokens with their leading space
    "Clean edit.\nScore: 8",
    [
        token("Clean"),
        token(" edit"),
        token(".\n"),
        token("Score"),
        token(":"),
        token(" 8", {" 8": 0.7, " 10": 0.2, " 9": 0.1}),
    ],
    {8: 0.7, 9: 0.1, 10: 0.2},
)
BARE_NUMBER = ("6", [token("6", {"6": 0.75, "5": 0.25})], {5: 0.25, 6: 0.75})
# A full-width prefix in byte-level tokens: one token ends inside a character.
FULL_WIDTH_BYTES = "评分：4".encode()
FULL_WIDTH = (
    "评分：4",
    [token(FULL_WIDTH_BYTES[:2]), token(FULL_WIDTH_BYTES[2:9]), token("4", {"4": 0.9, "3": 0.1})],
    {3: 0.1, 4: 0.9},
)


@pytest.mark.parametrize(
    ("reply", "tokens", "expected", "prefix", "reasoning_first"),
    [
        (*QWEN_TEN, "Score:", False),
        (*QWEN_SEVEN, "Score:", False),
        (*OPENAI_REASONING, "Score:", True),
        (*BARE_NUMBER, "Score:", False),
        (*FULL_WIDTH, "评分：", False),
    ],
    ids=["qwen-10", "qwen-7", "openai-reasoning-first", "bare-number", "full-width-bytes"],
)
def test_expected_mode_reads_the_distribution_at_the_score(
    serve: Callable[..., ScriptedServer],
    requests: list[JudgeRequest],
    reply: str,
    tokens: list[dict[str, Any]],
    expected: dict[int, float],
    prefix: str,
    reasoning_first: bool,
) -> None:
    server = serve(lambda body, attempt: completion(reply, logprobs=tokens))
    request = replace(requests[0], score_prefix=prefix, reasoning_first=reasoning_first)
    (judgement,) = loaded(server.base_url, score_mode="expected", top_logprobs=5).score([request])

    assert judgement.status == OK and judgement.reply == reply
    assert judgement.distribution == pytest.approx([expected.get(s, 0.0) for s in range(11)])
    assert sum(judgement.distribution) == pytest.approx(1.0)
    assert judgement.score == pytest.approx(sum(s * p for s, p in expected.items()))
    entropy = -sum(p * math.log(p) for p in expected.values())
    assert judgement.entropy == pytest.approx(entropy)
    (body,) = server.bodies
    assert (body["logprobs"], body["top_logprobs"]) == (True, 5)
    assert body["max_tokens"] == (512 if reasoning_first else EXPECTED_REPLY_TOKENS)


@pytest.mark.parametrize(
    ("reply", "tokens", "reasoning_first", "error"),
    [
        ("Looks fine.", [token("Looks"), token(" fine.")], True, "never wrote the score prefix"),
        ("Score: high", [token("Score"), token(":"), token(" high")], False, "' high' where"),
        ("Score:", [token("Score"), token(":")], False, "ends before its score"),
    ],
)
def test_expected_mode_without_a_readable_score_is_a_parse_error(
    serve: Callable[..., ScriptedServer],
    requests: list[JudgeRequest],
    reply: str,
    tokens: list[dict[str, Any]],
    reasoning_first: bool,
    error: str,
) -> None:
    server = serve(lambda body, attempt: completion(reply, logprobs=tokens))
    request = replace(requests[0], reasoning_first=reasoning_first)
    (judgement,) = loaded(server.base_url, score_mode="expected").score([request])
    assert (judgement.status, judgement.reply, judgement.score) == (PARSE_ERROR, reply, None)
    assert error in judgement.error


def test_transient_errors_are_retried_until_the_reply(
    serve: Callable[..., ScriptedServer], requests: list[JudgeRequest]
) -> None:
    failures = {1: error(429, "slow down"), 2: error(500, "overloaded")}
    server = serve(lambda body, attempt: failures.get(attempt) or completion("Score: 7"))
    (judgement,) = loaded(server.base_url, max_retries=3).score(requests[:1])
    assert (judgement.status, judgement.score) == (OK, 7.0)
    assert len(server.bodies) == 3  # counted by the server: two failures, then the answer
    assert [h["x-stainless-retry-count"] for h in server.headers] == ["0", "1", "2"]


def test_a_failure_that_persists_is_an_api_error(
    serve: Callable[..., ScriptedServer], requests: list[JudgeRequest]
) -> None:
    server = serve(lambda body, attempt: error(500, "the judge is down"))
    (judgement,) = loaded(server.base_url, max_retries=1).score(requests[:1])
    assert (judgement.status, judgement.score, judgement.reply) == (API_ERROR, None, "")
    assert "InternalServerError" in judgement.error and "the judge is down" in judgement.error
    assert len(server.bodies) == 2


def test_each_judgement_keeps_its_token_usage_and_latency(
    serve: Callable[..., ScriptedServer], requests: list[JudgeRequest]
) -> None:
    usage = {"prompt_tokens": 812, "completion_tokens": 9, "total_tokens": 821}
    server = serve(lambda body, attempt: with_usage(completion("Score: 7"), usage), delay_s=0.05)
    judgements = loaded(server.base_url).score(requests)
    for judgement in judgements:
        assert (judgement.status, judgement.score) == (OK, 7.0)
        assert judgement.usage == {"prompt_tokens": 812, "completion_tokens": 9}
        assert judgement.latency_s >= 0.05


def test_repeated_judging_sums_the_usage_and_latency_of_its_draws(
    serve: Callable[..., ScriptedServer], requests: list[JudgeRequest]
) -> None:
    # The second draw fails and counts no tokens; its time is spent all the same.
    answers = {
        1: with_usage(completion("Score: 8"), {"prompt_tokens": 100, "completion_tokens": 5}),
        2: error(500, "overloaded"),
        3: with_usage(completion("Score: 6"), {"prompt_tokens": 100, "completion_tokens": 7}),
    }
    server = serve(lambda body, attempt: answers[attempt], delay_s=0.05)
    judge = loaded(server.base_url, num_samples=3, temperature=0.7, max_concurrency=1)
    (judgement,) = judge.score(requests[:1])
    assert (judgement.status, judgement.score) == (OK, 7.0)
    assert judgement.usage == {"prompt_tokens": 200, "completion_tokens": 12}
    assert judgement.latency_s >= 0.15


def test_a_failed_request_has_its_latency_and_no_usage(
    serve: Callable[..., ScriptedServer], requests: list[JudgeRequest]
) -> None:
    server = serve(lambda body, attempt: error(503, "busy"), delay_s=0.05)
    (judgement,) = loaded(server.base_url).score(requests[:1])
    assert (judgement.status, judgement.usage) == (API_ERROR, None)
    assert judgement.latency_s >= 0.05


@pytest.mark.parametrize(
    ("usage", "problem"),
    [
        ("missing", None),
        (None, None),
        ({"prompt_tokens": -3, "completion_tokens": 9}, "usage.prompt_tokens is a number (-3)"),
        ({"prompt_tokens": "812", "completion_tokens": 9}, "usage.prompt_tokens is a string"),
        (
            {"prompt_tokens": math.nan, "completion_tokens": 9},
            "usage.prompt_tokens is a number (nan)",
        ),
        (
            {"prompt_tokens": 812, "completion_tokens": 9.5},
            "usage.completion_tokens is a number (9.5)",
        ),
        ({"prompt_tokens": 812, "completion_tokens": True}, "usage.completion_tokens is a boolean"),
        ({"prompt_tokens": 2**53, "completion_tokens": 9}, "usage.prompt_tokens is a number"),
        ({"prompt_tokens": 812}, "usage.completion_tokens is missing"),
        ([812, 9], "usage is a list; expected an object"),
        ("812 tokens", "usage is a string; expected an object"),
    ],
    ids=[
        "missing",
        "null",
        "negative",
        "string",
        "nan",
        "fraction",
        "boolean",
        "huge",
        "incomplete",
        "list",
        "text",
    ],
)
def test_a_usage_that_is_missing_or_wrong_leaves_the_verdict_and_no_usage(
    serve: Callable[..., ScriptedServer],
    requests: list[JudgeRequest],
    caplog: pytest.LogCaptureFixture,
    usage: Any,
    problem: str | None,
) -> None:
    answer = (
        completion("Score: 7") if usage == "missing" else with_usage(completion("Score: 7"), usage)
    )
    server = serve(lambda body, attempt: answer)
    with caplog.at_level(logging.WARNING, logger="editbench.judges.openai_api"):
        (judgement,) = loaded(server.base_url).score(requests[:1])
    assert (judgement.status, judgement.score, judgement.error) == (OK, 7.0, None)
    assert judgement.usage is None and judgement.latency_s > 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    if problem is None:
        assert warnings == []
    else:
        (warning,) = warnings
        assert warning.startswith("token usage left out of a judgement: ") and problem in warning


def test_an_unreachable_server_is_an_api_error(requests: list[JudgeRequest]) -> None:
    (judgement,) = loaded(f"http://127.0.0.1:{free_port()}/v1").score(requests[:1])
    assert judgement.status == API_ERROR
    assert judgement.error.startswith("APIConnectionError")


@pytest.mark.parametrize(
    ("answer", "status", "reply"),
    [
        (completion("Score: 3", finish_reason="content_filter"), CONTENT_FILTER, "Score: 3"),
        ((400, {"error": {"message": "filtered", "code": "content_filter"}}), CONTENT_FILTER, ""),
        (completion(None, refusal="I can't rate this image."), REFUSAL, "I can't rate this image."),
        (completion(""), REFUSAL, ""),
        (completion("It is a nice picture."), PARSE_ERROR, "It is a nice picture."),
    ],
    ids=["content-filter", "prompt-filtered", "refusal", "empty-reply", "no-score"],
)
def test_replies_without_a_score_keep_their_status_and_text(
    serve: Callable[..., ScriptedServer],
    requests: list[JudgeRequest],
    answer: tuple[int, dict[str, Any]],
    status: str,
    reply: str,
) -> None:
    server = serve(lambda body, attempt: answer)
    (judgement,) = loaded(server.base_url).score(requests[:1])
    assert (judgement.status, judgement.reply, judgement.score) == (status, reply, None)
    assert judgement.error


def test_a_rejected_request_stops_the_run(
    serve: Callable[..., ScriptedServer], requests: list[JudgeRequest]
) -> None:
    server = serve(lambda body, attempt: error(404, "The model 'judge' does not exist"))
    with pytest.raises(EditbenchError, match="does not exist"):
        loaded(server.base_url).score(requests[:1])


def test_concurrency_is_bounded(
    serve: Callable[..., ScriptedServer], requests: list[JudgeRequest]
) -> None:
    def answer(body: dict[str, Any], attempt: int) -> tuple[int, dict[str, Any]]:
        # Held until three are in flight at once, however slowly a loaded machine starts the
        # client's threads; the 0.2 s delay gives a fourth the time to come, were it allowed.
        deadline = time.monotonic() + HANG_S
        while server.max_in_flight < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        return completion("Score: 5")

    server = serve(answer, delay_s=0.2)
    judgements = loaded(server.base_url, max_concurrency=3).score(requests * 4)
    assert [j.score for j in judgements] == [5.0] * 8
    assert server.max_in_flight == 3


def instruction(body: dict[str, Any]) -> str:
    """The user text of a request the judge sent: which conversation it is."""
    return body["messages"][1]["content"][-1]["text"]


def test_repeated_judging_sends_a_seed_per_sample_and_reduces(
    serve: Callable[..., ScriptedServer], requests: list[JudgeRequest]
) -> None:
    server = serve(lambda body, attempt: completion(f"Score: {body['seed'] % 11}"))
    judge = loaded(server.base_url, num_samples=4, temperature=0.7, reduce="median")
    judgements = judge.score(requests)
    seeds: dict[str, list[int]] = {}  # per conversation
    for body in server.bodies:
        seeds.setdefault(instruction(body), []).append(body["seed"])
    assert len(set(server.seeds())) == 8  # every sample of every request has a seed of its own
    assert all(body["temperature"] == 0.7 for body in server.bodies)
    for request, judgement in zip(requests, judgements, strict=True):
        own = seeds[request.messages[1]["content"][-1]["text"]]
        assert judgement.status == OK
        assert sorted(judgement.samples) == sorted(float(seed % 11) for seed in own)
        assert judgement.score == statistics.median(judgement.samples)
        assert judgement.spread == pytest.approx(statistics.stdev(judgement.samples))
    # Seeds are a function of the conversation and the sample index, not of the call.
    judge.score(requests[1:])
    assert sorted(server.seeds()[8:]) == sorted(seeds[instruction(server.bodies[8])])


def test_repeated_judging_keeps_failed_samples_out_of_the_score(
    serve: Callable[..., ScriptedServer], requests: list[JudgeRequest]
) -> None:
    # One request at a time, so that the attempt number is the sample index.
    replies = {1: completion("Score: 8"), 2: completion("no idea"), 3: completion("Score: 6")}
    server = serve(lambda body, attempt: replies[attempt])
    judge = loaded(server.base_url, num_samples=3, temperature=0.7, max_concurrency=1)
    (judgement,) = judge.score(requests[:1])
    assert (judgement.status, judgement.score, judgement.samples) == (OK, 7.0, [8.0, None, 6.0])
    assert judgement.spread == pytest.approx(math.sqrt(2))
    assert judgement.reply.split("\n") == [
        "--- judge sample 1 of 3 ---",
        "Score: 8",
        "",
        "--- judge sample 2 of 3 ---",
        "no idea",
        "",
        "--- judge sample 3 of 3 ---",
        "Score: 6",
    ]


def test_repeated_judging_without_any_score_has_the_first_failure(
    serve: Callable[..., ScriptedServer], requests: list[JudgeRequest]
) -> None:
    replies = {1: completion("x", finish_reason="content_filter"), 2: completion("no idea")}
    server = serve(lambda body, attempt: replies[attempt])
    judge = loaded(server.base_url, num_samples=2, temperature=0.7, max_concurrency=1)
    (judgement,) = judge.score(requests[:1])
    assert (judgement.status, judgement.score) == (CONTENT_FILTER, None)
    assert (judgement.samples, judgement.spread) == ([None, None], None)
    assert judgement.error.startswith("no judge sample gave a score; the first: the server's")


RUBRIC = {"instruction_following": "SC", "visual_quality": "PQ"}


@pytest.mark.parametrize(
    "reply",
    [
        '{"instruction_following": 8}',
        '{"instruction_following": 8, "visual_quality": 12}',
        "Score: 8",
    ],
    ids=["missing", "out-of-range", "no-json"],
)
def test_rubric_replies_without_every_criterion_are_a_parse_error(
    serve: Callable[..., ScriptedServer], requests: list[JudgeRequest], reply: str
) -> None:
    server = serve(lambda body, attempt: completion(reply))
    request = replace(requests[0], criteria=RUBRIC, reply="json_object")
    (judgement,) = loaded(server.base_url).score([request])
    assert (judgement.status, judgement.reply, judgement.score) == (PARSE_ERROR, reply, None)
    assert judgement.error == (
        "the reply states no certain JSON object of the criteria"
        " ['instruction_following', 'visual_quality'] on the scale 0-10"
    )


def test_rubric_replies_combine_their_criteria(
    serve: Callable[..., ScriptedServer], requests: list[JudgeRequest]
) -> None:
    reply = (
        'Follows the instruction.\n```json\n{"instruction_following": 8, "visual_quality": 2}\n```'
    )
    server = serve(lambda body, attempt: completion(reply))
    request = replace(requests[0], criteria=RUBRIC, combine="viescore", reply="json_object")
    (judgement,) = loaded(server.base_url).score([request])
    assert (judgement.status, judgement.reply) == (OK, reply)
    assert judgement.criteria == {"instruction_following": 8.0, "visual_quality": 2.0}
    assert judgement.score == pytest.approx(4.0)  # sqrt(min SC * min PQ)


def test_expected_mode_asks_no_logprobs_for_a_rubric_and_reads_its_reply(
    serve: Callable[..., ScriptedServer], requests: list[JudgeRequest]
) -> None:
    rubric_reply = 'Follows it.\n{"instruction_following": 8, "visual_quality": 2}'
    score_reply, tokens, expected = QWEN_SEVEN

    def answer(body: dict[str, Any], attempt: int) -> tuple[int, dict[str, Any]]:
        if body.get("logprobs"):
            return completion(score_reply, logprobs=tokens)
        return completion(rubric_reply)

    server = serve(answer)
    rubric = replace(requests[1], criteria=RUBRIC, combine="min", reply="json_object")
    judge = loaded(server.base_url, score_mode="expected")
    plain, read = judge.score([requests[0], rubric])

    assert (read.status, read.reply, read.score) == (OK, rubric_reply, 2.0)
    assert read.criteria == {"instruction_following": 8.0, "visual_quality": 2.0}
    assert read.distribution is None
    assert plain.score == pytest.approx(sum(s * p for s, p in expected.items()))
    bodies = {body["messages"][1]["content"][-1]["text"]: body for body in server.bodies}
    rubric_body = bodies["Add a tree on the left. Score: X"]
    assert "logprobs" not in rubric_body and "top_logprobs" not in rubric_body
    assert rubric_body["max_tokens"] == 512  # its whole reply, not a few tokens after a prefix
    plain_body = bodies["Make the sky red. Score: X"]
    assert plain_body["logprobs"] is True
    assert plain_body["max_tokens"] == EXPECTED_REPLY_TOKENS


def test_expected_mode_reads_only_the_scores_on_the_scale(
    serve: Callable[..., ScriptedServer], requests: list[JudgeRequest]
) -> None:
    tokens = [token("Score"), token(":"), token(" "), token("4", {"4": 0.5, "5": 0.3, "9": 0.2})]
    server = serve(lambda body, attempt: completion("Score: 4", logprobs=tokens))
    request = replace(requests[0], scale=(1.0, 5.0))
    (judgement,) = loaded(server.base_url, score_mode="expected").score([request])
    assert judgement.distribution == pytest.approx([0.0] * 4 + [0.625, 0.375] + [0.0] * 5)
    assert judgement.score == pytest.approx(4 * 0.625 + 5 * 0.375)


def test_images_go_as_png_data_urls_within_max_pixels(
    serve: Callable[..., ScriptedServer], requests: list[JudgeRequest]
) -> None:
    server = serve(lambda body, attempt: completion("Score: 5"))
    loaded(server.base_url, max_pixels=50 * 50).score(requests[:1])
    (body,) = server.bodies
    system, user = body["messages"]
    assert system == requests[0].messages[0]
    assert [part["type"] for part in user["content"]] == ["image_url", "image_url", "text"]
    sizes = []
    for part in user["content"][:2]:
        header, data = part["image_url"]["url"].split(",", 1)
        assert header == "data:image/png;base64"
        with Image.open(io.BytesIO(base64.b64decode(data))) as image:
            assert image.format == "PNG"
            sizes.append(image.size)
    assert sizes == [(64, 38), (23, 108)]  # 200x120 and 64x300 scaled to at most 2500 pixels


def test_the_key_is_sent_and_never_written_anywhere_else(
    serve: Callable[..., ScriptedServer],
    requests: list[JudgeRequest],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)
    caplog.set_level(logging.DEBUG)

    def answer(body: dict[str, Any], attempt: int) -> tuple[int, dict[str, Any]]:
        # A careless server that echoes the credentials it was sent in its error.
        echoed = server.headers[attempt - 1]["authorization"]
        return completion("Score: 6") if attempt == 1 else error(500, f"bad auth {echoed}")

    server = serve(answer)
    judge = loaded(server.base_url, api_key_env=KEY_ENV, max_retries=1)
    judgements = judge.score(requests)
    assert server.headers[0]["authorization"] == f"Bearer {SECRET}"
    assert sorted(j.status for j in judgements) == [API_ERROR, OK]

    rejecting = serve(lambda body, attempt: error(401, f"invalid key {SECRET}"))
    with pytest.raises(EditbenchError) as raised:
        loaded(rejecting.base_url, api_key_env=KEY_ENV).score(requests[:1])

    written = [
        json.dumps(judge.fingerprint()),
        json.dumps([asdict(j) for j in judgements]),
        str(raised.value),
        caplog.text,
    ]
    assert "***" in str(raised.value)
    assert not [text for text in written if SECRET in text]


def test_a_missing_key_variable_is_named(
    requests: list[JudgeRequest], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    judge = OpenAIJudge("http://127.0.0.1:9/v1", "judge", api_key_env=KEY_ENV)
    with pytest.raises(EditbenchError, match=KEY_ENV):
        judge.load(["cpu"])


def test_no_key_variable_sends_a_placeholder(
    serve: Callable[..., ScriptedServer], requests: list[JudgeRequest]
) -> None:
    server = serve(lambda body, attempt: completion("Score: 5"))
    loaded(server.base_url, api_key_env=None).score(requests[:1])
    assert server.headers[0]["authorization"] == f"Bearer {PLACEHOLDER_KEY}"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("score_mode", "sampled", "score_mode='sampled'; expected one of ['generate', 'expected']"),
        ("reduce", "max", "reduce='max'; expected one of ['mean', 'median']"),
        ("max_concurrency", 0, "max_concurrency must be at least 1, got 0"),
        ("num_samples", 0, "num_samples must be at least 1, got 0"),
        ("top_logprobs", 0, "top_logprobs must be at least 1, got 0"),
        ("max_retries", -1, "max_retries must be 0 or more, got -1"),
        ("timeout_s", 0, "timeout_s must be positive, got 0"),
        ("temperature", -0.5, "temperature must be a finite number >= 0, got -0.5"),
        ("num_samples", 2, "num_samples=2 needs temperature > 0"),
        ("max_pixels", 0, "max_pixels must be a positive pixel count or null, got 0"),
        (
            "base_url",
            "127.0.0.1:8000/v1",
            "base_url='127.0.0.1:8000/v1'; expected an http(s):// URL",
        ),
        ("model", "", "model is empty; expected the model name that the server serves"),
        ("api_key_env", "", "api_key_env is empty; expected a variable name, or null for none"),
    ],
)
def test_options_are_checked(option: str, value: Any, message: str) -> None:
    options = {"base_url": "http://127.0.0.1:8000/v1", "model": "judge", option: value}
    with pytest.raises(EditbenchError) as raised:
        OpenAIJudge(**options)
    assert message in str(raised.value)


def test_fingerprint_holds_what_determines_a_judgement() -> None:
    base = OpenAIJudge("http://127.0.0.1:8000/v1", "judge")
    fingerprint = base.fingerprint()
    assert (fingerprint["name"], fingerprint["version"]) == ("openai_api", 1)
    json.dumps(fingerprint)
    for changed in (
        OpenAIJudge("http://127.0.0.1:9000/v1", "judge"),
        OpenAIJudge("http://127.0.0.1:8000/v1", "other"),
        OpenAIJudge("http://127.0.0.1:8000/v1", "judge", score_mode="expected"),
        OpenAIJudge("http://127.0.0.1:8000/v1", "judge", temperature=0.5),
        OpenAIJudge("http://127.0.0.1:8000/v1", "judge", num_samples=3, temperature=0.5),
        OpenAIJudge("http://127.0.0.1:8000/v1", "judge", max_pixels=512 * 512),
    ):
        assert changed.fingerprint() != fingerprint
    unchanged = OpenAIJudge(
        "http://127.0.0.1:8000/v1",
        "judge",
        api_key_env="OTHER_KEY",
        batch_size=2,
        max_concurrency=1,
        timeout_s=5,
        max_retries=0,
    )
    assert unchanged.fingerprint() == fingerprint
