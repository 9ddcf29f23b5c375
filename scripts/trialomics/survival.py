"""Patient-level feature matrices, outcome labels, univariate Cox screens and Kaplan–Meier splits.

Every analysis by patient starts here: :func:`modality_matrix` turns one modality's labelled,
one-sample-per-patient AnnData into a patients x features table (with TMB added to the mutations),
:func:`feature_kinds` says which features are alterations (0/1) and which are continuous, and
:func:`prefilter_features` applies the documented label-free filters (missingness, prevalence of
alterations, variance). The univariate screens below use them on all patients; the models in
:mod:`trialomics.models` refit the same filters inside every training fold.

Conventions of the screens:

- Continuous features are standardised (z-scored over the patients with a value) before the Cox fit,
  so the hazard ratio is per standard deviation (``scale = per_sd``); alterations stay 0/1, so their
  hazard ratio compares altered with not altered (``scale = altered_vs_not``).
- The Cox fits (:mod:`trialomics.cox`) run on all features at once. Separated fits (monotone
  likelihood) and sparse alterations get Firth's penalised estimate; sparse alterations are tested
  by the exact log-rank test; features with fewer than ``min_events`` events are not fitted
  (:func:`univariate_cox` says which method gave each row).
- Benjamini–Hochberg q-values are computed within one family: one modality and one endpoint.
- Kaplan–Meier splits are pre-specified: altered vs not for alterations, above vs at-or-below the
  median for continuous features. A data-driven cut-point is only reported as exploratory, with its
  p-value corrected for the search by permutation.
"""
from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from . import cox, logrank
from .cohort import one_sample_per_patient
from .distributions import chi2_sf, normal_sf
from .kaplan_meier import median_survival
from .multitest import benjamini_hochberg

if TYPE_CHECKING:  # anndata is not imported by the jobs that read through trialomics.h5ad_reader
    import anndata as ad

SURVIVAL_ENDPOINTS = {"pfs": ("pfs_months", "pfs_event"), "os": ("os_months", "os_event")}
BINARY_ENDPOINTS = ("responder", "clinical_benefit")
TMB_FEATURE = "TMB"
BINARY = "binary"
CONTINUOUS = "continuous"
COVARIATE = "covariate"


def modality_matrix(adata: ad.AnnData, modality: str) -> pd.DataFrame:
    """Patients x features values of one modality, indexed by ``patient_id``.

    ``adata`` holds one sample per patient (``cohort.one_sample_per_patient``). Values used:
    rna ``X`` (VST, log2 scale); proteins ``layers["log2"]`` when present (never batch-corrected; NaN
    kept, so that models impute inside their training folds; the differential test reads the same
    layer, :func:`trialomics.differential_proteins.protein_log2_values`) else ``X``; mutations ``X`` (0/1
    non-silent alteration) plus ``obs["tmb_per_mb"]`` as the feature ``TMB``; copy_number and pathways ``X``.
    """
    if modality == "proteins" and "log2" in adata.layers:
        matrix = adata.layers["log2"]
    else:
        matrix = adata.X
    matrix = matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)
    values = pd.DataFrame(matrix.astype(np.float64), index=adata.obs["patient_id"].astype(str).to_numpy(),
                          columns=adata.var_names.astype(str))
    values.index.name = "patient_id"
    if modality == "mutations" and "tmb_per_mb" in adata.obs:
        values[TMB_FEATURE] = pd.to_numeric(adata.obs["tmb_per_mb"], errors="coerce").to_numpy()
    return values


def baseline_matrix(adata: ad.AnnData, modality: str, timepoint: str = "baseline") -> pd.DataFrame:
    """:func:`modality_matrix` of the one ``timepoint`` sample per patient (``cohort.one_sample_per_patient``)."""
    return modality_matrix(one_sample_per_patient(adata, timepoint), modality)


def patient_annotations(labels: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """Labels and patients.tsv covariates per patient, indexed by patient_id, all as strings.

    ``labels`` is ``clinical/labels.tsv`` as read; ``patients`` is ``readers.read_patients``' table.
    Label columns win over same-named patients.tsv columns (as in ``cohort.label_samples``).
    """
    label_table = labels.set_index("patient_id")
    patient_table = patients.set_index("patient_id")
    extra = patient_table.drop(columns=[c for c in patient_table.columns if c in label_table.columns])
    joined = label_table.join(extra, how="outer")
    for column in joined.columns:
        series = joined[column]
        if pd.api.types.is_datetime64_any_dtype(series):
            joined[column] = series.dt.strftime("%Y-%m-%d").fillna("")
        else:
            joined[column] = series.astype(object).where(series.notna(), "").astype(str)
    joined.index = joined.index.astype(str)
    joined.index.name = "patient_id"
    return joined


def feature_kinds(values: pd.DataFrame) -> pd.Series:
    """``binary`` for features whose observed values are all 0 or 1 (alterations), else ``continuous``."""
    observed = values.to_numpy(dtype=np.float64)
    finite = ~np.isnan(observed)
    is_binary = np.all(~finite | (observed == 0.0) | (observed == 1.0), axis=0)
    return pd.Series(np.where(is_binary, BINARY, CONTINUOUS), index=values.columns, name="kind")


def prefilter_mask(values: np.ndarray, kinds: np.ndarray, groups: np.ndarray | None = None,
                   max_missing: float = 0.5, min_altered: int = 2, min_altered_fraction: float = 0.1,
                   top_variance: int | None = 500) -> np.ndarray:
    """Which columns pass the label-free prefilters (a boolean mask).

    Rules, in order: a feature missing in more than ``max_missing`` of the patients is dropped; an
    alteration (``binary``) is kept when both the altered and the unaltered groups hold at least
    ``max(min_altered, ceil(min_altered_fraction * n))`` patients; a continuous feature needs a
    non-zero variance and, within its group (modality), must be among the ``top_variance`` most
    variable (``None`` keeps all). Covariates are always kept. Variance ties keep column order.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = ~np.isnan(values)
    n_observed = finite.sum(axis=0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        variance = np.nanvar(values, axis=0, ddof=1)
    altered = np.nansum(values == 1.0, axis=0)
    return prefilter_mask_of_statistics(len(values), n_observed, variance, altered, kinds, groups, max_missing,
                                        min_altered, min_altered_fraction, top_variance)


def prefilter_mask_of_statistics(n_rows: int, n_observed: np.ndarray, variance: np.ndarray, altered: np.ndarray,
                                 kinds: np.ndarray, groups: np.ndarray | None = None, max_missing: float = 0.5,
                                 min_altered: int = 2, min_altered_fraction: float = 0.1,
                                 top_variance: int | None = 500) -> np.ndarray:
    """:func:`prefilter_mask` from each column's observed count, variance (ddof 1; NaN with fewer than
    two values) and number of values equal to 1, computed elsewhere (the models compute them on row
    subsets of one matrix without copying it)."""
    kinds = np.asarray(kinds)
    n_columns = len(kinds)
    groups = np.zeros(n_columns, dtype=int) if groups is None else np.asarray(groups)
    keep = np.zeros(n_columns, dtype=bool)
    if n_columns == 0:
        return keep
    missing_ok = (1.0 - n_observed / n_rows) <= max_missing
    variance = np.where(np.isnan(variance), 0.0, variance)

    binary = kinds == BINARY
    if binary.any():
        unaltered = n_observed - altered
        threshold = np.maximum(min_altered, np.ceil(min_altered_fraction * n_observed - 1e-9))
        keep |= binary & missing_ok & (altered >= threshold) & (unaltered >= threshold)

    continuous = (kinds == CONTINUOUS) & missing_ok & (variance > 0)
    for group in pd.unique(groups):
        members = np.flatnonzero(continuous & (groups == group))
        if top_variance is not None and members.size > top_variance:
            order = np.argsort(-variance[members], kind="stable")
            members = members[order[:top_variance]]
        keep[members] = True
    keep |= kinds == COVARIATE
    return keep


def prefilter_features(values: pd.DataFrame, kinds: pd.Series, max_missing: float = 0.5,
                       min_altered: int = 2, min_altered_fraction: float = 0.1,
                       top_variance: int | None = 500) -> pd.DataFrame:
    """The columns of ``values`` that pass :func:`prefilter_mask` (one group)."""
    mask = prefilter_mask(values.to_numpy(dtype=np.float64), kinds.reindex(values.columns).to_numpy(),
                          max_missing=max_missing, min_altered=min_altered,
                          min_altered_fraction=min_altered_fraction, top_variance=top_variance)
    return values.loc[:, mask]


def _yes_no(series: pd.Series) -> pd.Series:
    text = series.astype(str).str.strip().str.lower()
    return text.map({"yes": 1.0, "no": 0.0})


def endpoint_labels(obs: pd.DataFrame, endpoint: str) -> pd.DataFrame:
    """Outcome of ``endpoint`` per patient, patients with a missing outcome excluded.

    Survival endpoints (pfs, os) give columns ``time`` (months, float) and ``event`` (bool);
    binary endpoints (responder, clinical_benefit) give ``label`` (1 = yes, 0 = no). ``obs`` is
    indexed by patient_id (or has a ``patient_id`` column) and holds the label columns as strings.
    """
    table = obs.set_index("patient_id") if "patient_id" in obs.columns else obs
    if endpoint in SURVIVAL_ENDPOINTS:
        time_column, event_column = SURVIVAL_ENDPOINTS[endpoint]
        time = pd.to_numeric(table[time_column], errors="coerce")
        event = pd.to_numeric(table[event_column], errors="coerce")
        out = pd.DataFrame({"time": time, "event": event}).dropna()
        out = out[out["time"] >= 0]
        out["event"] = out["event"].astype(bool)
        return out.astype({"time": np.float64})
    if endpoint in BINARY_ENDPOINTS:
        label = _yes_no(table[endpoint]).dropna()
        return pd.DataFrame({"label": label.astype(int)})
    raise ValueError(f"unknown endpoint {endpoint!r}; expected one of "
                     f"{', '.join([*SURVIVAL_ENDPOINTS, *BINARY_ENDPOINTS])}")


def covariate_matrix(obs: pd.DataFrame, covariates: list[str]) -> pd.DataFrame:
    """Numeric design of clinical covariates per patient, indexed like ``obs`` (by patient_id).

    Numeric columns are used as they are; any other column is one-hot coded with its alphabetically
    first level as reference (columns ``name=level``). Patients with a missing covariate get NaN and
    are left out by the callers. Raises ValueError naming a covariate absent from ``obs``.
    """
    table = obs.set_index("patient_id") if "patient_id" in obs.columns else obs
    missing = [c for c in covariates if c not in table.columns]
    if missing:
        raise ValueError(f"covariates not found among the patient columns: {', '.join(missing)}")
    design = {}
    for name in covariates:
        raw = table[name].mask(table[name].eq(""))   # (replace() would downcast an all-blank column)
        numeric = pd.to_numeric(raw, errors="coerce")
        if numeric.notna().sum() == raw.notna().sum():
            design[name] = numeric.astype(np.float64)
            continue
        levels = sorted(raw.dropna().astype(str).unique())
        for level in levels[1:]:
            column = (raw.astype(str) == level).astype(np.float64)
            design[f"{name}={level}"] = column.where(raw.notna())
    return pd.DataFrame(design, index=table.index)


def univariate_cox(values: pd.DataFrame, kinds: pd.Series, outcome: pd.DataFrame,
                   covariates: pd.DataFrame | None = None, exact_below_carriers: int = 5,
                   min_events: int = 10, seed: int = 0) -> pd.DataFrame:
    """One Cox proportional-hazards model per feature (Efron ties), optionally adjusted for covariates.

    All features are fitted together by :func:`trialomics.cox.fit_cox` (maximum likelihood). Then:

    - a fit whose likelihood is monotone (separation: the coefficient walks off to infinity) is
      flagged ``separation = yes`` and refitted by Firth's penalised likelihood
      (:func:`trialomics.cox.firth_cox`): finite estimate, profile penalised-likelihood interval,
      penalised likelihood-ratio p-value;
    - an alteration whose smaller group (carriers or non-carriers) holds fewer than
      ``exact_below_carriers`` patients gets the Firth estimate and interval whether separated or
      not, and, without covariates, the exact conditional log-rank p-value
      (:func:`trialomics.logrank.exact_logrank`, seeded by ``seed`` when it has to sample); with
      covariates, the penalised likelihood-ratio p-value;
    - every other feature keeps the ML estimate, Wald interval and Wald p-value;
    - a feature whose patients hold fewer than ``min_events`` events is not fitted (NaN, note).

    Parameters
    ----------
    values : patients x features (index patient_id); NaN values are left out per feature.
    kinds : ``binary`` / ``continuous`` per feature (:func:`feature_kinds`).
    outcome : ``time`` and ``event`` per patient (:func:`endpoint_labels`).
    covariates : numeric covariates per patient (:func:`covariate_matrix`) added to every model;
        patients with a missing covariate are left out.

    Returns
    -------
    DataFrame with feature, hr, ci_low, ci_high (95 %), pvalue, padj (BH over this table), n,
    n_events, scale, coef, se, method (``cox`` / ``firth``; empty when not fitted), separation
    (``yes`` / ``no``; empty when not fitted), pvalue_method (``wald``,
    ``penalised_likelihood_ratio``, ``exact_logrank`` or ``permutation_logrank``), note; in the
    order of ``values``' columns.
    """
    patients = values.index.intersection(outcome.index)
    base = outcome.loc[patients, ["time", "event"]].astype({"event": bool})
    design = pd.DataFrame(index=base.index)
    if covariates is not None and covariates.shape[1]:
        design = covariates.reindex(base.index).dropna()
        base = base.loc[design.index]
    x = values.loc[base.index].to_numpy(dtype=np.float64).T                       # features x patients
    observed = ~np.isnan(x)
    binary = kinds.reindex(values.columns).fillna(CONTINUOUS).to_numpy() == BINARY
    event = base["event"].to_numpy()
    n = observed.sum(axis=1)
    n_events = (observed & event[None, :]).sum(axis=1)
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(x, axis=1)
        sd = np.nanstd(x, axis=1, ddof=1)
    carriers = np.nansum(x == 1.0, axis=1)
    smaller_group = np.minimum(carriers, n - carriers)

    note = np.full(len(values.columns), "", dtype=object)
    note[~(sd > 0)] = "constant feature"
    note[(sd > 0) & (n_events < min_events)] = [f"not fitted: {e} events, fewer than min_events = {min_events}"
                                                for e in n_events[(sd > 0) & (n_events < min_events)]]
    note[n_events == 0] = "no events"
    fitted = (sd > 0) & (n_events >= max(min_events, 1))
    table = pd.DataFrame({"feature": values.columns, "n": n, "n_events": n_events,
                          "scale": np.where(binary, "altered_vs_not", "per_sd"), "coef": np.nan, "se": np.nan,
                          "ci_low": np.nan, "ci_high": np.nan, "pvalue": np.nan, "method": "", "separation": "",
                          "pvalue_method": "", "note": note})
    if fitted.any():
        rows = np.flatnonzero(fitted)
        # Continuous features per standard deviation (over the patients with a value); alterations 0/1.
        scaled = np.where(binary[rows, None], x[rows], (x[rows] - mean[rows, None]) / sd[rows, None])
        stacked = np.concatenate([np.nan_to_num(scaled)[:, :, None],
                                  np.broadcast_to(design.to_numpy(dtype=np.float64)[None],
                                                  (rows.size,) + design.shape)], axis=2)
        sparse = binary[rows] & (smaller_group[rows] < exact_below_carriers)
        _fill_cox_rows(table, rows, stacked, observed[rows].astype(np.float64), base,
                       smaller_group[rows].astype(int), sparse, exact=sparse & (design.shape[1] == 0), seed=seed)
    z = 1.959963984540054  # two-sided 95 % normal quantile
    wald = table["method"] == "cox"
    table.loc[wald, "ci_low"] = table.loc[wald, "coef"] - z * table.loc[wald, "se"]
    table.loc[wald, "ci_high"] = table.loc[wald, "coef"] + z * table.loc[wald, "se"]
    with np.errstate(over="ignore"):
        table["hr"] = np.exp(table["coef"])
        table["ci_low"] = np.exp(table["ci_low"])
        table["ci_high"] = np.exp(table["ci_high"])
    table["padj"] = benjamini_hochberg(table["pvalue"])
    return table[["feature", "hr", "ci_low", "ci_high", "pvalue", "padj", "n", "n_events", "scale", "coef",
                  "se", "method", "separation", "pvalue_method", "note"]]


def _fill_cox_rows(table: pd.DataFrame, rows: np.ndarray, X: np.ndarray, weights: np.ndarray,
                   base: pd.DataFrame, smaller_group: np.ndarray, sparse: np.ndarray, exact: np.ndarray,
                   seed: int) -> None:
    """ML fit of ``rows``; Firth refit of the separated and sparse ones; exact p where ``exact``."""
    risk = cox.risk_sets(base["time"].to_numpy(), base["event"].to_numpy())
    fit = cox.fit_cox(X, weights, risk)
    separated = fit.infinite[:, 0]
    coef = fit.beta[:, 0].copy()
    se = cox.standard_error(fit.information)
    with np.errstate(divide="ignore", invalid="ignore"):  # a singular fit (se 0) is flagged separated
        pvalue = 2.0 * normal_sf(np.abs(coef / se))
    low, high = np.full(len(rows), np.nan), np.full(len(rows), np.nan)
    method = np.full(len(rows), "cox", dtype=object)
    pvalue_method = np.full(len(rows), "wald", dtype=object)
    notes = table.loc[rows, "note"].to_numpy().astype(object)

    firth = np.flatnonzero(separated | sparse)
    if firth.size:
        penalised = cox.firth_cox(X[firth], weights[firth], risk)
        coef[firth], se[firth], pvalue[firth] = penalised.coef, penalised.se, penalised.pvalue
        low[firth], high[firth] = penalised.ci_low, penalised.ci_high
        method[firth], pvalue_method[firth] = "firth", "penalised_likelihood_ratio"
        for position, row in enumerate(firth):
            reasons = []
            if separated[row]:
                reasons.append("monotone likelihood (separation): the ML estimate is infinite")
            if sparse[row]:
                reasons.append(f"sparse alteration: {smaller_group[row]} patients in the smaller group")
            if not penalised.converged[position]:
                reasons.append("Firth fit did not converge")
            notes[row] = "; ".join(reasons + ["Firth estimate, profile penalised-likelihood interval"])
    time, event = base["time"].to_numpy(), base["event"].to_numpy()
    for row in np.flatnonzero(exact):
        keep = weights[row] > 0
        pvalue[row], pvalue_method[row] = logrank.exact_logrank(time[keep], event[keep], X[row, keep, 0] == 1.0,
                                                            seed=seed)
    # (A separated feature's fit flags every coefficient: only the others' covariates are reported.)
    covariate_diverges = fit.infinite[:, 1:].any(axis=1) & ~separated
    for row in np.flatnonzero(covariate_diverges):
        notes[row] = "; ".join(filter(None, [notes[row], "a covariate's coefficient diverges"]))
    table.loc[rows, ["coef", "se", "pvalue", "ci_low", "ci_high"]] = np.column_stack([coef, se, pvalue, low, high])
    table.loc[rows, "method"] = method
    table.loc[rows, "pvalue_method"] = pvalue_method
    table.loc[rows, "separation"] = np.where(separated, "yes", "no")
    table.loc[rows, "note"] = notes


def logrank_chi2(time, event, groups: np.ndarray) -> np.ndarray:
    """Log-rank chi-square statistics (1 df) of many two-group splits of the same patients at once.

    ``groups`` is a boolean array (n patients x n splits), True for the first group. Uses the usual
    hypergeometric variance with tied event times; a split with zero variance gives NaN.
    """
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event, dtype=bool)
    groups = np.asarray(groups, dtype=np.float64).reshape(len(time), -1)
    event_times = np.unique(time[event])
    at_risk = time[None, :] >= event_times[:, None]                          # times x patients
    dies = (time[None, :] == event_times[:, None]) & event[None, :]
    n_risk = at_risk.sum(axis=1).astype(np.float64)
    deaths = dies.sum(axis=1).astype(np.float64)
    n_risk_1 = at_risk.astype(np.float64) @ groups                          # times x splits
    deaths_1 = dies.astype(np.float64) @ groups
    expected = deaths[:, None] * n_risk_1 / n_risk[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        ties = np.where(n_risk > 1, (n_risk - deaths) / (n_risk - 1), 0.0)
        variance = (deaths[:, None] * (n_risk_1 / n_risk[:, None]) * (1 - n_risk_1 / n_risk[:, None])
                    * ties[:, None]).sum(axis=0)
        chi2 = (deaths_1 - expected).sum(axis=0) ** 2 / variance
    return np.where(variance > 0, chi2, np.nan)


def prespecified_split(x: pd.Series, kind: str) -> tuple[pd.Series, str, float]:
    """Pre-specified two-group split: altered vs not for alterations, above the median otherwise.

    Returns (boolean Series, True = altered / high; the cut's name; the cut value). Continuous
    values equal to the median go to the low group, unless that leaves the high group empty, in
    which case values at the median count as high.
    """
    x = x.dropna()
    if kind == BINARY:
        return x == 1.0, "altered", 1.0
    median = float(x.median())
    high = x > median
    if not high.any():
        high = x >= median
    return high, "median", median


def exploratory_cutpoint(time, event, x, min_fraction: float = 0.2, n_permutations: int = 1000,
                         seed: int = 0) -> dict:
    """Best log-rank cut-point of a continuous feature, with its p-value corrected for the search.

    Candidate cuts put at least ``max(2, ceil(min_fraction * n))`` patients in each group. The
    corrected p-value is the permutation p-value of the maximal chi-square: (time, event) pairs are
    permuted jointly, the search is repeated, and p = (1 + #{max chi2_perm >= max chi2_obs}) /
    (1 + n_permutations). The cut is data-driven and labelled exploratory by the callers. The observed
    statistics are :func:`logrank_chi2`'s; each permutation's largest comes from
    :func:`trialomics.cutpoint_kernels.largest_chi2` (the same statistics in O(n log n), not cubic in n).
    """
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event, dtype=bool)
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    smallest = max(2, math.ceil(min_fraction * n))
    cuts = np.unique(x)[:-1]
    splits = x[:, None] > cuts[None, :]
    sizes = splits.sum(axis=0)
    usable = (sizes >= smallest) & (n - sizes >= smallest)
    cuts, splits = cuts[usable], splits[:, usable]
    result = {"cut": np.nan, "chi2": np.nan, "p_uncorrected": np.nan, "p_corrected": np.nan,
              "n_cuts": int(cuts.size)}
    if cuts.size == 0 or not event.any():
        return result
    chi2 = logrank_chi2(time, event, splits)
    if np.all(np.isnan(chi2)):
        return result
    best = int(np.nanargmax(chi2))
    observed = chi2[best]
    largest = _permuted_largest_chi2(time, event, x, usable)
    rng = np.random.default_rng(seed)
    exceed = 0
    for _ in range(n_permutations):
        if largest(rng.permutation(n)) >= observed - 1e-12:
            exceed += 1
    result.update(cut=float(cuts[best]), chi2=float(observed),
                  p_uncorrected=float(chi2_sf(observed, 1)),
                  p_corrected=(1 + exceed) / (1 + n_permutations))
    return result


def _permuted_largest_chi2(time: np.ndarray, event: np.ndarray, x: np.ndarray, usable: np.ndarray):
    """order -> the largest chi-square over the cuts of ``x`` (those ``usable`` of ``np.unique(x)[:-1]``) with
    patient i given (time, event)[order[i]] (NaN if none has a statistic), by the compiled kernel."""
    # Imported here: numba is loaded by the jobs that search cut-points, not by every importer of this module.
    from . import cutpoint_kernels

    n = len(x)
    residual, w_sum, c_sum, first_informative = cutpoint_kernels.pooled_terms(time, event)
    by_c = np.argsort(c_sum, kind="stable")
    c_rank = np.empty(n, dtype=np.int64)
    c_rank[by_c] = np.arange(n)
    c_below = np.searchsorted(c_sum[by_c], c_sum, side="left").astype(np.int64)
    patients = np.argsort(-x, kind="stable").astype(np.int64)       # decreasing x, one block per value
    block_ends = np.append(np.flatnonzero(np.diff(x[patients]) != 0) + 1, n).astype(np.int64)
    # After block b the high group is x >= its value, i.e. x > the next lower value: cut m - 2 - b.
    usable_blocks = np.append(usable[::-1], False)
    counts, sums, later_max = np.empty(n + 1), np.empty(n + 1), np.empty(n + 1)
    return lambda order: cutpoint_kernels.largest_chi2(order.astype(np.int64), patients, block_ends, usable_blocks,
                                                       time, first_informative, residual, w_sum, c_sum, c_rank,
                                                       c_below, counts, sums, later_max)


def kaplan_meier_table(values: pd.DataFrame, kinds: pd.Series, outcome: pd.DataFrame,
                       features: list[str], n_permutations: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Pre-specified Kaplan–Meier split and log-rank test for each of ``features``.

    Columns: feature, cut (``altered`` / ``median``), cut_value, n_high, n_low, events_high,
    events_low, median_high, median_low (KM median survival, NaN when not reached), logrank_p
    (:func:`logrank_chi2`, as lifelines' ``logrank_test``), then the exploratory optimal cut for continuous features: exploratory_cut,
    exploratory_p_uncorrected, exploratory_p_corrected (:func:`exploratory_cutpoint`, seeded by
    ``seed`` plus the feature's position), note.
    """
    rows = []
    for position, feature in enumerate(features):
        patients = values.index.intersection(outcome.index)
        x = values.loc[patients, feature].dropna()
        t = outcome.loc[x.index, "time"]
        e = outcome.loc[x.index, "event"]
        kind = kinds.get(feature, CONTINUOUS)
        high, cut, cut_value = prespecified_split(x, kind)
        row = {"feature": feature, "cut": cut, "cut_value": cut_value, "n_high": int(high.sum()),
               "n_low": int((~high).sum()), "events_high": int(e[high].sum()),
               "events_low": int(e[~high].sum()), "note": ""}
        for name, members in (("high", high), ("low", ~high)):
            median = median_survival(t[members], e[members].astype(bool)) if members.sum() else np.nan
            row[f"median_{name}"] = float(median) if np.isfinite(median) else np.nan
        if row["n_high"] >= 2 and row["n_low"] >= 2 and e.any():
            # No information (zero variance: no event while both groups are at risk): p = 1, as lifelines.
            chi2 = logrank_chi2(t.to_numpy(), e.to_numpy(bool), high.to_numpy())[0]
            row["logrank_p"] = float(chi2_sf(chi2, 1)) if np.isfinite(chi2) else 1.0
        else:
            row["logrank_p"] = np.nan
            row["note"] = "a group has fewer than 2 patients or no events"
        if kind == BINARY:
            row.update(exploratory_cut=np.nan, exploratory_p_uncorrected=np.nan,
                       exploratory_p_corrected=np.nan)
        else:
            best = exploratory_cutpoint(t, e, x, n_permutations=n_permutations, seed=seed + position)
            row.update(exploratory_cut=best["cut"], exploratory_p_uncorrected=best["p_uncorrected"],
                       exploratory_p_corrected=best["p_corrected"])
        rows.append(row)
    columns = ["feature", "cut", "cut_value", "n_high", "n_low", "events_high", "events_low", "median_high",
               "median_low", "logrank_p", "exploratory_cut", "exploratory_p_uncorrected",
               "exploratory_p_corrected", "note"]
    return pd.DataFrame(rows, columns=columns)


def screen_modality(values: pd.DataFrame, obs: pd.DataFrame, modality: str, endpoint: str,
                    covariates: list[str] | None = None, max_missing: float = 0.5, min_altered: int = 2,
                    min_altered_fraction: float = 0.1, top_variance: int | None = 500,
                    n_km_features: int = 6, n_permutations: int = 1000, exact_below_carriers: int = 5,
                    min_events: int = 10, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Univariate Cox screen of one modality for one survival endpoint, and KM splits of its top hits.

    Patients without the endpoint are left out; the label-free prefilters are applied to the
    remaining patients before testing (so the BH family is the prefiltered features). Sparse
    alterations, separation and the minimum number of events are handled by
    :func:`univariate_cox` (``exact_below_carriers``, ``min_events``, ``seed``). Returns
    (univariate table with modality, endpoint and family columns added, ordered by p-value;
    Kaplan–Meier table of the ``n_km_features`` smallest p-values).
    """
    outcome = endpoint_labels(obs, endpoint)
    patients = values.index.intersection(outcome.index)
    values = values.loc[patients]
    kinds = feature_kinds(values)
    kept = prefilter_features(values, kinds, max_missing=max_missing, min_altered=min_altered,
                              min_altered_fraction=min_altered_fraction, top_variance=top_variance)
    design = covariate_matrix(obs, covariates) if covariates else None
    table = univariate_cox(kept, kinds, outcome, covariates=design, exact_below_carriers=exact_below_carriers,
                           min_events=min_events, seed=seed)
    table["modality"] = modality
    table["endpoint"] = endpoint
    table["family"] = f"{modality}/{endpoint}"
    table["covariates"] = ";".join(covariates or [])
    table = table.sort_values(["pvalue", "feature"], kind="stable", na_position="last").reset_index(drop=True)
    top = table.dropna(subset=["pvalue"])["feature"].head(n_km_features).tolist()
    km = kaplan_meier_table(kept, kinds, outcome, top, n_permutations=n_permutations, seed=seed)
    km.insert(0, "endpoint", endpoint)
    km.insert(0, "modality", modality)
    return table, km
