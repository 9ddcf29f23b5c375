"""Exploratory multi-omics factors: MOFA+ on the patient-aligned blocks, screened against the endpoints.

MOFA+ (Argelaguet et al., Genome Biology 2020; the ``mofapy2`` package) finds a few latent factors shared
across the omics layers. It models a missing value as unobserved, so a patient missing a whole modality
keeps the blocks they have and still gets factor scores: every patient with at least one modality is in
the model. How the blocks are prepared (:func:`prepare_views`):

- One view per modality; rows are the union of the patients of all blocks, in sorted order, and a patient
  without the modality is a row of missing values (muon's ``use_obs="union"`` convention).
- A block whose features are mostly alterations (0/1: mutations) is a Bernoulli view of its alterations;
  a continuous summary carried in such a block (TMB) is left out because it restates the same
  alterations. Any other block is a Gaussian view whose features are z-scored over the patients that
  have it, so that views of different scales weigh alike.
- Features pass the label-free prefilters of the models (``survival.prefilter_mask``, over the patients
  with the modality): at most half missing, alterations in at least ``max(2, 10 %)`` of those patients,
  and the ``top_variance`` most variable continuous features.

The model (:func:`mofa_factors`) uses ARD priors on the weights per view and factor and spike-and-slab
sparsity on the weights (mofapy2's defaults), ``n_factors`` factors kept whatever their size (no factor
dropping), mofapy2's "fast" convergence within ``iterations``, and a fixed ``seed`` that is written into
every output. Factors are ordered by the variance they explain summed over the views, and signed so that
each factor's largest absolute weight is positive (factor signs are arbitrary). Variance explained is
mofapy2's R² per view and factor (1 - residual / total sum of squares over the observed values of the
view; for a Bernoulli view, of its Gaussian pseudo-data, as mofapy2 reports it). The model is label-free
and fitted on all patients: its factors are exploratory, and :func:`screen_factors` only screens them
against the endpoints.
"""
from __future__ import annotations

import contextlib
import io
import logging
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

from .multitest import benjamini_hochberg
from .survival import (BINARY, CONTINUOUS, SURVIVAL_ENDPOINTS, endpoint_labels, feature_kinds,
                       prefilter_mask, univariate_cox)

BERNOULLI = "bernoulli"
GAUSSIAN = "gaussian"
LOADING_COLUMNS = ["modality", "feature", "factor", "loading"]
VARIANCE_COLUMNS = ["modality", "factor", "variance_explained", "likelihood", "n_patients", "n_features", "seed"]
SCREEN_COLUMNS = ["endpoint", "factor", "effect", "effect_type", "pvalue", "padj", "n", "analysis"]
TOTAL = "total"

logger = logging.getLogger(__name__)


class View(NamedTuple):
    """One MOFA+ view: patients (rows, the union of all blocks) x features, NaN where unobserved."""

    values: pd.DataFrame
    likelihood: str
    n_patients: int


class FactorModel(NamedTuple):
    """What :func:`mofa_factors` returns."""

    scores: pd.DataFrame
    loadings: pd.DataFrame
    variance_explained: pd.DataFrame


def prepare_views(blocks: dict[str, pd.DataFrame], top_variance: int | None = 500) -> dict[str, View]:
    """The MOFA+ views of ``blocks`` (modality -> patients x features, indexed by patient_id).

    See the module notes. Modalities left without a feature after filtering are not views.
    """
    patients = sorted(set().union(*(block.index.astype(str) for block in blocks.values()))) if blocks else []
    views = {}
    for modality, block in blocks.items():
        block = block.copy()
        block.index = block.index.astype(str)
        kinds = feature_kinds(block)
        alterations = kinds == BINARY
        if alterations.mean() > 0.5:
            block, kinds, likelihood = block.loc[:, alterations], kinds[alterations], BERNOULLI
        else:
            kinds = pd.Series(CONTINUOUS, index=block.columns)
            likelihood = GAUSSIAN
        keep = prefilter_mask(block.to_numpy(dtype=np.float64), kinds.to_numpy(), top_variance=top_variance,
                              min_altered=2, min_altered_fraction=0.1, max_missing=0.5)
        block = block.loc[:, keep]
        if block.shape[1] == 0:
            logger.info("%s: no feature passes the prefilters; not a factor-model view", modality)
            continue
        if likelihood == GAUSSIAN:
            block = (block - block.mean()) / block.std(ddof=1)
        views[modality] = View(block.reindex(patients), likelihood, len(block))
    return views


def mofa_factors(blocks: dict[str, pd.DataFrame], n_factors: int = 5, top_variance: int | None = 500,
                 seed: int = 0, iterations: int = 1000) -> FactorModel:
    """MOFA+ factors of the ``blocks`` (modality -> patients x features, indexed by patient_id).

    Returns
    -------
    :class:`FactorModel`: ``scores`` (every patient of any block x ``factor_1..k``, indexed by
    patient_id), ``loadings`` (:data:`LOADING_COLUMNS`, the weights) and ``variance_explained``
    (:data:`VARIANCE_COLUMNS`: one row per view and factor, then one ``total`` row per view for all
    factors together, as fractions of the view's variance). With no view, or fewer than 3 patients,
    the tables are empty.
    """
    views = prepare_views(blocks, top_variance)
    patients = next(iter(views.values())).values.index if views else pd.Index([], name="patient_id")
    if not views or len(patients) < 3:
        return FactorModel(pd.DataFrame(index=patients), pd.DataFrame(columns=LOADING_COLUMNS),
                           pd.DataFrame(columns=VARIANCE_COLUMNS))
    model = _train(views, n_factors, seed, iterations)
    z = np.asarray(model.nodes["Z"].getExpectation(), dtype=np.float64)
    weights = [np.asarray(w, dtype=np.float64) for w in model.nodes["W"].getExpectation()]
    r2 = np.asarray(model.calculate_variance_explained()[0], dtype=np.float64)
    r2_total = np.asarray(model.calculate_variance_explained(total=True)[0], dtype=np.float64)

    order = np.argsort(-r2.sum(axis=0), kind="stable")
    stacked = np.vstack(weights)[:, order]
    signs = np.sign(stacked[np.abs(stacked).argmax(axis=0), np.arange(stacked.shape[1])])
    signs[signs == 0] = 1.0
    names = [f"factor_{i + 1}" for i in range(len(order))]
    scores = pd.DataFrame(z[:, order] * signs, index=patients, columns=names)
    scores.index.name = "patient_id"
    loadings = pd.concat([
        pd.DataFrame({"modality": modality, "feature": np.repeat(view.values.columns.to_numpy(), len(names)),
                      "factor": np.tile(names, view.values.shape[1]),
                      "loading": (w[:, order] * signs).ravel()})
        for (modality, view), w in zip(views.items(), weights)], ignore_index=True)
    rows = []
    for m, (modality, view) in enumerate(views.items()):
        described = {"likelihood": view.likelihood, "n_patients": view.n_patients,
                     "n_features": view.values.shape[1], "seed": seed}
        rows += [{"modality": modality, "factor": name, "variance_explained": r2[m, k], **described}
                 for name, k in zip(names, order)]
        rows.append({"modality": modality, "factor": TOTAL, "variance_explained": r2_total[m], **described})
    return FactorModel(scores, loadings[LOADING_COLUMNS], pd.DataFrame(rows, columns=VARIANCE_COLUMNS))


def _train(views: dict[str, View], n_factors: int, seed: int, iterations: int):
    """A trained mofapy2 model; its console output goes to the debug log."""
    from mofapy2.run.entry_point import entry_point

    printed = io.StringIO()
    # mofapy2's lower bound takes log(0) for weights whose spike-and-slab probability reaches 0 or 1 and
    # then sets those NaN terms to 0 (0 log 0 = 0): the warnings are noise.
    with contextlib.redirect_stdout(printed), np.errstate(divide="ignore", invalid="ignore"):
        runner = entry_point()
        runner.set_data_options(scale_views=False)
        runner.set_data_matrix(
            [[view.values.to_numpy(dtype=np.float64)] for view in views.values()],
            likelihoods=[view.likelihood for view in views.values()], views_names=list(views),
            groups_names=["patients"], samples_names=[next(iter(views.values())).values.index.tolist()],
            features_names=[[f"{modality}:{feature}" for feature in view.values.columns]
                            for modality, view in views.items()])
        runner.set_model_options(factors=n_factors, spikeslab_weights=True, ard_weights=True)
        runner.set_train_options(iter=iterations, convergence_mode="fast", seed=seed, dropR2=None,
                                 quiet=True, verbose=False)
        runner.build()
        runner.run()
    logger.debug("mofapy2:\n%s", printed.getvalue())
    return runner.model


def screen_factors(scores: pd.DataFrame, obs: pd.DataFrame, endpoints: list[str]) -> pd.DataFrame:
    """Association of every factor with every endpoint, labelled exploratory.

    Survival endpoints: univariate Cox per SD of the factor (``survival.univariate_cox``); binary
    endpoints: Mann–Whitney U test (two-sided), effect = AUC of the factor for the 'yes' class. Patients
    whose label is missing (unknown or not yet assessable) are left out. BH within each endpoint.
    Columns: :data:`SCREEN_COLUMNS`.
    """
    rows = []
    for endpoint in endpoints:
        outcome = endpoint_labels(obs, endpoint)
        patients = scores.index.intersection(outcome.index, sort=False)
        if endpoint in SURVIVAL_ENDPOINTS:
            kinds = pd.Series(CONTINUOUS, index=scores.columns)
            table = univariate_cox(scores.loc[patients], kinds, outcome.loc[patients])
            part = pd.DataFrame({"factor": table["feature"], "effect": table["hr"], "effect_type": "hr_per_sd",
                                 "pvalue": table["pvalue"], "n": table["n"]})
        else:
            part = pd.DataFrame([_auc_test(scores.loc[patients, factor], outcome.loc[patients, "label"], factor)
                                 for factor in scores.columns],
                                columns=["factor", "effect", "effect_type", "pvalue", "n"])
        part["padj"] = benjamini_hochberg(part["pvalue"])
        part.insert(0, "endpoint", endpoint)
        rows.append(part)
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=SCREEN_COLUMNS)
    table["analysis"] = "exploratory"
    return table[SCREEN_COLUMNS]


def _auc_test(values: pd.Series, label: pd.Series, factor: str) -> dict:
    yes, no = values[label == 1], values[label == 0]
    row = {"factor": factor, "effect": np.nan, "effect_type": "auc", "pvalue": np.nan, "n": len(values)}
    if len(yes) and len(no):
        test = mannwhitneyu(yes, no, alternative="two-sided")
        row.update(effect=float(test.statistic) / (len(yes) * len(no)), pvalue=float(test.pvalue))
    return row
