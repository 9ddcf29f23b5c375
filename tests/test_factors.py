"""MOFA+ factors on patient-aligned blocks with missing modalities, and their exploratory screen."""
import numpy as np
import pandas as pd
import pytest

from trialomics import factors

PATIENTS = [f"P{i:02d}" for i in range(24)]


def planted_blocks(seed=12):
    """RNA, proteins and mutations sharing one programme; proteins missing for 4 patients and mutations
    for 3 others, as whole modalities."""
    rng = np.random.default_rng(seed)
    programme = rng.normal(size=len(PATIENTS))
    rna = pd.DataFrame(rng.normal(size=(24, 40)) * 0.5, index=PATIENTS, columns=[f"G{j}" for j in range(40)])
    rna.iloc[:, :12] += programme[:, None]
    proteins = pd.DataFrame(rng.normal(size=(24, 20)) * 0.5, index=PATIENTS, columns=[f"A{j}" for j in range(20)])
    proteins.iloc[:, :6] += programme[:, None]
    chance = 1 / (1 + np.exp(-3 * programme[:, None] * np.r_[np.ones(6), np.zeros(14)]))
    mutations = pd.DataFrame((rng.random((24, 20)) < chance).astype(float), index=PATIENTS,
                             columns=[f"M{j}" for j in range(20)])
    mutations["TMB"] = rng.uniform(1, 20, size=24)
    blocks = {"rna": rna, "proteins": proteins.drop(index=PATIENTS[:4]),
              "mutations": mutations.drop(index=PATIENTS[-3:])}
    return blocks, pd.Series(programme, index=PATIENTS)


@pytest.fixture(scope="module")
def fitted():
    blocks, programme = planted_blocks()
    return factors.mofa_factors(blocks, n_factors=3, seed=7), programme


def test_views_are_patient_aligned_with_missing_rows_and_a_bernoulli_mutation_view():
    blocks, _ = planted_blocks()
    views = factors.prepare_views(blocks, top_variance=None)
    assert list(views) == ["rna", "proteins", "mutations"]
    for view in views.values():
        assert view.values.index.tolist() == PATIENTS
    assert views["proteins"].values.loc[PATIENTS[:4]].isna().all().all()
    assert views["proteins"].n_patients == 20 and views["mutations"].n_patients == 21
    assert [v.likelihood for v in views.values()] == ["gaussian", "gaussian", "bernoulli"]
    # TMB restates the alterations and is not a Bernoulli feature.
    assert "TMB" not in views["mutations"].values.columns
    assert set(np.unique(views["mutations"].values.to_numpy()[:-3])) <= {0.0, 1.0}
    # Gaussian features are z-scored over the patients that have the modality.
    observed = views["proteins"].values.dropna()
    np.testing.assert_allclose(observed.mean(), 0.0, atol=1e-12)
    np.testing.assert_allclose(observed.std(ddof=1), 1.0)


def test_top_variance_keeps_the_most_variable_continuous_features():
    blocks, _ = planted_blocks()
    views = factors.prepare_views(blocks, top_variance=5)
    rna = blocks["rna"]
    assert sorted(views["rna"].values.columns) == sorted(rna.var(ddof=1).nlargest(5).index)


def test_every_patient_gets_scores_and_the_first_factor_is_the_programme(fitted):
    model, programme = fitted
    assert model.scores.index.tolist() == PATIENTS
    assert model.scores.columns.tolist() == ["factor_1", "factor_2", "factor_3"]
    assert not model.scores.isna().any().any()
    assert abs(np.corrcoef(model.scores["factor_1"], programme)[0, 1]) > 0.9
    # Patients missing proteins or mutations are placed by the blocks they have.
    missing = PATIENTS[:4] + PATIENTS[-3:]
    assert abs(np.corrcoef(model.scores.loc[missing, "factor_1"], programme[missing])[0, 1]) > 0.8


def test_loadings_point_at_the_planted_features_with_a_fixed_sign(fitted):
    model, _ = fitted
    first = model.loadings[model.loadings["factor"] == "factor_1"]
    assert list(model.loadings.columns) == factors.LOADING_COLUMNS
    assert first.loc[first["loading"].abs().idxmax(), "loading"] > 0
    rna = first[first["modality"] == "rna"].set_index("feature")["loading"].abs()
    assert set(rna.nlargest(10).index) <= {f"G{j}" for j in range(12)}


def test_variance_explained_per_view_and_factor(fitted):
    model, _ = fitted
    table = model.variance_explained
    assert list(table.columns) == factors.VARIANCE_COLUMNS
    assert table.groupby("modality", sort=False).size().tolist() == [4, 4, 4]
    per_factor = table[table["factor"] != factors.TOTAL].pivot(index="modality", columns="factor",
                                                             values="variance_explained")
    # Factors are ordered by the variance they explain over all views.
    sums = per_factor.sum()
    assert sums.is_monotonic_decreasing
    assert (per_factor["factor_1"] > 0.2).all()
    total = table[table["factor"] == factors.TOTAL].set_index("modality")["variance_explained"]
    assert (total <= 1.0).all() and (total >= per_factor.max(axis=1).loc[total.index] - 1e-9).all()
    assert set(table["seed"]) == {7}
    assert table.set_index(["modality", "factor"]).loc[("mutations", "total"), "likelihood"] == "bernoulli"


def test_same_seed_gives_identical_factors():
    blocks, _ = planted_blocks()
    first = factors.mofa_factors(blocks, n_factors=3, seed=7)
    again = factors.mofa_factors(blocks, n_factors=3, seed=7)
    pd.testing.assert_frame_equal(first.scores, again.scores)
    pd.testing.assert_frame_equal(first.variance_explained, again.variance_explained)


def test_no_usable_view_gives_empty_tables():
    constant = pd.DataFrame(np.ones((5, 3)) * 2.0, index=PATIENTS[:5], columns=["a", "b", "c"])
    model = factors.mofa_factors({"rna": constant})
    assert model.scores.shape[1] == 0 and model.loadings.empty and model.variance_explained.empty


def test_screen_is_exploratory_and_skips_unknown_labels(fitted):
    model, programme = fitted
    rng = np.random.default_rng(3)
    responder = np.where(programme > 0, "yes", "no").astype(object)
    responder[:2] = ""  # not yet assessable
    obs = pd.DataFrame({"patient_id": PATIENTS, "responder": responder,
                        "pfs_months": rng.uniform(1, 20, 24).astype(str), "pfs_event": ["1"] * 24})
    screen = factors.screen_factors(model.scores, obs, ["responder", "pfs"])
    assert list(screen.columns) == factors.SCREEN_COLUMNS
    assert set(screen["analysis"]) == {"exploratory"}
    first = screen[(screen["endpoint"] == "responder") & (screen["factor"] == "factor_1")].iloc[0]
    assert first["n"] == 22 and first["pvalue"] < 0.01
    assert abs(first["effect"] - 0.5) > 0.35
    assert screen[screen["endpoint"] == "pfs"]["effect_type"].unique().tolist() == ["hr_per_sd"]
