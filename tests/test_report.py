"""report.html: self-contained, escaped, complete, and tolerant of missing images."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest
from PIL import Image

from editbench.aggregate import aggregate
from editbench.report import THUMBNAIL_SIZE, write_report

CATEGORIES = ["color", "physical", "style"]
DETAILS = {"editor": "tiny", "judge": "tiny", "prompts": "color=v1, physical=v2"}


def save_image(path: Path, size: tuple[int, int], color: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return str(path)


@pytest.fixture
def rows(tmp_path: Path) -> list[dict]:
    images = tmp_path / "images"
    base = {"edit_key": "e", "judgement_key": "j", "entropy": None}
    return [
        {
            **base,
            "id": "c-ok",
            "category": "color",
            "instruction": "Make the car red & shiny",
            "source_image": save_image(images / "c-ok.jpg", (640, 480), "gray"),
            "edited_image": save_image(images / "c-ok edit.png", (640, 480), "red"),
            "status": "ok",
            "score": 8.5,
            "reply": "Looks right. Score: 8.5",
            "entropy": 0.4,
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


@pytest.fixture
def html(tmp_path: Path, rows: list[dict]) -> str:
    report = tmp_path / "run" / "report.html"
    write_report(report, rows, aggregate(rows, CATEGORIES), "Demo <run>", DETAILS)
    return report.read_text(encoding="utf-8")


def test_every_sample_and_detail_appears(html: str, rows: list[dict]) -> None:
    for sample in rows:
        assert sample["id"] in html
    for key, value in DETAILS.items():
        assert f"<th>{key}</th><td>{value}</td>" in html
    assert "Demo &lt;run&gt;" in html
    assert "Make the car red &amp; shiny" in html
    assert "style" in html  # an empty category still has its row


def test_text_is_escaped(html: str) -> None:
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<b>blue</b>" not in html


def test_images_are_embedded_thumbnails(html: str) -> None:
    thumbnails = re.findall(r'src="data:image/jpeg;base64,([^"]+)"', html)

    assert len(thumbnails) == 6  # four sources and two readable edits
    for encoded in thumbnails:
        with Image.open(io.BytesIO(base64.b64decode(encoded))) as image:
            assert image.format == "JPEG"
            assert max(image.size) <= THUMBNAIL_SIZE


def test_page_is_offline(html: str) -> None:
    assert "http://" not in html
    assert "https://" not in html
    assert re.search(r'<(link|script)\b|src="(?!data:)', html) is None


def test_full_size_links_are_relative_and_only_to_existing_files(html: str) -> None:
    links = re.findall(r'<a href="([^"#][^"]*)"', html)

    assert sorted(links) == sorted(
        [
            "../images/c-ok.jpg",
            "../images/c-ok%20edit.png",
            "../images/c-script.png",
            "../images/c-script-edit.png",
            "../images/p.png",
            "../images/p2.png",
        ]
    )


def test_missing_edits_get_a_placeholder(html: str) -> None:
    assert '<div class="placeholder">no edit</div>' in html
    assert '<div class="placeholder">not found</div>' in html


def test_unreadable_image_does_not_break_the_report(tmp_path: Path, rows: list[dict]) -> None:
    broken = tmp_path / "images" / "broken.png"
    broken.write_bytes(b"not an image")
    rows[0]["edited_image"] = str(broken)
    report = tmp_path / "report.html"

    write_report(report, rows, aggregate(rows, CATEGORIES), "Demo", DETAILS)

    assert '<div class="placeholder">unreadable</div>' in report.read_text(encoding="utf-8")
