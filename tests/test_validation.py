"""Tests for trialomics.validation: a good cohort passes; each bad input is reported precisely."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from trialomics.errors import InputValidationError
from trialomics.validation import validate_inputs

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "workflow" / "schemas"

PATIENTS = """\
patient_id	treatment_start	last_contact	death_date	sex	age
P01	2020-01-10	2021-01-05	2021-01-05	M	61
P02	2020-02-01	2021-06-01		F	55
P03	2020-03-01	2020-12-01		M	48
P04	2020-04-01	2021-02-01		F	70
"""
RECIST = """\
patient_id	date	target_sum_mm	non_target	new_lesion
P01	2020-01-02	50	NON_CR_NON_PD	no
P01	2020-03-01	30	non_cr_non_pd	No
P02	2020-01-20	40	ABSENT	no
P02	2020-03-25	45	PD	yes
P03	2020-02-20	20	NE	no
P04	2020-03-30		ABSENT	no
"""
ADVERSE_EVENTS = """\
patient_id	term	grade	onset_date	related
P01	Hypertension	3	2020-02-01	yes
P02	Fatigue	1	2020-03-01	no
P03	Rash	2	2020-04-01	Yes
"""
SAMPLES = """\
sample_id	patient_id	modality	path	column	batch	timepoint
S01_rna	P01	rna	rna/P01.htseq.tsv		run1
S02_rna	P02	rna	rna/counts_matrix.tsv	P02	run1	baseline
S03_rna	P03	rna	rna/counts_matrix.tsv	P03	run2
S01_mut	P01	mutations	maf/cohort.maf	BC01
S02_mut	P02	mutations	maf/cohort.maf	BC02
S01_cn	P01	copy_number	cn.tsv	P01
S02_cn	P02	copy_number	cn.tsv	P02
S04_cn	P04	copy_number	cn.tsv	P04
S04_prot	P04	proteins	proteins.tsv	P04
S03_prot	P03	proteins	proteins.tsv	P03
"""
HTSEQ = "G1\t10\nG2\t0\nG3\t25\n__no_feature\t5\n__ambiguous\t1\n"
RNA_MATRIX = "gene\tP02\tP03\nG1\t4\t7\nG2\t0\t1\nG3\t12\t30\n"
MAF = """\
#version 2.4
Hugo_Symbol	Tumor_Sample_Barcode	Variant_Classification	Chromosome
TP53	BC01	Missense_Mutation	17
KRAS	BC02	Missense_Mutation	12
ARID1A	BC02	Frame_Shift_Del	1
"""
CN = "gene\tP01\tP02\tP03\tP04\nERBB2\t1.2\t0.1\tNA\t-0.4\nCDKN2A\t-1.3\t0\t0.2\t0.05\n"
PROTEINS = "protein\tP03\tP04\nPDL1\t1200\t0\nCXCL9\t\t850.5\n"

FILES = {
    "inputs/patients.tsv": PATIENTS,
    "inputs/recist.tsv": RECIST,
    "inputs/adverse_events.tsv": ADVERSE_EVENTS,
    "inputs/samples.tsv": SAMPLES,
    "inputs/rna/P01.htseq.tsv": HTSEQ,
    "inputs/rna/counts_matrix.tsv": RNA_MATRIX,
    "inputs/maf/cohort.maf": MAF,
    "inputs/cn.tsv": CN,
    "inputs/proteins.tsv": PROTEINS,
}
CONFIG = {
    "samples": "inputs/samples.tsv",
    "clinical": {
        "patients": "inputs/patients.tsv",
        "recist": "inputs/recist.tsv",
        "adverse_events": "inputs/adverse_events.tsv",
    },
    "contrasts": [
        {"id": "responder", "variable": "responder", "reference": "no", "target": "yes"},
        {"id": "sex", "variable": "sex", "reference": "M", "target": "F", "covariates": ["age"]},
    ],
}


@pytest.fixture
def cohort(tmp_path):
    """A small valid cohort in tmp_path; returns (workdir, config)."""
    for name, text in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path, copy.deepcopy(CONFIG)


def problems_of(workdir, config) -> list[str]:
    with pytest.raises(InputValidationError) as caught:
        validate_inputs(config, SCHEMA_DIR, workdir)
    return caught.value.problems


# ----- editing helpers: each bad case is one small change to the good cohort -----

def set_cell(path: Path, line: int, column: str | int, value: str) -> None:
    """Set one cell; ``column`` is a header name, or a 1-based position for headerless files."""
    lines = path.read_text().splitlines()
    header = [l for l in lines if not l.startswith("#")][0].split("\t")
    fields = lines[line - 1].split("\t")
    position = column - 1 if isinstance(column, int) else header.index(column)
    fields += [""] * (position + 1 - len(fields))
    fields[position] = value
    lines[line - 1] = "\t".join(fields)
    path.write_text("\n".join(lines) + "\n")


def append_line(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text + "\n")


def drop_column(path: Path, column: str) -> None:
    lines = path.read_text().splitlines()
    comments = [l for l in lines if l.startswith("#")]
    rows = [l.split("\t") for l in lines if not l.startswith("#")]
    position = rows[0].index(column)
    kept = ["\t".join(f for i, f in enumerate(row) if i != position) for row in rows]
    path.write_text("\n".join(comments + kept) + "\n")


def add_bor_column(path: Path, values: list[str]) -> None:
    """Add a supplied best-overall-response column to patients.tsv."""
    lines = path.read_text().splitlines()
    lines = [f"{line}\t{value}" for line, value in zip(lines, ["bor", *values])]
    path.write_text("\n".join(lines) + "\n")


def edit(relative: str, line: int, column, value: str):
    return lambda root, config: set_cell(root / relative, line, column, value)


def append(relative: str, text: str):
    return lambda root, config: append_line(root / relative, text)


def configure(change):
    return lambda root, config: change(config)


SAMPLE_SHEET = "inputs/samples.tsv"
PATIENT_TABLE = "inputs/patients.tsv"
RECIST_TABLE = "inputs/recist.tsv"
AE_TABLE = "inputs/adverse_events.tsv"


def where(file: str, line: int | None = None, column: str | None = None) -> str:
    text = file + (f", line {line}" if line is not None else "")
    return text + (f", column '{column}'" if column is not None else "")


def _set(config, keys, value):
    for key in keys[:-1]:
        config = config[key] if isinstance(key, int) else config.setdefault(key, {})
    config[keys[-1]] = value


BAD_INPUTS = [
    # (id, change, message fragment, location that must appear in the same problem line)
    ("unknown patient", edit(SAMPLE_SHEET, 2, "patient_id", "P99"),
     "patient 'P99' is not in patients.tsv — add the patient", where(SAMPLE_SHEET, 2, "patient_id")),
    ("duplicate sample_id", edit(SAMPLE_SHEET, 3, "sample_id", "S01_rna"),
     "sample_id 'S01_rna' already appears on line 2", where(SAMPLE_SHEET, 3, "sample_id")),
    ("missing data file", edit(SAMPLE_SHEET, 2, "path", "rna/absent.tsv"),
     "the file 'inputs/rna/absent.tsv' does not exist", where(SAMPLE_SHEET, 2, "path")),
    ("missing matrix column", edit(SAMPLE_SHEET, 8, "column", "P09"),
     "inputs/cn.tsv: there is no sample 'P09'", where(SAMPLE_SHEET, 8, "column")),
    ("missing rna matrix column", edit(SAMPLE_SHEET, 3, "column", "X02"),
     "inputs/rna/counts_matrix.tsv: there is no sample column 'X02'", where(SAMPLE_SHEET, 3, "column")),
    ("missing protein column", edit(SAMPLE_SHEET, 10, "column", "P05"),
     "inputs/proteins.tsv: there is no sample 'P05'", where(SAMPLE_SHEET, 10, "column")),
    ("negative count", edit("inputs/rna/P01.htseq.tsv", 2, 2, "-5"),
     "count '-5' is negative", where("inputs/rna/P01.htseq.tsv", 2, "2")),
    ("non-integer count", edit("inputs/rna/counts_matrix.tsv", 4, "P03", "30.5"),
     "count '30.5' is not an integer", where("inputs/rna/counts_matrix.tsv", 4, "P03")),
    ("MAF without Variant_Classification",
     lambda root, config: drop_column(root / "inputs/maf/cohort.maf", "Variant_Classification"),
     "'Variant_Classification' missing", where("inputs/maf/cohort.maf", 2, "Variant_Classification")),
    ("MAF with several barcodes and no column", edit(SAMPLE_SHEET, 5, "column", ""),
     "inputs/maf/cohort.maf: the MAF holds 2 tumour barcodes", where(SAMPLE_SHEET, 5, "column")),
    ("non-numeric protein value", edit("inputs/proteins.tsv", 3, "P04", "high"),
     "'high' is not a number", where("inputs/proteins.tsv", 3, "P04")),
    ("unknown modality", edit(SAMPLE_SHEET, 7, "modality", "cnv"),
     "'cnv' is not one of mutations, copy_number, rna, proteins", where(SAMPLE_SHEET, 7, "modality")),
    ("sample sheet without modality column",
     lambda root, config: drop_column(root / SAMPLE_SHEET, "modality"),
     "required column is missing from the header", where(SAMPLE_SHEET, 1, "modality")),
    ("same patient, modality and timepoint twice",
     append(SAMPLE_SHEET, "S01_cn_b\tP01\tcopy_number\tcn.tsv\tP02\t\t"),
     "a copy_number sample of patient 'P01' at timepoint 'baseline' already appears on line 7",
     where(SAMPLE_SHEET, 12, "timepoint")),
    ("date not in ISO form", edit(PATIENT_TABLE, 3, "treatment_start", "01/02/2020"),
     "'01/02/2020' is not a valid value — expected the date of the first dose",
     where(PATIENT_TABLE, 3, "treatment_start")),
    ("date that does not exist", edit(PATIENT_TABLE, 4, "last_contact", "2020-02-30"),
     "'2020-02-30' is not a calendar date", where(PATIENT_TABLE, 4, "last_contact")),
    ("death before treatment start", edit(PATIENT_TABLE, 2, "death_date", "2019-12-31"),
     "death_date 2019-12-31 is before treatment_start 2020-01-10", where(PATIENT_TABLE, 2, "death_date")),
    ("last contact after death", edit(PATIENT_TABLE, 2, "last_contact", "2021-02-01"),
     "last_contact 2021-02-01 is after death_date 2021-01-05", where(PATIENT_TABLE, 2, "last_contact")),
    ("last contact before treatment start", edit(PATIENT_TABLE, 5, "last_contact", "2020-03-01"),
     "last_contact 2020-03-01 is before treatment_start 2020-04-01", where(PATIENT_TABLE, 5, "last_contact")),
    ("duplicate patient_id", edit(PATIENT_TABLE, 3, "patient_id", "P01"),
     "patient 'P01' already appears on line 2", where(PATIENT_TABLE, 3, "patient_id")),
    ("bad supplied bor", lambda root, config: add_bor_column(root / PATIENT_TABLE, ["CR", "iCPD", "", "SD"]),
     "'iCPD' is not one of CR, PR, SD, PD, NE", where(PATIENT_TABLE, 3, "bor")),
]
BAD_INPUTS += [
    ("bad non_target", edit(RECIST_TABLE, 4, "non_target", "MAYBE"),
     "'MAYBE' is not one of CR, NON_CR_NON_PD, PD, NE, ABSENT", where(RECIST_TABLE, 4, "non_target")),
    ("negative target sum", edit(RECIST_TABLE, 3, "target_sum_mm", "-3"),
     "'-3' is not a valid value", where(RECIST_TABLE, 3, "target_sum_mm")),
    ("RECIST patient unknown", edit(RECIST_TABLE, 6, "patient_id", "P7"),
     "patient 'P7' is not in patients.tsv", where(RECIST_TABLE, 6, "patient_id")),
    ("RECIST assessment long before treatment", edit(RECIST_TABLE, 2, "date", "2019-10-01"),
     "is 101 days before treatment start (2020-01-10); a baseline must lie within 60 days",
     where(RECIST_TABLE, 2, "date")),
    ("two assessments on one date", edit(RECIST_TABLE, 3, "date", "2020-01-02"),
     "an assessment of patient 'P01' on 2020-01-02 already appears on line 2", where(RECIST_TABLE, 3, "date")),
    ("grade 6", edit(AE_TABLE, 3, "grade", "6"),
     "'6' is not one of 1, 2, 3, 4, 5", where(AE_TABLE, 3, "grade")),
    ("AE after death", edit(AE_TABLE, 2, "onset_date", "2021-02-01"),
     "onset 2021-02-01 is after the patient's death (2021-01-05", where(AE_TABLE, 2, "onset_date")),
    ("AE related not yes/no", edit(AE_TABLE, 4, "related", "possibly"),
     "'possibly' is not one of yes, no", where(AE_TABLE, 4, "related")),
    ("contrast variable unknown", configure(lambda c: _set(c, ["contrasts", 1, "variable"], "arm")),
     "'arm' is neither a derived label", "config key 'contrasts[1].variable'"),
    ("contrast level with one patient", edit(PATIENT_TABLE, 5, "sex", "M"),
     "level 'F' of 'sex' has 1 patient(s)", "config key 'contrasts[1].target'"),
    ("covariate unknown", configure(lambda c: _set(c, ["contrasts", 1, "covariates"], ["ecog"])),
     "'ecog' is not a column of inputs/patients.tsv", "config key 'contrasts[1].covariates'"),
    ("duplicate contrast id", configure(lambda c: _set(c, ["contrasts", 1, "id"], "responder")),
     "'responder' is used by an earlier contrast", "config key 'contrasts[1].id'"),
    ("unquoted yes/no level", configure(lambda c: _set(c, ["contrasts", 0, "reference"], False)),
     "false was read as a true/false value", "config key 'contrasts[0].reference'"),
    ("missing required config key", configure(lambda c: c["clinical"].pop("patients")),
     "required key is missing — add it: the path of patients.tsv", "config key 'clinical.patients'"),
    ("wrong config enum", configure(lambda c: _set(c, ["copy_number", "values"], "ratio")),
     "'ratio' is not one of 'log2_ratio', 'calls'", "config key 'copy_number.values'"),
    ("wrong config type", configure(lambda c: _set(c, ["rna", "min_count"], "ten")),
     "'ten' is not of type integer", "config key 'rna.min_count'"),
    ("config section of the wrong type", configure(lambda c: c.update(rna=5, clinical="x")),
     "5 is not of type object", "config key 'rna'"),
    ("config value out of range", configure(lambda c: _set(c, ["proteins", "max_missing_fraction"], 1.5)),
     "1.5 is out of range: it must be <= 1", "config key 'proteins.max_missing_fraction'"),
    ("misspelt config key", configure(lambda c: _set(c, ["rna", "min_counts"], 5)),
     "unknown key — did you mean 'min_count'?", "config key 'rna.min_counts'"),
    ("inconsistent copy-number thresholds",
     configure(lambda c: _set(c, ["copy_number", "amplification_threshold"], 0.2)),
     "0.2 is below gain_threshold 0.3", "config key 'copy_number.amplification_threshold'"),
    ("config table missing", configure(lambda c: _set(c, ["clinical", "recist"], "inputs/visits.tsv")),
     "the file 'inputs/visits.tsv' does not exist", "config key 'clinical.recist'"),
    ("contrast batch column unknown", configure(lambda c: _set(c, ["contrasts", 1, "batch"], "plate")),
     "'plate' is neither a column of the sample sheet nor of inputs/patients.tsv",
     "config key 'contrasts[1].batch'"),
    ("copy-number values are not calls", configure(lambda c: _set(c, ["copy_number", "values"], "calls")),
     "feature 'ERBB2' has 1.2, which is not a copy-number call (-2, -1, 0, 1 or 2) (and 5 more",
     where("inputs/cn.tsv", None, "P01")),
]
BAD_INPUTS += [
    ("sample_id escaping the results folder", edit(SAMPLE_SHEET, 2, "sample_id", "../../x"),
     "identifier '../../x' starts with '.' — use letters, digits", where(SAMPLE_SHEET, 2, "sample_id")),
    ("sample_id with shell code", edit(SAMPLE_SHEET, 2, "sample_id", "$(touch x)"),
     "identifier '$(touch x)' contains ' ', '$', '(', ')'", where(SAMPLE_SHEET, 2, "sample_id")),
    ("sample_id with a bracket", edit(SAMPLE_SHEET, 3, "sample_id", "a(b"),
     "identifier 'a(b' contains '('", where(SAMPLE_SHEET, 3, "sample_id")),
    ("sample_id with a space", edit(SAMPLE_SHEET, 3, "sample_id", "S 02"),
     "identifier 'S 02' contains ' '", where(SAMPLE_SHEET, 3, "sample_id")),
    ("sample_id with non-ASCII letters", edit(SAMPLE_SHEET, 3, "sample_id", "Sé02"),
     "identifier 'Sé02' contains a non-ASCII character", where(SAMPLE_SHEET, 3, "sample_id")),
    ("sample_id with two dots", edit(SAMPLE_SHEET, 3, "sample_id", "S..02"),
     "identifier 'S..02' contains '..'", where(SAMPLE_SHEET, 3, "sample_id")),
    ("empty sample_id", edit(SAMPLE_SHEET, 3, "sample_id", ""),
     "the value is empty", where(SAMPLE_SHEET, 3, "sample_id")),
    ("patient_id with a slash", edit(PATIENT_TABLE, 2, "patient_id", "P/01"),
     "identifier 'P/01' contains '/'", where(PATIENT_TABLE, 2, "patient_id")),
    ("timepoint escaping", edit(SAMPLE_SHEET, 2, "timepoint", "../x"),
     "identifier '../x' starts with '.'", where(SAMPLE_SHEET, 2, "timepoint")),
    ("contrast id escaping", configure(lambda c: _set(c, ["contrasts", 1, "id"], "../x")),
     "'../x' does not have the expected form", "config key 'contrasts[1].id'"),
    ("spreadsheet date as gene", edit("inputs/cn.tsv", 3, 1, "1-Mar"),
     "feature '1-Mar' looks like a date made by a spreadsheet from a gene symbol — restore the original gene "
     "symbol (probably MARCHF1 (formerly MARCH1))", where("inputs/cn.tsv", 3, "gene")),
    ("spreadsheet date as gene in htseq", edit("inputs/rna/P01.htseq.tsv", 1, 1, "2-Sep"),
     "probably SEPTIN2 (formerly SEPT2)", where("inputs/rna/P01.htseq.tsv", 1, "1")),
    ("spreadsheet date as MAF gene", edit("inputs/maf/cohort.maf", 3, "Hugo_Symbol", "1-Dec"),
     "probably DELEC1 (formerly DEC1)", where("inputs/maf/cohort.maf", 3, "Hugo_Symbol")),
    ("gene symbol with shell code", edit("inputs/proteins.tsv", 2, 1, "$(rm)"),
     "feature identifier '$(rm)' starts with '$'", where("inputs/proteins.tsv", 2, "protein")),
    ("absurd protein intensity", edit("inputs/proteins.tsv", 3, "P04", "1e30"),
     "raw protein intensity 1e+30 of 'CXCL9' in sample 'P04' is above 1e+13, outside the plausible range "
     "— correct the value (leave it empty when unknown); if it is real, raise "
     "plausible_ranges.protein_raw_max", where("inputs/proteins.tsv", 3, "P04")),
    ("negative raw protein intensity", edit("inputs/proteins.tsv", 2, "P03", "-4"),
     "a raw protein intensity cannot be negative", where("inputs/proteins.tsv", 2, "P03")),
    ("absurd copy-number ratio", edit("inputs/cn.tsv", 2, "P02", "300"),
     "copy-number log2 ratio 300 of 'ERBB2' in sample 'P02' is above 15", where("inputs/cn.tsv", 2, "P02")),
    ("absurd read count", edit("inputs/rna/counts_matrix.tsv", 2, "P03", "5000000000"),
     "read count 5e+09 of 'G1' in sample 'P03' is above 1e+09", where("inputs/rna/counts_matrix.tsv", 2, "P03")),
    ("count beyond int64", edit("inputs/rna/P01.htseq.tsv", 2, 2, "99999999999999999999"),
     "count '99999999999999999999' is larger than any read count", where("inputs/rna/P01.htseq.tsv", 2, "2")),
    ("infinite copy-number ratio", edit("inputs/cn.tsv", 2, "P01", "inf"),
     "'inf' is not a number", where("inputs/cn.tsv", 2, "P01")),
    ("implausible PFS", lambda root, config: (supply_outcomes(root / PATIENT_TABLE),
                                              set_cell(root / PATIENT_TABLE, 3, "pfs_months", "1e300")),
     "'1e300' is not a valid value", where(PATIENT_TABLE, 3, "pfs_months")),
    ("PFS of centuries", lambda root, config: (supply_outcomes(root / PATIENT_TABLE),
                                               set_cell(root / PATIENT_TABLE, 4, "pfs_months", "4500")),
     "'4500' is not a plausible value (at most 1200)", where(PATIENT_TABLE, 4, "pfs_months")),
    ("tumour of ten metres", edit(RECIST_TABLE, 3, "target_sum_mm", "30000"),
     "'30000' is not a plausible value (at most 10000)", where(RECIST_TABLE, 3, "target_sum_mm")),
    ("misspelt top-level key", configure(lambda c: c.update(contrast=c.pop("contrasts"))),
     "unknown key — did you mean 'contrasts'?", "config key 'contrast'"),
    ("misspelt nested key", configure(lambda c: _set(c, ["clinical", "recists"], "inputs/recist.tsv")),
     "unknown key — did you mean 'recist'?", "config key 'clinical.recists'"),
    ("header-only recist table",
     lambda root, config: (root / RECIST_TABLE).write_text(RECIST.splitlines()[0] + "\n"),
     "has a header but no rows, so no patient would get a response", RECIST_TABLE),
    ("header-only sample sheet",
     lambda root, config: (root / SAMPLE_SHEET).write_text(SAMPLES.splitlines()[0] + "\n"),
     "has a header but no rows — add the rows", SAMPLE_SHEET),
    ("MAF of another sample", lambda root, config: (
        (root / "inputs/maf/one.maf").write_text("Hugo_Symbol\tTumor_Sample_Barcode\tVariant_Classification\n"
                                                 "TP53\tBC02\tMissense_Mutation\n"),
        set_cell(root / SAMPLE_SHEET, 5, "path", "maf/one.maf"), set_cell(root / SAMPLE_SHEET, 5, "column", "")),
     "inputs/maf/one.maf holds the rows of barcode 'BC02', which is sample 'S02_mut' (line 6), not 'S01_mut'",
     where(SAMPLE_SHEET, 5, "column")),
    ("sample without any value", lambda root, config: [set_cell(root / "inputs/cn.tsv", line, "P04", "NA")
                                                       for line in (2, 3)],
     "sample 'S04_cn' has no usable value in inputs/cn.tsv (column 'P04' is all empty, NA)",
     where(SAMPLE_SHEET, 9, "path")),
    ("sample without reads", lambda root, config: [set_cell(root / "inputs/rna/P01.htseq.tsv", line, 2, "0")
                                                   for line in (1, 3)],
     "sample 'S01_rna' has no reads in inputs/rna/P01.htseq.tsv", where(SAMPLE_SHEET, 2, "path")),
    ("response contrast without outcome data", lambda root, config: config["clinical"].pop("recist"),
     "the label 'responder' cannot be derived: there is no clinical.recist", "config key 'contrasts[0].variable'"),
    ("PFS endpoint without outcome data", lambda root, config: (
        config["clinical"].pop("recist"), add_bor_column(root / PATIENT_TABLE, ["CR", "PD", "SD", "PR"])),
     "the label 'pfs' cannot be derived: there is no clinical.recist (visit-level assessments) or filled "
     "`pfs_months` and `pfs_event` columns", "config key 'endpoints[0]'"),
]


def test_good_cohort_validates_and_fills_defaults(cohort):
    workdir, config = cohort
    validated = validate_inputs(config, SCHEMA_DIR, workdir)
    assert validated.warnings == []
    samples = validated.samples
    assert list(samples.columns[:7]) == ["sample_id", "patient_id", "modality", "path", "column",
                                         "batch", "timepoint"]
    assert samples["sample_id"].tolist()[:3] == ["S01_rna", "S02_rna", "S03_rna"]
    assert samples.loc[0, "path"] == str(workdir / "inputs/rna/P01.htseq.tsv")
    assert all(Path(p).is_absolute() for p in samples["path"])
    assert samples["timepoint"].unique().tolist() == ["baseline"]
    assert samples.loc[3, "batch"] == "" and samples.loc[0, "batch"] == "run1"
    # defaults were filled into the caller's config, including nested ones
    assert config["rna"]["min_count"] == 10
    assert config["contrasts"][1]["batch"] is None
    assert config["contrasts"][0]["covariates"] == []
    assert config["clinical"]["baseline_window_days"] == 60


def supply_outcomes(path: Path) -> None:
    """Add supplied bor, pfs_months and pfs_event columns to patients.tsv (a cohort without recist.tsv)."""
    lines = path.read_text().splitlines()
    values = ["bor\tpfs_months\tpfs_event", "PR\t7.5\t1", "PD\t2.0\t1", "SD\t4.1\t0", "NE\t\t"]
    path.write_text("\n".join(f"{line}\t{value}" for line, value in zip(lines, values)) + "\n")


def test_minimal_config_gets_every_default(cohort):
    workdir, _ = cohort
    supply_outcomes(workdir / PATIENT_TABLE)
    config = {"samples": "inputs/samples.tsv", "clinical": {"patients": "inputs/patients.tsv"}}
    validate_inputs(config, SCHEMA_DIR, workdir)
    with open(SCHEMA_DIR / "config.schema.yaml") as handle:
        schema = yaml.safe_load(handle)
    # every key with a default in the schema, at any depth, is now in the config
    for section, section_schema in schema["properties"].items():
        if "default" in section_schema:
            assert section in config, section
        for key, key_schema in section_schema.get("properties", {}).items():
            if "default" in key_schema:
                assert config[section][key] == key_schema["default"], (section, key)
    assert config["seed"] == 20211
    assert config["clinical"]["recist"] is None
    assert config["clinical"]["confirmation_weeks"] == 4
    assert {key: config["rna"][key] for key in ("star_count_column", "min_count", "min_samples")} == {
        "star_count_column": 2, "min_count": 10, "min_samples": 3}
    assert config["copy_number"]["deep_deletion_threshold"] == -1.0
    assert config["proteins"]["imputation"] == "downshifted_normal"
    assert config["proteins"]["batch_correction"] == "combat"
    assert "Splice_Site" in config["mutations"]["variant_classes"]
    assert config["qc"]["outlier_z"] == 3.0
    assert [c["id"] for c in config["contrasts"]] == ["responder", "clinical_benefit"]
    expected = {"id": "responder", "variable": "responder", "reference": "no", "target": "yes",
                "covariates": [], "batch": None}
    assert {key: config["contrasts"][0].get(key) for key in expected} == expected


def test_defaults_are_not_shared_between_configs(cohort):
    workdir, _ = cohort
    supply_outcomes(workdir / PATIENT_TABLE)
    first = {"samples": "inputs/samples.tsv", "clinical": {"patients": "inputs/patients.tsv"}}
    second = copy.deepcopy(first)
    validate_inputs(first, SCHEMA_DIR, workdir)
    validate_inputs(second, SCHEMA_DIR, workdir)
    first["rna"]["min_count"] = 99
    assert second["rna"]["min_count"] == 10


@pytest.mark.parametrize("change, fragment, location", [case[1:] for case in BAD_INPUTS],
                         ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_is_reported_with_file_line_and_column(cohort, change, fragment, location):
    workdir, config = cohort
    change(workdir, config)
    problems = problems_of(workdir, config)
    matching = [p for p in problems if fragment in p]
    assert matching, f"no problem mentions {fragment!r}; got:\n" + "\n".join(problems)
    assert any(p.startswith(location) for p in matching), matching


def test_bad_input_table_has_enough_cases():
    assert len(BAD_INPUTS) >= 20
    assert len({case[0] for case in BAD_INPUTS}) == len(BAD_INPUTS)


def test_three_problems_are_reported_together(cohort):
    workdir, config = cohort
    set_cell(workdir / SAMPLE_SHEET, 2, "patient_id", "P99")
    set_cell(workdir / AE_TABLE, 3, "grade", "7")
    config["rna"] = {"star_count_column": 5}
    problems = problems_of(workdir, config)
    assert len(problems) == 3, problems
    assert problems[0].startswith("config key 'rna.star_count_column': 5 is not one of 2, 3, 4")
    assert any(p.startswith(where(SAMPLE_SHEET, 2, "patient_id")) for p in problems)
    assert any(p.startswith(where(AE_TABLE, 3, "grade")) for p in problems)


def test_problems_are_listed_in_the_error_message(cohort):
    workdir, config = cohort
    set_cell(workdir / AE_TABLE, 3, "grade", "7")
    with pytest.raises(InputValidationError,
                       match=r"^1 problem\(s\) in the inputs:\n  - inputs/adverse_events.tsv, line 3"):
        validate_inputs(config, SCHEMA_DIR, workdir)


def test_config_not_filled_when_invalid(cohort):
    workdir, config = cohort
    set_cell(workdir / SAMPLE_SHEET, 2, "patient_id", "P99")
    problems_of(workdir, config)
    assert "rna" not in config


def test_maf_barcode_without_rows_is_a_warning_not_a_problem(cohort):
    workdir, config = cohort
    append_line(workdir / SAMPLE_SHEET, "S03_mut\tP03\tmutations\tmaf/cohort.maf\tBC03\t\t")
    validated = validate_inputs(config, SCHEMA_DIR, workdir)
    assert validated.warnings == [
        "sample S03_mut has no mutations in inputs/maf/cohort.maf (barcode 'BC03' has no rows in "
        "inputs/maf/cohort.maf): treated as no mutations (TMB 0)"]
    assert "S03_mut" in validated.samples["sample_id"].tolist()


def test_adverse_event_before_treatment_is_a_warning(cohort):
    workdir, config = cohort
    set_cell(workdir / AE_TABLE, 2, "onset_date", "2020-01-01")
    validated = validate_inputs(config, SCHEMA_DIR, workdir)
    assert len(validated.warnings) == 1
    assert validated.warnings[0].startswith(f"{AE_TABLE}, line 2: the Hypertension of patient 'P01'")
    assert "not treatment-emergent" in validated.warnings[0]


def test_patient_without_samples_is_a_warning(cohort):
    workdir, config = cohort
    append_line(workdir / PATIENT_TABLE, "P05\t2020-05-01\t2020-09-01\t\tM\t66")
    validated = validate_inputs(config, SCHEMA_DIR, workdir)
    assert validated.warnings == ["patient 'P05' has no samples in inputs/samples.tsv: it counts in the "
                                  "clinical results only"]


def test_absolute_paths_in_the_sample_sheet_are_accepted(cohort):
    workdir, config = cohort
    set_cell(workdir / SAMPLE_SHEET, 2, "path", str(workdir / "inputs/rna/P01.htseq.tsv"))
    validated = validate_inputs(config, SCHEMA_DIR, workdir)
    assert validated.samples.loc[0, "path"] == str(workdir / "inputs/rna/P01.htseq.tsv")


def test_same_bad_file_shared_by_samples_is_reported_once(cohort):
    workdir, config = cohort
    set_cell(workdir / "inputs/cn.tsv", 2, "P04", "x")
    problems = problems_of(workdir, config)
    assert problems == ["inputs/cn.tsv, line 2, column 'P04': 'x' is not a number — write numbers with "
                        "a decimal point, and leave missing values empty or NA"]


def test_demo_config_validates():
    root = Path(__file__).resolve().parents[1]
    with open(root / "config" / "config.yaml") as handle:
        config = yaml.safe_load(handle)
    validated = validate_inputs(config, SCHEMA_DIR, root)
    assert len(validated.samples) > 0
    assert validated.samples["patient_id"].nunique() > 1


def _schema_keys(schema: dict, prefix: str = ""):
    """(key path, schema) of every leaf property of the config schema, at any depth."""
    for name, subschema in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        if subschema.get("type") == "object":
            yield from _schema_keys(subschema, path + ".")
        elif subschema.get("type") == "array" and "properties" in subschema.get("items", {}):
            yield path, subschema
            yield from _schema_keys(subschema["items"], path + "[].")
        else:
            yield path, subschema


def test_config_readme_documents_every_key_and_default():
    readme = (Path(__file__).resolve().parents[1] / "config" / "README.md").read_text()
    rows = {line.split("|")[1].strip().strip("`"): line.split("|")[2] for line in readme.splitlines()
            if line.startswith("| `")}
    with open(SCHEMA_DIR / "config.schema.yaml") as handle:
        schema = yaml.safe_load(handle)
    keys = dict(_schema_keys(schema))
    assert "rna.min_count" in keys and "contrasts[].batch" in keys
    for key, subschema in keys.items():
        assert key in rows, f"config/README.md does not document {key}"
        if "default" not in subschema:
            assert "(required)" in rows[key], key
            continue
        default = subschema["default"]
        if default is None:
            assert "`null`" in rows[key], key
        elif isinstance(default, bool):
            assert f"`{str(default).lower()}`" in rows[key], f"README default of {key} differs from the schema"
        elif isinstance(default, (int, float, str)):
            assert f"`{default}`" in rows[key], f"README default of {key} differs from the schema"


def test_maf_rows_of_no_sample_are_reported_not_credited(cohort):
    workdir, config = cohort
    append_line(workdir / "inputs/maf/cohort.maf", "BRAF\tBC09\tMissense_Mutation\t7")
    validated = validate_inputs(config, SCHEMA_DIR, workdir)
    assert validated.warnings == [
        "inputs/maf/cohort.maf: 1 row(s) with barcode(s) 'BC09' belong to no sample of the sample sheet "
        "and are not used — add those samples to the sheet if they belong to the trial"]


def test_header_only_adverse_events_is_a_warning(cohort):
    workdir, config = cohort
    (workdir / AE_TABLE).write_text(ADVERSE_EVENTS.splitlines()[0] + "\n")
    validated = validate_inputs(config, SCHEMA_DIR, workdir)
    assert validated.warnings == [f"{AE_TABLE} has a header but no rows: the safety tables will list no "
                                  "adverse events"]


def test_every_label_is_derivable_with_recist(cohort):
    workdir, config = cohort
    validated = validate_inputs(config, SCHEMA_DIR, workdir)
    assert validated.derivable_endpoints() == {"pfs", "os", "responder", "clinical_benefit"}
    assert validated.can_derive("bor") and validated.can_derive("sex")


def test_missing_outcomes_can_be_skipped_with_a_warning(cohort):
    workdir, config = cohort
    config["clinical"].pop("recist")
    config["clinical"]["allow_missing_outcomes"] = True
    validated = validate_inputs(config, SCHEMA_DIR, workdir)
    assert validated.derivable_endpoints() == {"os"}
    assert not validated.can_derive("responder") and validated.can_derive("sex")
    assert validated.warnings[0] == (
        "config key 'endpoints[0]': the label 'pfs' cannot be derived without clinical.recist (visit-level "
        "assessments) or filled `pfs_months` and `pfs_event` columns in patients.tsv: it is skipped "
        "(clinical.allow_missing_outcomes is true)")
    assert len(validated.warnings) == 4  # pfs, responder, clinical_benefit endpoints; responder contrast


def test_supplied_outcomes_make_their_labels_derivable(cohort):
    workdir, config = cohort
    config["clinical"].pop("recist")
    supply_outcomes(workdir / PATIENT_TABLE)
    validated = validate_inputs(config, SCHEMA_DIR, workdir)
    assert validated.derivable_endpoints() == {"pfs", "os", "responder", "clinical_benefit"}


def test_templated_config_is_refused_unless_allowed(cohort):
    workdir, config = cohort
    templated = workdir / "templated.yaml"
    templated.write_text("__use_yte__: true\nseed: 7\n")
    with pytest.raises(InputValidationError) as caught:
        validate_inputs(copy.deepcopy(config), SCHEMA_DIR, workdir, config_files=[templated])
    assert caught.value.problems == [
        f"{templated}: the config enables YTE templating (__use_yte__: true), which runs Python code when "
        "Snakemake loads it — remove the templating, or, if you wrote and trust this file, pass --config "
        "allow_templated_config=true on the command line"]
    allowed = copy.deepcopy(config) | {"allow_templated_config": True}
    validate_inputs(allowed, SCHEMA_DIR, workdir, config_files=[templated])
    # the templated file cannot allow itself
    templated.write_text("__use_yte__: true\nallow_templated_config: true\n")
    with pytest.raises(InputValidationError):
        validate_inputs(copy.deepcopy(allowed), SCHEMA_DIR, workdir, config_files=[templated])


def test_malformed_config_file_names_file_and_line(cohort, tmp_path):
    workdir, config = cohort
    broken = tmp_path / "broken.yaml"
    broken.write_text("samples: inputs/samples.tsv\nclinical:\n  patients: [inputs/patients.tsv\nseed: 3\n")
    with pytest.raises(InputValidationError) as caught:
        validate_inputs(config, SCHEMA_DIR, workdir, config_files=[broken])
    (problem,) = caught.value.problems
    assert problem.startswith(f"{broken}, line 4, column 5: the config file is not valid YAML")


def test_the_retired_bootstrap_key_is_accepted_with_a_warning(cohort):
    workdir, config = cohort
    assert not validate_inputs(copy.deepcopy(config), SCHEMA_DIR, workdir).warnings
    config["models"] = {"bootstrap": 200}
    validated = validate_inputs(config, SCHEMA_DIR, workdir)
    assert validated.warnings == ["config key 'models.bootstrap' is ignored: a model's 95% interval now comes "
                                  "from its permutations (models.permutations) — remove the key"]
