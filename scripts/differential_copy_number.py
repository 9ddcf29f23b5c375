"""Rule differential_copy_number: exact tests of gains and losses per gene, and a volcano plot."""
from trialomics import differential as dx
from trialomics import differential_plots as plots
from trialomics import runlog, style, tables
from trialomics.differential_alterations import copy_number_alterations, exact_tests

log = runlog.start(snakemake)
contrast = dx.Contrast.from_config(snakemake.params.contrast)
alpha = snakemake.params.alpha
adata = dx.read_baseline_patient_samples(snakemake.input.adata, snakemake.input.labels, snakemake.input.patients)
dx.log_excluded(adata.obs, contrast, log)
alterations = copy_number_alterations(dx.feature_matrix(adata, "calls"),
                                      min_level=snakemake.params.min_level)
table = exact_tests(alterations, adata.obs, contrast, "copy_number",
                    min_altered=snakemake.params.min_altered,
                    min_per_level=snakemake.params.min_patients_per_level)
log.info("%s: %d gene gains/losses (|call| >= %d) in at least %d patients tested, %d with padj < %g",
         contrast.describe(), len(table), snakemake.params.min_level, snakemake.params.min_altered,
         int((table["padj"] < alpha).sum()), alpha)
tables.write_tsv(table, snakemake.output.table)
style.save_figure(plots.plot_volcano(table, f"Copy number, {contrast.describe()}",
                                     "log odds ratio of the gain / loss", alpha=alpha),
                  snakemake.output.volcano, snakemake.output.volcano_svg)
runlog.done(log)
