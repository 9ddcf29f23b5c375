# Differential analysis by response: every configured contrast in every modality present.
# RNA: one DESeq2 fit per design (variable, reference level, covariates, batch), kept as .h5ad
# (data, not a pickle), then one job per contrast computes its Wald test (and apeGLM shrinkage)
# from the shared fit, so contrasts
# that share a design never refit it. Proteins: limma moderated t. Mutations and copy number:
# Fisher exact tests; TMB by rank test.
from trialomics.contrasts import Contrast, group_contrasts_by_design

# design id (the first contrast of that design) -> ids of the contrasts that share it
DIFFERENTIAL_DESIGNS = group_contrasts_by_design(
    [Contrast.from_config(c) for c in CONTRASTS.values()]
)
DESIGN_OF_CONTRAST = {
    c: design for design, ids in DIFFERENTIAL_DESIGNS.items() for c in ids
}


# Figures of each modality's contrast (results/differential/{modality}/plots/{contrast}.{plot}.png, and
# the same figure as .svg).
DIFFERENTIAL_PLOTS = {
    "rna": ["volcano", "ma", "heatmap"],
    "proteins": ["volcano"],
    "mutations": ["volcano", "tmb", "oncoprint"],
    "copy_number": ["volcano"],
}
DIFFERENTIAL_TARGETS = with_svg_twins(
    [
        f"results/differential/{m}/{c}.tsv"
        for c in CONTRASTS
        for m in contrast_modalities(c)
    ]
    + [
        f"results/differential/{m}/plots/{c}.{plot}.png"
        for c in CONTRASTS
        for m in contrast_modalities(c)
        for plot in DIFFERENTIAL_PLOTS[m]
    ]
    + [
        f"results/differential/mutations/{c}.tmb.tsv"
        for c in CONTRASTS
        if "mutations" in contrast_modalities(c)
    ]
)


rule differential_rna_fit:
    input:
        adata="results/rna/normalised.h5ad",
        labels=LABELS,
        patients=PATIENTS_TABLE,
    output:
        fit="results/differential/rna/fits/{design}.h5ad",
    log:
        "logs/differential/differential_rna_fit/{design}.log",
    benchmark:
        "benchmarks/differential/differential_rna_fit/{design}.tsv"
    wildcard_constraints:
        design=one_of(DIFFERENTIAL_DESIGNS, "NO_DESIGNS"),
    # On the report's longest chain (fit, results, GSEA): run as soon as the RNA is normalised, with the
    # models jobs filling the cores around it, not in a tail after them.
    priority: 1
    conda:
        "../../envs/rna.yaml"
    # One thread: a second sped these vectorised fits only 1.3-1.5x, and on 2 cores a 2-thread job
    # waits until nothing else runs.
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        contrasts=lambda wc: [CONTRASTS[c] for c in DIFFERENTIAL_DESIGNS[wc.design]],
        min_patients_per_level=config["differential"]["min_patients_per_level"],
        refit_cooks=config["differential"]["refit_cooks"],
        cooks_min_replicates=config["differential"]["cooks_min_replicates"],
    script:
        "../../scripts/differential_rna_fit.py"


rule differential_rna:
    input:
        fit=lambda wc: f"results/differential/rna/fits/{DESIGN_OF_CONTRAST[wc.contrast]}.h5ad",
        adata="results/rna/normalised.h5ad",
        labels=LABELS,
        patients=PATIENTS_TABLE,
    output:
        table=report(
            "results/differential/rna/{contrast}.tsv",
            caption="../report/differential/rna_table.rst",
            category="Differential",
            subcategory="rna: {contrast}",
        ),
        volcano=report(
            "results/differential/rna/plots/{contrast}.volcano.png",
            caption="../report/differential/rna_volcano.rst",
            category="Differential",
            subcategory="rna: {contrast}",
        ),
        ma=report(
            "results/differential/rna/plots/{contrast}.ma.png",
            caption="../report/differential/rna_ma.rst",
            category="Differential",
            subcategory="rna: {contrast}",
        ),
        heatmap=report(
            "results/differential/rna/plots/{contrast}.heatmap.png",
            caption="../report/differential/rna_heatmap.rst",
            category="Differential",
            subcategory="rna: {contrast}",
        ),
        volcano_svg="results/differential/rna/plots/{contrast}.volcano.svg",
        ma_svg="results/differential/rna/plots/{contrast}.ma.svg",
        heatmap_svg="results/differential/rna/plots/{contrast}.heatmap.svg",
    log:
        "logs/differential/differential_rna/{contrast}.log",
    benchmark:
        "benchmarks/differential/differential_rna/{contrast}.tsv"
    # On the report's longest chain (fit, results, GSEA): run as soon as the RNA is normalised, with the
    # models jobs filling the cores around it, not in a tail after them.
    priority: 1
    conda:
        "../../envs/rna.yaml"
    # One thread: a second sped these vectorised fits only 1.3-1.5x, and on 2 cores a 2-thread job
    # waits until nothing else runs.
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        contrast=lambda wc: CONTRASTS[wc.contrast],
        shrink=config["differential"]["rna_shrinkage"],
        alpha=config["differential"]["alpha"],
        heatmap_genes=config["differential"]["heatmap_features"],
    script:
        "../../scripts/differential_rna.py"


rule differential_proteins:
    input:
        adata="results/proteins/normalised.h5ad",
        labels=LABELS,
        patients=PATIENTS_TABLE,
    output:
        table=report(
            "results/differential/proteins/{contrast}.tsv",
            caption="../report/differential/proteins_table.rst",
            category="Differential",
            subcategory="proteins: {contrast}",
        ),
        volcano=report(
            "results/differential/proteins/plots/{contrast}.volcano.png",
            caption="../report/differential/proteins_volcano.rst",
            category="Differential",
            subcategory="proteins: {contrast}",
        ),
        volcano_svg="results/differential/proteins/plots/{contrast}.volcano.svg",
    log:
        "logs/differential/differential_proteins/{contrast}.log",
    benchmark:
        "benchmarks/differential/differential_proteins/{contrast}.tsv"
    conda:
        "../../envs/proteins.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        contrast=lambda wc: CONTRASTS[wc.contrast],
        min_patients_per_level=config["differential"]["min_patients_per_level"],
        min_observed_per_level=config["differential"]["min_observed_per_level"],
        alpha=config["differential"]["alpha"],
        batch_in_design=config["proteins"]["batch_correction"] == "combat",
    script:
        "../../scripts/differential_proteins.py"


rule differential_mutations:
    input:
        adata="results/mutations/normalised.h5ad",
        labels=LABELS,
        patients=PATIENTS_TABLE,
    output:
        table=report(
            "results/differential/mutations/{contrast}.tsv",
            caption="../report/differential/mutations_table.rst",
            category="Differential",
            subcategory="mutations: {contrast}",
        ),
        tmb=report(
            "results/differential/mutations/{contrast}.tmb.tsv",
            caption="../report/differential/tmb_table.rst",
            category="Differential",
            subcategory="mutations: {contrast}",
        ),
        volcano=report(
            "results/differential/mutations/plots/{contrast}.volcano.png",
            caption="../report/differential/exact_volcano.rst",
            category="Differential",
            subcategory="mutations: {contrast}",
        ),
        tmb_plot=report(
            "results/differential/mutations/plots/{contrast}.tmb.png",
            caption="../report/differential/tmb_box.rst",
            category="Differential",
            subcategory="mutations: {contrast}",
        ),
        oncoprint=report(
            "results/differential/mutations/plots/{contrast}.oncoprint.png",
            caption="../report/differential/oncoprint.rst",
            category="Differential",
            subcategory="mutations: {contrast}",
        ),
        volcano_svg="results/differential/mutations/plots/{contrast}.volcano.svg",
        tmb_plot_svg="results/differential/mutations/plots/{contrast}.tmb.svg",
        oncoprint_svg="results/differential/mutations/plots/{contrast}.oncoprint.svg",
    log:
        "logs/differential/differential_mutations/{contrast}.log",
    benchmark:
        "benchmarks/differential/differential_mutations/{contrast}.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        contrast=lambda wc: CONTRASTS[wc.contrast],
        min_patients_per_level=config["differential"]["min_patients_per_level"],
        min_altered=config["differential"]["min_altered"],
        oncoprint_genes=config["differential"]["oncoprint_genes"],
        alpha=config["differential"]["alpha"],
    script:
        "../../scripts/differential_mutations.py"


rule differential_copy_number:
    input:
        adata="results/copy_number/normalised.h5ad",
        labels=LABELS,
        patients=PATIENTS_TABLE,
    output:
        table=report(
            "results/differential/copy_number/{contrast}.tsv",
            caption="../report/differential/copy_number_table.rst",
            category="Differential",
            subcategory="copy_number: {contrast}",
        ),
        volcano=report(
            "results/differential/copy_number/plots/{contrast}.volcano.png",
            caption="../report/differential/exact_volcano.rst",
            category="Differential",
            subcategory="copy_number: {contrast}",
        ),
        volcano_svg="results/differential/copy_number/plots/{contrast}.volcano.svg",
    log:
        "logs/differential/differential_copy_number/{contrast}.log",
    benchmark:
        "benchmarks/differential/differential_copy_number/{contrast}.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        contrast=lambda wc: CONTRASTS[wc.contrast],
        min_patients_per_level=config["differential"]["min_patients_per_level"],
        min_altered=config["differential"]["min_altered"],
        min_level=config["differential"]["copy_number_min_level"],
        alpha=config["differential"]["alpha"],
    script:
        "../../scripts/differential_copy_number.py"
