# Copy number: gene-level tables (matrix files, read at cohort level) -> continuous values and
# amplification / deletion calls with the configured thresholds.


rule copy_number_normalise:
    input:
        lambda wc: modality_files("copy_number"),
    output:
        calls=report(
            "results/copy_number/calls.tsv",
            caption="../report/copy_number/calls.rst",
            category="Ingestion and normalisation",
            subcategory="copy_number",
        ),
        adata="results/copy_number/normalised.h5ad",
    log:
        "logs/copy_number/copy_number_normalise.log",
    benchmark:
        "benchmarks/copy_number/copy_number_normalise.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        sources=lambda wc: sample_sources("copy_number"),
        samples=lambda wc: sample_metadata("copy_number"),
        settings=config["copy_number"],
    script:
        "../../scripts/copy_number_normalise.py"
