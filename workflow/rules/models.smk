# Multivariable penalised models with nested cross-validation: elastic-net Cox (PFS, OS) and
# L1-logistic regression (responder, clinical benefit), one model per modality (and pathway scores)
# and one joint multi-omics model; permutation tests and stability selection; and an exploratory
# unsupervised factor model. One job per endpoint x model, so Snakemake spreads them over the cores;
# each job may use `models.threads` processes for its permutations.
# Needs SURVIVAL_BLOCKS from survival.smk (include it first).
MODEL_BLOCKS = {block: [block] for block in SURVIVAL_BLOCKS}
JOINT_MODALITIES = [m for m in config["models"]["joint_modalities"] if m in MODALITIES]
if len(JOINT_MODALITIES) > 1:
    MODEL_BLOCKS["joint"] = JOINT_MODALITIES
# The tables of one endpoint x model that models_collect gathers per endpoint. models_fit also writes each
# model's out-of-fold predictions and permutation null, which go to the report as they are.
MODEL_TABLES = ("performance", "stability", "stability_summary", "coefficients")


MODELS_TARGETS = with_svg_twins(
    [
        f"results/models/{endpoint}/{name}"
        for endpoint in ENDPOINTS
        for name in (
            "performance.tsv",
            "stability.tsv",
            "stability_summary.tsv",
            "coefficients.tsv",
            "plots/performance.png",
            "plots/stability.png",
        )
    ]
)
if config["models"]["factors"] and len(JOINT_MODALITIES) > 1:
    MODELS_TARGETS += [
        f"results/models/factors/{name}.tsv"
        for name in ("scores", "loadings", "variance_explained", "screen")
    ]


rule models_fit:
    input:
        adatas=model_adatas,
        labels=LABELS,
        patients=PATIENTS_TABLE,
        batch=batch_table_input,
    output:
        **{
            name: f"results/models/{{endpoint}}/{{model}}.{name}.tsv"
            for name in MODEL_TABLES
        },
        oof=models_report("results/models/{endpoint}/{model}.oof.tsv", "oof"),
        permutations=models_report(
            "results/models/{endpoint}/{model}.permutations.tsv", "permutations"
        ),
    log:
        "logs/models/models_fit/{endpoint}/{model}.log",
    benchmark:
        "benchmarks/models/models_fit/{endpoint}/{model}.tsv"
    wildcard_constraints:
        model=one_of(MODEL_BLOCKS, "NO_MODELS"),
    conda:
        "../../envs/models.yaml"
    threads: config["models"]["threads"]
    resources:
        mem_mb=3000,
        runtime=60,
    params:
        modalities=lambda wc: MODEL_BLOCKS[wc.model],
        covariates=config["models"]["covariates"],
        batch_covariate=config["models"]["batch_covariate"],
        imputation={
            "method": config["proteins"]["imputation"],
            "params": {
                "downshift": config["proteins"]["imputation_downshift"],
                "width": config["proteins"]["imputation_width"],
            },
        },
        l1_ratio=config["models"]["l1_ratio"],
        n_alphas=config["models"]["n_alphas"],
        alpha_min_ratio=config["models"]["alpha_min_ratio"],
        inner_folds=config["models"]["inner_folds"],
        outer_cv=config["models"]["outer_cv"],
        outer_folds=config["models"]["outer_folds"],
        repeats=config["models"]["repeats"],
        permutations=config["models"]["permutations"],
        stability_subsamples=config["models"]["stability_subsamples"],
        stability_q=config["models"]["stability_q"],
        stability_threshold=config["models"]["stability_threshold"],
        max_missing=config["models"]["max_missing"],
        min_altered=config["models"]["min_altered"],
        min_altered_fraction=config["models"]["min_altered_fraction"],
        top_variance=config["models"]["top_variance"],
        select_k=config["models"]["select_k"],
        min_events=config["models"]["min_events"],
        min_per_class=config["models"]["min_per_class"],
        seed=lambda wc: derive_seed(SEED, "models_fit", wc.endpoint, wc.model),
    script:
        "../../scripts/models_fit.py"


rule models_collect:
    input:
        **{
            name: expand(
                "results/models/{{endpoint}}/{model}.{name}.tsv",
                model=list(MODEL_BLOCKS),
                name=name,
            )
            for name in MODEL_TABLES
        },
    output:
        performance=models_report(
            "results/models/{endpoint}/performance.tsv", "performance"
        ),
        stability=models_report("results/models/{endpoint}/stability.tsv", "stability"),
        stability_summary=models_report(
            "results/models/{endpoint}/stability_summary.tsv", "stability_summary"
        ),
        coefficients=models_report(
            "results/models/{endpoint}/coefficients.tsv", "coefficients"
        ),
        performance_plot=models_report(
            "results/models/{endpoint}/plots/performance.png", "performance_plot"
        ),
        stability_plot=models_report(
            "results/models/{endpoint}/plots/stability.png", "stability_plot"
        ),
        performance_plot_svg="results/models/{endpoint}/plots/performance.svg",
        stability_plot_svg="results/models/{endpoint}/plots/stability.svg",
    log:
        "logs/models/models_collect/{endpoint}.log",
    benchmark:
        "benchmarks/models/models_collect/{endpoint}.tsv"
    # An endpoint's summary as soon as its models are done, ahead of the other endpoints' models.
    priority: 1
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../../scripts/models_collect.py"


rule models_factors:
    input:
        adatas=[f"results/{modality}/normalised.h5ad" for modality in JOINT_MODALITIES],
        labels=LABELS,
        patients=PATIENTS_TABLE,
    output:
        scores=models_report(
            "results/models/factors/scores.tsv", "factor_scores", "exploratory factors"
        ),
        loadings=models_report(
            "results/models/factors/loadings.tsv",
            "factor_loadings",
            "exploratory factors",
        ),
        variance_explained=models_report(
            "results/models/factors/variance_explained.tsv",
            "factor_variance",
            "exploratory factors",
        ),
        screen=models_report(
            "results/models/factors/screen.tsv", "factor_screen", "exploratory factors"
        ),
    log:
        "logs/models/models_factors.log",
    benchmark:
        "benchmarks/models/models_factors.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        modalities=JOINT_MODALITIES,
        endpoints=ENDPOINTS,
        n_factors=config["models"]["n_factors"],
        top_variance=config["models"]["top_variance"],
        seed=seed_for("models_factors"),
    script:
        "../../scripts/models_factors.py"
