"""Rule proteins_normalise: log2, missingness filter, normalisation, imputation, batch correction."""
from functools import partial

from trialomics import cohort, ingest, proteins, readers, runlog, style, tables

log = runlog.start(snakemake)
settings = dict(snakemake.params.settings)
samples = cohort.sample_metadata_frame(snakemake.params.samples)
olink_rules = {"qc": settings["olink_qc"], "lod": settings["olink_below_lod"], "plate": settings["plate_normalisation"]}
values = ingest.collect_matrix_samples(snakemake.params.sources, partial(readers.read_proteins, olink=olink_rules))
adata = proteins.normalise_proteins(
    values, samples,
    scale=settings["scale"],
    max_missing_fraction=settings["max_missing_fraction"],
    imputation=settings["imputation"],
    downshift=settings["imputation_downshift"],
    width=settings["imputation_width"],
    normalisation=settings["normalisation"],
    batch_correction=settings["batch_correction"],
    seed=snakemake.params.seed,
)
log.info("%d of %d proteins kept (max missing fraction %s)", adata.n_vars, values.shape[0],
         settings["max_missing_fraction"])
log2_all = proteins.to_log2(values, settings["scale"])
tables.write_tsv(proteins.protein_missingness(log2_all, settings["max_missing_fraction"]),
                 snakemake.output.missingness)
style.save_figure(proteins.plot_missingness(log2_all, settings["max_missing_fraction"]),
                  snakemake.output.missingness_plot, snakemake.output.missingness_plot_svg)
style.save_figure(
    proteins.plot_pca_by_batch(adata.to_df(layer="imputed").T, adata.to_df().T, adata.obs["batch"]),
    snakemake.output.batch_plot, snakemake.output.batch_plot_svg,
)
tables.write_h5ad(adata, snakemake.output.adata)
runlog.done(log)
