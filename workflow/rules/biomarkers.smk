# One ranked list of candidate biomarkers with every piece of evidence as a column, one-page cards
# for the top candidates, and (when a truth table is configured: the demo and the null cohorts) the
# recovery of the planted biomarkers. Include after differential.smk, enrichment.smk, survival.smk and
# models.smk (uses CONTRASTS, ENRICHMENT_MODALITIES, SURVIVAL_BLOCKS, SURVIVAL_ENDPOINTS).
BIOMARKER_DIFFERENTIAL_KEYS = [[m, c] for m in MODALITIES for c in CONTRASTS]
BIOMARKER_TMB_CONTRASTS = list(CONTRASTS) if "mutations" in MODALITIES else []
BIOMARKER_UNIVARIATE_KEYS = [[b, e] for b in SURVIVAL_BLOCKS for e in SURVIVAL_ENDPOINTS]
BIOMARKER_ENRICHMENT_KEYS = [[m, c] for m in ENRICHMENT_MODALITIES for c in CONTRASTS]


BIOMARKERS_TARGETS = ["results/biomarkers/ranked.tsv", "results/biomarkers/cards"]
if config["ranking"]["truth"]:
    BIOMARKERS_TARGETS += ["results/biomarkers/recovery.tsv", "results/biomarkers/recovery_features.tsv"]


rule biomarkers_rank:
    input:
        differential=[f"results/differential/{m}/{c}.tsv" for m, c in BIOMARKER_DIFFERENTIAL_KEYS],
        tmb=[f"results/differential/mutations/{c}.tmb.tsv" for c in BIOMARKER_TMB_CONTRASTS],
        univariate=[f"results/survival/{b}/{e}.univariate.tsv" for b, e in BIOMARKER_UNIVARIATE_KEYS],
        stability=[f"results/models/{e}/stability.tsv" for e in ENDPOINTS],
        performance=[f"results/models/{e}/performance.tsv" for e in ENDPOINTS],
        enrichment=[f"results/enrichment/{m}/{c}.prerank.tsv" for m, c in BIOMARKER_ENRICHMENT_KEYS],
        blocks=[f"results/{b}/normalised.h5ad" for b in SURVIVAL_BLOCKS],
    output:
        ranked=report("results/biomarkers/ranked.tsv", caption="../report/biomarkers/ranked.rst",
                      category="Biomarkers", subcategory="ranked candidates"),
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
        strong_q=config["ranking"]["strong_q"],
        supported_q=config["ranking"]["supported_q"],
        stability_threshold=config["models"]["stability_threshold"],
        supported_stability=config["ranking"]["supported_stability"],
        model_p=config["ranking"]["model_p"],
    log:
        "logs/biomarkers/biomarkers_rank.log",
    benchmark:
        "benchmarks/biomarkers/biomarkers_rank.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/models.yaml"
    script:
        "../../scripts/biomarkers_rank.py"


rule biomarkers_cards:
    input:
        ranked="results/biomarkers/ranked.tsv",
        adatas=[f"results/{b}/normalised.h5ad" for b in SURVIVAL_BLOCKS],
        labels=LABELS,
        patients=PATIENTS_TABLE,
    output:
        cards=report(directory("results/biomarkers/cards"), patterns=["{name}.png"],
                     caption="../report/biomarkers/card.rst", category="Biomarkers", subcategory="cards"),
    params:
        modalities=SURVIVAL_BLOCKS,
        top=config["ranking"]["top_cards"],
    log:
        "logs/biomarkers/biomarkers_cards.log",
    benchmark:
        "benchmarks/biomarkers/biomarkers_cards.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/models.yaml"
    script:
        "../../scripts/biomarkers_cards.py"


rule biomarkers_recovery:
    input:
        ranked="results/biomarkers/ranked.tsv",
        truth=config["ranking"]["truth"] or [],
    output:
        summary=report("results/biomarkers/recovery.tsv", caption="../report/biomarkers/recovery.rst",
                       category="Biomarkers", subcategory="recovery of planted biomarkers"),
        features=report("results/biomarkers/recovery_features.tsv",
                        caption="../report/biomarkers/recovery_features.rst", category="Biomarkers",
                        subcategory="recovery of planted biomarkers"),
    params:
        k=config["ranking"]["recovery_k"],
    log:
        "logs/biomarkers/biomarkers_recovery.log",
    benchmark:
        "benchmarks/biomarkers/biomarkers_recovery.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/models.yaml"
    script:
        "../../scripts/biomarkers_recovery.py"
