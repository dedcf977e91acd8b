"""Qwen3-VL (dense or MoE) as a judge, through transformers.

Two score modes:

- ``generate``: the judge writes a reply; :func:`parse_score` reads the score from it (for a
  rubric request, :func:`parse_criteria` reads each criterion's score and
  :func:`combine_criteria` makes them one), and a reply it cannot read with certainty is a
  ``parse_error``.
- ``expected``: the judge's next-token distribution right after the score prefix, restricted
  to the digits, gives a distribution over 0..10 and its mean is the score. With a
  reasoning-first request the judge first writes its reasoning up to the score prefix.

Repeated judging (``num_samples`` > 1, ``temperature`` > 0) draws several replies per request
and reduces their scores to one, keeping each sample's score and their spread. Only written
text can differ between samples, so in expected mode only reasoning-first requests are
sampled; a plain one is read once. Each sample has a seed of its own, derived from the
request's conversation (its images by content) and the sample's index, as for the API judge
(:mod:`editbench.judges.draws`), and each row of a batch draws from its own generator
(:class:`~editbench.judges.logits.SeededSampler`): a request's samples are the same whatever
batch it is in, in any order, on any number of devices of one type, up to the float rounding
that batching brings to the greedy path as well.

Written replies come from ``model.generate``; a score's distribution from one forward without
a KV cache (:meth:`Qwen3VLJudge._score_distributions`). Both derive Qwen3-VL's M-RoPE position
ids from the attention mask, so a left-padded row of a batch gets the same positions as the
same request scored alone.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import weakref
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

import torch
from transformers import (
    AutoModelForImageTextToText,
    AutoProcessor,
    BatchFeature,
    LogitsProcessor,
    LogitsProcessorList,
)

from editbench.choices import Dtype
from editbench.errors import EditbenchError
from editbench.judges.base import Judge
from editbench.judges.batch_fit import (
    CPU_AUTO_BATCH_SIZE,
    batch_key,
    kv_bytes_per_token,
    measured_size,
)
from editbench.judges.batch_memory import recall, remember
from editbench.judges.draws import (
    conversation_by_content,
    draw_seed,
    expected_judgement,
    merge_draws,
    read_reply,
)
from editbench.judges.logits import SeededSampler
from editbench.judges.parsing import text_through_prefix
from editbench.judges.qwen3_vl_inputs import (
    before_score_digit,
    conversation_inputs,
    first_passes,
    inputs_key,
    prepare_in_process,
    request_size,
    start_preparer,
    started,
)
from editbench.judges.settings import check_judge_settings
from editbench.records import PARSE_ERROR, Judgement, JudgeRequest

log = logging.getLogger(__name__)

AUTO = "auto"
BACKOFF = 0.8  # an auto batch that runs out of memory is retried at this share of its size
# How compile=true compiles the model's blocks: inductor's default kernels. Autotuning them
# (max-autotune-no-cudagraphs) for dynamic shapes took over 9 minutes on the 30B-A3B and had
# not finished; CUDA graphs would be recorded again for every batch shape.
COMPILE_MODE = "default"
# Prepared inputs of a GPU judge are pinned, for an asynchronous copy to the device.
PIN_PREPARED = True
DTYPES = {dtype.value: getattr(torch, dtype.value) for dtype in Dtype}


class Qwen3VLJudge(Judge):
    """A Qwen3-VL judge loaded with ``AutoModelForImageTextToText``.

    ``min_pixels`` / ``max_pixels`` bound the pixel count of every image, through the
    processor's own resize (``size={"shortest_edge", "longest_edge"}``, Qwen's smart_resize to
    multiples of 32). That is the resize the processor applies anyway; qwen-vl-utils'
    ``process_vision_info`` would resize first and need the processor's resize turned off, and
    it is not installed on the GPU machines. None keeps the checkpoint's own bounds.

    ``temperature`` 0 decodes greedily, one reply per request. Above 0, each request gets
    ``num_samples`` replies drawn at that temperature from the whole vocabulary (no top-k or
    top-p), and its score is their ``reduce`` (mean or median).
    """

    name = "qwen3_vl"
    version = 1

    def __init__(
        self,
        model: str,
        revision: str | None = None,
        dtype: str = "bfloat16",
        score_mode: str = "expected",
        batch_size: int | str = AUTO,
        max_batch_size: int = 64,
        max_new_tokens: int = 512,
        attn_implementation: str = "sdpa",
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        num_samples: int = 1,
        temperature: float = 0.0,
        reduce: str = "mean",
        prepare_processes: int | None = None,
        compile: bool = False,
    ) -> None:
        check_judge_settings(
            score_mode=score_mode,
            reduce=reduce,
            num_samples=num_samples,
            temperature=temperature,
            max_pixels=max_pixels,
        )
        if dtype not in Dtype.values():
            raise EditbenchError(f"dtype={dtype!r}; expected one of {Dtype.values()}")
        if batch_size != AUTO and not isinstance(batch_size, int):
            raise EditbenchError(f"batch_size must be an integer or {AUTO!r}, got {batch_size!r}")
        for name, value in (
            ("batch_size", 1 if batch_size == AUTO else batch_size),
            ("max_batch_size", max_batch_size),
            ("max_new_tokens", max_new_tokens),
        ):
            if value < 1:
                raise EditbenchError(f"{name} must be at least 1, got {value!r}")
        if prepare_processes is not None and prepare_processes < 0:
            raise EditbenchError(f"prepare_processes must be >= 0, got {prepare_processes!r}")
        if min_pixels is not None and min_pixels < 1:
            raise EditbenchError(
                f"min_pixels must be a positive pixel count or null, got {min_pixels!r}"
            )
        if min_pixels is not None and max_pixels is not None and min_pixels > max_pixels:
            raise EditbenchError(
                f"min_pixels ({min_pixels}) is larger than max_pixels ({max_pixels})"
            )
        self.model = model
        self.revision = revision
        self.dtype = dtype
        self.score_mode = score_mode
        # With "auto", the most a worker may hand over until fit_batch_size settles it.
        self.auto_batch_size = batch_size == AUTO
        self.batch_size = max_batch_size if self.auto_batch_size else batch_size
        self.max_batch_size = max_batch_size
        self.max_new_tokens = max_new_tokens
        self.attn_implementation = attn_implementation
        self.min_pixels = min_pixels
        self.max_pixels = max_pixels
        self.num_samples = num_samples
        self.temperature = float(temperature)  # 1 and 1.0 must fingerprint alike
        self.reduce = reduce
        self.prepare_processes = prepare_processes
        self.compile = compile
        self._prepare_processes: int | None = None  # settled by start()
        self._fit_key: dict[str, Any] | None = None  # what the fitted batch size is kept under
        self._fitted_free = 0
        self._pool: ProcessPoolExecutor | None = None

    def settings(self) -> dict[str, Any]:
        # batch sizes are left out: a request's judgement does not depend on its batch.
        return {
            "model": self.model,
            "revision": self.revision,
            "dtype": self.dtype,
            "score_mode": self.score_mode,
            "max_new_tokens": self.max_new_tokens,
            "attn_implementation": self.attn_implementation,
            "min_pixels": self.min_pixels,
            "max_pixels": self.max_pixels,
            "num_samples": self.num_samples,
            "temperature": self.temperature,
            "reduce": self.reduce,
            # Only when set: compiled kernels may round differently, and the judgements of an
            # eager judge keep the keys they always had.
            **({"compile": True} if self.compile else {}),
        }

    def load(self, devices: Sequence[str]) -> None:
        if not devices:
            raise ValueError("Qwen3VLJudge.load needs at least one device")
        if len(devices) == 1:
            placement: dict[str, Any] = {"device_map": devices[0]}
        else:
            # One judge spread over several GPUs: accelerate places whole layers on the given
            # devices only (no CPU offload), within the memory that is free on each.
            if not _on_gpu(devices):
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
        self._devices = list(devices)
        self._model = self.read_model(placement).eval()
        if self.compile:
            compile_blocks(self._model)
        self._processor = AutoProcessor.from_pretrained(
            self.model, revision=self.revision, padding_side="left"
        )
        self._images_kwargs = self._resize_kwargs()
        # prepare() runs on another thread; a fast tokenizer must not be used by two at once.
        self._processor_lock = threading.Lock()
        self._prepared: dict[Any, BatchFeature] = {}
        self.start(devices)
        self._digit_ids = [_single_token(self._processor.tokenizer, str(d)) for d in range(10)]

    def start(self, devices: Sequence[str]) -> None:
        """Start the preparing processes (``prepare_processes``; by default one for a GPU judge,
        none on the CPU): spawn, imports and the processor take seconds, which the first batch
        would otherwise wait for. Once per judge."""
        if self._prepare_processes is not None:
            return
        default = 1 if _on_gpu(devices) else 0
        self._prepare_processes = (
            default if self.prepare_processes is None else self.prepare_processes
        )
        if self._prepare_processes:
            self._preparers().submit(started)
            log.info("starting %d preparing process(es)", self._prepare_processes)

    def close(self) -> None:
        """Stop the preparing processes. Explicitly: a process whose work is done joins its
        children before it exits, and would wait for them for ever if the pool's own shutdown
        (when the judge is collected) has not come first."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def read_model(self, placement: dict[str, Any]) -> torch.nn.Module:
        """The model's weights, read onto the devices that ``placement`` (``device_map`` and
        ``max_memory`` for ``from_pretrained``) names. Everything else in :meth:`load` depends
        on this alone: a subclass can build the model another way (the benchmarks build
        full-size random weights on the GPU)."""
        with _sequential_weight_reads():
            return AutoModelForImageTextToText.from_pretrained(
                self.model,
                revision=self.revision,
                dtype=DTYPES[self.dtype],
                attn_implementation=self.attn_implementation,
                **placement,
            )

    def fit_batch_size(self, requests: Sequence[JudgeRequest]) -> None:
        """With ``batch_size="auto"``, the most requests like the largest of ``requests`` that
        fit in the free memory of every device, at most ``max_batch_size``: remembered from an
        earlier run with these settings, card, request size and free memory, or measured
        (:mod:`editbench.judges.batch_fit`). Larger images later in the run can still run out
        of memory: then :meth:`score` retries with a smaller batch (:data:`BACKOFF`).
        """
        if not self.auto_batch_size:
            return
        devices = [torch.device(device) for device in self._devices]
        if not requests or any(device.type != "cuda" for device in devices):
            self.batch_size = min(CPU_AUTO_BATCH_SIZE, self.max_batch_size)
            log.info("batch_size auto: %d (no device memory to measure)", self.batch_size)
            return
        probe = max(requests, key=request_size)
        generated = self.decode_bound([probe])
        torch.cuda.empty_cache()
        # Free memory before the probes: what they hold afterwards stays in torch's cache.
        free = {device: torch.cuda.mem_get_info(device)[0] for device in devices}
        self._fit_key = batch_key(self.settings(), probe, devices, generated)
        self._fitted_free = min(free.values())
        if (known := recall(self._fit_key, self._fitted_free)) is not None:
            self.batch_size = min(self.max_batch_size, known.batch_size)
            log.info("batch_size auto: %d (remembered)", self.batch_size)
            return
        cache = kv_bytes_per_token(self._model) * self.max_new_tokens if generated else 0
        text = before_score_digit(probe.score_prefix)

        def score(count: int) -> None:
            self._score_distributions([probe] * count, [text] * count)

        fitted = measured_size(score, devices, free, cache, self.max_batch_size)
        remember(self._fit_key, fitted, self._fitted_free)
        self.batch_size = min(self.max_batch_size, fitted)
        log.info("batch_size auto: %d", self.batch_size)

    def decode_bound(self, requests: Sequence[JudgeRequest]) -> bool:
        """Whether any of ``requests`` has its reply generated (a reply of several scores, the
        generate mode, reasoning before the score): then a batch costs its decoding steps,
        ``max_new_tokens`` of them at most, at any size."""
        return any(r.mode(self.score_mode) == "generate" or r.reasoning_first for r in requests)

    def prepare(self, requests: Sequence[JudgeRequest]) -> dict[Any, BatchFeature]:
        """The processor inputs of the first model pass of each batch :meth:`score` will run.

        For a GPU judge they are made in a process of their own (``prepare_processes``): the
        processor's Python would otherwise hold the GIL that the thread driving the GPU needs
        to launch its kernels. They come back through shared memory, cast to the judge's dtype
        (the cast the model makes anyway), and are pinned here, so that the copy to the GPU is
        asynchronous. Later passes depend on what the judge writes and are made when they come.
        """
        passes = first_passes(requests, self.batch_size, self.score_mode)
        if self._prepare_processes:
            made = self._preparers().submit(
                prepare_in_process, passes, self._images_kwargs, DTYPES[self.dtype]
            )
            inputs = made.result()
        else:
            inputs = [self._processor_inputs(rows, texts) for rows, texts in passes]
        if PIN_PREPARED and self._model.device.type == "cuda":
            inputs = [BatchFeature({k: v.pin_memory() for k, v in one.items()}) for one in inputs]
        return {
            inputs_key(rows, texts): one for (rows, texts), one in zip(passes, inputs, strict=True)
        }

    def _preparers(self) -> ProcessPoolExecutor:
        """The processes that make processor inputs, started on first use."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self._prepare_processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=start_preparer,
                # Half the cores: the rest keep the thread that drives the GPU going.
                initargs=(
                    self.model,
                    self.revision,
                    max(1, torch.get_num_threads() // 2),
                    os.getpid(),
                ),
            )
            weakref.finalize(self, self._pool.shutdown, wait=False, cancel_futures=True)
        return self._pool

    def score(
        self, requests: Sequence[JudgeRequest], prepared: dict[Any, BatchFeature] | None = None
    ) -> list[Judgement]:
        self._prepared = dict(prepared or {})
        judgements: list[Judgement] = []
        try:
            while len(judgements) < len(requests):
                batch = requests[len(judgements) : len(judgements) + self.batch_size]
                try:
                    drawn = self._score_batch(batch)
                except torch.OutOfMemoryError:
                    if not self.auto_batch_size or self.batch_size == 1:
                        raise
                    self.batch_size = min(self.batch_size - 1, int(self.batch_size * BACKOFF))
                    if self._fit_key is not None:  # so that the next run starts at a size that fits
                        remember(self._fit_key, self.batch_size, self._fitted_free)
                    log.warning(
                        "out of memory at batch %d: batch_size auto now %d",
                        len(batch),
                        self.batch_size,
                    )
                    torch.cuda.empty_cache()
                    continue
                judgements += [merge_draws(samples, self.reduce) for samples in drawn]
        finally:
            self._prepared = {}
        return judgements

    def _score_batch(self, batch: Sequence[JudgeRequest]) -> list[list[Judgement]]:
        """Each request's draws: generated and parsed where the request is read so (every
        request in generate mode; those of several numbers in expected mode), then read from
        the score distribution where expected mode can read it. The order is the one
        :func:`first_passes` prepares for."""
        generated = [i for i, r in enumerate(batch) if r.mode(self.score_mode) == "generate"]
        expected = [i for i, r in enumerate(batch) if r.mode(self.score_mode) == "expected"]
        drawn: list[list[Judgement]] = [[] for _ in batch]
        for rows, score in ((generated, self._score_generated), (expected, self._score_expected)):
            if rows:
                for i, draws in zip(rows, score([batch[i] for i in rows]), strict=True):
                    drawn[i] = draws
        return drawn

    def _samples(self) -> list[int | None]:
        """The index of each judge sample of a request; None is the single greedy reply."""
        return [None] if self.temperature == 0 else list(range(self.num_samples))

    def _score_generated(self, batch: Sequence[JudgeRequest]) -> list[list[Judgement]]:
        """Each request's judge samples, each a reply read by the strict parser."""
        drawn: list[list[Judgement]] = [[] for _ in batch]
        for sample in self._samples():
            replies = self._generate(batch, stop_string=None, sample=sample)
            for samples, request, reply in zip(drawn, batch, replies, strict=True):
                samples.append(read_reply(request, reply))
        return drawn

    def _score_expected(self, batch: Sequence[JudgeRequest]) -> list[list[Judgement]]:
        """Each request's judge samples, each read from the distribution at its score prefix."""
        # Per request and judge sample, the reply and what the judge has written when the score
        # comes: a plain request has written only its prefix (once: there is nothing to sample),
        # a reasoning-first one its reasoning through the prefix (None if it never wrote it).
        drafts: list[list[tuple[str, str | None]]] = [
            [] if request.reasoning_first else [("", request.score_prefix)] for request in batch
        ]
        for sample in self._samples():
            # One generate call per score prefix, since a stop string ends every row of its call.
            for prefix in sorted({r.score_prefix for r in batch if r.reasoning_first}):
                indices = [
                    i for i, r in enumerate(batch) if r.reasoning_first and r.score_prefix == prefix
                ]
                replies = self._generate([batch[i] for i in indices], prefix, sample)
                for i, reply in zip(indices, replies, strict=True):
                    drafts[i].append((reply, text_through_prefix(reply, prefix)))

        # The reasoning is read again as part of the prompt rather than continued from the
        # generation's KV cache: one more prefill, but the text is tokenized exactly as in a
        # plain expected-mode request, and rows that stopped early need no special handling.
        ready = [
            (i, k)
            for i, request_drafts in enumerate(drafts)
            for k, (_, text) in enumerate(request_drafts)
            if text is not None
        ]
        distributions: dict[tuple[int, int], torch.Tensor] = {}
        for start in range(0, len(ready), self.batch_size):
            rows = ready[start : start + self.batch_size]
            assistant_texts = [before_score_digit(drafts[i][k][1]) for i, k in rows]
            probs = self._score_distributions([batch[i] for i, _ in rows], assistant_texts)
            distributions.update(zip(rows, probs, strict=True))

        drawn: list[list[Judgement]] = []
        for i, (request, request_drafts) in enumerate(zip(batch, drafts, strict=True)):
            samples = []
            for k, (reply, text) in enumerate(request_drafts):
                if text is None:
                    error = f"the reply never wrote the score prefix {request.score_prefix!r}"
                    samples.append(Judgement(PARSE_ERROR, reply, error=error))
                else:
                    written = text if request.reasoning_first else ""
                    samples.append(
                        expected_judgement(distributions[i, k].tolist(), written, request.scale)
                    )
            drawn.append(samples)
        return drawn

    def _generate(
        self, batch: Sequence[JudgeRequest], stop_string: str | None, sample: int | None
    ) -> list[str]:
        """Each request's reply, ending at the end of turn or right after ``stop_string``:
        greedy when ``sample`` is None, else drawn with that judge sample's seeds."""
        inputs = self._inputs(batch, [""] * len(batch))
        sampler: list[LogitsProcessor] = []
        if sample is not None:
            seeds = [draw_seed(conversation_by_content(r), sample) for r in batch]
            sampler.append(SeededSampler(seeds, self.temperature))
        # Compiled blocks would compile again for every layer's cache state: generation runs
        # them eagerly.
        with torch.compiler.set_stance("force_eager" if self.compile else "default"):
            output = self._model.generate(
                **inputs,
                do_sample=False,  # SeededSampler samples, if anything does
                logits_processor=LogitsProcessorList(sampler),
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
        "1" is ambiguous: it starts "1" and "10". With "1" appended to every row, one forward
        gives both: the logits at the row's last text position (the first digit) and at the
        "1" (q = p("0" | "1") over the whole vocabulary; the causal mask keeps the appended
        token out of the first). Then p(10) = p("1") q and p(1) = p("1") (1 - q). Nothing above
        10 can be reached this way. One forward without a KV cache is what the bare model
        costs, and what ``compile=true`` compiles (a cache's state would recompile each layer).

        The arithmetic after the logits is in float64. A row's float32 logits differ by a few
        ulps with the batch it is in (the CPU's matmul kernels follow the batch's shape); float32
        softmax and renormalization rounded that up to 6e-7 in the tiny judge's score, float64
        keeps it near 1e-8, so a judgement redone in another batch matches the first.
        """
        if not batch:
            return torch.empty(0, 11, dtype=torch.float64)
        one, zero = self._digit_ids[1], self._digit_ids[0]
        inputs = _with_token_appended(self._inputs(batch, assistant_texts), one)
        with torch.inference_mode():
            logits = self._model(**inputs, use_cache=False, logits_to_keep=2).logits
        first_logits, after_one_logits = logits[:, 0].double().cpu(), logits[:, 1].double().cpu()
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
        """On the model's device, the processor inputs for each rendered conversation continued
        by an assistant text: prepared ahead if :meth:`prepare` foresaw them, else made now."""
        inputs = self._prepared.get(inputs_key(batch, assistant_texts))
        if inputs is None:
            inputs = self._processor_inputs(batch, assistant_texts)
        return inputs.to(self._model.device, non_blocking=True)

    def _processor_inputs(
        self, batch: Sequence[JudgeRequest], assistant_texts: Sequence[str]
    ) -> BatchFeature:
        """Processor inputs (on the CPU) for each conversation continued by an assistant text."""
        with self._processor_lock:
            return conversation_inputs(self._processor, self._images_kwargs, batch, assistant_texts)

    def _resize_kwargs(self) -> dict[str, Any]:
        if self.min_pixels is None and self.max_pixels is None:
            return {}
        size = dict(self._processor.image_processor.size)
        if self.min_pixels is not None:
            size["shortest_edge"] = self.min_pixels
        if self.max_pixels is not None:
            size["longest_edge"] = self.max_pixels
        return {"size": size}


def _with_token_appended(inputs: BatchFeature, token: int) -> BatchFeature:
    """``inputs`` with ``token`` added at the end of every row (rows are left-padded, so each
    ends at the last position): the token in ``input_ids``, attended to, and marked as text in
    every other per-token tensor (``mm_token_type_ids``)."""
    fills = {"input_ids": token, "attention_mask": 1, "mm_token_type_ids": 0}
    grown = dict(inputs)
    for key, fill in fills.items():
        if key in grown:
            column = torch.full_like(grown[key][:, :1], fill)
            grown[key] = torch.cat([grown[key], column], dim=1)
    return BatchFeature(grown)


def compile_blocks(model: torch.nn.Module) -> None:
    """torch.compile, in place, each decoder layer of the language model and each block of
    the vision tower: the first batches pay for compiling (102 s for the 30B-A3B on an H200),
    the rest run faster (its expected-mode scoring at 1.47x the bare forward, docs/benchmarks.md).
    Shapes are dynamic, so that a run's batch sizes and sequence lengths, which vary from batch
    to batch, do not each compile again."""
    inner = model.model
    for block in (*inner.language_model.layers, *inner.visual.blocks):
        block.compile(dynamic=True, mode=COMPILE_MODE)


def _on_gpu(devices: Sequence[str]) -> bool:
    return all(torch.device(device).type == "cuda" for device in devices)


@contextmanager
def _sequential_weight_reads() -> Iterator[None]:
    """transformers' loader reads tensors one after the other, not on its 4 threads (unless
    the user chose otherwise): measured faster, cold and from the page cache, for the 8B judge
    on an H100 machine (docs/benchmarks.md, "Load time")."""
    chosen = "HF_DEACTIVATE_ASYNC_LOAD" in os.environ
    os.environ.setdefault("HF_DEACTIVATE_ASYNC_LOAD", "1")
    try:
        yield
    finally:
        if not chosen:
            del os.environ["HF_DEACTIVATE_ASYNC_LOAD"]


def _single_token(tokenizer: Any, text: str) -> int:
    ids = tokenizer.encode(text, add_special_tokens=False)
    if len(ids) != 1:
        raise ValueError(f"Expected {text!r} to be one token, got {ids}; expected mode needs it")
    return ids[0]
