# The multi-omics cohort: a patient-aligned MuData (obs = patients, each modality's baseline sample,
# labels in the shared obs), a per-sample MuData of every sample, and a table of which patient has
# which data.

COHORT_TARGETS = [
    "results/cohort/cohort.h5mu",
    "results/cohort/samples.h5mu",
    "results/cohort/coverage.tsv",
]


rule cohort_assemble:
    input:
        unpack(lambda wc: normalised_modalities()),
        labels=LABELS,
        patients=PATIENTS_TABLE,
    output:
        mudata="results/cohort/cohort.h5mu",
        samples="results/cohort/samples.h5mu",
        coverage=report(
            "results/cohort/coverage.tsv",
            caption="../report/cohort/coverage.rst",
            category="Cohort",
        ),
    log:
        "logs/cohort/cohort_assemble.log",
    benchmark:
        "benchmarks/cohort/cohort_assemble.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        modalities=list(ALL_MODALITIES),
        # the patients.tsv columns the analyses use: a change of them reruns the cohort
        covariates=_privacy.configured_covariates(config),
    script:
        "../../scripts/cohort_assemble.py"
