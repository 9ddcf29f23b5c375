"""Rule models_collect: one performance and one stability table per endpoint, and their figures."""
import pandas as pd

from trialomics import model_plots, runlog, style, tables

log = runlog.start(snakemake)
endpoint = snakemake.wildcards.endpoint


def gather(paths):
    frames = [tables.read_tsv(path) for path in paths]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


performance = gather(snakemake.input.performance)
stability = gather(snakemake.input.stability)
summary = gather(snakemake.input.stability_summary)
coefficients = gather(snakemake.input.coefficients)
stability["_frequency"] = pd.to_numeric(stability["selection_frequency"])
stability = stability.sort_values(["_frequency", "model", "modality", "feature"],
                                  ascending=[False, True, True, True], kind="stable").drop(columns="_frequency")
log.info("%s: %d models, %d stability rows", endpoint, performance["model"].nunique(), len(stability))
tables.write_tsv(performance, snakemake.output.performance)
tables.write_tsv(stability, snakemake.output.stability)
tables.write_tsv(summary, snakemake.output.stability_summary)
tables.write_tsv(coefficients, snakemake.output.coefficients)
style.save_figure(model_plots.performance_plot(performance, endpoint), snakemake.output.performance_plot,
                  snakemake.output.performance_plot_svg)
style.save_figure(model_plots.stability_plot(stability, summary, endpoint), snakemake.output.stability_plot,
                  snakemake.output.stability_plot_svg)
runlog.done(log)
