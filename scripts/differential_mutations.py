"""Rule differential_mutations: exact tests per gene, TMB rank test, volcano, TMB box plot, oncoprint."""
from trialomics import differential as dx
from trialomics import differential_plots as plots
from trialomics import runlog, style, tables
from trialomics.differential_alterations import exact_tests, tmb_comparison

log = runlog.start(snakemake)
contrast = dx.Contrast.from_config(snakemake.params.contrast)
alpha = snakemake.params.alpha
min_per_level = snakemake.params.min_patients_per_level
adata = dx.read_baseline_patient_samples(snakemake.input.adata, snakemake.input.labels, snakemake.input.patients)
dx.log_excluded(adata.obs, contrast, log)
table = exact_tests(dx.feature_matrix(adata), adata.obs, contrast, "mutations",
                    min_altered=snakemake.params.min_altered, min_per_level=min_per_level)
log.info("%s: %d genes altered in at least %d patients tested, %d with padj < %g",
         contrast.describe(), len(table), snakemake.params.min_altered,
         int((table["padj"] < alpha).sum()), alpha)
tables.write_tsv(table, snakemake.output.table)
tmb = tmb_comparison(adata.obs, contrast, min_per_level=min_per_level)
tables.write_tsv(tmb, snakemake.output.tmb)

title = f"Mutations, {contrast.describe()}"
style.save_figure(plots.plot_volcano(table, title, "log odds ratio of mutation", alpha=alpha),
                  snakemake.output.volcano, snakemake.output.volcano_svg)
samples = dx.contrast_samples(adata.obs, contrast)
obs = adata.obs.loc[samples].copy()
obs[contrast.variable] = dx.as_levels(obs[contrast.variable])
levels = [contrast.reference, contrast.target]
compared = obs.index[obs[contrast.variable].isin(levels)]
style.save_figure(plots.plot_tmb_box(obs.loc[compared], contrast.variable, levels,
                                     f"TMB, {contrast.describe()}", pvalue=float(tmb["pvalue"].iloc[0])),
                  snakemake.output.tmb_plot, snakemake.output.tmb_plot_svg)
style.save_figure(plots.plot_oncoprint(dx.feature_matrix(adata).loc[samples], obs,
                                       snakemake.params.oncoprint_genes, title, contrast.variable,
                                       levels),
                  snakemake.output.oncoprint, snakemake.output.oncoprint_svg)
runlog.done(log)
