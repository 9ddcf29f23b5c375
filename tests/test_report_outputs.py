"""The reviewer's view: every figure has a publication SVG, and Snakemake's report lists what a reviewer
opens, with captions that state their parameters."""
from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jinja2
import pytest
import yaml
from docutils.core import publish_parts

from conftest import ROOT, run_snakemake
from trialomics.validation import validate_inputs

CAPTIONS = ROOT / "workflow" / "report"


class AnyWildcards:
    """Stands for ``snakemake.wildcards`` of any job: every wildcard renders as its own name."""

    def __getattr__(self, name: str) -> str:
        return f"<{name}>"


def render_caption(path: Path, config: dict) -> str:
    # StrictUndefined: a misspelt config key fails here instead of rendering as nothing in the report.
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    snakemake = type("Snakemake", (), {"config": config, "wildcards": AnyWildcards()})
    return environment.from_string(path.read_text()).render(snakemake=snakemake)


@pytest.fixture(scope="module")
def default_config() -> dict:
    """config/config.yaml with every schema default filled in, as the workflow sees it."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    validate_inputs(config, ROOT / "workflow" / "schemas", ROOT)
    return config


@pytest.mark.parametrize("caption", sorted(CAPTIONS.rglob("*.rst")), ids=lambda p: str(p.relative_to(CAPTIONS)))
def test_every_caption_renders_with_the_config_it_names(caption, default_config):
    text = render_caption(caption, default_config)
    assert text.strip()
    assert "{{" not in text and "{%" not in text
    # The report turns captions into HTML with docutils; halt on any RST warning instead of showing it.
    publish_parts(text, writer="html", settings_overrides={"halt_level": 2, "report_level": 2})


def test_captions_state_the_parameter_values(default_config):
    config = copy.deepcopy(default_config)
    config["differential"]["alpha"] = 0.0123
    config["enrichment"]["running_sets"] = 7
    config["survival"]["km_features"] = 11
    config["models"]["l1_ratio"] = 0.321
    config["models"]["permutations"] = 77
    config["qc"]["outlier_z"] = 4.5
    expected = {
        "differential/exact_volcano.rst": "0.0123",
        "enrichment/running.rst": "7",
        "survival/km_plot.rst": "11",
        "models/performance_plot.rst": "0.321",
        "models/permutations.rst": "77",
        "qc/correlation.rst": "4.5",
    }
    for caption, value in expected.items():
        assert value in render_caption(CAPTIONS / caption, config), caption


# ------------------------------------------------------------------ on the demo run (conftest.demo_run)

def report_json(html: str, variable: str) -> dict:
    """A JSON object the Snakemake report assigns to a JavaScript variable (``var categories = {...}``)."""
    # The report's own <script id="..."> block: vendored libraries (vega) also declare `var metadata = {`.
    match = re.search(rf'<script id="{variable}">\s*var {variable} = {{', html)
    assert match, variable
    value, _ = json.JSONDecoder().raw_decode(html, match.end() - 1)
    return value


@pytest.fixture(scope="module")
def snakemake_report(demo_run, tmp_path_factory) -> tuple[dict, dict, dict]:
    """(categories, results, landing-page metadata) of ``snakemake --report`` on the demo run."""
    report = tmp_path_factory.mktemp("snakemake_report") / "report.html"
    result = run_snakemake(demo_run, demo_run / "config.yaml", "--report", str(report), "--report-metadata",
                           str(CAPTIONS / "report" / "landing.yaml"))
    assert result.returncode == 0, result.stderr[-3000:]
    html = report.read_text(errors="replace")
    print(f"snakemake --report: {report.stat().st_size / 1e6:.1f} MB")
    return report_json(html, "categories"), report_json(html, "results"), report_json(html, "metadata")


def test_every_png_has_an_svg_twin_that_is_valid_svg(demo_run):
    pngs = sorted((demo_run / "results").rglob("*.png"))
    assert len(pngs) > 50
    for png in pngs:
        svg = png.with_suffix(".svg")
        assert svg.is_file(), svg.relative_to(demo_run)
        assert ET.parse(svg).getroot().tag == "{http://www.w3.org/2000/svg}svg", svg.relative_to(demo_run)
    cards = demo_run / "results" / "biomarkers" / "cards"
    assert sorted(p.stem for p in cards.glob("*.svg")) == sorted(p.stem for p in cards.glob("*.png"))


def test_svg_files_carry_no_date_or_version(demo_run):
    for svg in (demo_run / "results").rglob("*.svg"):
        text = svg.read_text()
        assert "<dc:date>" not in text and "Matplotlib v" not in text, svg.relative_to(demo_run)


def test_report_lists_the_newly_wrapped_outputs(snakemake_report):
    categories, _, _ = snakemake_report
    listed = {(category, subcategory, path) for category, subcategories in categories.items()
              for subcategory, paths in subcategories.items() for path in paths}
    for modality in ("mutations", "copy_number", "rna", "proteins"):
        assert ("Quality control", modality, f"results/qc/{modality}/pca.tsv") in listed
    assert ("Ingestion and normalisation", "rna", "results/rna/counts.tsv") in listed
    for endpoint in ("pfs", "os", "responder", "clinical_benefit"):
        for model in ("mutations", "copy_number", "rna", "proteins", "pathways", "joint"):
            for table in ("oof", "permutations"):
                assert ("Models", endpoint, f"results/models/{endpoint}/{model}.{table}.tsv") in listed


def test_report_shows_figures_as_png_and_every_entry_has_a_rendered_caption(snakemake_report):
    categories, results, _ = snakemake_report
    paths = [path for subcategories in categories.values() for paths in subcategories.values() for path in paths]
    assert not [path for path in paths if path.endswith(".svg")]
    # every stage is in the report
    assert {"Clinical", "Ingestion and normalisation", "Quality control", "Cohort", "Differential",
            "Enrichment", "Survival", "Models", "Biomarkers", "Summary"} <= set(categories)
    for path in paths:
        caption = results[path]["caption"]
        assert caption.strip() and "{{" not in caption, path
    assert "0.05" in results["results/differential/mutations/plots/responder.volcano.png"]["caption"]
    assert "responder" in results["results/models/responder/rna.oof.tsv"]["caption"]


def test_report_opens_on_where_the_answer_is_and_lists_the_headline_figure(snakemake_report):
    categories, results, metadata = snakemake_report
    # With metadata the report's first screen is the description and these notes, not the rule graph.
    assert "summary.html" in str(metadata["Start here"])  # rendered by docutils into its parts
    summary = {path for paths in categories["Summary"].values() for path in paths}
    assert summary == {"results/report/summary.html", "results/report/headline_signals.png"}
    assert "The answer at a glance" in results["results/report/headline_signals.png"]["caption"]
