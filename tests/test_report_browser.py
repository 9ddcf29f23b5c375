"""The demo's summary page in a real browser: Debian's Chromium, headless, driven by Playwright.

No browser is downloaded: Playwright launches the system ``chromium`` (``CHROMIUM`` overrides the path).
Without Playwright or Chromium the tests fail under CI (``CI=true``) and are skipped elsewhere.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SECTIONS = ["cohort", "efficacy", "safety", "differential", "enrichment", "models", "biomarkers", "provenance"]
LAPTOP = {"width": 1366, "height": 768}


def require_browser():
    """Playwright's sync API; fails under CI, skips elsewhere, when the browser stack is missing."""
    problems = []
    try:
        from playwright import sync_api
    except ImportError:
        sync_api = None
        problems.append("the Python package playwright is not installed (pip install playwright==1.65.2)")
    if not CHROMIUM.is_file():
        problems.append(f"{CHROMIUM} does not exist (apt-get install -y --no-install-recommends chromium)")
    if problems:
        message = "browser test cannot run: " + "; ".join(problems)
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return sync_api


class BrowserPage:
    """A page opened in headless Chromium that records console errors, page errors and network use."""

    def __init__(self, sync_api, url: str):
        self.console_errors, self.page_errors, self.requests = [], [], []
        self._playwright = sync_api.sync_playwright().start()
        self._browser = self._playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        self.page = self._browser.new_page(viewport=LAPTOP)
        self.page.on("console", lambda message: message.type == "error" and self.console_errors.append(
            f"{message.text} ({message.location})"))
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.goto(url, wait_until="load")

    def close(self):
        self._browser.close()
        self._playwright.stop()


@pytest.fixture(scope="module")
def summary(request):
    """The demo's summary page, open in the browser; closed after this module's tests."""
    sync_api = require_browser()  # before the (slow) demo run, so a missing browser skips at once
    html_file = Path(request.getfixturevalue("demo_run")) / "results" / "report" / "summary.html"
    assert html_file.is_file(), f"the demo run wrote no {html_file}"
    opened = BrowserPage(sync_api, html_file.resolve().as_uri())
    yield opened, html_file
    opened.close()


def column_values(page, table: str, column: str) -> list[str]:
    """Each body row's sort key (or text) in one column, in the order shown."""
    return page.eval_on_selector(
        f"#{table}",
        """(table, name) => {
            const headers = Array.from(table.tHead.rows[0].cells).map(cell => cell.textContent.trim());
            const index = headers.indexOf(name);
            if (index < 0) { throw new Error("no column " + name); }
            return Array.from(table.tBodies[0].rows).map(row => {
                const cell = row.cells[index];
                return cell.getAttribute("data-sort") ?? cell.textContent.trim();
            });
        }""",
        column,
    )


def test_page_loads_offline_without_errors_and_is_screenshotted(summary, tmp_path):
    browser, html_file = summary
    page = browser.page
    page.screenshot(path=str(tmp_path / "summary_viewport.png"))
    page.screenshot(path=str(tmp_path / "summary.png"), full_page=True)
    assert (tmp_path / "summary.png").stat().st_size > 10_000
    assert browser.console_errors == []
    assert browser.page_errors == []
    # The page itself is the only request: images are data URIs and nothing else may load.
    assert [url for url in browser.requests if not url.startswith("data:")] == [html_file.resolve().as_uri()]
    assert page.title()


def test_every_main_section_is_present_and_reachable_from_the_nav(summary):
    page = summary[0].page
    for section in SECTIONS:
        assert page.locator(f"section#{section}").count() == 1, section
        assert page.locator(f'nav a[href="#{section}"]').count() == 1, section
    page.click('nav a[href="#provenance"]')
    assert page.evaluate("location.hash") == "#provenance"
    assert page.locator("section#provenance").is_visible()
    for section in ("cohort", "efficacy", "safety"):  # always produced by the demo
        assert "Not run" not in page.locator(f"section#{section}").inner_text(), section


def test_efficacy_and_coverage_tables_have_rows(summary):
    page = summary[0].page
    assert page.locator("#efficacy-table tbody tr").count() >= 3
    assert page.locator("#coverage-table tbody tr").count() == 20  # the demo trial's patients
    assert page.locator("#efficacy-table").is_visible()
    efficacy = page.locator("#efficacy-table").inner_text()
    assert "Objective response rate (ORR)" in efficacy and "95% CI" in efficacy


def test_clicking_a_header_sorts_numerically_both_ways(summary):
    page = summary[0].page
    before = column_values(page, "coverage-table", "pfs_months")
    header = page.locator("#coverage-table thead th", has_text="pfs_months")
    header.click()
    ascending = [float(v) for v in column_values(page, "coverage-table", "pfs_months") if v != ""]
    assert ascending == sorted(ascending) and len(ascending) == len([v for v in before if v != ""])
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    descending = [float(v) for v in column_values(page, "coverage-table", "pfs_months") if v != ""]
    assert descending == sorted(ascending, reverse=True)
    assert header.get_attribute("aria-sort") == "descending"
    assert column_values(page, "coverage-table", "pfs_months") != before


def test_named_rule_outputs_exist_next_to_the_page(summary):
    page, html_file = summary[0].page, summary[1]
    links = page.eval_on_selector_all("a.source", "links => links.map(link => link.getAttribute('href'))")
    assert links, "the page names no rule output"
    missing = sorted({link for link in links if not (html_file.parent / link).resolve().is_file()})
    assert missing == []


def test_a_ranked_biomarker_leads_to_its_card_and_evidence(summary):
    page, html_file = summary[0].page, summary[1]
    if page.locator("#biomarkers-table").count() == 0:
        pytest.skip("the demo workflow has no biomarkers stage yet")
    card_links = page.locator("#biomarkers-table tbody a[href^='#card-']")
    assert card_links.count() >= 1
    target = card_links.first.get_attribute("href")
    card_links.first.click()
    assert page.evaluate("location.hash") == target
    card = page.locator(f"section{target}")
    assert card.is_visible()
    evidence = card.locator("a.source")
    assert evidence.count() >= 1
    assert all((html_file.parent / evidence.nth(i).get_attribute("href")).resolve().is_file()
               for i in range(evidence.count()))
