"""The OpenAI-API judge against a hostile server: bodies that are no chat completion, replies
that echo the key, and a key that is not set, through the scripted server of
``tests/test_openai_judge.py`` and, end to end, through the CLI."""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from editbench.errors import EditbenchError
from editbench.judges.key_blanking import MIN_KEY_ECHO
from editbench.judges.openai_api import BODY_EXCERPT_CHARS, ERROR_CHARS, OpenAIJudge
from editbench.records import API_ERROR, CONTENT_FILTER, OK, REFUSAL, Judgement, JudgeRequest

from . import test_openai_judge as api_judge_tests
from .conftest import local_overrides
from .test_openai_judge import (
    KEY_ENV,
    RUBRIC,
    SECRET,
    Raw,
    ScriptedServer,
    completion,
    error,
    loaded,
    token,
)

# The fixtures of the API judge's own tests: the scripted server and two conversations.
serve = api_judge_tests.serve
requests = api_judge_tests.requests

# A hang guard for the CLI runs, ten times the demo's time with MLflow on an idle 2-core
# machine (46 s).
RUN_S = 480

PROXY_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
OK_CHOICE = {"index": 0, "finish_reason": "stop", "message": {"content": "Score: 7"}}


def choice_with(**fields: Any) -> dict[str, Any]:
    """A completion whose one choice has ``fields`` over a well-formed one's."""
    return {"id": "c-1", "object": "chat.completion", "choices": [{**OK_CHOICE, **fields}]}


def message_with(**fields: Any) -> dict[str, Any]:
    return choice_with(message={"role": "assistant", "content": "Score: 7", **fields})


HOSTILE_BODIES = {
    "invalid-json": (Raw(b'{"choices": [{"message": '), "the body is not JSON (JSONDecodeError"),
    "empty": (Raw(b""), "the body is not JSON"),
    "html-proxy-page": (Raw(PROXY_PAGE, "text/html"), "the body is not JSON"),
    "not-utf-8": (Raw(b'{"choices": "\xff\xfe"}'), "the body is not JSON (UnicodeDecodeError"),
    "nested-too-deep": (
        Raw(b"[" * 100_000 + b"]" * 100_000),
        "the body is not JSON (RecursionError",
    ),
    "a-list": ([OK_CHOICE], "the body is a list; expected a JSON object"),
    "a-number": (7, "the body is a number (7); expected a JSON object"),
    "null": (None, "the body is null; expected a JSON object"),
    "a-string": ("Score: 7", "the body is a string; expected a JSON object"),
    "no-choices": ({"id": "c-1"}, "choices is missing; expected a non-empty list"),
    "choices-a-string": ({"choices": "Score: 7"}, "choices is a string; expected a non-empty"),
    "choices-an-object": ({"choices": OK_CHOICE}, "choices is an object; expected a non-empty"),
    "choices-empty": ({"choices": []}, "choices is an empty list; expected a non-empty list"),
    "choice-a-string": ({"choices": ["Score: 7"]}, "choices[0] is a string; expected an object"),
    "no-message": (
        {"choices": [{"index": 0, "finish_reason": "stop"}]},
        "choices[0].message is missing; expected an object",
    ),
    "message-a-string": (
        choice_with(message="Score: 7"),
        "choices[0].message is a string; expected an object",
    ),
    "content-a-number": (
        message_with(content=7),
        "choices[0].message.content is a number (7); expected a string or null",
    ),
    "content-a-list": (
        message_with(content=[{"type": "text", "text": "Score: 7"}]),
        "choices[0].message.content is a list; expected a string or null",
    ),
    "refusal-an-object": (
        message_with(refusal={"reason": "no"}),
        "choices[0].message.refusal is an object; expected a string or null",
    ),
    "finish-reason-a-number": (
        choice_with(finish_reason=3),
        "choices[0].finish_reason is a number (3); expected a string or null",
    ),
    "finish-reason-a-boolean": (
        choice_with(finish_reason=True),
        "choices[0].finish_reason is a boolean (true); expected a string or null",
    ),
    "huge-html-page": (
        Raw(b"<html>" + b"x" * 5_000_000, "text/html"),
        "the body is not JSON",
    ),
    "huge-choices-string": (
        {"choices": "x" * 5_000_000},
        "choices is a string; expected a non-empty list",
    ),
}


@pytest.mark.parametrize(("answer", "problem"), HOSTILE_BODIES.values(), ids=HOSTILE_BODIES)
def test_a_body_that_is_no_chat_completion_is_an_api_error(
    serve: Callable[..., ScriptedServer],
    requests: list[JudgeRequest],
    answer: Any,
    problem: str,
) -> None:
    server = serve(lambda body, attempt: (200, answer))
    judgements = loaded(server.base_url).score(requests)
    sent = answer.body if isinstance(answer, Raw) else json.dumps(answer).encode()
    text = sent.decode("utf-8", errors="replace")
    began = repr(text[:BODY_EXCERPT_CHARS])
    for judgement in judgements:
        assert (judgement.status, judgement.score, judgement.reply) == (API_ERROR, None, "")
        assert judgement.error.startswith(
            f"the server's reply is not a chat completion: {problem}"
        ), judgement.error
        assert f"; it began {began}" in judgement.error  # what came back
        assert len(judgement.error) < BODY_EXCERPT_CHARS + ERROR_CHARS
    if len(text) > BODY_EXCERPT_CHARS:
        assert judgements[0].error.endswith(f" ({len(text):,} characters in all)")


def test_an_odd_finish_reason_is_no_failure(
    serve: Callable[..., ScriptedServer], requests: list[JudgeRequest]
) -> None:
    """Servers write their own finish reasons ("eos", none at all): only the API's known
    ones mean something, and nothing else makes a reply unreadable."""
    answers = {1: choice_with(finish_reason="eos"), 2: choice_with(finish_reason=None)}
    server = serve(lambda body, attempt: (200, answers[attempt]))
    judge = loaded(server.base_url, max_concurrency=1)
    judgements = judge.score(requests)
    assert [(j.status, j.score) for j in judgements] == [(OK, 7.0), (OK, 7.0)]


def logprobs_with(**fields: Any) -> dict[str, Any]:
    """A "Score: 7" reply whose score token has ``fields`` over well-formed logprobs."""
    tokens = [
        token("Score"),
        token(":"),
        token(" "),
        {**token("7", {"7": 0.9, "8": 0.1}), **fields},
    ]
    return choice_with(logprobs={"content": tokens})


HOSTILE_LOGPROBS = {
    "logprobs-a-string": (
        choice_with(logprobs="Score: 7"),
        "choices[0].logprobs is a string; expected an object",
    ),
    "content-an-object": (
        choice_with(logprobs={"content": {"token": "7"}}),
        "choices[0].logprobs.content is an object; expected a list",
    ),
    "token-a-string": (
        choice_with(logprobs={"content": ["7"]}),
        "choices[0].logprobs.content[0] is no token logprob (",
    ),
    "top-logprobs-a-string": (
        logprobs_with(top_logprobs="7"),
        "choices[0].logprobs.content[3] is no token logprob (top_logprobs:",
    ),
    "nan-logprob": (
        logprobs_with(top_logprobs=[{"token": "7", "logprob": float("nan")}]),
        "choices[0].logprobs.content[3] has the logprob nan; expected a number <= 0",
    ),
    "positive-logprob": (
        logprobs_with(top_logprobs=[{"token": "7", "logprob": 2.0}, {"token": "8", "logprob": -1}]),
        "choices[0].logprobs.content[3] has the logprob 2.0; expected a number <= 0",
    ),
    "bytes-out-of-range": (
        logprobs_with(bytes=[300]),
        "choices[0].logprobs.content[3].bytes is [300]; expected bytes 0..255",
    ),
}


@pytest.mark.parametrize(("answer", "problem"), HOSTILE_LOGPROBS.values(), ids=HOSTILE_LOGPROBS)
def test_logprobs_that_are_no_distribution_are_an_api_error(
    serve: Callable[..., ScriptedServer],
    requests: list[JudgeRequest],
    answer: dict[str, Any],
    problem: str,
) -> None:
    server = serve(lambda body, attempt: (200, answer))
    (judgement,) = loaded(server.base_url, score_mode="expected").score(requests[:1])
    assert (judgement.status, judgement.score, judgement.distribution) == (API_ERROR, None, None)
    assert problem in judgement.error, judgement.error


def echoes(key: str) -> dict[str, str]:
    """The ways a careless server or proxy repeats the key it was sent."""
    return {
        "whole": key,
        "json": json.dumps({"auth": key}),
        "url": f"https://judge.example/v1?api_key={quote(key, safe='')}",
        "html": f"<input value='{key}'>",
        "cut": key[:-4] + "…",  # the server's own log line, cut short
        "tail": key[-MIN_KEY_ECHO:],
    }


def test_no_judgement_holds_the_key_a_server_echoes(
    serve: Callable[..., ScriptedServer],
    requests: list[JudgeRequest],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)
    told = " ".join(echoes(SECRET).values())
    padding = "p" * (BODY_EXCERPT_CHARS - 20)  # so that the excerpt's cut falls in the key
    answers = {
        1: completion(f"Score: 7\nAuthorized by {told}"),
        2: completion(f"{told}\nScore: 6", finish_reason="content_filter"),
        3: completion(None, refusal=f"I will not use {told}"),
        4: (200, Raw(f"<html>{padding}{SECRET}</html>".encode(), "text/html")),
        5: (200, choice_with(message={"content": f"Score: 7 {SECRET}", "refusal": 7})),
        6: error(500, f"bad key {told}"),
        7: error(400, f"bad key {told}"),
    }
    server = serve(lambda body, attempt: answers[attempt])
    judge = loaded(server.base_url, api_key_env=KEY_ENV, max_concurrency=1)
    judgements = judge.score(requests * 3 + requests[:1])

    assert server.headers[0]["authorization"] == f"Bearer {SECRET}"  # the key was sent
    assert [j.status for j in judgements] == [OK, CONTENT_FILTER, REFUSAL] + [API_ERROR] * 4
    assert judgements[0].score == 7.0  # read before the key was blanked, and unchanged by it
    assert_keyless(judgements, SECRET)


def test_repeated_judging_blanks_every_draw(
    serve: Callable[..., ScriptedServer],
    requests: list[JudgeRequest],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)
    server = serve(lambda body, attempt: completion(f"Score: {attempt + 5} ({SECRET})"))
    judge = loaded(
        server.base_url, api_key_env=KEY_ENV, num_samples=3, temperature=0.7, max_concurrency=1
    )
    (judgement,) = judge.score(requests[:1])
    assert (judgement.status, judgement.samples) == (OK, [6.0, 7.0, 8.0])
    assert judgement.reply.count("***") == 3
    assert_keyless([judgement], SECRET)


def test_rubric_criteria_and_errors_are_blanked_too(
    serve: Callable[..., ScriptedServer],
    requests: list[JudgeRequest],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A key made of characters that JSON, URLs and HTML each escape.
    key = 'k/ey+with"odd<chars>&=' + "x" * 8
    monkeypatch.setenv(KEY_ENV, key)
    replies = [
        f'note {json.dumps(key)}\n{{"instruction_following": 8, "visual_quality": 2}}',
        f"see {quote(key, safe='')} and {html.escape(key)}"
        '\n{"instruction_following": 8, "visual_quality": 2}',
    ]
    server = serve(lambda body, attempt: completion(replies[attempt - 1]))
    request = replace(requests[0], criteria=RUBRIC, reply="json_object")
    judge = loaded(server.base_url, api_key_env=KEY_ENV, max_concurrency=1)
    judgements = judge.score([request, request])
    assert [(j.status, j.criteria) for j in judgements] == [
        (OK, {"instruction_following": 8.0, "visual_quality": 2.0})
    ] * 2
    assert_keyless(judgements, key)


def assert_keyless(judgements: list[Judgement], key: str) -> None:
    """No text of any judgement holds the key, in any form it was echoed in, nor a piece of it
    as long as the blanker looks for."""
    written = json.dumps([asdict(j) for j in judgements], ensure_ascii=False)
    forms = [key, json.dumps(key)[1:-1], quote(key, safe=""), html.escape(key)]
    pieces = {
        form[i : i + MIN_KEY_ECHO] for form in forms for i in range(len(form) - MIN_KEY_ECHO + 1)
    }
    assert not [piece for piece in pieces if piece in written], written
    assert "***" in written


@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_check_names_a_key_variable_that_is_not_set(
    requests: list[JudgeRequest], monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv(KEY_ENV, raising=False)
    else:
        monkeypatch.setenv(KEY_ENV, value)
    judge = OpenAIJudge("http://127.0.0.1:9/v1", "judge", api_key_env=KEY_ENV)
    with pytest.raises(EditbenchError) as raised:
        judge.check(requests)  # before any load, and without a server
    assert f"The judge's API key variable {KEY_ENV} is not set or is empty" in str(raised.value)
    assert "scorer.api_key_env=null" in str(raised.value)

    monkeypatch.setenv(KEY_ENV, SECRET)
    judge.check(requests)
    OpenAIJudge("http://127.0.0.1:9/v1", "judge", api_key_env=None).check(requests)


def editbench_run(
    tmp_path: Path, base_url: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """The demo judged by the API judge at ``base_url``, tracked in MLflow, every output in
    ``tmp_path``."""
    command = [sys.executable, "-m", "editbench", "experiment=demo", "scorer=openai_api"]
    command += [f"scorer.base_url={base_url}", "scorer.model=judge", "scorer.max_retries=0"]
    command += ["tracking=mlflow", f"hydra.run.dir={tmp_path / 'run'}", *local_overrides(tmp_path)]
    return subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=RUN_S
    )


@pytest.mark.slow
def test_a_run_writes_the_key_nowhere(tmp_path: Path, serve: Callable[..., ScriptedServer]) -> None:
    def answer(body: dict[str, Any], attempt: int) -> tuple[int, Any]:
        sent = server.headers[attempt - 1]["authorization"].removeprefix("Bearer ")
        return completion(f"Score: 7.250\nYour key {sent} is fine ({json.dumps(sent)}).")

    server = serve(answer)
    env = {**os.environ, "OPENAI_API_KEY": SECRET}
    result = editbench_run(tmp_path, server.base_url, env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert SECRET not in result.stdout + result.stderr

    rows = [json.loads(line) for line in (tmp_path / "run/samples.jsonl").read_text().splitlines()]
    assert len(rows) == len(server.bodies) == 10  # every sample judged by the echoing server
    for row in rows:
        assert (row["status"], row["score"]) == ("ok", 7.25)
        assert "Your key *** is fine" in row["reply"]
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    folders = {path.relative_to(tmp_path).parts[0] for path in written}
    assert {"store", "run", "mlflow.db", "mlartifacts"} <= folders
    assert not [path for path in written if SECRET.encode() in path.read_bytes()]


@pytest.mark.slow
def test_a_run_without_the_key_stops_before_the_edit_phase(
    tmp_path: Path, serve: Callable[..., ScriptedServer]
) -> None:
    server = serve(lambda body, attempt: completion("Score: 7"))
    env = {name: value for name, value in os.environ.items() if name != "OPENAI_API_KEY"}
    result = editbench_run(tmp_path, server.base_url, env)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "The judge's API key variable OPENAI_API_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr
    edits = tmp_path / "store" / "edits"
    assert not [path for path in edits.rglob("*") if path.is_file()]  # nothing was edited
    assert not server.bodies
