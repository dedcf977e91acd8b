"""report.html: self-contained, escaped, complete, and tolerant of missing images.

How the page behaves in a browser (filters, sorting, the full-size view) is tested in
test_browser.py; this file checks what is written.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from omegaconf import DictConfig, OmegaConf
from PIL import Image

from editbench.protocols.spec import Protocol
from editbench.protocols.verdict import sample_verdict
from editbench.records import Sample
from editbench.results.aggregate import aggregate, benchmark_results
from editbench.results.chart import score_axis, write_category_chart
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
    assert '9.00<div class="ci">8.50 – 9.50</div>' in criteria
    assert ">judge spread</th>" in html and ">0.71</td>" in html and ">12.5%</td>" in html


def test_chart_has_a_bar_per_scored_category_and_overall(html: str) -> None:
    chart = html[html.index('<svg class="chart"') : html.index("</svg>")]

    assert chart.count('<rect class="bar"') == 1  # only color has a score
    assert chart.count('<rect class="bar overall"') == 1
    assert chart.count("no scores") == 2  # physical and style


# Protocols of several judge calls, criteria, subsets and the benchmark's headline figure.

HOSTILE = "<script>alert('category')</script>"


def viescore(compose_config: Callable[..., DictConfig]) -> Protocol:
    cfg = compose_config("experiment=demo", "protocol=viescore")
    return Protocol.from_config(
        OmegaConf.to_container(cfg.protocol, resolve=True, enum_to_str=True)
    )


def call_record(score: float, criteria: dict[str, float], reply: str) -> dict[str, Any]:
    return {"status": "ok", "score": score, "criteria": criteria, "reply": reply}


@pytest.fixture
def viescore_run(
    tmp_path: Path, compose_config: Callable[..., DictConfig]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows and results.json of a VIEScore run (two calls per sample) on four samples: two
    languages, a category named like a script, a sample with two inputs and a reference, and
    one whose PQ call failed."""
    protocol = viescore(compose_config)
    images = tmp_path / "images"
    cases = [  # id, category, language, SC scores, PQ scores (None: the call failed)
        ("a-en", "subject-add", "en", (8.0, 6.0), (9.0, 7.0)),
        ("a-cn", "subject-add", "cn", (4.0, 5.0), (6.0, 6.0)),
        ("s-en", HOSTILE, "en", (9.0, 9.0), (4.0, 8.0)),
        ("s-cn", HOSTILE, "cn", (2.0, 3.0), None),
    ]
    rows = []
    for key, category, language, sc, pq in cases:
        count = 2 if key == "a-en" else 1  # a-en edits two inputs, towards a reference
        inputs = [save_image(images / f"{key}-{n}.png", (48, 32), "gray") for n in range(count)]
        sample = Sample(key, category, f"Edit {key}", tuple(inputs), extra={"lang": language})
        records: dict[str, dict[str, Any]] = {
            "SC": call_record(
                min(sc), dict(zip(("editing_success", "overediting"), sc, strict=True)), key
            )
        }
        if pq is None:
            records["PQ"] = {"status": "parse_error", "score": None, "reply": "garbled"}
            records["PQ"]["error"] = "no score list in the reply"
        else:
            criteria = dict(zip(("naturalness", "artifacts"), pq, strict=True))
            records["PQ"] = call_record(min(pq), criteria, "<b>PQ</b>")
        rows.append(
            {
                "id": key,
                "category": category,
                "instruction": sample.instruction,
                "source_image": inputs[0],
                **({"source_images": inputs} if count > 1 else {}),
                "edited_image": save_image(images / f"{key}-edit.png", (48, 32), "red"),
                "extra": sample.extra,
                **sample_verdict(protocol, sample, records),
            }
        )
    rows[0]["reference_image"] = save_image(images / "a-en-reference.png", (48, 32), "blue")
    subsets = {"en": {"lang": "en"}, "cn": {"lang": "cn"}, "none": {"lang": "fr"}}
    results = benchmark_results(rows, ["subject-add", HOSTILE], "mean_of_categories", subsets, 200)
    results["protocol"] = {
        "name": "viescore",
        "combine": "geometric_mean",
        "score": "geometric_mean",
        "headline": "mean_of_categories",
        "rescale_to": None,
        "calls": {name: {"judgements": 4, "read_by": "generate"} for name in ("SC", "PQ")},
    }
    return rows, results


def section(html: str, start: str, end: str) -> str:
    return html[html.index(start) : html.index(end, html.index(start))]


def test_protocol_and_headline_come_first(
    tmp_path: Path, viescore_run: tuple[list[dict[str, Any]], dict[str, Any]]
) -> None:
    rows, results = viescore_run
    html = render(tmp_path, rows, results)
    overall = results["overall"]

    top = section(html, '<section class="headline"', "<h2>Summary</h2>")
    assert "protocol <strong>viescore</strong>" in top and "mean of category means" in top
    assert f'<span class="headline-value">{overall["headline"]:.2f}</span>' in top
    low, high = overall["ci95_headline"]
    assert f"95% interval {low:.2f} – {high:.2f}" in top
    assert "3 of 4 samples judged (75.0% coverage)" in top
    assert "geometric mean of its judge calls" in top
    assert re.search(r"<td>SC</td><td class=\"num\">4</td>\s*<td>generate</td>", top)
    published = re.findall(r'<tr class="published">\s*<td>([^<]*)</td>', top)
    assert published == ["mean of category means"]


def test_criteria_table_has_every_criterion_with_intervals(
    tmp_path: Path, viescore_run: tuple[list[dict[str, Any]], dict[str, Any]]
) -> None:
    rows, results = viescore_run
    html = render(tmp_path, rows, results)
    table = section(html, "<h2>Criteria</h2>", "</table>")

    header = re.findall(r'<th class="num"[^>]*>([^<]+)</th>', table)
    assert header == [
        "score",  # VIEScore's O
        "editing_success",
        "overediting",
        "SC",
        "naturalness",
        "artifacts",
        "PQ",
    ]
    stats = results["categories"]["subject-add"]["criteria"]["SC"]
    assert f'{stats["mean"]:.2f}<div class="ci">{stats["ci95"][0]:.2f} – ' in table
    # the overall row: means of the category means, without intervals
    overall_row = table[table.index('<tr class="overall">') :]
    assert f'<td class="num">{results["overall"]["criteria"]["PQ"]:.2f}</td>' in overall_row


def test_a_section_per_subset(
    tmp_path: Path, viescore_run: tuple[list[dict[str, Any]], dict[str, Any]]
) -> None:
    rows, results = viescore_run
    html = render(tmp_path, rows, results)
    subsets = section(html, '<h2 id="subsets">Subsets</h2>', '<h2 id="gallery">')

    assert re.findall(r'<a class="subset-link" href="#(subset-\d)">([^<]+)</a>', subsets) == [
        ("subset-0", "en"),
        ("subset-1", "cn"),
        ("subset-2", "none"),
    ]
    cn = section(subsets, '<details class="subset" id="subset-1">', "</details>")
    figures = results["subsets"]["cn"]["overall"]
    assert f"<strong>cn</strong>: {figures['headline']:.2f}" in cn
    assert "1/2 judged, 50.0%" in cn  # s-cn's PQ call failed
    assert "<h3>Criteria</h3>" in cn and "<h3>Categories</h3>" in cn
    assert "<td>subject-add</td>" in cn
    empty = section(subsets, '<details class="subset" id="subset-2">', "</details>")
    assert "No sample of this run is in this subset." in empty
    assert "<strong>none</strong>: –" in empty


def test_cards_show_each_call_and_every_image(
    tmp_path: Path, viescore_run: tuple[list[dict[str, Any]], dict[str, Any]]
) -> None:
    rows, results = viescore_run
    html = render(tmp_path, rows, results)
    cards = re.split(r'(?=<article class="sample")', html)[1:]
    first, failed = cards[0], cards[3]

    assert first.count('data-call="') == 2
    assert re.search(
        r'<strong>SC</strong> <span class="status ok">ok</span>\s*'
        r'<span class="call-score">6.00</span>',
        first,
    )
    assert "editing_success 8.00 · overediting 6.00" in first
    assert "<pre>a-en</pre>" in first and "<pre>&lt;b&gt;PQ&lt;/b&gt;</pre>" in first
    assert first.count("<figcaption>source ") == 2
    assert "a-en · source 1 · 48×32 px" in first and "a-en · source 2 · 48×32 px" in first
    assert "<figcaption>reference</figcaption>" in first and "a-en · reference · " in first
    # The score column keeps what no call shows: here nothing, every criterion is a call's.
    assert "<dt>SC </dt>" not in first
    assert '<span class="status">parse_error</span>' in failed
    assert "PQ: no score list in the reply" in failed  # the sample's error names the call
    assert '<div class="error">no score list in the reply</div>' in failed
    assert "<figcaption>reference</figcaption>" not in failed


def test_hostile_names_are_escaped_everywhere(
    tmp_path: Path, viescore_run: tuple[list[dict[str, Any]], dict[str, Any]]
) -> None:
    rows, results = viescore_run
    results["subsets"]["<img src=x onerror=alert(1)>"] = results["subsets"].pop("en")
    results["protocol"]["calls"]["<i>call</i>"] = {"judgements": 1, "read_by": "generate"}
    html = render(tmp_path, rows, results)

    assert html.count("<script") == 1  # the page's own
    assert "<img src=x" not in html and "<i>call</i>" not in html
    escaped = "&lt;script&gt;alert(&#39;category&#39;)&lt;/script&gt;"
    assert f'data-category="{escaped}"' in html  # a filter key, in the summary and the cards
    assert f'<option value="{escaped}">{escaped}</option>' in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def text_of(html: str) -> str:
    """The page without its embedded images, whose base64 may spell anything."""
    return re.sub(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", "", html)


def test_numbers_that_are_not_finite_are_never_shown(
    tmp_path: Path, viescore_run: tuple[list[dict[str, Any]], dict[str, Any]]
) -> None:
    rows, results = viescore_run
    rows[0]["criteria"]["SC"] = float("nan")
    rows[0]["calls"]["PQ"]["criteria"]["artifacts"] = float("inf")
    rows[1]["score"] = float("nan")
    results["categories"]["subject-add"]["criteria"]["PQ"]["mean"] = float("nan")
    results["categories"]["subject-add"]["criteria"]["PQ"]["ci95"] = [float("nan"), 1.0]
    results["overall"]["ci95_headline"] = [float("-inf"), float("nan")]
    results["subsets"]["en"]["overall"]["headline"] = float("nan")
    results["categories"]["subject-add"].update(std=float("nan"), ci95=[float("nan"), 9.0])
    results["overall"]["sample_mean"] = float("inf")
    html = text_of(render(tmp_path, rows, results))

    assert re.search(r"\b(nan|inf|NaN|Infinity)\b", html) is None
    assert (
        'data-id="a-cn" data-category="subject-add"\n         data-status="ok" data-score=""'
        in html
    )


def test_a_pooled_headline_charts_pooled_figures_on_its_scale(tmp_path: Path) -> None:
    """A KRIS-style run: scores rescaled to 0-100 and a pooled headline."""
    rows = [
        {
            "id": f"s{i}",
            "category": category,
            "instruction": "Edit",
            "source_image": save_image(tmp_path / "images" / f"s{i}.png", (16, 16), "gray"),
            "edited_image": None,
            "status": "ok",
            "score": score,
            "criteria": {"consistency": pooled[0], "quality": pooled[1]},
            "pooled": pooled,
        }
        for i, (category, score, pooled) in enumerate(
            [
                ("physics", 50.0, [25.0, 75.0]),
                ("physics", 100.0, [100.0, 100.0]),
                ("biology", 25.0, [0.0, 50.0]),
            ]
        )
    ]
    results = benchmark_results(rows, ["physics", "biology"], "pooled", n_bootstrap=100)
    results["protocol"] = {
        "name": "kris",
        "score": "mean",
        "headline": "pooled",
        "rescale_to": [0.0, 100.0],
        "calls": {},
    }
    html = render(tmp_path, rows, results)

    assert results["overall"]["headline"] == pytest.approx(350 / 6)
    assert f'<span class="headline-value">{350 / 6:.2f}</span>' in html
    assert "pooled mean of every criterion value" in html
    assert "every score\n  rescaled to 0–100" in html
    chart = section(html, '<svg class="chart"', "</svg>")
    ticks = re.findall(r'<text class="tick"[^>]*>([^<]+)</text>', chart)
    assert ticks == ["0", "20", "40", "60", "80", "100"]
    # physics pools 25, 75, 100 and 100: its bar is its pooled mean, not its mean score
    assert "<title>physics: 75.00</title>" in chart
    assert f"<title>overall: {350 / 6:.2f}</title>" in chart
    assert "<h2>Pooled score per category</h2>" in html


# categories.png


def chart_results(names: list[str], high: float = 10.0) -> dict[str, Any]:
    categories = {}
    for index, name in enumerate(names):
        mean = None if index % 7 == 3 else high * (index % 10) / 10
        categories[name] = {
            "n": 2,
            "judged": 0 if mean is None else 2,
            "mean": mean,
            "ci95": None if mean is None else [mean * 0.9, min(high, mean * 1.1 + 0.1)],
        }
    categories[names[-1]]["mean"] = float("nan")  # never drawn
    return {
        "categories": categories,
        "overall": {
            "n": 2 * len(names),
            "judged": len(names),
            "headline": high / 2,
            "ci95_headline": [high * 0.4, high * 0.6],
        },
    }


def test_category_chart_copes_with_many_long_and_odd_names(tmp_path: Path) -> None:
    few, many = tmp_path / "few.png", tmp_path / "many.png"
    write_category_chart(few, chart_results(["a", "b", "c"]))
    names = [f"category {i} with a rather long name that goes on and on" for i in range(36)]
    names += [HOSTILE, "$x^2$ and $", "多元素组合", "line\nbreak"]
    write_category_chart(many, chart_results(names))

    with Image.open(few) as small, Image.open(many) as large:
        assert large.height > 4 * small.height  # a row per category, not squeezed
        assert large.width > small.width  # room for the (cut) long labels
        assert large.width < 2000


def test_chart_axis_follows_the_protocols_scale() -> None:
    assert score_axis(chart_results(["a"])) == (0.0, 10.0)
    assert score_axis(chart_results(["a", "b", "c"], high=100.0)) == (0.0, 100.0)
    rescaled = {**chart_results(["a"]), "protocol": {"rescale_to": [0, 100]}}
    assert score_axis(rescaled) == (0.0, 100.0)
