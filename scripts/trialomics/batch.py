"""Is a modality's batch associated with the outcome? And, when it is, batch as a model covariate.

With about 20 patients, batches (sequencing runs, TMT plexes, Olink plates) are often filled in
enrolment order, so a batch can carry the outcome: responders processed together, early patients
with long follow-up on one plate. A batch effect then looks like a biomarker. :func:`batch_association`
tests, for every modality and endpoint, whether the batch of the patients' baseline samples is
associated with the endpoint:

- binary endpoints (responder, clinical benefit): Fisher's exact test of the batch x label table
  (Freeman–Halton for more than two batches: the sum of the probabilities, under the multivariate
  hypergeometric distribution of tables with the same margins, of the tables no more probable than
  the observed one). All tables are enumerated when there are at most ``EXACT_TABLE_LIMIT``;
  otherwise ``PERMUTATION_DRAWS`` seeded permutations of the labels estimate the same p-value.
- survival endpoints (PFS, OS): the k-sample log-rank statistic (chi-square with k - 1 degrees of
  freedom asymptotically) with a permutation p-value: every assignment of the batch labels is
  enumerated when there are at most ``EXACT_TABLE_LIMIT`` (two batches), otherwise
  ``PERMUTATION_DRAWS`` seeded permutations; p = (1 + permutations at least as extreme) / (1 + draws)
  when sampled. With 20 patients the asymptotic chi-square is not trusted.

Benjamini–Hochberg over the whole table (every modality x endpoint with a test) gives ``padj``;
``associated`` is ``yes`` below ``threshold`` (default 0.05). A modality whose baseline samples come
from one batch gets a row saying so and no test. A sample without a batch (empty in samples.tsv)
counts as the batch ``none``.

:func:`batch_covariate_plan` decides, per model block and endpoint, which modalities' batch joins
the model as an unpenalised covariate (``models.batch_covariate``: ``auto`` when the table says the
batch is associated with the endpoint, ``always`` for every multi-batch modality, ``never``), and
:func:`batch_covariates` builds that one-hot design per patient.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from .cohort import one_sample_per_patient
from .cox import risk_sets
from .multitest import benjamini_hochberg
from .survival import BINARY_ENDPOINTS, SURVIVAL_ENDPOINTS, endpoint_labels

NO_BATCH = "none"
EXACT_TABLE_LIMIT = 100_000
PERMUTATION_DRAWS = 9_999
# Relative tolerance when comparing a statistic or a table probability with the observed one (ties).
TIE_TOLERANCE = 1e-7
COLUMNS = ["modality", "endpoint", "n_patients", "n_batches", "batches", "test", "statistic", "pvalue", "padj",
           "associated", "threshold", "note"]
# Blocks that are not modalities of samples.tsv take the batch of the modality they are computed from.
BATCH_SOURCES = {"pathways": "rna"}
MODES = ("auto", "always", "never")


def patient_batches(adata, timepoint: str = "baseline") -> pd.Series:
    """The batch of each patient's ``timepoint`` sample (index patient_id; empty batches become ``none``)."""
    obs = one_sample_per_patient(adata, timepoint).obs
    batch = obs["batch"].astype(str).str.strip() if "batch" in obs else pd.Series("", index=obs.index)
    return pd.Series(batch.where(batch != "", NO_BATCH).to_numpy(), name="batch",
                     index=pd.Index(obs["patient_id"].astype(str).to_numpy(), name="patient_id"))


# ----------------------------------------------------------------------------------- tests


def freeman_halton_rx2(batch: np.ndarray, label: np.ndarray, seed: int = 0) -> tuple[float, str]:
    """Two-sided exact p of a batch x binary-label table (Fisher's exact test for two batches).

    Returns (p, ``exact`` or ``permutation``)."""
    # Imported here, not with the module: most importers only read batches (job start time).
    from scipy.stats import multivariate_hypergeom

    levels, codes = np.unique(batch, return_inverse=True)
    label = np.asarray(label, dtype=bool)
    sizes = np.bincount(codes, minlength=levels.size)
    positives = int(label.sum())
    observed = np.bincount(codes[label], minlength=levels.size)
    distribution = multivariate_hypergeom(m=sizes, n=positives)
    observed_log = distribution.logpmf(observed)
    n_tables = math.prod(int(min(s, positives)) + 1 for s in sizes)
    if n_tables <= EXACT_TABLE_LIMIT:
        tables = np.array([t for t in itertools.product(*(range(int(min(s, positives)) + 1) for s in sizes))
                           if sum(t) == positives])
        logs = distribution.logpmf(tables)
        p = float(np.exp(logs[logs <= observed_log + TIE_TOLERANCE]).sum())
        return min(1.0, p), "exact"
    rng = np.random.default_rng(seed)
    draws = np.array([np.bincount(codes[rng.permutation(label)], minlength=levels.size)
                      for _ in range(PERMUTATION_DRAWS)])
    extreme = int((distribution.logpmf(draws) <= observed_log + TIE_TOLERANCE).sum())
    return (1 + extreme) / (1 + PERMUTATION_DRAWS), "permutation"


def logrank_k_sample(time, event, groups: np.ndarray) -> np.ndarray:
    """k-sample log-rank chi-square statistics of many group assignments of the same patients.

    ``groups``: integer codes 0..k-1, shape (n patients,) or (assignments, n patients). The statistic
    is U' V^- U over the first k - 1 groups (U: observed minus expected events per group; V: the
    hypergeometric covariance with tied event times), chi-square with k - 1 df asymptotically.
    """
    groups = np.atleast_2d(np.asarray(groups, dtype=np.int64))
    k = int(groups.max()) + 1
    risk = risk_sets(np.asarray(time, dtype=np.float64), np.asarray(event, dtype=bool))
    at_risk, dies = risk.at_risk.astype(np.float64), risk.dies.astype(np.float64)       # times x patients
    n_t, d_t = at_risk.sum(axis=1), dies.sum(axis=1)
    onehot = np.eye(k)[groups][..., :-1]                                                  # a x n x (k-1)
    n_gt = np.einsum("tn,ang->atg", at_risk, onehot)
    d_gt = np.einsum("tn,ang->atg", dies, onehot)
    share = n_gt / n_t[None, :, None]
    u = (d_gt - d_t[None, :, None] * share).sum(axis=1)                                  # a x (k-1)
    ties = np.where(n_t > 1, d_t * (n_t - d_t) / np.maximum(n_t - 1, 1), 0.0)
    v = (np.einsum("t,atg,ath->agh", ties, share, -share)
         + np.einsum("t,atg->ag", ties, share)[..., None] * np.eye(k - 1)[None])
    return np.einsum("ag,agh,ah->a", u, np.linalg.pinv(v, hermitian=True), u)


def logrank_batches(time, event, batch: np.ndarray, seed: int = 0) -> tuple[float, float, str]:
    """(k-sample log-rank chi-square, its permutation p, ``exact`` or ``permutation``) across batches."""
    _, codes = np.unique(batch, return_inverse=True)
    observed = float(logrank_k_sample(time, event, codes)[0])
    sizes = np.bincount(codes)
    n = codes.size
    if sizes.size == 2 and math.comb(n, int(sizes[0])) <= EXACT_TABLE_LIMIT:
        assignments = np.ones((math.comb(n, int(sizes[0])), n), dtype=np.int64)
        for row, members in enumerate(itertools.combinations(range(n), int(sizes[0]))):
            assignments[row, list(members)] = 0
        null = logrank_k_sample(time, event, assignments)
        return observed, float(np.mean(null >= observed * (1 - TIE_TOLERANCE))), "exact"
    rng = np.random.default_rng(seed)
    null = np.concatenate([logrank_k_sample(time, event, np.array([rng.permutation(codes) for _ in range(size)]))
                           for size in _chunks(PERMUTATION_DRAWS, 1000)])
    extreme = int((null >= observed * (1 - TIE_TOLERANCE)).sum())
    return observed, (1 + extreme) / (1 + PERMUTATION_DRAWS), "permutation"


def _chunks(total: int, size: int) -> list[int]:
    return [min(size, total - start) for start in range(0, total, size)]


def _test_endpoint(batch: pd.Series, obs: pd.DataFrame, endpoint: str, seed: int) -> dict:
    outcome = endpoint_labels(obs, endpoint)
    patients = batch.index.intersection(outcome.index, sort=False).sort_values()
    values = batch.loc[patients].to_numpy()
    levels = sorted(set(values))
    row = {"n_patients": len(patients), "n_batches": len(levels), "batches": ";".join(levels)}
    if len(levels) < 2:
        return {**row, "test": "", "note": "one batch among the patients with this endpoint: nothing to test"}
    if endpoint in SURVIVAL_ENDPOINTS:
        outcome = outcome.loc[patients]
        if not outcome["event"].astype(bool).any():
            return {**row, "test": "", "note": "no event among the patients with this endpoint"}
        statistic, p, how = logrank_batches(outcome["time"].to_numpy(dtype=np.float64),
                                            outcome["event"].to_numpy(dtype=bool), values, seed)
        return {**row, "test": f"logrank_{how}", "statistic": statistic, "pvalue": p, "note": ""}
    label = outcome.loc[patients, "label"].to_numpy(dtype=bool)
    p, how = freeman_halton_rx2(values, label, seed)
    statistic = float(label.mean()) if label.size else math.nan
    return {**row, "test": f"fisher_{how}", "statistic": statistic, "pvalue": p,
            "note": "statistic: share of patients with the label"}


def batch_association(batches: dict[str, pd.Series], obs: pd.DataFrame, endpoints, threshold: float = 0.05,
                      seed: int = 0) -> pd.DataFrame:
    """The batch x endpoint table (``COLUMNS``), one row per modality and endpoint, in input order.

    ``batches``: modality -> :func:`patient_batches`; ``obs``: labels per patient
    (:func:`trialomics.survival.patient_annotations`). Endpoints other than PFS, OS and the binary
    ones are not tested. ``padj``: Benjamini–Hochberg over the rows with a p-value.
    """
    rows = []
    for modality, batch in batches.items():
        for endpoint in endpoints:
            if endpoint not in SURVIVAL_ENDPOINTS and endpoint not in BINARY_ENDPOINTS:
                continue
            rows.append({"modality": modality, "endpoint": endpoint, **_test_endpoint(batch, obs, endpoint, seed)})
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    tested = table["pvalue"].notna()
    table.loc[tested, "padj"] = benjamini_hochberg(table.loc[tested, "pvalue"].to_numpy(dtype=np.float64))
    table["associated"] = np.where(tested, np.where(table["padj"] < threshold, "yes", "no"), "")
    table["threshold"] = threshold
    table["seed"] = seed
    return table


# ------------------------------------------------------------------------- batch as covariate


def batch_covariate_plan(table: pd.DataFrame | None, blocks, endpoint: str, mode: str) -> tuple[list[str], str]:
    """Which blocks' batch joins a model of ``blocks`` for ``endpoint``, and why (for the tables' notes).

    ``table``: :func:`batch_association`'s table (as read: text), needed unless ``mode`` is ``never``.
    A block counts through its modality (``BATCH_SOURCES`` for derived blocks; blocks of on-treatment
    change have none). Returns (blocks whose batch is added, a note; "" when none is added).
    """
    if mode not in MODES:
        raise ValueError(f"models.batch_covariate must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "never" or table is None:
        return [], ""
    chosen, reasons = [], []
    for block in blocks:
        modality = block if (table["modality"].astype(str) == block).any() else BATCH_SOURCES.get(block)
        rows = table[(table["modality"].astype(str) == str(modality)) & (table["endpoint"].astype(str) == endpoint)]
        if rows.empty or pd.to_numeric(rows["n_batches"], errors="coerce").iloc[0] < 2:
            continue
        row = rows.iloc[0]
        if mode == "always":
            chosen.append(block)
            reasons.append(f"{block} (models.batch_covariate: always)")
        elif str(row["associated"]) == "yes":
            chosen.append(block)
            reasons.append(f"{block} (auto: {modality} batch associated with {endpoint}, "
                           f"padj {float(row['padj']):.2g})")
    note = ("batch added as unpenalised covariate: " + "; ".join(reasons)) if chosen else ""
    return chosen, note


def batch_covariates(batches: dict[str, pd.Series]) -> pd.DataFrame:
    """One-hot batch design per patient (columns ``<block>_batch=<level>``, first level the reference).

    Columns identical to an earlier one (two blocks batched alike) are dropped, so the unpenalised
    design stays of full rank; a patient without a sample of a block gets NaN in its columns.
    """
    design = {}
    for block, batch in batches.items():
        levels = sorted(batch.unique())
        for level in levels[1:]:
            design[f"{block}_batch={level}"] = (batch == level).astype(np.float64)
    frame = pd.DataFrame(design)
    frame.index.name = "patient_id"
    return frame.T.drop_duplicates().T if frame.shape[1] else frame
