"""Shared fixtures: the demo workflow run once per test session, in a temporary directory."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "resources" / "demo"
SNAKEFILE = ROOT / "workflow" / "Snakefile"


def snakemake_command(workdir: Path, configfile: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory", str(workdir),
            "--configfile", str(configfile), "--cores", "2", *extra]


def run_snakemake(workdir: Path, configfile: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONHASHSEED="0")
    return subprocess.run(snakemake_command(workdir, configfile, *extra), capture_output=True, text=True,
                          env=env, cwd=workdir)


def minimal_demo_config(workdir: Path, **overrides) -> Path:
    """A config naming only the demo's inputs (every other key takes its schema default)."""
    config = {
        "samples": str(DEMO / "samples.tsv"),
        "clinical": {
            "patients": str(DEMO / "patients.tsv"),
            "recist": str(DEMO / "recist.tsv"),
            "adverse_events": str(DEMO / "adverse_events.tsv"),
        },
    }
    config.update(overrides)
    return write_config(workdir, config)


def demo_config(workdir: Path, **overrides) -> Path:
    """The shipped config/config.yaml (what `bash run.sh demo` runs), its paths made absolute, with
    ``overrides`` merged into its sections."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["samples"] = str(ROOT / config["samples"])
    for key in ("patients", "recist", "adverse_events"):
        config["clinical"][key] = str(ROOT / config["clinical"][key])
    config["enrichment"]["gene_sets"] = [str(ROOT / path) for path in config["enrichment"]["gene_sets"]]
    config["ranking"]["truth"] = str(ROOT / config["ranking"]["truth"])
    for section, values in overrides.items():
        if isinstance(values, dict) and isinstance(config.get(section), dict):
            config[section] = {**config[section], **values}
        else:
            config[section] = values
    return write_config(workdir, config)


def write_config(workdir: Path, config: dict) -> Path:
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """Run the whole demo workflow once, with the shipped config exactly as `bash run.sh demo` runs it
    (default resampling counts: 100 permutations, 3 repeats, 100 stability subsamples per model); tests
    read its results.

    ``TRIALOMICS_DEMO_RUN=<folder of a finished run of this fixture>`` reuses that run instead (for
    iterating on the end-to-end tests; CI never sets it).
    """
    reuse = os.environ.get("TRIALOMICS_DEMO_RUN")
    if reuse:
        return Path(reuse)
    workdir = tmp_path_factory.mktemp("demo_run")
    configfile = demo_config(workdir)
    result = run_snakemake(workdir, configfile)
    if result.returncode != 0:
        pytest.fail(f"demo workflow failed:\n{result.stderr[-6000:]}")
    return workdir
