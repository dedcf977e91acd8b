"""Logits processors that steer the local judge's ``model.generate``: sampling each row of a
batch from a generator of its own, and forcing a token."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from transformers import LogitsProcessor


class SeededSampler(LogitsProcessor):
    """Draws each row's next token at ``temperature`` with a generator of the row's own, then
    makes it the only possible token, so that a greedy ``generate`` samples.

    ``generate(do_sample=True)`` draws every row from one global generator, so a row's tokens
    would depend on the rows beside it and on their order. Here a row's k-th draw comes from its
    own seed alone: a row that has finished keeps drawing, but what it draws is discarded.
    """

    def __init__(self, seeds: Sequence[int], temperature: float) -> None:
        self.seeds = seeds
        self.temperature = temperature
        self._generators: list[torch.Generator] | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self._generators is None:  # made here, on the logits' device (a spread judge's last)
            self._generators = [
                torch.Generator(scores.device).manual_seed(seed) for seed in self.seeds
            ]
        probs = (scores / self.temperature).softmax(-1)
        tokens = torch.cat(
            [
                torch.multinomial(row, 1, generator=generator)
                for row, generator in zip(probs, self._generators, strict=True)
            ]
        )
        forced = torch.full_like(scores, -math.inf)
        forced[torch.arange(len(tokens)), tokens] = 0
        return forced
