"""Nothing lost: a run killed mid-way (SIGTERM, then SIGKILL) and rerun gives the same results.

What a user does after a kill, as this test does:

    snakemake ... --unlock              # only after SIGKILL / power loss: the lock was never released
    snakemake ... --rerun-incomplete    # reruns the jobs that were running when the run died

A SIGTERM (Ctrl-C, a cluster's time limit, ``kill``) ends each running job as an error does: its
temporary files are removed and Snakemake removes its declared outputs. After a SIGKILL nothing can
clean up at once; the rerun of the job removes the temporary file it left (``runlog.start``).

The workflow part runs a small simulated cohort (10 patients, 3,000 genes, 400 proteins) through the
clinical stage and the RNA and protein ingestion and normalisation, so that the kill lands inside a
real job (RNA normalisation).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, snakemake_command, write_config
from trialomics import demo, enrichment, tables

TARGETS = [
    "results/clinical/labels.tsv",
    "results/clinical/efficacy.tsv",
    "results/clinical/swimmer.png",
    "results/proteins/normalised.h5ad",
    "results/rna/normalised.h5ad",
]
# The job the kill must land in, and the log file that shows it has started.
HEAVY_JOB_LOG = "logs/rna/rna_normalise.log"
STARTUP_TIMEOUT_S = 600

_REFERENCE: dict[str, Path] = {}


def write_small_cohort(folder: Path) -> Path:
    """A 10-patient simulated trial (every modality) and a config naming it; returns the config."""
    gene_sets = enrichment.read_gmt(ROOT / "resources/gene_sets/immuno_oncology.gmt")
    cohort = demo.generate_demo_cohort(n_patients=10, n_genes=3000, n_proteins=400, seed=7,
                                       gene_sets=gene_sets)
    demo.write_demo_cohort(cohort, folder / "trial")
    return write_config(folder, {
        "samples": "trial/samples.tsv",
        "clinical": {"patients": "trial/patients.tsv", "recist": "trial/recist.tsv",
                     "adverse_events": "trial/adverse_events.tsv"},
    })


def snakemake_env() -> dict:
    return dict(os.environ, PYTHONHASHSEED="0")


def run(workdir: Path, *extra: str, cores: int = 2) -> subprocess.CompletedProcess:
    command = snakemake_command(workdir, workdir / "config.yaml", *TARGETS, *extra)
    command[command.index("--cores") + 1] = str(cores)
    result = subprocess.run(command, capture_output=True, text=True, env=snakemake_env(), cwd=workdir)
    assert result.returncode == 0, result.stderr[-6000:]
    return result


def reference_run(tmp_path_factory) -> Path:
    """One uninterrupted run, shared by this module and test_determinism."""
    if "workdir" not in _REFERENCE:
        workdir = tmp_path_factory.mktemp("uninterrupted")
        write_small_cohort(workdir)
        run(workdir)
        _REFERENCE["workdir"] = workdir
    return _REFERENCE["workdir"]


def result_files(workdir: Path) -> dict[str, Path]:
    return {str(p.relative_to(workdir)): p for p in sorted((workdir / "results").rglob("*")) if p.is_file()}


def assert_same_anndata(path_a: Path, path_b: Path) -> None:
    a, b = ad.read_h5ad(path_a), ad.read_h5ad(path_b)
    assert a.obs_names.tolist() == b.obs_names.tolist() and a.var_names.tolist() == b.var_names.tolist()
    np.testing.assert_array_equal(np.asarray(a.X), np.asarray(b.X), err_msg=str(path_b))
    assert sorted(a.layers) == sorted(b.layers)
    for layer in a.layers:
        np.testing.assert_array_equal(np.asarray(a.layers[layer]), np.asarray(b.layers[layer]),
                                      err_msg=f"{path_b} layer {layer}")
    pd.testing.assert_frame_equal(a.obs, b.obs)
    pd.testing.assert_frame_equal(a.var, b.var)
    assert repr(a.uns) == repr(b.uns)


def assert_same_results(reference: Path, other: Path) -> None:
    """Same files under results/; tables and figures byte for byte, AnnData numbers exactly."""
    expected, got = result_files(reference), result_files(other)
    assert sorted(got) == sorted(expected)
    for name, path in expected.items():
        if path.suffix == ".h5ad":
            assert_same_anndata(path, got[name])
        else:
            assert path.read_bytes() == got[name].read_bytes(), name


def leftover_temporaries(workdir: Path) -> list[Path]:
    return [p for folder in ("results", "logs", "benchmarks") for p in (workdir / folder).rglob("*")
            if tables.is_temporary(p)]


def start_run(workdir: Path) -> subprocess.Popen:
    command = snakemake_command(workdir, workdir / "config.yaml", *TARGETS, "--rerun-incomplete")
    # A session of its own: the kill reaches Snakemake and its jobs, as a terminal's or scheduler's does.
    with open(workdir / "interrupted.stderr", "w") as stderr:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env=snakemake_env(),
                                cwd=workdir, start_new_session=True)


def kill_when_heavy_job_runs(process: subprocess.Popen, workdir: Path, sig: int) -> None:
    """Wait until the heavy job has started (and, when possible, is writing), then signal the run."""
    log = workdir / HEAVY_JOB_LOG
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not log.exists():
        assert process.poll() is None, \
            f"run ended before {HEAVY_JOB_LOG} appeared:\n{(workdir / 'interrupted.stderr').read_text()[-4000:]}"
        assert time.monotonic() < deadline, f"{HEAVY_JOB_LOG} did not appear"
        time.sleep(0.05)
    # Prefer the moment a temporary file exists (the hardest case); else kill within a few seconds.
    until = time.monotonic() + 8
    while time.monotonic() < until and not list((workdir / "results/rna").glob(".*")) and process.poll() is None:
        time.sleep(0.01)
    assert process.poll() is None, "the run finished before it could be interrupted"
    os.killpg(process.pid, sig)
    process.wait(timeout=300)


@pytest.mark.e2e
def test_killed_runs_rerun_to_the_uninterrupted_results(tmp_path_factory, tmp_path):
    reference = reference_run(tmp_path_factory)
    write_small_cohort(tmp_path)

    # SIGTERM: the running jobs fail cleanly, Snakemake removes their outputs and releases its lock.
    process = start_run(tmp_path)
    kill_when_heavy_job_runs(process, tmp_path, signal.SIGTERM)
    assert process.returncode != 0
    assert leftover_temporaries(tmp_path) == []
    assert not (tmp_path / "results/rna/normalised.h5ad").exists()

    # SIGKILL of the rerun: nothing runs any cleanup; the user unlocks and reruns incomplete jobs.
    (tmp_path / HEAVY_JOB_LOG).unlink()
    process = start_run(tmp_path)
    kill_when_heavy_job_runs(process, tmp_path, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL
    run(tmp_path, "--unlock")
    run(tmp_path, "--rerun-incomplete")

    assert leftover_temporaries(tmp_path) == []
    assert_same_results(reference, tmp_path)


def test_sigterm_during_a_write_leaves_no_temporary_file(tmp_path):
    """A job's process stopped by SIGTERM mid-write: the finally of the atomic write removes the file."""
    target = tmp_path / "out" / "table.tsv"
    script = textwrap.dedent(f"""
        import os, signal, sys, time
        from trialomics import runlog, tables
        signal.signal(signal.SIGTERM, runlog.stop_on_sigterm)
        with tables.atomic_output({str(target)!r}) as tmp:
            tmp.write_text("half a table")
            print("writing", flush=True)
            time.sleep(60)
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "scripts"))
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout.readline().strip() == "writing"
    assert tables.temporary_path(target).exists()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 128 + signal.SIGTERM
    assert list(target.parent.iterdir()) == []


def test_failed_write_removes_its_temporary_file_and_keeps_the_old_output(tmp_path):
    target = tmp_path / "table.tsv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), tables.atomic_output(target) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("the writer failed")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.tsv"]


def test_rerun_removes_the_temporary_file_a_killed_job_left(tmp_path):
    outputs = [tmp_path / "a.tsv", tmp_path / "b.h5ad"]
    stale = tables.temporary_path(outputs[1])
    stale.write_bytes(b"left by SIGKILL")
    unrelated = tmp_path / "notes.txt"
    unrelated.write_text("kept")
    assert tables.is_temporary(stale) and not tables.is_temporary(outputs[1])
    assert tables.remove_stale_temporaries(outputs) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
