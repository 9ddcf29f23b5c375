"""Rule enrichment_pathway_scores: ssGSEA score of every gene set in every RNA sample."""
import anndata as ad

from trialomics import differential as dx
from trialomics import differential_plots as plots
from trialomics import enrichment as en
from trialomics import runlog, style, tables
from trialomics.cohort import label_samples
from trialomics.readers import read_patients
from trialomics.style import RESPONSE_ORDER

log = runlog.start(snakemake)
params = snakemake.params
collections = en.load_collections(snakemake.input.gene_sets)
gene_sets, collection_of = {}, {}
for collection, sets in collections.items():
    for name, genes in sets.items():
        if name in gene_sets:
            raise ValueError(f"gene set '{name}' is defined in two collections; rename one")
        gene_sets[name], collection_of[name] = genes, collection

rna = ad.read_h5ad(snakemake.input.adata)
vst = dx.feature_matrix(rna)
scores = en.single_sample_scores(vst, gene_sets, min_size=params.min_size, max_size=params.max_size,
                                 weight=params.weight)
log.info("%d gene sets scored in %d samples (ssGSEA on VST, weight %g)", scores.shape[1],
         scores.shape[0], params.weight)
matched = {name: [g for g in gene_sets[name] if g in set(vst.columns)] for name in scores.columns}
pathways = en.pathway_anndata(
    scores, rna.obs, matched, collection_of,
    {"method": "ssGSEA (gseapy), rank-normalised VST, unnormalised enrichment score",
     "weight": params.weight, "min_size": params.min_size, "max_size": params.max_size,
     "gene_set_files": [str(c) for c in collections]})
tables.write_h5ad(pathways, snakemake.output.adata)
tables.write_tsv(scores.rename_axis("sample_id").reset_index(), snakemake.output.scores)

labelled = label_samples(rna, tables.read_tsv(snakemake.input.labels),
                         read_patients(snakemake.input.patients))
style.save_figure(
    plots.plot_top_heatmap(scores, list(scores.columns), labelled.obs, "bor", list(RESPONSE_ORDER),
                           "Pathway scores (ssGSEA, z-scores across samples)", annotations=()),
    snakemake.output.heatmap, snakemake.output.heatmap_svg)
runlog.done(log)
