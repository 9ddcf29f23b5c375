# Batch against outcome: each modality's batch (samples.tsv `batch` of the baseline samples) tested
# against every endpoint (Fisher's exact test for binary endpoints, permutation log-rank test across
# batches for PFS/OS; Benjamini-Hochberg over the table). With models.batch_covariate: auto, the models
# and Cox screens of an endpoint whose batch association is below models.batch_q get the batch as an
# unpenalised covariate (models.smk, survival.smk). Include before survival.smk and models.smk.
BATCH_TABLE = "results/qc/batch_association.tsv"
BATCH_TARGETS = [BATCH_TABLE] if MODALITIES and ENDPOINTS else []


rule batch_association:
    input:
        adatas=[f"results/{m}/normalised.h5ad" for m in MODALITIES],
        labels=LABELS,
        patients=PATIENTS_TABLE,
    output:
        table=report(
            BATCH_TABLE,
            caption="../report/qc/batch_association.rst",
            category="Quality control",
            subcategory="batch",
        ),
    log:
        "logs/qc/batch_association.log",
    benchmark:
        "benchmarks/qc/batch_association.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        modalities=MODALITIES,
        endpoints=ENDPOINTS,
        threshold=config["models"]["batch_q"],
        seed=seed_for("batch_association"),
    script:
        "../../scripts/qc_batch_association.py"
