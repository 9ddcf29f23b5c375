"""Rule longitudinal_plots: paired (spaghetti) plots of a change block's top features."""
import anndata as ad

from trialomics import longitudinal, runlog, style, tables

log = runlog.start(snakemake)
params = snakemake.params
block = ad.read_h5ad(snakemake.input.adata)
screens = {name: tables.read_tsv(path) for name, path in zip(params.screens, snakemake.input.screens)}
top = longitudinal.top_change_features(screens, params.n_features)
log.info("%s: top %d change features over %s: %s", snakemake.wildcards.block, len(top), ", ".join(screens),
         ", ".join(top["feature"]))
tables.write_tsv(top, snakemake.output.top)
groups = tables.read_tsv(snakemake.input.labels).set_index("patient_id")[params.group]
title = (f"{snakemake.wildcards.block}: {block.uns['params']['change']}, top features of the change screens "
         f"({block.n_obs} patients)")
style.save_figure(longitudinal.plot_paired(block, list(top["feature"]), groups, title, params.value_label,
                                           group_name=params.group),
                  snakemake.output.plot, snakemake.output.plot_svg)
runlog.done(log)
