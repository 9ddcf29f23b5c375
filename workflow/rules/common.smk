# Validation, the sample sheet, input functions and wildcard constraints. Nothing scientific here.
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

sys.path.insert(0, str(Path(workflow.basedir).parent / "scripts"))

from trialomics import MODALITIES as ALL_MODALITIES
from trialomics.errors import InputValidationError
from trialomics.report import classify_output, results_relative
from trialomics.seeds import derive_seed
from trialomics.validation import validate_inputs

# Every input is checked before any job runs; all problems are reported at once.
try:
    VALIDATED = validate_inputs(config, Path(workflow.basedir) / "schemas", Path.cwd())
except InputValidationError as error:
    raise WorkflowError(str(error)) from None
for warning in VALIDATED.warnings:
    print(f"Warning: {warning}", file=sys.stderr)

SAMPLES = VALIDATED.samples.set_index("sample_id", drop=False)
MODALITIES = [m for m in ALL_MODALITIES if (SAMPLES["modality"] == m).any()]
CONTRASTS = {contrast["id"]: contrast for contrast in config["contrasts"]}
ENDPOINTS = list(config["endpoints"])
SEED = config["seed"]
PATIENTS_TABLE = config["clinical"]["patients"]
LABELS = "results/clinical/labels.tsv"


wildcard_constraints:
    sample="|".join(sorted(SAMPLES.index)) or "NO_SAMPLES",
    modality="|".join(MODALITIES) or "NO_MODALITIES",
    contrast="|".join(CONTRASTS) or "NO_CONTRASTS",
    endpoint="|".join(ENDPOINTS) or "NO_ENDPOINTS",


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
        sample: {"path": SAMPLES.loc[sample, "path"], "column": SAMPLES.loc[sample, "column"]}
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
    return report(path, caption=f"../report/survival/{caption}.rst", category="Survival", subcategory="{block}")


def models_report(path, caption, subcategory="{endpoint}"):
    return report(path, caption=f"../report/models/{caption}.rst", category="Models", subcategory=subcategory)


def model_adatas(wildcards):
    """The normalised AnnData of every modality in one model's block, in block order."""
    return [f"results/{modality}/normalised.h5ad" for modality in MODEL_BLOCKS[wildcards.model]]


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
    wanted = {}
    for name in REPORT_STAGE_TARGETS:
        stage = name[: -len("_TARGETS")].lower()
        wanted[stage] = sorted(
            path for path in stage_targets(name)
            if classify_output(results_relative(path), MODALITIES, list(CONTRASTS), ENDPOINTS) is not None
        )
    return wanted


def checksummed_inputs():
    """The user's input files: the config's tables, every file of the sample sheet, the gene-set files."""
    clinical = config["clinical"]
    tables = [config["samples"], clinical["patients"], clinical.get("recist"), clinical.get("adverse_events")]
    return sorted({str(p) for p in [*tables, *SAMPLES["path"], *globals().get("GENE_SET_FILES", [])] if p})
