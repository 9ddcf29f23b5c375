# Proteomics: matrix or long (Olink) files read at cohort level -> log2, missingness filter,
# median normalisation, imputation, ComBat batch correction; QC plots of missingness and batches.


rule proteins_normalise:
    input:
        lambda wc: modality_files("proteins"),
    output:
        adata="results/proteins/normalised.h5ad",
        missingness=report(
            "results/proteins/missingness.tsv",
            caption="../report/proteins/missingness.rst",
            category="Ingestion and normalisation",
            subcategory="proteins",
        ),
        missingness_plot=report(
            "results/proteins/plots/missingness.png",
            caption="../report/proteins/missingness_plot.rst",
            category="Ingestion and normalisation",
            subcategory="proteins",
        ),
        batch_plot=report(
            "results/proteins/plots/pca_batch.png",
            caption="../report/proteins/pca_batch.rst",
            category="Ingestion and normalisation",
            subcategory="proteins",
        ),
        missingness_plot_svg="results/proteins/plots/missingness.svg",
        batch_plot_svg="results/proteins/plots/pca_batch.svg",
    log:
        "logs/proteins/proteins_normalise.log",
    benchmark:
        "benchmarks/proteins/proteins_normalise.tsv"
    conda:
        "../../envs/proteins.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        sources=lambda wc: sample_sources("proteins"),
        samples=lambda wc: sample_metadata("proteins"),
        settings=config["proteins"],
        seed=lambda wc: seed_for("proteins_normalise"),
    script:
        "../../scripts/proteins_normalise.py"
