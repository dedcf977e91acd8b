"""Run outputs that fight back: line separators inside JSON strings, names that are markup,
replies of tens of megabytes, edits that failed. The comparison and the report must read them,
keep their text exact, escape it, and stay small."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from editbench.compare import compare_runs, format_table, write_comparison
from editbench.results.aggregate import aggregate
from editbench.results.report import ERROR_EXCERPT_CHARS, REPLY_EXCERPT_CHARS, write_report

from .rows import sample_row as row

# Every character str.splitlines() splits on besides "\n" and "\r". json.dumps escapes those
# below U+0020; U+0085, U+2028 and U+2029 it leaves raw, even inside a string.
SEPARATORS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# A name that is HTML, ends a table cell, spans lines, opens code and starts a heading.
HOSTILE_ID = "# <script>alert(1)</script> | `x` \n- y"
HOSTILE_CATEGORY = "<b>bold</b> | `cat`"
HUGE = 30_000_000  # characters of a runaway reply


def write_run(folder: Path, rows: list[dict[str, Any]]) -> Path:
    """A run folder's samples.jsonl, written as run() writes it."""
    folder.mkdir(parents=True)
    with open(folder / "samples.jsonl", "w", encoding="utf-8") as f:
        for each in rows:
            f.write(json.dumps(each, ensure_ascii=False) + "\n")
    return folder


def read_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


def two_runs(extra_b: dict[str, Any] | None = None) -> tuple[list[dict], list[dict]]:
    """Runs A and B of six samples in two categories; B scores s0 three points higher, with
    ``extra_b`` in its row."""
    rows_a = [row(f"s{i}", ("color", "style")[i % 2], 4.0 + i % 3) for i in range(6)]
    rows_b = [dict(r) for r in rows_a]
    rows_b[0].update(score=rows_a[0]["score"] + 3.0, **(extra_b or {}))
    return rows_a, rows_b


# Line separators inside JSON strings.


@pytest.mark.slow
def test_the_cli_keeps_line_separators_in_an_instruction_and_a_reply(tmp_path: Path):
    instruction = f"Make it{SEPARATORS}red"
    reply = f"Looks right{SEPARATORS}Score: 7"
    rows_a, rows_b = two_runs({"instruction": instruction, "reply": reply})
    rows_a[0]["instruction"] = instruction
    write_run(tmp_path / "a", rows_a)
    written = write_run(tmp_path / "b", rows_b) / "samples.jsonl"
    assert "\u2028" in written.read_text(encoding="utf-8")  # raw, as run() writes it

    result = subprocess.run(
        [sys.executable, "-m", "editbench.compare", "a", "b", "--out", "out", "--bootstrap", "50"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr
    comparison = json.loads((tmp_path / "out" / "comparison.json").read_text(encoding="utf-8"))
    mover = comparison["top_movers"][0]
    assert mover["id"] == "s0"
    assert mover["instruction"] == instruction and mover["reply_b"] == reply


# Names that are markup.


class _Tables(HTMLParser):
    """The text of every table cell of an HTML page, a <br> read as a line break, and every
    tag the page opens."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.tags: set[str] = set()
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.add(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def hostile_comparison() -> dict[str, Any]:
    """A comparison whose top mover, a category, an error and the protocol are all markup."""
    rows_a, rows_b = two_runs()
    for rows in (rows_a, rows_b):
        rows[0]["id"] = HOSTILE_ID
        for each in rows:
            if each["category"] == "color":
                each["category"] = HOSTILE_CATEGORY
    rows_b[1].update(status="judge_error", score=None, error="<img src=x onerror=alert(2)> | `e`")
    return compare_runs(rows_a, rows_b, n_bootstrap=50, protocol="<i>proto</i>|x")


def test_markdown_escapes_every_name_that_comes_from_the_runs(tmp_path: Path):
    write_comparison(tmp_path, hostile_comparison(), "run <a> | `one`", "run b")
    markdown = (tmp_path / "comparison.md").read_text(encoding="utf-8")

    assert "<script" not in markdown and "<b>" not in markdown and "<img" not in markdown
    assert "<i>" not in markdown
    escaped_id = r"\# &lt;script&gt;alert(1)&lt;/script&gt; \| \`x\` <br>- y"
    escaped_category = r"&lt;b&gt;bold&lt;/b&gt; \| \`cat\`"
    assert f"| {escaped_id} | {escaped_category} | 4.00 | 7.00 | +3.00 |" in markdown
    assert f"| {escaped_category} | 3 | 0 | 0 | 5.00 | 6.00 | +1.00 |" in markdown
    assert r"| s1 | style | ok | judge\_error | &lt;img src=x onerror=alert(2)&gt; \| \`e\` |" in (
        markdown
    )
    assert r"- A: run &lt;a&gt; \| \`one\`" in markdown
    assert r"Protocol &lt;i&gt;proto&lt;/i&gt;\|x." in markdown
    tables = markdown.split("\n## ")[1:]
    for table in tables:  # no line break escaped a row: every row of a table is one line
        rows = [line for line in table.splitlines() if line.startswith("|")]
        assert all(line.endswith(" |") for line in rows)
        assert len({len(re.findall(r"(?<!\\)\|", line)) for line in rows}) == 1


def test_markdown_renders_back_to_the_exact_names(tmp_path: Path):
    markdown_it = pytest.importorskip("markdown_it")
    write_comparison(tmp_path, hostile_comparison(), "run a", "run b")
    markdown = (tmp_path / "comparison.md").read_text(encoding="utf-8")

    renderer = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"])
    page = _Tables()
    page.feed(renderer.render(markdown))

    allowed = {"h1", "h2", "ul", "li", "p", "table", "thead", "tbody", "tr", "th", "td", "br"}
    assert page.tags <= allowed
    assert [HOSTILE_ID, HOSTILE_CATEGORY, "4.00", "7.00", "+3.00"] in page.rows
    assert [HOSTILE_CATEGORY, "3", "0", "0", "5.00", "6.00", "+1.00"] in [r[:7] for r in page.rows]
    error = "<img src=x onerror=alert(2)> | `e`"
    assert ["s1", "style", "ok", "judge_error", error] in page.rows


def test_the_terminal_table_shows_control_characters_as_escapes():
    rows_a, rows_b = two_runs()
    for rows in (rows_a, rows_b):
        rows[0]["id"] = "red\x1b[2J\nsample\u202e"
    table = format_table(compare_runs(rows_a, rows_b, n_bootstrap=50))

    assert "\x1b" not in table and "\u202e" not in table
    assert re.search(r"^red\\x1b\[2J\\nsample\\u202e +color +4\.00 +7\.00 +\+3\.00$", table, re.M)


# Replies of tens of megabytes.


def test_report_of_a_huge_reply_stays_small_and_says_what_it_cut(tmp_path: Path):
    image = tmp_path / "images" / "source.png"
    image.parent.mkdir()
    Image.new("RGB", (32, 32), "gray").save(image)
    long_error = "server said: " + "e" * 2_000_000
    call_reply = "y" * 1_000_000
    rows = [
        row("huge", "color", 5.0, reply="x" * HUGE),
        row("cut", "color", None, status="reply_too_long", reply="z" * 262_144, error=long_error),
        row(
            "calls",
            "color",
            None,
            status="reply_too_long",
            error="SC: the reply passed 262,144 characters",
            calls={
                "SC": {"status": "reply_too_long", "score": None, "reply": call_reply},
                "PQ": {"status": "judge_error", "score": None, "reply": None, "error": long_error},
            },
        ),
    ]
    rows = [{**each, "source_image": str(image)} for each in rows]
    run = write_run(tmp_path / "run", rows)
    rows = read_rows(run / "samples.jsonl")
    report = run / "report.html"

    write_report(report, rows, aggregate(rows, ["color"], n_bootstrap=50), "huge", {})

    assert report.stat().st_size < 100_000  # the page, one small image, five excerpts
    html = report.read_text(encoding="utf-8")
    for length, limit in (
        (HUGE, REPLY_EXCERPT_CHARS),
        (262_144, REPLY_EXCERPT_CHARS),
        (len(call_reply), REPLY_EXCERPT_CHARS),
        (len(long_error), ERROR_EXCERPT_CHARS),
    ):
        assert f"… {length - limit:,} more characters in samples.jsonl" in html
    assert "… 29,995,000 more characters in samples.jsonl" in html
    assert html.count(f"… {len(long_error) - ERROR_EXCERPT_CHARS:,} more characters") == 2
    assert "x" * REPLY_EXCERPT_CHARS in html and "x" * (REPLY_EXCERPT_CHARS + 1) not in html


def test_comparison_of_a_huge_reply_stays_small(tmp_path: Path):
    rows_a, rows_b = two_runs({"reply": "x" * HUGE})

    write_comparison(tmp_path, compare_runs(rows_a, rows_b, n_bootstrap=50), "a", "b")

    note = f"… {HUGE - REPLY_EXCERPT_CHARS:,} more characters in samples.jsonl"
    for name in ("comparison.json", "comparison.html"):
        assert (tmp_path / name).stat().st_size < 100_000
        assert note in (tmp_path / name).read_text(encoding="utf-8")


# Edits that failed, and judges that failed on one request.


def test_failed_edits_and_judgements_show_their_status_and_error(tmp_path: Path):
    images = tmp_path / "images"
    images.mkdir()
    source = images / "source.png"
    Image.new("RGB", (32, 32), "gray").save(source)
    damaged = images / "damaged.png"  # a small file whose header reads but whose pixels do not
    Image.new("RGB", (32, 32), "red").save(damaged)
    damaged.write_bytes(damaged.read_bytes()[:60])
    failures = [
        ("no-edit", "edit_error", None, "the editor returned NaN pixels"),
        ("damaged", "edit_error", str(damaged), "precomputed edit damaged.png: truncated"),
        ("judge", "judge_error", str(source), "the judge raised ValueError on this request"),
        ("long", "reply_too_long", str(source), "the reply passed 262,144 characters"),
    ]
    rows = [
        row(key, "color", None, status=status, edited_image=edit, error=error, reply=None)
        for key, status, edit, error in failures
    ]
    rows = [{**each, "source_image": str(source)} for each in rows]
    report = tmp_path / "run" / "report.html"

    write_report(report, rows, aggregate(rows, ["color"], n_bootstrap=50), "failures", {})

    html = report.read_text(encoding="utf-8")
    cards = {
        key: card
        for card in re.split(r'(?=<article class="sample")', html)[1:]
        for key in [re.search(r'data-id="([^"]*)"', card).group(1)]
    }
    for key, status, _, error in failures:
        assert f'<span class="status">{status}</span>' in cards[key]
        assert f'<div class="error">{error}</div>' in cards[key]
    for key in ("no-edit", "damaged"):
        assert '<div class="placeholder">edit failed: no image</div>' in cards[key]
        assert f'alt="edit of {key}"' not in cards[key]
    assert 'alt="edit of judge"' in cards["judge"]  # a judge failure keeps its edit

    rows_a = [{**each, "status": "ok", "score": 5.0, "error": None} for each in rows]
    comparison = compare_runs(rows_a, rows, n_bootstrap=50)
    assert comparison["failures"] == {
        "edit_error": {"a": 0, "b": 2},
        "judge_error": {"a": 0, "b": 1},
        "reply_too_long": {"a": 0, "b": 1},
    }
    markdown = write_comparison(tmp_path / "compare", comparison, "a", "b")[1].read_text()
    assert "| edit\\_error | 0 | 2 |" in markdown
    assert "| no-edit | color | ok | edit\\_error | the editor returned NaN pixels |" in markdown
    assert "4 in all." in markdown
