"""A contrast's DESeq2 results from a stored fit equal pydeseq2's ``DeseqStats`` to the bit, without pydeseq2."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from test_deseq_store import CONTRAST, fitted, stored

from trialomics.contrasts import Contrast
from trialomics.deseq_inference import VectorisedInference
from trialomics.deseq_results import (DeseqFit, apeglm_prior_variance, benjamini_hochberg_scipy, brent_root, lowess,
                                      shrunk_lfc, wald_tests)
from trialomics.deseq_store import write_deseq_fit

COEFFICIENT = "group[T.yes]"
GROUP_ONLY = Contrast("yes_vs_no", "group", "no", "yes")


def deseq_stats(dds, shrink: bool):
    """pydeseq2's own results (the reference), with the workflow's inference object."""
    from pydeseq2.ds import DeseqStats

    vector = np.array([1.0 if c == COEFFICIENT else 0.0 for c in dds.obsm["design_matrix"].columns])
    stats = DeseqStats(dds, contrast=vector, alpha=0.05, cooks_filter=True, independent_filter=True, quiet=True,
                       inference=VectorisedInference(n_cpus=1))
    stats.summary()
    unshrunk = stats.results_df.copy()
    if shrink:
        stats.lfc_shrink(coeff=COEFFICIENT)
    return unshrunk, stats.LFC[COEFFICIENT].to_numpy()


def fitted_with_changes(refit_cooks: bool, outlier: bool = True):
    """The workflow's fit (:func:`~trialomics.differential_rna.fit_deseq2`) of counts where 60 of 300 genes
    change 4-fold, so that independent filtering has rejections to smooth (its lowess branch)."""
    from trialomics.differential_rna import fit_deseq2

    rng = np.random.default_rng(11)
    n, genes = 16, 300
    group = np.array(["no"] * 8 + ["yes"] * 8)
    means = rng.gamma(1.0, 200.0, genes) + 5
    size = 1 / (0.05 + 3 / means)
    change = np.where(np.arange(genes) < 60, 4.0, 1.0)
    expected = means * np.where(group == "yes", 1.0, 0.0)[:, None] * (change - 1) + means
    counts = rng.negative_binomial(size, size / (size + expected))
    counts[group == "yes", 200] = 0   # expressed in one group only: its IRLS diverges (as XIST's does)
    if outlier:   # a Cook's outlier (extreme enough for pydeseq2's own IRLS solver in the apeGLM restart)
        counts[2, 100] = counts[:, 100].max() * 40
    frame = pd.DataFrame(counts, index=[f"s{i}" for i in range(n)], columns=[f"g{j}" for j in range(genes)])
    # No continuous covariate: DESeq2 looks for Cook's outliers among samples with 3 or more replicates
    # of their design row.
    obs = pd.DataFrame({"group": group}, index=frame.index)
    return fit_deseq2(frame, obs, GROUP_ONLY, refit_cooks=refit_cooks, min_replicates=7)


def assert_same_bits(ours, reference):
    ours, reference = np.asarray(ours, dtype=float), np.asarray(reference, dtype=float)
    assert np.array_equal(ours, reference, equal_nan=True), np.nanmax(np.abs(ours - reference))


@pytest.mark.parametrize("refit_cooks", [True, False])
def test_results_of_a_stored_fit_equal_deseq_stats_to_the_bit(tmp_path, refit_cooks):
    dds = fitted_with_changes(refit_cooks)
    fit = stored(dds, tmp_path)
    vector = np.array([1.0 if c == COEFFICIENT else 0.0 for c in fit.design.columns])
    tests = wald_tests(fit, vector)
    reference, reference_shrunk = deseq_stats(fitted_with_changes(refit_cooks), shrink=True)
    assert_same_bits(tests.lfc / np.log(2), reference["log2FoldChange"])
    assert_same_bits(tests.se / np.log(2), reference["lfcSE"])
    assert_same_bits(tests.stat, reference["stat"])
    assert_same_bits(tests.pvalue, reference["pvalue"])
    assert_same_bits(tests.padj, reference["padj"])
    # Refitted (8 replicates >= 7) the outlier no longer counts; kept, it sets its gene's p-value missing.
    assert fit.cooks_outlier.any() != refit_cooks and np.isnan(tests.pvalue[fit.cooks_outlier]).all()
    assert (tests.padj < 0.05).sum() > 10   # the filter's lowess branch (more than 10 rejections) is used
    assert_same_bits(shrunk_lfc(fit, COEFFICIENT, tests.se), reference_shrunk)


def test_pieces_equal_the_functions_pydeseq2_calls():
    from pydeseq2.utils import lowess as pydeseq2_lowess
    from scipy.optimize import brentq
    from scipy.stats import false_discovery_control

    rng = np.random.default_rng(5)
    p = np.concatenate([rng.uniform(size=300), rng.uniform(size=40) * 1e-4, [0.5, 0.5, 1.0, 0.0]])
    assert_same_bits(benjamini_hochberg_scipy(p), false_discovery_control(p, method="bh"))
    assert_same_bits(benjamini_hochberg_scipy(p[:1]), p[:1])
    theta = np.linspace(0.1, 0.95, 50)
    rejections = np.round(200 * np.exp(-3 * (theta - 0.4) ** 2) + rng.normal(0, 5, 50)).astype(int)
    assert_same_bits(lowess(theta, rejections, 1 / 5), pydeseq2_lowess(theta, rejections, frac=1 / 5))
    flat = np.zeros(50, dtype=int)
    flat[7] = 3   # a median absolute residual of 0: the robustness weights are the residuals' support
    assert_same_bits(lowess(theta, flat, 1 / 5), pydeseq2_lowess(theta, flat, frac=1 / 5))
    for function, a, b in [(lambda x: np.cos(x) - x, 0.0, 2.0), (lambda x: x ** 3 - 2 * x - 5, 2.0, 3.0),
                           (lambda x: np.exp(x) - 400.0, 1e-6, 400.0), (lambda x: 0.3 - x, 1e-6, 400.0)]:
        assert brent_root(function, a, b) == brentq(function, a, b)
    with pytest.raises(ValueError, match="different signs"):
        brent_root(lambda x: x + 1.0, 0.0, 1.0)


def test_prior_variance_is_the_method_of_moments_root():
    rng = np.random.default_rng(2)
    lfc = rng.normal(0, 0.8, 500)
    se = rng.uniform(0.1, 0.5, 500)
    lfc[:5] = np.nan
    variance = apeglm_prior_variance(lfc, se)
    keep = ~np.isnan(lfc)
    weights = 1 / (2 * (variance + se[keep] ** 2) ** 2)
    assert ((lfc[keep] ** 2 - se[keep] ** 2) * weights).sum() / weights.sum() == pytest.approx(variance, abs=1e-10)
    assert apeglm_prior_variance(np.full(10, 0.01), np.full(10, 1.0)) == 1e-6   # MLEs inside their noise


def test_the_results_rule_does_not_import_pydeseq2(tmp_path):
    dds = fitted_with_changes(True, outlier=False)
    path = tmp_path / "fit.h5ad"
    write_deseq_fit(dds, path)
    code = ("import sys\nfrom trialomics.deseq_results import DeseqFit\n"
            "from trialomics.differential_rna import deseq2_results\nfrom trialomics.contrasts import Contrast\n"
            f"table = deseq2_results(DeseqFit.read({str(path)!r}), Contrast('c', 'group', 'no', 'yes'), "
            "shrink=True)\n"
            "print(len(table), sorted(m for m in sys.modules if m.split('.')[0] in "
            "('pydeseq2', 'sklearn', 'matplotlib')))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=str(tmp_path),
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.stdout.split()[0] == "300" and done.stdout.strip().endswith("[]"), done.stdout


def test_deseq2_results_accepts_a_fit_in_memory():
    dds = fitted(False)
    from trialomics.differential_rna import deseq2_results

    table = deseq2_results(dds, CONTRAST, shrink=False).set_index("feature")
    reference, _ = deseq_stats(fitted(False), shrink=False)
    assert_same_bits(table.loc[reference.index, "padj"], reference["padj"])
    assert isinstance(DeseqFit.from_dds(dds).lfc, pd.DataFrame)


def test_the_apeglm_restart_does_not_refit_a_diverging_gene_with_pydeseq2(monkeypatch):
    """The demo's XIST in the responder contrast (4 vs 15 samples, dispersion 11): its IRLS does not
    converge; the apeGLM search from its MLE starts at the last IRLS iterate instead of pydeseq2's refit."""
    from trialomics import deseq_glm

    counts = np.array([0, 338, 0, 0, 1, 0, 0, 253, 0, 0, 0, 0, 0, 257, 1, 1, 1, 183, 153], dtype=float)[:, None]
    size_factors = np.array([1.2978, 1.2685, 0.5722, 0.5525, 1.3682, 0.8644, 1.1254, 1.0833, 0.8514, 1.1903,
                             1.0733, 1.1148, 1.0655, 1.0417, 1.1508, 1.3451, 1.1695, 0.9753, 0.8587])
    responder = np.array([0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], dtype=float)
    design = np.column_stack([np.ones(19), responder])
    dispersion = np.array([10.9724])
    beta, _, _, converged = deseq_glm.irls(counts, size_factors, design, dispersion, 0.5, 1e-8, refit_diverging=False)
    assert not converged[0] and np.isfinite(beta).all()

    def no_pydeseq2():
        raise AssertionError("pydeseq2's per-gene solver was called")

    monkeypatch.setattr(deseq_glm, "pydeseq2_utils", no_pydeseq2)
    shrunk, inverse_hessians, ok = deseq_glm.apeglm_map(design, counts, 1 / dispersion, np.log(size_factors), 15.0,
                                                         0.5, "L-BFGS-B", 1)
    assert ok.all() and np.isfinite(shrunk).all() and np.isfinite(inverse_hessians).all()
