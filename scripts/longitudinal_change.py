"""Rule longitudinal_change: one modality's per-patient change from baseline, as a feature block."""
import anndata as ad

from trialomics import longitudinal, runlog, tables

log = runlog.start(snakemake)
params = snakemake.params
block = longitudinal.change_block(ad.read_h5ad(snakemake.input.adata), params.modality, params.timepoint,
                                  min_pairs=params.min_pairs)
log.info("%s: %s in %d patients x %d features (%s)", snakemake.wildcards.block, block.uns["params"]["change"],
         block.n_obs, block.n_vars, block.uns["params"]["values"])
tables.write_h5ad(block, snakemake.output.adata)
runlog.done(log)
