# The multi-omics cohort: every modality's AnnData, labelled by patient, in one MuData, and a table
# of which patient has which data.

COHORT_TARGETS = ["results/cohort/cohort.h5mu", "results/cohort/coverage.tsv"]


rule cohort_assemble:
    input:
        unpack(lambda wc: normalised_modalities()),
        labels=LABELS,
        patients=PATIENTS_TABLE,
    output:
        mudata="results/cohort/cohort.h5mu",
        coverage=report(
            "results/cohort/coverage.tsv",
            caption="../report/cohort/coverage.rst",
            category="Cohort",
        ),
    params:
        modalities=list(ALL_MODALITIES),
    log:
        "logs/cohort/cohort_assemble.log",
    benchmark:
        "benchmarks/cohort/cohort_assemble.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        "../../envs/core.yaml"
    script:
        "../../scripts/cohort_assemble.py"
