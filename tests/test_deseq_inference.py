"""VectorisedInference gives pydeseq2's DefaultInference answers, method by method.

Tolerances (documented in ``trialomics.deseq_inference``):
- closed forms and IRLS (same iterations, stacked solves): 1e-8;
- dispersions: the vectorised objective is never above L-BFGS-B's (by more than 1e-7 relative)
  and log(alpha) agrees within 1e-3 for 97% of genes (L-BFGS-B stops early on flat objectives
  and, from a start on the lower bound, sometimes does not move at all);
- apeGLM shrinkage: objective never above L-BFGS-B's and the shrunk coefficient within 1e-3 for
  95% of genes.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydeseq2 import utils as deseq_utils
from pydeseq2.default_inference import DefaultInference
from trialomics import differential as dx
from trialomics import differential_rna as drna
from trialomics.deseq_inference import VectorisedInference


def simulated(n_samples: int = 16, n_genes: int = 150, seed: int = 11, covariate: bool = False):
    """NB counts with a dispersion trend, 10% of genes changed; samples x genes, and the design."""
    rng = np.random.default_rng(seed)
    base = np.exp(rng.normal(4.5, 1.8, n_genes))
    dispersion = 0.05 + 2.0 / base
    group = np.repeat([0.0, 1.0], [n_samples // 2, n_samples - n_samples // 2])
    lfc = np.where(rng.random(n_genes) < 0.1, rng.normal(0, 1.5, n_genes), 0.0)
    size_factors = np.exp(rng.normal(0, 0.3, n_samples))
    mu = size_factors[:, None] * base * np.exp(np.outer(group, lfc))
    counts = rng.negative_binomial(1 / dispersion, 1 / (1 + mu * dispersion)).astype(float)
    counts[:, 0] = 0.0
    counts[: n_samples // 2, 1] = 0.0          # a gene silent in one group: IRLS diverges
    counts[0, 2] = counts[:, 2].max() * 30     # an outlier
    columns = [np.ones(n_samples), group]
    if covariate:
        columns.insert(1, rng.normal(0, 1, n_samples))
    return counts[:, 1:], np.column_stack(columns), size_factors


@pytest.fixture(scope="module", params=[False, True], ids=["group", "covariate+group"])
def problem(request):
    counts, design, size_factors = simulated(covariate=request.param)
    normed = counts / size_factors[:, None]
    default = DefaultInference(n_cpus=1)
    rough = np.minimum(default.fit_rough_dispersions(normed, design),
                       default.fit_moments_dispersions(normed, size_factors))
    alpha_hat = np.clip(rough, 1e-8, 16)
    _, mu, _, _ = default.irls(counts, size_factors, design, alpha_hat, 0.5, 1e-8)
    return {"counts": counts, "design": design, "sf": size_factors, "alpha_hat": alpha_hat,
            "mu": np.maximum(mu, 0.5), "default": default, "ours": VectorisedInference(n_cpus=1)}


def dispersion_objective(counts, design, mu, alpha, log_alpha_hat=None, prior_var=None):
    """pydeseq2's fit_alpha_mle loss, one gene at a time."""
    out = np.empty(counts.shape[1])
    for g in range(counts.shape[1]):
        w = mu[:, g] / (1 + mu[:, g] * alpha[g])
        value = deseq_utils.nb_nll(counts[:, g], mu[:, g], alpha[g])
        value += 0.5 * np.linalg.slogdet((design.T * w) @ design)[1]
        if prior_var is not None:
            value += (np.log(alpha[g]) - log_alpha_hat[g]) ** 2 / (2 * prior_var)
        out[g] = value
    return out


def test_linear_starts_and_rough_dispersions_match(problem):
    p = problem
    normed = p["counts"] / p["sf"][:, None]
    np.testing.assert_allclose(p["ours"].lin_reg_mu(p["counts"], p["sf"], p["design"], 0.5),
                               p["default"].lin_reg_mu(p["counts"], p["sf"], p["design"], 0.5), rtol=1e-8)
    np.testing.assert_allclose(p["ours"].fit_rough_dispersions(normed, p["design"]),
                               p["default"].fit_rough_dispersions(normed, p["design"]), rtol=1e-8, atol=1e-12)


def test_irls_matches_default_including_diverging_genes(problem):
    p = problem
    args = (p["counts"], p["sf"], p["design"], p["alpha_hat"], 0.5, 1e-8)
    expected = p["default"].irls(*args)
    got = p["ours"].irls(*args)
    for e, g in zip(expected[:3], got[:3]):
        np.testing.assert_allclose(g, e, rtol=1e-8, atol=1e-8)
    np.testing.assert_array_equal(got[3], expected[3])


@pytest.mark.parametrize("prior", [False, True], ids=["MLE", "MAP"])
def test_dispersions_reach_at_least_the_default_optimum(problem, prior):
    p = problem
    kwargs = {"prior_disp_var": 0.6, "prior_reg": True} if prior else {}
    args = (p["counts"], p["design"], p["mu"], p["alpha_hat"], 1e-8, 16.0)
    expected, _ = p["default"].alpha_mle(*args, **kwargs)
    got, converged = p["ours"].alpha_mle(*args, **kwargs)
    assert converged.all()
    extra = (np.log(p["alpha_hat"]), 0.6) if prior else (None, None)
    f_expected = dispersion_objective(p["counts"], p["design"], p["mu"], expected, *extra)
    f_got = dispersion_objective(p["counts"], p["design"], p["mu"], got, *extra)
    assert (f_got <= f_expected + 1e-7 * np.abs(f_expected)).all()
    close = np.abs(np.log(got) - np.log(expected)) <= 1e-3
    assert close.mean() >= 0.97


def test_dispersion_derivatives_equal_finite_differences(problem):
    p = problem
    genes = np.arange(20)
    log_alpha = np.log(np.clip(p["alpha_hat"][genes], 1e-3, None))
    prior_var, log_alpha_hat = 0.6, log_alpha + 0.3

    def objective(t):
        return dispersion_objective(p["counts"][:, genes], p["design"], p["mu"][:, genes], np.exp(t),
                                    log_alpha_hat, prior_var)

    def derivatives(t):
        return VectorisedInference._log_alpha_derivatives(
            p["counts"][:, genes], p["design"], p["mu"][:, genes], t, True, True, log_alpha_hat, prior_var)

    gradient, hessian = derivatives(log_alpha)
    h = 1e-5
    np.testing.assert_allclose(gradient, (objective(log_alpha + h) - objective(log_alpha - h)) / (2 * h),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hessian, (derivatives(log_alpha + h)[0] - derivatives(log_alpha - h)[0]) / (2 * h),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("alternative", [None, "greater", "less", "greaterAbs", "lessAbs"])
def test_wald_test_matches_default(problem, alternative):
    p = problem
    beta, mu, _, _ = p["default"].irls(p["counts"], p["sf"], p["design"], p["alpha_hat"], 0.5, 1e-8)
    contrast = np.zeros(p["design"].shape[1])
    contrast[-1] = 1.0
    null = 0.0 if alternative is None else 0.3
    args = (p["design"], p["alpha_hat"], beta, mu, np.diag(np.full(len(contrast), 1e-6)), contrast, null,
            alternative)
    for e, g in zip(p["default"].wald_test(*args), p["ours"].wald_test(*args)):
        np.testing.assert_allclose(g, e, rtol=1e-8, atol=1e-12)


def test_lfc_shrinkage_reaches_at_least_the_default_optimum(problem):
    p = problem
    shrink_index = p["design"].shape[1] - 1
    args = (p["design"], p["counts"], 1 / p["alpha_hat"], np.log(p["sf"]), 15.0, 0.4, "L-BFGS-B", shrink_index)
    expected, expected_inverse, _ = p["default"].lfc_shrink_nbinom_glm(*args)
    got, got_inverse, converged = p["ours"].lfc_shrink_nbinom_glm(*args)
    assert converged.all()

    def value(beta, g):
        return deseq_utils.nbinomFn(beta, p["design"], p["counts"][:, g], 1 / p["alpha_hat"][g],
                                    np.log(p["sf"]), 15.0, 0.4, shrink_index)

    for g in range(p["counts"].shape[1]):
        assert value(got[g], g) <= value(expected[g], g) + 1e-9 * abs(value(expected[g], g))
    close = np.abs(got[:, shrink_index] - expected[:, shrink_index]) <= 1e-3
    assert close.mean() >= 0.95
    np.testing.assert_allclose(got_inverse[close], expected_inverse[close], rtol=1e-2, atol=1e-6)


def test_known_answer_dispersion_of_a_large_sample():
    # 4,000 NB draws with alpha = 0.2 around mu = 50: the MLE is within a few percent of 0.2.
    rng = np.random.default_rng(5)
    counts = rng.negative_binomial(5, 5 / 55, size=(4000, 1)).astype(float)
    design = np.ones((4000, 1))
    mu = np.full_like(counts, counts.mean())
    alpha, converged = VectorisedInference().alpha_mle(counts, design, mu, np.array([1.0]), 1e-8, 10.0)
    assert converged.all() and abs(alpha[0] - 0.2) < 0.015


def test_deseq2_tables_match_the_default_inference(monkeypatch):
    counts, design, _ = simulated(n_samples=12, n_genes=120, seed=4)
    samples = [f"s{i:02d}" for i in range(12)]
    frame = pd.DataFrame(counts.astype(np.int64), index=samples, columns=[f"g{j}" for j in range(counts.shape[1])])
    obs = pd.DataFrame({"patient_id": samples, "arm": np.where(design[:, 1] == 1, "yes", "no")}, index=samples)
    contrast = dx.Contrast("arm", "arm", "no", "yes")
    ours = drna.deseq2_results(drna.fit_deseq2(frame, obs, contrast), contrast).set_index("feature")
    import trialomics.deseq_inference as module

    # fit_deseq2 and deseq2_results import the inference class when called: swap in pydeseq2's.
    class Default(DefaultInference):
        def __init__(self, n_cpus=1):
            super().__init__(n_cpus=n_cpus)

    monkeypatch.setattr(module, "VectorisedInference", Default)
    reference = drna.deseq2_results(drna.fit_deseq2(frame, obs, contrast), contrast).set_index("feature")
    reference = reference.loc[ours.index]
    assert list(ours.columns) == list(reference.columns)
    # Effects move with the dispersions where L-BFGS-B stopped early (up to ~2e-3 here); the
    # issue's bar against R DESeq2 is 0.01.
    np.testing.assert_allclose(ours["effect"], reference["effect"], atol=5e-3)
    np.testing.assert_allclose(ours["se"], reference["se"], rtol=1e-2)
    np.testing.assert_allclose(np.log10(ours["pvalue"].dropna()), np.log10(reference["pvalue"].dropna()),
                               rtol=1e-2, atol=0.02)
    assert set(ours.index[ours["padj"] < 0.05]) == set(reference.index[reference["padj"] < 0.05])
    shrunk_difference = np.abs(ours["effect_shrunk"] - reference["effect_shrunk"])
    assert shrunk_difference.max() <= 0.02 and (shrunk_difference <= 5e-3).mean() >= 0.95


def test_dispersion_trend_is_the_gamma_glm_optimum():
    # Dispersions scattered (gamma, shape 4) around 0.05 + 3 / mean: the IRLS fit is at least as
    # good as pydeseq2's L-BFGS-B on the same likelihood and near the generating curve.
    rng = np.random.default_rng(8)
    means = np.exp(rng.uniform(0, 9, 5000))
    dispersions = (0.05 + 3.0 / means) * rng.gamma(4.0, 0.25, means.size)
    covariates, targets = pd.Series(1 / means), pd.Series(dispersions)
    expected, _, _ = DefaultInference(n_cpus=1).dispersion_trend_gamma_glm(covariates, targets)
    got, fitted, converged = VectorisedInference().dispersion_trend_gamma_glm(covariates, targets)

    def loss(coefficients):
        mu = coefficients[0] + coefficients[1] / means
        return np.mean(dispersions / mu + np.log(mu))

    assert converged
    np.testing.assert_allclose(fitted, got[0] + got[1] / means)
    assert loss(got) <= loss(expected) + 1e-12
    np.testing.assert_allclose(got, expected, rtol=1e-3)
    np.testing.assert_allclose(got, [0.05, 3.0], rtol=0.05)


@pytest.mark.parametrize("vst", [False, True])
def test_array_trend_fit_equals_pydeseq2s(vst):
    from pydeseq2.dds import DeseqDataSet
    from trialomics.deseq_inference import VectorisedDeseqDataSet

    counts, design, _ = simulated(n_samples=12, n_genes=400, seed=6)
    frame = pd.DataFrame(counts.astype(np.int64), index=[f"s{i}" for i in range(12)],
                         columns=[f"g{j}" for j in range(counts.shape[1])])
    metadata = pd.DataFrame({"group": np.where(design[:, 1] == 1, "b", "a")}, index=frame.index)
    fitted = []
    for kind in (DeseqDataSet, VectorisedDeseqDataSet):
        dds = kind(counts=frame, metadata=metadata, design="~group", quiet=True,
                   inference=VectorisedInference())
        dds.fit_size_factors()
        dds.fit_genewise_dispersions(vst=vst)
        dds._fit_parametric_dispersion_trend(vst=vst)
        fitted.append(dds)
    key = "vst_trend_coeffs" if vst else "trend_coeffs"
    pd.testing.assert_series_equal(fitted[1].uns[key], fitted[0].uns[key], check_exact=True)
    if not vst:
        pd.testing.assert_series_equal(fitted[1].var["fitted_dispersions"], fitted[0].var["fitted_dispersions"])
        assert fitted[1].uns["disp_function_type"] == fitted[0].uns["disp_function_type"] == "parametric"


def test_failed_trend_fit_falls_back_to_the_mean_as_pydeseq2(monkeypatch):
    from trialomics.deseq_inference import VectorisedDeseqDataSet

    counts, design, _ = simulated(n_samples=12, n_genes=100, seed=9)
    frame = pd.DataFrame(counts.astype(np.int64), index=[f"s{i}" for i in range(12)],
                         columns=[f"g{j}" for j in range(counts.shape[1])])
    metadata = pd.DataFrame({"group": np.where(design[:, 1] == 1, "b", "a")}, index=frame.index)
    monkeypatch.setattr(VectorisedInference, "dispersion_trend_gamma_glm",
                        lambda self, x, y: (np.array([1.0, -1.0]), np.ones(len(x)), True))
    dds = VectorisedDeseqDataSet(counts=frame, metadata=metadata, design="~group", quiet=True,
                                 inference=VectorisedInference())
    dds.fit_size_factors()
    dds.fit_genewise_dispersions()
    with pytest.warns(UserWarning, match="mean-based dispersion trend"):
        dds._fit_parametric_dispersion_trend()
    assert dds.uns["disp_function_type"] == "mean" and "trend_coeffs" not in dds.uns


def test_shrinkage_finds_the_better_of_two_posterior_modes():
    # STAT1 in the demo's clinical_benefit fit: with prior scale 0.0338 the apeGLM posterior has a
    # mode near 0 (objective 1497.94) and a better one near the MLE (1495.74, log2 fold change
    # 1.78); a search from pydeseq2's start alone stops in the first.
    counts = np.array([2039, 1831, 132, 362, 986, 398, 401, 4388, 2097, 695, 1986, 135, 414, 714, 348,
                       367, 403, 329, 2428], dtype=float)
    group = np.array([1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 1, 1], dtype=float)
    size_factors = np.array([1.297879, 1.268468, 0.572304, 0.552558, 1.368248, 0.864297, 1.125047,
                             1.083099, 0.851409, 1.19039, 1.073341, 1.114394, 1.065704, 1.041478,
                             1.1508, 1.344971, 1.169506, 0.97547, 0.858669])
    design = np.column_stack([np.ones_like(group), group])
    size, offset = np.array([2.204412580108131]), np.log(size_factors)
    beta, _, converged = VectorisedInference().lfc_shrink_nbinom_glm(
        design, counts[:, None], size, offset, 15.0, 0.03381454884735717, "L-BFGS-B", 1)
    value = deseq_utils.nbinomFn(beta[0], design, counts, size[0], offset, 15.0, 0.03381454884735717, 1)
    assert converged.all()
    assert beta[0, 1] / np.log(2) == pytest.approx(1.78, abs=0.01)
    assert value < 1496.5  # the mode near 0 is at 1497.9
