"""Fitting a judge's batch size to free memory: the arithmetic, the probes, and the judge's
fit through them, on the CPU with CUDA's memory counters simulated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from editbench.judges.batch_fit import (
    MEMORY_HEADROOM,
    PROBE_BATCHES,
    fitted_size,
    kv_bytes_per_token,
    measured_size,
)
from editbench.judges.qwen3_vl import Qwen3VLJudge
from editbench.records import JudgeRequest
from editbench.tiny import ensure_tiny_model

GIB = 2**30
CARD = torch.device("cuda", 0)


class FakeCard:
    """CUDA's memory counters for one card, driven by what a scorer "allocates": a fixed part
    and a part per request, optionally growing faster than linearly past ``knee`` requests."""

    def __init__(self, fixed: int, per_request: int, knee: int | None = None) -> None:
        self.fixed, self.per_request, self.knee = fixed, per_request, knee
        self.peak = 0
        self.scored: list[int] = []

    def score(self, count: int) -> None:
        self.scored.append(count)
        extra = 0 if self.knee is None else max(0, count - self.knee) * self.per_request
        self.peak = self.fixed + count * self.per_request + extra

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
        monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 0)
        monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", self._reset)
        monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: self.peak)

    def _reset(self, device: Any = None) -> None:
        self.peak = 0


def test_the_size_is_what_fits_in_the_headroom_of_free_memory() -> None:
    peaks = {1: {CARD: 3 * GIB}, 4: {CARD: 6 * GIB}}  # 1 GiB per request, 2 GiB fixed
    free = {CARD: 100 * GIB}

    assert fitted_size(peaks, free, cache_bytes=0) == int((100 * MEMORY_HEADROOM - 2) // 1)
    # KV cache per request counts on top of the measured share.
    assert fitted_size(peaks, free, cache_bytes=GIB) == int((100 * MEMORY_HEADROOM - 1) // 2)


def test_the_steepest_growth_between_counts_is_one_requests_share() -> None:
    # Linear up to 4 requests, then 3 GiB per request: the later growth decides.
    peaks = {1: {CARD: 2 * GIB}, 4: {CARD: 5 * GIB}, 20: {CARD: 53 * GIB}}

    assert fitted_size(peaks, {CARD: 100 * GIB}, 0) == int((100 * MEMORY_HEADROOM - 0) // 3)


def test_a_growth_lost_in_rounding_counts_the_whole_first_peak() -> None:
    peaks = {1: {CARD: 2 * GIB}, 4: {CARD: 2 * GIB}}

    assert fitted_size(peaks, {CARD: 10 * GIB}, 0) == int(10 * MEMORY_HEADROOM // 2)


def test_the_card_with_least_room_decides_and_at_least_one_request_fits() -> None:
    other = torch.device("cuda", 1)
    peaks = {1: {CARD: 2 * GIB, other: 2 * GIB}, 4: {CARD: 5 * GIB, other: 8 * GIB}}

    assert fitted_size(peaks, {CARD: 100 * GIB, other: 100 * GIB}, 0) == int(
        (100 * MEMORY_HEADROOM - 0) // 2
    )
    assert fitted_size(peaks, {CARD: GIB, other: GIB}, 0) == 1


def test_probes_then_a_check_at_half_the_fitted_size(monkeypatch: pytest.MonkeyPatch) -> None:
    card = FakeCard(fixed=GIB, per_request=GIB // 2)
    card.install(monkeypatch)

    size = measured_size(card.score, [CARD], {CARD: 40 * GIB}, 0, max_batch_size=64)

    expected = int((40 * MEMORY_HEADROOM - 1) // 0.5)
    assert size == expected
    assert card.scored == [*PROBE_BATCHES, min(expected, 64) // 2]


def test_a_growth_faster_than_linear_is_caught_by_the_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Past 8 requests each one takes twice as much: 1-and-4 probes alone would overshoot.
    card = FakeCard(fixed=GIB, per_request=GIB // 2, knee=8)
    card.install(monkeypatch)

    size = measured_size(card.score, [CARD], {CARD: 40 * GIB}, 0, max_batch_size=64)

    linear = int((40 * MEMORY_HEADROOM - 1) // 0.5)
    assert size < linear
    peak_at_size = card.fixed + size * card.per_request + max(0, size - 8) * card.per_request
    assert peak_at_size <= 40 * GIB * MEMORY_HEADROOM


def test_no_check_when_half_the_size_is_no_larger_than_the_probes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    card = FakeCard(fixed=GIB, per_request=GIB)
    card.install(monkeypatch)

    assert measured_size(card.score, [CARD], {CARD: 10 * GIB}, 0, max_batch_size=64) == 8
    assert card.scored == list(PROBE_BATCHES)


def test_kv_bytes_per_token_from_the_text_config() -> None:
    judge = Qwen3VLJudge(ensure_tiny_model("qwen3_vl"), dtype="float32")
    judge.load(["cpu"])
    text = judge._model.config.get_text_config()
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads

    assert kv_bytes_per_token(judge._model) == (
        2 * text.num_hidden_layers * text.num_key_value_heads * head_dim * 4
    )


def test_the_judge_fits_once_then_remembers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The judge's own fit on a simulated card: it probes its largest request, keeps the size,
    and a second judge on the same card starts at it without scoring anything."""
    model = ensure_tiny_model("qwen3_vl")  # from the session's cache, before it moves
    monkeypatch.setenv("EDITBENCH_CACHE", str(tmp_path / "cache"))
    image = tmp_path / "a.png"
    Image.new("RGB", (64, 64), (10, 20, 30)).save(image)
    request = JudgeRequest(
        messages=[
            {
                "role": "user",
                "content": [{"type": "image", "image": str(image)}, {"type": "text", "text": "?"}],
            }
        ]
    )
    card = FakeCard(fixed=GIB, per_request=GIB // 4)
    card.install(monkeypatch)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (20 * GIB, 80 * GIB))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Simulated card")

    class Properties:
        total_memory = 80 * GIB

    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device=None: Properties)

    def fitted_judge() -> Qwen3VLJudge:
        judge = Qwen3VLJudge(model, dtype="float32", max_batch_size=64)
        judge.load(["cpu"])
        judge._devices = ["cuda:0"]  # scored on the CPU, measured on the simulated card
        monkeypatch.setattr(
            judge, "_score_distributions", lambda batch, texts: card.score(len(batch))
        )
        judge.fit_batch_size([request])
        return judge

    first = fitted_judge()
    expected = int((20 * MEMORY_HEADROOM - 1) // 0.25)
    assert first.batch_size == min(64, expected)
    assert card.scored == [*PROBE_BATCHES, 32]
    assert list((tmp_path / "cache" / "batch-sizes").glob("*.json"))

    card.scored.clear()
    again = fitted_judge()
    assert again.batch_size == first.batch_size
    assert card.scored == []  # remembered: nothing scored to fit
