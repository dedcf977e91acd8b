"""A judge behind an OpenAI-compatible chat completions endpoint (vLLM, SGLang, transformers
serve, OpenAI), through the official ``openai`` client.

Score modes:

- ``generate``: :func:`parse_score` reads the score from the reply (for a rubric request,
  :func:`parse_criteria` reads each criterion's score and :func:`combine_criteria` makes them
  one), and a reply it cannot read with certainty is a ``parse_error``.
- ``expected``: the reply comes with ``logprobs``, and the distribution over 0..10 is read at
  the score position, the first non-blank token after the score prefix that the judge writes
  (:func:`editbench.judges.logprobs.score_distribution` says how, "10" included).

  The score is read from the judge's own reply rather than from an assistant turn prefilled
  with the prefix: prefilling needs ``continue_final_message``, a vLLM extension that the
  OpenAI API and ``transformers serve`` reject (a 422 there), and the schema has no switch
  to tell the servers apart. Reading the reply works wherever logprobs
  do, reasoning-first or not, at the cost of one assumption: a judge that writes the prefix
  itself is conditioned on the same text as one prefilled with it.

Repeated judging (``num_samples`` > 1, ``temperature`` > 0) sends each request that many
times, each with the ``seed`` of its sample, and reduces the scores as the local judge does
(:mod:`editbench.judges.draws`).

A server that returns no logprobs (``transformers serve`` ignores the request for them) gives
``parse_error`` with "server returned no logprobs"; nothing falls back to ``generate``.

Retries are the client's own (``max_retries``): on 408, 409, 429, 5xx, timeouts and connection
errors it backs off exponentially (0.5 s doubling to at most 8 s, less up to 25% jitter),
honours the server's ``Retry-After``, and counts each retry in the ``x-stainless-retry-count``
header, so a server sees every attempt. A request that still fails is an ``api_error``. A
rejected key, a forbidden endpoint or an unknown model (401, 403, 404) would fail every request
the same way, so they stop the run instead. A prompt that the server's filter rejects (Azure
OpenAI: a 400 coded "content_filter") is a ``content_filter`` judgement, like a filtered reply.

A 200 whose body is not a chat completion (a proxy's HTML page, cut or invalid JSON, a field of
the wrong type) is an ``api_error`` too, saying what is wrong and how the body began: the
client would hand back a string or a half-built object, so the judge reads the raw body and
checks every field it reads (:func:`~editbench.judges.completion.read_completion`) before it
reads any.

Every judgement keeps the tokens its requests used, as the body's ``usage`` counts them (summed
over the draws), and the requests' wall time (``latency_s``, retries included); the run prices
the tokens at ``price`` (per million, a setting that changes no verdict and so is no part of
the fingerprint). A body without ``usage`` gives a judgement without it; a ``usage`` of the
wrong shape too, with a warning in the log: the verdict itself is fine.

The key never leaves the worker: every text of a judgement and every error is passed through
:class:`~editbench.judges.key_blanking.KeyBlanker` first, which blanks the key as a server
might echo it back (as sent, JSON-escaped, URL-encoded, HTML-escaped) and any run of
``MIN_KEY_ECHO`` or more of its characters (an echo cut short, by the server or by an excerpt).
"""

from __future__ import annotations

import base64
import io
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import openai
from PIL import Image

from editbench.errors import EditbenchError
from editbench.judges.base import Judge
from editbench.judges.completion import Completion, NotACompletion, read_completion
from editbench.judges.draws import (
    conversation_by_content,
    draw_seed,
    expected_judgement,
    merge_draws,
    read_reply,
)
from editbench.judges.images import open_part
from editbench.judges.key_blanking import KeyBlanker
from editbench.judges.logprobs import Unreadable, score_distribution
from editbench.judges.settings import check_judge_settings
from editbench.records import (
    API_ERROR,
    CONTENT_FILTER,
    PARSE_ERROR,
    REFUSAL,
    USAGE_FIELDS,
    Judgement,
    JudgeRequest,
)

log = logging.getLogger(__name__)

# Sent when api_key_env is null: servers started without a key accept any (vLLM's docs use it).
PLACEHOLDER_KEY = "EMPTY"
# A reply to a plain (not reasoning-first) expected-mode request needs only the prefix, the
# score's digits and the token after a "1"; more would spend time on text nobody reads.
EXPECTED_REPLY_TOKENS = 16
# Errors that every request would meet the same way: the judge is misconfigured.
_FATAL_ERRORS = (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)
# How much of a body that is not a chat completion its api_error quotes: enough to tell a
# proxy's HTML page from cut JSON, short enough for a report's table.
BODY_EXCERPT_CHARS = 200
# An error's text is kept up to this: a server's error page of megabytes says what it is in
# its first lines.
ERROR_CHARS = 2 * BODY_EXCERPT_CHARS
# The prices a price setting gives, per million tokens.
PRICE_FIELDS = ("prompt_per_million", "completion_per_million")


class OpenAIJudge(Judge):
    """A judge served over the OpenAI chat completions protocol.

    Each request is sent ``num_samples`` times (at ``temperature``, each with its own
    ``seed``), at most ``max_concurrency`` at once; images go inline as PNG data URLs,
    downscaled to at most ``max_pixels`` pixels when that is set. The key is read from the
    environment variable ``api_key_env`` when the judge loads (in its worker); it is never
    part of the fingerprint, a log line or a request's text, and a server's echo of it is
    blanked in every judgement and error (:class:`KeyBlanker`).

    ``price`` (``prompt_per_million``, ``completion_per_million``, ``currency``) is only
    checked here, before any model loads: the run prices the token counts that the stored
    judgements keep with it.
    """

    name = "openai_api"
    version = 1

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str | None = "OPENAI_API_KEY",
        score_mode: str = "generate",
        batch_size: int = 16,
        max_concurrency: int = 8,
        timeout_s: float = 120.0,
        max_retries: int = 5,
        max_tokens: int = 512,
        top_logprobs: int = 20,
        num_samples: int = 1,
        temperature: float = 0.0,
        reduce: str = "mean",
        max_pixels: int | None = None,
        price: Mapping[str, Any] | None = None,
    ) -> None:
        check_price(price)
        check_judge_settings(
            score_mode=score_mode,
            reduce=reduce,
            num_samples=num_samples,
            temperature=temperature,
            max_pixels=max_pixels,
        )
        if not base_url.startswith(("http://", "https://")):
            raise EditbenchError(f"base_url={base_url!r}; expected an http(s):// URL")
        if not model:
            raise EditbenchError("model is empty; expected the model name that the server serves")
        if api_key_env == "":
            raise EditbenchError("api_key_env is empty; expected a variable name, or null for none")
        counts = {
            "batch_size": batch_size,
            "max_concurrency": max_concurrency,
            "max_tokens": max_tokens,
            "top_logprobs": top_logprobs,
        }
        for name, value in counts.items():
            if value < 1:
                raise EditbenchError(f"{name} must be at least 1, got {value!r}")
        if max_retries < 0:
            raise EditbenchError(f"max_retries must be 0 or more, got {max_retries!r}")
        if timeout_s <= 0:
            raise EditbenchError(f"timeout_s must be positive, got {timeout_s!r}")
        self.base_url = base_url
        self.model = model
        self.api_key_env = api_key_env
        self.score_mode = score_mode
        self.batch_size = batch_size
        self.max_concurrency = max_concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.max_tokens = max_tokens
        self.top_logprobs = top_logprobs
        self.num_samples = num_samples
        self.temperature = temperature
        self.reduce = reduce
        self.max_pixels = max_pixels

    def settings(self) -> dict[str, Any]:
        # Concurrency, timeouts, retries and batch size change when a verdict arrives, not
        # what it is, and the price what it costs; the key is a credential, not a parameter.
        return {
            "base_url": self.base_url,
            "model": self.model,
            "score_mode": self.score_mode,
            "max_tokens": self.max_tokens,
            "top_logprobs": self.top_logprobs,
            "num_samples": self.num_samples,
            "temperature": self.temperature,
            "reduce": self.reduce,
            "max_pixels": self.max_pixels,
        }

    def check(self, requests: Sequence[JudgeRequest]) -> None:
        """Raise unless the key's variable is set, so that a missing key stops the run before
        the edit phase rather than in the judge's worker after it."""
        self._read_key()

    def load(self, devices: Sequence[str]) -> None:
        """Build the client; an API judge holds no model, so ``devices`` is not used."""
        api_key = self._read_key()  # again: the worker's environment may differ from the parent's
        self._blank = KeyBlanker(None if self.api_key_env is None else api_key)
        self._client = openai.OpenAI(
            base_url=self.base_url,
            api_key=api_key,
            timeout=self.timeout_s,
            max_retries=self.max_retries,
        )
        log.info("judging with %s at %s (%s mode)", self.model, self.base_url, self.score_mode)

    def _read_key(self) -> str:
        """The key to send: the value of ``api_key_env``, or the placeholder when it is null."""
        if self.api_key_env is None:
            return PLACEHOLDER_KEY
        api_key = os.environ.get(self.api_key_env, "")
        if not api_key:
            raise EditbenchError(
                f"The judge's API key variable {self.api_key_env} is not set or is empty; export"
                f" it (export {self.api_key_env}=<key>), or set scorer.api_key_env=null for a"
                " server that needs no key"
            )
        return api_key

    def prepare(self, requests: Sequence[JudgeRequest]) -> list[tuple[list[Any], list[int]]]:
        """Each request's API messages (images read, downscaled and encoded) and sample seeds."""
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            return list(pool.map(self._conversation, requests))

    def score(self, requests: Sequence[JudgeRequest], prepared: Any = None) -> list[Judgement]:
        n = self.num_samples
        conversations = self.prepare(requests) if prepared is None else prepared
        jobs = [
            (request, messages, seed)
            for request, (messages, seeds) in zip(requests, conversations, strict=True)
            for seed in seeds
        ]
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            verdicts = list(pool.map(lambda job: self._judge_once(*job), jobs))
        return [
            self._blank.judgement(_merged(verdicts[i * n : (i + 1) * n], self.reduce))
            for i in range(len(requests))
        ]

    def _conversation(self, request: JudgeRequest) -> tuple[list[dict[str, Any]], list[int]]:
        """The request's messages in the API's format, and the seed of each judge sample (the
        local judge's seeds for the same request)."""
        messages = [
            {**message, "content": [self._api_part(part) for part in message["content"]]}
            for message in request.messages
        ]
        conversation = conversation_by_content(request)
        return messages, [draw_seed(conversation, index) for index in range(self.num_samples)]

    def _api_part(self, part: dict[str, Any]) -> dict[str, Any]:
        """A message part in the API's format: an image goes inline as a PNG data URL."""
        if part["type"] != "image":
            return part
        url = _image_url(part, self.max_pixels)
        return {"type": "image_url", "image_url": {"url": url}}

    def _judge_once(
        self, request: JudgeRequest, messages: list[dict[str, Any]], seed: int
    ) -> Judgement:
        """One judge sample: one request to the server, read per the score mode, with the
        request's wall time (retries included: they are the request's cost too)."""
        started = time.perf_counter()
        verdict = self._request(request, messages, seed)
        return replace(verdict, latency_s=round(time.perf_counter() - started, 4))

    def _request(
        self, request: JudgeRequest, messages: list[dict[str, Any]], seed: int
    ) -> Judgement:
        """The judgement of one request to the server."""
        try:
            # The raw body: the client's own parsing raises on invalid JSON and returns a
            # string, or an object of any shape, for other bodies.
            response = self._client.chat.completions.with_raw_response.create(
                **self._params(request, messages, seed)
            )
        except _FATAL_ERRORS as error:
            raise EditbenchError(
                f"The judge server at {self.base_url} rejects the requests for model"
                f" {self.model!r}: {self._describe(error)}"
            ) from None
        except openai.BadRequestError as error:
            # Azure OpenAI's filter rejects a prompt with a 400 coded "content_filter".
            status = CONTENT_FILTER if error.code == "content_filter" else API_ERROR
            return Judgement(status, "", error=self._describe(error))
        except openai.APIError as error:
            return Judgement(API_ERROR, "", error=self._describe(error))
        return self._read(request, response.content)

    def _params(
        self, request: JudgeRequest, messages: list[dict[str, Any]], seed: int
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "seed": seed,
        }
        if request.mode(self.score_mode) == "expected":
            params["logprobs"] = True
            params["top_logprobs"] = self.top_logprobs
            if not request.reasoning_first:
                params["max_tokens"] = min(self.max_tokens, EXPECTED_REPLY_TOKENS)
        return params

    def _read(self, request: JudgeRequest, body: bytes) -> Judgement:
        """The judgement of one response body, per the score mode, with the tokens it used."""
        expected = request.mode(self.score_mode) == "expected"
        try:
            choice = read_completion(body, with_logprobs=expected)
        except NotACompletion as problem:
            text = body.decode("utf-8", errors="replace")
            excerpt = self._blank.cut(text, BODY_EXCERPT_CHARS)
            size = f" ({len(text):,} characters in all)" if len(text) > BODY_EXCERPT_CHARS else ""
            error = f"the server's reply is not a chat completion: {problem}; it began {excerpt!r}"
            return Judgement(API_ERROR, "", error=error + size)
        if choice.usage_problem is not None:
            log.warning("token usage left out of a judgement: %s", choice.usage_problem)
        return replace(self._verdict(request, choice, expected), usage=choice.usage)

    def _verdict(self, request: JudgeRequest, choice: Completion, expected: bool) -> Judgement:
        """The judgement that a completion's first choice gives, per the score mode."""
        reply = choice.content or ""
        if choice.finish_reason == "content_filter":
            return Judgement(CONTENT_FILTER, reply, error="the server's content filter stopped it")
        if choice.refusal:
            return Judgement(REFUSAL, choice.refusal, error="the judge refused to answer")
        if choice.finish_reason == "stop" and not reply.strip():
            return Judgement(REFUSAL, reply, error="the judge stopped without a reply")
        if expected:
            try:
                distribution = score_distribution(request, choice.tokens)
            except Unreadable as error:
                return Judgement(PARSE_ERROR, reply, error=str(error))
            return expected_judgement(distribution, reply, request.scale)
        cut = " (cut at max_tokens)" if choice.finish_reason == "length" else ""
        return read_reply(request, reply, note=cut)

    def _describe(self, error: openai.APIError) -> str:
        """The error's type and text, with the key blanked should a server echo it back."""
        return self._blank.cut(f"{type(error).__name__}: {error}", ERROR_CHARS)


def check_price(price: Mapping[str, Any] | None) -> None:
    """Raise :class:`EditbenchError` unless ``price`` is None, or holds a finite price >= 0
    per million prompt tokens and per million completion tokens (or neither: no price) and a
    currency's name."""
    if price is None:
        return
    if not isinstance(price, Mapping):
        raise EditbenchError(
            f"price={price!r}; expected null or {{prompt_per_million: <number>, "
            "completion_per_million: <number>, currency: USD}"
        )
    values = [price.get(name) for name in PRICE_FIELDS]
    if values == [None, None]:
        return
    for name, value in zip(PRICE_FIELDS, values, strict=True):
        if isinstance(value, bool) or not isinstance(value, int | float):
            number = False
        else:
            number = math.isfinite(value) and value >= 0
        if not number:
            tokens = name.removesuffix("_per_million")
            raise EditbenchError(
                f"price.{name}={value!r}; expected a finite number >= 0, the price of a million "
                f"{tokens} tokens (set both prices, or neither)"
            )
    currency = price.get("currency", "USD")
    if not (isinstance(currency, str) and currency.strip()):
        raise EditbenchError(f"price.currency={currency!r}; expected a currency's name, e.g. USD")


def _merged(draws: Sequence[Judgement], reduce: str) -> Judgement:
    """One request's judgement from its draws (:func:`merge_draws`), with the tokens and the
    wall time of all its requests: each draw was paid for, whether it gave a score or not."""
    usages = [draw.usage for draw in draws if draw.usage is not None]
    usage = {name: sum(u[name] for u in usages) for name in USAGE_FIELDS} if usages else None
    latencies = [draw.latency_s for draw in draws if draw.latency_s is not None]
    latency_s = round(math.fsum(latencies), 4) if latencies else None
    return replace(merge_draws(draws, reduce), usage=usage, latency_s=latency_s)


def _image_url(part: dict[str, Any], max_pixels: int | None) -> str:
    """A PNG data URL of a part's image (at its ``resize_to`` size, if it has one), at most
    ``max_pixels`` pixels."""
    image = open_part(part)
    width, height = image.size
    if max_pixels is not None and width * height > max_pixels:
        scale = math.sqrt(max_pixels / (width * height))
        size = (max(1, int(width * scale)), max(1, int(height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
