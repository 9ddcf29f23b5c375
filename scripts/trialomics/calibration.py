"""Whole-chain null calibration of the ranked candidates: family-wise p, permutation q and tier null rates.

With about 20 patients, screen q-values computed within one modality and one endpoint are not the
evidence a reader needs: a feature gets many chances (several modalities, four correlated endpoints),
and the pieces of evidence come from the same patients. Here the evidence chain behind the tiers is
computed once on the data and again on ``n_permutations`` joint permutations of the patient ->
outcome rows, and every candidate's evidence is judged against what the permuted runs produce.

The chain, identical on observed and permuted outcomes:

1. Blocks: each modality's baseline matrix (:func:`trialomics.survival.baseline_matrix`, pathway
   scores too), reduced by the survival screen's label-free prefilters
   (:func:`trialomics.survival.prefilter_mask`: missingness, prevalence of alterations, top variance)
   on the block's patients that are in the labels table. Values are standardised per feature over
   the patients with a value; a missing value becomes the feature's mean (0 after standardising).
   Prefiltering and filling use no outcome, so they are the same in every permutation.
2. Screen statistic per feature and endpoint, on the patients with that endpoint: the score
   statistic U = sum_i a_i x_i of an outcome score ``a`` (:func:`outcome_scores`) standardised by its
   exact permutation variance (:func:`score_z`), z = sqrt(n - 1) * Pearson r(a, x):

   - survival (pfs, os): ``a`` are the log-rank scores (event minus Nelson–Aalen cumulative hazard),
     so U is the univariate Cox score at beta = 0 (Breslow ties), the numerator of
     ``model_preprocess.cox_score_z``, and z a log-rank test with permutation variance;
   - binary (responder, clinical_benefit): ``a`` is the label (1 = yes), so U is the logistic score
     and z a monotone function of the two-sample t.

   Standardising by the permutation variance (rather than the model's information, or Welch's
   variance) gives every feature variance 1 over the permutations: on the demo, the information-scaled
   score z of a 2-carrier mutation reached 4.1 under the null and set the family's maximum, which
   buried every continuous feature; with the permutation variance the null maximum is spread over
   the blocks in proportion to their size.
   The aggregate evidence of a candidate for an endpoint is |z|; its sign is the direction (z > 0:
   higher values go with a higher hazard, or with "yes").
3. Families: for each endpoint, every feature of every block is one family (for the primary endpoint
   this is the whole family of candidates that can become strong).

Permutations (:func:`joint_permutations`): whole rows of the labels table are permuted, so all
endpoints (and which patients miss an endpoint) move together; the omics and the clinical covariates
of ``patients.tsv`` stay with their patient. The chain does not adjust for covariates. Row 0 of every
statistics array is the observed data; rows 1..B are the permutations.

From the B permuted runs, for each endpoint (:func:`calibrate_endpoint`):

- ``calibrated_p``: Westfall & Young's step-down max-T adjusted p-value (Westfall & Young 1993,
  algorithm 2.8): features ordered by observed |z|; the j-th is compared with the maximum |z| of each
  permuted run over the features ranked j and below; p = (1 + #{runs reaching it}) / (1 + B), made
  monotone down the order. It controls the family-wise error over the whole family: on null data the
  smallest calibrated p is uniform on {1, 2, ..., B + 1} / (B + 1).
- ``calibrated_q``: the permutation false discovery rate (as in SAM, Tusher et al. 2001) at the
  feature's |z|: (1 + the number of permuted |z| at or above it over all runs) / (1 + B), divided by
  the number of observed |z| at or above it, capped at 1 and made monotone (the smallest estimate at
  any threshold at or below the feature's |z|).

Tier null rates (:func:`tier_null_rates`): each permuted run is treated in turn as the observed data,
with the other B runs (the real data among them) as its reference, and the fraction of runs in which
some candidate reaches a tier (or a higher one) is reported. The qualifiers the ranking adds for the
observed data (no separation, consistent direction; see :mod:`trialomics.ranking`) can only remove
candidates from a tier, so the rates are upper bounds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .cox import logrank_scores
from .errors import AnalysisProblem
from .survival import SURVIVAL_ENDPOINTS, endpoint_labels, feature_kinds, prefilter_mask

# Statistics whose permutation variance is below this (on standardised values) are set to 0: a
# feature constant within the patients of an endpoint, or an outcome without events, carries no evidence.
ZERO_VARIANCE = 1e-12
STRONG, SUPPORTED, EXPLORATORY = "strong", "supported", "exploratory"


@dataclass(frozen=True)
class ChainBlock:
    """One block's prefiltered, standardised values and where its patients' outcomes are."""

    name: str
    features: np.ndarray     # feature names, in the block's column order
    values: np.ndarray       # patients x features, standardised, missing values 0
    rows: np.ndarray         # each patient's row in the outcome table


def chain_block(name: str, values: pd.DataFrame, patients: pd.Index, max_missing: float = 0.5,
                min_altered: int = 2, min_altered_fraction: float = 0.1,
                top_variance: int | None = 500) -> ChainBlock:
    """The chain's view of one block (see the module docstring, step 1).

    ``values`` is patients x features (index patient_id); ``patients`` the outcome table's patients.
    Patients of the block without a row in the outcome table are left out.
    """
    values = values.loc[values.index.isin(patients)]
    kinds = feature_kinds(values)
    matrix = values.to_numpy(dtype=np.float64)
    keep = prefilter_mask(matrix, kinds.to_numpy(), max_missing=max_missing, min_altered=min_altered,
                          min_altered_fraction=min_altered_fraction, top_variance=top_variance)
    matrix = matrix[:, keep]
    mean = np.nanmean(matrix, axis=0) if matrix.size else np.zeros(matrix.shape[1])
    sd = np.nanstd(matrix, axis=0, ddof=1) if matrix.shape[0] > 1 else np.ones(matrix.shape[1])
    standardised = np.nan_to_num((matrix - mean) / np.where(sd > 0, sd, 1.0))
    return ChainBlock(name, values.columns[keep].astype(str).to_numpy(), standardised,
                      patients.get_indexer(values.index))


def outcome_table(labels: pd.DataFrame, endpoints) -> pd.DataFrame:
    """One row per patient of the labels table, one or two numeric columns per endpoint (NaN = missing).

    Survival endpoints give ``{endpoint}_time`` and ``{endpoint}_event`` (1.0 / 0.0); binary endpoints
    give ``{endpoint}`` (1.0 = yes, 0.0 = no). Rows are in the labels table's order.
    """
    patients = pd.Index(labels["patient_id"].astype(str), name="patient_id")
    table = pd.DataFrame(index=patients)
    keyed = labels.assign(patient_id=patients)
    for endpoint in endpoints:
        outcome = endpoint_labels(keyed, endpoint)
        outcome.index = outcome.index.astype(str)
        if endpoint in SURVIVAL_ENDPOINTS:
            table[f"{endpoint}_time"] = outcome["time"].reindex(patients)
            table[f"{endpoint}_event"] = outcome["event"].astype(np.float64).reindex(patients)
        else:
            table[endpoint] = outcome["label"].astype(np.float64).reindex(patients)
    return table


def joint_permutations(n_patients: int, n_permutations: int, seed: int) -> np.ndarray:
    """(1 + B) x n row orders of the outcome table: row 0 is the identity, rows 1..B are permutations.

    Run b gives patient i the outcomes of row ``orders[b, i]``. Draws come from
    ``numpy.random.default_rng(seed)``, so the same seed gives the same permutations.
    """
    rng = np.random.default_rng(seed)
    permuted = [rng.permutation(n_patients) for _ in range(n_permutations)]
    return np.vstack([np.arange(n_patients)[None, :], *[p[None, :] for p in permuted]]).astype(np.intp)


def outcome_scores(outcomes: pd.DataFrame, endpoint: str, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each run's outcome score per patient and whether the patient has the endpoint (runs x patients).

    ``positions`` (runs x patients) are the outcome-table rows the patients receive in each run.
    Survival endpoints: the log-rank scores of the run's patients with the endpoint
    (:func:`trialomics.cox.logrank_scores`: event minus Nelson–Aalen cumulative hazard); binary
    endpoints: the label (1 = yes, 0 = no). Patients without the endpoint score 0 and are left out.
    """
    if endpoint in SURVIVAL_ENDPOINTS:
        time = outcomes[f"{endpoint}_time"].to_numpy()[positions]
        event = outcomes[f"{endpoint}_event"].to_numpy()[positions]
        observed = ~np.isnan(time) & ~np.isnan(event)
        scores = np.zeros(time.shape)
        for run in range(time.shape[0]):
            have = observed[run]
            if have.any():
                scores[run, have] = logrank_scores(time[run, have], event[run, have] == 1.0)
        return scores, observed
    label = outcomes[endpoint].to_numpy()[positions]
    observed = ~np.isnan(label)
    return np.where(observed, label, 0.0), observed


def score_z(X: np.ndarray, scores: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Score statistic of every column of ``X`` (patients x features) in every run, standardised by its
    permutation variance: runs x features.

    With the run's patients that have the endpoint, scores ``a`` centred over them and values ``x``:
    U = sum a_i x_i and, over permutations of the patients, Var(U) = sum (a_i - mean a)^2 *
    sum (x_i - mean x)^2 / (n - 1); z = U / sqrt(Var(U)) = sqrt(n - 1) * Pearson r(a, x), 0 where a
    variance is 0. For log-rank scores U is the Cox score at beta = 0 (Breslow ties); for a 0/1 label
    it is the logistic score, and z a monotone function of the pooled-variance t.
    """
    X = np.asarray(X, dtype=np.float64)
    weights = observed.astype(np.float64)
    n = weights.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        centred = np.where(observed, scores - (scores * weights).sum(axis=1, keepdims=True) / n, 0.0)
        score = centred @ X
        sum_squares_x = np.clip(weights @ (X * X) - (weights @ X) ** 2 / n, 0.0, None)
        sum_squares_a = (centred * centred).sum(axis=1, keepdims=True)
        variance = sum_squares_a * sum_squares_x / (n - 1)
        return np.where((variance > ZERO_VARIANCE) & (n > 1), score / np.sqrt(variance), 0.0)


def chain_statistics(blocks: list[ChainBlock], outcomes: pd.DataFrame, endpoint: str,
                     orders: np.ndarray) -> np.ndarray:
    """Signed score z of every feature of every block (concatenated), runs x features, for ``endpoint``."""
    pieces = []
    for block in blocks:
        scores, observed = outcome_scores(outcomes, endpoint, orders[:, block.rows])
        pieces.append(score_z(block.values, scores, observed))
    return np.hstack(pieces) if pieces else np.zeros((orders.shape[0], 0))


def stepdown_maxt_p(observed: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Westfall–Young step-down max-T adjusted p of each feature (see the module docstring).

    ``observed``: |statistic| per feature; ``reference``: runs x features of the same under the null.
    """
    observed = np.asarray(observed, dtype=np.float64)
    n_reference = reference.shape[0]
    order = np.argsort(-observed, kind="stable")
    # Successive maxima from the bottom of the observed order: the largest null statistic among the
    # features ranked j and below, per reference run.
    successive = np.maximum.accumulate(reference[:, order][:, ::-1], axis=1)[:, ::-1]
    reached = (successive >= observed[order][None, :]).sum(axis=0)
    adjusted = np.maximum.accumulate((1.0 + reached) / (1.0 + n_reference))
    p = np.empty_like(adjusted)
    p[order] = adjusted
    return p


def permutation_fdr_q(observed: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Permutation q-value of each feature (see the module docstring)."""
    observed = np.asarray(observed, dtype=np.float64)
    null_counts = _null_counts_at(observed, np.sort(reference, axis=None))
    return _monotone_q(observed, null_counts, reference.shape[0])


def _null_counts_at(thresholds: np.ndarray, pooled_sorted: np.ndarray) -> np.ndarray:
    """Pooled null statistics at or above each threshold."""
    return pooled_sorted.size - np.searchsorted(pooled_sorted, thresholds, side="left")


def _monotone_q(observed: np.ndarray, null_counts: np.ndarray, n_reference: int) -> np.ndarray:
    ascending = np.sort(observed)
    discoveries = observed.size - np.searchsorted(ascending, observed, side="left")
    fdr = np.minimum(1.0, (1.0 + null_counts) / (1.0 + n_reference) / np.maximum(discoveries, 1))
    order = np.argsort(observed, kind="stable")
    q = np.empty_like(fdr)
    q[order] = np.minimum.accumulate(fdr[order])
    return q


def calibrate_endpoint(statistics: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(calibrated p, calibrated q) of row 0 of ``statistics`` (runs x features, signed z) against rows 1..B."""
    magnitude = np.abs(statistics)
    return stepdown_maxt_p(magnitude[0], magnitude[1:]), permutation_fdr_q(magnitude[0], magnitude[1:])


def _smallest_p_per_run(magnitude: np.ndarray) -> np.ndarray:
    """Each run's smallest calibrated p with the other runs as reference: the p of its largest |z|."""
    maxima = magnitude.max(axis=1) if magnitude.shape[1] else np.zeros(magnitude.shape[0])
    others_at_or_above = (maxima[None, :] >= maxima[:, None]).sum(axis=1) - 1
    return (1.0 + others_at_or_above) / magnitude.shape[0]


def _smallest_q_per_run(magnitude: np.ndarray) -> np.ndarray:
    """Each run's smallest calibrated q with the other runs as reference."""
    n_runs = magnitude.shape[0]
    pooled = np.sort(magnitude, axis=None)
    smallest = np.ones(n_runs)
    for run in range(n_runs):
        own = magnitude[run]
        own_sorted = np.sort(own)
        own_at_or_above = own.size - np.searchsorted(own_sorted, own, side="left")
        others = _null_counts_at(own, pooled) - own_at_or_above
        smallest[run] = _monotone_q(own, others, n_runs - 1).min(initial=1.0)
    return smallest


def tier_null_rates(statistics: dict[str, np.ndarray], primary_endpoint: str, strong_p: float = 0.05,
                    supported_q: float = 0.25) -> pd.DataFrame:
    """How often some candidate reaches each tier (or a higher one) in the permuted runs.

    ``statistics``: endpoint -> runs x features (row 0 observed). Strong is reached in a run when
    its smallest calibrated p on the primary endpoint is below ``strong_p``; supported-or-strong when,
    in addition, its smallest calibrated q on the primary endpoint is below ``supported_q`` or its
    smallest calibrated p on a secondary endpoint is below ``strong_p``. Returns tier, reached_when,
    null_rate, runs_reaching and n_permutations.
    """
    primary = np.abs(statistics[primary_endpoint])
    strong = _smallest_p_per_run(primary)[1:] < strong_p
    supported = strong | (_smallest_q_per_run(primary)[1:] < supported_q)
    for endpoint, values in statistics.items():
        if endpoint != primary_endpoint:
            supported |= _smallest_p_per_run(np.abs(values))[1:] < strong_p
    n_permutations = primary.shape[0] - 1
    rows = [
        (STRONG, f"a {primary_endpoint} candidate with calibrated_p < {strong_p:g}", strong),
        (SUPPORTED, (f"strong, or a {primary_endpoint} candidate with calibrated_q < {supported_q:g}, or a "
                     f"secondary-endpoint candidate with calibrated_p < {strong_p:g}"), supported),
    ]
    return pd.DataFrame([{"tier": tier, "reached_when": text,
                          "null_rate": float(reached.mean()) if n_permutations else np.nan,
                          "runs_reaching": int(reached.sum()), "n_permutations": n_permutations}
                         for tier, text, reached in rows])


def calibrate(blocks: list[ChainBlock], outcomes: pd.DataFrame, endpoints, primary_endpoint: str,
              n_permutations: int, seed: int, strong_p: float = 0.05,
              supported_q: float = 0.25) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The whole calibration: per-candidate table and tier null rates.

    Returns (one row per block feature and endpoint: modality, feature, endpoint, z, calibrated_p,
    calibrated_q, family_size, n_permutations, seed; the :func:`tier_null_rates` table with the seed).
    Raises AnalysisProblem when ``primary_endpoint`` is not among ``endpoints``.
    """
    endpoints = list(endpoints)
    if primary_endpoint not in endpoints:
        raise AnalysisProblem(f"ranking.primary_endpoint {primary_endpoint!r} is not among the configured "
                              f"endpoints ({', '.join(endpoints)})",
                              fix="add it to endpoints in the config, or set ranking.primary_endpoint to one of them")
    orders = joint_permutations(len(outcomes), n_permutations, seed)
    modality = np.concatenate([np.full(b.features.size, b.name, dtype=object) for b in blocks] or [[]])
    feature = np.concatenate([b.features.astype(object) for b in blocks] or [[]])
    statistics, rows = {}, []
    for endpoint in endpoints:
        statistics[endpoint] = chain_statistics(blocks, outcomes, endpoint, orders)
        p, q = calibrate_endpoint(statistics[endpoint])
        rows.append(pd.DataFrame({"modality": modality, "feature": feature, "endpoint": endpoint,
                                  "z": statistics[endpoint][0], "calibrated_p": p, "calibrated_q": q,
                                  "family_size": feature.size, "n_permutations": n_permutations,
                                  "seed": seed}))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    rates = tier_null_rates(statistics, primary_endpoint, strong_p=strong_p, supported_q=supported_q)
    return table, rates.assign(seed=seed)
