"""Determinism: the same seed gives byte-identical tables and identical numbers in HDF5 containers,
whatever the number of threads; for the workflow and for the models stage."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from test_interruption import assert_same_results, reference_run, run, write_small_cohort
from trialomics import models, tables
from trialomics.proteins import DownshiftedNormalImputer
from trialomics.survival import covariate_matrix


@pytest.mark.e2e
def test_workflow_rerun_on_one_core_gives_the_same_results(tmp_path_factory, tmp_path):
    """Same inputs and seed, rules on 1 thread instead of 2: byte-identical tables and figures,
    identical AnnData numbers."""
    reference = reference_run(tmp_path_factory)
    write_small_cohort(tmp_path)
    run(tmp_path, cores=1)
    assert_same_results(reference, tmp_path)


def simulated_block(seed: int = 11):
    """20 patients: RNA with a planted responder gene, proteins with missing values, outcomes."""
    rng = np.random.default_rng(seed)
    patients = [f"P{i:02d}" for i in range(20)]
    responder = np.array(["yes"] * 7 + ["no"] * 13)
    obs = pd.DataFrame({
        "patient_id": patients, "responder": responder, "age": rng.normal(60, 8, 20).round(1).astype(str),
        "pfs_months": rng.exponential(6, 20).round(2), "pfs_event": (rng.random(20) < 0.7).astype(float),
    })
    rna = pd.DataFrame(rng.normal(size=(20, 30)), index=patients, columns=[f"G{j}" for j in range(30)])
    rna["G0"] += 2.0 * (responder == "yes")
    proteins = pd.DataFrame(rng.normal(10, 1, size=(20, 8)), index=patients, columns=[f"PR{j}" for j in range(8)])
    proteins.iloc[[0, 3, 5], 1] = np.nan
    return {"rna": rna, "proteins": proteins}, obs


def model_tables(endpoint: str, n_jobs: int, tmp_path, label: str) -> dict[str, bytes]:
    blocks, obs = simulated_block()
    result = models.fit_endpoint_model(
        blocks, obs, endpoint, "joint", covariates=covariate_matrix(obs, ["age"]),
        imputer=DownshiftedNormalImputer(random_state=5), n_alphas=5, repeats=2, n_permutations=4,
        stability_subsamples=8, stability_q=3, top_variance=20, seed=3, n_jobs=n_jobs)
    written = {}
    for name, table in result.items():
        path = tmp_path / f"{label}.{name}.tsv"
        tables.write_tsv(table, path)
        written[name] = path.read_bytes()
    return written


@pytest.mark.parametrize("endpoint", ["responder", "pfs"])
def test_models_stage_tables_do_not_depend_on_jobs_or_repetition(endpoint, tmp_path):
    one_job = model_tables(endpoint, 1, tmp_path, "first")
    again = model_tables(endpoint, 1, tmp_path, "again")
    two_jobs = model_tables(endpoint, 2, tmp_path, "two_jobs")
    assert sorted(one_job) == sorted(two_jobs) == sorted(again)
    assert one_job["performance"] and one_job["oof"]
    for name in one_job:
        assert again[name] == one_job[name], f"{endpoint} {name}: a second run differs"
        assert two_jobs[name] == one_job[name], f"{endpoint} {name}: n_jobs=2 differs from n_jobs=1"
