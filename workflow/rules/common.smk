# Validation, the sample sheet, input functions and wildcard constraints. Nothing scientific here.
# Parsing imports only what building the DAG needs (no anndata, matplotlib or scikit-learn): this file
# runs in the main process and again in every job.
import os
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from trialomics import MODALITIES as ALL_MODALITIES
from trialomics.contrasts import Contrast
from trialomics.errors import InputValidationError
from trialomics.seeds import derive_seed
from trialomics.validation_cache import validate_once

# Every input is checked before any job runs, all problems reported at once; the outcome is cached per
# input state, so jobs (and reruns with unchanged inputs) do not validate again.
try:
    VALIDATED, _FROM_CACHE = validate_once(
        config,
        Path(workflow.basedir) / "schemas",
        Path.cwd(),
        config_files=workflow.configfiles,
    )
except InputValidationError as error:
    raise WorkflowError(str(error)) from None
if workflow.is_main_process:
    for warning in VALIDATED.warnings:
        print(f"Warning: {warning}", file=sys.stderr)

SAMPLES = VALIDATED.samples.set_index("sample_id", drop=False)
MODALITIES = [m for m in ALL_MODALITIES if (SAMPLES["modality"] == m).any()]
# Endpoints and contrasts whose labels the clinical tables cannot give were refused by validation, or,
# with clinical.allow_missing_outcomes, reported as skipped: they plan no jobs.
CONTRASTS = {
    contrast["id"]: contrast
    for contrast in config["contrasts"]
    if VALIDATED.can_derive(contrast["variable"])
}
ENDPOINTS = [e for e in config["endpoints"] if e in VALIDATED.derivable_endpoints()]
# Contrasts on patient-level labels (not on timepoint): the change is compared between their groups.
RESPONSE_CONTRASTS = [
    c
    for c, entry in CONTRASTS.items()
    if not Contrast.from_config(entry).uses_timepoints
]
SEED = config["seed"]
PATIENTS_TABLE = config["clinical"]["patients"]
LABELS = "results/clinical/labels.tsv"

# --- privacy (H5): file modes, and pseudonyms applied once where identifiers enter the DAG -------
# New files 0640 and folders 0750 by default (privacy.file_mode / dir_mode), including the output
# folders, logs and benchmarks Snakemake creates itself. With privacy.pseudonymise, the sample sheet
# the DAG uses and the patients table every rule reads carry keyed pseudonyms; the clinical rules
# pseudonymise recist.tsv and adverse_events.tsv as they read them.
from trialomics import privacy as _privacy

PRIVACY = _privacy.PrivacySettings.from_config(config)
try:
    _privacy.apply_modes(PRIVACY)
except ValueError as error:
    raise WorkflowError(f"{error} (in the config's privacy: section)") from None
if PRIVACY.pseudonymise:
    _PSEUDONYM_KEY = _privacy.load_or_create_key(PRIVACY.key_file)
    SAMPLES = _privacy.pseudonymise_sample_sheet(
        VALIDATED.samples, _PSEUDONYM_KEY
    ).set_index("sample_id", drop=False)
    PATIENTS_TABLE = ".trialomics/pseudonymised/patients.tsv"


# --- end privacy ----------------------------------------------------------------------------------


def one_of(names, empty):
    """A wildcard regex matching exactly one of ``names`` (escaped: names are data, not patterns)."""
    return "|".join(re.escape(str(name)) for name in sorted(names)) or empty


wildcard_constraints:
    sample=one_of(SAMPLES.index, "NO_SAMPLES"),
    modality=one_of(MODALITIES, "NO_MODALITIES"),
    contrast=one_of(CONTRASTS, "NO_CONTRASTS"),
    endpoint=one_of(ENDPOINTS, "NO_ENDPOINTS"),


def samples_of(modality):
    """Sample IDs of one modality, sorted."""
    return sorted(SAMPLES.index[SAMPLES["modality"] == modality])


def sample_file(wildcards):
    """The input file holding one sample."""
    return SAMPLES.loc[wildcards.sample, "path"]


def sample_column(wildcards):
    """The column / barcode of one sample in its file ("" when the file holds this sample only)."""
    return SAMPLES.loc[wildcards.sample, "column"]


def modality_files(modality):
    """The distinct input files of a modality whose samples are read together."""
    return sorted(set(SAMPLES.loc[samples_of(modality), "path"]))


def sample_sources(modality):
    """sample_id -> {path, column} for a modality read at cohort level (matrix files)."""
    return {
        sample: {
            "path": SAMPLES.loc[sample, "path"],
            "column": SAMPLES.loc[sample, "column"],
        }
        for sample in samples_of(modality)
    }


def sample_metadata(modality):
    """sample_id -> {patient_id, batch, timepoint}: passed as params so a changed batch reruns the step."""
    return {
        sample: {
            "patient_id": SAMPLES.loc[sample, "patient_id"],
            "batch": SAMPLES.loc[sample, "batch"],
            "timepoint": SAMPLES.loc[sample, "timepoint"],
        }
        for sample in samples_of(modality)
    }


def normalised_modalities():
    """The per-modality AnnData files of the modalities present."""
    return {m: f"results/{m}/normalised.h5ad" for m in MODALITIES}


def seed_for(rule_name, *keys):
    """The seed of one stochastic step (see trialomics.seeds.derive_seed)."""
    return derive_seed(SEED, rule_name, *keys)


# Input functions and report helpers of the later stages (they read names those stages define).
def survival_report(path, caption):
    return report(
        path,
        caption=f"../report/survival/{caption}.rst",
        category="Survival",
        subcategory="{block}",
    )


def models_report(path, caption, subcategory="{endpoint}"):
    return report(
        path,
        caption=f"../report/models/{caption}.rst",
        category="Models",
        subcategory=subcategory,
    )


def model_adatas(wildcards):
    """The normalised AnnData of every modality in one model's block, in block order."""
    return [
        f"results/{modality}/normalised.h5ad"
        for modality in MODEL_BLOCKS[wildcards.model]
    ]


def with_svg_twins(paths):
    """``paths`` with, after every PNG plot (the report's copy), its SVG twin (the publication copy)."""
    targets = []
    for path in paths:
        targets.append(path)
        if path.endswith(".png"):
            targets.append(path[: -len(".png")] + ".svg")
    return targets


def stage_targets(name):
    """The targets a stage exposes as a list or a function returning one; [] when it is not included."""
    targets = globals().get(name, [])
    return list(targets() if callable(targets) else targets)


def summary_inputs(wildcards):
    """Every stage output the summary page reads (tables and PNGs it recognises), by stage."""
    # Imported here, not at parse time: only the summary job needs it.
    from trialomics.report import classify_output, results_relative

    wanted = {}
    for name in REPORT_STAGE_TARGETS:
        stage = name[: -len("_TARGETS")].lower()
        wanted[stage] = sorted(
            path
            for path in stage_targets(name)
            if classify_output(
                results_relative(path), MODALITIES, list(CONTRASTS), ENDPOINTS
            )
            is not None
        )
    return wanted


def checksummed_inputs():
    """The user's input files (every path of input_roles), each once."""
    return sorted(set(input_roles().values()))


def contrast_modalities(contrast_id):
    """The modalities a contrast can be fitted in: every modality, except for a contrast on (or selecting
    by) timepoint, which needs samples at its timepoints."""
    contrast = Contrast.from_config(CONTRASTS[contrast_id])
    if not contrast.uses_timepoints:
        return list(MODALITIES)
    if contrast.variable == "timepoint":
        needed = [{contrast.reference}, {contrast.target}]
    else:
        needed = [set(dict(contrast.samples)["timepoint"])]
    return [
        m
        for m in MODALITIES
        if all(
            SAMPLES.loc[SAMPLES["modality"] == m, "timepoint"].isin(levels).any()
            for levels in needed
        )
    ]


def longitudinal_screens(wildcards):
    """The change block's screens: its Cox tables (survival.smk) and its response-contrast tests."""
    return [
        f"results/survival/{wildcards.block}/{e}.univariate.tsv"
        for e in SURVIVAL_ENDPOINTS
    ] + [f"results/longitudinal/{wildcards.block}/{c}.tsv" for c in RESPONSE_CONTRASTS]


def input_roles():
    """What each input file is (a config key, a gene-set collection or a sample) -> its path: the run
    manifest names inputs by role, never by location, so that two runs from different folders compare.
    """
    clinical = config["clinical"]
    roles = {
        "samples": config["samples"],
        "clinical.patients": clinical["patients"],
        "clinical.recist": clinical.get("recist"),
        "clinical.adverse_events": clinical.get("adverse_events"),
        "rna.gene_map": config["rna"].get("gene_map"),
    }
    for path in globals().get("GENE_SET_FILES", []):
        roles[f"gene_sets:{Path(path).name}"] = path
    for sample, path in SAMPLES["path"].items():
        roles[f"sample:{sample}"] = path
    return {role: str(path) for role, path in roles.items() if path}


def batch_table_input(wildcards):
    """The batch table, for the models and screens that may add the batch (models.batch_covariate)."""
    return [] if config["models"]["batch_covariate"] == "never" else [BATCH_TABLE]
