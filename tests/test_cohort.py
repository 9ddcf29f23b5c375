"""The patient-aligned multi-omics cohort: one row per patient, baseline samples, missing modalities."""
import anndata as ad
import mudata as md
import numpy as np
import pandas as pd
import pytest

from trialomics import cohort


def modality(samples, features, seed):
    """samples: (sample_id, patient_id, timepoint)."""
    rng = np.random.default_rng(seed)
    obs = pd.DataFrame({"patient_id": [s[1] for s in samples], "batch": "b1",
                        "timepoint": [s[2] for s in samples]}, index=[s[0] for s in samples])
    return ad.AnnData(X=rng.normal(size=(len(samples), len(features))), obs=obs,
                      var=pd.DataFrame(index=features))


RNA = modality([("R1", "P1", "baseline"), ("R2", "P2", "baseline"), ("R2b", "P2", "on_treatment"),
                ("R3", "P3", "baseline")], ["TP53", "KRAS", "CXCL9"], 1)
PROTEINS = modality([("A3", "P3", "baseline"), ("A1", "P1", "baseline"), ("A2", "P2", "on_treatment")],
                    ["CXCL9", "IL6"], 2)
LABELS = pd.DataFrame({"patient_id": ["P1", "P2", "P3", "P4"], "bor": ["PR", "SD", "PD", ""],
                       "responder": ["yes", "no", "no", ""], "pfs_months": ["8.5", "3.0", "1.2", ""],
                       "not_yet_assessable": ["", "", "", "responder"]})
PATIENTS = pd.DataFrame({"patient_id": ["P1", "P2", "P3", "P4"], "age": [61, 70, 55, 48],
                         "notes": ["a", "b", "c", "d"],
                         "treatment_start": pd.to_datetime(["2022-01-01"] * 4)})


@pytest.fixture(scope="module")
def patient_cohort():
    return cohort.build_patient_cohort({"rna": RNA, "proteins": PROTEINS}, LABELS, PATIENTS, covariates=["age"])


def test_obs_are_patients_with_labels_in_the_shared_obs(patient_cohort):
    assert sorted(patient_cohort.obs_names) == ["P1", "P2", "P3"]
    obs = patient_cohort.obs.loc[["P1", "P2", "P3"]]
    assert obs["bor"].tolist() == ["PR", "SD", "PD"]
    assert obs["pfs_months"].tolist() == [8.5, 3.0, 1.2]
    assert obs["age"].tolist() == [61, 70, 55]
    # Only the configured covariates of patients.tsv are carried.
    assert "notes" not in obs.columns and "treatment_start" not in obs.columns
    assert list(patient_cohort.uns["patients_without_omics"]) == ["P4"]


def test_each_modality_holds_the_baseline_sample_indexed_by_patient(patient_cohort):
    rna = patient_cohort.mod["rna"]
    assert rna.obs_names.tolist() == ["P1", "P2", "P3"]
    assert rna.obs["sample_id"].tolist() == ["R1", "R2", "R3"]
    np.testing.assert_array_equal(rna.X[1], RNA["R2"].X[0])
    assert rna.var_names.tolist() == ["rna:TP53", "rna:KRAS", "rna:CXCL9"]
    assert rna.var["feature"].tolist() == ["TP53", "KRAS", "CXCL9"]
    # P2's only protein sample is on treatment: P2 is missing from the proteins modality, not dropped.
    proteins = patient_cohort.mod["proteins"]
    assert proteins.obs_names.tolist() == ["P1", "P3"]
    assert proteins.obs["sample_id"].tolist() == ["A1", "A3"]
    missing = dict(zip(patient_cohort.obs_names, patient_cohort.obsmap["proteins"]))
    assert missing["P2"] == 0 and missing["P1"] > 0


def test_feature_names_are_unique_across_modalities(patient_cohort):
    assert patient_cohort.var_names.is_unique
    assert {"rna:CXCL9", "proteins:CXCL9"} <= set(patient_cohort.var_names)


def test_per_sample_cohort_keeps_each_modalitys_feature_names_without_a_warning(recwarn):
    # CXCL9 is in both modalities: its name repeats in the global var_names by design (mudata warned).
    samples = cohort.build_cohort({"rna": RNA, "proteins": PROTEINS}, LABELS, PATIENTS, covariates=["age"])
    assert samples.mod["rna"].var_names.tolist() == ["TP53", "KRAS", "CXCL9"]
    assert samples.mod["proteins"].var_names.tolist() == ["CXCL9", "IL6"]
    assert not [w for w in recwarn if "not unique" in str(w.message)]


def test_written_and_read_back(patient_cohort, tmp_path):
    path = tmp_path / "cohort.h5mu"
    patient_cohort.write(str(path))
    back = md.read_h5mu(path)
    assert sorted(back.obs_names) == ["P1", "P2", "P3"]
    assert back.obs.loc["P1", "responder"] == "yes"
    assert back.mod["proteins"].obs_names.tolist() == ["P1", "P3"]
    assert back.uns["view"] == "patients"


def test_two_baseline_samples_of_one_patient_are_refused():
    twice = modality([("R1", "P1", "baseline"), ("R1b", "P1", "baseline")], ["TP53"], 3)
    with pytest.raises(ValueError, match="P1"):
        cohort.build_patient_cohort({"rna": twice}, LABELS, PATIENTS)


def test_coverage_counts_patients_with_pending_labels():
    table = cohort.coverage_table(["P1", "P2", "P3", "P4"], {"rna": RNA, "proteins": PROTEINS},
                                  ["rna", "proteins", "mutations"], labels=LABELS)
    assert table["proteins"].tolist() == ["yes", "yes", "yes", "no"]
    assert table["mutations"].tolist() == ["no"] * 4
    assert table["labels_not_yet_assessable"].tolist() == ["no", "no", "no", "yes"]
    assert "labels_not_yet_assessable" not in cohort.coverage_table(["P1"], {"rna": RNA}, ["rna"]).columns
