"""Rule biomarkers_cards: a one-page card (plots and numbers) for each top-ranked candidate.

The ranked table is read as text; the card formats its numbers itself.
"""
from pathlib import Path

import anndata as ad

from trialomics import model_plots, runlog, style, tables
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
    style.save_figure(model_plots.biomarker_card(candidate, values[feature], kind, obs), out / name,
                      (out / name).with_suffix(".svg"))
    log.info("card %s", name)
