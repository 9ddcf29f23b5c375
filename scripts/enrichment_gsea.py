"""Rule enrichment_gsea: preranked GSEA and over-representation of one differential table."""
from trialomics import differential as dx
from trialomics import differential_plots as plots
from trialomics import enrichment as en
from trialomics import runlog, style, tables

log = runlog.start(snakemake)
modality, contrast = snakemake.wildcards.modality, snakemake.wildcards.contrast
params = snakemake.params
collections = en.load_collections(snakemake.input.gene_sets)
table = tables.read_tsv(snakemake.input.table)
for column in ("stat", "effect", "pvalue", "padj"):
    table[column] = table[column].replace("", "nan").astype(float)
adata = dx.read_baseline_patient_samples(snakemake.input.adata, snakemake.input.labels, snakemake.input.patients)
gene_of = en.gene_symbols(adata.var)
# Inter-gene correlation for the correlation-adjusted test: residuals of X (VST for RNA; imputed,
# normalised log2 for proteins) under the contrast's design.
z = en.z_scores(table)
residuals = en.contrast_residual_effects(dx.feature_matrix(adata), adata.obs,
                                         dx.Contrast.from_config(params.contrast))
# Wald statistic (RNA) or moderated t (proteins): the signed evidence of every tested feature.
ranking = en.ranking_from_table(table, "stat", gene_of)
log.info("%s %s: %d genes ranked; collections %s; %d permutations, seed %d", modality, contrast,
         len(ranking), ", ".join(collections), params.permutations, params.seed)

prerank = en.prerank_collections(ranking, collections, permutations=params.permutations,
                                 seed=params.seed, min_size=params.min_size, max_size=params.max_size,
                                 z=z, residuals=residuals, gene_of=gene_of)
log.info("%d gene sets tested; %d with GSEA FDR < %g, %d with correlation-adjusted (CAMERA) FDR "
         "< %g", len(prerank), int((prerank["fdr"] < params.fdr).sum()), params.fdr,
         int((prerank["camera_fdr"] < params.fdr).sum()), params.fdr)
tables.write_tsv(prerank, snakemake.output.prerank)
ora = en.ora_collections(table, collections, padj_threshold=params.ora_padj,
                         min_size=params.min_size, max_size=params.max_size, gene_of=gene_of)
tables.write_tsv(ora, snakemake.output.ora)

colour = style.MODALITY_COLOURS[modality]
title = f"{modality}, {contrast}: preranked GSEA on the {'Wald' if modality == 'rna' else 'moderated t'} statistic"
style.save_figure(plots.plot_enrichment_dots(prerank, title, n_sets=params.dot_sets, fdr=params.fdr,
                                             colour=colour, fdr_column="camera_fdr"),
                  snakemake.output.dots, snakemake.output.dots_svg)
curves = en.leading_set_curves(ranking, prerank, collections, n_sets=params.running_sets)
style.save_figure(plots.plot_running_scores(curves, f"{modality}, {contrast}", colour=colour),
                  snakemake.output.running, snakemake.output.running_svg)
runlog.done(log)
