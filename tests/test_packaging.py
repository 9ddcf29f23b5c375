"""trialomics installs like a catalogue workflow: a package, a licence, a changelog, profiles, a template."""
from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml

import trialomics
from conftest import ROOT, SNAKEFILE

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _schema_keys(schema: dict, prefix: str = "") -> set[str]:
    keys = set()
    for name, spec in schema.get("properties", {}).items():
        keys.add(prefix + name)
        keys |= _schema_keys(spec, f"{prefix}{name}.")
    return keys


def _config_keys(config: dict, prefix: str = "") -> set[str]:
    keys = set()
    for name, value in config.items():
        keys.add(prefix + name)
        if isinstance(value, dict):
            keys |= _config_keys(value, f"{prefix}{name}.")
    return keys


def test_the_package_is_installed_not_found_through_sys_path():
    assert metadata.version("trialomics") == PYPROJECT["project"]["version"] == trialomics.__version__
    # pip records where it installed the package from (PEP 610); the egg-info folder the editable build
    # leaves in scripts/ is a second, bare distribution of the same name, so look at every one.
    records = [d.read_text("direct_url.json") for d in metadata.distributions() if d.metadata["Name"] == "trialomics"]
    assert any(records), "trialomics was not installed with pip"
    for smk in (ROOT / "workflow").rglob("*.smk"):
        assert "sys.path" not in smk.read_text(), smk


def test_every_environment_installs_the_package_from_this_repository():
    for env_file in sorted((ROOT / "envs").glob("*.yaml")):
        deps = yaml.safe_load(env_file.read_text())["dependencies"]
        pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
        assert ".." in pip, env_file.name
        assert (env_file.parent / "..").resolve() == ROOT


def test_licence_changelog_and_catalogue_file():
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert f"## {trialomics.__version__}" in (ROOT / "CHANGELOG.md").read_text()
    catalogue = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())
    assert catalogue["usage"]["software-stack-deployment"]["conda"] is True
    assert "--configfile" in catalogue["usage"]["mandatory-flags"]["flags"]


def test_template_is_a_valid_config_without_demo_paths():
    text = (ROOT / "config" / "template.yaml").read_text()
    template = yaml.safe_load(text)
    assert "resources/demo" not in text and "truth" not in template.get("ranking", {})
    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
    unknown = _config_keys(template) - _schema_keys(schema)
    assert not unknown, f"template keys the schema does not know: {sorted(unknown)}"


@pytest.mark.parametrize("profile", ["default", "slurm"])
def test_profiles_parse_and_grow_with_attempt(profile):
    config = yaml.safe_load((ROOT / "workflow" / "profiles" / profile / "config.yaml").read_text())
    if profile == "default":
        assert config["rerun-incomplete"] and config["printshellcmds"] and "cores" in config
        return
    assert config["executor"] == "slurm" and config["jobs"] >= 1 and config["retries"] >= 1
    text = (ROOT / "workflow" / "profiles" / profile / "config.yaml").read_text()
    assert "# slurm_account:" in text and "# slurm_partition:" in text
    for rule, resources in config["set-resources"].items():
        assert "attempt" in str(resources["mem_mb"]) and "attempt" in str(resources["runtime"]), rule


def test_manifest_diff_names_what_changed(tmp_path):
    from trialomics.manifest import build_manifest, compare_manifests, main

    table = tmp_path / "patients.tsv"
    table.write_text("patient_id\nP1\n")
    counts = tmp_path / "S1.counts.tsv"
    counts.write_text("TP53\t5\n")
    samples = [{"sample_id": "S1", "patient_id": "P1", "modality": "rna", "timepoint": "baseline"}]
    inputs = {"clinical.patients": table, "sample:S1": counts}
    old = build_manifest({"models": {"permutations": 100}}, inputs, samples, ["P1"], {"numpy": "2.4.6"})
    assert all("path" not in row for row in old["inputs"])  # roles, never locations
    table.write_text("patient_id\nP1\nP2\n")
    new = build_manifest({"models": {"permutations": 200}}, {**inputs, "sample:S2": counts},
                         samples + [{"sample_id": "S2", "patient_id": "P2", "modality": "rna",
                                     "timepoint": "baseline"}], ["P1", "P2"], {"numpy": "2.4.6"})
    lines = compare_manifests(old, new)
    assert lines == ["patients added: P2", "samples added: S2", "inputs added: sample:S2",
                     "input changed: clinical.patients", "config models.permutations: 100 -> 200"]
    assert compare_manifests(new, new) == []
    (tmp_path / "a.json").write_text(json.dumps(old))
    (tmp_path / "b.json").write_text(json.dumps(new))
    assert main([str(tmp_path / "a.json"), str(tmp_path / "a.json")]) == 0
    assert main([str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 1


def test_parsing_the_snakefile_imports_no_heavy_package(tmp_path):
    """Building the DAG (once per job on a cluster) must not import anndata, matplotlib or scikit-learn."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory",
         str(ROOT), "--configfile", str(ROOT / "config" / "config.yaml"), "--dry-run", "--quiet", "all"],
        capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert not imported & {"anndata", "matplotlib", "sklearn", "mudata", "pydeseq2", "sksurv", "gseapy"}
