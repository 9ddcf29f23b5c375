"""Compile the package's numba kernels into their on-disk cache before a run (``trialomics compile``).

The models' path solvers and fold preprocessing (:mod:`trialomics.cox_path` with
:mod:`trialomics.cox_face_newton` and :mod:`trialomics.cox_kkt_screen`, :mod:`trialomics.logistic_path`,
:mod:`trialomics.l1_kernels`, :mod:`trialomics.fold_kernels`) and the survival screen's cut-point search
(:mod:`trialomics.cutpoint_kernels`) are compiled by numba on first use and
cached next to their sources (``cache=True``). Without a warm cache every ``models_fit`` job that starts
before the first one has written it compiles them again: on a fresh checkout of the demo that was two
jobs at a time, about 15 CPU-s each. :func:`compile_model_kernels` fits one tiny model of each kind
through the same entry points as the models stage (so with the same argument types, hence the same
compiled specialisations); with a warm cache it only loads them.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd


def _tiny_cohort(n_patients: int = 24, seed: int = 0) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Blocks of every feature kind the models meet (continuous, binary, proteins with gaps) and labels."""
    rng = np.random.default_rng(seed)
    patients = pd.Index([f"P{i:02d}" for i in range(n_patients)], name="patient_id")
    proteins = pd.DataFrame(rng.normal(20.0, 2.0, (n_patients, 12)), index=patients,
                            columns=[f"protein{j}" for j in range(12)])
    proteins.iloc[:, :3] = proteins.iloc[:, :3].mask(rng.random((n_patients, 3)) < 0.2)
    rna = pd.DataFrame(rng.normal(size=(n_patients, 20)), index=patients, columns=[f"gene{j}" for j in range(20)])
    mutations = pd.DataFrame((rng.random((n_patients, 4)) < 0.4).astype(float), index=patients,
                             columns=[f"mutation{j}" for j in range(4)])
    obs = pd.DataFrame({"pfs_months": rng.uniform(1.0, 20.0, n_patients).round(2).astype(str),
                        "pfs_event": np.tile(["1", "1", "0"], n_patients)[:n_patients],
                        "clinical_benefit": np.tile(["yes", "no"], n_patients)[:n_patients]}, index=patients)
    return {"proteins": proteins, "rna": rna, "mutations": mutations}, obs


def compile_model_kernels() -> float:
    """Compile (or load from the cache) every numba kernel of the models and of the cut-point search; returns
    the seconds it took."""
    from .models import fit_endpoint_model
    from .imputation import make_fold_imputer
    from .survival import exploratory_cutpoint

    start = time.perf_counter()
    blocks, obs = _tiny_cohort()
    covariates = pd.DataFrame({"age": np.linspace(40.0, 80.0, len(obs))}, index=obs.index)
    for endpoint in ("pfs", "clinical_benefit"):
        # With and without covariates; top_variance 4 screens the 20 RNA columns (VarianceScreen), None
        # prefilters every column directly.
        for with_covariates, top_variance in ((False, 4), (True, 4), (False, None)):
            fit_endpoint_model(blocks, obs, endpoint, "joint", imputer=make_fold_imputer("downshifted_normal", 1),
                               covariates=covariates if with_covariates else None, repeats=1, n_permutations=1,
                               stability_subsamples=2, top_variance=top_variance, min_events=2, min_per_class=2,
                               seed=1)
    outcome = obs["pfs_months"].astype(float).to_numpy(), obs["pfs_event"].eq("1").to_numpy()
    exploratory_cutpoint(*outcome, blocks["rna"]["gene0"].to_numpy(), n_permutations=2)
    return time.perf_counter() - start
