"""The workflow through a real SLURM on localhost, with the shipped profile (workflow/profiles/slurm).

Starts munged, slurmctld and slurmd from Debian's packages (tests/slurm_cluster.py), runs a slice of the
demo DAG (clinical labels, protein normalisation, a differential table, a nested-CV model with 2 threads
and the run manifest) through ``--workflow-profile workflow/profiles/slurm``, and checks that every job
ran as a SLURM job with its threads as CPUs per task, that the jobs imported the installed package, and
that every table equals the one a local run writes. Run with ``bash run.sh test-slurm`` (root only:
the daemons and /etc/slurm/slurm.conf need it).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import DEMO, ROOT, SNAKEFILE, write_config
from slurm_cluster import local_slurm, missing_programs

pytestmark = pytest.mark.slurm

TARGETS = [
    "results/clinical/labels.tsv",
    "results/differential/proteins/responder.tsv",
    "results/models/pfs/proteins.performance.tsv",
    "results/manifest/manifest.json",
]
# Options for a cluster without accounting (no slurmdbd), as on this localhost node; see the profile.
LOCALHOST_OPTIONS = ["--slurm-status-command", "squeue", "--slurm-no-account",
                     "--slurm-init-seconds-before-status-checks", "5"]
HARD_TIMEOUT = 900


def _config(workdir: Path) -> Path:
    return write_config(workdir, {
        "samples": str(DEMO / "samples.tsv"),
        "clinical": {"patients": str(DEMO / "patients.tsv"), "recist": str(DEMO / "recist.tsv"),
                     "adverse_events": str(DEMO / "adverse_events.tsv")},
        "models": {"threads": 2, "permutations": 3, "repeats": 1, "stability_subsamples": 3},
    })


def _snakemake(workdir: Path, *extra: str, env=None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory", str(workdir),
               "--configfile", str(_config(workdir)), *extra, *TARGETS]
    return subprocess.run(command, capture_output=True, text=True, cwd=workdir, timeout=HARD_TIMEOUT,
                          env=dict(env or os.environ, PYTHONHASHSEED="0"), start_new_session=True)


def _tables(workdir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(workdir)): p.read_bytes() for p in sorted((workdir / "results").rglob("*.tsv"))}


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    if os.geteuid() != 0:
        message = "THE SLURM TEST DID NOT RUN: it needs root to start munged/slurmctld/slurmd"
        print(message, file=sys.stderr)
        pytest.skip(message)
    missing = missing_programs()
    if missing:
        pytest.fail(f"SLURM programs missing: {', '.join(missing)} (bash run.sh test-slurm installs them)")
    local = tmp_path_factory.mktemp("local")
    done = _snakemake(local, "--cores", "2")
    assert done.returncode == 0, done.stderr[-4000:]
    cluster = tmp_path_factory.mktemp("slurm")
    # The munge user must reach the daemons' folder: not under pytest's root-only tmp folder.
    daemon_folder = Path(tempfile.mkdtemp(prefix="trialomics-slurm-"))
    try:
        with local_slurm(daemon_folder) as (env, daemons):
            done = _snakemake(cluster, "--workflow-profile", str(ROOT / "workflow" / "profiles" / "slurm"),
                              *LOCALHOST_OPTIONS, env=env)
            queue = subprocess.run(["squeue", "-h"], env=env, capture_output=True, text=True).stdout
            # What the scheduler granted each job (finished jobs stay known for MinJobAge seconds).
            granted = subprocess.run(["scontrol", "show", "job", "-o"], env=env, capture_output=True,
                                     text=True).stdout
    finally:
        shutil.rmtree(daemon_folder, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-6000:]
    return {"local": local, "cluster": cluster, "stderr": done.stderr, "daemons": daemons, "queue": queue,
            "granted": granted.splitlines()}


def test_every_job_was_a_slurm_job_with_its_threads(slurm_run):
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", slurm_run["stderr"])
    logs = sorted((slurm_run["cluster"] / "logs").rglob("*.log"))
    assert len(submitted) >= 5 and len(logs) >= 5
    for log in logs:
        text = log.read_text()
        assert "SLURM job " in text, f"{log} did not run under SLURM"
    models_log = next(p for p in logs if "models_fit" in str(p)).read_text()
    assert re.search(r"2 thread\(s\); SLURM job \d+ on localhost with 2 CPU\(s\) per task", models_log), models_log
    # What SLURM granted: threads -> --cpus-per-task, the profile's set-resources (mem_mb 3000 * attempt)
    # -> --mem (the plugin adds a few MB for its own payload).
    models_job = next((line for line in slurm_run["granted"] if "Comment=rule_models_fit" in line), None)
    assert models_job, slurm_run["granted"]
    assert re.search(r"\bNumCPUs=2\b", models_job), models_job
    memory = int(re.search(r"\bmem=(\d+)M\b", models_job).group(1))
    assert 3000 <= memory <= 3100, models_job
    assert slurm_run["queue"].strip() == ""


def test_jobs_import_the_installed_package(slurm_run):
    import trialomics

    package = str(Path(trialomics.__file__).parent)
    for log in (slurm_run["cluster"] / "logs").rglob("*.log"):
        line = next(line for line in log.read_text().splitlines() if "trialomics " in line and " from " in line)
        assert f"trialomics {trialomics.__version__} from {package}" in line


def test_tables_equal_a_local_run(slurm_run):
    local, cluster = _tables(slurm_run["local"]), _tables(slurm_run["cluster"])
    assert set(local) == set(cluster) and len(local) >= 5
    for name in local:
        assert local[name] == cluster[name], f"{name} differs between the local and the SLURM run"


def test_daemons_are_stopped_by_pid(slurm_run):
    for name, pid in slurm_run["daemons"]:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower(), name
    assert not Path("/etc/slurm/slurm.conf").exists()
