"""leaderboard.html in headless Chromium, served over http://127.0.0.1 as test_browser.py serves
report.html: the ranked table, the N-way gallery's filters and sorts, every image loaded, ids
that are scripts shown as text, and a thousand samples of five entries that stay quick. Any
console error or uncaught exception fails the test (test_browser's ``page`` fixture)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from editbench.leaderboard import build_leaderboard, load_finished_run, write_leaderboard

from . import test_browser
from .test_browser import needs_chromium, save_image, screenshot, serve
from .test_leaderboard import editor, row, write_run

# test_browser's fixtures: headless Chromium, a page whose console errors fail the test, and
# the screenshots' folder.
browser = test_browser.browser
page = test_browser.page
artifacts = test_browser.artifacts

SCRIPT_ID = "<script>window.injected = 1</script>|x"
IMAGE_ID = '<img src=x onerror="window.injected = 2">'
# id, category, and each entry's score, or its status where it failed (None: not in its run)
SAMPLES = [
    ("p-1", "physical", (9.0, 6.0, 3.0)),
    ("p-2", "physical", (8.5, "parse_error", 2.0)),
    ("p-10", "physical", (9.5, 5.0, 4.0)),
    (SCRIPT_ID, "physical", (8.0, 7.0, 2.5)),
    ("s-1", "social", (7.5, 5.5, "edit_error")),
    ("s-2", "social", (8.0, 6.5, None)),
    (IMAGE_ID, "social", (9.0, 4.5, 3.5)),
]
MODELS = ("editor-strong", "editor-middle", "editor-weak")


def gallery_ids(page: Page) -> list[str]:
    """The ids of the gallery's rows shown, top to bottom."""
    return page.locator("#gallery-0 .samples > .sample:visible").evaluate_all(
        "rows => rows.map(row => row.dataset.id)"
    )


def ids_where(test: Any) -> list[str]:
    return [key for key, _, verdicts in SAMPLES if test(verdicts)]


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A served folder: three runs of one judge (their images under images/) and their
    leaderboard under leaderboard/."""
    root = tmp_path / "site"
    images = root / "images"
    runs = []
    for index, model in enumerate(MODELS):
        rows = []
        for number, (key, category, verdicts) in enumerate(SAMPLES):
            verdict = verdicts[index]
            if verdict is None:
                continue
            status = verdict if isinstance(verdict, str) else "ok"
            sample = row(key, category, verdict if status == "ok" else None, status)
            sample["source_image"] = save_image(images / f"{number}.png", (64, 48))
            if status != "edit_error":
                edit = images / f"{number}-{model}.png"
                sample["edited_image"] = save_image(edit, (320, 240), noisy=True)
            rows.append(sample)
        runs.append(write_run(root / "runs" / model, rows, editor=editor(model)))
    leaderboard = build_leaderboard([load_finished_run(run) for run in runs], n_bootstrap=300)
    write_leaderboard(root / "leaderboard", leaderboard)
    return root, leaderboard.document


@needs_chromium
def test_leaderboard_table_and_gallery(
    page: Page, site: tuple[Path, dict[str, Any]], artifacts: Path
) -> None:
    root, document = site
    (board,) = document["boards"]
    with serve(root) as base:
        page.goto(f"{base}/leaderboard/leaderboard.html")
        screenshot(page, artifacts / "leaderboard.png")

        # The ranked table: best first, each with its rank interval; the entry that lacks a
        # sample another judged is marked.
        table = page.locator("table.ranking tbody tr")
        expect(table).to_have_count(3)
        expect(table.locator(".label")).to_have_text(list(MODELS))
        for index, entry in enumerate(board["entries"]):
            interval = entry["rank_ci95"]
            expect(table.nth(index).locator(".rank")).to_have_text(str(entry["rank"]))
            expect(table.nth(index).locator(".rank-interval")).to_have_text(
                f"[{interval[0]}, {interval[1]}]"
            )
        expect(table.first.locator(".rank-interval")).to_have_text("[1, 1]")
        expect(table.nth(2).locator(".mark")).to_have_text("†")
        expect(table.first.locator(".mark")).to_have_count(0)
        expect(page.locator("table.ranking thead")).to_contain_text("on common samples")

        # One row per sample, every entry's edit side by side.
        expect(page.locator("#gallery-0 .shown")).to_have_text("7 of 7 samples")
        assert gallery_ids(page) == [key for key, _, _ in SAMPLES]
        first = page.locator("#gallery-0 .sample[data-id='p-1']")
        expect(first.locator(".cell")).to_have_count(3)
        expect(first.locator(".cell .score")).to_have_text(["9.00", "6.00", "3.00"])
        failed = page.locator("#gallery-0 .sample[data-id='s-1'] .cell").nth(2)
        expect(failed.locator(".status")).to_have_text("edit_error")
        expect(failed.locator(".placeholder")).to_have_text("edit failed: no image")
        absent = page.locator("#gallery-0 .sample[data-id='s-2'] .cell").nth(2)
        expect(absent.locator(".status")).to_have_text("not in run")

        # Filters, alone and together.
        page.select_option("#filter-category-0", "social")
        assert gallery_ids(page) == ["s-1", "s-2", IMAGE_ID]
        page.select_option("#filter-status-0", "any-failure")
        assert gallery_ids(page) == ["s-1", "s-2"]
        page.select_option("#filter-category-0", "")
        assert gallery_ids(page) == ids_where(lambda v: any(not isinstance(x, float) for x in v))
        page.select_option("#filter-status-0", "some:parse_error")
        assert gallery_ids(page) == ["p-2"]
        page.select_option("#filter-status-0", "some:not in run")
        assert gallery_ids(page) == ["s-2"]
        page.select_option("#filter-status-0", "every-ok")
        assert gallery_ids(page) == ids_where(lambda v: all(isinstance(x, float) for x in v))
        page.select_option("#filter-category-0", "physical")
        page.select_option("#filter-status-0", "some:edit_error")
        assert gallery_ids(page) == []
        expect(page.locator("#gallery-0 .no-match")).to_be_visible()
        page.select_option("#filter-category-0", "")
        page.select_option("#filter-status-0", "")

        # Sorts: by one entry's score (unscored last), by how much the entries disagree.
        page.select_option("#sort-0", "score:1:desc")
        assert gallery_ids(page) == [SCRIPT_ID, "s-2", "p-1", "s-1", "p-10", IMAGE_ID, "p-2"]
        page.select_option("#sort-0", "score:0:asc")
        lowest = gallery_ids(page)
        assert lowest[0] == "s-1" and set(lowest[1:3]) == {SCRIPT_ID, "s-2"}  # 7.5, 8, 8
        page.select_option("#sort-0", "spread")
        assert gallery_ids(page)[:2] == ["p-2", "p-1"]  # 8.5 - 2.0, then 9.0 - 3.0
        page.select_option("#sort-0", "run")
        assert gallery_ids(page) == [key for key, _, _ in SAMPLES]
        screenshot(page, artifacts / "leaderboard-sorted.png")

        # Every image is a thumbnail embedded in the page, decoded, linked to its file.
        images = page.locator("#gallery-0 img")
        expect(images).to_have_count(
            len(SAMPLES)
            + sum(isinstance(v, float) for _, _, verdicts in SAMPLES for v in verdicts)
            + 1
        )  # every source; every scored edit; p-2's edit, made but not judged
        for image in images.all():
            assert image.evaluate("image => image.complete && image.naturalWidth > 0")
            assert image.get_attribute("src").startswith("data:image/jpeg;base64,")
        link = first.locator(".cell a.picture").first.get_attribute("href")
        assert page.request.get(f"{base}/leaderboard/{link}").ok

        # Ids that are markup are shown as text and never run.
        assert page.evaluate("window.injected") is None
        expect(page.locator("#gallery-0 .sample code").nth(3)).to_have_text(SCRIPT_ID)
        expect(page.locator("#gallery-0 .sample code").nth(6)).to_have_text(IMAGE_ID)


@needs_chromium
@pytest.mark.slow
def test_thousand_samples_of_five_entries_load_and_filter_quickly(
    page: Page, tmp_path: Path, artifacts: Path
) -> None:
    """1,000 samples × 5 entries: the page loads in seconds, and a filter or a sort shows its
    result within a frame or two."""
    images = tmp_path / "site" / "images"
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    texture = np.linspace(0, 200, 256)[:, None, None] + rng.normal(0, 30, (256, 512, 3))
    texture = texture.clip(0, 255).astype(np.uint8)
    # 200 distinct files, each made into its thumbnail once: the page still embeds one per cell.
    photos = []
    for i in range(200):
        path = images / f"{i}.jpg"
        Image.fromarray(texture[:, i : i + 256]).save(path, quality=90)
        photos.append(str(path))
    statuses = ["ok"] * 8 + ["parse_error", "refusal"]
    runs = []
    for entry in range(5):
        rows = []
        for i in range(1000):
            status = statuses[(i + entry) % len(statuses)]
            sample = row(
                f"sample-{i}",
                ("physical", "social", "causal")[i % 3],
                float(rng.uniform(0, 10)) + entry,
                status,
            )
            sample["source_image"] = photos[i % 200]
            sample["edited_image"] = photos[(i * 7 + entry) % 200]
            rows.append(sample)
        runs.append(write_run(tmp_path / "runs" / str(entry), rows, editor=editor(f"e{entry}")))
    started = time.perf_counter()
    leaderboard = build_leaderboard([load_finished_run(run) for run in runs], n_bootstrap=200)
    write_leaderboard(tmp_path / "site" / "leaderboard", leaderboard)
    generation_s = time.perf_counter() - started
    page_path = tmp_path / "site" / "leaderboard" / "leaderboard.html"

    with serve(tmp_path / "site") as base:
        started = time.perf_counter()
        page.goto(f"{base}/leaderboard/leaderboard.html")
        load_s = time.perf_counter() - started
        timed_change = """async ([id, value]) => {
            const started = performance.now();
            const select = document.getElementById(id);
            select.value = value;
            select.dispatchEvent(new Event("change"));
            await new Promise(done => requestAnimationFrame(() => setTimeout(done)));
            return performance.now() - started;
        }"""
        filter_ms = page.evaluate(timed_change, ["filter-category-0", "social"])
        status_ms = page.evaluate(timed_change, ["filter-status-0", "any-failure"])
        page.evaluate(timed_change, ["filter-status-0", ""])
        page.evaluate(timed_change, ["filter-category-0", ""])
        sort_ms = page.evaluate(timed_change, ["sort-0", "score:2:desc"])
        expect(page.locator("#gallery-0 .shown")).to_have_text("1000 of 1000 samples")
        page.screenshot(path=artifacts / "leaderboard-thousand.png")

    size_mb = page_path.stat().st_size / 1e6
    print(
        f"1,000 samples x 5 entries: written in {generation_s:.1f} s, {size_mb:.1f} MB; page load "
        f"{load_s:.2f} s; category filter {filter_ms:.0f} ms, status filter {status_ms:.0f} ms, "
        f"sort {sort_ms:.0f} ms"
    )
    # Hang guards, as test_browser's: they catch a page that freezes, not a slow machine.
    assert load_s < 20
    assert max(filter_ms, status_ms, sort_ms) < 3000
