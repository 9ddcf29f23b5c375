"""Rule differential_rna_fit: one DESeq2 fit (pydeseq2) per design, shared by its contrasts."""
from trialomics import differential as dx
from trialomics import runlog
from trialomics.deseq_store import write_deseq_fit
from trialomics.differential_rna import fit_deseq2

log = runlog.start(snakemake)
contrasts = dx.contrasts_from_config(snakemake.params.contrasts)
design = contrasts[0]
# Contrasts of one design share variable, pairing and sample subset, so they share their samples.
adata = dx.read_contrast_samples(snakemake.input.adata, snakemake.input.labels, snakemake.input.patients, design)
min_per_level = snakemake.params.min_patients_per_level
for contrast in contrasts:
    dx.log_excluded(adata.obs, contrast, log)
    dx.require_valid_contrast(contrast, adata.obs, min_per_level)

dds = fit_deseq2(dx.feature_matrix(adata, "raw"), adata.obs, design, n_cpus=snakemake.threads,
                 refit_cooks=snakemake.params.refit_cooks,
                 min_replicates=snakemake.params.cooks_min_replicates,
                 min_per_level=min_per_level)
log.info("design %s (%s): %d samples x %d genes, formula %s; contrasts %s", design.id,
         design.describe(), dds.n_obs, dds.n_vars, dds.uns["trialomics_contrast_design"]["formula"],
         ", ".join(c.id for c in contrasts))
log.info("Cook's distance: %d gene(s) with outlier counts replaced and refitted (groups of at "
         "least %d replicates), %d gene(s) flagged (p-value set to missing)",
         int(dds.var["refitted"].sum()) if "refitted" in dds.var else 0,
         snakemake.params.cooks_min_replicates, int(dds.cooks_outlier().sum()))

write_deseq_fit(dds, snakemake.output.fit)
runlog.done(log)
