"""Rule survival_univariate: Cox screen of one modality for one survival endpoint, and KM splits."""
from trialomics import model_plots, runlog, style, tables
from trialomics.batch import batch_covariate_plan, patient_batches
from trialomics.h5ad_reader import read_samples
from trialomics.readers import read_patients
from trialomics.survival import baseline_matrix, endpoint_labels, feature_kinds, patient_annotations, screen_modality

log = runlog.start(snakemake)
params = snakemake.params
block, endpoint = snakemake.wildcards.block, snakemake.wildcards.endpoint
obs = patient_annotations(tables.read_tsv(snakemake.input.labels), read_patients(snakemake.input.patients))
adata = read_samples(snakemake.input.adata)
values = baseline_matrix(adata, block)
covariates = list(params.covariates)
# models.batch_covariate: the block's batch joins the screen's covariates when it goes with the endpoint.
batch_table = tables.read_tsv(snakemake.input.batch[0]) if snakemake.input.batch else None
batched, batch_note = batch_covariate_plan(batch_table, [block], endpoint, params.batch_covariate)
if batched:
    obs[f"{block}_batch"] = patient_batches(adata).reindex(obs.index).fillna("")
    covariates.append(f"{block}_batch")
    log.info("%s / %s: %s", block, endpoint, batch_note)
table, km = screen_modality(values, obs, block, endpoint, covariates=covariates,
                            max_missing=params.max_missing, min_altered=params.min_altered,
                            min_altered_fraction=params.min_altered_fraction, top_variance=params.top_variance,
                            n_km_features=params.km_features, n_permutations=params.cutpoint_permutations,
                            exact_below_carriers=params.exact_below_carriers, min_events=params.min_events,
                            seed=params.seed)
fitted = table["method"] != ""
log.info("%s / %s: %d features tested in %d patients (%d events); %d with q < 0.05; %d Firth fits "
         "(%d separated, %d sparse alterations with exact log-rank p)",
         block, endpoint, int(fitted.sum()), int(table["n"].max()) if len(table) else 0,
         int(table["n_events"].max()) if len(table) else 0, int((table["padj"] < 0.05).sum()),
         int((table["method"] == "firth").sum()), int((table["separation"] == "yes").sum()),
         int(table["pvalue_method"].isin(["exact_logrank", "permutation_logrank"]).sum()))
if (~fitted).any():
    log.warning("%s / %s: %d features not fitted, e.g. %s: %s", block, endpoint, int((~fitted).sum()),
                table.loc[~fitted, "feature"].iloc[0], table.loc[~fitted, "note"].iloc[0])
tables.write_tsv(table.assign(batch_covariate=batch_note, seed=params.seed), snakemake.output.table)
tables.write_tsv(km.assign(seed=params.seed), snakemake.output.km)

outcome = endpoint_labels(obs, endpoint)
style.save_figure(model_plots.km_grid(values, feature_kinds(values), outcome, km,
                                      f"{block}: {model_plots.ENDPOINT_TITLES[endpoint]}"),
                  snakemake.output.km_plot, snakemake.output.km_plot_svg)
runlog.done(log)
