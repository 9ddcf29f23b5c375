"""pydeseq2's per-gene inference, computed for all genes at once with numpy.

pydeseq2 (0.5.4) lets a ``DeseqDataSet`` / ``DeseqStats`` take an inference object. Its default,
``DefaultInference``, loops over genes with joblib and fits each one with scipy's L-BFGS-B; on a
cohort of 24 samples x 4,000 genes that loop, not the arithmetic, is most of the run time.
:class:`VectorisedInference` solves the same problems for every gene together:

- ``irls``: DESeq2's iteratively reweighted least squares, the p x p normal equations of every gene
  solved as one stack; each gene stops at its own iteration, with pydeseq2's deviance criterion.
  Genes that diverge (|beta| > 30 or 250 iterations) are handed to pydeseq2's own solver, which
  switches to L-BFGS-B exactly as it would have.
- ``alpha_mle``: the negative-binomial dispersion that minimises pydeseq2's objective in
  log(alpha) (likelihood + Cox-Reid adjustment + optional log-normal prior), by Newton's method on
  the gradient safeguarded by bisection inside the bounds, started from pydeseq2's starting value
  and searching downhill from it, as the default L-BFGS-B does. Genes whose derivatives are not
  finite fall back to pydeseq2's grid search (DESeq2's own fallback).
- ``wald_test``, ``lin_reg_mu``, ``fit_rough_dispersions``: closed forms on stacked matrices.
- ``dispersion_trend_gamma_glm``: the gamma GLM of the trend by IRLS, as R's ``glm`` in DESeq2.
- ``lfc_shrink_nbinom_glm``: the apeGLM (Cauchy prior) MAP by damped Newton with a backtracking
  line search from 0 (intercept at the log mean), and again from the unshrunk MLE for genes whose
  MLE is at least 1.5 standard errors from 0, keeping the lower objective (the posterior can be
  bimodal); genes whose line search fails fall back to pydeseq2's per-gene fit.

:class:`VectorisedDeseqDataSet` removes the one per-gene Python loop left outside the inference
object (pydeseq2 0.5.4 checks each gene's trend covariate with pandas ``.loc``: 1.5 s on 20,000 genes).

The results equal ``DefaultInference``'s within the tolerances checked in
``tests/test_deseq_inference.py``: IRLS, Wald and the linear fits to rounding (1e-8 relative);
dispersions and apeGLM coefficients reach an objective at least as low as L-BFGS-B's, which stops
early (up to ~1e-2 in log alpha on flat objectives, and not at all from a start on the lower
bound), and agree within 1e-3 for at least 97% and 95% of genes; the dispersion trend reaches the
gamma likelihood's optimum (L-BFGS-B's coefficients within 1e-3 relative). Through these, DESeq2
tables move by at most ~5e-3 in log2 fold change; against R DESeq2 they stay within issue #10's
bar (``bench/deseq2_vs_r.py``).
"""
from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import pandas as pd
from pydeseq2 import utils as deseq_utils
from pydeseq2.dds import DeseqDataSet
from pydeseq2.default_inference import DefaultInference
from pydeseq2.grid_search import grid_fit_alpha
from scipy.special import digamma, gammaln, zeta
from scipy.stats import norm

#: Ridge added to X'WX in the IRLS and Wald steps, as pydeseq2 (and DESeq2) do.
RIDGE = 1e-6
#: Convergence of the dispersion search: Newton step or bracket width in log(alpha) (L-BFGS-B,
#: the default, stops up to ~1e-2 away on flat objectives).
LOG_ALPHA_TOLERANCE = 1e-8
MAX_DISPERSION_ITERATIONS = 200
MAX_SHRINK_ITERATIONS = 200


def _gram(design: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """X' diag(w_g) X for every gene g: (genes, p, p) from weights (samples, genes)."""
    return np.einsum("ip,ig,iq->gpq", design, weights, design, optimize=True)


def nb_negative_log_likelihood(counts: np.ndarray, mu: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """pydeseq2's ``nb_nll`` of every column: counts and mu (samples, genes), alpha (genes,)."""
    inverse = 1.0 / alpha
    log_binomial = gammaln(counts + inverse) - gammaln(counts + 1.0) - gammaln(inverse)
    return (counts.shape[0] * inverse * np.log(alpha)
            + (-log_binomial + (counts + inverse) * np.log(inverse + mu) - counts * np.log(mu)).sum(axis=0))


class VectorisedInference(DefaultInference):
    """Drop-in ``inference`` for pydeseq2's ``DeseqDataSet`` and ``DeseqStats``.

    Subclasses ``DefaultInference`` so that what is already vectorised there (method-of-moments
    dispersions, the gamma GLM of the dispersion trend) and the rare per-gene fallbacks are
    pydeseq2's own code. ``n_cpus`` only sizes those fallbacks' joblib pools.
    """

    def __init__(self, n_cpus: int | None = 1):
        super().__init__(n_cpus=n_cpus)

    # ----------------------------------------------------------------------------------------
    # Linear starting values

    def lin_reg_mu(self, counts: np.ndarray, size_factors: np.ndarray, design_matrix: np.ndarray,
                   min_mu: float) -> np.ndarray:
        """Least-squares fit of normalised counts on the design, all genes in one ``lstsq``."""
        normalised = counts / size_factors[:, None]
        coefficients = np.linalg.lstsq(design_matrix, normalised, rcond=None)[0]
        return np.maximum(size_factors[:, None] * (design_matrix @ coefficients), min_mu)

    @staticmethod
    def fit_rough_dispersions(normed_counts: np.ndarray, design_matrix) -> np.ndarray:
        """DESeq2's rough (linear-model moment) dispersions, one ``lstsq`` for all genes."""
        design = np.asarray(design_matrix, dtype=float)
        num_samples, num_vars = design.shape
        if num_samples == num_vars:
            raise ValueError("The number of samples and the number of design variables are equal, "
                             "i.e., there are no replicates to estimate the dispersion. Please use "
                             "a design with fewer variables.")
        coefficients = np.linalg.lstsq(design, normed_counts, rcond=None)[0]
        fitted = np.maximum(design @ coefficients, 1.0)
        rough = (((normed_counts - fitted) ** 2 - fitted)
                 / ((num_samples - num_vars) * fitted ** 2)).sum(axis=0)
        return np.maximum(rough, 0.0)

    # ----------------------------------------------------------------------------------------
    # GLM coefficients

    def irls(self, counts: np.ndarray, size_factors: np.ndarray, design_matrix: np.ndarray,
             disp: np.ndarray, min_mu: float, beta_tol: float, min_beta: float = -30,
             max_beta: float = 30, optimizer: Literal["BFGS", "L-BFGS-B"] = "L-BFGS-B",
             maxiter: int = 250) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every gene's IRLS at once; returns (beta (G, p), mu (n, G), hat diagonals (n, G), converged)."""
        X = np.asarray(design_matrix, dtype=float)
        counts = np.asarray(counts, dtype=float)
        disp = np.asarray(disp, dtype=float)
        sf = np.asarray(size_factors, dtype=float)
        n_genes, num_vars = counts.shape[1], X.shape[1]
        ridge = RIDGE * np.eye(num_vars)
        if np.linalg.matrix_rank(X) == num_vars:
            q, r = np.linalg.qr(X)
            beta = np.linalg.solve(r, q.T @ np.log(counts / sf[:, None] + 0.1)).T
        else:
            beta = np.zeros((n_genes, num_vars))
            with np.errstate(divide="ignore"):
                beta[:, 0] = np.log(counts / sf[:, None]).mean(axis=0)
        mu = np.maximum(sf[:, None] * np.exp(X @ beta.T), min_mu)
        deviance = np.full(n_genes, 1000.0)
        active = np.ones(n_genes, dtype=bool)
        diverged = np.zeros(n_genes, dtype=bool)
        iteration = 0
        while active.any():
            genes = np.flatnonzero(active)
            m = mu[:, genes]
            weights = m / (1.0 + m * disp[genes])
            working = np.log(m / sf[:, None]) + (counts[:, genes] - m) / m
            gram = _gram(X, weights) + ridge
            step = np.linalg.solve(gram, ((weights * working).T @ X)[:, :, None])[:, :, 0]
            iteration += 1
            # pydeseq2 leaves IRLS for L-BFGS-B when a coefficient leaves [-max_beta, max_beta]
            # or after maxiter iterations; those genes are refitted by its own solver below.
            leaving = (np.abs(step) > max_beta).any(axis=1) | (iteration >= maxiter)
            diverged[genes[leaving]] = True
            active[genes[leaving]] = False
            genes, step = genes[~leaving], step[~leaving]
            beta[genes] = step
            mu[:, genes] = np.maximum(sf[:, None] * np.exp(X @ step.T), min_mu)
            previous = deviance[genes]
            deviance[genes] = -2.0 * nb_negative_log_likelihood(counts[:, genes], mu[:, genes], disp[genes])
            ratio = np.abs(deviance[genes] - previous) / (np.abs(deviance[genes]) + 0.1)
            active[genes[ratio <= beta_tol]] = False

        converged = np.ones(n_genes, dtype=bool)
        for gene in np.flatnonzero(diverged):
            beta[gene], _, _, converged[gene] = deseq_utils.irls_solver(
                counts=counts[:, gene], size_factors=sf, design_matrix=X, disp=disp[gene],
                min_mu=min_mu, beta_tol=beta_tol, min_beta=min_beta, max_beta=max_beta,
                optimizer=optimizer, maxiter=maxiter)
        mu = np.maximum(sf[:, None] * np.exp(X @ beta.T), min_mu)
        weights = mu / (1.0 + mu * disp)
        inverse = np.linalg.inv(_gram(X, weights) + ridge)
        hat = np.einsum("ip,gpq,iq->ig", X, inverse, X, optimize=True) * weights
        # Unthresholded means, as pydeseq2 and DESeq2 return them.
        return beta, sf[:, None] * np.exp(X @ beta.T), hat, converged

    # ----------------------------------------------------------------------------------------
    # Dispersions

    @staticmethod
    def _log_alpha_derivatives(counts: np.ndarray, design: np.ndarray, mu: np.ndarray,
                               log_alpha: np.ndarray, cr_reg: bool, prior_reg: bool,
                               log_alpha_hat: np.ndarray, prior_disp_var: float | None,
                               second: bool = True):
        """First and (with ``second``) second derivatives in log(alpha) of pydeseq2's dispersion
        objective; the second is None without ``second``."""
        alpha = np.exp(log_alpha)
        r = 1.0 / alpha
        y = counts
        # Negative log-likelihood: dL/dt = -r g with g = sum(psi(r) - psi(y + r) + log(1 + mu a)
        # + (y - mu)/(mu + r)), and d2L/dt2 = r g - r dg/dt (trigamma(x) is zeta(2, x)).
        g = (digamma(r) - digamma(y + r) + np.log1p(mu * alpha) + (y - mu) / (mu + r)).sum(axis=0)
        gradient = -r * g
        hessian = None
        if second:
            dg = (r * (zeta(2, y + r) - zeta(2, r)) + mu * alpha / (1.0 + mu * alpha)
                  + (y - mu) * r / (mu + r) ** 2).sum(axis=0)
            hessian = r * g - r * dg
        if cr_reg:
            # Cox-Reid: 0.5 log det(X'WX), W = mu / (1 + mu a); dW/dt = -a W^2,
            # d2W/dt2 = -a W^2 + 2 a^2 W^3; d log det = tr(A^-1 B), d2 = tr(A^-1 C) - tr((A^-1 B)^2).
            w = mu / (1.0 + mu * alpha)
            dw = -alpha * w ** 2
            inverse = np.linalg.inv(_gram(design, w))
            ab = inverse @ _gram(design, dw)
            gradient = gradient + 0.5 * np.trace(ab, axis1=1, axis2=2)
            if second:
                d2w = dw + 2.0 * alpha ** 2 * w ** 3
                hessian = hessian + 0.5 * ((inverse * _gram(design, d2w)).sum(axis=(1, 2))
                                           - np.einsum("gpq,gqp->g", ab, ab))
        if prior_reg:
            gradient = gradient + (log_alpha - log_alpha_hat) / prior_disp_var
            if second:
                hessian = hessian + 1.0 / prior_disp_var
        return gradient, hessian

    def alpha_mle(self, counts: np.ndarray, design_matrix: np.ndarray, mu: np.ndarray,
                  alpha_hat: np.ndarray, min_disp: float, max_disp: float,
                  prior_disp_var: float | None = None, cr_reg: bool = True,
                  prior_reg: bool = False, optimizer: Literal["BFGS", "L-BFGS-B"] = "L-BFGS-B",
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Every gene's dispersion MLE (or MAP with ``prior_reg``); returns (alpha, converged)."""
        if prior_reg and prior_disp_var is None:
            raise ValueError("prior_disp_var is required for prior regularisation")
        X = np.asarray(design_matrix, dtype=float)
        counts = np.asarray(counts, dtype=float)
        mu = np.asarray(mu, dtype=float)
        log_alpha_hat = np.log(np.asarray(alpha_hat, dtype=float))
        low, high = np.log(min_disp), np.log(max_disp)
        n_genes = counts.shape[1]

        def derivatives(genes: np.ndarray, log_alpha: np.ndarray, second: bool = True):
            with np.errstate(all="ignore"):
                return self._log_alpha_derivatives(counts[:, genes], X, mu[:, genes], log_alpha,
                                                   cr_reg, prior_reg, log_alpha_hat[genes],
                                                   prior_disp_var, second)

        everyone = np.arange(n_genes)
        start = np.clip(log_alpha_hat, low, high)
        g_start, h_start = derivatives(everyone, start)
        # Search downhill from the start, as L-BFGS-B does: [low, start] when the objective rises
        # at the start, [start, high] when it falls. A bracket whose far end is still downhill
        # has its minimum on the bound.
        left = g_start > 0
        # The gradient at the far end of each gene's bracket (the bound it searches towards).
        g_end, _ = derivatives(everyone, np.where(left, low, high), second=False)
        lower = np.where(left, low, start)
        upper = np.where(left, start, high)
        log_alpha = start.copy()
        done = g_start == 0
        on_low, on_high = left & (g_end >= 0), ~left & (g_end <= 0)
        log_alpha[on_low], log_alpha[on_high] = low, high
        done |= on_low | on_high
        failed = ~(np.isfinite(g_start) & np.isfinite(g_end))
        done |= failed
        for iteration in range(MAX_DISPERSION_ITERATIONS):
            genes = np.flatnonzero(~done)
            if genes.size == 0:
                break
            t = log_alpha[genes]
            gradient, hessian = ((g_start[genes], h_start[genes]) if iteration == 0
                                 else derivatives(genes, t))
            bad = ~(np.isfinite(gradient) & np.isfinite(hessian))
            failed[genes[bad]] = done[genes[bad]] = True
            keep = ~bad
            genes, t, gradient, hessian = genes[keep], t[keep], gradient[keep], hessian[keep]
            lower[genes] = np.where(gradient < 0, t, lower[genes])
            upper[genes] = np.where(gradient > 0, t, upper[genes])
            with np.errstate(all="ignore"):
                newton = t - gradient / hessian
            inside = (hessian > 0) & (newton > lower[genes]) & (newton < upper[genes])
            new = np.where(inside, newton, 0.5 * (lower[genes] + upper[genes]))
            log_alpha[genes] = new
            settled = ((np.abs(new - t) < LOG_ALPHA_TOLERANCE) | (gradient == 0)
                       | (upper[genes] - lower[genes] < LOG_ALPHA_TOLERANCE))
            done[genes[settled]] = True
        failed |= ~done
        converged = ~failed
        for gene in np.flatnonzero(failed):
            log_alpha[gene] = grid_fit_alpha(counts[:, gene], X, mu[:, gene], float(alpha_hat[gene]),
                                             min_disp, max_disp, prior_disp_var=prior_disp_var,
                                             cr_reg=cr_reg, prior_reg=prior_reg)
        return np.exp(log_alpha), converged

    # ----------------------------------------------------------------------------------------
    # Dispersion trend

    def dispersion_trend_gamma_glm(self, covariates, targets) -> tuple[np.ndarray, np.ndarray, bool]:
        """Gamma GLM with identity link of dispersions on 1 / mean, by IRLS.

        DESeq2 fits its parametric trend a0 + a1 / mean as R's ``glm(family = Gamma(link =
        "identity"))``: IRLS from (0.1, 1) with weights 1 / mu^2, step halving while a fitted value
        is not positive, stopped when the deviance changes by less than 1e-8 (relative). pydeseq2
        minimises the same likelihood with L-BFGS-B, which stops earlier; this solves it to R's
        precision. Returns (coefficients, fitted values, converged); pydeseq2 falls back to the
        mean trend when not converged or when a coefficient is not positive.
        """
        x = np.asarray(covariates, dtype=float)
        y = np.asarray(targets, dtype=float)
        design = np.column_stack([np.ones_like(x), x])

        def deviance(mu: np.ndarray) -> float:
            return float(2.0 * np.sum((y - mu) / mu - np.log(y / mu)))

        coefficients = np.array([0.1, 1.0])
        mu = design @ coefficients
        current = deviance(mu)
        for _ in range(100):
            weights = 1.0 / mu ** 2
            proposal = np.linalg.solve((design.T * weights) @ design, (design.T * weights) @ y)
            for _ in range(30):
                trial = design @ proposal
                if (trial > 0).all():
                    break
                proposal = 0.5 * (proposal + coefficients)
            else:
                return coefficients, mu, False
            coefficients, mu = proposal, trial
            previous, current = current, deviance(mu)
            if abs(current - previous) / (abs(current) + 0.1) < 1e-8:
                return coefficients, mu, True
        return coefficients, mu, False

    # ----------------------------------------------------------------------------------------
    # Wald test

    def wald_test(self, design_matrix: np.ndarray, disp: np.ndarray, lfc: np.ndarray, mu: np.ndarray,
                  ridge_factor: np.ndarray, contrast: np.ndarray, lfc_null: np.ndarray,
                  alt_hypothesis: Literal["greaterAbs", "lessAbs", "greater", "less"] | None = None,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Wald statistics of ``contrast`` for every gene; returns (p-values, statistics, SEs)."""
        X = np.asarray(design_matrix, dtype=float)
        weights = mu / (1.0 + mu * disp)
        fisher = _gram(X, weights)
        covariance = np.linalg.inv(fisher + ridge_factor)
        hc = covariance @ contrast
        se = np.sqrt(np.einsum("gp,gpq,gq->g", hc, fisher, hc))
        lfc = np.asarray(lfc, dtype=float)

        def greater(null):
            stat = np.fmax((lfc - null) / se[:, None], 0) @ contrast
            return stat, norm.sf(stat)

        def less(null):
            stat = np.fmin((lfc - null) / se[:, None], 0) @ contrast
            return stat, norm.sf(np.abs(stat))

        if alt_hypothesis is None:
            stat = ((lfc - lfc_null) @ contrast) / se
            return 2 * norm.sf(np.abs(stat)), stat, se
        if alt_hypothesis in ("greater", "less"):
            stat, p = (greater if alt_hypothesis == "greater" else less)(lfc_null)
            return p, stat, se
        if alt_hypothesis == "greaterAbs":
            stat = (np.sign(lfc) * np.fmax((np.abs(lfc) - lfc_null) / se[:, None], 0)) @ contrast
            return 2 * norm.sf(np.abs(stat)), stat, se
        if alt_hypothesis == "lessAbs":
            above, p_above = greater(-abs(lfc_null))
            below, p_below = less(abs(lfc_null))
            # pydeseq2 keeps the statistic of smaller magnitude (the first on ties).
            stat = np.where(np.abs(below) < np.abs(above), below, above)
            return np.maximum(p_above, p_below), stat, se
        raise ValueError(f"unknown alternative hypothesis {alt_hypothesis!r}")

    # ----------------------------------------------------------------------------------------
    # apeGLM shrinkage

    def lfc_shrink_nbinom_glm(self, design_matrix: np.ndarray, counts: np.ndarray, size: np.ndarray,
                              offset: np.ndarray, prior_no_shrink_scale: float, prior_scale: float,
                              optimizer: str, shrink_index: int,
                              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """apeGLM MAP coefficients of every gene; returns (beta (G, p), inverse Hessians, converged)."""
        X = np.asarray(design_matrix, dtype=float)
        counts = np.asarray(counts, dtype=float)
        size = np.asarray(size, dtype=float)
        offset = np.asarray(offset, dtype=float)
        n_genes, num_vars = counts.shape[1], X.shape[1]
        shrink = np.zeros(num_vars, dtype=bool)
        shrink[shrink_index] = True
        s0_2, s_2 = prior_no_shrink_scale ** 2, prior_scale ** 2
        log_size = np.log(size)

        def objective(beta: np.ndarray, genes: np.ndarray) -> np.ndarray:
            xbeta = X @ beta.T
            prior = ((beta[:, ~shrink] ** 2).sum(axis=1) / (2 * s0_2)
                     + np.log1p(beta[:, shrink_index] ** 2 / s_2))
            loglik = (counts[:, genes] * xbeta - (counts[:, genes] + size[genes])
                      * np.logaddexp(xbeta + offset[:, None], log_size[genes])).sum(axis=0)
            return prior - loglik

        def derivatives(beta: np.ndarray, genes: np.ndarray):
            xbeta = X @ beta.T
            y, k = counts[:, genes], size[genes]
            b = beta[:, shrink_index]
            prior_gradient = np.where(shrink, 0.0, beta / s0_2)
            prior_gradient[:, shrink_index] = 2 * b / (s_2 + b ** 2)
            fitted = np.exp(xbeta + offset[:, None])
            gradient = prior_gradient - (y - (y + k) / (1 + k / fitted)).T @ X
            curvature = (y + k) * k * fitted / (k + fitted) ** 2
            prior_diagonal = np.where(shrink, 0.0, 1.0 / s0_2) * np.ones((len(genes), 1))
            prior_diagonal[:, shrink_index] = 2 * (s_2 - b ** 2) / (s_2 + b ** 2) ** 2
            return gradient, _gram(X, curvature), prior_diagonal

        # The search for the mode near 0 starts at 0 (where the Cauchy prior's curvature is
        # largest) rather than at pydeseq2's (0.1, -0.1, ...), and the intercept at the log mean
        # normalised count: from 0.1, Newton's steps overshoot on the exponential mean and the
        # line search spends most of its time halving them.
        beta = np.zeros((n_genes, num_vars))
        if (X[:, 0] == 1).all() and shrink_index != 0:
            beta[:, 0] = np.log(np.maximum((counts / np.exp(offset)[:, None]).mean(axis=0), 1e-8))
        everyone = np.arange(n_genes)
        # Step sizes are judged on the objective scaled as pydeseq2 scales it (by f(0), at least 1).
        scale = np.maximum(objective(np.zeros_like(beta), everyone), 1.0)

        def newton(beta: np.ndarray, subset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Damped Newton from ``beta`` (rows: the genes ``subset``); NaN rows where the line
            search failed."""
            beta = beta.copy()
            value = objective(beta, subset)
            done = np.zeros(subset.size, dtype=bool)
            for _ in range(MAX_SHRINK_ITERATIONS):
                rows = np.flatnonzero(~done)
                if rows.size == 0:
                    break
                gradient, gram, prior_diagonal = derivatives(beta[rows], subset[rows])
                hessian = gram + prior_diagonal[:, :, None] * np.eye(num_vars)
                # Newton on the true Hessian where it is positive definite; where the Cauchy prior
                # makes it indefinite, the likelihood part alone (a positive definite majoriser of
                # the curvature away from the prior's inflection).
                eigen_min = np.linalg.eigvalsh(hessian)[:, 0]
                hessian = np.where((eigen_min > 0)[:, None, None], hessian,
                                   gram + np.eye(num_vars) * (np.abs(prior_diagonal)[:, :, None] + 1e-8))
                direction = -np.linalg.solve(hessian, gradient[:, :, None])[:, :, 0]
                # At most one unit of log scale per coefficient and step: near the prior's
                # inflection the Hessian is nearly singular and full steps overshoot far.
                step_length = np.minimum(1.0, 1.0 / np.maximum(np.abs(direction).max(axis=1), 1e-300))
                current = value[rows]
                slope = (gradient * direction).sum(axis=1)
                # Newton decrement below the objective's rounding: at the optimum already (a line
                # search could only fail on rounding noise there).
                optimal = -slope <= 1e-13 * np.maximum(np.abs(current), 1.0)
                done[rows[optimal]] = True
                keep = ~optimal
                rows, direction, current, slope = rows[keep], direction[keep], current[keep], slope[keep]
                gradient, step_length = gradient[keep], step_length[keep]
                accepted = np.zeros(rows.size, dtype=bool)
                candidate = beta[rows].copy()
                new_value = current.copy()
                for _ in range(40):
                    trying = ~accepted
                    trial = beta[rows][trying] + step_length[trying, None] * direction[trying]
                    with np.errstate(all="ignore"):
                        trial_value = objective(trial, subset[rows[trying]])
                    ok = np.isfinite(trial_value) & (
                        trial_value <= current[trying] + 1e-4 * step_length[trying] * slope[trying])
                    index = np.flatnonzero(trying)[ok]
                    candidate[index] = trial[ok]
                    new_value[index] = trial_value[ok]
                    accepted[index] = True
                    if accepted.all():
                        break
                    step_length[~accepted] *= 0.5
                moved = np.abs(candidate - beta[rows]).max(axis=1)
                beta[rows] = candidate
                value[rows] = new_value
                small_gradient = np.abs(gradient).max(axis=1) / scale[subset[rows]] < 1e-12
                settled = accepted & ((moved < 1e-10) | small_gradient)
                done[rows[settled]] = True
                # A line search that fails leaves the gene to pydeseq2's own fit.
                done[rows[~accepted]] = True
                beta[rows[~accepted]] = np.nan

            value[~np.isfinite(beta).all(axis=1)] = np.nan
            return beta, value

        beta, value = newton(beta, everyone)
        # The posterior can have a second mode near the MLE, which a search from 0 does not reach.
        # For a quadratic log-likelihood of curvature I around the MLE m, I (b - m) + 2b / (s^2 +
        # b^2) has a root away from 0 only if m^2 >= 8 / I (|m| >= 2.8 standard errors); genes with
        # |m| of at least 1.5 standard errors are searched again from the MLE, and the lower
        # objective is kept.
        mle = self.irls(counts, np.exp(offset), X, 1.0 / size, 0.5, 1e-8)[0]
        fitted = np.exp(X @ mle.T + offset[:, None])
        covariance = np.linalg.inv(_gram(X, fitted / (1.0 + fitted / size)) + RIDGE * np.eye(num_vars))
        z = mle[:, shrink_index] / np.sqrt(covariance[:, shrink_index, shrink_index])
        again = np.flatnonzero(np.abs(z) >= 1.5)
        near_mle, value_near_mle = newton(np.clip(mle[again], -30, 30), again)
        better = np.isfinite(value_near_mle) & ~(value[again] <= value_near_mle)
        beta[again[better]] = near_mle[better]
        converged = np.isfinite(beta).all(axis=1)
        for gene in np.flatnonzero(~converged):
            beta[gene], _, converged[gene] = deseq_utils.nbinomGLM(
                design_matrix=X, counts=counts[:, gene], size=size[gene], offset=offset,
                prior_no_shrink_scale=prior_no_shrink_scale, prior_scale=prior_scale,
                optimizer=optimizer, shrink_index=shrink_index)
        _, gram, prior_diagonal = derivatives(beta, everyone)
        # pydeseq2 adds the prior's curvature vector to every row of X'WX (``+ np.diag(h)`` on a
        # matrix), not to its diagonal; the inverse Hessian (the shrunk SE) is reproduced as it
        # computes it so that the two inference objects give the same SEs.
        inverse_hessians = np.linalg.inv(gram + prior_diagonal[:, None, :])
        return beta, inverse_hessians, converged


class VectorisedDeseqDataSet(DeseqDataSet):
    """pydeseq2's ``DeseqDataSet`` with its parametric dispersion trend fitted on arrays.

    Same iterations as pydeseq2 0.5.4's ``_fit_parametric_dispersion_trend`` (pinned in
    ``envs/rna.yaml``): drop genes whose covariate 1 / mean is not finite, fit the gamma GLM, drop
    genes whose dispersion / fitted ratio is below 1e-4 or at least 15, refit until the log
    coefficients move by less than 1e-6 (squared); fall back to the mean trend, with pydeseq2's
    warning, when a fit fails or a coefficient is not positive.
    """

    def _fit_parametric_dispersion_trend(self, vst: bool = False) -> None:
        name = "vst_genewise_dispersions" if vst else "genewise_dispersions"
        if name not in self.var:
            self.fit_genewise_dispersions(vst)
        genes = self.non_zero_genes
        dispersions = self.var.loc[genes, name].to_numpy(dtype=float)
        with np.errstate(divide="ignore"):
            covariates = 1.0 / self.var.loc[genes, "_normed_means"].to_numpy(dtype=float)
        keep = np.isfinite(covariates)
        previous, coefficients = np.array([0.1, 0.1]), np.array([1.0, 1.0])
        while (coefficients > 1e-10).all() and (np.log(np.abs(coefficients / previous)) ** 2).sum() >= 1e-6:
            previous = coefficients
            coefficients, predictions, converged = self.inference.dispersion_trend_gamma_glm(
                pd.Series(covariates[keep], index=genes[keep]), pd.Series(dispersions[keep], index=genes[keep]))
            coefficients = np.asarray(coefficients, dtype=float)
            if not converged or (coefficients <= 1e-10).any():
                warnings.warn("The dispersion trend curve fitting did not converge. Switching to a "
                              "mean-based dispersion trend.", UserWarning, stacklevel=2)
                self._fit_mean_dispersion_trend(vst)
                return
            ratio = dispersions[keep] / np.asarray(predictions, dtype=float)
            keep[np.flatnonzero(keep)[(ratio < 1e-4) | (ratio >= 15)]] = False
        trend = pd.Series(coefficients, index=["a0", "a1"])
        if vst:
            self.uns["vst_trend_coeffs"] = trend
            return
        self.uns["trend_coeffs"] = trend
        self.uns["disp_function_type"] = "parametric"
        self.var["fitted_dispersions"] = np.full(self.n_vars, np.nan)
        self.var.loc[self.var["non_zero"], "fitted_dispersions"] = self.disp_function(
            self.var.loc[self.var["non_zero"], "_normed_means"])
