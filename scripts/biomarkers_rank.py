"""Rule biomarkers_rank: gather every piece of evidence per candidate, order, tier by the calibrated evidence."""
import anndata as ad

from trialomics import runlog, tables
from trialomics.ranking import add_signals, correlated_signals, gather_evidence, genes_from_var, rank_candidates
from trialomics.survival import baseline_matrix

log = runlog.start(snakemake)
params = snakemake.params
inputs = snakemake.input


def keyed(keys, paths):
    return {tuple(key) if isinstance(key, (list, tuple)) else key: tables.read_tsv(path)
            for key, path in zip(keys, paths)}


# Each block is read once: its var gives the gene symbols, its baseline samples the values for signals.
adatas = {block: ad.read_h5ad(path) for block, path in zip(params.blocks, inputs.blocks)}
genes = {block: genes_from_var(adata.var) for block, adata in adatas.items()}
evidence = gather_evidence(
    differential=keyed(params.differential_keys, inputs.differential),
    univariate=keyed(params.univariate_keys, inputs.univariate),
    stability=keyed(params.model_endpoints, inputs.stability),
    performance=keyed(params.model_endpoints, inputs.performance),
    enrichment=keyed(params.enrichment_keys, inputs.enrichment),
    tmb=keyed(params.tmb_contrasts, inputs.tmb), genes=genes, calibration=tables.read_tsv(inputs.calibration),
    enrichment_fdr=params.enrichment_fdr, concordance_p=params.concordance_p)
ranked = rank_candidates(evidence, primary_endpoint=params.primary_endpoint, strong_p=params.strong_p,
                         supported_q=params.supported_q)
values = {block: baseline_matrix(adata, block) for block, adata in adatas.items()}
ranked = add_signals(ranked, correlated_signals(ranked, values, threshold=params.signal_correlation,
                                                window=params.signal_window))
counts = ranked["tier"].value_counts()
log.info("%d candidates: %d strong, %d supported, %d exploratory (primary endpoint %s)", len(ranked),
         counts.get("strong", 0), counts.get("supported", 0), counts.get("exploratory", 0), params.primary_endpoint)
for row in ranked.head(10).itertuples():
    log.info("#%d %s %s (%s): score %.2f, %s on %s (calibrated p %.3g, q %.3g), signal %d (%s)", row.rank,
             row.modality, row.feature, row.gene, row.score, row.tier, row.tier_endpoint or "-", row.calibrated_p,
             row.calibrated_q, row.signal_rank, row.signal)
leads = ranked[ranked["signal_rank"].notna()].drop_duplicates("signal")
log.info("%d independent signals among the top %d candidates (|rho| >= %.2f)", len(leads), params.signal_window,
         params.signal_correlation)
tables.write_tsv(ranked, snakemake.output.ranked)
runlog.done(log)
