"""Rule differential_proteins: limma moderated t-test of one contrast on log2 protein abundances."""
from trialomics import differential as dx
from trialomics import differential_plots as plots
from trialomics import runlog, style, tables
from trialomics.differential_proteins import limma_results, protein_contrast, protein_log2_values

log = runlog.start(snakemake)
contrast = dx.Contrast.from_config(snakemake.params.contrast)
alpha = snakemake.params.alpha
adata = dx.read_contrast_samples(snakemake.input.adata, snakemake.input.labels, snakemake.input.patients,
                                contrast)
dx.log_excluded(adata.obs, contrast, log)
contrast, batch_note = protein_contrast(contrast, adata.obs, snakemake.params.batch_in_design,
                                        snakemake.params.min_patients_per_level)
log.info("testing layers['log2'] (uncorrected, missing values kept): %s", batch_note)
table = limma_results(protein_log2_values(adata), adata.obs, contrast,
                      min_per_level=snakemake.params.min_patients_per_level,
                      min_observed_per_level=snakemake.params.min_observed_per_level)
log.info("%s: %d proteins tested (prior df %.3g), %d with padj < %g", contrast.describe(),
         int(table["padj"].notna().sum()), float(table["df_prior"].iloc[0]),
         int((table["padj"] < alpha).sum()), alpha)
tables.write_tsv(table, snakemake.output.table)
style.save_figure(plots.plot_volcano(table, f"Proteins, {contrast.describe()}",
                                     "difference of mean log2 abundance", alpha=alpha),
                  snakemake.output.volcano, snakemake.output.volcano_svg)
runlog.done(log)
