# Clinical endpoints: RECIST 1.1 labels from visit-level assessments (or supplied outcomes), the trial's
# efficacy and safety tables, and the response and survival figures.

CLINICAL_PLOTS = ["waterfall", "spider", "swimmer", "km_pfs", "km_os"]
CLINICAL_TARGETS = [
    LABELS,
    "results/clinical/timepoint_responses.tsv",
    "results/clinical/outcome_disagreements.tsv",
    "results/clinical/efficacy.tsv",
    "results/clinical/adverse_events.tsv",
    *expand("results/clinical/{plot}.{ext}", plot=CLINICAL_PLOTS, ext=["png", "svg"]),
]


rule clinical_labels:
    input:
        patients=PATIENTS_TABLE,
        # Optional inputs: an absent table (null or missing in the config) is no input.
        recist=lambda wc: config["clinical"].get("recist") or [],
    output:
        labels=report(
            LABELS,
            caption="../report/clinical/labels.rst",
            category="Clinical",
            subcategory="Endpoints",
        ),
        timepoints=report(
            "results/clinical/timepoint_responses.tsv",
            caption="../report/clinical/timepoint_responses.rst",
            category="Clinical",
            subcategory="Endpoints",
        ),
        disagreements=report(
            "results/clinical/outcome_disagreements.tsv",
            caption="../report/clinical/outcome_disagreements.rst",
            category="Clinical",
            subcategory="Endpoints",
        ),
    log:
        "logs/clinical/clinical_labels.log",
    benchmark:
        "benchmarks/clinical/clinical_labels.tsv"
    conda:
        "../../envs/clinical.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        confirmation_weeks=config["clinical"]["confirmation_weeks"],
        sd_min_weeks=config["clinical"]["sd_min_weeks"],
        benefit_months=config["clinical"]["benefit_months"],
    script:
        "../../scripts/clinical_labels.py"


rule clinical_efficacy:
    input:
        labels=LABELS,
    output:
        efficacy=report(
            "results/clinical/efficacy.tsv",
            caption="../report/clinical/efficacy.rst",
            category="Clinical",
            subcategory="Efficacy",
        ),
    log:
        "logs/clinical/clinical_efficacy.log",
    benchmark:
        "benchmarks/clinical/clinical_efficacy.tsv"
    conda:
        "../../envs/clinical.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../../scripts/clinical_efficacy.py"


rule clinical_adverse_events:
    input:
        patients=PATIENTS_TABLE,
        adverse_events=lambda wc: config["clinical"].get("adverse_events") or [],
    output:
        adverse_events=report(
            "results/clinical/adverse_events.tsv",
            caption="../report/clinical/adverse_events.rst",
            category="Clinical",
            subcategory="Safety",
        ),
    log:
        "logs/clinical/clinical_adverse_events.log",
    benchmark:
        "benchmarks/clinical/clinical_adverse_events.tsv"
    conda:
        "../../envs/clinical.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../../scripts/clinical_adverse_events.py"


rule clinical_plots:
    input:
        labels=LABELS,
        timepoints="results/clinical/timepoint_responses.tsv",
    output:
        waterfall=report(
            "results/clinical/waterfall.png",
            caption="../report/clinical/waterfall.rst",
            category="Clinical",
            subcategory="Efficacy",
        ),
        spider=report(
            "results/clinical/spider.png",
            caption="../report/clinical/spider.rst",
            category="Clinical",
            subcategory="Efficacy",
        ),
        swimmer=report(
            "results/clinical/swimmer.png",
            caption="../report/clinical/swimmer.rst",
            category="Clinical",
            subcategory="Efficacy",
        ),
        km_pfs=report(
            "results/clinical/km_pfs.png",
            caption="../report/clinical/km_pfs.rst",
            category="Clinical",
            subcategory="Efficacy",
        ),
        km_os=report(
            "results/clinical/km_os.png",
            caption="../report/clinical/km_os.rst",
            category="Clinical",
            subcategory="Efficacy",
        ),
        waterfall_svg="results/clinical/waterfall.svg",
        spider_svg="results/clinical/spider.svg",
        swimmer_svg="results/clinical/swimmer.svg",
        km_pfs_svg="results/clinical/km_pfs.svg",
        km_os_svg="results/clinical/km_os.svg",
    log:
        "logs/clinical/clinical_plots.log",
    benchmark:
        "benchmarks/clinical/clinical_plots.tsv"
    conda:
        "../../envs/clinical.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/clinical_plots.py"
