# Somatic mutations: one ingestion job for every sample (its MAF rows), then the patient-by-gene non-silent
# alteration matrix and tumour mutational burden.
from trialomics.sample_sheet import capture_sizes_by_sample


# One job, not one per sample: see rna_ingest.
rule mutations_ingest:
    input:
        lambda wc: modality_files("mutations"),
    output:
        samples=directory("results/mutations/samples"),
    log:
        "logs/mutations/mutations_ingest.log",
    benchmark:
        "benchmarks/mutations/mutations_ingest.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        sources=lambda wc: sample_sources("mutations"),
    script:
        "../../scripts/mutations_ingest.py"


rule mutations_matrix:
    input:
        mafs="results/mutations/samples",
    output:
        tmb=report(
            "results/mutations/tmb.tsv",
            caption="../report/mutations/tmb.rst",
            category="Ingestion and normalisation",
            subcategory="mutations",
        ),
        alterations=report(
            "results/mutations/alterations.tsv",
            caption="../report/mutations/alterations.rst",
            category="Ingestion and normalisation",
            subcategory="mutations",
        ),
        adata="results/mutations/normalised.h5ad",
    log:
        "logs/mutations/mutations_matrix.log",
    benchmark:
        "benchmarks/mutations/mutations_matrix.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        samples=lambda wc: sample_metadata("mutations"),
        # per sample: its samples.tsv capture_size_mb, else mutations.capture_size_mb
        capture_size_mb=lambda wc: capture_sizes_by_sample(
            SAMPLES.loc[samples_of("mutations")],
            config["mutations"]["capture_size_mb"],
        ),
        variant_classes=config["mutations"]["variant_classes"],
        min_vaf=config["mutations"]["min_vaf"],
        min_depth=config["mutations"]["min_depth"],
    script:
        "../../scripts/mutations_matrix.py"
