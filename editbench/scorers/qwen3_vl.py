"""Qwen3-VL (dense or MoE) as a judge, through transformers.

Two score modes (see DESIGN.md, "Scores"):

- ``generate``: the judge writes a reply, greedily; :func:`parse_score` reads the score from
  it, and a reply it cannot read with certainty is a ``parse_error``.
- ``expected``: the judge's next-token distribution right after the score prefix, restricted
  to the digits, gives a distribution over 0..10 and its mean is the score. With a
  reasoning-first request the judge first writes its reasoning up to the score prefix.

Every path runs through ``model.generate``: it owns the KV cache and Qwen3-VL's M-RoPE
position ids, which it derives from the attention mask, so a left-padded row of a batch gets
the same positions as the same request scored alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image
from transformers import (
    AutoModelForImageTextToText,
    AutoProcessor,
    BatchFeature,
    LogitsProcessor,
    LogitsProcessorList,
)

from editbench.errors import EditbenchError
from editbench.records import OK, PARSE_ERROR, Judgement, JudgeRequest
from editbench.scorers.base import Scorer
from editbench.scorers.parsing import parse_score, text_through_prefix

SCORE_MODES = ("expected", "generate")
DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


class Qwen3VLJudge(Scorer):
    """A Qwen3-VL judge loaded with ``AutoModelForImageTextToText``.

    ``min_pixels`` / ``max_pixels`` bound the pixel count of every image, through the
    processor's own resize (``size={"shortest_edge", "longest_edge"}``, Qwen's smart_resize to
    multiples of 32). That is the resize the processor applies anyway; qwen-vl-utils'
    ``process_vision_info`` would resize first and need the processor's resize turned off, and
    it is not installed on the GPU machines. None keeps the checkpoint's own bounds.
    """

    def __init__(
        self,
        model: str,
        revision: str | None = None,
        dtype: str = "bfloat16",
        score_mode: str = "expected",
        batch_size: int = 8,
        max_new_tokens: int = 512,
        attn_implementation: str = "sdpa",
        min_pixels: int | None = None,
        max_pixels: int | None = None,
    ) -> None:
        if score_mode not in SCORE_MODES:
            raise EditbenchError(
                f"Unsupported score_mode {score_mode!r}. Supported score modes: {list(SCORE_MODES)}"
            )
        if dtype not in DTYPES:
            raise EditbenchError(f"Unsupported dtype {dtype!r}. Supported dtypes: {list(DTYPES)}")
        for name, value in (("batch_size", batch_size), ("max_new_tokens", max_new_tokens)):
            if value < 1:
                raise EditbenchError(f"{name} must be at least 1, got {value!r}")
        for name, value in (("min_pixels", min_pixels), ("max_pixels", max_pixels)):
            if value is not None and value < 1:
                raise EditbenchError(f"{name} must be a positive pixel count, got {value!r}")
        if min_pixels is not None and max_pixels is not None and min_pixels > max_pixels:
            raise EditbenchError(
                f"min_pixels ({min_pixels}) is larger than max_pixels ({max_pixels})"
            )
        self.model = model
        self.revision = revision
        self.dtype = dtype
        self.score_mode = score_mode
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.attn_implementation = attn_implementation
        self.min_pixels = min_pixels
        self.max_pixels = max_pixels

    def fingerprint(self) -> dict[str, Any]:
        # batch_size is left out: a request's judgement does not depend on its batch.
        return {
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "model": self.model,
            "revision": self.revision,
            "dtype": self.dtype,
            "score_mode": self.score_mode,
            "max_new_tokens": self.max_new_tokens,
            "attn_implementation": self.attn_implementation,
            "min_pixels": self.min_pixels,
            "max_pixels": self.max_pixels,
        }

    def load(self, devices: Sequence[str]) -> None:
        if not devices:
            raise ValueError("Qwen3VLJudge.load needs at least one device")
        if len(devices) == 1:
            placement: dict[str, Any] = {"device_map": devices[0]}
        else:
            # One judge spread over several GPUs: accelerate places whole layers on the given
            # devices only (no CPU offload), within the memory that is free on each.
            if not all(torch.device(device).type == "cuda" for device in devices):
                raise ValueError(
                    f"A judge split over several devices needs CUDA devices: {devices}"
                )
            placement = {
                "device_map": "auto",
                "max_memory": {
                    torch.device(device).index: torch.cuda.mem_get_info(device)[0]
                    for device in devices
                },
            }
        self._model = AutoModelForImageTextToText.from_pretrained(
            self.model,
            revision=self.revision,
            dtype=DTYPES[self.dtype],
            attn_implementation=self.attn_implementation,
            **placement,
        ).eval()
        self._processor = AutoProcessor.from_pretrained(
            self.model, revision=self.revision, padding_side="left"
        )
        self._images_kwargs = self._resize_kwargs()
        self._digit_ids = [_single_token(self._processor.tokenizer, str(d)) for d in range(10)]

    def score(self, requests: Sequence[JudgeRequest]) -> list[Judgement]:
        judgements: list[Judgement] = []
        for start in range(0, len(requests), self.batch_size):
            batch = requests[start : start + self.batch_size]
            if self.score_mode == "generate":
                judgements += self._score_generated(batch)
            else:
                judgements += self._score_expected(batch)
        return judgements

    def _score_generated(self, batch: Sequence[JudgeRequest]) -> list[Judgement]:
        judgements = []
        for reply in self._generate(batch, stop_string=None):
            score = parse_score(reply)
            if score is None:
                error = "the reply states no certain score"
                judgements.append(Judgement(PARSE_ERROR, reply, error=error))
            else:
                judgements.append(Judgement(OK, reply, score=score))
        return judgements

    def _score_expected(self, batch: Sequence[JudgeRequest]) -> list[Judgement]:
        # What the judge has written when the score comes: the bare prefix, or for a
        # reasoning-first request its reasoning through the prefix (None if it never wrote it).
        written: list[str | None] = [request.score_prefix for request in batch]
        replies = [""] * len(batch)
        # One generate call per score prefix, since a stop string ends every row of its call.
        for prefix in sorted({r.score_prefix for r in batch if r.reasoning_first}):
            indices = [
                i for i, r in enumerate(batch) if r.reasoning_first and r.score_prefix == prefix
            ]
            reasoned = self._generate([batch[i] for i in indices], stop_string=prefix)
            for i, reply in zip(indices, reasoned, strict=True):
                replies[i] = reply
                written[i] = text_through_prefix(reply, prefix)

        # The reasoning is read again as part of the prompt rather than continued from the
        # generation's KV cache: one more prefill, but the text is tokenized exactly as in a
        # plain expected-mode request, and rows that stopped early need no special handling.
        ready = [i for i, text in enumerate(written) if text is not None]
        distributions = iter(
            self._score_distributions(
                [batch[i] for i in ready], [_before_score_digit(written[i]) for i in ready]
            )
        )
        judgements = []
        for request, reply, text in zip(batch, replies, written, strict=True):
            if text is None:
                error = f"the reply never wrote the score prefix {request.score_prefix!r}"
                judgements.append(Judgement(PARSE_ERROR, reply, error=error))
            else:
                reply = text if request.reasoning_first else ""
                judgements.append(_expected_judgement(next(distributions), reply))
        return judgements

    def _generate(self, batch: Sequence[JudgeRequest], stop_string: str | None) -> list[str]:
        """Greedy replies, each ending at the end of turn or right after ``stop_string``."""
        inputs = self._inputs(batch, [""] * len(batch))
        output = self._model.generate(
            **inputs,
            do_sample=False,
            max_new_tokens=self.max_new_tokens,
            stop_strings=stop_string,
            tokenizer=self._processor.tokenizer,
        )
        return self._processor.batch_decode(
            output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True
        )

    def _score_distributions(
        self, batch: Sequence[JudgeRequest], assistant_texts: Sequence[str]
    ) -> torch.Tensor:
        """The probability of each score 0..10 after each assistant text, shape (n, 11).

        The first digit's distribution is the next-token distribution restricted to "0".."9".
        "1" is ambiguous: it starts "1" and "10". A second step, with "1" forced into every row
        and the KV cache reused, gives q = p("0" | "1") over the whole vocabulary; then
        p(10) = p("1") q and p(1) = p("1") (1 - q). Nothing above 10 can be reached this way.
        """
        if not batch:
            return torch.empty(0, 11)
        inputs = self._inputs(batch, assistant_texts)
        one, zero = self._digit_ids[1], self._digit_ids[0]
        output = self._model.generate(
            **inputs,
            do_sample=False,
            max_new_tokens=2,
            logits_processor=LogitsProcessorList([_ForceToken(one)]),
            output_logits=True,  # the raw logits, before _ForceToken rewrites them
            return_dict_in_generate=True,
        )
        first_logits, after_one_logits = (logits.float().cpu() for logits in output.logits)
        first = first_logits[:, self._digit_ids].softmax(-1)
        zero_after_one = after_one_logits.softmax(-1)[:, zero]
        probs = torch.cat(
            [
                first[:, :1],
                (first[:, 1] * (1 - zero_after_one))[:, None],
                first[:, 2:],
                (first[:, 1] * zero_after_one)[:, None],
            ],
            dim=1,
        )
        return probs / probs.sum(-1, keepdim=True)

    def _inputs(
        self, batch: Sequence[JudgeRequest], assistant_texts: Sequence[str]
    ) -> BatchFeature:
        """Processor inputs for each rendered conversation continued by an assistant text."""
        texts = [
            self._processor.apply_chat_template(
                request.messages, add_generation_prompt=True, tokenize=False
            )
            + assistant_text
            for request, assistant_text in zip(batch, assistant_texts, strict=True)
        ]
        images = [_load_image(path) for request in batch for path in _image_paths(request)]
        inputs = self._processor(
            text=texts,
            images=images or None,
            padding=True,
            return_tensors="pt",
            images_kwargs=self._images_kwargs,
        )
        return inputs.to(self._model.device)

    def _resize_kwargs(self) -> dict[str, Any]:
        if self.min_pixels is None and self.max_pixels is None:
            return {}
        size = dict(self._processor.image_processor.size)
        if self.min_pixels is not None:
            size["shortest_edge"] = self.min_pixels
        if self.max_pixels is not None:
            size["longest_edge"] = self.max_pixels
        return {"size": size}


def _expected_judgement(distribution: torch.Tensor, reply: str) -> Judgement:
    """An ok judgement from a distribution over the scores 0..10."""
    return Judgement(
        OK,
        reply,
        score=float((distribution * torch.arange(11.0)).sum()),
        distribution=distribution.tolist(),
        entropy=float(-torch.special.xlogy(distribution, distribution).sum()),
    )


class _ForceToken(LogitsProcessor):
    """Makes ``token_id`` the only possible next token."""

    def __init__(self, token_id: int) -> None:
        self.token_id = token_id

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        forced = torch.full_like(scores, -math.inf)
        forced[:, self.token_id] = 0
        return forced


def _before_score_digit(text: str) -> str:
    """``text`` (ending with the score prefix) as the judge writes it right before the digit.

    Qwen's pre-tokenizer makes every digit a token of its own and never glues a space to it:
    "Score: 7" is "Score", ":", " ", "7". After an ASCII prefix the score's first digit
    therefore follows a standalone " " token, which the assistant text must end with, or the
    distribution would be read one token early. After full-width punctuation ("评分：7") the
    digit follows directly.
    """
    if not text or text[-1].isspace() or not text[-1].isascii():
        return text
    return text + " "


def _single_token(tokenizer: Any, text: str) -> int:
    ids = tokenizer.encode(text, add_special_tokens=False)
    if len(ids) != 1:
        raise ValueError(f"Expected {text!r} to be one token, got {ids}; expected mode needs it")
    return ids[0]


def _image_paths(request: JudgeRequest) -> list[str]:
    """The request's image paths, in the order the chat template places them."""
    return [
        part["image"]
        for message in request.messages
        for part in message["content"]
        if part.get("type") == "image"
    ]


def _load_image(path: str) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")
