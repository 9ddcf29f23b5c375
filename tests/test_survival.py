"""Univariate survival screens: matrices, labels, prefilters, Cox, BH, log-rank and cut-points."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test
from statsmodels.stats.multitest import multipletests

from trialomics import survival


def simulated_cohort(seed: int = 0, n: int = 24, effect: float = 1.2):
    """Patients with one prognostic continuous feature (g0), noise, and one prognostic mutation."""
    rng = np.random.default_rng(seed)
    patients = [f"P{i:02d}" for i in range(n)]
    values = pd.DataFrame(rng.normal(size=(n, 6)), index=patients, columns=[f"g{j}" for j in range(6)])
    values.index.name = "patient_id"
    mutation = (np.arange(n) % 3 == 0).astype(float)
    values["KRAS"] = mutation
    hazard = np.exp(effect * values["g0"].to_numpy() + 1.0 * mutation)
    event_time = rng.exponential(12.0 / hazard)
    censor_time = rng.uniform(6.0, 30.0, n)
    outcome = pd.DataFrame({"time": np.minimum(event_time, censor_time), "event": event_time <= censor_time},
                           index=values.index)
    return values, outcome


def test_benjamini_hochberg_matches_hand_values_and_statsmodels():
    p = np.array([0.01, 0.04, 0.03, 0.2, np.nan])
    # Sorted 0.01, 0.03, 0.04, 0.2 (m = 4): 0.04, 0.06, 0.0533, 0.2 -> step-up minimum.
    expected = np.array([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.2, np.nan])
    np.testing.assert_allclose(survival.benjamini_hochberg(p), expected)
    rng = np.random.default_rng(3)
    q = rng.uniform(size=50) ** 3
    np.testing.assert_allclose(survival.benjamini_hochberg(q), multipletests(q, method="fdr_bh")[1])


def test_prefilter_rules_for_alterations_missingness_and_variance():
    n = 20
    values = np.zeros((n, 6))
    values[:1, 0] = 1          # altered in 1 patient: below min_altered = 2
    values[:2, 1] = 1          # altered in 2 = max(2, ceil(0.1 * 20)): kept
    values[:19, 2] = 1         # unaltered in 1 patient only: dropped
    values[:, 3] = np.linspace(0, 1, n)        # variance 0.0368
    values[:, 4] = np.linspace(0, 3, n)        # most variable
    values[:, 5] = np.linspace(0, 2, n)
    values[:11, 5] = np.nan                    # 55 % missing: dropped
    kinds = np.array(["binary", "binary", "binary", "continuous", "continuous", "continuous"])
    mask = survival.prefilter_mask(values, kinds, top_variance=1)
    assert mask.tolist() == [False, True, False, False, True, False]
    mask = survival.prefilter_mask(values, kinds, top_variance=None, max_missing=0.6)
    assert mask.tolist() == [False, True, False, True, True, True]
    # Ten per cent of 40 patients is 4: two altered patients are no longer enough.
    tall = np.vstack([values, values])
    tall[:, 1] = 0
    tall[:3, 1] = 1
    assert not survival.prefilter_mask(tall, kinds)[1]


def test_feature_kinds_and_modality_matrix_adds_tmb_and_uses_protein_log2():
    obs = pd.DataFrame({"patient_id": ["A", "B", "C"], "tmb_per_mb": ["1.5", "3.0", "12"]},
                       index=["s1", "s2", "s3"])
    mutations = ad.AnnData(X=np.array([[1, 0], [0, 0], [1, 1]], dtype=float), obs=obs,
                           var=pd.DataFrame(index=["KRAS", "TP53"]))
    table = survival.modality_matrix(mutations, "mutations")
    assert list(table.columns) == ["KRAS", "TP53", "TMB"]
    assert table.loc["C", "TMB"] == 12.0
    assert survival.feature_kinds(table).tolist() == ["binary", "binary", "continuous"]
    proteins = ad.AnnData(X=np.ones((3, 1)), obs=obs, var=pd.DataFrame(index=["CXCL9"]),
                          layers={"log2": np.array([[1.0], [np.nan], [3.0]])})
    assert np.isnan(survival.modality_matrix(proteins, "proteins").loc["B", "CXCL9"])


def test_endpoint_labels_exclude_missing_and_map_yes_no():
    obs = pd.DataFrame({"patient_id": ["A", "B", "C", "D"], "pfs_months": ["3.5", "", "7", "1"],
                        "pfs_event": ["1", "0", "0", ""], "responder": ["yes", "no", "", "NO"]})
    pfs = survival.endpoint_labels(obs, "pfs")
    assert pfs.index.tolist() == ["A", "C"]
    assert pfs["event"].tolist() == [True, False]
    assert survival.endpoint_labels(obs, "responder")["label"].to_dict() == {"A": 1, "B": 0, "D": 0}
    with pytest.raises(ValueError, match="unknown endpoint"):
        survival.endpoint_labels(obs, "orr")


def test_covariate_matrix_one_hot_codes_text_columns():
    obs = pd.DataFrame({"patient_id": ["A", "B", "C"], "age": ["60", "71", ""], "ecog": ["0", "1", "1"],
                        "sex": ["F", "M", "M"]})
    design = survival.covariate_matrix(obs, ["age", "sex"])
    assert list(design.columns) == ["age", "sex=M"]
    assert design.loc["B", "sex=M"] == 1.0 and np.isnan(design.loc["C", "age"])
    with pytest.raises(ValueError, match="stage"):
        survival.covariate_matrix(obs, ["stage"])


def test_univariate_cox_matches_direct_lifelines_fit_and_finds_planted_feature():
    values, outcome = simulated_cohort()
    kinds = survival.feature_kinds(values)
    table = survival.univariate_cox(values, kinds, outcome).set_index("feature")
    frame = outcome.assign(event=outcome["event"].astype(int),
                           x=(values["g0"] - values["g0"].mean()) / values["g0"].std(ddof=1))
    direct = CoxPHFitter().fit(frame, "time", "event").summary.loc["x"]
    assert table.loc["g0", "hr"] == pytest.approx(np.exp(direct["coef"]), rel=1e-6)
    assert table.loc["g0", "pvalue"] == pytest.approx(direct["p"], rel=1e-6)
    assert table.loc["g0", "scale"] == "per_sd" and table.loc["KRAS", "scale"] == "altered_vs_not"
    assert table.loc["g0", "hr"] > 1.5 and table["pvalue"].idxmin() == "g0"
    assert table.loc["g0", "ci_low"] < table.loc["g0", "hr"] < table.loc["g0", "ci_high"]
    np.testing.assert_allclose(table["padj"], multipletests(table["pvalue"], method="fdr_bh")[1])


def test_univariate_cox_never_crashes_on_constant_or_separated_features():
    values, outcome = simulated_cohort(seed=1)
    values["constant"] = 1.0
    # Altered exactly in the patients with the earliest events: complete separation.
    order = outcome.sort_values("time").index
    values["separated"] = 0.0
    values.loc[order[:4], "separated"] = 1.0
    outcome.loc[order[:4], "event"] = True
    kinds = survival.feature_kinds(values)
    table = survival.univariate_cox(values, kinds, outcome).set_index("feature")
    assert np.isnan(table.loc["constant", "hr"]) and table.loc["constant", "note"] == "constant feature"
    assert table.loc["constant", "method"] == "" and table.loc["constant", "separation"] == ""
    separated = table.loc["separated"]
    assert separated["n"] == len(values) and "separation" in separated["note"]
    assert separated["separation"] == "yes" and separated["method"] == "firth"
    # Four carriers (< exact_below_carriers = 5): exact log-rank p, the most extreme of C(24, 4)
    # carrier sets, doubled.
    assert separated["pvalue_method"] == "exact_logrank"
    assert separated["pvalue"] == pytest.approx(2 / 10626)
    assert np.isfinite(separated["hr"]) and 1 < separated["ci_low"] < separated["hr"] < separated["ci_high"]
    assert table.loc["g1", "pvalue_method"] == "wald" and table.loc["g1", "separation"] == "no"
    # Not sparse any more: the separated fit is tested by the penalised likelihood ratio.
    wider = survival.univariate_cox(values, kinds, outcome, exact_below_carriers=2).set_index("feature")
    assert wider.loc["separated", "pvalue_method"] == "penalised_likelihood_ratio"
    assert wider.loc["separated", "pvalue"] < 0.01 and wider.loc["separated", "separation"] == "yes"
    assert wider.loc["separated", "hr"] == pytest.approx(separated["hr"])


def test_univariate_cox_with_covariates_leaves_out_patients_missing_them():
    values, outcome = simulated_cohort()
    covariates = pd.DataFrame({"age": np.linspace(40, 80, len(values))}, index=values.index)
    covariates.iloc[0, 0] = np.nan
    table = survival.univariate_cox(values[["g0"]], survival.feature_kinds(values), outcome, covariates)
    assert table.loc[0, "n"] == len(values) - 1


def test_logrank_chi2_matches_lifelines_with_ties():
    rng = np.random.default_rng(5)
    time = rng.integers(1, 12, 30).astype(float)  # many tied times
    event = rng.random(30) < 0.7
    groups = rng.random((30, 3)) < 0.5
    ours = survival.logrank_chi2(time, event, groups)
    for j in range(3):
        g = groups[:, j]
        reference = logrank_test(time[g], time[~g], event[g], event[~g]).test_statistic
        assert ours[j] == pytest.approx(reference, rel=1e-9)


def test_prespecified_split_and_kaplan_meier_table():
    values, outcome = simulated_cohort()
    high, cut, value = survival.prespecified_split(values["g0"], "continuous")
    assert cut == "median" and high.sum() == len(values) // 2 and value == pytest.approx(values["g0"].median())
    altered, cut, _ = survival.prespecified_split(values["KRAS"], "binary")
    assert cut == "altered" and altered.sum() == values["KRAS"].sum()
    kinds = survival.feature_kinds(values)
    km = survival.kaplan_meier_table(values, kinds, outcome, ["g0", "KRAS"], n_permutations=50, seed=1)
    g0 = km.set_index("feature").loc["g0"]
    direct = logrank_test(outcome["time"][high], outcome["time"][~high], outcome["event"][high],
                          outcome["event"][~high]).p_value
    assert g0["logrank_p"] == pytest.approx(direct, rel=1e-12)
    for name, members in (("median_high", high), ("median_low", ~high)):
        median = KaplanMeierFitter().fit(outcome["time"][members], outcome["event"][members]).median_survival_time_
        assert (g0[name] == median) if np.isfinite(median) else np.isnan(g0[name])
    assert g0["exploratory_p_corrected"] >= g0["exploratory_p_uncorrected"]
    assert np.isnan(km.set_index("feature").loc["KRAS", "exploratory_cut"])


def test_exploratory_cutpoint_is_corrected_for_the_search_on_null_data():
    rng = np.random.default_rng(11)
    time, event, x = rng.exponential(10, 25), rng.random(25) < 0.7, rng.normal(size=25)
    result = survival.exploratory_cutpoint(time, event, x, n_permutations=200, seed=3)
    # The best of ~15 cuts looks better than it is; the permutation p-value pays for the search.
    assert result["n_cuts"] >= 10
    assert result["p_corrected"] > result["p_uncorrected"]
    again = survival.exploratory_cutpoint(time, event, x, n_permutations=200, seed=3)
    assert again == result



def cutpoint_cohort(seed: int):
    """Small cohorts with tied times (some heavily), censoring from light to heavy, tied feature values."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(6, 80))
    time = np.ceil(rng.exponential(10, n)) if seed % 2 else rng.exponential(10, n)
    if seed % 5 == 0:
        time = np.round(time / 5)
    event = rng.random(n) < rng.uniform(0.2, 1.0)
    x = np.round(rng.normal(size=n), int(rng.integers(0, 3)))
    return rng, time, event, x


def usable_cuts(x: np.ndarray) -> np.ndarray:
    splits = x[:, None] > np.unique(x)[:-1][None, :]
    sizes, smallest = splits.sum(axis=0), max(2, int(np.ceil(0.2 * len(x))))
    return (sizes >= smallest) & (len(x) - sizes >= smallest)


@pytest.mark.parametrize("seed", range(0, 240, 8))
def test_a_permutations_largest_chi2_in_n_log_n_equals_the_risk_set_statistics(seed):
    # The kernel's sums (martingale residuals, Fenwick trees over the cumulative weights) against
    # logrank_chi2's event times x patients x cuts products, NaN (no variance) included.
    for offset in range(8):
        rng, time, event, x = cutpoint_cohort(seed + offset)
        usable = usable_cuts(x)
        if not usable.any():
            continue
        splits = (x[:, None] > np.unique(x)[:-1][None, :])[:, usable]
        largest = survival._permuted_largest_chi2(time, event, x, usable)
        for _ in range(10):
            order = rng.permutation(len(x))
            statistics = survival.logrank_chi2(time[order], event[order], splits)
            expected = np.nan if np.isnan(statistics).all() else np.nanmax(statistics)
            assert largest(order) == pytest.approx(expected, rel=1e-12, nan_ok=True)


@pytest.mark.parametrize("seed", [4, 6, 7, 21])
def test_a_cut_without_variance_has_no_statistic_in_the_permutations_either(seed):
    # The high group is the patients with the latest times and every event is theirs: at each event time
    # they alone are at risk (zero variance, no statistic). The kernel's variance, a difference of sums, is
    # then ~1e-16 rather than 0 (a chi-square of ~1e-15 without the exact rule); logrank_chi2's is 0.
    rng = np.random.default_rng(seed)
    n = int(rng.integers(8, 60))
    time = np.sort(np.round(rng.exponential(10, n), int(rng.integers(0, 3))))
    first = int(rng.integers(2, n - 2))
    event = (np.arange(n) >= first) & (rng.random(n) < 0.8)
    x = np.arange(n, dtype=float)
    usable = np.arange(n - 1) == first - 1
    splits = (x[:, None] > np.unique(x)[:-1][None, :])[:, usable]
    assert np.isnan(survival.logrank_chi2(time, event, splits)).all()
    assert np.isnan(survival._permuted_largest_chi2(time, event, x, usable)(np.arange(n)))


@pytest.mark.parametrize("seed", [1, 2, 3, 5, 10])
def test_exploratory_cutpoints_corrected_p_equals_the_search_by_risk_set_statistics(seed):
    rng, time, event, x = cutpoint_cohort(seed)
    result = survival.exploratory_cutpoint(time, event, x, n_permutations=300, seed=seed)
    splits = (x[:, None] > np.unique(x)[:-1][None, :])[:, usable_cuts(x)]
    observed = np.nanmax(survival.logrank_chi2(time, event, splits))
    draws = np.random.default_rng(seed)
    exceed = sum(np.nanmax(survival.logrank_chi2(time[order], event[order], splits)) >= observed - 1e-12
                 for order in (draws.permutation(len(x)) for _ in range(300)))
    assert result["chi2"] == observed and result["p_corrected"] == (1 + exceed) / 301

def test_screen_modality_orders_by_p_and_labels_the_family():
    values, outcome = simulated_cohort()
    obs = pd.DataFrame({"patient_id": values.index, "pfs_months": outcome["time"].astype(str).to_numpy(),
                        "pfs_event": outcome["event"].astype(int).astype(str).to_numpy()})
    table, km = survival.screen_modality(values, obs, "rna", "pfs", top_variance=4, n_km_features=2,
                                         n_permutations=20)
    # KRAS is binary (kept by prevalence); 4 of the 6 continuous features are kept by variance.
    assert len(table) == 5 and "KRAS" in set(table["feature"])
    assert table["pvalue"].is_monotonic_increasing
    assert set(table["family"]) == {"rna/pfs"}
    assert list(table.columns[:6]) == ["feature", "hr", "ci_low", "ci_high", "pvalue", "padj"]
    assert km["feature"].tolist() == table["feature"].head(2).tolist()
