"""On-treatment samples: change blocks, paired designs with known answers, and the planted demo change."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from trialomics import differential as dx
from trialomics import differential_proteins as dprot
from trialomics import differential_rna as drna
from trialomics import longitudinal
from trialomics.contrasts import Contrast, design_key
from trialomics.survival import baseline_matrix

from conftest import DEMO

PAIRED = Contrast(id="on_treatment", variable="timepoint", reference="baseline", target="C2D1",
                  pair_by="patient")


def _paired_obs(n_patients: int, only_baseline: tuple[str, ...] = ()) -> pd.DataFrame:
    rows = []
    for i in range(n_patients):
        patient = f"P{i:02d}"
        rows.append((f"{patient}-B", patient, "RUN1", "baseline"))
        if patient not in only_baseline:
            rows.append((f"{patient}-T", patient, "RUN1", "C2D1"))
    obs = pd.DataFrame(rows, columns=["sample_id", "patient_id", "batch", "timepoint"]).set_index("sample_id")
    obs["age"] = [50.0 + int(p[1:]) for p in obs["patient_id"]]
    return obs


# --- timepoints and the change block ----------------------------------------------------------------

def test_on_treatment_timepoint_is_the_earliest_by_natural_order_unless_configured():
    assert longitudinal.on_treatment_timepoint(["baseline", "C10D1", "C2D1", "C3D1", ""]) == "C2D1"
    assert longitudinal.on_treatment_timepoint(["baseline", "C10D1", "C2D1"], "C10D1") == "C10D1"
    assert longitudinal.on_treatment_timepoint(["baseline", ""]) is None


def test_paired_patient_count_counts_patients_at_both_timepoints():
    samples = pd.DataFrame({"patient_id": ["A", "A", "B", "C", "C"], "modality": ["rna"] * 4 + ["proteins"],
                            "timepoint": ["baseline", "C2D1", "baseline", "C2D1", "C2D1"]})
    assert longitudinal.paired_patient_count(samples, "rna", "C2D1") == 1
    assert longitudinal.paired_patient_count(samples, "proteins", "C2D1") == 0


def _toy_modality(obs: pd.DataFrame, values: np.ndarray) -> ad.AnnData:
    var = pd.DataFrame({"gene": [f"G{j}" for j in range(values.shape[1])]},
                       index=[f"f{j}" for j in range(values.shape[1])])
    return ad.AnnData(X=values, obs=obs[["patient_id", "batch", "timepoint"]].copy(), var=var)


def test_change_block_is_on_treatment_minus_baseline_per_patient():
    obs = _paired_obs(4, only_baseline=("P03",))
    values = np.arange(len(obs) * 2, dtype=float).reshape(len(obs), 2) ** 2
    block = longitudinal.change_block(_toy_modality(obs, values), "rna", "C2D1", min_pairs=3)
    assert list(block.obs["patient_id"]) == ["P00", "P01", "P02"]
    assert list(block.obs_names) == ["P00-T", "P01-T", "P02-T"]
    frame = pd.DataFrame(values, index=obs.index)
    for patient, row in zip(block.obs["patient_id"], block.X):
        expected = frame.loc[f"{patient}-T"] - frame.loc[f"{patient}-B"]
        np.testing.assert_array_equal(row, expected.to_numpy())
    np.testing.assert_array_equal(block.layers["on_treatment"] - block.layers["baseline"], block.X)
    assert list(block.var["gene"]) == ["G0", "G1"]
    # read like a baseline block by every patient-level analysis
    matrix = baseline_matrix(block, "rna_change")
    assert list(matrix.index) == ["P00", "P01", "P02"] and matrix.shape == (3, 2)
    assert set(block.obs["change_timepoint"]) == {"C2D1"}


def test_change_block_needs_min_pairs_and_one_sample_per_timepoint():
    obs = _paired_obs(3, only_baseline=("P02",))
    with pytest.raises(ValueError, match="2 patient.*at least 3"):
        longitudinal.change_block(_toy_modality(obs, np.zeros((len(obs), 2))), "rna", "C2D1", min_pairs=3)
    doubled = pd.concat([obs, obs.loc[["P00-T"]].rename(index={"P00-T": "P00-T2"})])
    with pytest.raises(ValueError, match="more than one C2D1 sample: P00"):
        longitudinal.change_block(_toy_modality(doubled, np.zeros((len(doubled), 2))), "rna", "C2D1")
    with pytest.raises(ValueError, match="no change block for modality 'mutations'"):
        longitudinal.change_block(_toy_modality(obs, np.zeros((len(obs), 2))), "mutations", "C2D1", min_pairs=1)


def test_change_tests_compare_the_change_between_response_groups():
    # the change of f0 is 1 in responders and 0 in the others (plus symmetric noise): effect exactly 1
    obs = _paired_obs(8)
    rng = np.random.default_rng(1)
    values = rng.normal(0, 1, (len(obs), 3)) + 5.0
    responders = {"P00", "P01", "P02", "P03"}
    noise = {"P00": 0.1, "P01": -0.1, "P02": 0.05, "P03": -0.05, "P04": 0.2, "P05": -0.2, "P06": 0.0, "P07": 0.0}
    for patient in obs["patient_id"].unique():
        values[obs.index.get_loc(f"{patient}-T"), 0] = (values[obs.index.get_loc(f"{patient}-B"), 0]
                                                        + (1.0 if patient in responders else 0.0) + noise[patient])
    block = longitudinal.change_block(_toy_modality(obs, values), "proteins", "C2D1")
    labels = pd.DataFrame({"patient_id": sorted(noise),
                           "responder": ["yes" if p in responders else "no" for p in sorted(noise)]})
    patients = pd.DataFrame({"patient_id": sorted(noise)})
    contrast = Contrast(id="responder", variable="responder", reference="no", target="yes")
    table = longitudinal.change_tests(block, labels, patients, [contrast])["responder"]
    top = table.iloc[0]
    assert top["feature"] == "f0" and top["effect"] == pytest.approx(1.0, abs=1e-12)
    assert top["n_target"] == 4 and top["n_reference"] == 4
    assert table["family"].str.contains("proteins_change x responder").all()
    assert table["effect_type"].str.startswith("difference of mean change (C2D1 minus baseline)").all()


def test_top_change_features_take_the_smallest_p_over_screens():
    screens = {"pfs": pd.DataFrame({"feature": ["a", "b", "c"], "pvalue": ["0.5", "0.01", ""]}),
               "responder": pd.DataFrame({"feature": ["a", "c"], "pvalue": [0.001, 0.2]})}
    top = longitudinal.top_change_features(screens, 2)
    assert list(top["feature"]) == ["a", "b"] and list(top["screen"]) == ["responder", "pfs"]
    assert top["best_pvalue"].tolist() == [0.001, 0.01]


def test_paired_plot_draws_one_panel_per_feature():
    obs = _paired_obs(4)
    block = longitudinal.change_block(_toy_modality(obs, np.arange(16.0).reshape(8, 2)), "rna", "C2D1")
    fig = longitudinal.plot_paired(block, ["f1", "f0"], pd.Series({"P00": "yes", "P01": "no"}), "t", "VST")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 2 and visible[0].get_title().startswith("f1")
    assert len(visible[0].lines) == 4


# --- paired designs -----------------------------------------------------------------------------------

def test_contrast_from_config_reads_pairing_and_sample_subset():
    contrast = Contrast.from_config({"id": "x", "variable": "timepoint", "reference": "baseline",
                                     "target": "C2D1", "pair_by": "patient",
                                     "samples": {"timepoint": ["baseline", "C2D1"]}})
    assert contrast.pair_by == "patient" and contrast.uses_timepoints
    assert contrast.samples == (("timepoint", ("baseline", "C2D1")),)
    assert design_key(contrast) != design_key(Contrast.from_config({**contrast.__dict__, "pair_by": None,
                                                                    "samples": {}}))
    assert "patient (paired)" in contrast.describe()


def test_paired_samples_keep_complete_pairs_and_the_subset():
    obs = _paired_obs(5, only_baseline=("P04",))
    kept = dx.contrast_samples(obs, PAIRED)
    assert "P04-B" not in kept and len(kept) == 8
    subset = Contrast(id="old", variable="timepoint", reference="baseline", target="C2D1", pair_by="patient",
                      samples=(("patient_id", ("P00", "P01", "P02")),))
    assert set(obs.loc[dx.contrast_samples(obs, subset), "patient_id"]) == {"P00", "P01", "P02"}
    frame = dx.design_frame(obs, PAIRED)
    assert list(frame.columns) == [dx.GROUP_COLUMN, dx.PAIR_COLUMN]
    assert drna.deseq2_formula(frame) == "~pair_block + group"


def test_paired_design_with_a_patient_covariate_is_not_full_rank():
    contrast = Contrast(id="on_treatment", variable="timepoint", reference="baseline", target="C2D1",
                        covariates=("age",), pair_by="patient")
    problems = dx.check_contrast(contrast, _paired_obs(5))
    assert len(problems) == 1 and "contrast 'on_treatment': the design is not full rank" in problems[0]
    assert "age" in problems[0] and "paired design already absorbs" in problems[0]


def test_paired_limma_recovers_an_exact_within_patient_shift():
    # large patient effects, on-treatment = baseline + 1 + noise summing to zero within the feature:
    # the paired estimate is exactly 1 and beats the unpaired test, whose variance holds the patient effects
    obs = _paired_obs(6)
    rng = np.random.default_rng(5)
    n_features = 30
    patient_effect = rng.normal(0, 3, (6, n_features))
    baseline = 10 + patient_effect + rng.normal(0, 0.2, (6, n_features))
    on = 10 + patient_effect + rng.normal(0, 0.2, (6, n_features))
    deviations = np.array([0.1, -0.1, 0.2, -0.2, 0.05, -0.05])
    on[:, 0] = baseline[:, 0] + 1.0 + deviations
    values = pd.DataFrame(np.empty((12, n_features)), index=obs.index, columns=[f"p{j}" for j in range(n_features)])
    values.loc[[f"P{i:02d}-B" for i in range(6)]] = baseline
    values.loc[[f"P{i:02d}-T" for i in range(6)]] = on
    paired = dprot.limma_results(values, obs, PAIRED).set_index("feature")
    unpaired = dprot.limma_results(values, obs, Contrast(id="u", variable="timepoint", reference="baseline",
                                                         target="C2D1")).set_index("feature")
    assert paired.loc["p0", "effect"] == pytest.approx(1.0, abs=1e-10)
    assert unpaired.loc["p0", "effect"] == pytest.approx(1.0, abs=1e-10)
    assert paired["pvalue"].idxmin() == "p0"
    assert paired.loc["p0", "pvalue"] < 1e-4 < unpaired.loc["p0", "pvalue"]
    # residual df of a paired design: 12 samples - (6 patient terms + 1 timepoint) = 5 per feature
    assert paired.loc["p0", "df_total"] >= 5


def test_paired_deseq2_recovers_a_doubling_within_patients():
    # counts of gene A double on treatment in every patient whose baseline levels differ 30-fold; the
    # other genes keep each patient's level with Poisson noise: the paired log2 fold change of A is 1
    rng = np.random.default_rng(11)
    n_patients, n_genes = 6, 200
    obs = _paired_obs(n_patients)
    level = np.exp(rng.normal(np.log(200), 1.0, n_genes))
    patient_scale = np.exp(rng.uniform(0, np.log(30), n_patients))
    counts = pd.DataFrame(0, index=obs.index, columns=["A"] + [f"g{j}" for j in range(1, n_genes)])
    for i in range(n_patients):
        mean = level * patient_scale[i] / 10
        base = rng.poisson(mean)
        on = rng.poisson(mean)
        on[0] = 2 * base[0]
        counts.loc[f"P{i:02d}-B"] = base
        counts.loc[f"P{i:02d}-T"] = on
    dds = drna.fit_deseq2(counts, obs, PAIRED, refit_cooks=False)
    assert "pair_block" in dds.uns["trialomics_contrast_design"]["formula"]
    table = drna.deseq2_results(dds, PAIRED, shrink=False).set_index("feature")
    assert table.loc["A", "effect"] == pytest.approx(1.0, abs=0.1)
    assert table["pvalue"].idxmin() == "A"


# --- the demo: the planted early change is recovered -----------------------------------------------------

@pytest.mark.e2e
def test_demo_planted_early_change_is_recovered(demo_run):
    """The shipped demo config pairs baseline and C2D1 samples (contrast on_treatment)."""
    truth = pd.read_csv(DEMO / "truth.tsv", sep="\t")
    planted = truth[truth["programme"] == "early_cytotoxic_activation"]
    assert set(planted["modality"]) == {"rna_change", "proteins_change"}
    results = demo_run / "results"
    for block, feature in zip(planted["modality"], planted["feature"]):
        # 4 responders among 17 pairs: the planted change ranks among the first of 20,000 RNA changes
        # (7th in the committed demo) and first of the proteins
        response = pd.read_csv(results / "longitudinal" / block / "responder.tsv", sep="\t")
        assert feature in list(response["feature"].head(10)), block
        assert response.set_index("feature").loc[feature, "effect"] > 1.0, block
        # The change follows tumour shrinkage, not PFS directly: among the first ten of the change screen
        # for PFS (10th of the RNA changes in the committed demo), with a protective hazard ratio.
        cox = pd.read_csv(results / "survival" / block / "pfs.univariate.tsv", sep="\t")
        assert feature in list(cox.sort_values("pvalue")["feature"].head(10)), block
        assert cox.set_index("feature").loc[feature, "hr"] < 1.0, block
        modality = block.removesuffix("_change")
        paired = pd.read_csv(results / "differential" / modality / "on_treatment.tsv", sep="\t")
        assert paired["feature"].iloc[0] == feature and paired["effect"].iloc[0] > 1.0, modality
    assert (results / "longitudinal" / "rna_change" / "plots" / "paired.png").stat().st_size > 0
