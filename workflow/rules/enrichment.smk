# Gene-set enrichment, fully offline: preranked GSEA and over-representation of every RNA and
# protein differential table against local GMT files, and per-sample ssGSEA pathway scores stored
# as a modality-like AnnData (results/pathways/normalised.h5ad) for the models stage.
from pathlib import Path

from trialomics.paths import resolve_gene_set_path

# A relative GMT path is looked up in the working directory first, then in the project (so the
# shipped resources/gene_sets/*.gmt work from any --directory).
GENE_SET_FILES = [
    str(resolve_gene_set_path(path, Path.cwd(), Path(workflow.basedir).parent))
    for path in config["enrichment"]["gene_sets"]
]
ENRICHMENT_MODALITIES = [m for m in ("rna", "proteins") if m in MODALITIES]


ENRICHMENT_TARGETS = with_svg_twins(
    [
        path
        for m in ENRICHMENT_MODALITIES
        # Enrichment (and its camera correlation on baseline samples) is of the response contrasts.
        for c in RESPONSE_CONTRASTS
        for path in (
            f"results/enrichment/{m}/{c}.prerank.tsv",
            f"results/enrichment/{m}/{c}.ora.tsv",
            f"results/enrichment/{m}/plots/{c}.dots.png",
            f"results/enrichment/{m}/plots/{c}.running.png",
        )
    ]
    + (
        [
            "results/pathways/normalised.h5ad",
            "results/pathways/scores.tsv",
            "results/pathways/plots/scores.heatmap.png",
        ]
        if "rna" in MODALITIES
        else []
    )
)


rule enrichment_gsea:
    input:
        table="results/differential/{modality}/{contrast}.tsv",
        adata="results/{modality}/normalised.h5ad",
        labels=LABELS,
        patients=PATIENTS_TABLE,
        gene_sets=GENE_SET_FILES,
    output:
        prerank=report(
            "results/enrichment/{modality}/{contrast}.prerank.tsv",
            caption="../report/enrichment/prerank.rst",
            category="Enrichment",
            subcategory="{modality}: {contrast}",
        ),
        ora=report(
            "results/enrichment/{modality}/{contrast}.ora.tsv",
            caption="../report/enrichment/ora.rst",
            category="Enrichment",
            subcategory="{modality}: {contrast}",
        ),
        dots=report(
            "results/enrichment/{modality}/plots/{contrast}.dots.png",
            caption="../report/enrichment/dots.rst",
            category="Enrichment",
            subcategory="{modality}: {contrast}",
        ),
        running=report(
            "results/enrichment/{modality}/plots/{contrast}.running.png",
            caption="../report/enrichment/running.rst",
            category="Enrichment",
            subcategory="{modality}: {contrast}",
        ),
        dots_svg="results/enrichment/{modality}/plots/{contrast}.dots.svg",
        running_svg="results/enrichment/{modality}/plots/{contrast}.running.svg",
    log:
        "logs/enrichment/enrichment_gsea/{modality}/{contrast}.log",
    benchmark:
        "benchmarks/enrichment/enrichment_gsea/{modality}/{contrast}.tsv"
    wildcard_constraints:
        modality="rna|proteins",
    # The end of the report's longest chain (see differential_rna_fit): before the models jobs.
    priority: 1
    conda:
        "../../envs/enrichment.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        contrast=lambda wc: CONTRASTS[wc.contrast],
        permutations=config["enrichment"]["permutations"],
        min_size=config["enrichment"]["min_size"],
        max_size=config["enrichment"]["max_size"],
        ora_padj=config["enrichment"]["ora_padj"],
        fdr=config["enrichment"]["fdr"],
        dot_sets=config["enrichment"]["dot_sets"],
        running_sets=config["enrichment"]["running_sets"],
        seed=lambda wc: derive_seed(SEED, "enrichment_gsea", wc.modality, wc.contrast),
    script:
        "../../scripts/enrichment_gsea.py"


rule enrichment_pathway_scores:
    input:
        adata="results/rna/normalised.h5ad",
        labels=LABELS,
        patients=PATIENTS_TABLE,
        gene_sets=GENE_SET_FILES,
    output:
        adata="results/pathways/normalised.h5ad",
        scores=report(
            "results/pathways/scores.tsv",
            caption="../report/enrichment/pathway_scores.rst",
            category="Enrichment",
            subcategory="pathway scores",
        ),
        heatmap=report(
            "results/pathways/plots/scores.heatmap.png",
            caption="../report/enrichment/pathway_heatmap.rst",
            category="Enrichment",
            subcategory="pathway scores",
        ),
        heatmap_svg="results/pathways/plots/scores.heatmap.svg",
    log:
        "logs/enrichment/enrichment_pathway_scores.log",
    benchmark:
        "benchmarks/enrichment/enrichment_pathway_scores.tsv"
    conda:
        "../../envs/enrichment.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        # Per-sample scores keep 2-gene signatures such as cytolytic activity (GZMA, PRF1).
        min_size=config["enrichment"]["ssgsea_min_size"],
        max_size=config["enrichment"]["max_size"],
        weight=config["enrichment"]["ssgsea_weight"],
    script:
        "../../scripts/enrichment_pathway_scores.py"
