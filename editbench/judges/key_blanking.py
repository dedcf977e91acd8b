"""Blanking an API key in the texts a judge keeps, in every form a server may echo it back."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from dataclasses import fields, replace
from typing import Any
from urllib.parse import quote

from editbench.records import Judgement

# The shortest run of the key's characters that is blanked wherever it appears. Shorter pieces
# say no more than the public prefix every key of a provider shares ("sk-proj-" is 8).
MIN_KEY_ECHO = 12


class KeyBlanker:
    """Blanks an API key in the texts a judge keeps, as ``***``.

    It finds any run of :data:`MIN_KEY_ECHO` or more consecutive characters (the whole key,
    where it is shorter) of the key as sent or of the forms a server may echo it in:
    JSON-escaped, URL-encoded, HTML-escaped. A run, not only the whole key, so that an echo cut
    short by the server or by an excerpt is blanked, and so is the text between the escapes of
    an encoding not listed here. A None key blanks nothing.
    """

    def __init__(self, key: str | None) -> None:
        forms = {key, json.dumps(key)[1:-1], quote(key, safe=""), html.escape(key)} if key else ()
        self._forms = sorted(forms)

    def __call__(self, text: str) -> str:
        spans = sorted(span for form in self._forms for span in _runs_of(form, text))
        merged: list[list[int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        pieces, done = [], 0
        for start, end in merged:
            pieces += [text[done:start], "***"]
            done = end
        return "".join(pieces) + text[done:]

    def cut(self, text: str, limit: int) -> str:
        """The first ``limit`` characters of ``text``, blanked: blanked before the cut, so that
        the cut leaves no piece of a key that it would be too short to blank."""
        longest = max((len(form) for form in self._forms), default=0)
        return self(text[: limit + longest])[:limit]

    def judgement(self, judgement: Judgement) -> Judgement:
        """``judgement`` with every text it carries blanked (its status is one of ours)."""
        texts = {
            field.name: self._texts(getattr(judgement, field.name))
            for field in fields(judgement)
            if field.name != "status"
        }
        return replace(judgement, **texts)

    def _texts(self, value: Any) -> Any:
        if isinstance(value, str):
            return self(value)
        if isinstance(value, list):
            return [self._texts(item) for item in value]
        if isinstance(value, dict):
            return {self._texts(key): self._texts(item) for key, item in value.items()}
        return value


def _runs_of(form: str, text: str) -> Iterator[tuple[int, int]]:
    """The spans of ``text`` that are runs of at least :data:`MIN_KEY_ECHO` consecutive
    characters of ``form`` (all of it, where it is shorter).

    Any such run holds a whole one of the pieces that ``form`` is split into, each half that
    long, so only those are searched for (``str.find``, fast on a body of megabytes), and each
    one found is grown both ways for as long as the text goes on as ``form`` does.
    """
    width = min(MIN_KEY_ECHO, len(form))
    step = max(1, width // 2)
    for offset in range(0, len(form) - step + 1, step):
        piece = form[offset : offset + step]
        found = text.find(piece)
        while found >= 0:
            shift = found - offset  # where form[0] would be in text
            start, end = found, found + step
            while start > max(0, shift) and text[start - 1] == form[start - 1 - shift]:
                start -= 1
            while end < min(len(text), shift + len(form)) and text[end] == form[end - shift]:
                end += 1
            if end - start >= width:
                yield start, end
            found = text.find(piece, found + 1)
