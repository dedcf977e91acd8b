"""Text from the runs (sample ids, categories, errors, run and protocol names) made safe to
write into a Markdown document or onto a terminal, where it could otherwise act as markup."""

from __future__ import annotations

import html
import re

# What Markdown would read as markup inside a line: line endings (which end a table row),
# HTML and entities, and the characters of code spans, emphasis, links and images,
# strikethrough, table cells, math (GitHub) and backslash escapes.
_MARKDOWN_INLINE = re.compile(r"\r\n|[\r\n]|[&<>]|[\\`*_\[\]|~$]")
# What starts a block when it starts a line: a heading, a list item, a setext underline or a
# thematic break; a leading sign of a number ("+2.00", "-0.5") starts none.
_MARKDOWN_BLOCK_START = re.compile(r"[#+\-=](?![\d.])|\d{1,9}(?=[.)](?:\s|$))")
# Characters a terminal acts on or that reorder what it shows: C0 and C1 controls (escape
# sequences, carriage returns), line and paragraph separators, and bidirectional overrides.
_TERMINAL_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def markdown_text(text: str) -> str:
    """``text`` as Markdown (CommonMark, and GitHub's tables) that renders as exactly that
    text, on one line: safe in a table cell, a list item or a paragraph. A line break becomes
    ``<br>``; ``&``, ``<`` and ``>`` become entities; every other markup character is
    backslash-escaped, and so is a leading block marker."""
    escaped = _MARKDOWN_INLINE.sub(_markdown_inline, text)
    start = _MARKDOWN_BLOCK_START.match(escaped)
    if start is None:
        return escaped
    if start.group().isdigit():  # "1." or "1)" starts an ordered list: escape its punctuation
        return f"{escaped[: start.end()]}\\{escaped[start.end() :]}"
    return f"\\{escaped}"


def _markdown_inline(match: re.Match[str]) -> str:
    char = match.group()
    if char in ("\r\n", "\r", "\n"):
        return "<br>"
    if char in "&<>":
        return html.escape(char)
    return f"\\{char}"


def terminal_text(text: str) -> str:
    """``text`` with every character a terminal would act on written as its Python escape
    (``\\n``, ``\\x1b``, ``\\u2028``): one line that shows what the text holds."""
    return _TERMINAL_UNSAFE.sub(lambda match: ascii(match.group())[1:-1], text)
