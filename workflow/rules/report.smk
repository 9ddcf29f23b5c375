# The reviewer's summary page: one self-contained HTML file (images embedded, no network) built from
# every stage's tables and figures, with provenance. Stages not in this workflow contribute nothing and
# their section says "Not run", so this rule grows with the workflow. Include it after the stages.
REPORT_TARGETS = [
    "results/report/summary.html",
    "results/report/headline_signals.png",
    "results/report/headline_signals.svg",
]

# The target lists each stage's rule file exposes; a stage that is not included has none.
REPORT_STAGE_TARGETS = (
    "CLINICAL_TARGETS",
    "COHORT_TARGETS",
    "QC_TARGETS",
    "BATCH_TARGETS",
    "DIFFERENTIAL_TARGETS",
    "ENRICHMENT_TARGETS",
    "SURVIVAL_TARGETS",
    "LONGITUDINAL_TARGETS",
    "MODELS_TARGETS",
    "BIOMARKERS_TARGETS",
)


rule report_summary:
    input:
        unpack(summary_inputs),
    output:
        html=report(
            "results/report/summary.html",
            caption="../report/report/summary.rst",
            category="Summary",
        ),
        headline_png=report(
            "results/report/headline_signals.png",
            caption="../report/report/headline_signals.rst",
            category="Summary",
        ),
        headline_svg="results/report/headline_signals.svg",
    log:
        "logs/report/report_summary.log",
    benchmark:
        "benchmarks/report/report_summary.tsv"
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        config=config,
        input_files=checksummed_inputs(),
        modalities=MODALITIES,
        contrasts=list(CONTRASTS),
        endpoints=ENDPOINTS,
        seed=SEED,
        # absolute: a param that depended on the working folder's location would rerun the page
        snakefile=str(workflow.main_snakefile),
        configfiles=[os.path.relpath(path) for path in workflow.overwrite_configfiles],
        top_features=config["report"]["top_features"],
        top_biomarkers=config["report"]["top_biomarkers"],
        alpha=config["differential"]["alpha"],
        enrichment_fdr=config["enrichment"]["fdr"],
        headline_signals=config["report"]["headline_signals"],
        tier_rules={
            "primary_endpoint": config["ranking"]["primary_endpoint"],
            "strong_p": config["ranking"]["strong_p"],
            "supported_q": config["ranking"]["supported_q"],
            "model_p": config["ranking"]["model_p"],
        },
    script:
        "../../scripts/report_summary.py"
