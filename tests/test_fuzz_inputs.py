"""Property-based tests: whatever bytes a user hands over, every reader and validation end in a
clear InputProblem / InputValidationError or a correct result, never another exception type."""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trialomics.counts_readers import read_rna_counts
from trialomics.errors import InputProblem, InputValidationError
from trialomics.identifiers import FEATURE_ID_PATTERN, excel_mangled
from trialomics.readers import (
    read_adverse_events,
    read_feature_matrix,
    read_maf,
    read_patients,
    read_proteins,
    read_recist,
    read_string_table,
)
from trialomics.validation import validate_inputs
from test_validation import CONFIG, FILES, SCHEMA_DIR

FUZZ = settings(max_examples=40, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Cells a user's file may hold: ordinary values, and every kind of trouble seen in real files.
ODD_CELLS = st.sampled_from([
    "", "NA", "NaN", "nan", "inf", "-inf", "Infinity", "1e308", "1e309", "-1e400", "99999999999999999999",
    "0x1F", "1,5", "١٢", "12.0", "-3", "0.5", "7", "1-Mar", "2-Sep", "SEPT2", "../../x", "$(touch x)",
    "a(b", "a b", "é", "\x00", "\x7f", "\u2028", "\"quoted\"", "\"", "'", "#comment", "__no_feature",
    "N_unmapped", "2020-01-01", "2020-02-30", "01/02/2020", "yes", "No", "CR", "PD", "PR", "SD", "NE",
    "ABSENT", "NON_CR_NON_PD", "1", "0", "3", "P01", "P02", "S01", "TP53", "HLA-A", "MIC-A/B",
])
CELLS = st.one_of(ODD_CELLS, st.text(max_size=12), st.integers(-10**20, 10**20).map(str),
                  st.floats(allow_nan=True, allow_infinity=True).map(repr))
HEADERS = st.sampled_from([
    ["gene", "S1", "S2"], ["gene", "S1", "S1"], ["gene", ""], ["Geneid", "Chr", "Start", "End", "Strand",
                                                              "Length", "S1"],
    ["Hugo_Symbol", "Tumor_Sample_Barcode", "Variant_Classification"],
    ["Hugo_Symbol", "Hugo_Symbol", "Tumor_Sample_Barcode", "Variant_Classification"],
    ["SampleID", "Assay", "NPX"], ["patient_id", "treatment_start", "last_contact", "death_date", "bor",
                                   "pfs_months", "pfs_event", "os_months", "os_event"],
    ["patient_id", "date", "target_sum_mm", "non_target", "new_lesion"],
    ["patient_id", "term", "grade", "onset_date", "related"], [],
])


@st.composite
def table_bytes(draw) -> bytes:
    """A tab-separated file with a plausible or broken header, odd cells and odd bytes."""
    header = draw(HEADERS)
    width = max(len(header), 1)
    rows = draw(st.lists(st.lists(CELLS, min_size=max(width - 1, 0), max_size=width + 1), max_size=6))
    lines = (["\t".join(header)] if header or draw(st.booleans()) else []) + ["\t".join(row) for row in rows]
    if draw(st.booleans()):
        lines.insert(0, "#version 2.4")
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(lines) + draw(st.sampled_from(["", newline, newline * 3]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16", "cp1252"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.booleans()):
        position = draw(st.integers(0, len(data)))
        data = data[:position] + draw(st.binary(max_size=4)) + data[position:]
    return data


READERS = {
    "string_table": read_string_table,
    "rna_counts": read_rna_counts,
    "rna_counts_column": lambda path: read_rna_counts(path, column="S1"),
    "maf": read_maf,
    "feature_matrix": read_feature_matrix,
    "proteins": read_proteins,
    "patients": read_patients,
    "recist": read_recist,
    "adverse_events": read_adverse_events,
}


def _check_result(name: str, result) -> None:
    """What a successful read guarantees."""
    if name.startswith("rna_counts"):
        assert result.dtype == np.int64 and (result >= 0).all()
        assert result.index.is_unique
        assert all(FEATURE_ID_PATTERN.fullmatch(gene) and not excel_mangled(gene) for gene in result.index)
    elif name in ("feature_matrix", "proteins"):
        values = result.to_numpy(dtype=float)
        assert not np.isinf(values).any()
        assert result.index.is_unique
        assert all(FEATURE_ID_PATTERN.fullmatch(feature) for feature in result.index)
    else:
        assert isinstance(result, pd.DataFrame)


@pytest.mark.parametrize("name", list(READERS))
@FUZZ
@given(data=table_bytes())
def test_every_reader_gives_a_clear_problem_or_a_correct_result(tmp_path, name, data):
    path = tmp_path / "input.tsv"
    path.write_bytes(data)
    try:
        result = READERS[name](path)
    except InputProblem as problem:
        assert str(path) in str(problem) and "Traceback" not in str(problem)
        return
    _check_result(name, result)


@pytest.fixture
def fuzz_cohort(tmp_path_factory):
    """A fresh copy of the small valid cohort of test_validation for each example."""
    def make():
        root = tmp_path_factory.mktemp("cohort")
        for name, text in FILES.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return root
    return make


@pytest.mark.parametrize("target", ["inputs/samples.tsv", "inputs/patients.tsv", "inputs/recist.tsv",
                                    "inputs/cn.tsv", "inputs/proteins.tsv", "inputs/maf/cohort.maf",
                                    "inputs/rna/P01.htseq.tsv"])
@settings(max_examples=10, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_validation_of_a_fuzzed_file_ends_in_a_clear_report(fuzz_cohort, target, data):
    root = fuzz_cohort()
    path = root / target
    lines = path.read_text().splitlines()
    line = data.draw(st.integers(0, len(lines) - 1), label="line")
    fields = lines[line].split("\t")
    position = data.draw(st.integers(0, len(fields) - 1), label="field")
    fields[position] = data.draw(CELLS, label="cell")
    lines[line] = "\t".join(fields)
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8", errors="replace"))
    config = copy.deepcopy(CONFIG)
    try:
        validated = validate_inputs(config, SCHEMA_DIR, root)
    except InputValidationError as error:
        assert error.problems and all(isinstance(p, str) and p for p in error.problems)
        return
    assert (validated.samples["sample_id"].str.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*")).all()


@FUZZ
@given(key=st.text(min_size=1, max_size=20), value=st.one_of(st.none(), st.booleans(), st.integers(),
                                                             st.text(max_size=10), st.lists(st.integers())))
def test_any_unknown_or_odd_config_key_is_reported(fuzz_cohort, key, value):
    root = fuzz_cohort()
    config = copy.deepcopy(CONFIG)
    section = config.setdefault("rna", {})
    section[key] = value
    known = yaml.safe_load((SCHEMA_DIR / "config.schema.yaml").read_text())["properties"]["rna"]["properties"]
    try:
        validate_inputs(config, SCHEMA_DIR, root)
    except InputValidationError as error:
        assert any(f"rna.{key}" in problem for problem in error.problems) or key in known
        return
    assert key in known
