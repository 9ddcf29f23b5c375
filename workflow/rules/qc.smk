# Quality control of every normalised modality: PCA by batch and by response, sample correlation
# heatmap, flagged outliers.

QC_TARGETS = with_svg_twins(
    expand(
        "results/qc/{modality}/{name}",
        modality=MODALITIES,
        name=[
            "pca.tsv",
            "outliers.tsv",
            "pca_by_batch.png",
            "pca_by_response.png",
            "correlation.png",
        ],
    )
)


rule qc_modality:
    input:
        adata="results/{modality}/normalised.h5ad",
        labels=LABELS,
        patients=PATIENTS_TABLE,
    output:
        pca=report(
            "results/qc/{modality}/pca.tsv",
            caption="../report/qc/pca.rst",
            category="Quality control",
            subcategory="{modality}",
        ),
        outliers=report(
            "results/qc/{modality}/outliers.tsv",
            caption="../report/qc/outliers.rst",
            category="Quality control",
            subcategory="{modality}",
        ),
        pca_by_batch=report(
            "results/qc/{modality}/pca_by_batch.png",
            caption="../report/qc/pca_by_batch.rst",
            category="Quality control",
            subcategory="{modality}",
        ),
        pca_by_response=report(
            "results/qc/{modality}/pca_by_response.png",
            caption="../report/qc/pca_by_response.rst",
            category="Quality control",
            subcategory="{modality}",
        ),
        correlation=report(
            "results/qc/{modality}/correlation.png",
            caption="../report/qc/correlation.rst",
            category="Quality control",
            subcategory="{modality}",
        ),
        pca_by_batch_svg="results/qc/{modality}/pca_by_batch.svg",
        pca_by_response_svg="results/qc/{modality}/pca_by_response.svg",
        correlation_svg="results/qc/{modality}/correlation.svg",
    log:
        "logs/qc/qc_modality/{modality}.log",
    benchmark:
        "benchmarks/qc/qc_modality/{modality}.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        outlier_z=config["qc"]["outlier_z"],
    script:
        "../../scripts/qc_modality.py"
