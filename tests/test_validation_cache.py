"""Validation runs once per input state: cached by config, schemas and the files it read."""
from __future__ import annotations

import copy
import os
import shutil

import pandas as pd
import pytest

from conftest import DEMO, ROOT
from trialomics.errors import InputValidationError
from trialomics.validation import ValidatedInputs, validate_inputs
from trialomics.validation_cache import CACHE_FOLDER, validate_once

SCHEMAS = ROOT / "workflow" / "schemas"


@pytest.fixture()
def trial(tmp_path):
    for name in ("samples.tsv", "patients.tsv", "recist.tsv", "copy_number.tsv"):
        shutil.copy(DEMO / name, tmp_path / name)
    shutil.copytree(DEMO / "mutations", tmp_path / "mutations")
    shutil.copytree(DEMO / "rna", tmp_path / "rna")
    for name in DEMO.glob("proteins*.tsv"):
        shutil.copy(name, tmp_path / name.name)
    return tmp_path


def _config(folder):
    return {"samples": str(folder / "samples.tsv"),
            "clinical": {"patients": str(folder / "patients.tsv"), "recist": str(folder / "recist.tsv")}}


class Counting:
    def __init__(self):
        self.calls = 0

    def __call__(self, config, schema_dir, workdir, config_files=()):
        self.calls += 1
        return validate_inputs(config, schema_dir, workdir, config_files=config_files)


def test_second_parse_uses_the_cached_outcome_with_the_same_config_and_warnings(trial):
    counting = Counting()
    first_config = _config(trial)
    first, cached = validate_once(first_config, SCHEMAS, trial, counting)
    assert not cached and counting.calls == 1 and list((trial / CACHE_FOLDER).glob("*.json"))
    second_config = _config(trial)
    second, cached = validate_once(second_config, SCHEMAS, trial, counting)
    assert cached and counting.calls == 1
    assert second_config == first_config  # the schema defaults are filled from the cache too
    # in the same key order, at every level: Snakemake compares rule params (dicts) as written
    assert repr(second_config) == repr(first_config)
    assert second.warnings == first.warnings
    pd.testing.assert_frame_equal(second.samples.reset_index(drop=True), first.samples.reset_index(drop=True))


def test_a_changed_input_file_or_config_validates_again(trial):
    counting = Counting()
    validate_once(_config(trial), SCHEMAS, trial, counting)
    sample_file = trial / "rna" / sorted(os.listdir(trial / "rna"))[0]
    sample_file.write_text(sample_file.read_text() + "EXTRA1\t5\n")
    validate_once(_config(trial), SCHEMAS, trial, counting)
    assert counting.calls == 2
    changed = _config(trial)
    changed["seed"] = 7
    validate_once(changed, SCHEMAS, trial, counting)
    assert counting.calls == 3


def test_failures_are_never_cached(trial):
    config = _config(trial)
    (trial / "patients.tsv").write_text("patient_id\ttreatment_start\n")
    for _ in range(2):
        with pytest.raises(InputValidationError):
            validate_once(copy.deepcopy(config), SCHEMAS, trial)
    assert not list((trial / CACHE_FOLDER).glob("*.json"))


def test_the_cache_holds_data_not_code(trial):
    validate_once(_config(trial), SCHEMAS, trial)
    stored = next((trial / CACHE_FOLDER).glob("*.json")).read_bytes()
    assert stored.lstrip().startswith(b"{")
    assert isinstance(validate_once(_config(trial), SCHEMAS, trial)[0], ValidatedInputs)
