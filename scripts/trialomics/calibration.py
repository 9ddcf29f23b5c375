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
2. Screen statistic per feature and endpoint, on the patients with that endpoint and its adjustment
   values: the score statistic U = sum_i a_i x_i of an outcome score ``a`` (:func:`outcome_scores`)
   standardised by its exact permutation variance (:func:`score_z`), z = sqrt(n - 1) * Pearson r(a, x).
   Without adjustment variables (see "Adjustment" below for the general case):

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
endpoints (and which patients miss an endpoint) move together, and the adjustment variables move with
them; the omics stay with their patient. Row 0 of every statistics array is the observed data; rows
1..B are the permutations.

Adjustment (Smith's scheme; Winkler et al. 2014, NeuroImage 92:381, Table 2). The Cox screens adjust
for ``survival.covariates``, the models for ``models.covariates``, and both add a block's batch per
``models.batch_covariate``; the models' permutation test then moves the omics rows only, the covariates
staying with the outcome. The chain does the same (:func:`chain_adjustments`): for a block and an
endpoint, Z holds ``survival.covariates`` (survival endpoints), ``models.covariates`` (every endpoint)
and the block's one-hot batch when :func:`trialomics.batch.batch_covariate_plan` adds it for that block
and endpoint (as the block's Cox screen); column ``adjusted_for`` names them. Derivation:

- Model of a feature x given Z: hazard lambda0(t) exp(beta x + gamma'Z), or logit P(yes) = alpha +
  beta x + gamma'Z. The score for beta at beta = 0, with the nuisance parameters at their
  covariate-only maximum likelihood estimates, is U = sum_j m_j x_j with m the null model's residual:
  Cox (Breslow's partial likelihood): U = sum_j event_j (x_j - sum_risk x exp(eta) / sum_risk exp(eta))
  = sum_j x_j m_j, m_j = event_j - exp(eta_j) H0(t_j), eta = gamma'Z and H0 Breslow's cumulative
  baseline hazard, the increments d_k / sum_{at risk} exp(eta) (:func:`cox_null_scores`); logistic:
  m_j = y_j - p_hat_j (:func:`logistic_null_scores`). Without Z these are the log-rank scores and the
  centred label above: the unadjusted chain is the special case, bit for bit.
- The null model's score equations give sum_j m_j = 0 and sum_j m_j z_j = 0, so U does not change
  when x is replaced by its residual on [1, Z]: U = sum_j m_j xres_j, xres = x - [1, Z] c, c by least
  squares (:func:`residualised_values`). Smith's scheme keeps (m, Z) in place and permutes the rows of
  xres: U* = sum_j m_j xres_pi(j), whose exact permutation variance gives z = sqrt(n - 1) * r(m, xres)
  as before. Permuting xres rather than x matters: the observed U sees only xres (m is orthogonal to
  Z), while x permuted as it is would put the variation Z explains into every permuted run, a wider
  null than the observed statistic can reach (conservative, by how much Z explains x).
- Permuting the outcome rows (with Z) among the patients is the same as permuting the omics rows
  against them, so the joint permutations above are this scheme. xres is computed once, on the observed
  data, without the outcome values: least squares over the block's patients that have the endpoint and
  their adjustment values, the coefficients applied to every block patient with known values. m is the
  null model of the rows entering the run: one fit on the observed data for a block holding every
  patient with the endpoint (the same scores, permuted, in every run); a block that misses patients
  receives a different set of rows in each run and is refitted on it, once per distinct set (as the
  log-rank scores are recomputed without Z).
- Ties: Breslow's partial likelihood both for gamma (:func:`trialomics.null_models.breslow_null_fit`) and for H0. Only then
  is sum_j m_j z_j = 0 exact with tied event times, and without Z the scores are exactly the
  log-rank scores. The Cox screen's Wald fits use Efron's approximation (:mod:`trialomics.cox`); the
  two coincide when no event times are tied (and m is then lifelines' martingale residual).
- Missing values, as in the screens and models (complete cases): a patient missing an adjustment
  value is left out of that endpoint. In a run, a patient that receives the row of a patient missing a
  value (for the batch: a patient without a sample of the block) is left out; a patient whose own
  values are missing cannot be residualised and is left out of every run.

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

from .batch import batch_covariate_plan, batch_covariates
from .errors import AnalysisProblem
from .null_models import cox_null_scores, logistic_null_scores
from .survival import SURVIVAL_ENDPOINTS, covariate_matrix, endpoint_labels, feature_kinds, prefilter_mask

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


@dataclass(frozen=True)
class Adjustment:
    """What one block's statistics for one endpoint are adjusted for (see the module docstring, step 2).

    ``design`` holds the adjustment variables of every outcome-table row (numeric; categorical ones
    one-hot coded), NaN where a value is missing; ``names`` says what they are (configured covariate
    names, ``<block>_batch``), for the ``adjusted_for`` column.
    """

    names: tuple[str, ...]
    design: np.ndarray       # outcome-table rows x columns

    @classmethod
    def of(cls, patients: pd.Index, design: pd.DataFrame, names) -> "Adjustment":
        """The adjustment of the outcome table's ``patients`` from a design indexed by patient_id
        (:func:`trialomics.survival.covariate_matrix`, :func:`trialomics.batch.batch_covariates`);
        a patient absent from ``design`` has missing values."""
        design = design.copy()
        design.index = design.index.astype(str)
        return cls(tuple(names), design.reindex(patients).to_numpy(dtype=np.float64))

    @property
    def complete(self) -> np.ndarray:
        """Outcome-table rows with every adjustment value."""
        return ~np.isnan(self.design).any(axis=1)


def endpoint_covariates(endpoint: str, survival_covariates, model_covariates) -> list[str]:
    """The clinical covariates the chain adjusts ``endpoint`` for: ``survival.covariates`` (the Cox
    screens') for a survival endpoint, and ``models.covariates`` (the models') for every endpoint."""
    chosen = list(survival_covariates) if endpoint in SURVIVAL_ENDPOINTS else []
    return chosen + [c for c in model_covariates if c not in chosen]


def chain_adjustments(obs: pd.DataFrame, patients: pd.Index, endpoints, blocks, survival_covariates=(),
                      model_covariates=(), batches: dict[str, pd.Series] | None = None,
                      batch_table: pd.DataFrame | None = None,
                      batch_mode: str = "never") -> tuple[dict[tuple[str, str], Adjustment], list[str]]:
    """What every block's statistics for every endpoint are adjusted for, as the screens and models do.

    ``obs``: :func:`trialomics.survival.patient_annotations`; ``patients``: the outcome table's;
    ``batches``: block -> :func:`trialomics.batch.patient_batches`, needed for the blocks whose batch
    :func:`trialomics.batch.batch_covariate_plan` adds for an endpoint (``batch_table``,
    ``batch_mode`` = ``models.batch_covariate``). Clinical covariates: :func:`endpoint_covariates`,
    coded by :func:`trialomics.survival.covariate_matrix`. Returns ((block, endpoint) ->
    :class:`Adjustment`, only where something is adjusted for; the batch plan's notes).
    """
    adjustments, notes = {}, []
    for endpoint in endpoints:
        clinical = endpoint_covariates(endpoint, survival_covariates, model_covariates)
        clinical_design = covariate_matrix(obs, clinical) if clinical else None
        for block in blocks:
            batched, note = batch_covariate_plan(batch_table, [block], endpoint, batch_mode)
            design, names = clinical_design, list(clinical)
            if batched:
                batch_design = batch_covariates({block: batches[block]})
                design = batch_design if design is None else design.join(batch_design, how="outer")
                names.append(f"{block}_batch")
                notes.append(f"{endpoint} / {block}: {note}")
            if names:
                adjustments[(block, endpoint)] = Adjustment.of(patients, design, names)
    return adjustments, notes


def null_model_scores(outcomes: pd.DataFrame, endpoint: str, rows: np.ndarray, design: np.ndarray) -> np.ndarray:
    """The outcome scores of outcome-table ``rows`` (all with the endpoint and the adjustment values):
    :func:`cox_null_scores` or :func:`logistic_null_scores` of the null model fitted on those rows."""
    if endpoint in SURVIVAL_ENDPOINTS:
        return cox_null_scores(outcomes[f"{endpoint}_time"].to_numpy()[rows],
                               outcomes[f"{endpoint}_event"].to_numpy()[rows] == 1.0, design[rows])
    return logistic_null_scores(outcomes[endpoint].to_numpy()[rows], design[rows])


def endpoint_observed(outcomes: pd.DataFrame, endpoint: str) -> np.ndarray:
    """Outcome-table rows that have ``endpoint``."""
    if endpoint in SURVIVAL_ENDPOINTS:
        return (outcomes[f"{endpoint}_time"].notna() & outcomes[f"{endpoint}_event"].notna()).to_numpy()
    return outcomes[endpoint].notna().to_numpy()


def outcome_scores(outcomes: pd.DataFrame, endpoint: str, positions: np.ndarray,
                   adjustment: Adjustment | None = None,
                   usable: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each run's outcome score per patient and whether the patient enters the run (runs x patients).

    ``positions`` (runs x patients) are the outcome-table rows the patients receive in each run. A
    patient enters when its row has the endpoint and every adjustment value (``adjustment``) and the
    patient is ``usable`` (its own adjustment values are known; default all). The scores are those of
    the null model fitted on the rows that enter the run (:func:`null_model_scores`; without
    adjustment the log-rank scores or the label). Patients that do not enter score 0. Runs whose
    patients receive the same set of rows share one fit.
    """
    design = adjustment.design if adjustment is not None else np.zeros((len(outcomes), 0))
    has_row = endpoint_observed(outcomes, endpoint)
    if adjustment is not None:
        has_row &= adjustment.complete
    observed = has_row[positions]
    if usable is not None:
        observed &= usable[None, :]
    if endpoint not in SURVIVAL_ENDPOINTS and design.shape[1] == 0:   # the label itself: nothing to fit
        return np.where(observed, outcomes[endpoint].to_numpy()[positions], 0.0), observed
    scores = np.zeros(positions.shape)
    fits: dict[bytes, np.ndarray] = {}
    for run in range(positions.shape[0]):
        received = positions[run, observed[run]]
        if received.size == 0:
            continue
        rows = np.sort(received)
        key = rows.tobytes()
        if key not in fits:
            fits[key] = null_model_scores(outcomes, endpoint, rows, design)
        scores[run, observed[run]] = fits[key][np.searchsorted(rows, received)]
    return scores, observed


def residualised_values(block: ChainBlock, adjustment: Adjustment, has_endpoint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The block's values residualised on [1, adjustment variables] (Smith's scheme), and which patients
    can be residualised (their own adjustment values are known).

    Least squares over the block's patients that have the endpoint and their adjustment values
    (``has_endpoint``: one flag per block patient, from the observed data); the coefficients are
    applied to every usable patient of the block, whose row can meet any outcome row in a permuted run.
    Without adjustment columns the values are returned as they are (:func:`score_z` centres them).
    Patients that cannot be residualised get 0.
    """
    own = adjustment.design[block.rows]
    usable = adjustment.complete[block.rows]
    if own.shape[1] == 0:
        return block.values, usable
    design = np.column_stack([np.ones(block.rows.size), np.nan_to_num(own)])
    fit_rows = usable & has_endpoint
    coefficients = np.linalg.lstsq(design[fit_rows], block.values[fit_rows], rcond=None)[0]
    residuals = block.values - design @ coefficients
    return np.where(usable[:, None], residuals, 0.0), usable


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


def chain_statistics(blocks: list[ChainBlock], outcomes: pd.DataFrame, endpoint: str, orders: np.ndarray,
                     adjustments: dict[tuple[str, str], Adjustment] | None = None) -> np.ndarray:
    """Signed score z of every feature of every block (concatenated), runs x features, for ``endpoint``.

    ``adjustments``: (block, endpoint) -> :class:`Adjustment`; a block without one is not adjusted.
    """
    pieces = []
    for block in blocks:
        adjustment = (adjustments or {}).get((block.name, endpoint))
        if adjustment is None:
            values, usable = block.values, None
        else:
            own_row = endpoint_observed(outcomes, endpoint)[block.rows] & adjustment.complete[block.rows]
            values, usable = residualised_values(block, adjustment, own_row)
        scores, observed = outcome_scores(outcomes, endpoint, orders[:, block.rows], adjustment, usable)
        pieces.append(score_z(values, scores, observed))
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
              n_permutations: int, seed: int, strong_p: float = 0.05, supported_q: float = 0.25,
              adjustments: dict[tuple[str, str], Adjustment] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The whole calibration: per-candidate table and tier null rates.

    ``adjustments``: (block, endpoint) -> :class:`Adjustment` (none: no adjustment). Returns (one row
    per block feature and endpoint: modality, feature, endpoint, z, calibrated_p, calibrated_q,
    family_size, n_permutations, seed, adjusted_for (the adjustment's names joined by ``;``, empty
    when none); the :func:`tier_null_rates` table with the seed).
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
        statistics[endpoint] = chain_statistics(blocks, outcomes, endpoint, orders, adjustments)
        adjusted_for = np.concatenate([np.full(b.features.size, _adjusted_for(adjustments, b.name, endpoint),
                                               dtype=object) for b in blocks] or [[]])
        p, q = calibrate_endpoint(statistics[endpoint])
        rows.append(pd.DataFrame({"modality": modality, "feature": feature, "endpoint": endpoint,
                                  "z": statistics[endpoint][0], "calibrated_p": p, "calibrated_q": q,
                                  "family_size": feature.size, "n_permutations": n_permutations,
                                  "seed": seed, "adjusted_for": adjusted_for}))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    rates = tier_null_rates(statistics, primary_endpoint, strong_p=strong_p, supported_q=supported_q)
    return table, rates.assign(seed=seed)


def _adjusted_for(adjustments: dict[tuple[str, str], Adjustment] | None, block: str, endpoint: str) -> str:
    adjustment = (adjustments or {}).get((block, endpoint))
    return ";".join(adjustment.names) if adjustment is not None else ""
