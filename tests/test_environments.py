"""The conda environments used on clusters pin the same versions as the pip install used here."""
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from the PyPI distribution names in requirements.txt
CONDA_TO_PYPI = {"matplotlib-base": "matplotlib"}


def pinned_requirements() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def env_pins(path: Path) -> dict[str, str]:
    pins = {}
    for dep in yaml.safe_load(path.read_text())["dependencies"]:
        specs = dep["pip"] if isinstance(dep, dict) else [dep]
        for spec in specs:
            if "==" in spec:
                name, version = spec.split("==")
                pins[CONDA_TO_PYPI.get(name.lower(), name.lower())] = version
    return pins


ENV_FILES = sorted((ROOT / "envs").glob("*.yaml"))


def test_every_rule_group_has_an_environment():
    assert {p.stem for p in ENV_FILES} >= {"core", "rna", "proteins", "clinical", "enrichment", "models"}


@pytest.mark.parametrize("env_file", ENV_FILES, ids=lambda p: p.name)
def test_environment_pins_match_requirements(env_file):
    requirements = pinned_requirements()
    pins = env_pins(env_file)
    assert pins, f"{env_file.name} pins nothing"
    for name, version in pins.items():
        assert name in requirements, f"{env_file.name}: {name} is not in requirements.txt"
        assert version == requirements[name], (
            f"{env_file.name}: {name}=={version} but requirements.txt pins {requirements[name]}")


@pytest.mark.parametrize("env_file", ENV_FILES, ids=lambda p: p.name)
def test_environment_python_matches(env_file):
    deps = yaml.safe_load(env_file.read_text())["dependencies"]
    assert "python=3.11" in deps


def test_requirements_agree_with_constraints():
    constraints = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line:
            name, version = line.strip().split("==")
            constraints[name.lower().replace("_", "-")] = version
    for name, version in pinned_requirements().items():
        assert constraints.get(name) == version, f"{name}: requirements {version}, constraints {constraints.get(name)}"


def test_every_rule_uses_an_existing_environment():
    rules_dir = ROOT / "workflow" / "rules"
    checked = 0
    for smk in rules_dir.glob("*.smk"):
        lines = [line.strip() for line in smk.read_text().splitlines()]
        for i, line in enumerate(lines):
            if line.startswith("conda:"):
                value = line.split(":", 1)[1].strip() or lines[i + 1]
                rel = value.strip('"').strip("'")
                assert (rules_dir / rel).resolve().is_file(), f"{smk.name}: {rel} does not exist"
                checked += 1
    assert checked >= 10
