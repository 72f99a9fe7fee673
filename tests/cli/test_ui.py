"""The Prefect UI as a user sees it: Debian's Chromium, headless, driven by Playwright, on the session's server."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from conftest import AFTER_RUN, STAGES, run_cli

CHROMIUM = "/usr/bin/chromium"  # Debian's package (.ci/system-deps installs it); Playwright downloads nothing
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results"  # ignored by git; CI keeps it as an artifact


def test_flow_run_page_shows_every_task_run_and_the_evaluation(prefect_api: str, tmp_path: Path) -> None:
    # a small run: the page shows every stage, the evaluation and its charts whatever the data's size
    done = run_cli("run", "--rows", "200", "--epochs", "2", "--artifacts", str(tmp_path / "artifacts"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = re.search(r"^flow run: (http\S+)$", done.stdout, re.M)  # the link every run ends with
    assert printed and printed.group(1).startswith(prefect_api.removesuffix("/api")), done.stdout[-2000:]
    page_url = printed.group(1)
    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(page_url)
            expect(page.get_by_text("Completed").first).to_be_visible(timeout=60_000)
            expect(page.get_by_text("Can't connect to Server API")).to_have_count(0)

            page.locator("li.p-tab", has_text="Task Runs").click()  # the UI's tabs are list items
            expect(page.get_by_text(f"{len(STAGES + AFTER_RUN)} Task runs", exact=True).first).to_be_visible(timeout=30_000)
            for stage in STAGES + AFTER_RUN:
                expect(page.get_by_text(re.compile(rf"^{re.escape(stage)}-\w+$")).first).to_be_visible(timeout=30_000)
            page.screenshot(path=str(SCREENSHOTS / "flow-run-task-runs.png"), full_page=True)

            page.locator("li.p-tab", has_text="Artifacts").click()
            expect(page.get_by_text("eagergraph-evaluation").first).to_be_visible(timeout=30_000)
            page.screenshot(path=str(SCREENSHOTS / "flow-run-artifacts.png"), full_page=True)

            page.get_by_text("eagergraph-evaluation").first.click()  # the artifact's page renders the markdown
            expect(page.get_by_text("speedup (tracing included)").first).to_be_visible(timeout=30_000)
            for alt in ("training curves", "step times"):  # inline data: PNGs, decoded by the browser
                image = page.locator(f'img[alt="{alt}"]').first
                expect(image).to_be_visible(timeout=30_000)
                page.wait_for_function("img => img.complete", arg=image.element_handle(), timeout=30_000)
                assert image.evaluate("img => img.naturalWidth") > 300, alt
            # the UI scrolls inside its own panel: a tall window shows most of the artifact; tests write no tracked file
            # (no scrolling after the resize: the UI re-renders on it, and the whole artifact fits in 2300 px)
            page.set_viewport_size({"width": 1200, "height": 2300})
            expect(page.locator('img[alt="step times"]').first).to_be_visible(timeout=30_000)
            page.screenshot(path=str(SCREENSHOTS / "evaluation-artifact.png"))
        finally:
            browser.close()
