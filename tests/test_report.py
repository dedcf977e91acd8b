"""report.html: self-contained, escaped, complete, and tolerant of missing images.

How the page behaves in a browser (filters, sorting, the full-size view) is tested in
test_browser.py; this file checks what is written.
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from editbench.results.aggregate import aggregate
from editbench.results.report import EMBED_MAX_BYTES, GALLERY_THUMBNAIL_SIZE, write_report

CATEGORIES = ["color", "physical", "style"]
DETAILS = {"editor": "tiny", "judge": "tiny", "prompts": "color=v1, physical=v2"}


def save_image(path: Path, size: tuple[int, int], color: str | None = None) -> str:
    """A flat image of ``color`` (small enough to be embedded), or random noise (too big)."""
    if color is None:
        pixels = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        image = Image.fromarray(pixels)
    else:
        image = Image.new("RGB", size, color)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return str(path)


@pytest.fixture
def rows(tmp_path: Path) -> list[dict[str, Any]]:
    images = tmp_path / "images"
    base = {"edit_key": "e", "judgement_key": "j", "entropy": None}
    return [
        {
            **base,
            "id": "c-ok",
            "category": "color",
            "instruction": "Make the car red & shiny",
            "source_image": save_image(images / "c-ok.jpg", (640, 480), "gray"),
            "edited_image": save_image(images / "c-ok edit.png", (640, 480)),
            "status": "ok",
            "score": 8.5,
            "reply": "Looks right. Score: 8.5",
            "entropy": 0.4,
            "criteria": {"instruction_following": 9.0, "visual_quality": 7.25},
            "samples": [8.0, None, 9.0],
            "spread": 0.71,
        },
        {
            **base,
            "id": "c-script",
            "category": "color",
            "instruction": "Paint it <b>blue</b>",
            "source_image": save_image(images / "c-script.png", (300, 600), "white"),
            "edited_image": save_image(images / "c-script-edit.png", (300, 600), "blue"),
            "status": "parse_error",
            "score": None,
            "reply": "<script>alert('x')</script> no score here",
            "error": "no 'Score:' in the reply",
        },
        {
            **base,
            "id": "p-missing-edit",
            "category": "physical",
            "instruction": "Drop the glass",
            "source_image": save_image(images / "p.png", (64, 64), "green"),
            "edited_image": None,
            "status": "missing",
            "score": None,
            "reply": None,
        },
        {
            **base,
            "id": "p-vanished-edit",
            "category": "physical",
            "instruction": "Melt the ice",
            "source_image": save_image(images / "p2.png", (64, 64), "white"),
            "edited_image": str(images / "deleted.png"),
            "status": "api_error",
            "score": None,
            "reply": "timeout",
        },
    ]


def render(tmp_path: Path, rows: list[dict[str, Any]], results: dict[str, Any]) -> str:
    report = tmp_path / "run" / "report.html"
    write_report(report, rows, results, "Demo <run>", DETAILS)
    return report.read_text(encoding="utf-8")


@pytest.fixture
def html(tmp_path: Path, rows: list[dict[str, Any]]) -> str:
    return render(tmp_path, rows, aggregate(rows, CATEGORIES))


def test_every_sample_and_detail_appears(html: str, rows: list[dict[str, Any]]) -> None:
    for sample in rows:
        assert f'data-id="{sample["id"]}"' in html
    for key, value in DETAILS.items():
        assert f"<th>{key}</th><td>{value}</td>" in html
    assert "Demo &lt;run&gt;" in html
    assert "Make the car red &amp; shiny" in html
    assert "<td>style</td>" in html  # an empty category still has its row, without a link


def test_text_is_escaped(html: str) -> None:
    assert html.count("<script") == 1  # the page's own
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<b>blue</b>" not in html


def test_small_images_are_embedded_as_they_are(html: str, rows: list[dict[str, Any]]) -> None:
    embedded = re.findall(r'<img src="data:image/(png|jpeg);base64,([^"]+)"', html)
    files = {Path(rows[0]["source_image"]).read_bytes(), Path(rows[1]["edited_image"]).read_bytes()}

    assert Path(rows[1]["edited_image"]).stat().st_size <= EMBED_MAX_BYTES
    assert files <= {base64.b64decode(data) for _, data in embedded}
    assert 'loading="lazy"' in html


def test_large_images_get_a_thumbnail_that_links_the_file(
    html: str, rows: list[dict[str, Any]]
) -> None:
    large = Path(rows[0]["edited_image"])
    match = re.search(
        r'<a class="picture" href="([^"]+)" data-caption="c-ok · edit · 640×480 px"[^>]*>\s*'
        r'<img src="data:image/jpeg;base64,([^"]+)"',
        html,
    )

    assert large.stat().st_size > EMBED_MAX_BYTES
    assert match is not None
    assert match[1] == "../images/c-ok%20edit.png"  # relative to the report, URL-quoted
    with Image.open(io.BytesIO(base64.b64decode(match[2]))) as thumbnail:
        assert thumbnail.format == "JPEG"
        assert max(thumbnail.size) == GALLERY_THUMBNAIL_SIZE
    # Embedded images need no file: only the thumbnailed one links to its file.
    assert re.findall(r'<a class="picture" href="([^"]+)"', html) == [match[1]]


def test_page_is_offline(html: str) -> None:
    assert "http://" not in html
    assert "https://" not in html
    assert re.search(r'<script\b[^>]*\bsrc=|src="(?!data:)', html) is None
    assert re.findall(r"<link\b[^>]*>", html) == ['<link rel="icon" href="data:,">']


def test_missing_and_unreadable_images_get_a_placeholder(
    tmp_path: Path, rows: list[dict[str, Any]]
) -> None:
    broken = tmp_path / "images" / "broken.png"
    broken.write_bytes(b"not an image")
    rows[1]["edited_image"] = str(broken)

    html = render(tmp_path, rows, aggregate(rows, CATEGORIES))

    assert '<div class="placeholder">no edit</div>' in html
    assert '<div class="placeholder">not found</div>' in html
    assert '<div class="placeholder">unreadable</div>' in html


def test_rows_carry_their_filter_and_sort_keys(html: str) -> None:
    keys = re.findall(
        r'data-id="([^"]*)" data-category="([^"]*)"\s+data-status="([^"]*)" data-score="([^"]*)"',
        html,
    )
    assert keys[:2] == [("c-ok", "color", "ok", "8.5"), ("c-script", "color", "parse_error", "")]
    options = re.findall(r'<option value="([^"]*)">', html)
    assert options[:3] == ["", "color", "physical"]  # categories that have samples
    assert options[3:9] == ["", "!ok", "ok", "api_error", "missing", "parse_error"]


def test_judge_details_are_shown(html: str) -> None:
    assert "instruction_following </dt><dd>9.00</dd>" in html
    assert "visual_quality </dt><dd>7.25</dd>" in html
    assert "spread </dt><dd>0.71</dd>" in html
    assert "<dd>8.00 · – · 9.00</dd>" in html  # the failed judge sample is a dash, not a number
    assert "no &#39;Score:&#39; in the reply" in html


def test_category_extras_are_shown_when_present(tmp_path: Path, rows: list[dict[str, Any]]) -> None:
    plain = [{**row, "criteria": None, "samples": None, "spread": None} for row in rows]
    results = aggregate(plain, CATEGORIES)
    assert "<h2>Criteria</h2>" not in render(tmp_path, plain, results)
    assert ">judge spread</th>" not in render(tmp_path, plain, results)

    # As aggregate() gives them for rubric prompts and repeated judging.
    results["categories"]["color"].update(
        criteria={
            "instruction_following": {"judged": 1, "mean": 9.0, "std": None, "ci95": [8.5, 9.5]},
            "visual_quality": {"judged": 1, "mean": 7.25, "std": None, "ci95": [7.0, 7.5]},
        },
        judge_spread_mean=0.71,
        judge_variance_share=0.125,
    )
    results["overall"]["criteria"] = {"instruction_following": 9.0, "visual_quality": 7.25}
    html = render(tmp_path, plain, results)

    criteria = html[html.index("<h2>Criteria</h2>") : html.index("<h2>Mean score")]
    assert "<td>color</td>" in criteria and "<td>overall</td>" in criteria
    assert '9.00 <span class="muted">(8.50 – 9.50)</span>' in criteria
    assert ">judge spread</th>" in html and ">0.71</td>" in html and ">12.5%</td>" in html


def test_chart_has_a_bar_per_scored_category_and_overall(html: str) -> None:
    chart = html[html.index('<svg class="chart"') : html.index("</svg>")]

    assert chart.count('<rect class="bar"') == 1  # only color has a score
    assert chart.count('<rect class="bar overall"') == 1
    assert chart.count("no scores") == 2  # physical and style
