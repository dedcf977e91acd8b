"""The CPU side of the Qwen3-VL judge: a model pass's processor inputs (the conversations
rendered with their assistant texts, the images decoded in parallel), built in the judge's own
process or ahead of time in a preparing process of its own."""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch
from transformers import AutoProcessor, BatchFeature

from editbench.judges.images import open_part, part_size
from editbench.records import JudgeRequest

DECODE_THREADS = 8  # images decoded at once while preparing a batch
PARENT_POLL_S = 0.5  # how often a preparing process checks that its worker is alive


def before_score_digit(text: str) -> str:
    """``text`` (ending with the score prefix) as the judge writes it right before the digit.

    Qwen's pre-tokenizer makes every digit a token of its own and never glues a space to it:
    "Score: 7" is "Score", ":", " ", "7". After an ASCII prefix the score's first digit
    therefore follows a standalone " " token, which the assistant text must end with, or the
    distribution would be read one token early. After full-width punctuation ("评分：7") the
    digit follows directly, as it does after markdown emphasis ("**Final Score:** **7**",
    RISEBench's format).
    """
    if not text or text[-1].isspace() or not text[-1].isascii() or text[-1] in "*_":
        return text
    return text + " "


def first_passes(
    requests: Sequence[JudgeRequest], batch_size: int, score_mode: str
) -> list[tuple[list[JudgeRequest], list[str]]]:
    """The rows and assistant texts of the first model pass of each batch of ``requests``, as
    the judge's ``_score_batch`` makes them: the generate call of the rows read by generation,
    if any; else the score distributions of plain expected-mode rows, or the first generate call
    of the first score prefix's reasoning-first rows."""
    passes = []
    for start in range(0, len(requests), batch_size):
        batch = requests[start : start + batch_size]
        generated = [r for r in batch if r.mode(score_mode) == "generate"]
        if generated:
            passes.append((generated, [""] * len(generated)))
        elif not any(r.reasoning_first for r in batch):
            passes.append((list(batch), [before_score_digit(r.score_prefix) for r in batch]))
        else:
            first = min(r.score_prefix for r in batch if r.reasoning_first)
            rows = [r for r in batch if r.reasoning_first and r.score_prefix == first]
            passes.append((rows, [""] * len(rows)))
    return passes


def conversation_inputs(
    processor: Any,
    images_kwargs: dict[str, Any],
    batch: Sequence[JudgeRequest],
    assistant_texts: Sequence[str],
) -> BatchFeature:
    """Processor inputs for each conversation continued by an assistant text."""
    texts = [
        processor.apply_chat_template(request.messages, add_generation_prompt=True, tokenize=False)
        + assistant_text
        for request, assistant_text in zip(batch, assistant_texts, strict=True)
    ]
    parts = [part for request in batch for part in request.image_parts()]
    with ThreadPoolExecutor(min(DECODE_THREADS, len(parts) or 1)) as pool:
        images = list(pool.map(open_part, parts))  # PIL decodes without the GIL
    return processor(
        text=texts,
        images=images or None,
        padding=True,
        return_tensors="pt",
        images_kwargs=images_kwargs,
    )


# In a preparing process: the processor, loaded once when the process starts.
_preparer_processor: Any = None


def start_preparer(model: str, revision: str | None, threads: int, parent: int) -> None:
    global _preparer_processor
    _exit_with_parent(parent)
    torch.set_num_threads(threads)
    _preparer_processor = AutoProcessor.from_pretrained(
        model, revision=revision, padding_side="left"
    )


def started() -> None:
    """Nothing: a task that makes a pool start its processes."""


def _exit_with_parent(parent: int) -> None:
    """End this process once ``parent`` (the pid of the process that started it) is no longer
    its parent. A pool's process waits on a queue whose writing end it holds itself, so it
    never sees a killed worker close it; left running, it would also hold the run's stdout and
    stderr open. The pid comes from the parent: one that died while this process was still
    importing is already gone, and this process' parent is then another one."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def prepare_in_process(
    passes: list[tuple[list[JudgeRequest], list[str]]],
    images_kwargs: dict[str, Any],
    dtype: torch.dtype,
) -> list[BatchFeature]:
    return [
        conversation_inputs(_preparer_processor, images_kwargs, rows, texts).to(dtype)
        for rows, texts in passes
    ]


def inputs_key(batch: Sequence[JudgeRequest], assistant_texts: Sequence[str]) -> Any:
    """What a model pass's inputs depend on: each conversation and its assistant text."""
    return tuple(
        (json.dumps(request.messages, sort_keys=True), text)
        for request, text in zip(batch, assistant_texts, strict=True)
    )


def request_size(request: JudgeRequest) -> tuple[int, int]:
    """Image pixels, then text length: what a request's memory grows with."""
    pixels = sum(math.prod(part_size(part)) for part in request.image_parts())
    return pixels, len(json.dumps(request.messages))
