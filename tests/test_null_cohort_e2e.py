"""One small null cohort through the ranking: nothing is strong, and the best calibrated p is not tiny."""
from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from conftest import ROOT, run_snakemake, write_config
from trialomics import tables

pytestmark = pytest.mark.e2e

NULL_SEED = 2024
# Small enough for CI: few genes and proteins, the fewest resamples the schema allows where they do not
# feed the calibrated chain (the chain's 100 joint permutations are the schema's minimum). Measured: 129
# jobs, 6 CPU-minutes in all (19 minutes wall on 2 cores shared at a load average of about 12), so
# about 3 minutes on an idle 2-core machine.
SMALL_SETTINGS = {
    "models": {"permutations": 3, "repeats": 1, "stability_subsamples": 4, "n_alphas": 4,
               "factors": False},
    "survival": {"cutpoint_permutations": 0},
    "enrichment": {"permutations": 10},
    "ranking": {"null_permutations": 100, "top_cards": 0},
}


def test_null_cohort_has_no_strong_candidate_and_a_calibrated_top(tmp_path):
    inputs = tmp_path / "inputs"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_demo_cohort.py"), "--out", str(inputs),
                    "--patients", "20", "--genes", "600", "--proteins", "300", "--seed", str(NULL_SEED),
                    "--null"], check=True, capture_output=True, text=True)
    config = {
        "samples": str(inputs / "samples.tsv"),
        "clinical": {"patients": str(inputs / "patients.tsv"), "recist": str(inputs / "recist.tsv"),
                     "adverse_events": str(inputs / "adverse_events.tsv")},
        "seed": NULL_SEED,
        **SMALL_SETTINGS,
    }
    result = run_snakemake(tmp_path, write_config(tmp_path, config), "results/biomarkers/ranked.tsv")
    assert result.returncode == 0, result.stderr[-4000:]

    ranked = tables.read_tsv(tmp_path / "results" / "biomarkers" / "ranked.tsv")
    assert "rra_p" not in ranked.columns
    assert (ranked["tier"] != "strong").all(), ranked[ranked["tier"] == "strong"].head().to_string()
    calibration = tables.read_tsv(tmp_path / "results" / "biomarkers" / "calibration.tsv")
    primary = calibration[calibration["endpoint"] == "pfs"]
    top_p = pd.to_numeric(primary["calibrated_p"]).min()
    # The top candidate of the primary endpoint's family: with 100 permutations its calibrated p is
    # uniform on {1..101}/101 under the null; below 0.01 only if no permuted run beats it.
    assert top_p >= 0.01
    assert (pd.to_numeric(primary["n_permutations"]) == 100).all()
