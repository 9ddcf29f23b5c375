# RNA-seq: one ingestion job per sample (any accepted count format -> gene<TAB>count), then the
# cohort count matrix, low-count filtering, DESeq2 size factors and VST (pydeseq2).


rule rna_ingest_sample:
    input:
        sample_file,
    output:
        "results/rna/samples/{sample}.tsv",
    params:
        column=sample_column,
        star_count_column=config["rna"]["star_count_column"],
    log:
        "logs/rna/rna_ingest_sample/{sample}.log",
    benchmark:
        "benchmarks/rna/rna_ingest_sample/{sample}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/core.yaml"
    script:
        "../../scripts/rna_ingest_sample.py"


rule rna_normalise:
    input:
        counts=lambda wc: expand("results/rna/samples/{sample}.tsv", sample=samples_of("rna")),
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
    params:
        samples=lambda wc: sample_metadata("rna"),
        min_count=config["rna"]["min_count"],
        min_samples=config["rna"]["min_samples"],
    log:
        "logs/rna/rna_normalise.log",
    benchmark:
        "benchmarks/rna/rna_normalise.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/rna.yaml"
    script:
        "../../scripts/rna_normalise.py"
