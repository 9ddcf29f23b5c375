"""Rule biomarkers_cards: the plot of each top-ranked candidate's card.

The card's numbers are text on the summary page (readable, not baked into the PNG).
"""
from pathlib import Path

import anndata as ad

from trialomics import model_plots, report_cards, runlog, style, tables
from trialomics.readers import read_patients
from trialomics.survival import baseline_matrix, feature_kinds, patient_annotations

log = runlog.start(snakemake)
params = snakemake.params
ranked = tables.read_tsv(snakemake.input.ranked)
obs = patient_annotations(tables.read_tsv(snakemake.input.labels), read_patients(snakemake.input.patients))
matrices = {modality: baseline_matrix(ad.read_h5ad(path), modality)
            for modality, path in zip(params.modalities, snakemake.input.adatas)}
out = Path(snakemake.output.cards)
out.mkdir(parents=True, exist_ok=True)
for _, candidate in ranked.head(params.top).iterrows():
    values = matrices[candidate["modality"]]
    feature = candidate["feature"]
    kind = feature_kinds(values[[feature]]).iloc[0]
    name = model_plots.card_filename(candidate["rank"], candidate["modality"], feature)
    # The PNG is the report's copy (the report lists *.png), the SVG beside it the publication copy.
    style.save_figure(report_cards.card_figure(candidate, values[feature], kind, obs), out / name,
                      (out / name).with_suffix(".svg"))
    log.info("card %s", name)
runlog.done(log)
