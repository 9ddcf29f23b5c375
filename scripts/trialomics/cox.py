"""Cox proportional-hazards fits of many features at once: maximum likelihood and Firth's penalised fit.

Every function works on a stack of small designs that share one outcome: ``X`` is features x
patients x parameters (parameter 0 is the feature, the others are covariates), ``weights`` is
features x patients (1 = the patient enters this feature's fit, 0 = left out, e.g. a missing value),
and ``beta`` is features x parameters. Newton–Raphson runs on all features together; a feature stops
iterating once its own fit has converged.

Ties are handled by Efron's approximation, as lifelines' ``CoxPHFitter`` and R's ``coxph`` do by
default. Exponents are shifted by the largest linear predictor, so that fits whose coefficients
diverge (monotone likelihood) stay finite and can be recognised rather than overflowing.

Monotone likelihood (separation) is declared as R's ``coxph`` warns "coefficient may be infinite":
after the likelihood has stopped improving, the Newton step that would still be taken,
``|(I^-1 U)_j|``, is larger than ``sqrt(1e-9) * |beta_j|`` (and than 1e-9), i.e. the coefficient was
still walking off to infinity while the log-likelihood had flattened; a fit that did not converge
or whose information matrix is not positive definite is also declared separated.

Firth's penalised partial likelihood (Heinze & Schemper 2001, Statistics in Medicine 21:2409)
maximises ``l(beta) + 0.5 log det I(beta)``. Its estimate stays finite under separation; tests and
intervals use the profile penalised likelihood (penalised likelihood-ratio test with 1 df, profile
interval where twice the drop from the maximum equals the chi-square quantile), as R's ``coxphf``.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .distributions import chi2_ppf, chi2_sf

# Newton stops for a feature once its step is this small or (ML fits) its objective improves by less
# than this (relative); separated fits stop by the second rule, with the coefficient still moving.
STEP_TOLERANCE = 1e-10
OBJECTIVE_TOLERANCE = 1e-12
MAX_ITERATIONS = 60
MAX_HALVINGS = 30
# R coxph's criterion for an infinite coefficient (control eps and toler.inf = sqrt(eps)).
INFINITE_EPS = 1e-9
INFINITE_TOLERANCE = np.sqrt(1e-9)
# Above this many patients the risk-set sums run over the nested risk sets (linear in the patients): the
# power sums as reverse cumulative sums, the centred (Firth) moments merged block by block, rather than
# a matrix product or one centred pass per risk set (event times x patients). The same numbers to
# rounding (tested); 0.3 CPU-s per sparse alteration's Firth fit at 500 patients before.
RUNNING_SUMS_MIN_PATIENTS = 50
# Features are evaluated in chunks of about this many (features x event times x patients x
# parameters^2) elements: small enough to stay in cache (measured fastest at 250-500 features of
# 20 patients), large enough to keep numpy's per-call overhead small.
CHUNK_ELEMENTS = 100_000


@dataclass(frozen=True)
class RiskSets:
    """Who is at risk and who dies at each distinct event time (both event times x patients)."""

    at_risk: np.ndarray
    dies: np.ndarray

    @cached_property
    def times_at_risk(self) -> np.ndarray:
        """Per patient, at how many event times it is at risk: the risk sets are nested, so a patient
        counted c is in risk sets 0..c-1, and dies (if it does) at event time c-1."""
        return self.at_risk.sum(axis=0)

    @cached_property
    def dead(self) -> np.ndarray:
        """Per patient, whether it dies at one of the event times."""
        return self.dies.any(axis=0)

    @cached_property
    def last_at_risk(self) -> list[np.ndarray]:
        """Per event time, the patients (in index order) whose last risk set it is: walking the event times
        back, those who join the risk set there."""
        order = np.argsort(self.times_at_risk, kind="stable")
        starts = np.searchsorted(self.times_at_risk[order], np.arange(1, self.at_risk.shape[0] + 2))
        return [order[starts[k]:starts[k + 1]] for k in range(self.at_risk.shape[0])]


def risk_sets(time, event) -> RiskSets:
    """Risk sets of right-censored data: at time t, patients with time >= t are at risk."""
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event, dtype=bool)
    event_times = np.unique(time[event])
    at_risk = time[None, :] >= event_times[:, None]
    dies = (time[None, :] == event_times[:, None]) & event[None, :]
    return RiskSets(at_risk=at_risk, dies=dies)


@dataclass
class Derivatives:
    """Log partial likelihood and its derivatives, one entry per feature."""

    loglik: np.ndarray          # features
    score: np.ndarray           # features x parameters
    information: np.ndarray     # features x parameters x parameters
    d_information: np.ndarray | None = None  # features x parameters^3: dI_jk / d beta_r


def efron_derivatives(X: np.ndarray, weights: np.ndarray, risk: RiskSets, beta: np.ndarray,
                      centred: bool = False, third: bool = False) -> Derivatives:
    """Efron log partial likelihood, score and observed information of every feature's design.

    By default the risk-set moments come from power sums (matrix products over patients, fast
    enough for tens of thousands of features); they lose precision only where the information is
    ~1e-13 of the covariate's spread, i.e. deep in a diverging fit, which is flagged anyway.
    ``centred`` (Firth's fit, which needs log det I at large coefficients) centres every risk set on
    its own weighted mean, which stays accurate however small the information is; ``third`` (implies
    ``centred``) also gives the derivative of the information, the weighted third central moments.
    Above ``RUNNING_SUMS_MIN_PATIENTS`` patients the centred moments of the nested risk sets are
    accumulated from the last event time back (:func:`_efron_running_chunk`, linear in the patients)
    instead of computed per risk set (event times x patients per feature).
    """
    n_features, n_patients, n_parameters = X.shape
    if (centred or third) and n_patients > RUNNING_SUMS_MIN_PATIENTS:
        per_feature = n_patients * n_parameters ** 3
        evaluate = functools.partial(_efron_running_chunk, third=third)
    elif centred or third:
        per_feature = risk.at_risk.shape[0] * n_patients * n_parameters ** 3
        evaluate = functools.partial(_efron_central_chunk, third=third)
    elif n_patients > RUNNING_SUMS_MIN_PATIENTS:
        # Products per patient and sums per event time (the running sums need no times x patients array).
        per_feature = (risk.at_risk.shape[0] + n_patients) * (1 + n_parameters + n_parameters ** 2)
        evaluate = _efron_power_sum_chunk
    else:
        per_feature = risk.at_risk.shape[0] * n_patients * n_parameters ** 2
        evaluate = _efron_power_sum_chunk
    chunk = max(1, CHUNK_ELEMENTS // max(1, per_feature))
    parts = [evaluate(X[s:s + chunk], weights[s:s + chunk], risk, beta[s:s + chunk])
             for s in range(0, n_features, chunk)]
    if not parts:
        return Derivatives(np.zeros(0), np.zeros((0, n_parameters)), np.zeros((0, n_parameters, n_parameters)),
                           np.zeros((0,) + (n_parameters,) * 3) if third else None)
    return Derivatives(
        loglik=np.concatenate([p.loglik for p in parts]),
        score=np.concatenate([p.score for p in parts]),
        information=np.concatenate([p.information for p in parts]),
        d_information=np.concatenate([p.d_information for p in parts]) if third else None)


def _event_terms(X, weights, risk, eta):
    """The deaths' part of the log-likelihood and score, and the deaths per feature and event time."""
    died = risk.dies.sum(axis=0).astype(np.float64)
    deaths = _death_sums(risk, weights.T).T                                      # features x times
    loglik = (weights * eta) @ died
    score = np.einsum("fn,fnm->fm", weights * died[None, :], X)
    return loglik, score, deaths


def _risk_set_sums(risk: RiskSets, values: np.ndarray) -> np.ndarray:
    """Sums of the rows of ``values`` (patients x columns) over each event time's risk set (event times x
    columns): one matrix product, or above ``RUNNING_SUMS_MIN_PATIENTS`` patients reverse cumulative sums
    over the nested risk sets (a patient at risk at the first c event times is in risk sets 0..c-1)."""
    n_times, n_patients = risk.at_risk.shape
    if n_patients <= RUNNING_SUMS_MIN_PATIENTS:
        return risk.at_risk.astype(np.float64) @ values
    by_count = np.zeros((n_times + 1, values.shape[1]))
    np.add.at(by_count, risk.times_at_risk, values)
    return np.cumsum(by_count[::-1], axis=0)[::-1][1:]


def _death_sums(risk: RiskSets, values: np.ndarray) -> np.ndarray:
    """Sums of the rows of ``values`` (patients x columns) over each event time's deaths (event times x
    columns): a matrix product, or above ``RUNNING_SUMS_MIN_PATIENTS`` patients each death added to its
    time's row."""
    n_times, n_patients = risk.dies.shape
    if n_patients <= RUNNING_SUMS_MIN_PATIENTS:
        return risk.dies.astype(np.float64) @ values
    dead = np.flatnonzero(risk.dead)
    sums = np.zeros((n_times, values.shape[1]))
    np.add.at(sums, risk.times_at_risk[dead] - 1, values[dead])
    return sums


def _efron_power_sum_chunk(X, weights, risk, beta) -> Derivatives:
    n_features, n_patients, n_parameters = X.shape
    # Centring each feature's columns changes neither the coefficients nor the likelihood, and keeps
    # the power sums small.
    X = X - (np.einsum("fn,fnm->fm", weights, X) / np.maximum(weights.sum(axis=1), 1.0)[:, None])[:, None, :]
    eta = np.einsum("fnm,fm->fn", X, beta)
    loglik, score, deaths = _event_terms(X, weights, risk, eta)
    shift = np.max(np.where(weights > 0, eta, -np.inf), axis=1)
    shift = np.where(np.isfinite(shift), shift, 0.0)
    with np.errstate(under="ignore"):
        relative = weights * np.exp(np.minimum(eta - shift[:, None], 0.0))       # features x patients
    products = np.concatenate([relative[:, :, None], relative[:, :, None] * X,
                               (relative[:, :, None, None] * X[:, :, :, None] * X[:, :, None, :])
                               .reshape(n_features, n_patients, -1)], axis=2)    # features x patients x (1+m+m^2)
    # The sums over each risk set and its deaths for all features at once (times x features*(1+m+m^2)).
    flat = products.transpose(1, 0, 2).reshape(n_patients, -1)
    at_risk = _risk_set_sums(risk, flat).reshape(-1, n_features, products.shape[2]).transpose(1, 0, 2)
    dying = _death_sums(risk, flat).reshape(-1, n_features, products.shape[2]).transpose(1, 0, 2)
    information = np.zeros((n_features, n_parameters, n_parameters))
    for level in range(int(deaths.max()) if deaths.size else 0):
        active = deaths > level
        fraction = np.where(active, level / np.maximum(deaths, 1.0), 0.0)
        sums = at_risk - fraction[:, :, None] * dying
        total = np.where(active, sums[:, :, 0], 1.0)
        mean = sums[:, :, 1:1 + n_parameters] / total[:, :, None]
        second = (sums[:, :, 1 + n_parameters:].reshape(n_features, -1, n_parameters, n_parameters)
                  / total[:, :, None, None])
        covariance = second - mean[:, :, :, None] * mean[:, :, None, :]
        mask = active.astype(np.float64)
        loglik -= np.sum(mask * (np.log(total) + shift[:, None]), axis=1)
        score -= np.einsum("ft,ftm->fm", mask, mean)
        information += np.einsum("ft,ftjk->fjk", mask, covariance)
    return Derivatives(loglik, score, information)


def _efron_central_chunk(X, weights, risk, beta, third) -> Derivatives:
    n_features, _, n_parameters = X.shape
    at_risk = risk.at_risk.astype(np.float64)
    dies = risk.dies.astype(np.float64)
    eta = np.einsum("fnm,fm->fn", X, beta)
    # A left-out patient (weight 0) neither dies nor is at risk.
    loglik, score, deaths = _event_terms(X, weights, risk, eta)
    information = np.zeros((n_features, n_parameters, n_parameters))
    d_information = np.zeros((n_features,) + (n_parameters,) * 3) if third else None

    in_risk_set = (weights[:, None, :] * at_risk[None]) > 0                      # features x times x patients
    shift = np.max(np.where(in_risk_set, eta[:, None, :], -np.inf), axis=2)
    shift = np.where(np.isfinite(shift), shift, 0.0)
    with np.errstate(under="ignore"):
        relative = np.where(in_risk_set, np.exp(np.minimum(eta[:, None, :] - shift[:, :, None], 0.0)), 0.0)
    dying = relative * dies[None]
    for level in range(int(deaths.max()) if deaths.size else 0):
        active = deaths > level
        fraction = np.where(active, level / np.maximum(deaths, 1.0), 0.0)
        tilt = relative - fraction[:, :, None] * dying                          # features x times x patients
        total = tilt.sum(axis=2)
        safe_total = np.where(active, total, 1.0)
        mean = np.einsum("ftn,fnm->ftm", tilt, X) / safe_total[:, :, None]
        deviation = X[:, None, :, :] - mean[:, :, None, :]                        # features x times x patients x params
        weighted = tilt[..., None] * deviation / safe_total[:, :, None, None]
        covariance = np.einsum("ftnj,ftnk->ftjk", weighted, deviation)
        mask = active.astype(np.float64)
        loglik -= np.sum(mask * (np.log(safe_total) + shift), axis=1)
        score -= np.einsum("ft,ftm->fm", mask, mean)
        information += np.einsum("ft,ftjk->fjk", mask, covariance)
        if third:
            d_information += np.einsum("ft,ftnj,ftnk,ftnr->fjkr", mask, weighted, deviation, deviation)
    return Derivatives(loglik, score, information, d_information)


def _weighted_moments(r, X, third):
    """Total weight, weighted mean and centred second (and third) moment sums of each feature's rows of
    ``X`` (features x rows x params) with weights ``r`` (features x rows), in two passes."""
    total = r.sum(axis=1)
    safe = np.where(total > 0, total, 1.0)
    mean = np.einsum("fn,fnm->fm", r, X) / safe[:, None]
    deviation = X - mean[:, None, :]
    weighted = r[:, :, None] * deviation
    second = np.einsum("fnj,fnk->fjk", weighted, deviation)
    moment3 = np.einsum("fnj,fnk,fnr->fjkr", weighted, deviation, deviation) if third else None
    return total, mean, second, moment3


def _merged_moments(a, b, third):
    """The moments of the union of two weighted sets (weights may be negative: a subset taken out), from
    their own (``_weighted_moments``' tuples), by the pairwise update of centred moment sums."""
    total_a, mean_a, second_a, third_a = a
    total_b, mean_b, second_b, third_b = b
    total = total_a + total_b
    safe = np.where(total != 0, total, 1.0)
    delta = mean_b - mean_a
    shift_a = delta * (total_b / safe)[:, None]          # x - new mean = (x - mean_a) - shift_a on set a
    shift_b = -delta * (total_a / safe)[:, None]         # and (x - mean_b) - shift_b on set b
    mean = mean_a + shift_a
    second = (second_a + second_b + total_a[:, None, None] * shift_a[:, :, None] * shift_a[:, None, :]
              + total_b[:, None, None] * shift_b[:, :, None] * shift_b[:, None, :])
    moment3 = None
    if third:
        def cross(moment, shift):
            # M_jk c_r + M_jr c_k + M_kr c_j
            return (moment[:, :, :, None] * shift[:, None, None, :] + moment[:, :, None, :] * shift[:, None, :, None]
                    + moment[:, None, :, :] * shift[:, :, None, None])

        def cube(shift):
            return shift[:, :, None, None] * shift[:, None, :, None] * shift[:, None, None, :]

        moment3 = (third_a + third_b - cross(second_a, shift_a) - cross(second_b, shift_b)
                   - total_a[:, None, None, None] * cube(shift_a) - total_b[:, None, None, None] * cube(shift_b))
    return total, mean, second, moment3


def _scaled_moments(moments, factor):
    total, mean, second, moment3 = moments
    return (total * factor, mean, second * factor[:, None, None],
            None if moment3 is None else moment3 * factor[:, None, None, None])


def _efron_running_chunk(X, weights, risk, beta, third) -> Derivatives:
    """:func:`_efron_central_chunk`'s derivatives from running centred moments of the nested risk sets.

    The risk set of an event time is that of the next one plus the patients who leave between them, so
    walking the event times from the last back, each patient is added once: the moments of the block
    that enters are merged into the running ones (their weights rescaled when the block raises the
    largest linear predictor, which every risk set's exponents are shifted by), and Efron's tied deaths
    are taken out at each level with negative weights. Linear in the patients; the same numbers as
    the per-risk-set passes to rounding.
    """
    n_features, _, n_parameters = X.shape
    eta = np.einsum("fnm,fm->fn", X, beta)
    loglik, score, deaths = _event_terms(X, weights, risk, eta)
    information = np.zeros((n_features, n_parameters, n_parameters))
    d_information = np.zeros((n_features,) + (n_parameters,) * 3) if third else None
    present = weights > 0
    eta = np.where(present, eta, -np.inf)
    running = (np.zeros(n_features), np.zeros((n_features, n_parameters)),
               np.zeros((n_features, n_parameters, n_parameters)),
               np.zeros((n_features,) + (n_parameters,) * 3) if third else None)
    shift = np.full(n_features, -np.inf)
    for k in range(risk.at_risk.shape[0] - 1, -1, -1):
        entering = risk.last_at_risk[k]     # those who die at event time k are among them
        if not entering.size:
            continue
        new_shift = np.maximum(shift, eta[:, entering].max(axis=1))
        with np.errstate(invalid="ignore"):
            factor = np.where(np.isfinite(shift), np.exp(shift - new_shift), 0.0)
        running, shift = _scaled_moments(running, factor), new_shift
        finite_shift = np.where(np.isfinite(shift), shift, 0.0)
        with np.errstate(under="ignore", invalid="ignore"):
            r = np.where(present[:, entering], np.exp(np.minimum(eta[:, entering] - finite_shift[:, None], 0.0)), 0.0)
        running = _merged_moments(running, _weighted_moments(r, X[:, entering], third), third)
        dying = risk.dead[entering]
        if not dying.any():
            continue
        died = _weighted_moments(r[:, dying], X[:, entering[dying]], third)
        for level in range(int(deaths[:, k].max())):
            active = deaths[:, k] > level
            fraction = np.where(active, level / np.maximum(deaths[:, k], 1.0), 0.0)
            total, mean, second, moment3 = _merged_moments(running, _scaled_moments(died, -fraction), third)
            safe_total = np.where(active, total, 1.0)
            mask = active.astype(np.float64)
            loglik -= mask * (np.log(safe_total) + finite_shift)
            score -= mask[:, None] * mean
            information += (mask / safe_total)[:, None, None] * second
            if third:
                d_information += (mask / safe_total)[:, None, None, None] * moment3
    return Derivatives(loglik, score, information, d_information)


@dataclass
class CoxFit:
    """Fitted coefficients of every feature's model and what the fit reached."""

    beta: np.ndarray            # features x parameters
    objective: np.ndarray       # log partial likelihood (penalised for Firth)
    loglik: np.ndarray          # unpenalised log partial likelihood at beta
    information: np.ndarray     # features x parameters x parameters, at beta
    converged: np.ndarray       # features, bool
    infinite: np.ndarray        # features x parameters, bool: coefficient diverging (monotone likelihood)


def _objective_and_gradient(X, weights, risk, beta, firth, gradient=True):
    """Objective (penalised for Firth), its gradient (Firth's modified score; None unless
    ``gradient``) and the derivatives behind them."""
    derivatives = efron_derivatives(X, weights, risk, beta, centred=firth, third=firth and gradient)
    objective, score = derivatives.loglik.copy(), derivatives.score.copy()
    if firth:
        sign, logdet = np.linalg.slogdet(derivatives.information)
        objective += np.where(sign > 0, 0.5 * logdet, -np.inf)
        if gradient:
            inverse = _pseudo_inverse(derivatives.information)
            score += 0.5 * np.einsum("fjk,fjkr->fr", inverse, derivatives.d_information)
    return objective, score if gradient else None, derivatives


def _pseudo_inverse(matrices: np.ndarray) -> np.ndarray:
    """Inverse of each matrix; singular ones get the pseudo-inverse rather than an error."""
    try:
        return np.linalg.inv(matrices)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(matrices)


def standard_error(information: np.ndarray) -> np.ndarray:
    """Standard error of parameter 0 of every feature's fit: sqrt((I^-1)_00)."""
    return np.sqrt(np.maximum(_pseudo_inverse(information)[:, 0, 0], 0.0))


def _newton_step(information, gradient, free):
    """Step of the free parameters, information^-1 gradient restricted to them; fixed ones stay."""
    step = np.zeros_like(gradient)
    index = np.flatnonzero(free)
    if index.size == 0:
        return step
    block = information[:, index[:, None], index[None, :]]
    rhs = gradient[:, index]
    solved = np.einsum("fjk,fk->fj", _pseudo_inverse(block), rhs)
    step[:, index] = np.where(np.isfinite(solved), solved, 0.0)
    return step


def fit_cox(X: np.ndarray, weights: np.ndarray, risk: RiskSets, firth: bool = False,
            start: np.ndarray | None = None, free: np.ndarray | None = None) -> CoxFit:
    """Newton–Raphson with step halving for every feature's model at once.

    ``firth`` maximises the penalised likelihood (the Newton matrix is the unpenalised information,
    as in coxphf). ``free`` (one bool per parameter) fixes the others at their ``start`` values,
    which gives the profile fits and the penalised likelihood-ratio test of :func:`firth_cox`.
    Returns the fit of every feature, with ``infinite`` flagging diverging coefficients (module
    docstring).
    """
    n_features, _, n_parameters = X.shape
    beta = np.zeros((n_features, n_parameters)) if start is None else np.array(start, dtype=np.float64)
    free = np.ones(n_parameters, dtype=bool) if free is None else np.asarray(free, dtype=bool)
    objective, gradient, derivatives = _objective_and_gradient(X, weights, risk, beta, firth, gradient=free.any())
    if not free.any():  # nothing to fit: the objective at ``start``
        return CoxFit(beta=beta, objective=objective, loglik=derivatives.loglik,
                      information=derivatives.information, converged=np.ones(n_features, dtype=bool),
                      infinite=np.zeros((n_features, n_parameters), dtype=bool))
    information, loglik = derivatives.information, derivatives.loglik
    running = np.ones(n_features, dtype=bool)
    converged = np.zeros(n_features, dtype=bool)
    for _ in range(MAX_ITERATIONS):
        rows = np.flatnonzero(running)
        if rows.size == 0:
            break
        step = _newton_step(information[rows], gradient[rows], free)
        scale = np.ones(rows.size)
        accepted = np.zeros(rows.size, dtype=bool)
        new_objective = np.full(rows.size, -np.inf)
        pending = np.arange(rows.size)
        for _ in range(MAX_HALVINGS):
            targets = rows[pending]
            candidate = beta[targets] + scale[pending, None] * step[pending]
            value, grad, derivs = _objective_and_gradient(X[targets], weights[targets], risk, candidate, firth)
            # Accept a step that does not lower the objective (beyond rounding); halve the others.
            better = np.isfinite(value) & (value >= objective[targets] - 1e-12 * np.abs(objective[targets]))
            done, target = pending[better], targets[better]
            new_objective[done] = value[better]
            beta[target] = candidate[better]
            gradient[target] = grad[better]
            information[target] = derivs.information[better]
            loglik[target] = derivs.loglik[better]
            accepted[done] = True
            pending = pending[~better]
            if pending.size == 0:
                break
            scale[pending] /= 2.0
        improvement = np.where(accepted, new_objective - objective[rows], 0.0)
        objective[rows[accepted]] = new_objective[accepted]
        moved = np.max(np.abs(scale[:, None] * step), axis=1)
        finished = ~accepted | (moved <= STEP_TOLERANCE)
        if not firth:
            # A diverging ML fit never takes small steps: it stops when the likelihood has flattened.
            # Firth's iteration (information, not the penalised Hessian) converges only linearly, and
            # its small late improvements must not stop it early; its estimate is always finite.
            finished |= improvement <= OBJECTIVE_TOLERANCE * np.maximum(1.0, np.abs(objective[rows]))
        converged[rows[finished]] = True
        running[rows[finished]] = False
    remaining = _newton_step(information, gradient, free)
    infinite = ((np.abs(remaining) > INFINITE_EPS) & (np.abs(remaining) > INFINITE_TOLERANCE * np.abs(beta))
                & free[None, :])
    positive_definite = np.all(np.linalg.eigvalsh(information) > 0, axis=1)
    infinite |= ~(converged & positive_definite)[:, None] & free[None, :]
    return CoxFit(beta=beta, objective=objective, loglik=loglik, information=information,
                  converged=converged, infinite=infinite)


# Furthest a profile-likelihood limit is searched from the estimate (log hazard ratio); beyond it the
# limit is reported as infinite.
PROFILE_SEARCH = 32.0
PROFILE_TOLERANCE = 1e-9


@dataclass
class FirthResult:
    """Firth fit of parameter 0 of every feature's model, with its profile-likelihood inference."""

    coef: np.ndarray
    se: np.ndarray              # sqrt of (I^-1)_00 at the penalised estimate
    pvalue: np.ndarray          # penalised likelihood-ratio test of coef = 0 (1 df)
    ci_low: np.ndarray          # profile penalised-likelihood interval, log scale
    ci_high: np.ndarray
    converged: np.ndarray


def firth_cox(X: np.ndarray, weights: np.ndarray, risk: RiskSets, level: float = 0.95) -> FirthResult:
    """Firth-penalised Cox fit of every feature's model, tests and intervals for parameter 0."""
    n_parameters = X.shape[2]
    full = fit_cox(X, weights, risk, firth=True)
    nuisance = np.arange(n_parameters) > 0
    null_start = full.beta.copy()
    null_start[:, 0] = 0.0
    null = fit_cox(X, weights, risk, firth=True, start=null_start, free=nuisance)
    statistic = np.maximum(2.0 * (full.objective - null.objective), 0.0)
    critical = float(chi2_ppf(level, 1))
    low, high = _profile_limits(X, weights, risk, full, critical)
    return FirthResult(coef=full.beta[:, 0], se=standard_error(full.information), pvalue=chi2_sf(statistic, 1),
                       ci_low=low, ci_high=high, converged=full.converged & null.converged)


def _profile_drop(X, weights, risk, best: np.ndarray, maximum: np.ndarray, coef: np.ndarray,
                  critical: float) -> np.ndarray:
    """Twice the fall of the profile penalised likelihood from its ``maximum`` (at ``best``) when
    parameter 0 is fixed at ``coef``, minus ``critical`` (positive outside the interval)."""
    start = best.copy()
    start[:, 0] = coef
    profile = fit_cox(X, weights, risk, firth=True, start=start, free=np.arange(X.shape[2]) > 0)
    return 2.0 * (maximum - profile.objective) - critical


def _profile_limits(X, weights, risk, full: CoxFit, critical: float) -> tuple[np.ndarray, np.ndarray]:
    """Both profile-likelihood limits of parameter 0: bracketed by doubling the distance from the
    estimate, then located by regula falsi with the Illinois modification."""
    n = full.beta.shape[0]
    # Lower and upper limits are searched together: rows 0..n-1 below the estimate, n..2n-1 above.
    X2, weights2 = np.concatenate([X, X]), np.concatenate([weights, weights])
    best, maximum = np.concatenate([full.beta, full.beta]), np.concatenate([full.objective, full.objective])
    direction = np.repeat([-1.0, 1.0], n)

    def drop(rows, distance):
        return _profile_drop(X2[rows], weights2[rows], risk, best[rows], maximum[rows],
                             best[rows, 0] + direction[rows] * distance, critical)

    inside, inside_drop = np.zeros(2 * n), np.full(2 * n, -critical)
    outside, outside_drop = np.full(2 * n, np.nan), np.full(2 * n, np.nan)
    distance = 0.5
    while distance <= PROFILE_SEARCH and np.isnan(outside).any():
        rows = np.flatnonzero(np.isnan(outside))
        value = drop(rows, np.full(rows.size, distance))
        found = value > 0
        outside[rows[found]], outside_drop[rows[found]] = distance, value[found]
        inside[rows[~found]], inside_drop[rows[~found]] = distance, value[~found]
        distance *= 2.0
    searching = np.flatnonzero(~np.isnan(outside))
    last_side = np.zeros(2 * n)               # +1: the last point replaced the outside end, -1: inside
    for _ in range(200):
        if searching.size == 0:
            break
        a, b = inside[searching], outside[searching]
        fa, fb = inside_drop[searching], outside_drop[searching]
        point = np.clip(b - fb * (b - a) / (fb - fa), np.minimum(a, b), np.maximum(a, b))
        value = drop(searching, point)
        beyond = value > 0
        out_rows, in_rows = searching[beyond], searching[~beyond]
        # Illinois: when the same end moves twice in a row, halve the other end's value so that the
        # next point leaves it, which keeps the convergence superlinear.
        inside_drop[out_rows[last_side[out_rows] > 0]] /= 2.0
        outside_drop[in_rows[last_side[in_rows] < 0]] /= 2.0
        outside[out_rows], outside_drop[out_rows], last_side[out_rows] = point[beyond], value[beyond], 1.0
        inside[in_rows], inside_drop[in_rows], last_side[in_rows] = point[~beyond], value[~beyond], -1.0
        done = (np.abs(value) <= PROFILE_TOLERANCE) | (outside[searching] - inside[searching] <= PROFILE_TOLERANCE)
        inside[searching[done]] = outside[searching[done]] = point[done]
        searching = searching[~done]
    limit = np.where(np.isnan(outside), np.inf, (inside + outside) / 2.0)
    return full.beta[:, 0] - limit[:n], full.beta[:, 0] + limit[n:]
