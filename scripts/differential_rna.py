"""Rule differential_rna: Wald test of one contrast from its design's DESeq2 fit, and its figures."""
from trialomics import differential as dx
from trialomics import differential_plots as plots
from trialomics import runlog, style, tables
from trialomics.deseq_results import DeseqFit
from trialomics.differential_rna import deseq2_results

log = runlog.start(snakemake)
contrast = dx.Contrast.from_config(snakemake.params.contrast)
alpha = snakemake.params.alpha
fit = DeseqFit.read(snakemake.input.fit)
table = deseq2_results(fit, contrast, shrink=snakemake.params.shrink, alpha=alpha)
log.info("%s: %d genes tested, %d with padj < %g", contrast.describe(),
         int(table["padj"].notna().sum()), int((table["padj"] < alpha).sum()), alpha)
tables.write_tsv(table, snakemake.output.table)

title = f"RNA, {contrast.describe()}"
style.save_figure(plots.plot_volcano(table, title, "log2 fold change (MLE)", alpha=alpha),
                  snakemake.output.volcano, snakemake.output.volcano_svg)
style.save_figure(plots.plot_ma(table, title, alpha=alpha), snakemake.output.ma, snakemake.output.ma_svg)

# VST values (X of the RNA AnnData) of the contrast's samples, annotated with response.
adata = dx.read_contrast_samples(snakemake.input.adata, snakemake.input.labels, snakemake.input.patients, contrast)
samples = list(fit.obs.index)
obs = adata.obs.loc[samples].copy()
obs[contrast.variable] = dx.as_levels(obs[contrast.variable])
features = dx.top_features(table, snakemake.params.heatmap_genes)
style.save_figure(
    plots.plot_top_heatmap(dx.feature_matrix(adata).loc[samples], features, obs, contrast.variable,
                           [contrast.reference, contrast.target],
                           f"Top {len(features)} genes (VST z-scores), {contrast.describe()}"),
    snakemake.output.heatmap, snakemake.output.heatmap_svg)
runlog.done(log)
