"""DESeq2's negative-binomial GLM steps on arrays, every gene at once, without pydeseq2.

The IRLS of the coefficients, the Wald test of a contrast and the apeGLM (Cauchy prior) MAP of one
coefficient, as pydeseq2 0.5.4 computes them gene by gene (its ``DefaultInference``): the fit rule
calls them through :class:`~trialomics.deseq_inference.VectorisedInference`, and the results rule
(:mod:`trialomics.deseq_results`) calls them directly, so that testing a contrast on a stored fit
does not import pydeseq2 (about 1 CPU-s of imports: scipy.stats, scipy.optimize, scikit-learn,
matplotlib). Only the rare genes whose IRLS diverges or whose apeGLM line search fails are handed
to pydeseq2's own per-gene solvers, imported then.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.special import gammaln, ndtr

#: Ridge added to X'WX in the IRLS and Wald steps, as pydeseq2 (and DESeq2) do.
RIDGE = 1e-6
MAX_SHRINK_ITERATIONS = 200


def pydeseq2_utils():
    """pydeseq2's ``utils`` (its per-gene solvers), imported when a gene needs one."""
    from pydeseq2 import utils

    return utils


def weighted_gram(design: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """X' diag(w_g) X for every gene g: (genes, p, p) from weights (samples, genes)."""
    return np.einsum("ip,ig,iq->gpq", design, weights, design, optimize=True)


def normal_sf(x):
    """The standard normal upper tail, as ``scipy.stats.norm.sf`` computes it (``ndtr(-x)``)."""
    return ndtr(-np.asarray(x))


def nb_negative_log_likelihood(counts: np.ndarray, mu: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """pydeseq2's ``nb_nll`` of every column: counts and mu (samples, genes), alpha (genes,)."""
    inverse = 1.0 / alpha
    log_binomial = gammaln(counts + inverse) - gammaln(counts + 1.0) - gammaln(inverse)
    return (counts.shape[0] * inverse * np.log(alpha)
            + (-log_binomial + (counts + inverse) * np.log(inverse + mu) - counts * np.log(mu)).sum(axis=0))


def irls(counts: np.ndarray, size_factors: np.ndarray, design_matrix: np.ndarray, disp: np.ndarray,
         min_mu: float, beta_tol: float, min_beta: float = -30, max_beta: float = 30,
         optimizer: Literal["BFGS", "L-BFGS-B"] = "L-BFGS-B", maxiter: int = 250,
         refit_diverging: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every gene's IRLS at once; returns (beta (G, p), mu (n, G), hat diagonals (n, G), converged).

    Genes whose IRLS diverges are refitted by pydeseq2's solver (L-BFGS-B), or with ``refit_diverging``
    False keep their last IRLS iterate (not converged).
    """
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
        gram = weighted_gram(X, weights) + ridge
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

    converged = ~diverged
    for gene in np.flatnonzero(diverged) if refit_diverging else ():
        beta[gene], _, _, converged[gene] = pydeseq2_utils().irls_solver(
            counts=counts[:, gene], size_factors=sf, design_matrix=X, disp=disp[gene],
            min_mu=min_mu, beta_tol=beta_tol, min_beta=min_beta, max_beta=max_beta,
            optimizer=optimizer, maxiter=maxiter)
    mu = np.maximum(sf[:, None] * np.exp(X @ beta.T), min_mu)
    weights = mu / (1.0 + mu * disp)
    inverse = np.linalg.inv(weighted_gram(X, weights) + ridge)
    hat = np.einsum("ip,gpq,iq->ig", X, inverse, X, optimize=True) * weights
    # Unthresholded means, as pydeseq2 and DESeq2 return them.
    return beta, sf[:, None] * np.exp(X @ beta.T), hat, converged


def wald_test(design_matrix: np.ndarray, disp: np.ndarray, lfc: np.ndarray, mu: np.ndarray,
              ridge_factor: np.ndarray, contrast: np.ndarray, lfc_null: np.ndarray,
              alt_hypothesis: Literal["greaterAbs", "lessAbs", "greater", "less"] | None = None,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wald statistics of ``contrast`` for every gene; returns (p-values, statistics, SEs)."""
    X = np.asarray(design_matrix, dtype=float)
    weights = mu / (1.0 + mu * disp)
    fisher = weighted_gram(X, weights)
    covariance = np.linalg.inv(fisher + ridge_factor)
    hc = covariance @ contrast
    se = np.sqrt(np.einsum("gp,gpq,gq->g", hc, fisher, hc))
    lfc = np.asarray(lfc, dtype=float)

    def greater(null):
        stat = np.fmax((lfc - null) / se[:, None], 0) @ contrast
        return stat, normal_sf(stat)

    def less(null):
        stat = np.fmin((lfc - null) / se[:, None], 0) @ contrast
        return stat, normal_sf(np.abs(stat))

    if alt_hypothesis is None:
        stat = ((lfc - lfc_null) @ contrast) / se
        return 2 * normal_sf(np.abs(stat)), stat, se
    if alt_hypothesis in ("greater", "less"):
        stat, p = (greater if alt_hypothesis == "greater" else less)(lfc_null)
        return p, stat, se
    if alt_hypothesis == "greaterAbs":
        stat = (np.sign(lfc) * np.fmax((np.abs(lfc) - lfc_null) / se[:, None], 0)) @ contrast
        return 2 * normal_sf(np.abs(stat)), stat, se
    if alt_hypothesis == "lessAbs":
        above, p_above = greater(-abs(lfc_null))
        below, p_below = less(abs(lfc_null))
        # pydeseq2 keeps the statistic of smaller magnitude (the first on ties).
        stat = np.where(np.abs(below) < np.abs(above), below, above)
        return np.maximum(p_above, p_below), stat, se
    raise ValueError(f"unknown alternative hypothesis {alt_hypothesis!r}")


def apeglm_map(design_matrix: np.ndarray, counts: np.ndarray, size: np.ndarray, offset: np.ndarray,
               prior_no_shrink_scale: float, prior_scale: float, optimizer: str, shrink_index: int,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """apeGLM MAP coefficients of every gene (pydeseq2's ``lfc_shrink_nbinom_glm``); returns (beta
    (G, p), inverse Hessians, converged)."""
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
        return gradient, weighted_gram(X, curvature), prior_diagonal

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
    # The MLE only starts the second search: a gene whose IRLS diverges (a group without counts) starts
    # from its last IRLS iterate, clipped below, rather than from pydeseq2's L-BFGS-B refit of it.
    mle = irls(counts, np.exp(offset), X, 1.0 / size, 0.5, 1e-8, refit_diverging=False)[0]
    fitted = np.exp(X @ mle.T + offset[:, None])
    covariance = np.linalg.inv(weighted_gram(X, fitted / (1.0 + fitted / size)) + RIDGE * np.eye(num_vars))
    z = mle[:, shrink_index] / np.sqrt(covariance[:, shrink_index, shrink_index])
    again = np.flatnonzero(np.abs(z) >= 1.5)
    near_mle, value_near_mle = newton(np.clip(mle[again], -30, 30), again)
    better = np.isfinite(value_near_mle) & ~(value[again] <= value_near_mle)
    beta[again[better]] = near_mle[better]
    converged = np.isfinite(beta).all(axis=1)
    for gene in np.flatnonzero(~converged):
        beta[gene], _, converged[gene] = pydeseq2_utils().nbinomGLM(
            design_matrix=X, counts=counts[:, gene], size=size[gene], offset=offset,
            prior_no_shrink_scale=prior_no_shrink_scale, prior_scale=prior_scale,
            optimizer=optimizer, shrink_index=shrink_index)
    _, gram, prior_diagonal = derivatives(beta, everyone)
    # pydeseq2 adds the prior's curvature vector to every row of X'WX (``+ np.diag(h)`` on a
    # matrix), not to its diagonal; the inverse Hessian (the shrunk SE) is reproduced as it
    # computes it so that the two inference objects give the same SEs.
    inverse_hessians = np.linalg.inv(gram + prior_diagonal[:, None, :])
    return beta, inverse_hessians, converged
