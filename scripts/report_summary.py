"""Rule report_summary: the self-contained summary page results/report/summary.html."""
import os
from pathlib import Path

from trialomics import runlog

log = runlog.start(snakemake)

from trialomics import privacy, readers, report, report_headline, report_page, style, tables  # noqa: E402
from trialomics.manifest import git_commit  # noqa: E402

params = snakemake.params
working_dir = Path.cwd()
checksums = report.checksum_table(params.input_files, working_dir)
key = privacy.key_if_pseudonymising(snakemake.config)
if key is not None:
    # Input file names often hold sample IDs: the page shows them pseudonymised.
    mapping = privacy.identifier_mapping(readers.read_string_table(params.config["samples"]),
                                         readers.read_patients(params.config["clinical"]["patients"])["patient_id"],
                                         key)
    checksums["path"] = [privacy.replace_identifiers(path, mapping) for path in checksums["path"]]
    checksums = checksums.sort_values("path", kind="stable").reset_index(drop=True)
provenance = report.Provenance(
    config=report.display_config(params.config, working_dir),
    checksums=checksums,
    versions={**report.software_versions(),
              "trialomics commit": git_commit(os.path.dirname(params.snakefile)) or "unknown"},
    seed=params.seed,
    date=report.report_date(os.environ),
    command=report.reproduce_command(os.path.relpath(params.snakefile), params.configfiles),
)
inputs = report.read_summary_inputs(list(snakemake.input), params.modalities, params.contrasts,
                                    params.endpoints, provenance=provenance)
rules = report_headline.TierRules(**params.tier_rules)
# The headline's dot plot is drawn from the same findings the page's text is generated from.
findings = report_headline.findings_from_inputs(inputs, params.endpoints, rules, params.headline_signals)
style.save_figure(report_headline.signal_dot_plot(findings, rules), snakemake.output.headline_png,
                  snakemake.output.headline_svg)
inputs.headline_figure = report.Figure(report.results_relative(snakemake.output.headline_png),
                                       Path(snakemake.output.headline_png).read_bytes())
page = report_page.build_summary_page(inputs, top_features=params.top_features,
                                      top_biomarkers=params.top_biomarkers, alpha=params.alpha,
                                      enrichment_fdr=params.enrichment_fdr, endpoints=params.endpoints,
                                      rules=rules, headline_signals=params.headline_signals)

tables.write_text(page, snakemake.output.html)
log.info("summary page: %d bytes, %d input files checksummed, %d tables/figures read", len(page.encode("utf-8")),
         len(provenance.checksums), len(snakemake.input))
runlog.done(log)
