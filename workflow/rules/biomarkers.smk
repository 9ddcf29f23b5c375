# One ranked list of candidate biomarkers with every piece of evidence as a column, its tiers from the
# evidence chain calibrated on joint permutations of the outcomes (biomarkers_null), one-page cards
# for the top candidates, and (when a truth table is configured: the demo and the null cohorts) the
# recovery of the planted biomarkers. Include after differential.smk, enrichment.smk, survival.smk and
# models.smk (uses CONTRASTS, ENRICHMENT_MODALITIES, SURVIVAL_BLOCKS, SURVIVAL_ENDPOINTS).
# Response contrasts only: a paired timepoint contrast is change, not a predictor of response.
BIOMARKER_DIFFERENTIAL_KEYS = [[m, c] for m in MODALITIES for c in RESPONSE_CONTRASTS]
BIOMARKER_TMB_CONTRASTS = list(RESPONSE_CONTRASTS) if "mutations" in MODALITIES else []
BIOMARKER_UNIVARIATE_KEYS = [
    [b, e] for b in SURVIVAL_BLOCKS for e in SURVIVAL_ENDPOINTS
]
BIOMARKER_ENRICHMENT_KEYS = [
    [m, c] for m in ENRICHMENT_MODALITIES for c in RESPONSE_CONTRASTS
]


BIOMARKERS_TARGETS = [
    "results/biomarkers/ranked.tsv",
    "results/biomarkers/cards",
    "results/biomarkers/tier_null_rates.tsv",
]
if config["ranking"]["truth"]:
    BIOMARKERS_TARGETS += [
        "results/biomarkers/recovery.tsv",
        "results/biomarkers/recovery_features.tsv",
    ]


rule biomarkers_null:
    input:
        blocks=[f"results/{b}/normalised.h5ad" for b in SURVIVAL_BLOCKS],
        labels=LABELS,
        patients=PATIENTS_TABLE,
        batch=batch_table_input,
    output:
        calibration=report(
            "results/biomarkers/calibration.tsv",
            caption="../report/biomarkers/calibration.rst",
            category="Biomarkers",
            subcategory="calibration",
        ),
        null_rates=report(
            "results/biomarkers/tier_null_rates.tsv",
            caption="../report/biomarkers/tier_null_rates.rst",
            category="Biomarkers",
            subcategory="calibration",
        ),
    log:
        "logs/biomarkers/biomarkers_null.log",
    benchmark:
        "benchmarks/biomarkers/biomarkers_null.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        blocks=SURVIVAL_BLOCKS,
        endpoints=ENDPOINTS,
        primary_endpoint=config["ranking"]["primary_endpoint"],
        permutations=config["ranking"]["null_permutations"],
        strong_p=config["ranking"]["strong_p"],
        supported_q=config["ranking"]["supported_q"],
        survival_covariates=config["survival"]["covariates"],
        model_covariates=config["models"]["covariates"],
        batch_covariate=config["models"]["batch_covariate"],
        max_missing=config["survival"]["max_missing"],
        min_altered=config["survival"]["min_altered"],
        min_altered_fraction=config["survival"]["min_altered_fraction"],
        top_variance=config["survival"]["top_variance"],
        seed=seed_for("biomarkers_null"),
    script:
        "../../scripts/biomarkers_null.py"


rule biomarkers_rank:
    input:
        differential=[
            f"results/differential/{m}/{c}.tsv" for m, c in BIOMARKER_DIFFERENTIAL_KEYS
        ],
        tmb=[
            f"results/differential/mutations/{c}.tmb.tsv"
            for c in BIOMARKER_TMB_CONTRASTS
        ],
        univariate=[
            f"results/survival/{b}/{e}.univariate.tsv"
            for b, e in BIOMARKER_UNIVARIATE_KEYS
        ],
        stability=[f"results/models/{e}/stability.tsv" for e in ENDPOINTS],
        performance=[f"results/models/{e}/performance.tsv" for e in ENDPOINTS],
        enrichment=[
            f"results/enrichment/{m}/{c}.prerank.tsv"
            for m, c in BIOMARKER_ENRICHMENT_KEYS
        ],
        blocks=[f"results/{b}/normalised.h5ad" for b in SURVIVAL_BLOCKS],
        calibration="results/biomarkers/calibration.tsv",
    output:
        ranked=report(
            "results/biomarkers/ranked.tsv",
            caption="../report/biomarkers/ranked.rst",
            category="Biomarkers",
            subcategory="ranked candidates",
        ),
    log:
        "logs/biomarkers/biomarkers_rank.log",
    benchmark:
        "benchmarks/biomarkers/biomarkers_rank.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        differential_keys=BIOMARKER_DIFFERENTIAL_KEYS,
        tmb_contrasts=BIOMARKER_TMB_CONTRASTS,
        univariate_keys=BIOMARKER_UNIVARIATE_KEYS,
        model_endpoints=ENDPOINTS,
        enrichment_keys=BIOMARKER_ENRICHMENT_KEYS,
        blocks=SURVIVAL_BLOCKS,
        signal_correlation=config["ranking"]["signal_correlation"],
        signal_window=config["ranking"]["signal_window"],
        enrichment_fdr=config["ranking"]["enrichment_fdr"],
        concordance_p=config["ranking"]["concordance_p"],
        primary_endpoint=config["ranking"]["primary_endpoint"],
        strong_p=config["ranking"]["strong_p"],
        supported_q=config["ranking"]["supported_q"],
    script:
        "../../scripts/biomarkers_rank.py"


rule biomarkers_cards:
    input:
        ranked="results/biomarkers/ranked.tsv",
        adatas=[f"results/{b}/normalised.h5ad" for b in SURVIVAL_BLOCKS],
        labels=LABELS,
        patients=PATIENTS_TABLE,
    output:
        cards=report(
            directory("results/biomarkers/cards"),
            patterns=["{name}.png"],
            caption="../report/biomarkers/card.rst",
            category="Biomarkers",
            subcategory="cards",
        ),
    log:
        "logs/biomarkers/biomarkers_cards.log",
    benchmark:
        "benchmarks/biomarkers/biomarkers_cards.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        modalities=SURVIVAL_BLOCKS,
        top=config["ranking"]["top_cards"],
    script:
        "../../scripts/biomarkers_cards.py"


rule biomarkers_recovery:
    input:
        ranked="results/biomarkers/ranked.tsv",
        truth=config["ranking"]["truth"] or [],
    output:
        summary=report(
            "results/biomarkers/recovery.tsv",
            caption="../report/biomarkers/recovery.rst",
            category="Biomarkers",
            subcategory="recovery of planted biomarkers",
        ),
        features=report(
            "results/biomarkers/recovery_features.tsv",
            caption="../report/biomarkers/recovery_features.rst",
            category="Biomarkers",
            subcategory="recovery of planted biomarkers",
        ),
    log:
        "logs/biomarkers/biomarkers_recovery.log",
    benchmark:
        "benchmarks/biomarkers/biomarkers_recovery.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        k=config["ranking"]["recovery_k"],
    script:
        "../../scripts/biomarkers_recovery.py"
