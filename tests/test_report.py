"""The summary page builder: sections, rounding, escaping, self-containment, determinism, checksums."""
from __future__ import annotations

import base64
import hashlib
import html
import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from trialomics import report, report_biomarkers, report_page, report_sections, style
from trialomics.report import Figure, Provenance, SummaryInputs, Table
from trialomics.report_headline import TierRules

HOSTILE = '<script>alert("x")</script>&<img src=x onerror=alert(1)>'
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))  # the bytes are only embedded, never decoded


class PageParser(HTMLParser):
    """Collects ids, table cells, links, image sources and script/style bodies of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids, self.links, self.images, self.scripts, self.styles = [], [], [], [], []
        self.cells = []  # (table id, attrs, text)
        self.tables = {}
        self._table, self._cell, self._raw = None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "table":
            self._table = attrs.get("id")
            self.tables[self._table] = attrs
        elif tag == "td":
            self._cell = (self._table, attrs, [])
        elif tag == "a":
            self.links.append(attrs.get("href", ""))
        elif tag == "img":
            self.images.append(attrs.get("src", ""))
        elif tag in ("script", "style"):
            self._raw = (tag, [])

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            table, attrs, text = self._cell
            self.cells.append((table, attrs, "".join(text)))
            self._cell = None
        elif tag in ("script", "style") and self._raw is not None:
            (self.scripts if tag == "script" else self.styles).append("".join(self._raw[1]))
            self._raw = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[2].append(data)
        if self._raw is not None:
            self._raw[1].append(data)


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    return parser


def cells_of(parsed: PageParser, table_id: str) -> list[tuple[dict, str]]:
    return [(attrs, text) for table, attrs, text in parsed.cells if table == table_id]


def provenance(date: str = "2024-01-02") -> Provenance:
    checksums = pd.DataFrame({"path": ["inputs/samples.tsv"], "bytes": [3], "sha256": ["ab" * 32]})
    return Provenance(config={"samples": "inputs/samples.tsv", "seed": 7}, checksums=checksums,
                      versions={"python": "3.11.7", "pandas": "2.3.3"}, seed=7, date=date,
                      command="snakemake --snakefile workflow/Snakefile --configfile config.yaml --cores all")


def full_inputs() -> SummaryInputs:
    coverage = pd.DataFrame({"patient_id": ["007", "BTC02"], "rna": ["yes", "no"], "proteins": ["yes", "yes"],
                             "n_modalities": ["2", "1"]})
    labels = pd.DataFrame({"patient_id": ["007", "BTC02"], "bor": ["PR", "PD"], "responder": ["yes", "no"],
                           "pfs_months": ["12.944558521560575", "2.1"], "pfs_event": ["0", "1"]})
    outliers = pd.DataFrame({"sample_id": ["S1", "S2"], "patient_id": ["007", "BTC02"], "outlier": ["no", "yes"],
                             "reason": ["", "low correlation with other samples"]})
    efficacy = pd.DataFrame({
        "endpoint": ["ORR", "median_PFS"], "estimate": ["0.25", "4.632443531827516"],
        "ci_low": ["0.0866", "2.8"], "ci_high": ["0.491", ""], "n": ["20", "20"], "count": ["5", "17"],
        "unit": ["proportion", "months"], "method": ["Clopper-Pearson exact 95% CI", "Kaplan-Meier"],
        "note": ["", "upper limit not reached"]})
    adverse = pd.DataFrame({"term": ["Any TEAE", "Hypertension"], "any_grade_n": ["20", "12"],
                            "any_grade_pct": ["100.0", "60.0"], "grade3plus_n": ["9", "4"],
                            "grade3plus_pct": ["45.0", "20.0"], "related_any_n": ["18", "11"],
                            "related_grade3plus_n": ["7", "4"], "related_any_pct": ["90.0", "55.0"],
                            "related_grade3plus_pct": ["35.0", "20.0"]})
    differential = pd.DataFrame({
        "feature": ["CXCL9", HOSTILE, "GENE3"], "effect": ["1.6760856536019109", "-0.5", "0.1"],
        "stat": ["3.8967023397907012", "-1.0", "0.2"],
        "pvalue": ["0.00033564163068467145", "0.3", "0.9"], "padj": ["0.0123456", "0.6", "0.9"],
        "effect_type": ["difference of mean log2 abundance"] * 3})
    prerank = pd.DataFrame({"gene_set": ["T_CELLS", "ANGIO"], "es": ["0.8", "-0.3"], "nes": ["1.7", "-0.9"],
                            "pvalue": ["0.004", "0.5"], "fdr": ["0.05", "0.6"],
                            "leading_edge": [";".join(f"GENE{i:02d}" for i in range(30)), "VEGFA"]})
    performance = pd.DataFrame({"model": ["rna", "rna"], "metric": ["c_index", "uno_c"],
                                "estimate": ["0.71234", "0.7"], "ci_low": ["0.6", "0.55"],
                                "ci_high": ["0.8", "0.82"], "permutation_p": ["0.0099", "0.02"],
                                "n_patients": ["20", "20"], "note": ["", ""]})
    stability = pd.DataFrame({"model": ["rna", "rna"], "modality": ["rna", "rna"],
                              "feature": ["CXCL9", "GENE3"], "selection_frequency": ["0.2", "0.83"]})
    ranked = pd.DataFrame({
        "rank": ["1", "2"], "modality": ["rna", "proteins"], "feature": ["CXCL9", "CXCL10"],
        "gene": ["CXCL9", "CXCL10"], "score": ["3.2", "2.9"], "tier": ["strong", "exploratory"],
        "tier_endpoint": ["pfs", ""], "calibrated_p": ["0.002", ""], "calibrated_q": ["0.01", ""],
        "signal": ["rna:CXCL9", "rna:CXCL9"], "signal_rank": ["1", "1"],
        "signal_size": ["2", "2"], "diff_responder_effect": ["1.6", ""], "diff_responder_pvalue": ["0.0003", ""],
        "diff_responder_padj": ["0.012", ""], "cox_pfs_hr": ["0.5", ""], "cox_pfs_pvalue": ["0.01", ""],
        "cox_pfs_padj": ["0.2", ""], "stability_pfs": ["0.2", ""], "stability_pfs_model": ["rna", ""],
        "stability_pfs_sign": ["-1.0", ""], "model_pfs_permutation_p": ["0.0099", ""],
        "enriched_gene_sets": ["T_CELLS", ""], "n_enriched_gene_sets": ["1", "0"],
        "concordant_modalities": ["rna;proteins", ""], "n_concordant_modalities": ["2", "0"],
        "chain_pfs_z": ["-3.1", ""], "calibrated_pfs_p": ["0.002", ""], "calibrated_pfs_q": ["0.01", ""]})
    return SummaryInputs(
        coverage=Table("cohort/coverage.tsv", coverage), labels=Table("clinical/labels.tsv", labels),
        outliers={"rna": Table("qc/rna/outliers.tsv", outliers)},
        qc_figures={"rna": [Figure("qc/rna/pca_by_response.png", PNG)]},
        efficacy=Table("clinical/efficacy.tsv", efficacy),
        adverse_events=Table("clinical/adverse_events.tsv", adverse),
        clinical_figures=[Figure("clinical/waterfall.png", PNG)],
        differential={("rna", "responder"): Table("differential/rna/responder.tsv", differential),
                      ("proteins", "responder"): Table("differential/proteins/responder.tsv", differential)},
        differential_figures={("rna", "responder"): [Figure("differential/rna/plots/responder.volcano.png", PNG)]},
        enrichment={("rna", "responder"): Table("enrichment/rna/responder.prerank.tsv", prerank)},
        performance={"pfs": Table("models/pfs/performance.tsv", performance)},
        stability={"pfs": Table("models/pfs/stability.tsv", stability)},
        ranked=Table("biomarkers/ranked.tsv", ranked),
        recovery=Table("biomarkers/recovery.tsv", pd.DataFrame({
            "metric": ["precision_at_k", "recall_at_k", "programmes_leading_signals", "n_truth"],
            "k": ["10", "10", "10", "10"], "value": ["0.9", "0.47368421052631576", "0.75", "19.0"]})),
        cards={1: Figure("biomarkers/cards/001_rna_CXCL9.png", PNG)},
        provenance=provenance())


SECTION_IDS = ["headline", "cohort", "efficacy", "safety", "differential", "enrichment", "models", "biomarkers",
               "provenance"]


def test_empty_inputs_give_every_section_with_a_not_run_note():
    parsed_page = report_page.build_summary_page(SummaryInputs())
    parsed = parse(parsed_page)
    for section in SECTION_IDS:
        assert section in parsed.ids
        assert f"#{section}" in parsed.links
        body = parsed_page.split(f'id="{section}"', 1)[1].split("</section>", 1)[0]
        assert "Not run:" in body, section


def test_full_inputs_fill_every_section_without_not_run_notes():
    page = report_page.build_summary_page(full_inputs())
    for section in ["cohort", "efficacy", "safety", "differential", "enrichment", "models", "biomarkers",
                    "provenance"]:
        body = page.split(f'id="{section}"', 1)[1].split("</section>", 1)[0]
        assert "Not run:" not in body, section
    parsed = parse(page)
    for table_id in ["coverage-table", "efficacy-table", "safety-table", "differential-rna-responder-table",
                     "enrichment-rna-responder-table", "models-pfs-performance", "models-pfs-stability",
                     "biomarkers-table", "checksums-table", "software-table"]:
        assert parsed.tables[table_id]["class"] == "sortable", table_id


def test_numbers_are_rounded_for_display_and_keep_full_precision():
    parsed = parse(report_page.build_summary_page(full_inputs()))
    cells = cells_of(parsed, "differential-rna-responder-table")
    by_value = {attrs.get("data-value"): (attrs, text) for attrs, text in cells}
    attrs, text = by_value["1.6760856536019109"]
    assert text == "1.68" and attrs["title"] == "1.6760856536019109"
    assert float(attrs["data-sort"]) == 1.6760856536019109
    attrs, text = by_value["0.00033564163068467145"]  # a p-value: scientific notation
    assert text == "3.4e-04"
    assert by_value["0.0123456"][1] == "1.2e-02"


def test_long_texts_are_shortened_for_display_and_kept_whole_in_the_title():
    parsed = parse(report_page.build_summary_page(full_inputs()))
    edges = [(attrs, text) for attrs, text in cells_of(parsed, "enrichment-rna-responder-table")
             if text.startswith("GENE00")]
    attrs, text = edges[0]
    assert len(text) == 80 and text.endswith("…")
    assert attrs["title"] == ";".join(f"GENE{i:02d}" for i in range(30))


def test_top_rows_are_ordered_by_adjusted_p_value():
    parsed = parse(report_page.build_summary_page(full_inputs(), top_features=2))
    features = [text for attrs, text in cells_of(parsed, "differential-rna-responder-table")][::5]
    assert features == ["CXCL9", HOSTILE]


def test_identifiers_are_never_formatted_as_numbers():
    parsed = parse(report_page.build_summary_page(full_inputs()))
    texts = [text for attrs, text in cells_of(parsed, "coverage-table")]
    assert "007" in texts
    assert texts.count("PR") == 1


def test_censored_times_carry_a_plus_and_event_columns_are_folded_in():
    parsed = parse(report_page.build_summary_page(full_inputs()))
    cells = cells_of(parsed, "coverage-table")
    times = [(attrs, text) for attrs, text in cells if text in ("12.9+", "2.10")]
    assert [text for attrs, text in times] == ["12.9+", "2.10"]
    assert times[0][0]["data-value"] == "12.944558521560575; censored"
    assert float(times[0][0]["data-sort"]) == 12.944558521560575
    assert "pfs_event" not in re.findall(r"<th[^>]*>([^<]*)</th>", report_page.build_summary_page(full_inputs()))


def test_qc_flags_appear_next_to_the_patient():
    parsed = parse(report_page.build_summary_page(full_inputs()))
    texts = [text for attrs, text in cells_of(parsed, "coverage-table")]
    first, second = texts[:len(texts) // 2], texts[len(texts) // 2:]
    assert (first[0], first[-1]) == ("007", "")
    assert (second[0], second[-1]) == ("BTC02", "rna")
    assert [text for attrs, text in cells_of(parsed, "qc-flags-table")] == [
        "BTC02", "rna", "S2", "low correlation with other samples"]


def test_efficacy_and_safety_read_like_a_paper():
    parsed = parse(report_page.build_summary_page(full_inputs()))
    efficacy = [text for attrs, text in cells_of(parsed, "efficacy-table")]
    assert "Objective response rate (ORR)" in efficacy
    assert "25.0% (95% CI 8.7–49.1%)" in efficacy
    assert "4.63 months (95% CI 2.80–NR)" in efficacy
    safety = [text for attrs, text in cells_of(parsed, "safety-table")]
    assert safety[:5] == ["Any TEAE", "20 (100.0%)", "9 (45.0%)", "18 (90.0%)", "7 (35.0%)"]


def test_model_performance_shows_interval_and_permutation_p():
    parsed = parse(report_page.build_summary_page(full_inputs()))
    texts = [text for attrs, text in cells_of(parsed, "models-pfs-performance")]
    assert "0.712 (0.600–0.800)" in texts
    assert "9.9e-03" in texts
    stability = [text for attrs, text in cells_of(parsed, "models-pfs-stability")]
    assert stability.index("GENE3") < stability.index("CXCL9")  # highest selection frequency first


def test_hostile_strings_are_escaped():
    inputs = full_inputs()
    inputs.provenance = Provenance(config={"note": HOSTILE}, checksums=inputs.provenance.checksums,
                                   versions={"python": HOSTILE}, seed=1, date="2024-01-02", command=HOSTILE)
    page = report_page.build_summary_page(inputs, title=HOSTILE)
    assert "<script>alert" not in page
    assert "onerror=alert" not in page.replace("onerror=alert(1)&gt;", "")
    assert page.count("<script") == 1  # the table sorter only
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in page
    parsed = parse(page)
    assert HOSTILE in [text for attrs, text in cells_of(parsed, "differential-rna-responder-table")]


def test_page_references_no_network_resource():
    page = report_page.build_summary_page(full_inputs())
    references = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page)
    assert references
    assert not [r for r in references if re.match(r"^(https?:)?//", r)]
    assert "http://" not in page and "https://" not in page
    assert "@import" not in page and "url(" not in page
    policy = html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1))
    assert "default-src 'none'" in policy and "img-src data:" in policy


def test_inline_script_and_style_match_the_content_security_policy():
    page = report_page.build_summary_page(full_inputs())
    parsed = parse(page)
    policy = html.unescape(re.search(r'content="(default-src[^"]+)"', page).group(1))
    for body in [*parsed.scripts, *parsed.styles]:
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert "onclick" not in page


def test_images_are_embedded_as_data_uris():
    parsed = parse(report_page.build_summary_page(full_inputs()))
    encoded = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert parsed.images and all(src == encoded for src in parsed.images)
    assert len(parsed.images) == 4  # waterfall, QC, volcano, card


def test_biomarkers_link_to_cards_and_to_their_evidence():
    page = report_page.build_summary_page(full_inputs())
    parsed = parse(page)
    assert "#card-1" in parsed.links and "card-1" in parsed.ids
    assert "#card-2" not in parsed.links  # no card for rank 2
    for path in ["differential/rna/responder.tsv", "differential/proteins/responder.tsv",
                 "survival/rna/pfs.univariate.tsv", "models/pfs/stability.tsv", "models/pfs/performance.tsv",
                 "enrichment/rna/responder.prerank.tsv"]:
        assert f"../{path}" in parsed.links, path
    table = page.split('id="biomarkers-table"', 1)[1].split("</table>", 1)[0]
    assert table.count('<span class="badge tier-strong">strong</span>') == 1
    assert '<span class="badge bor-PR">PR</span>' in page


def test_biomarker_table_shows_key_columns_for_the_tier_endpoint_and_folds_the_rest():
    page = report_page.build_summary_page(full_inputs())
    parsed = parse(page)
    headers = re.findall(r'<th scope="col" title="([^"]*)">([^<]*)</th>',
                         page.split('id="biomarkers-table"', 1)[1].split("</thead>", 1)[0])
    assert [name for _, name in headers] == ["rank", "modality", "feature", "signal", "endpoint", "tier", "effect",
                                             "calibrated p / q", "stability", "details"]
    assert all(len(definition) > 20 for definition, _ in headers)  # every header has a tooltip definition
    cells = cells_of(parsed, "biomarkers-table")
    first, second = cells[:10], cells[10:]
    assert [text for _, text in first[:9]] == ["1", "rna", "CXCL9", "#1 lead", "PFS", "strong", "HR 0.500",
                                               "p 2.0e-03 / q 1.0e-02", "0.200 (rna)"]
    assert first[7][0]["data-value"] == "calibrated_p=0.002; calibrated_q=0.01"
    # No tier endpoint and no calibrated value: no screen q takes the calibrated column's place.
    assert [text for _, text in second[:9]] == ["2", "proteins", "CXCL10", "#1 CXCL9", "", "exploratory", "", "",
                                                ""]
    details = page.split('id="biomarkers-table"', 1)[1].split("</table>", 1)[0]
    assert "<details>" in details and "cox_pfs_hr" in details and "cox_pfs_padj" in details
    assert "rra_p" not in page


def test_how_to_read_states_the_calibrated_rules_their_null_rates_and_every_p_value():
    inputs = full_inputs()
    inputs.tier_null_rates = Table("biomarkers/tier_null_rates.tsv", pd.DataFrame(
        {"tier": ["strong", "supported"], "reached_when": ["", ""], "null_rate": ["0.03", "0.4"],
         "runs_reaching": ["3", "40"], "n_permutations": ["100", "100"]}))
    rules = TierRules(primary_endpoint="os", strong_p=0.01, supported_q=0.2)
    page = report_page.build_summary_page(inputs, rules=rules)
    box = html.unescape(page.split('id="how-to-read"', 1)[1].split("</aside>", 1)[0])
    assert "<b>strong</b>: the primary endpoint (OS) only: calibrated p < 0.01, not flagged for separation" in box
    assert "Null rate: reached by some candidate in 3% of permuted runs (3 of 100)." in box
    assert "calibrated q < 0.2 on OS, or calibrated p < 0.01 on a secondary endpoint" in box
    assert "Null rate: reached by some candidate in 40% of permuted runs (40 of 100)." in box
    assert '<a class="source" href="../biomarkers/tier_null_rates.tsv">' in box
    definitions = re.findall(r"<dt>([^<]*)</dt>", box.split('id="pvalue-definitions"', 1)[1])
    assert definitions == ["screen p / q", "calibrated p", "calibrated q", "model permutation p",
                           "enrichment p / FDR", "batch association p / q"]
    headline_text = html.unescape(page.split('id="headline"', 1)[1].split("</section>", 1)[0])
    assert "some candidate reached strong in 3% of permuted runs (3 of 100)" in headline_text
    # Every p-like column of the stage tables carries its definition as a tooltip.
    for table_id, column, kind in (("differential-rna-responder-table", "padj", "screen p / q"),
                                   ("enrichment-rna-responder-table", "fdr", "enrichment p / FDR"),
                                   ("models-pfs-performance", "permutation_p", "model permutation p")):
        head = page.split(f'id="{table_id}"', 1)[1].split("</thead>", 1)[0]
        title = re.search(rf'<th scope="col" title="([^"]*)">{column}</th>', head).group(1)
        assert html.unescape(title) == report_sections.PVALUE_DEFINITIONS[kind], table_id


def test_headline_comes_first_and_names_the_endpoint_tier_and_numbers():
    inputs = full_inputs()
    inputs.headline_figure = Figure("report/headline_signals.png", PNG)
    page = report_page.build_summary_page(inputs, endpoints=["pfs", "responder"])
    assert page.index('id="headline"') < page.index('id="cohort"')
    assert re.findall(r'<nav[^>]*><a href="#([a-z]+)"', page) == ["headline"]
    body = html.unescape(page.split('id="headline"', 1)[1].split("</section>", 1)[0])
    assert "PFS: strong evidence for CXCL9 (rna), one signal of 2 correlated candidates. Best out-of-fold " \
           "C-index 0.712" in body
    assert "Response:" not in body  # no model and no candidate whose tier response earned
    top = body.split('id="headline-top-signal"', 1)[1].split("</li>", 1)[0]
    assert '<span class="badge tier-strong">strong</span>' in top and '<span class="endpoint-tag">PFS</span>' in top
    assert '<a href="#card-1">' in top
    # The calibrated p / q is the signal's first number; the screen q follows, named as such.
    evidence = top.split("</span>: ", 1)[1]
    assert evidence.startswith("calibrated p 2.0e-03, q 1.0e-02 (family-wise over every PFS candidate")
    assert evidence.index("calibrated p") < evidence.index("screen q 2.0e-01 (within rna)")
    assert "../report/headline_signals.png" in body and "../models/pfs/performance.tsv" in body
    assert "rra" not in body


def test_cards_give_the_endpoint_and_the_numbers_behind_the_tier_as_text():
    page = report_page.build_summary_page(full_inputs())
    card = html.unescape(page.split('id="card-1"', 1)[1].split("</section>", 1)[0])
    assert "strong</span> on <b>PFS</b>: calibrated p 2.0e-03, q 1.0e-02" in card
    assert "PFS (primary), strong: calibrated p 2.0e-03 < 0.05: met" in card
    assert "PFS (primary), supported: calibrated q 1.0e-02 < 0.25: met" in card
    assert "PFS direction: consistent with the calibrated statistic (z -3.10)" in card


def test_recovery_of_planted_biomarkers_is_shown_with_readable_labels():
    parsed = parse(report_page.build_summary_page(full_inputs()))
    texts = [text for attrs, text in cells_of(parsed, "recovery-table")]
    assert texts == ["planted among the top 10 candidates", "0.900",
                     "planted features in the top 10 (of all planted)", "0.474",
                     "planted programmes leading one of the top 10 signals", "0.750"]  # n_truth is not a fraction
    assert "../biomarkers/recovery.tsv" in parsed.links


def test_supporting_outputs_name_the_rule_outputs_in_evidence_order():
    inputs = full_inputs()
    candidate = inputs.ranked.frame.iloc[0]
    assert report_biomarkers.supporting_outputs(candidate, inputs) == [
        "differential/rna/responder.tsv", "differential/proteins/responder.tsv", "survival/rna/pfs.univariate.tsv",
        "models/pfs/stability.tsv", "models/pfs/performance.tsv", "enrichment/rna/responder.prerank.tsv"]
    assert report_biomarkers.supporting_outputs(inputs.ranked.frame.iloc[1], inputs) == []
    tmb = pd.Series({"modality": "mutations", "feature": "TMB", "diff_responder_pvalue": "0.14"})
    assert report_biomarkers.supporting_outputs(tmb, inputs) == ["differential/mutations/responder.tmb.tsv"]


def test_a_cards_directory_stands_for_its_pngs(tmp_path):
    cards = tmp_path / "results" / "biomarkers" / "cards"
    cards.mkdir(parents=True)
    for name in ("02_rna_CXCL9.png", "01_mutations_TMB.png"):
        (cards / name).write_bytes(PNG)
    (cards / "notes.txt").write_text("not a card")
    inputs = report.read_summary_inputs([cards], ["rna", "mutations"], [], [], results_dir=str(tmp_path / "results"))
    assert {rank: figure.path for rank, figure in inputs.cards.items()} == {
        1: "biomarkers/cards/01_mutations_TMB.png", 2: "biomarkers/cards/02_rna_CXCL9.png"}


def test_same_inputs_and_date_give_identical_bytes(tmp_path):
    results = tmp_path / "results"
    (results / "clinical").mkdir(parents=True)
    full_inputs().efficacy.frame.to_csv(results / "clinical" / "efficacy.tsv", sep="\t", index=False)
    (results / "clinical" / "waterfall.png").write_bytes(PNG)
    paths = ["results/clinical/efficacy.tsv", "results/clinical/waterfall.png"]

    def build() -> bytes:
        date = report.report_date({"SOURCE_DATE_EPOCH": "1700000000"})
        inputs = report.read_summary_inputs([str(tmp_path / p) for p in paths], ["rna"], ["responder"], ["pfs"],
                                            results_dir=str(results), provenance=provenance(date))
        return report_page.build_summary_page(inputs).encode("utf-8")

    first, second = build(), build()
    assert first == second
    assert b"2023-11-14" in first


def test_report_date_comes_from_source_date_epoch():
    assert report.report_date({"SOURCE_DATE_EPOCH": "0"}) == "1970-01-01"
    assert report.report_date({"SOURCE_DATE_EPOCH": "1700000000"}) == "2023-11-14"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", report.report_date({}))


def test_checksums_are_sha256_of_the_file_bytes_with_relative_paths(tmp_path):
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "abc.txt").write_bytes(b"abc")
    table = report.checksum_table([str(tmp_path / "inputs" / "abc.txt"), "inputs/abc.txt"], tmp_path)
    assert table.to_dict("records") == [{
        "path": "inputs/abc.txt", "bytes": 3,
        # SHA-256("abc"), the FIPS 180-2 test vector
        "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}]


def test_config_paths_are_shown_relative_to_the_working_directory(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "patients.tsv").write_text("patient_id\n")
    config = {"clinical": {"patients": str(tmp_path / "data" / "patients.tsv"), "recist": None},
              "enrichment": {"gene_sets": [str(tmp_path / "data" / "patients.tsv")]}, "seed": 3}
    shown = report.display_config(config, tmp_path / "run")
    assert shown == {"clinical": {"patients": "../data/patients.tsv", "recist": None},
                     "enrichment": {"gene_sets": ["../data/patients.tsv"]}, "seed": 3}


def test_reproduce_command_quotes_what_a_shell_would_split():
    assert report.reproduce_command("workflow/Snakefile", ["config/config.yaml"]) == (
        "snakemake --snakefile workflow/Snakefile --configfile config/config.yaml --cores all")
    assert report.reproduce_command("my dir/Snakefile") == "snakemake --snakefile 'my dir/Snakefile' --cores all"


def test_software_versions_list_python_and_installed_distributions():
    versions = report.software_versions(("pandas", "surely-not-installed-distribution"))
    assert versions["pandas"] == pd.__version__
    assert versions["surely-not-installed-distribution"] == "not installed"
    assert re.fullmatch(r"3\.\d+\.\d+", versions["python"])


def test_outputs_are_classified_by_their_contract_paths():
    classify = lambda path: report.classify_output(path, ["rna", "proteins"], ["a", "a.b"], ["pfs", "os"])  # noqa: E731
    assert classify("clinical/efficacy.tsv") == ("efficacy", None)
    assert classify("clinical/km_pfs.png") == ("clinical_figures", None)
    assert classify("clinical/km_pfs.svg") is None
    assert classify("cohort/coverage.tsv") == ("coverage", None)
    assert classify("qc/rna/outliers.tsv") == ("outliers", "rna")
    assert classify("qc/rna/pca.tsv") is None
    assert classify("qc/rna/pca_by_response.png") == ("qc_figures", "rna")
    assert classify("qc/rna/correlation.png") is None  # in Snakemake's report only
    assert classify("differential/rna/a.b.tsv") == ("differential", ("rna", "a.b"))
    assert classify("differential/rna/a.tmb.tsv") is None
    assert classify("differential/rna/plots/a.b.volcano.png") == ("differential_figures", ("rna", "a.b"))
    assert classify("differential/rna/plots/a.volcano.png") == ("differential_figures", ("rna", "a"))
    assert classify("differential/rna/plots/a.ma.png") is None
    assert classify("enrichment/rna/plots/a.b.dots.png") == ("enrichment_figures", ("rna", "a.b"))
    assert classify("enrichment/proteins/a.prerank.tsv") == ("enrichment", ("proteins", "a"))
    assert classify("enrichment/proteins/a.ora.tsv") is None
    assert classify("pathways/plots/scores.heatmap.png") is None
    assert classify("survival/rna/plots/pfs.km.png") is None
    assert classify("survival/pathways/os.univariate.tsv") == ("survival", ("pathways", "os"))
    assert classify("models/pfs/performance.tsv") == ("performance", "pfs")
    assert classify("models/pfs/stability.tsv") == ("stability", "pfs")
    assert classify("models/pfs/plots/performance.png") == ("model_figures", "pfs")
    assert classify("models/pfs/plots/stability.png") is None
    assert classify("models/responder/stability.tsv") is None  # not a configured endpoint
    assert classify("biomarkers/ranked.tsv") == ("ranked", None)
    assert classify("biomarkers/recovery.tsv") == ("recovery", None)
    assert classify("biomarkers/cards/012_rna_CXCL9.png") == ("cards", 12)
    assert classify("biomarkers/cards/rank_3.png") == ("cards", 3)
    assert classify("biomarkers/cards") == ("cards", None)


def test_read_summary_inputs_reads_tables_as_text_and_figures_as_bytes(tmp_path):
    results = tmp_path / "results"
    (results / "cohort").mkdir(parents=True)
    (results / "cohort" / "coverage.tsv").write_text("patient_id\trna\n007\tyes\n")
    (results / "qc" / "rna").mkdir(parents=True)
    (results / "qc" / "rna" / "pca_by_response.png").write_bytes(PNG)
    inputs = report.read_summary_inputs(
        [results / "cohort" / "coverage.tsv", results / "qc" / "rna" / "pca_by_response.png"], ["rna"], [], [],
        results_dir=str(results))
    assert inputs.coverage.path == "cohort/coverage.tsv"
    assert inputs.coverage.frame["patient_id"].tolist() == ["007"]
    assert inputs.qc_figures == {"rna": [Figure("qc/rna/pca_by_response.png", PNG)]}


@pytest.mark.parametrize("value, shown", [
    (1.6760856536019109, "1.68"), (0.000336, "3.36e-04"), (15.0, "15.0"), (999.96, "1000"),
    (12345.6, "12346"), (-0.0123, "-0.0123"), (5, "5"), (float("nan"), ""), (0, "0"), (float("inf"), "inf")])
def test_format_display_number(value, shown):
    assert style.format_display_number(value) == shown


@pytest.mark.parametrize("value, shown", [(0.5, "5.0e-01"), (1.0, "1"), (0.00033564, "3.4e-04"),
                                          (float("nan"), "")])
def test_format_display_pvalue(value, shown):
    assert style.format_display_pvalue(value) == shown


def test_card_figure_holds_only_plots_the_numbers_are_on_the_page():
    import matplotlib.pyplot as plt

    from trialomics import report_cards

    patients = [f"P{i:02d}" for i in range(8)]
    obs = pd.DataFrame({"patient_id": patients, "responder": ["yes", "no"] * 4, "bor": ["PR", "PD"] * 4,
                        "pfs_months": [str(3 + i) for i in range(8)], "pfs_event": ["1", "0"] * 4})
    values = pd.Series([float(i) for i in range(8)], index=patients)
    candidate = pd.Series({"rank": 1, "modality": "rna", "feature": "CXCL9", "gene": "CXCL9", "tier": "strong",
                           "score": 3.2})
    fig = report_cards.card_figure(candidate, values, "continuous", obs)
    assert [ax.get_title() for ax in fig.axes] == ["Values by response\n(points: best overall response)",
                                                  "Progression-free survival", ""]
    assert fig.axes[2].texts[0].get_text() == "no OS data"  # the labels have no OS columns
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert not [t for t in texts if "tier" in t or "q " in t]  # no evidence text baked into the PNG
    plt.close(fig)


def test_batch_association_is_shown_in_the_cohort_section_with_its_associations_named():
    assert report.classify_output("qc/batch_association.tsv", ["rna"], [], ["pfs"]) == ("batch_association", None)
    inputs = full_inputs()
    inputs.batch_association = Table("qc/batch_association.tsv", pd.DataFrame({
        "modality": ["rna", "proteins"], "endpoint": ["pfs", "pfs"], "n_patients": ["19", "19"],
        "n_batches": ["2", "1"], "batches": ["RUN1;RUN2", "TMT1"], "test": ["logrank_exact", ""],
        "statistic": ["9.1", ""], "pvalue": ["0.002", ""], "padj": ["0.004", ""], "associated": ["yes", ""],
        "threshold": ["0.05", "0.05"], "note": ["", "one batch among the patients with this endpoint"]}))
    page = report_page.build_summary_page(inputs)
    cohort = html.unescape(page.split('id="cohort"', 1)[1].split("</section>", 1)[0])
    assert "Batch is associated with the outcome (q < 0.05): rna / pfs." in cohort
    texts = [text for _, text in cells_of(parse(page), "batch-association-table")]
    assert texts[:10] == ["rna", "pfs", "19", "2", "logrank_exact", "9.10", "2.0e-03", "4.0e-03", "yes", ""]
    head = page.split('id="batch-association-table"', 1)[1].split("</thead>", 1)[0]
    title = re.search(r'<th scope="col" title="([^"]*)">padj</th>', head).group(1)
    assert html.unescape(title) == report_sections.PVALUE_DEFINITIONS["batch association p / q"]
    assert '<a class="source" href="../qc/batch_association.tsv">' in cohort


def test_run_level_false_selection_bound_sums_every_model():
    summaries = {
        "pfs": Table("models/pfs/stability_summary.tsv", pd.DataFrame({
            "model": ["rna", "joint"], "expected_false_selections_bound": [0.5, 1.25],
            "expected_false_selections_bound_unimodal": [0.25, 0.5]})),
        "os": Table("models/os/stability_summary.tsv", pd.DataFrame({
            "model": ["rna"], "expected_false_selections_bound": [2.0],
            "expected_false_selections_bound_unimodal": [1.0]})),
    }
    assert report_sections.run_false_selection_bounds(summaries) == {
        "models": 3.0, "expected_false_selections_bound": 3.75, "expected_false_selections_bound_unimodal": 1.75}
    text = report_sections.stability_error_control_html(summaries)
    assert "run&#x27;s 3 models: at most 3.75 noise features" in text and "1.75 under Shah" in text
    assert report_sections.stability_error_control_html({}) == ""
    assert report.classify_output("models/pfs/stability_summary.tsv", ["rna"], [], ["pfs"]) == (
        "stability_summary", "pfs")


def test_change_blocks_reach_the_summary_page():
    classify = lambda path: report.classify_output(path, ["rna", "proteins"], ["responder", "on_treatment"],  # noqa: E731
                                                   ["pfs"])
    assert classify("longitudinal/rna_change/responder.tsv") == ("longitudinal", ("rna_change", "responder"))
    assert classify("longitudinal/proteins_change/plots/paired.png") == (
        "longitudinal_figures", ("proteins_change", "paired samples"))
    assert classify("longitudinal/rna_change/top_features.tsv") is None
    assert classify("longitudinal/mutations_change/responder.tsv") is None
    assert classify("survival/rna_change/pfs.univariate.tsv") == ("survival", ("rna_change", "pfs"))
    frame = pd.DataFrame({"feature": ["GZMB", "CD8A"], "effect": [2.5, 0.1], "pvalue": [1e-6, 0.4],
                          "padj": [0.03, 0.9]})
    inputs = SummaryInputs(longitudinal={("rna_change", "responder"): Table("longitudinal/rna_change/responder.tsv",
                                                                            frame)})
    html_text = report_sections.longitudinal_section(inputs)
    assert "rna_change · responder" in html_text and "1 with padj &lt; 0.05" in html_text and "GZMB" in html_text
    assert "no on-treatment change blocks" in report_sections.longitudinal_section(SummaryInputs())


def test_paired_plots_are_read_into_their_block(tmp_path):
    plots = tmp_path / "results" / "longitudinal" / "rna_change" / "plots"
    plots.mkdir(parents=True)
    (plots / "paired.png").write_bytes(b"\x89PNG")
    inputs = report.read_summary_inputs([plots / "paired.png"], ["rna"], ["responder"], ["pfs"],
                                        results_dir=str(tmp_path / "results"))
    assert [figure.path for figure in inputs.longitudinal_figures[("rna_change", "paired samples")]] == [
        "longitudinal/rna_change/plots/paired.png"]
