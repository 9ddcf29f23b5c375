"""Patient data protection: pseudonyms, key file, calendar dates, cohort covariates, file modes."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import stat

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from conftest import DEMO, minimal_demo_config, run_snakemake
from trialomics import cohort, privacy

KEY = b"0123456789abcdef0123456789abcdef"


def test_pseudonym_is_prefix_and_ten_base32_characters_of_hmac_sha256():
    digest = hmac.new(KEY, b"BTC01", hashlib.sha256).digest()
    expected = "P-" + base64.b32encode(digest).decode()[:10]
    assert privacy.pseudonym("BTC01", KEY, "P-") == expected
    assert re.fullmatch(r"P-[A-Z2-7]{10}", expected)


def test_pseudonyms_are_stable_per_key_and_differ_between_keys():
    assert privacy.pseudonym("BTC01", KEY, "P-") == privacy.pseudonym("BTC01", KEY, "P-")
    assert privacy.pseudonym("BTC01", KEY, "P-") != privacy.pseudonym("BTC02", KEY, "P-")
    assert privacy.pseudonym("BTC01", KEY, "P-") != privacy.pseudonym("BTC01", KEY[::-1], "P-")


def test_key_file_is_created_once_with_owner_only_mode(tmp_path):
    path = tmp_path / "secret" / "pseudonym.key"
    key = privacy.load_or_create_key(path)
    assert len(key) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert privacy.load_or_create_key(path) == key


def test_short_key_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "pseudonym.key"
    path.write_text("short\n")
    with pytest.raises(ValueError, match=re.escape(str(path))):
        privacy.load_or_create_key(path)


def test_sample_sheet_keeps_file_and_column_and_maps_ids():
    sheet = pd.DataFrame({"sample_id": ["BTC01-RNA", "BTC01-WES"], "patient_id": ["BTC01", "BTC01"],
                          "modality": ["rna", "mutations"], "path": ["rna.tsv", "BTC01-WES.maf"],
                          "column": ["BTC01-RNA", ""], "batch": ["", ""], "timepoint": ["baseline"] * 2})
    out = privacy.pseudonymise_sample_sheet(sheet, KEY)
    assert out["sample_id"].tolist() == [privacy.pseudonym(s, KEY, "S-") for s in sheet["sample_id"]]
    assert out["patient_id"].nunique() == 1
    assert out["patient_id"].iloc[0] == privacy.pseudonym("BTC01", KEY, "P-")
    assert out[["path", "column"]].equals(sheet[["path", "column"]])


def test_maf_barcodes_get_the_sample_pseudonym():
    maf = pd.DataFrame({"Hugo_Symbol": ["KRAS"], "Tumor_Sample_Barcode": ["BTC01-WES"],
                        "Matched_Norm_Sample_Barcode": ["BTC01-N"]})
    out = privacy.pseudonymise_barcodes(maf, KEY)
    assert out.loc[0, "Tumor_Sample_Barcode"] == privacy.pseudonym("BTC01-WES", KEY, "S-")
    assert out.loc[0, "Matched_Norm_Sample_Barcode"] == privacy.pseudonym("BTC01-N", KEY, "S-")
    assert maf.loc[0, "Tumor_Sample_Barcode"] == "BTC01-WES"


def test_identifiers_in_text_are_replaced_longest_first_and_whole():
    mapping = {"BTC01": "P-AAAAAAAAAA", "BTC01-RNA": "S-BBBBBBBBBB", "7": "P-CCCCCCCCCC"}
    assert privacy.replace_identifiers("rna/BTC01-RNA.tsv and BTC01", mapping) == \
        "rna/S-BBBBBBBBBB.tsv and P-AAAAAAAAAA"
    assert privacy.replace_identifiers("p17/7.maf", mapping) == "p17/P-CCCCCCCCCC.maf"


def test_identifier_mapping_covers_samples_columns_and_patients():
    sheet = pd.DataFrame({"sample_id": ["BTC01-RNA"], "patient_id": ["BTC01"], "column": ["LIB-0001"]})
    mapping = privacy.identifier_mapping(sheet, ["BTC01", "BTC02"], KEY)
    assert mapping == {"BTC01": privacy.pseudonym("BTC01", KEY, "P-"), "BTC02": privacy.pseudonym("BTC02", KEY, "P-"),
                       "BTC01-RNA": privacy.pseudonym("BTC01-RNA", KEY, "S-"),
                       "LIB-0001": privacy.pseudonym("LIB-0001", KEY, "S-")}


def test_calendar_dates_are_dropped_and_days_kept():
    timepoints = pd.DataFrame({"patient_id": ["a"], "date": [pd.Timestamp("2020-01-02")], "day": [5]})
    assert privacy.without_calendar_dates(timepoints).columns.tolist() == ["patient_id", "day"]


@pytest.mark.parametrize("file_mode, dir_mode, umask", [(0o640, 0o750, 0o027), (0o600, 0o700, 0o077),
                                                        (0o644, 0o755, 0o022)])
def test_umask_gives_both_modes(file_mode, dir_mode, umask):
    assert privacy.umask_for(file_mode, dir_mode) == umask


@pytest.mark.parametrize("file_mode, dir_mode", [(0o640, 0o700), (0o750, 0o750)])
def test_inconsistent_modes_are_refused(file_mode, dir_mode):
    with pytest.raises(ValueError, match="privacy"):
        privacy.umask_for(file_mode, dir_mode)


def test_settings_defaults_and_octal_text():
    default = privacy.PrivacySettings.from_config({})
    assert (default.pseudonymise, default.calendar_dates, default.file_mode, default.dir_mode) == \
        (False, False, 0o640, 0o750)
    assert privacy.PrivacySettings.from_config({"privacy": {"file_mode": "600"}}).file_mode == 0o600
    with pytest.raises(ValueError, match="privacy.file_mode"):
        privacy.PrivacySettings.from_config({"privacy": {"file_mode": "rw-r-----"}})


def test_configured_covariates_gather_contrasts_survival_and_models():
    config = {"contrasts": [{"id": "r", "variable": "responder", "covariates": ["age"]},
                            {"id": "s", "variable": "sex", "covariates": []}],
              "survival": {"covariates": ["ecog"]}, "models": {"covariates": ["age"]}}
    assert privacy.configured_covariates(config) == ["age", "ecog", "responder", "sex"]


def test_cohort_carries_only_configured_covariates():
    adata = ad.AnnData(np.zeros((2, 1)), obs=pd.DataFrame(
        {"patient_id": ["p1", "p2"], "batch": ["", ""], "timepoint": ["baseline"] * 2}, index=["s1", "s2"]))
    labels = pd.DataFrame({"patient_id": ["p1", "p2"], "bor": ["PR", "PD"], "responder": ["yes", "no"]})
    patients = pd.DataFrame({"patient_id": ["p1", "p2"], "age": ["60", "70"], "notes": ["free text", ""],
                             "treatment_start": pd.to_datetime(["2020-01-01", "2020-02-01"])})
    built = cohort.build_cohort({"rna": adata}, labels, patients, covariates=["age"])
    obs = built.mod["rna"].obs
    assert {"age", "bor", "responder", "patient_id"} <= set(obs.columns)
    assert "notes" not in obs.columns and "treatment_start" not in obs.columns


# --- the workflow with pseudonyms on ---------------------------------------------------------------

PSEUDONYM_TARGETS = ["results/clinical/labels.tsv", "results/clinical/timepoint_responses.tsv",
                     "results/clinical/adverse_events.tsv", "results/clinical/swimmer.png",
                     "results/clinical/swimmer.svg", "results/mutations/tmb.tsv",
                     "results/mutations/normalised.h5ad", "results/copy_number/normalised.h5ad",
                     "results/manifest/manifest.json", "results/manifest/inputs.tsv"]


def original_identifiers() -> set[str]:
    samples = pd.read_csv(DEMO / "samples.tsv", sep="\t", dtype=str, keep_default_na=False)
    return set(samples["sample_id"]) | set(samples["patient_id"]) | set(samples["column"]) - {""}


@pytest.mark.e2e
def test_pseudonymised_run_writes_no_original_identifier_or_date(tmp_path):
    configfile = minimal_demo_config(tmp_path, privacy={"pseudonymise": True,
                                                        "key_file": "secrets/trial.key"})
    result = run_snakemake(tmp_path, configfile, *PSEUDONYM_TARGETS)
    assert result.returncode == 0, result.stderr[-4000:]
    key = (tmp_path / "secrets/trial.key").read_bytes().strip()
    written = [p for folder in ("results", "logs", "benchmarks") for p in (tmp_path / folder).rglob("*")
               if p.is_file()]
    assert any(p.suffix == ".h5ad" for p in written)
    identifiers = sorted(original_identifiers(), key=len, reverse=True)
    for path in written:
        data = path.read_bytes()
        for identifier in identifiers:
            assert identifier.encode() not in data, (path, identifier)
        if path.suffix != ".png":  # compressed pixels
            assert not re.search(rb"(19|20)\d\d-[01]\d-[0-3]\d", data), path
    # Logs never dump clinical rows: no free-text value of patients.tsv reaches them.
    sites = set(pd.read_csv(DEMO / "patients.tsv", sep="\t", dtype=str)["primary_site"])
    for log in (tmp_path / "logs").rglob("*.log"):
        text = log.read_text()
        assert not [site for site in sites if site in text], log
    # Every output names patients by their keyed pseudonym.
    labels = pd.read_csv(tmp_path / "results/clinical/labels.tsv", sep="\t", dtype=str)
    patients = pd.read_csv(DEMO / "patients.tsv", sep="\t", dtype=str)
    assert sorted(labels["patient_id"]) == sorted(privacy.pseudonym(p, key, "P-") for p in patients["patient_id"])
    timepoints = pd.read_csv(tmp_path / "results/clinical/timepoint_responses.tsv", sep="\t", dtype=str)
    assert "date" not in timepoints.columns and "day" in timepoints.columns
    # The pseudonymised patients table the DAG reads stays outside results/.
    assert (tmp_path / ".trialomics/pseudonymised/patients.tsv").is_file()


@pytest.mark.e2e
def test_outputs_get_restrictive_modes_by_default(tmp_path):
    configfile = minimal_demo_config(tmp_path)
    result = run_snakemake(tmp_path, configfile, "results/clinical/labels.tsv", "results/clinical/swimmer.png")
    assert result.returncode == 0, result.stderr[-4000:]
    for folder in ("results", "logs", "benchmarks"):
        for path in [tmp_path / folder, *(tmp_path / folder).rglob("*")]:
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode == (0o750 if path.is_dir() else 0o640), (path, oct(mode))


@pytest.mark.e2e
def test_configured_modes_apply(tmp_path):
    configfile = minimal_demo_config(tmp_path, privacy={"file_mode": "0600", "dir_mode": "0700"})
    result = run_snakemake(tmp_path, configfile, "results/clinical/labels.tsv")
    assert result.returncode == 0, result.stderr[-4000:]
    labels = tmp_path / "results/clinical/labels.tsv"
    assert stat.S_IMODE(labels.stat().st_mode) == 0o600
    assert stat.S_IMODE(labels.parent.stat().st_mode) == 0o700
    assert os.access(labels, os.R_OK)


def test_inconsistent_modes_stop_before_any_job(tmp_path):
    configfile = minimal_demo_config(tmp_path, privacy={"file_mode": "0640", "dir_mode": "0700"})
    result = run_snakemake(tmp_path, configfile, "results/clinical/labels.tsv")
    assert result.returncode != 0
    assert "privacy" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "results").exists()
