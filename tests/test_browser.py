"""What people look at, looked at the way they do: pages in a browser, progress in a terminal.

report.html (and the comparison page) are served over http://127.0.0.1 and driven in headless
Chromium through Playwright; any console error or uncaught exception on them fails the test.
MLflow's own UI is checked to list editbench's runs with a metric column. Screenshots go to
``$EDITBENCH_ARTIFACTS/<test name>`` when that is set, else to ``<tmp_path>/screenshots``.

The browser is the system's Chromium (``apt-get install chromium``): nothing can download one
here, so Playwright is installed only as a driver. Playwright rather than Selenium: it reports
console messages and uncaught exceptions as events, and its assertions wait by themselves.
Without /usr/bin/chromium the browser tests skip; the terminal test needs none.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect, sync_playwright

from editbench.results.aggregate import aggregate, benchmark_results
from editbench.results.report import write_report
from editbench.results.tracking import MlflowTracker

from .conftest import local_overrides

CHROMIUM = Path("/usr/bin/chromium")
# Root needs --no-sandbox. Chromium's own background traffic (updates, sync, field trials)
# would be refused by the closed network and logged as errors, so it is switched off.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
)
# Hang guards, ten times the normal time on an idle 2-core machine (30 s at least).
# Playwright's assertions wait 5 s unless told: MLflow's UI takes up to 7 s to list the runs.
expect.set_options(timeout=75_000)
COMPARE_S = 30  # python -m editbench.compare: 0.3 s
MLFLOW_READY_S = 90  # mlflow server answers after up to 8.3 s
TERMINAL_S = 300  # the demo on two samples: 27 s
EXIT_S = 30  # a process whose terminal has closed exits at once
CATEGORIES = ["physical", "social", "causal"]


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would drown the test's own output


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1 from a thread; yields the base URL."""
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium; every launch gets a fresh temporary profile (user data dir)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page; any console error or uncaught exception on it fails the test at teardown."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda m: m.type == "error" and problems.append(f"console: {m.text} ({m.location['url']})"),
    )
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    yield page
    context.close()
    assert problems == [], "the page logged errors:\n" + "\n".join(problems)


@pytest.fixture
def artifacts(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The folder for this test's screenshots, which outlives the test when
    ``$EDITBENCH_ARTIFACTS`` is set."""
    root = os.environ.get("EDITBENCH_ARTIFACTS")
    folder = Path(root) / request.node.name if root else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {folder}")
    return folder


def save_image(path: Path, size: tuple[int, int], noisy: bool = False) -> str:
    """A flat image (a few hundred bytes, so the report embeds it) or a noisy one (too big to
    embed, so the report shows a thumbnail and links the file)."""
    seed = sum(path.name.encode())
    rng = np.random.default_rng(seed)
    if noisy:
        pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    else:
        pixels = np.full((size[1], size[0], 3), rng.integers(0, 256, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return str(path)


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """A served folder holding ``run/report.html`` and the ``images/`` it links to."""
    root = tmp_path / "site"
    images = root / "images"
    samples = [
        ("p-1", "physical", "ok", 7.5),
        ("p-2", "physical", "parse_error", None),
        ("p-10", "physical", "ok", 2.25),
        ("s-1", "social", "ok", 9.0),
        ("s-2", "social", "refusal", None),
        ("s-3", "social", "ok", 4.0),
        ("c-1", "causal", "parse_error", None),
        ("c-2", "causal", "ok", 6.5),
        ("c-3", "causal", "missing", None),
    ]
    rows = [
        {
            "id": sample_id,
            "category": category,
            "instruction": f"Edit {sample_id}",
            "source_image": save_image(images / f"{sample_id}.png", (64, 48)),
            "edited_image": (
                None
                if status == "missing"
                else save_image(images / f"{sample_id}-edit.png", (600, 400), noisy=True)
            ),
            "status": status,
            "score": score,
            "reply": None if status == "missing" else f"Reasoning about {sample_id}.",
            "criteria": {"instruction": 8.0, "quality": 6.0} if score is not None else None,
            "samples": [score, score] if score is not None else None,
            "spread": 0.0 if score is not None else None,
        }
        for sample_id, category, status, score in samples
    ]
    write_report(root / "run" / "report.html", rows, aggregate(rows, CATEGORIES), "Test", {})
    return root, rows


def screenshot(page: Page, path: Path) -> None:
    """The whole page with every row drawn. Rows off screen are neither painted nor given their
    images (content-visibility, lazy loading), so the viewport is grown to the page first."""
    viewport = page.viewport_size
    assert viewport is not None
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": viewport["width"], "height": height})
    page.wait_for_function("Array.from(document.images).every(image => image.complete)")
    page.screenshot(path=path, full_page=True)
    page.set_viewport_size(viewport)


def visible_ids(page: Page) -> list[str]:
    """The ids of the gallery rows shown, top to bottom."""
    return page.locator("#samples > .sample:visible").evaluate_all(
        "rows => rows.map(row => row.dataset.id)"
    )


def ids(rows: list[dict[str, Any]], **where: Any) -> list[str]:
    return [row["id"] for row in rows if all(row[k] == v for k, v in where.items())]


@needs_chromium
def test_report_gallery_filters_sorts_and_opens_full_size(
    page: Page, site: tuple[Path, list[dict[str, Any]]], artifacts: Path
) -> None:
    root, rows = site
    with serve(root) as base:
        page.goto(f"{base}/run/report.html")
        screenshot(page, artifacts / "report.png")
        assert visible_ids(page) == ids(rows)
        expect(page.locator("#shown")).to_have_text("9 of 9 samples")

        page.select_option("#filter-category", "social")
        assert visible_ids(page) == ids(rows, category="social")
        page.select_option("#filter-status", "refusal")
        assert visible_ids(page) == ["s-2"]
        page.select_option("#filter-category", "")
        page.select_option("#filter-status", "parse_error")
        assert visible_ids(page) == ["p-2", "c-1"]
        page.select_option("#filter-status", "!ok")
        assert visible_ids(page) == ["p-2", "s-2", "c-1", "c-3"]
        screenshot(page, artifacts / "report-failures.png")
        page.select_option("#filter-category", "causal")
        page.select_option("#filter-status", "refusal")
        assert visible_ids(page) == []
        expect(page.locator("#no-match")).to_be_visible()

        # A failure count in the summary table shows exactly those samples.
        page.locator(".summary a[data-category='causal'][data-status='parse_error']").click()
        assert visible_ids(page) == ["c-1"]
        page.locator(".summary a[data-category='physical']:not([data-status])").click()
        assert visible_ids(page) == ids(rows, category="physical")
        page.select_option("#filter-category", "")

        # Unscored samples go last in either direction, in id order.
        unscored = ["c-1", "c-3", "p-2", "s-2"]
        page.select_option("#sort", "score-desc")
        assert visible_ids(page) == ["s-1", "p-1", "c-2", "s-3", "p-10", *unscored]
        screenshot(page, artifacts / "report-by-score.png")
        page.select_option("#sort", "score-asc")
        assert visible_ids(page) == ["p-10", "s-3", "c-2", "p-1", "s-1", *unscored]
        page.select_option("#sort", "id")  # numbers in ids sort as numbers
        assert visible_ids(page) == ["c-1", "c-2", "c-3", "p-1", "p-2", "p-10", "s-1", "s-2", "s-3"]
        page.select_option("#sort", "run")
        assert visible_ids(page) == ids(rows)

        viewer, full = page.locator("#viewer"), page.locator("#viewer-image")
        edit = page.locator(".sample[data-id='p-1'] .picture").nth(1)
        edit.click()
        expect(viewer).to_be_visible()
        expect(full).to_have_js_property("naturalWidth", 600)  # the file, not its thumbnail
        assert full.evaluate("image => image.currentSrc").endswith("/images/p-1-edit.png")
        expect(page.locator("#viewer-caption")).to_have_text("p-1 · edit · 600×400 px")
        page.screenshot(path=artifacts / "report-full-size.png")
        page.keyboard.press("Escape")
        expect(viewer).to_be_hidden()

        source = page.locator(".sample[data-id='p-1'] .picture").first
        source.click()  # a small file, embedded in the page as it is
        expect(full).to_have_js_property("naturalWidth", 64)
        assert full.evaluate("image => image.currentSrc").startswith("data:image/png;base64,")
        full.click()
        expect(viewer).to_be_hidden()


SCRIPT_CATEGORY = "<script>alert('category')</script>"


@pytest.fixture
def protocol_site(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A served report of a two-call protocol (VIEScore's SC and PQ), with subsets, a sample of
    two inputs and a reference, and a category named like a script."""
    root = tmp_path / "site"
    images = root / "images"
    cases = [  # id, category, language, SC, PQ (None: the call failed)
        ("a-1", "subject-add", "en", 6.0, 8.0),
        ("a-2", "subject-add", "cn", 3.0, 5.0),
        ("x-1", SCRIPT_CATEGORY, "en", 9.0, 4.0),
        ("x-2", SCRIPT_CATEGORY, "cn", 2.0, None),
    ]
    rows = []
    for key, category, language, sc, pq in cases:
        calls = {
            "SC": {
                "status": "ok",
                "score": sc,
                "criteria": {"editing_success": sc},
                "reply": f"SC reply of {key}",
                "error": None,
            },
            "PQ": {
                "status": "ok",
                "score": pq,
                "criteria": {"naturalness": pq},
                "reply": f"PQ reply of {key}",
                "error": None,
            },
        }
        if pq is None:
            calls["PQ"].update(status="parse_error", criteria=None, error="no score list")
        ok = pq is not None
        rows.append(
            {
                "id": key,
                "category": category,
                "instruction": f"Edit {key}",
                "source_image": save_image(images / f"{key}.png", (64, 48)),
                "edited_image": save_image(images / f"{key}-edit.png", (64, 48)),
                "status": "ok" if ok else "parse_error",
                "score": (sc * pq) ** 0.5 if ok else None,
                "criteria": {"editing_success": sc, "SC": sc, "naturalness": pq, "PQ": pq}
                if ok
                else None,
                "error": None if ok else "PQ: no score list",
                "reply": "\n\n".join(f"--- {n} ---\n{c['reply']}" for n, c in calls.items()),
                "calls": calls,
                "judgement_key": None,
                "extra": {"lang": language},
            }
        )
    rows[0]["source_images"] = [rows[0]["source_image"], save_image(images / "a-1-b.png", (64, 48))]
    rows[0]["reference_image"] = save_image(images / "a-1-ref.png", (64, 48))
    subsets = {"en": {"lang": "en"}, "cn": {"lang": "cn"}}
    results = benchmark_results(rows, ["subject-add", SCRIPT_CATEGORY], subsets=subsets)
    results["protocol"] = {
        "name": "viescore",
        "combine": "geometric_mean",
        "score": "geometric_mean",
        "headline": "mean_of_categories",
        "rescale_to": None,
        "calls": {
            "SC": {"judgements": 4, "read_by": "generate"},
            "PQ": {"judgements": 4, "read_by": "generate"},
        },
    }
    write_report(root / "run" / "report.html", rows, results, "VIEScore", {})
    return root, results


@needs_chromium
def test_report_shows_protocol_criteria_subsets_and_each_call(
    page: Page, protocol_site: tuple[Path, dict[str, Any]], artifacts: Path
) -> None:
    root, results = protocol_site
    with serve(root) as base:
        page.goto(f"{base}/run/report.html")
        screenshot(page, artifacts / "report-protocol.png")

        # The published figure, above everything else
        headline = page.locator("#headline")
        expect(headline).to_contain_text("protocol viescore · mean of category means")
        expect(page.locator(".headline-value")).to_have_text(
            f"{results['overall']['headline']:.2f}"
        )
        expect(headline).to_contain_text("3 of 4 samples judged (75.0% coverage)")
        assert headline.evaluate("node => node.getBoundingClientRect().bottom") < page.locator(
            "h2", has_text="Summary"
        ).evaluate("node => node.getBoundingClientRect().top")

        criteria = page.locator("table.criteria").first
        expect(criteria.locator("thead th")).to_have_text(
            ["category", "score", "editing_success", "SC", "naturalness", "PQ"]
        )
        expect(criteria.locator("tbody tr")).to_have_count(3)  # two categories and overall
        expect(criteria.locator("tbody tr").nth(1).locator("td").first).to_have_text(
            SCRIPT_CATEGORY
        )

        # A subset's name opens its section: its criteria and categories
        cn = page.locator("details.subset#subset-1")
        expect(cn.locator("table.subset-categories")).to_be_hidden()
        page.locator("a.subset-link", has_text="cn").click()
        expect(cn).to_have_js_property("open", True)
        expect(cn.locator("table.subset-categories tbody tr")).to_have_count(2)
        expect(cn.locator("summary")).to_contain_text("1/2 judged, 50.0%")
        screenshot(page, artifacts / "report-subset.png")

        # The filters take a category of any name
        page.select_option("#filter-category", SCRIPT_CATEGORY)
        assert visible_ids(page) == ["x-1", "x-2"]
        page.locator(f'.summary a[data-category="{SCRIPT_CATEGORY}"]').first.click()
        assert visible_ids(page) == ["x-1", "x-2"]
        page.select_option("#filter-status", "parse_error")
        assert visible_ids(page) == ["x-2"]
        failed = page.locator(".sample[data-id='x-2']")
        expect(failed.locator(".call[data-call='PQ'] .status")).to_have_text("parse_error")
        expect(failed.locator(".call[data-call='PQ'] .error")).to_have_text("no score list")
        page.select_option("#filter-category", "")
        page.select_option("#filter-status", "")

        # Each call's verdict and reply; every input and the reference
        card = page.locator(".sample[data-id='a-1']")
        expect(card.locator(".call")).to_have_count(2)
        expect(card.locator(".call[data-call='SC'] .call-score")).to_have_text("6.00")
        expect(card.locator(".call[data-call='SC'] .call-criteria")).to_have_text(
            "editing_success 6.00"
        )
        reply = card.locator(".call[data-call='PQ'] details")
        expect(reply.locator("pre")).to_be_hidden()
        reply.locator("summary").click()
        expect(reply.locator("pre")).to_have_text("PQ reply of a-1")
        expect(card.locator(".inputs .picture")).to_have_count(2)
        card.locator(".reference .picture").click()
        expect(page.locator("#viewer-caption")).to_have_text("a-1 · reference · 64×48 px")
        page.keyboard.press("Escape")
        for image in card.locator("img").all():
            image.scroll_into_view_if_needed()
            expect(image).to_have_js_property("complete", True)
            assert image.evaluate("image => image.naturalWidth") > 0


@needs_chromium
def test_thousand_samples_load_and_filter_quickly(
    page: Page, tmp_path: Path, artifacts: Path
) -> None:
    """A thousand samples with distinct images: the page loads in seconds and a filter or a
    sort shows its result within a frame or two, so nothing freezes."""
    images = tmp_path / "site" / "images"
    rng = np.random.default_rng(0)
    gradient = np.linspace(0, 200, 384)[:, None, None] + rng.normal(0, 30, (384, 768, 3))
    texture = gradient.clip(0, 255).astype(np.uint8)

    def photo(path: Path, offset: int) -> str:
        """A 384-pixel JPEG, noisy enough to be thumbnailed rather than embedded; each offset
        into the texture gives a different image."""
        Image.fromarray(texture[:, offset : offset + 384]).save(path, quality=90)
        return str(path)

    images.mkdir(parents=True)
    statuses = ["ok"] * 8 + ["parse_error", "refusal"]
    rows = []
    for i in range(1000):
        status = statuses[i % len(statuses)]
        rows.append(
            {
                "id": f"sample-{i}",
                "category": CATEGORIES[i % len(CATEGORIES)],
                "instruction": f"Edit number {i}",
                "source_image": photo(images / f"{i}.jpg", i % 384),
                "edited_image": photo(images / f"{i}-edit.jpg", 383 - i % 384),
                "status": status,
                "score": float(rng.uniform(0, 10)) if status == "ok" else None,
                "reply": f"Reasoning about sample {i}. Score: 5",
            }
        )
    report = tmp_path / "site" / "run" / "report.html"
    started = time.perf_counter()
    write_report(report, rows, aggregate(rows, CATEGORIES), "1,000 samples", {})
    generation_s = time.perf_counter() - started

    with serve(tmp_path / "site") as base:
        started = time.perf_counter()
        page.goto(f"{base}/run/report.html")
        load_s = time.perf_counter() - started
        # From the change event until the next frame is painted.
        timed_change = """async ([id, value]) => {
            const started = performance.now();
            const select = document.getElementById(id);
            select.value = value;
            select.dispatchEvent(new Event("change"));
            await new Promise(done => requestAnimationFrame(() => setTimeout(done)));
            return performance.now() - started;
        }"""
        filter_ms = page.evaluate(timed_change, ["filter-category", "social"])
        status_ms = page.evaluate(timed_change, ["filter-status", "parse_error"])
        assert len(visible_ids(page)) == sum(
            row["category"] == "social" and row["status"] == "parse_error" for row in rows
        )
        page.evaluate(timed_change, ["filter-status", ""])
        page.evaluate(timed_change, ["filter-category", ""])
        sort_ms = page.evaluate(timed_change, ["sort", "score-asc"])
        page.screenshot(path=artifacts / "thousand-by-score.png")

    size_mb = report.stat().st_size / 1e6
    print(
        f"1,000 samples: write_report {generation_s:.1f} s, {size_mb:.1f} MB; page load "
        f"{load_s:.2f} s; category filter {filter_ms:.0f} ms, status filter {status_ms:.0f} ms, "
        f"sort {sort_ms:.0f} ms"
    )
    # Loose bounds, ten times the normal (0.9 s to load; the sort, the slowest change, 225 ms):
    # they catch a page that freezes, not a slow machine.
    assert load_s < 10
    assert max(filter_ms, status_ms, sort_ms) < 2500


@needs_chromium
@pytest.mark.slow
def test_comparison_page(page: Page, tmp_path: Path, artifacts: Path) -> None:
    """comparison.html, as ``python -m editbench.compare A B`` writes it, in the browser."""
    site = tmp_path / "site"
    images = site / "images"
    runs = []
    for side, shift in (("a", 0.0), ("b", 1.5)):
        rows = [
            {
                "id": f"{category}-{i}",
                "category": category,
                "instruction": f"Edit {category} {i}",
                "source_image": save_image(images / f"{category}-{i}.png", (64, 48)),
                "edited_image": save_image(images / f"{category}-{i}-{side}.png", (64, 48)),
                "status": "ok",
                "score": 3.0 + i + (shift if category == "physical" else 0.0),
                "criteria": {"SC": 3.0 + i + shift, "PQ": 5.0},
                "reply": f"Run {side}, sample {i}.",
                "extra": {"half": "first" if i < 2 else "second"},
            }
            for category in CATEGORIES
            for i in range(4)
        ]
        folder = tmp_path / "runs" / side
        folder.mkdir(parents=True)
        (folder / "samples.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
        config = {
            "protocol": {"name": "viescore", "headline": "mean_of_categories"},
            "dataset": {"subsets": {"first": {"half": "first"}, "second": {"half": "second"}}},
        }
        (folder / "config.yaml").write_text(json.dumps(config))  # YAML reads JSON
        runs.append(str(folder))
    command = [sys.executable, "-m", "editbench.compare", *runs, "--out", str(site / "compare")]
    result = subprocess.run(
        [*command, "--bootstrap", "200", "--top", "3"],
        capture_output=True,
        text=True,
        timeout=COMPARE_S,
    )
    assert result.returncode == 0, result.stderr

    with serve(site) as base:
        page.goto(f"{base}/compare/comparison.html")
        summary = page.locator("table.summary.categories tbody tr")
        expect(summary).to_have_count(len(CATEGORIES) + 1)
        expect(summary.last).to_contain_text("overall")
        expect(summary.first).to_contain_text("+1.50")  # physical moved by the shift
        expect(page.locator("svg.chart circle.dot")).to_have_count(len(CATEGORIES) + 1 + 2)
        expect(page.locator(".details")).to_contain_text("viescore")
        criteria = page.locator("table.criteria tbody tr")
        expect(criteria).to_have_count(2)
        expect(criteria.first).to_contain_text("SC")
        expect(criteria.first).to_contain_text("+1.50")
        expect(criteria.last).to_contain_text("+0.00")
        per_category = page.locator("details.criterion").first
        expect(per_category.locator("table")).to_be_hidden()
        per_category.locator("summary").click()
        expect(per_category.locator("tbody tr")).to_have_count(len(CATEGORIES))
        subsets = page.locator("table.subsets tbody tr")
        expect(subsets).to_have_count(2)
        expect(subsets.first).to_contain_text("first")
        expect(subsets.first).to_contain_text("+0.50")  # physical's 1.50 over 3 categories
        movers = page.locator("table.movers img")
        expect(movers).to_have_count(3 * 3)  # source | edit A | edit B for each mover
        for image in movers.all():
            expect(image).to_have_js_property("complete", True)
            assert image.evaluate("image => image.naturalWidth") > 0
        screenshot(page, artifacts / "comparison.png")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def mlflow_server(backend_uri: str, log: Path) -> Iterator[str]:
    """``mlflow server`` on a free port of 127.0.0.1, stopped with all its children at exit;
    yields its URL once it answers."""
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_uri]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with open(log, "wb") as output:
        # A session of its own, so that stopping it stops the workers it forks too.
        server = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + MLFLOW_READY_S
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mlflow server did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@needs_chromium
@pytest.mark.slow
def test_mlflow_ui_lists_runs_with_a_metric_column(
    browser: Browser, tmp_path: Path, artifacts: Path
) -> None:
    """Two runs logged by editbench's tracker, seen in MLflow's experiment page.

    Only editbench's data is checked here: MLflow's own page logs errors of its own (a 404 for
    the current user, with no auth configured), which are not ours to fail on.
    """
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    runs = {"tiny × tiny · v1": 4.25, "tiny × tiny · v2": 6.75}
    for name, score in runs.items():
        tracker = MlflowTracker(uri, "editbench", str(tmp_path / "mlartifacts"))
        tracker.start(name, {"editor": "tiny"}, {"prompts/physical": name[-2:]})
        tracker.log_metrics({"score/physical/mean": score, "score/overall": score})
        tracker.finish("FINISHED")
    experiment = tracker.experiment_id()

    with mlflow_server(uri, tmp_path / "mlflow-server.log") as url:
        page = browser.new_page(viewport={"width": 1600, "height": 900})
        page.goto(f"{url}/#/experiments/{experiment}/runs")
        for name in runs:
            expect(page.get_by_text(name, exact=True)).to_be_visible()
        # Metric columns are opt-in in MLflow's runs table: pick one as a user would.
        page.get_by_role("button", name="Columns").click()
        page.get_by_text("score/overall", exact=True).click()
        page.keyboard.press("Escape")
        header = page.get_by_role("columnheader", name="score/overall").first
        header.scroll_into_view_if_needed()
        expect(header).to_be_visible()
        for score in runs.values():
            cell = page.get_by_role("gridcell").filter(has_text=re.compile(rf"^{score}$"))
            expect(cell).to_be_visible()
        page.screenshot(path=artifacts / "mlflow-runs.png")
        page.close()


def run_in_terminal(command: list[str], cwd: Path, timeout_s: float) -> tuple[int, str]:
    """Run ``command`` on a 120×40 pseudo-terminal, as from a shell; returns its exit code and
    everything it wrote, control characters included."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(
        command, cwd=cwd, stdin=follower, stdout=follower, stderr=follower, start_new_session=True
    )
    os.close(follower)
    output = bytearray()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if not select.select([leader], [], [], 1.0)[0]:
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's last writer has gone
                break
            if not chunk:
                break
            output += chunk
        else:
            process.kill()
            pytest.fail(f"{command} ran over {timeout_s} s:\n{output.decode()[-3000:]}")
        return process.wait(timeout=EXIT_S), output.decode(errors="replace")
    finally:
        os.close(leader)


@pytest.mark.slow
def test_progress_bars_render_in_a_terminal(tmp_path: Path) -> None:
    """tqdm's bars as a terminal gets them: redrawn in place with carriage returns, the
    phase totals finishing at 100%."""
    code, output = run_in_terminal(
        [
            sys.executable,
            "-m",
            "editbench",
            "experiment=demo",
            "dataset.limit=2",
            f"hydra.run.dir={tmp_path / 'run'}",
            *local_overrides(tmp_path),
        ],
        cwd=tmp_path,
        timeout_s=TERMINAL_S,
    )

    assert code == 0, output[-3000:]
    for phase in ("edit", "score"):
        assert re.search(rf"\r{phase} total: 100%\|█+\| 2/2 \[", output), output[-3000:]
    assert re.search(r"\redit-0: .*step 2/2", output)  # the worker's denoising step
    assert "\x1b[A" in output  # worker bars below the totals: the cursor moves back up
    # A bar wider than the terminal would wrap, and its redraws would pile up line after line.
    # Cursor movements (to the bars below and back) take no room on the screen.
    visible = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", output)
    bars = [
        line for line in re.split(r"[\r\n]", visible) if re.match(r"(edit|score)[-\w ]*:", line)
    ]
    assert bars and max(len(bar) for bar in bars) <= 120
