"""Rule clinical_plots: waterfall, spider, swimmer and Kaplan-Meier figures (PNG and SVG)."""
from trialomics import clinical_plots, runlog, style, tables

log = runlog.start(snakemake)
labels = tables.read_tsv(snakemake.input.labels)
timepoints = tables.read_tsv(snakemake.input.timepoints)
out = snakemake.output
figures = {
    "waterfall": clinical_plots.waterfall_plot(labels),
    "spider": clinical_plots.spider_plot(timepoints, labels),
    "swimmer": clinical_plots.swimmer_plot(labels, timepoints),
    "km_pfs": clinical_plots.kaplan_meier_plot(labels, "pfs"),
    "km_os": clinical_plots.kaplan_meier_plot(labels, "os"),
}
for name, figure in figures.items():
    style.save_figure(figure, out[name], out[f"{name}_svg"])
runlog.done(log)
