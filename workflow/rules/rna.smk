# RNA-seq: one ingestion job per sample (any accepted count format -> gene<TAB>count), then the
# cohort count matrix, low-count filtering, DESeq2 size factors and VST (pydeseq2).


rule rna_ingest_sample:
    input:
        counts=sample_file,
        gene_map=config["rna"]["gene_map"] or [],
    output:
        "results/rna/samples/{sample}.tsv",
    log:
        "logs/rna/rna_ingest_sample/{sample}.log",
    benchmark:
        "benchmarks/rna/rna_ingest_sample/{sample}.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        column=sample_column,
        star_count_column=config["rna"]["star_count_column"],
    script:
        "../../scripts/rna_ingest_sample.py"


rule rna_normalise:
    input:
        counts=lambda wc: expand(
            "results/rna/samples/{sample}.tsv", sample=samples_of("rna")
        ),
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
