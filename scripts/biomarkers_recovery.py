"""Rule biomarkers_recovery: precision at k and recall of the planted biomarkers (demo and null runs)."""
from trialomics import runlog, tables
from trialomics.ranking import recovery_against_truth

log = runlog.start(snakemake)
ranked = tables.read_tsv(snakemake.input.ranked)
truth = tables.read_tsv(snakemake.input.truth)
summary, per_feature = recovery_against_truth(ranked, truth, k=snakemake.params.k)
for row in summary.itertuples():
    log.info("%s (k=%d): %.3f", row.metric, row.k, row.value)
for row in per_feature.itertuples():
    log.info("planted %s %s: rank %s, tier %s", row.modality, row.feature, row.rank, row.tier or "-")
tables.write_tsv(summary, snakemake.output.summary)
tables.write_tsv(per_feature, snakemake.output.features)
runlog.done(log)
