"""Tests of trialomics.differential, its modality modules (differential_rna, differential_proteins,
differential_alterations) and its figures on small simulated data with known answers."""
from math import comb

import matplotlib.figure
import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special, stats

from trialomics import differential as dx
from trialomics import differential_alterations as dalt
from trialomics import differential_proteins as dprot
from trialomics import differential_rna as drna
from trialomics import differential_plots as dplots
from trialomics.multitest import benjamini_hochberg


def make_obs(n_per_group=6, seed=0):
    rng = np.random.default_rng(seed)
    n = 2 * n_per_group
    samples = [f"S{i:02d}" for i in range(n)]
    return pd.DataFrame({
        "patient_id": [f"P{i:02d}" for i in range(n)],
        "responder": ["no"] * n_per_group + ["yes"] * n_per_group,
        "bor": ["PD", "SD"] * (n_per_group // 2) + ["PR", "CR"] * (n_per_group // 2),
        "age": [f"{a:.1f}" for a in rng.normal(60, 8, n)],
        "sex": ["F", "M"] * n_per_group,
        "batch": ["A", "A", "B"] * (n // 3),
        "timepoint": "baseline",
    }, index=samples)


RESPONDER = dx.Contrast("responder", "responder", "no", "yes")


# ------------------------------------------------------------------ contrasts and design


def test_contrast_from_config_reads_batch_flag_and_covariates():
    contrast = dx.Contrast.from_config({"id": "r", "variable": "responder", "reference": "no",
                                        "target": "yes", "covariates": ["age"], "batch": True})
    assert contrast.covariates == ("age",)
    assert contrast.batch == "batch"
    assert dx.Contrast.from_config({"id": "r", "variable": "v", "reference": "a",
                                    "target": "b"}).batch == ""


def test_contrasts_sharing_variable_reference_and_covariates_share_one_design():
    contrasts = [dx.Contrast("pr_vs_pd", "bor", "PD", "PR"), dx.Contrast("cr_vs_pd", "bor", "PD", "CR"),
                 dx.Contrast("responder", "responder", "no", "yes"),
                 dx.Contrast("pr_vs_pd_age", "bor", "PD", "PR", ("age",))]
    assert dx.group_contrasts_by_design(contrasts) == {
        "pr_vs_pd": ["pr_vs_pd", "cr_vs_pd"], "responder": ["responder"],
        "pr_vs_pd_age": ["pr_vs_pd_age"]}


def test_check_contrast_accepts_a_valid_design():
    contrast = dx.Contrast("r", "responder", "no", "yes", ("age", "sex"), "batch")
    assert dx.check_contrast(contrast, make_obs()) == []


@pytest.mark.parametrize("contrast, fragment", [
    (dx.Contrast("c1", "responder", "no", "maybe"), "level 'maybe' of 'responder' has 0 patient"),
    (dx.Contrast("c2", "responder", "no", "yes", ("ecog",)), "covariate 'ecog' is not a column"),
    (dx.Contrast("c3", "response_group", "no", "yes"), "variable 'response_group' is neither"),
    (dx.Contrast("c4", "responder", "yes", "yes"), "reference and target are the same"),
    (dx.Contrast("c5", "responder", "no", "yes", (), "plate"), "batch column 'plate' does not exist"),
])
def test_check_contrast_names_the_contrast_and_the_problem(contrast, fragment):
    problems = dx.check_contrast(contrast, make_obs())
    assert len(problems) == 1
    assert problems[0].startswith(f"contrast '{contrast.id}'")
    assert fragment in problems[0]


def test_check_contrast_requires_enough_patients_per_level():
    obs = make_obs()
    obs["responder"] = ["no"] * 11 + ["yes"]
    problems = dx.check_contrast(RESPONDER, obs, min_per_level=3)
    assert problems == ["contrast 'responder': level 'yes' of 'responder' has 1 patient(s) with "
                        "data; at least 3 are needed"]


def test_check_contrast_detects_a_covariate_confounded_with_the_variable():
    obs = make_obs()
    obs["arm"] = obs["responder"].map({"no": "control", "yes": "treated"})
    problems = dx.check_contrast(dx.Contrast("r", "responder", "no", "yes", ("arm",)), obs)
    assert len(problems) == 1
    assert "not full rank" in problems[0]
    assert "responder = yes" in problems[0] and "arm = treated" in problems[0]
    with pytest.raises(ValueError, match="contrast 'r'"):
        dx.require_valid_contrast(dx.Contrast("r", "responder", "no", "yes", ("arm",)), obs)


def test_samples_with_a_missing_label_are_left_out():
    obs = make_obs()
    obs.loc["S00", "responder"] = ""
    obs.loc["S11", "age"] = ""
    contrast = dx.Contrast("r", "responder", "no", "yes", ("age",))
    frame = dx.design_frame(obs, contrast)
    assert list(frame.index) == [f"S{i:02d}" for i in range(1, 11)]
    assert list(frame["group"].cat.categories) == ["no", "yes"]
    assert frame["covariate_1"].dtype == float


def test_design_matrix_puts_the_reference_level_in_the_intercept():
    obs = make_obs()
    frame = dx.design_frame(obs, dx.Contrast("r", "responder", "yes", "no", ("sex",)))
    matrix = dx.design_matrix(frame)
    assert list(matrix.columns) == ["Intercept", "group[T.no]", "covariate_1[T.M]"]
    assert matrix["group[T.no]"].tolist() == [1.0] * 6 + [0.0] * 6


# ------------------------------------------------------------------ multiple testing


def test_benjamini_hochberg_matches_a_hand_computed_example():
    # sorted p: 0.005, 0.01, 0.03, 0.04 (m = 4) -> p*m/rank: 0.02, 0.02, 0.04, 0.04, then the
    # running minimum from the top keeps them.
    adjusted = benjamini_hochberg([0.01, 0.04, 0.03, 0.005, np.nan])
    np.testing.assert_allclose(adjusted[:4], [0.02, 0.04, 0.04, 0.02])
    assert np.isnan(adjusted[4])


def test_benjamini_hochberg_agrees_with_scipy_and_caps_at_one():
    p = np.random.default_rng(3).uniform(size=200) ** 2
    np.testing.assert_allclose(benjamini_hochberg(p), stats.false_discovery_control(p))
    assert benjamini_hochberg([0.9, 0.95]).max() <= 1.0


# ------------------------------------------------------------------ exact tests


def conditional_mle_odds_ratio(a, n_target, altered_total, n_total):
    """Solve E[a | margins; psi] = a for the non-central hypergeometric (independent of scipy)."""
    ks = np.arange(max(0, altered_total - (n_total - n_target)), min(n_target, altered_total) + 1)
    base = np.array([comb(n_target, k) * comb(n_total - n_target, altered_total - k) for k in ks],
                    dtype=float)

    def mean_minus_observed(log_psi):
        weights = base * np.exp(ks * log_psi)
        return (ks * weights).sum() / weights.sum() - a

    return float(np.exp(optimize.brentq(mean_minus_observed, -20, 20, xtol=1e-12)))


def test_fisher_exact_test_matches_hand_values():
    # target 4/5 altered, reference 1/6. With margins (5 altered of 11, 5 in target),
    # P(X = k) = C(5,k) C(6,5-k) / 462: k=0..5 -> 6, 75, 200, 150, 30, 1. Two-sided p sums the
    # tables no more likely than the observed one (k = 4): (6 + 30 + 1) / 462.
    result = dalt.fisher_exact_test(4, 5, 1, 6)
    assert result["pvalue"] == pytest.approx(37 / 462, rel=1e-12)
    assert result["odds_ratio"] == pytest.approx(conditional_mle_odds_ratio(4, 5, 5, 11), rel=1e-6)
    # Haldane-Anscombe: (4.5 * 5.5) / (1.5 * 1.5) = 11
    assert result["log_odds_ratio"] == pytest.approx(np.log(11.0))
    assert result["ci_low"] < result["odds_ratio"] < result["ci_high"]


def test_exact_tests_filter_rare_genes_and_report_counts():
    obs = make_obs()
    altered = pd.DataFrame(0.0, index=obs.index, columns=["TP53", "KRAS", "RARE"])
    altered.loc[["S06", "S07", "S08", "S09", "S10"], "TP53"] = 1.0   # 5/6 responders
    altered.loc[["S00", "S06"], "KRAS"] = 1.0
    altered.loc["S03", "RARE"] = 1.0
    altered.loc["S01", "KRAS"] = np.nan
    table = dalt.exact_tests(altered, obs, RESPONDER, "mutations", min_altered=2)
    assert list(table["feature"]) == ["TP53", "KRAS"]
    tp53 = table.iloc[0]
    assert (tp53["altered_target"], tp53["n_target"], tp53["altered_reference"],
            tp53["n_reference"]) == (5, 6, 0, 6)
    assert tp53["pvalue"] == pytest.approx(stats.fisher_exact([[5, 1], [0, 6]]).pvalue)
    assert tp53["stat"] > 0 and tp53["effect"] > 0
    assert table.iloc[1]["n_reference"] == 5          # the unassessed sample is left out
    np.testing.assert_allclose(table["padj"], stats.false_discovery_control(table["pvalue"]))
    assert table["family"].iloc[0].startswith("Benjamini-Hochberg within mutations x responder")


def test_copy_number_alterations_split_gains_and_losses():
    calls = pd.DataFrame({"MYC": [2, 1, 0, np.nan], "CDKN2A": [-2, -1, 0, 0]},
                         index=["a", "b", "c", "d"])
    any_level = dalt.copy_number_alterations(calls, min_level=1)
    assert list(any_level.columns) == ["CDKN2A:gain", "CDKN2A:loss", "MYC:gain", "MYC:loss"]
    assert any_level["MYC:gain"].tolist()[:3] == [1.0, 1.0, 0.0]
    assert np.isnan(any_level.loc["d", "MYC:gain"])
    deep = dalt.copy_number_alterations(calls, min_level=2)
    assert deep["CDKN2A:loss"].tolist() == [1.0, 0.0, 0.0, 0.0]


def test_tmb_comparison_counts_u_by_hand():
    obs = make_obs()
    obs["tmb_per_mb"] = [1, 2, 3, 4, 5, 6, 3.5, 7, 8, 9, 10, 11]
    row = dalt.tmb_comparison(obs, RESPONDER).iloc[0]
    # U of the target group: pairs (target > reference); 3.5 beats 1,2,3 -> 3; the other five
    # target values beat all six -> 30. U = 33 of 36.
    assert row["u_statistic"] == 33
    assert row["median_target"] == pytest.approx(8.5)
    assert row["pvalue"] == pytest.approx(stats.mannwhitneyu(
        [3.5, 7, 8, 9, 10, 11], [1, 2, 3, 4, 5, 6]).pvalue)
    assert row["method"].endswith("exact")


# ------------------------------------------------------------------ proteins: moderated t

# Six features x six samples (three per group). Reference values from R limma 3.x:
# fit <- eBayes(lmFit(y, cbind(1, c(0,0,0,1,1,1)))).
LIMMA_VALUES = np.array([
    [5.1, 4.8, 5.3, 6.2, 6.0, 6.5],
    [3.2, 3.9, 3.5, 3.4, 3.1, 3.8],
    [7.0, 7.4, 6.8, 7.1, 7.3, 6.9],
    [2.0, 2.9, 2.4, 3.6, 3.1, 3.3],
    [4.4, 4.1, 4.9, 4.0, 4.6, 4.2],
    [6.1, 5.2, 6.8, 5.9, 6.6, 5.0]])
LIMMA_R_T = [3.579583986634496, -0.301057966617143, 0.102164188428694, 2.701157385487585,
             -0.601184409956237, -0.523570847202930]
LIMMA_R_P = [0.00151245732789378, 0.76596313718660225, 0.91947516249251815, 0.01247353749160627,
             0.55335356392796209, 0.60537846303089649]


def limma_design():
    samples = [f"s{i}" for i in range(6)]
    return pd.DataFrame({"Intercept": 1.0, "g": [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]}, index=samples)


def test_moderated_t_matches_r_limma():
    design = limma_design()
    values = pd.DataFrame(LIMMA_VALUES.T, index=design.index, columns=[f"f{i}" for i in range(1, 7)])
    result = dprot.moderated_t_test(values, design, "g")
    np.testing.assert_allclose(result["stat"], LIMMA_R_T, rtol=1e-6)
    np.testing.assert_allclose(result["pvalue"], LIMMA_R_P, rtol=1e-6)
    assert result["df_prior"].iloc[0] == pytest.approx(34.9660740696185, rel=1e-6)
    assert result["s2_prior"].iloc[0] == pytest.approx(0.170320756108832, rel=1e-6)


def test_moderated_t_follows_smyth_formulas():
    """OLS by hand, hyperparameters by limma's fitFDist moment equations, then Smyth (2004)."""
    rng = np.random.default_rng(5)
    design = pd.DataFrame({"Intercept": 1.0, "g": [0.0] * 5 + [1.0] * 5},
                          index=[f"s{i}" for i in range(10)])
    scales = np.exp(rng.normal(0, 0.6, size=40))
    values = pd.DataFrame(rng.normal(size=(10, 40)) * scales, index=design.index,
                          columns=[f"p{i}" for i in range(40)])
    x = design.to_numpy()
    beta, *_ = np.linalg.lstsq(x, values.to_numpy(), rcond=None)
    residuals = values.to_numpy() - x @ beta
    d = 10 - 2
    s2 = (residuals ** 2).sum(axis=0) / d
    # fitFDist: e = log s2 - digamma(d/2) + log(d/2); var(e) - trigamma(d/2) = trigamma(d0/2)
    e = np.log(s2) - special.digamma(d / 2) + np.log(d / 2)
    excess = e.var(ddof=1) - special.polygamma(1, d / 2)
    assert excess > 0
    d0 = 2 * optimize.brentq(lambda h: special.polygamma(1, h) - excess, 1e-8, 1e8)
    s0 = np.exp(e.mean() + special.digamma(d0 / 2) - np.log(d0 / 2))
    s2_post = (d0 * s0 + d * s2) / (d0 + d)
    unscaled = np.sqrt(np.linalg.inv(x.T @ x)[1, 1])
    t = beta[1] / (np.sqrt(s2_post) * unscaled)
    p = 2 * stats.t.sf(np.abs(t), d + d0)
    result = dprot.moderated_t_test(values, design, "g")
    assert result["df_prior"].iloc[0] == pytest.approx(d0, rel=1e-5)
    np.testing.assert_allclose(result["stat"], t, rtol=1e-5)
    np.testing.assert_allclose(result["pvalue"], p, rtol=1e-5)


def test_limma_results_recover_a_planted_protein_with_missing_values():
    obs = make_obs()
    rng = np.random.default_rng(11)
    values = pd.DataFrame(rng.normal(size=(12, 60)), index=obs.index,
                          columns=[f"PROT{i}" for i in range(60)])
    values.iloc[6:, 0] += 3.0
    values.iloc[0, 5] = np.nan
    values.iloc[[0, 1, 2, 3, 4], 7] = np.nan          # observed once in the reference group
    contrast = dx.Contrast("responder", "responder", "no", "yes", ("age",), "batch")
    table = dprot.limma_results(values, obs, contrast)
    assert table["feature"].iloc[0] == "PROT0"
    assert table["effect"].iloc[0] == pytest.approx(3.0, abs=1.2)
    assert table["padj"].iloc[0] < 0.05
    untested = table.set_index("feature").loc["PROT7"]
    assert np.isnan(untested["pvalue"]) and untested["n_reference"] == 1
    assert table.set_index("feature").loc["PROT5", "n_reference"] == 5
    assert table["padj"].notna().sum() == 59


# ------------------------------------------------------------------ RNA: pydeseq2


def simulated_counts(obs, planted=("GENE0", 4.0), n_genes=120, seed=2):
    rng = np.random.default_rng(seed)
    means = rng.gamma(2.0, 150.0, size=n_genes)
    target = (obs["responder"] == "yes").to_numpy()
    counts = np.empty((len(obs), n_genes), dtype=np.int64)
    for j in range(n_genes):
        mu = np.full(len(obs), means[j])
        if j == 0:
            mu = mu * np.where(target, planted[1], 1.0)
        counts[:, j] = rng.negative_binomial(8, 8 / (8 + mu))
    return pd.DataFrame(counts, index=obs.index, columns=[f"GENE{j}" for j in range(n_genes)])


def test_deseq2_recovers_a_planted_gene_with_its_sign():
    obs = make_obs()
    counts = simulated_counts(obs)
    contrast = dx.Contrast("responder", "responder", "no", "yes", ("sex",))
    dds = drna.fit_deseq2(counts, obs, contrast, n_cpus=1)
    table = drna.deseq2_results(dds, contrast, shrink=True)
    top = table.iloc[0]
    assert top["feature"] == "GENE0"
    assert top["effect"] == pytest.approx(2.0, abs=0.6)          # log2(4)
    assert 0 < top["effect_shrunk"] <= top["effect"] + 1e-9
    assert top["padj"] < 0.01 and top["stat"] > 0
    assert (top["n_reference"], top["n_target"]) == (6, 6)
    assert list(table.columns[:7]) == ["feature", "effect", "effect_shrunk", "se", "stat", "pvalue",
                                       "padj"]
    # The same counts with the levels swapped give the opposite fold change.
    swapped = dx.Contrast("non_responder", "responder", "yes", "no", ("sex",))
    reverse = drna.deseq2_results(drna.fit_deseq2(counts, obs, swapped), swapped, shrink=False)
    assert reverse.set_index("feature").loc["GENE0", "effect"] == pytest.approx(-top["effect"],
                                                                                 abs=1e-6)
    assert "effect_shrunk" not in reverse.columns
    with pytest.raises(ValueError, match="does not share the fitted design"):
        drna.deseq2_results(dds, swapped)


# ------------------------------------------------------------------ figures


def test_plots_return_figures():
    obs = make_obs()
    obs["tmb_per_mb"] = np.linspace(1, 12, 12)
    table = pd.DataFrame({"feature": [f"G{i}" for i in range(30)],
                          "effect": np.linspace(-3, 3, 30), "pvalue": np.linspace(1e-5, 1, 30),
                          "base_mean": np.linspace(10, 1000, 30)})
    table["padj"] = benjamini_hochberg(table["pvalue"])
    table["effect_shrunk"] = table["effect"] / 2
    values = pd.DataFrame(np.random.default_rng(0).normal(size=(12, 30)), index=obs.index,
                          columns=table["feature"])
    altered = pd.DataFrame((np.random.default_rng(1).uniform(size=(12, 8)) < 0.3).astype(float),
                           index=obs.index, columns=[f"M{i}" for i in range(8)])
    prerank = pd.DataFrame({"gene_set": ["A", "B"], "size": [10, 20], "nes": [2.0, -1.0],
                            "pvalue": [0.001, 0.4], "fdr": [0.002, 0.5]})
    figures = [
        dplots.plot_volcano(table, "volcano", "log2 fold change"),
        dplots.plot_ma(table, "MA"),
        dplots.plot_top_heatmap(values, list(table["feature"][:10]), obs, "responder", ["no", "yes"],
                                "heatmap"),
        dplots.plot_tmb_box(obs, "responder", ["no", "yes"], "TMB", pvalue=0.2),
        dplots.plot_oncoprint(altered, obs, 5, "oncoprint", "responder", ["no", "yes"]),
        dplots.plot_enrichment_dots(prerank, "dots"),
        dplots.plot_running_scores({"A": {"running": np.array([0.1, 0.3, 0.2]), "hits": [0, 1],
                                          "es": 0.3, "nes": 2.0, "fdr": 0.01}}, "running"),
    ]
    for figure in figures:
        assert isinstance(figure, matplotlib.figure.Figure)
        matplotlib.pyplot.close(figure)


def test_proteins_are_tested_on_the_uncorrected_log2_layer_the_screens_and_models_read():
    import anndata as ad

    from trialomics.survival import modality_matrix

    adata = ad.AnnData(np.zeros((3, 2)), obs=pd.DataFrame({"patient_id": ["a", "b", "c"]},
                                                          index=["s1", "s2", "s3"]),
                       layers={"log2": np.ones((3, 2)), "log2_batch_corrected": np.full((3, 2), 2.0)})
    assert (dprot.protein_log2_values(adata).to_numpy() == 1.0).all()
    assert (modality_matrix(adata, "proteins").to_numpy() == 1.0).all()


def test_batch_joins_the_protein_design_when_the_contrast_spans_batches():
    obs = make_obs()
    contrast, note = dprot.protein_contrast(RESPONDER, obs, batch_in_design=True)
    assert contrast.batch == "batch" and note == "batch in the design (2 batches)"
    unchanged, note = dprot.protein_contrast(RESPONDER, obs, batch_in_design=False)
    assert unchanged == RESPONDER and "batch_correction: none" in note
    one_batch = obs.assign(batch="A")
    assert dprot.protein_contrast(RESPONDER, one_batch, batch_in_design=True)[0] == RESPONDER
    confounded = obs.assign(batch=obs["responder"].map({"no": "A", "yes": "B"}))
    contrast, note = dprot.protein_contrast(RESPONDER, confounded, batch_in_design=True)
    assert contrast == RESPONDER and "confounded" in note
    own = dx.Contrast("r", "responder", "no", "yes", batch="sex")
    assert dprot.protein_contrast(own, obs, batch_in_design=True)[0] == own


def test_linear_model_fits_match_inmoose_lmfit_with_missing_values():
    from inmoose.limma import lmFit

    rng = np.random.default_rng(3)
    obs = make_obs(n_per_group=12)
    design = dx.design_matrix(dx.design_frame(obs, dx.Contrast("r", "responder", "no", "yes", ("age",),
                                                               "batch")))
    values = rng.normal(size=(24, 30))
    values[rng.random(values.shape) < 0.15] = np.nan
    column = list(design.columns).index("group[T.yes]")
    ours = dprot.linear_model_fits(values, design.to_numpy(), column)
    theirs = lmFit(pd.DataFrame(values.T), design)
    np.testing.assert_allclose(ours["beta"], np.asarray(theirs.coefficients)[:, column], rtol=1e-10)
    np.testing.assert_allclose(ours["unscaled"], np.asarray(theirs.stdev_unscaled)[:, column], rtol=1e-10)
    np.testing.assert_allclose(ours["sigma"], np.asarray(theirs.sigma), rtol=1e-10)
    np.testing.assert_array_equal(ours["df_residual"], np.asarray(theirs.df_residual))


def test_a_protein_measured_in_one_batch_is_fitted_without_the_batch_term():
    """R's lm.fit drops the aliased batch coefficient; the group effect is then the one-batch fit's."""
    rng = np.random.default_rng(4)
    obs = make_obs(n_per_group=12)
    design = dx.design_matrix(dx.design_frame(obs, dx.Contrast("r", "responder", "no", "yes", (), "batch")))
    values = rng.normal(size=(24, 2))
    in_batch_a = (obs["batch"] == "A").to_numpy()
    values[~in_batch_a, 1] = np.nan
    column = list(design.columns).index("group[T.yes]")
    fit = dprot.linear_model_fits(values, design.to_numpy(), column)
    alone = dprot.linear_model_fits(values[in_batch_a][:, [1]], design.to_numpy()[in_batch_a][:, :2], 1)
    for key in ("beta", "unscaled", "sigma", "df_residual"):
        assert fit[key][1] == pytest.approx(alone[key][0], rel=1e-12)
    assert np.isfinite(fit["beta"]).all() and fit["df_residual"][0] == 24 - 3
    # where the group itself is aliased (measured in one group only) nothing is estimated
    values[obs["responder"].to_numpy() == "yes", 0] = np.nan
    assert np.isnan(dprot.linear_model_fits(values, design.to_numpy(), column)["beta"][0])


