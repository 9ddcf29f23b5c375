"""A minimal config without outcome data fails up front, or, if the user allows it, plans nothing on the
labels it cannot derive (issue: a dry run used to plan responder contrasts and models on empty labels)."""
from __future__ import annotations

import re

from conftest import DEMO, run_snakemake, write_config


def _config(workdir, **clinical):
    return write_config(workdir, {"samples": str(DEMO / "samples.tsv"),
                                  "clinical": {"patients": str(DEMO / "patients.tsv"), **clinical}})


def test_without_recist_the_run_stops_before_any_job_and_names_the_table(tmp_path):
    done = run_snakemake(tmp_path, _config(tmp_path), "--dry-run")
    said = done.stdout + done.stderr
    assert done.returncode != 0
    assert "clinical.recist" in said and "allow_missing_outcomes" in said and "Traceback" not in said


def test_allowed_missing_outcomes_plan_no_job_on_them(tmp_path):
    done = run_snakemake(tmp_path, _config(tmp_path, allow_missing_outcomes=True), "--dry-run")
    assert done.returncode == 0, done.stderr[-3000:]
    planned = done.stdout + done.stderr
    assert "Warning:" in planned and "skip" in planned.lower()
    wildcards = " ".join(re.findall(r"wildcards: (.*)", planned))
    for label in ("responder", "clinical_benefit", "pfs"):
        assert f"endpoint={label}" not in wildcards and f"contrast={label}" not in wildcards, label
    assert "endpoint=os" in wildcards
