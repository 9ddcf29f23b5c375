"""Rule qc_modality: PCA by batch and by response, correlation heatmap and outliers of one modality."""
import anndata as ad

from trialomics import cohort, qc, readers, runlog, style, tables

log = runlog.start(snakemake)
adata = cohort.label_samples(
    ad.read_h5ad(snakemake.input.adata), tables.read_tsv(snakemake.input.labels),
    readers.read_patients(snakemake.input.patients),
)
scores = qc.pca_scores(adata)
outliers = qc.flag_outliers(adata, z_threshold=snakemake.params.outlier_z)
log.info("%s: %d samples, %d flagged as outliers", snakemake.wildcards.modality, adata.n_obs,
         int((outliers["outlier"] == "yes").sum()))
tables.write_tsv(scores.reset_index(), snakemake.output.pca)
tables.write_tsv(outliers, snakemake.output.outliers)
out = snakemake.output
style.save_figure(qc.plot_pca(scores, adata.obs, colour_by="batch"), out.pca_by_batch, out.pca_by_batch_svg)
style.save_figure(qc.plot_pca(scores, adata.obs, colour_by="bor"), out.pca_by_response, out.pca_by_response_svg)
# Colour strips for what a reviewer compares samples by: batch and response, not every clinical column.
strips = adata.obs[[c for c in qc.HEATMAP_ANNOTATIONS if c in adata.obs.columns]]
style.save_figure(qc.plot_correlation_heatmap(qc.sample_correlation(adata), strips), out.correlation,
                  out.correlation_svg)
runlog.done(log)
