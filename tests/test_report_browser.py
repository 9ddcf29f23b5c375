"""The summary page in a real browser: Debian's Chromium, headless, driven by Playwright.

No browser is downloaded: Playwright launches the system ``chromium`` (``CHROMIUM`` overrides the path).
Without Playwright or Chromium the tests fail under CI (``CI=true``) and are skipped elsewhere.

The reader's view (the answer on the first screen, a table that fits) is checked on a page built from
small hand-made tables and on the demo's page; the other tests use the demo's page. Screenshots go to
pytest's temporary directory (the path is printed; run with ``-s`` to see it).
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from trialomics import report_headline, report_page, style
from trialomics.report import Figure, Provenance, SummaryInputs, Table

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SECTIONS = ["headline", "cohort", "efficacy", "safety", "differential", "enrichment", "models", "biomarkers",
            "provenance"]
LAPTOP = {"width": 1366, "height": 768}
READER = {"width": 1400, "height": 900}


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

    def __init__(self, playwright, url: str, viewport: dict = LAPTOP):
        self.console_errors, self.page_errors, self.requests = [], [], []
        self._browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        self.page = self._browser.new_page(viewport=viewport)
        self.page.on("console", lambda message: message.type == "error" and self.console_errors.append(
            f"{message.text} ({message.location})"))
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.goto(url, wait_until="load")

    def close(self):
        self._browser.close()


@pytest.fixture(scope="module")
def playwright():
    """One Playwright for the module: its sync API cannot run twice at once in one thread."""
    sync_api = require_browser()  # before the (slow) demo run, so a missing browser skips at once
    started = sync_api.sync_playwright().start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def summary(request, playwright):
    """The demo's summary page, open in the browser; closed after this module's tests."""
    html_file = Path(request.getfixturevalue("demo_run")) / "results" / "report" / "summary.html"
    assert html_file.is_file(), f"the demo run wrote no {html_file}"
    opened = BrowserPage(playwright, html_file.resolve().as_uri())
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


# ------------------------------------------------------------------ the reader's view at 1,400 x 900

ENDPOINTS = ["pfs", "os", "responder", "clinical_benefit"]
LONG_NAMES = ["HALLMARK_INTERFERON_GAMMA_RESPONSE", "REACTOME_PD1_SIGNALING_AND_T_CELL_EXHAUSTION_PROGRAMME",
              "CXCL9", "GZMB", "CXCL10", "IDO1", "STAT1", "VEGFA", "KRAS", "CDKN2A"]


# The hand-made trial's primary endpoint is OS (the only one where a signal can be strong).
RULES = report_headline.TierRules(primary_endpoint="os")


def handmade_inputs(tmp_path: Path) -> SummaryInputs:
    """A trial of 30 candidates (long pathway names, every evidence column) and four endpoints: an OS
    (primary) signal that is strong, endpoints at chance, a card and the headline figure."""
    n = 30
    modalities = ["pathways", "pathways", "rna", "rna", "proteins", "proteins", "rna", "proteins", "mutations",
                  "copy_number"] * 3
    features = [f"{name}_{i // 10}" if i >= 10 else name for i, name in enumerate(LONG_NAMES * 3)]
    ranked = pd.DataFrame({
        "rank": [str(i + 1) for i in range(n)], "modality": modalities, "feature": features, "gene": features,
        "score": [str(30 - i) for i in range(n)],
        "tier": ["strong", "supported", "supported"] + ["exploratory"] * (n - 3),
        "tier_endpoint": ["os"] * 3 + ["pfs"] * (n - 3),
        "calibrated_p": ["0.0099", "0.03", "0.04"] + [str(min(1.0, 0.1 + 0.03 * i)) for i in range(n - 3)],
        "calibrated_q": ["0.02", "0.06", "0.07"] + [str(min(1.0, 0.3 + 0.02 * i)) for i in range(n - 3)],
        "signal": [f"pathways:{features[0]}"] * 5 + [f"{m}:{f}" for m, f in zip(modalities[5:], features[5:])],
        "signal_rank": ["1"] * 5 + [str(i - 3) for i in range(5, n)], "signal_size": ["5"] * 5 + ["1"] * (n - 5),
    })
    for endpoint in ENDPOINTS:
        prefix, effect = ("cox", "hr") if endpoint in ("pfs", "os") else ("diff", "effect")
        ranked[f"{prefix}_{endpoint}_{effect}"] = [str(0.3 + 0.05 * i) for i in range(n)]
        ranked[f"{prefix}_{endpoint}_pvalue"] = [str(min(1.0, 1e-5 * 3 ** i)) for i in range(n)]
        ranked[f"{prefix}_{endpoint}_padj"] = [str(min(1.0, (0.002 if endpoint == "os" else 0.2) * 2 ** i))
                                               for i in range(n)]
        ranked[f"stability_{endpoint}"] = [str(0.9 if endpoint == "os" else 0.3)] + ["0.1"] * (n - 1)
        ranked[f"stability_{endpoint}_model"] = ["pathways"] * n
        ranked[f"stability_{endpoint}_sign"] = ["-1.0"] * n
        ranked[f"model_{endpoint}_permutation_p"] = ["0.0099" if endpoint == "os" else "0.45"] * n
        ranked[f"chain_{endpoint}_z"] = [str(-3.5 + 0.1 * i) for i in range(n)]
        ranked[f"calibrated_{endpoint}_p"] = [str(min(1.0, (0.0099 if endpoint == "os" else 0.1) * 1.5 ** i))
                                              for i in range(n)]
        ranked[f"calibrated_{endpoint}_q"] = [str(min(1.0, (0.02 if endpoint == "os" else 0.3) * 1.5 ** i))
                                              for i in range(n)]
    ranked["enriched_gene_sets"] = ";".join(LONG_NAMES[:2])
    ranked["n_enriched_gene_sets"] = "2"
    ranked["concordant_modalities"] = "rna;proteins"
    ranked["n_concordant_modalities"] = "2"
    ranked["concordance_direction"] = "up"

    def performance(endpoint: str) -> pd.DataFrame:
        good = endpoint == "os"
        return pd.DataFrame({"model": ["pathways", "rna", "joint"], "metric": ["c_index" if endpoint in ("pfs", "os")
                                                                               else "auc"] * 3,
                             "estimate": ["0.84" if good else "0.52", "0.61", "0.5"],
                             "ci_low": ["0.7", "0.45", "0.35"], "ci_high": ["0.95", "0.77", "0.65"],
                             "permutation_p": ["0.0099" if good else "0.41", "0.2", "0.6"],
                             "n_permutations": ["100"] * 3, "n_patients": ["20"] * 3})

    inputs = SummaryInputs(
        ranked=Table("biomarkers/ranked.tsv", ranked),
        performance={e: Table(f"models/{e}/performance.tsv", performance(e)) for e in ENDPOINTS},
        provenance=Provenance(config={"seed": 1}, checksums=pd.DataFrame(columns=["path", "bytes", "sha256"]),
                              versions={"python": "3.11"}, seed=1, date="2024-01-02", command="snakemake"))
    findings = report_headline.findings_from_inputs(inputs, ENDPOINTS, RULES)
    figure = tmp_path / "headline_signals.png"
    style.save_figure(report_headline.signal_dot_plot(findings, RULES), figure)
    inputs.headline_figure = Figure("report/headline_signals.png", figure.read_bytes())
    inputs.cards = {1: Figure("biomarkers/cards/01_pathways_x.png", figure.read_bytes())}
    return inputs


@pytest.fixture(scope="module", params=["handmade", "demo"])
def reader_view(request, tmp_path_factory, playwright):
    """The page open at 1,400 x 900: built from hand-made tables, or the demo's."""
    if request.param == "handmade":
        folder = tmp_path_factory.mktemp("handmade") / "results" / "report"
        folder.mkdir(parents=True)
        html_file = folder / "summary.html"
        html_file.write_text(report_page.build_summary_page(handmade_inputs(folder), endpoints=ENDPOINTS,
                                                            rules=RULES), encoding="utf-8")
    else:
        html_file = Path(request.getfixturevalue("demo_run")) / "results" / "report" / "summary.html"
        assert html_file.is_file(), f"the demo run wrote no {html_file}"
    opened = BrowserPage(playwright, html_file.resolve().as_uri(), viewport=READER)
    yield opened, request.param
    opened.close()


def test_the_answer_its_endpoint_and_tier_are_on_the_first_screen(reader_view, tmp_path):
    browser, name = reader_view
    page = browser.page
    shot = tmp_path / f"first_screen_{name}.png"
    page.screenshot(path=str(shot))
    print(f"first screen of the {name} page: {shot}")
    assert browser.console_errors == [] and browser.page_errors == []
    heading = page.locator("section#headline > h2")
    assert heading.inner_text() == "What the data say"
    box = heading.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= READER["height"]
    top = page.locator("#headline-top-signal")
    assert top.count() == 1
    box = top.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= READER["height"], box
    tier, endpoint = top.locator(".badge").first, top.locator(".endpoint-tag").first
    assert tier.inner_text() in ("strong", "supported", "exploratory")
    assert endpoint.inner_text()
    for element in (tier, endpoint):
        box = element.bounding_box()
        assert box["y"] + box["height"] <= READER["height"]
    if name == "handmade":
        assert (tier.inner_text(), endpoint.inner_text()) == ("strong", "OS")
        first = page.locator("section#headline .finding").first.inner_text()
        assert first.startswith("OS: strong evidence for HALLMARK_INTERFERON_GAMMA_RESPONSE (pathways), one "
                                "signal of 5 correlated candidates. Best out-of-fold C-index 0.840")


def overflow(page, selector: str) -> dict:
    return page.eval_on_selector(selector, """(table) => {
        const wrap = table.parentElement;
        const main = document.querySelector("main").getBoundingClientRect();
        return {scroll: wrap.scrollWidth, client: wrap.clientWidth,
                right: table.getBoundingClientRect().right, main_right: main.right};
    }""")


def test_the_biomarker_table_fits_the_page_width_with_a_row_opened(reader_view, tmp_path):
    browser, name = reader_view
    page = browser.page
    if page.locator("#biomarkers-table").count() == 0:
        pytest.skip("no biomarker table on this page")
    sizes = overflow(page, "#biomarkers-table")
    assert sizes["scroll"] <= sizes["client"] and sizes["right"] <= sizes["main_right"], sizes
    headers = page.eval_on_selector_all("#biomarkers-table thead th", "cells => cells.map(c => c.title)")
    assert headers and all(headers)
    page.locator("#biomarkers-table tbody tr").first.locator("td.details summary").click()
    sizes = overflow(page, "#biomarkers-table")
    assert sizes["scroll"] <= sizes["client"] and sizes["right"] <= sizes["main_right"], sizes
    page.locator("#biomarkers-table").scroll_into_view_if_needed()
    shot = tmp_path / f"biomarkers_{name}.png"
    page.screenshot(path=str(shot))
    print(f"biomarker table of the {name} page: {shot}")
