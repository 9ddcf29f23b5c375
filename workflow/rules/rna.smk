# RNA-seq: one ingestion job for every sample (any accepted count format -> gene<TAB>count, a file per
# sample), then the cohort count matrix, low-count filtering, DESeq2 size factors and VST (pydeseq2).


# One job, not one per sample: reading a count file takes ~0.05 s, starting a Python job ~0.5 CPU-s.
rule rna_ingest:
    input:
        counts=lambda wc: modality_files("rna"),
        gene_map=config["rna"]["gene_map"] or [],
    output:
        # One folder, a file per sample inside: Snakemake writes a record of the whole job per output file.
        samples=directory("results/rna/samples"),
    log:
        "logs/rna/rna_ingest.log",
    benchmark:
        "benchmarks/rna/rna_ingest.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        sources=lambda wc: sample_sources("rna"),
        star_count_column=config["rna"]["star_count_column"],
    script:
        "../../scripts/rna_ingest.py"


rule rna_normalise:
    input:
        counts="results/rna/samples",
    output:
        counts=report(
            "results/rna/counts.tsv",
            caption="../report/rna/counts.rst",
            category="Ingestion and normalisation",
            subcategory="rna",
        ),
        filtering=report(
            "results/rna/filtering.tsv",
            caption="../report/rna/filtering.rst",
            category="Ingestion and normalisation",
            subcategory="rna",
        ),
        size_factors=report(
            "results/rna/size_factors.tsv",
            caption="../report/rna/size_factors.rst",
            category="Ingestion and normalisation",
            subcategory="rna",
        ),
        adata="results/rna/normalised.h5ad",
    log:
        "logs/rna/rna_normalise.log",
    benchmark:
        "benchmarks/rna/rna_normalise.tsv"
    conda:
        "../../envs/rna.yaml"
    # One thread: see differential_rna_fit.
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        samples=lambda wc: sample_metadata("rna"),
        min_count=config["rna"]["min_count"],
        min_samples=config["rna"]["min_samples"],
    script:
        "../../scripts/rna_normalise.py"
