"""A judge behind an OpenAI-compatible chat completions endpoint (vLLM, SGLang, transformers
serve, OpenAI), through the official ``openai`` client.

Score modes (see DESIGN.md, "Scores"):

- ``generate``: :func:`parse_score` reads the score from the reply (for a rubric request,
  :func:`parse_criteria` reads each criterion's score and :func:`combine_criteria` makes them
  one), and a reply it cannot read with certainty is a ``parse_error``.
- ``expected``: the reply comes with ``logprobs``, and the distribution over 0..10 is read at
  the score position: the first non-blank token after the score prefix that the judge writes
  (or the reply's first token, when a request that is not reasoning-first replies with the
  bare number). Only the tokens "0".."10" among the ``top_logprobs`` count (a digit less
  likely than the top ``top_logprobs`` tokens counts as 0); they are renormalised, as the
  local judge restricts its distribution to the digits.

  The score is read from the judge's own reply rather than from an assistant turn prefilled
  with the prefix: prefilling needs ``continue_final_message``, a vLLM extension that the
  OpenAI API and ``transformers serve`` reject (a 422 there), and the schema has no switch
  to tell the servers apart. Reading the reply works wherever logprobs
  do, reasoning-first or not, at the cost of one assumption: a judge that writes the prefix
  itself is conditioned on the same text as one prefilled with it.

  "10": where the tokenizer has "10" as one token (OpenAI's), it is read directly. Qwen's
  splits every number into digits, so "1" starts both 1 and 10: when the judge writes "1" at
  the score position, q = p("0" | "1") comes from the next token's ``top_logprobs`` and
  p(10) = p("1") q, p(1) = p("1") (1 - q), as in the local judge. When it writes any other
  digit, q is not observed and is taken as 0 (all of p("1") is read as 1). A "0" missing from
  the next token's ``top_logprobs`` also counts as q = 0.

Repeated judging (``num_samples`` > 1, ``temperature`` > 0) sends each request that many
times, each with the ``seed`` of its sample, and reduces the scores as the local judge does.

A server that returns no logprobs (``transformers serve`` ignores the request for them) gives
``parse_error`` with "server returned no logprobs"; nothing falls back to ``generate``.

Retries are the client's own (``max_retries``): on 408, 409, 429, 5xx, timeouts and connection
errors it backs off exponentially (0.5 s doubling to at most 8 s, less up to 25% jitter),
honours the server's ``Retry-After``, and counts each retry in the ``x-stainless-retry-count``
header, so a server sees every attempt. A request that still fails is an ``api_error``. A
rejected key, a forbidden endpoint or an unknown model (401, 403, 404) would fail every request
the same way, so they stop the run instead. A prompt that the server's filter rejects (Azure
OpenAI: a 400 coded "content_filter") is a ``content_filter`` judgement, like a filtered reply.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai
from openai.types.chat import ChatCompletion, ChatCompletionTokenLogprob
from PIL import Image

from editbench.errors import EditbenchError
from editbench.records import (
    API_ERROR,
    CONTENT_FILTER,
    OK,
    PARSE_ERROR,
    REFUSAL,
    Judgement,
    JudgeRequest,
)
from editbench.scorers.base import Scorer
from editbench.scorers.combine import REDUCTIONS, combine_criteria, reduce_samples
from editbench.scorers.parsing import parse_criteria, parse_score

log = logging.getLogger(__name__)

SCORE_MODES = ("generate", "expected")
# Sent when api_key_env is null: servers started without a key accept any (vLLM's docs use it).
PLACEHOLDER_KEY = "EMPTY"
# A reply to a plain (not reasoning-first) expected-mode request needs only the prefix, the
# score's digits and the token after a "1"; more would spend time on text nobody reads.
EXPECTED_REPLY_TOKENS = 16
# Errors that every request would meet the same way: the judge is misconfigured.
_FATAL_ERRORS = (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)
_SCORE_TOKENS = {str(score): score for score in range(11)}


class OpenAIJudge(Scorer):
    """A judge served over the OpenAI chat completions protocol.

    Each request is sent ``num_samples`` times (at ``temperature``, each with its own
    ``seed``), at most ``max_concurrency`` at once; images go inline as PNG data URLs,
    downscaled to at most ``max_pixels`` pixels when that is set. The key is read from the
    environment variable ``api_key_env`` when the judge loads (in its worker); it is never
    part of the fingerprint, a judgement, a log line or an error.
    """

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
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"Unsupported base_url {base_url!r}; expected an http(s):// URL")
        if not model:
            raise ValueError("model is empty; expected the model name that the server serves")
        if api_key_env == "":
            raise ValueError("api_key_env is empty; expected a variable name, or null for none")
        if score_mode not in SCORE_MODES:
            raise ValueError(
                f"Unsupported score_mode {score_mode!r}. Supported score modes: {list(SCORE_MODES)}"
            )
        if reduce not in REDUCTIONS:
            raise ValueError(f"Unsupported reduce {reduce!r}. Supported: {list(REDUCTIONS)}")
        counts = {
            "batch_size": batch_size,
            "max_concurrency": max_concurrency,
            "max_tokens": max_tokens,
            "top_logprobs": top_logprobs,
            "num_samples": num_samples,
        }
        for name, value in counts.items():
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value!r}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {max_retries!r}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        if not (math.isfinite(temperature) and temperature >= 0):
            raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
        if num_samples > 1 and temperature == 0:
            raise ValueError(
                f"num_samples={num_samples} needs temperature > 0, got temperature={temperature}:"
                " greedy samples are identical and would fake a spread of zero"
            )
        if max_pixels is not None and max_pixels < 1:
            raise ValueError(
                f"max_pixels must be a positive pixel count or null, got {max_pixels!r}"
            )
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

    def fingerprint(self) -> dict[str, Any]:
        # Concurrency, timeouts, retries and batch size change when a verdict arrives, not
        # what it is; the key is a credential, not a parameter.
        return {
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
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

    def load(self, devices: Sequence[str]) -> None:
        """Build the client; an API judge holds no model, so ``devices`` is not used."""
        if self.api_key_env is None:
            api_key = PLACEHOLDER_KEY
        else:
            api_key = os.environ.get(self.api_key_env, "")
            if not api_key:
                raise EditbenchError(
                    f"The judge's API key variable {self.api_key_env} is not set; export it,"
                    " or set scorer.api_key_env=null for a server that needs no key"
                )
        self._api_key = api_key
        self._client = openai.OpenAI(
            base_url=self.base_url,
            api_key=api_key,
            timeout=self.timeout_s,
            max_retries=self.max_retries,
        )
        log.info("judging with %s at %s (%s mode)", self.model, self.base_url, self.score_mode)

    def score(self, requests: Sequence[JudgeRequest]) -> list[Judgement]:
        if self.score_mode == "expected" and any(request.criteria for request in requests):
            # Setup rejects this configuration (prompts.check_rubrics); never guess a score.
            raise ValueError("Rubric requests need score_mode='generate', not 'expected'")
        n = self.num_samples
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            conversations = list(pool.map(self._conversation, requests))
            jobs = [
                (request, messages, seed)
                for request, (messages, seeds) in zip(requests, conversations, strict=True)
                for seed in seeds
            ]
            verdicts = list(pool.map(lambda job: self._judge_once(*job), jobs))
        return [self._merge(verdicts[i * n : (i + 1) * n]) for i in range(len(requests))]

    def _conversation(self, request: JudgeRequest) -> tuple[list[dict[str, Any]], list[int]]:
        """The request's messages in the API's format, and the seed of each judge sample.

        Seeds come from the messages with each image named by its content hash, so a request
        gets the same seeds wherever its images are stored (the local judge derives its own
        the same way).
        """
        messages, named = [], []
        for message in request.messages:
            parts, named_parts = [], []
            for part in message["content"]:
                if part["type"] == "image":
                    url, digest = _image_url(part["image"], self.max_pixels)
                    parts.append({"type": "image_url", "image_url": {"url": url}})
                    named_parts.append({"type": "image", "image": digest})
                else:
                    parts.append(part)
                    named_parts.append(part)
            messages.append({**message, "content": parts})
            named.append({**message, "content": named_parts})
        text = json.dumps(named, sort_keys=True, ensure_ascii=False)
        return messages, [_sample_seed(text, index) for index in range(self.num_samples)]

    def _judge_once(
        self, request: JudgeRequest, messages: list[dict[str, Any]], seed: int
    ) -> Judgement:
        """One judge sample: one request to the server, read per the score mode."""
        try:
            completion = self._client.chat.completions.create(
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
        try:
            return self._read(request, completion)
        except _Unreadable as error:
            return Judgement(PARSE_ERROR, error.reply, error=str(error))

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
        if self.score_mode == "expected":
            params["logprobs"] = True
            params["top_logprobs"] = self.top_logprobs
            if not request.reasoning_first:
                params["max_tokens"] = min(self.max_tokens, EXPECTED_REPLY_TOKENS)
        return params

    def _read(self, request: JudgeRequest, completion: ChatCompletion) -> Judgement:
        """The judgement of one reply; raises :class:`_Unreadable` when it states no score."""
        if not completion.choices:
            return Judgement(API_ERROR, "", error="the server returned no choices")
        choice = completion.choices[0]
        reply = choice.message.content or ""
        if choice.finish_reason == "content_filter":
            return Judgement(CONTENT_FILTER, reply, error="the server's content filter stopped it")
        if choice.message.refusal:
            return Judgement(REFUSAL, choice.message.refusal, error="the judge refused to answer")
        if choice.finish_reason == "stop" and not reply.strip():
            return Judgement(REFUSAL, reply, error="the judge stopped without a reply")
        if self.score_mode == "expected":
            if choice.logprobs is None or not choice.logprobs.content:
                raise _Unreadable("server returned no logprobs", reply)
            probs = _score_distribution(request, choice.logprobs.content, reply)
            return Judgement(
                OK,
                reply,
                score=sum(score * p for score, p in enumerate(probs)),
                distribution=probs,
                entropy=_entropy(probs),
            )
        cut = " (cut at max_tokens)" if choice.finish_reason == "length" else ""
        if request.criteria:
            criteria = parse_criteria(reply, request.criteria)
            if criteria is None:
                names = list(request.criteria)
                raise _Unreadable(
                    f"the reply ends with no certain JSON object of the criteria {names}{cut}",
                    reply,
                )
            score = combine_criteria(criteria, request.criteria, request.combine)
            return Judgement(OK, reply, score=score, criteria=criteria)
        score = parse_score(reply)
        if score is None:
            raise _Unreadable(f"the reply states no certain score{cut}", reply)
        return Judgement(OK, reply, score=score)

    def _merge(self, samples: list[Judgement]) -> Judgement:
        """One request's judgement from its judge samples, as the local judge makes it.

        A single sample is the judgement. Of several, the score is the ``reduce`` of the samples
        that gave one (ok if any did; else the first sample's failure), and ``samples`` keeps
        every sample's score, None where it failed. Every reply is kept, each under a header
        naming its sample. A rubric's criteria are each reduced on their own; in expected mode
        the distribution is the mean of the samples' distributions.
        """
        if len(samples) == 1:
            return samples[0]
        scores = [sample.score for sample in samples]
        reply = "\n\n".join(
            f"--- judge sample {k} of {len(samples)} ---\n{sample.reply}"
            for k, sample in enumerate(samples, start=1)
        )
        ok = [sample for sample in samples if sample.status == OK]
        if not ok:
            first = samples[0]
            error = f"no judge sample gave a score; the first: {first.error}"
            return Judgement(first.status, reply, error=error, samples=scores)
        score, spread = reduce_samples(scores, self.reduce)
        criteria = None
        if ok[0].criteria is not None:
            criteria = {
                name: reduce_samples([sample.criteria[name] for sample in ok], self.reduce)[0]
                for name in ok[0].criteria
            }
        distribution = entropy = None
        if ok[0].distribution is not None:
            distribution = [
                math.fsum(column) / len(ok)
                for column in zip(*(sample.distribution for sample in ok), strict=True)
            ]
            entropy = _entropy(distribution)
        return Judgement(
            OK,
            reply,
            score=score,
            distribution=distribution,
            entropy=entropy,
            criteria=criteria,
            samples=scores,
            spread=spread,
        )

    def _describe(self, error: openai.APIError) -> str:
        """The error's type and text, with the key blanked should a server echo it back."""
        text = f"{type(error).__name__}: {error}"
        return text if self.api_key_env is None else text.replace(self._api_key, "***")


class _Unreadable(Exception):
    """A reply from which no certain score can be read: a ``parse_error``."""

    def __init__(self, reason: str, reply: str) -> None:
        super().__init__(reason)
        self.reply = reply


def _image_url(path: str, max_pixels: int | None) -> tuple[str, str]:
    """A PNG data URL of the image, at most ``max_pixels`` pixels, and the file's sha256."""
    data = Path(path).read_bytes()
    with Image.open(io.BytesIO(data)) as opened:
        image = opened.convert("RGB")
    width, height = image.size
    if max_pixels is not None and width * height > max_pixels:
        scale = math.sqrt(max_pixels / (width * height))
        size = (max(1, int(width * scale)), max(1, int(height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return url, hashlib.sha256(data).hexdigest()


def _sample_seed(conversation: str, index: int) -> int:
    """The seed of judge sample ``index`` of a conversation (JSON, images named by content)."""
    digest = hashlib.sha256(f"{conversation}/{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # fits a signed 64-bit seed


def _score_distribution(
    request: JudgeRequest, tokens: list[ChatCompletionTokenLogprob], reply: str
) -> list[float]:
    """The probability of each score 0..10 at the reply's score position (see the module
    docstring for the position and for how "10" is read)."""
    index = _score_position(request, tokens, reply)
    at = tokens[index]
    if not at.top_logprobs:
        raise _Unreadable("server returned no top_logprobs", reply)
    probs = [0.0] * 11
    for alternative in at.top_logprobs:
        score = _SCORE_TOKENS.get(alternative.token.strip())
        if score is not None:
            probs[score] += math.exp(alternative.logprob)
    if at.token.strip() == "1" and index + 1 < len(tokens):
        after_one = tokens[index + 1].top_logprobs
        zero = math.fsum(math.exp(t.logprob) for t in after_one if t.token == "0")
        probs[1], probs[10] = probs[1] * (1 - zero), probs[10] + probs[1] * zero
    total = math.fsum(probs)
    if total == 0:
        raise _Unreadable("no score token among the top logprobs at the score position", reply)
    return [p / total for p in probs]


def _score_position(
    request: JudgeRequest, tokens: list[ChatCompletionTokenLogprob], reply: str
) -> int:
    """The index of the token where the reply writes its score.

    Positions are counted in bytes, since a token may hold part of a character (a full-width
    prefix such as "评分：" is several byte-level tokens).
    """
    pieces = [bytes(t.bytes) if t.bytes is not None else t.token.encode() for t in tokens]
    written = b"".join(pieces)
    prefix = request.score_prefix.encode()
    found = written.find(prefix)
    if found >= 0:
        start = found + len(prefix)
    elif not request.reasoning_first:
        start = 0  # the bare number: "7.5"
    else:
        raise _Unreadable(f"the reply never wrote the score prefix {request.score_prefix!r}", reply)
    offset = 0
    for index, piece in enumerate(pieces):
        begin, offset = offset, offset + len(piece)
        if offset <= start or not written[max(begin, start) : offset].strip():
            continue  # the prefix, or blank text between it and the score
        if begin < start or tokens[index].token.strip() not in _SCORE_TOKENS:
            found_text = piece.decode("utf-8", errors="replace")
            raise _Unreadable(f"the reply writes {found_text!r} where the score should be", reply)
        return index
    raise _Unreadable("the reply ends before its score", reply)


def _entropy(probs: Sequence[float]) -> float:
    """Entropy in nats."""
    return -math.fsum(p * math.log(p) for p in probs if p > 0)
