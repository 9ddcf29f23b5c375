# On-treatment samples: the per-patient change from baseline of each modality with on-treatment samples
# (RNA VST, proteins log2) becomes a block of features (results/<modality>_change/normalised.h5ad) that the
# survival screens, models and ranking use like a baseline block (survival.smk adds CHANGE_BLOCKS to
# SURVIVAL_BLOCKS); the change is compared between the groups of each response contrast, and paired plots
# show the top change features. Paired differential contrasts (baseline vs on-treatment, pair_by: patient)
# are run by differential.smk; contrast_modalities() (common.smk) says which modalities have their samples.
# Include after cohort.smk and before differential.smk and survival.smk.
from trialomics.longitudinal import (
    CHANGE_MODALITIES,
    change_block_name,
    on_treatment_timepoint,
    paired_patient_count,
)

LONGITUDINAL = config["longitudinal"]
LONGITUDINAL_TIMEPOINT = on_treatment_timepoint(
    SAMPLES["timepoint"], LONGITUDINAL["timepoint"]
)
# change block -> its modality, for modalities with enough patients sampled at both timepoints
CHANGE_MODALITY_OF = {
    change_block_name(m): m
    for m in CHANGE_MODALITIES
    if m in MODALITIES
    and LONGITUDINAL_TIMEPOINT
    and paired_patient_count(SAMPLES, m, LONGITUDINAL_TIMEPOINT)
    >= LONGITUDINAL["min_pairs"]
}
CHANGE_BLOCKS = list(CHANGE_MODALITY_OF)
LONGITUDINAL_TARGETS = with_svg_twins(
    [f"results/{block}/normalised.h5ad" for block in CHANGE_BLOCKS]
    + [
        f"results/longitudinal/{block}/{c}.tsv"
        for block in CHANGE_BLOCKS
        for c in RESPONSE_CONTRASTS
    ]
    + [
        f"results/longitudinal/{block}/{name}"
        for block in CHANGE_BLOCKS
        for name in ("top_features.tsv", "plots/paired.png")
    ]
)


rule longitudinal_change:
    input:
        adata=lambda wc: f"results/{CHANGE_MODALITY_OF[wc.block]}/normalised.h5ad",
    output:
        adata="results/{block}/normalised.h5ad",
    log:
        "logs/longitudinal/longitudinal_change/{block}.log",
    benchmark:
        "benchmarks/longitudinal/longitudinal_change/{block}.tsv"
    wildcard_constraints:
        block=one_of(CHANGE_BLOCKS, "NO_CHANGE_BLOCKS"),
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        modality=lambda wc: CHANGE_MODALITY_OF[wc.block],
        timepoint=LONGITUDINAL_TIMEPOINT,
        min_pairs=LONGITUDINAL["min_pairs"],
    script:
        "../../scripts/longitudinal_change.py"


rule longitudinal_tests:
    input:
        adata="results/{block}/normalised.h5ad",
        labels=LABELS,
        patients=PATIENTS_TABLE,
    output:
        tables=[
            report(
                f"results/longitudinal/{{block}}/{c}.tsv",
                caption="../report/longitudinal/tests.rst",
                category="Longitudinal",
                subcategory="{block}",
            )
            for c in RESPONSE_CONTRASTS
        ],
    log:
        "logs/longitudinal/longitudinal_tests/{block}.log",
    benchmark:
        "benchmarks/longitudinal/longitudinal_tests/{block}.tsv"
    wildcard_constraints:
        block=one_of(CHANGE_BLOCKS, "NO_CHANGE_BLOCKS"),
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        contrasts=[CONTRASTS[c] for c in RESPONSE_CONTRASTS],
        min_patients_per_level=config["differential"]["min_patients_per_level"],
    script:
        "../../scripts/longitudinal_tests.py"


rule longitudinal_plots:
    input:
        adata="results/{block}/normalised.h5ad",
        labels=LABELS,
        screens=longitudinal_screens,
    output:
        top="results/longitudinal/{block}/top_features.tsv",
        plot=report(
            "results/longitudinal/{block}/plots/paired.png",
            caption="../report/longitudinal/paired.rst",
            category="Longitudinal",
            subcategory="{block}",
        ),
        plot_svg="results/longitudinal/{block}/plots/paired.svg",
    log:
        "logs/longitudinal/longitudinal_plots/{block}.log",
    benchmark:
        "benchmarks/longitudinal/longitudinal_plots/{block}.tsv"
    wildcard_constraints:
        block=one_of(CHANGE_BLOCKS, "NO_CHANGE_BLOCKS"),
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        screens=lambda wc: [*SURVIVAL_ENDPOINTS, *RESPONSE_CONTRASTS],
        n_features=LONGITUDINAL["plot_features"],
        group="responder",
        value_label=lambda wc: {
            "rna": "VST (log2 scale)",
            "proteins": "log2 abundance",
        }[CHANGE_MODALITY_OF[wc.block]],
    script:
        "../../scripts/longitudinal_plots.py"
