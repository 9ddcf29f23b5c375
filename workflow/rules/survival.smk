# Univariate survival screens: one Cox model per feature (Firth's penalised fit for separated fits and
# sparse alterations, which also get an exact log-rank p) for PFS and OS in every modality present
# (plus per-sample pathway scores), Benjamini-Hochberg within modality x endpoint, and Kaplan-Meier
# plots of the top features at pre-specified cuts. The wildcard is {block} (not {modality}) because
# "pathways" is a block here but not an input modality.
SURVIVAL_BLOCKS = (
    MODALITIES
    + (
        ["pathways"]
        if "rna" in MODALITIES and config["models"]["include_pathways"]
        else []
    )
    + CHANGE_BLOCKS  # per-patient on-treatment change (longitudinal.smk)
)
SURVIVAL_ENDPOINTS = [e for e in ENDPOINTS if e in ("pfs", "os")]


SURVIVAL_TARGETS = with_svg_twins(
    [
        f"results/survival/{block}/{name}"
        for block in SURVIVAL_BLOCKS
        for endpoint in SURVIVAL_ENDPOINTS
        for name in (
            f"{endpoint}.univariate.tsv",
            f"{endpoint}.km.tsv",
            f"plots/{endpoint}.km.png",
        )
    ]
)


rule survival_univariate:
    input:
        adata="results/{block}/normalised.h5ad",
        labels=LABELS,
        patients=PATIENTS_TABLE,
        batch=batch_table_input,
    output:
        table=survival_report(
            "results/survival/{block}/{endpoint}.univariate.tsv", "univariate"
        ),
        km=survival_report("results/survival/{block}/{endpoint}.km.tsv", "km_table"),
        km_plot=survival_report(
            "results/survival/{block}/plots/{endpoint}.km.png", "km_plot"
        ),
        km_plot_svg="results/survival/{block}/plots/{endpoint}.km.svg",
    log:
        "logs/survival/survival_univariate/{block}/{endpoint}.log",
    benchmark:
        "benchmarks/survival/survival_univariate/{block}/{endpoint}.tsv"
    wildcard_constraints:
        block=one_of(SURVIVAL_BLOCKS, "NO_BLOCKS"),
        endpoint="pfs|os",
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        covariates=config["survival"]["covariates"],
        batch_covariate=config["models"]["batch_covariate"],
        max_missing=config["survival"]["max_missing"],
        min_altered=config["survival"]["min_altered"],
        min_altered_fraction=config["survival"]["min_altered_fraction"],
        top_variance=config["survival"]["top_variance"],
        km_features=config["survival"]["km_features"],
        cutpoint_permutations=config["survival"]["cutpoint_permutations"],
        exact_below_carriers=config["survival"]["exact_below_carriers"],
        min_events=config["survival"]["min_events"],
        seed=lambda wc: derive_seed(SEED, "survival_univariate", wc.block, wc.endpoint),
    script:
        "../../scripts/survival_univariate.py"
