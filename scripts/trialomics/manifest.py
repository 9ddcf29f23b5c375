"""What a run saw: input checksums, the config, software versions and the patients it includes.

Every run writes ``results/manifest/manifest.json`` (with ``inputs.tsv`` and ``patients.tsv`` for a
reviewer), so that two result folders can be compared and a reader knows which patients a result
includes. ``trialomics-manifest-diff A B`` (or ``python -m trialomics.manifest A B``) says what changed
between two manifests; it exits 0 when nothing did and 1 otherwise.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

from . import __version__

#: Distributions whose versions a manifest records (besides Python and trialomics).
RECORDED_PACKAGES = ("snakemake", "numpy", "pandas", "scipy", "anndata", "mudata", "scikit-learn",
                     "scikit-survival", "numba", "lifelines", "pydeseq2", "inmoose", "gseapy",
                     "statsmodels", "matplotlib")
MANIFEST_FORMAT = 1


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def git_commit(folder: str | Path) -> str:
    """The commit of the checkout holding ``folder`` ("" when it is not a git checkout or git is absent)."""
    try:
        done = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def software_versions(packages: Iterable[str] = RECORDED_PACKAGES) -> dict[str, str]:
    versions = {"python": sys.version.split()[0], "trialomics": __version__}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def build_manifest(config: Mapping, inputs: Mapping[str, str | Path], samples: Iterable[Mapping],
                   patients: Iterable[str], versions: Mapping[str, str], commit: str = "") -> dict:
    """The manifest as a JSON-ready dict.

    ``inputs`` maps what each input is (``clinical.patients``, ``sample:<id>``, ...) to its path; the
    manifest keeps the role, the SHA-256 and the size, never the location, so that runs from different
    folders compare. ``samples`` are rows with sample_id, patient_id, modality, timepoint.
    """
    digests: dict[str, str] = {}
    rows = []
    for role in sorted(inputs):
        path = str(inputs[role])
        if path not in digests:
            digests[path] = sha256_file(path)
        rows.append({"input": role, "sha256": digests[path], "bytes": Path(path).stat().st_size})
    inputs = rows
    sample_rows = sorted(({key: str(row[key]) for key in ("sample_id", "patient_id", "modality", "timepoint")}
                          for row in samples), key=lambda row: (row["modality"], row["sample_id"]))
    return {"format": MANIFEST_FORMAT, "workflow": {"version": __version__, "commit": commit},
            "software": dict(sorted(versions.items())), "config": json.loads(json.dumps(config, default=str)),
            "patients": sorted({str(p) for p in patients}), "samples": sample_rows, "inputs": inputs}


def _flatten(value, prefix: str = "") -> dict[str, object]:
    if isinstance(value, Mapping):
        out: dict[str, object] = {}
        for key in sorted(value):
            out.update(_flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _set_change(what: str, old: Iterable[str], new: Iterable[str]) -> list[str]:
    old, new = set(old), set(new)
    lines = []
    if new - old:
        lines.append(f"{what} added: {', '.join(sorted(new - old))}")
    if old - new:
        lines.append(f"{what} removed: {', '.join(sorted(old - new))}")
    return lines


def compare_manifests(old: Mapping, new: Mapping) -> list[str]:
    """One line per difference between two manifests, in a fixed order; empty when they agree."""
    lines = _set_change("patients", old.get("patients", []), new.get("patients", []))
    old_samples = {row["sample_id"]: row for row in old.get("samples", [])}
    new_samples = {row["sample_id"]: row for row in new.get("samples", [])}
    lines += _set_change("samples", old_samples, new_samples)
    for sample in sorted(set(old_samples) & set(new_samples)):
        if old_samples[sample] != new_samples[sample]:
            lines.append(f"sample {sample} changed: {old_samples[sample]} -> {new_samples[sample]}")
    old_inputs = {row["input"]: row["sha256"] for row in old.get("inputs", [])}
    new_inputs = {row["input"]: row["sha256"] for row in new.get("inputs", [])}
    lines += _set_change("inputs", old_inputs, new_inputs)
    lines += [f"input changed: {role}" for role in sorted(set(old_inputs) & set(new_inputs))
              if old_inputs[role] != new_inputs[role]]
    for section in ("config", "software", "workflow"):
        before, after = _flatten(old.get(section, {})), _flatten(new.get(section, {}))
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                lines.append(f"{section} {key}: {json.dumps(before.get(key), default=str)} -> "
                             f"{json.dumps(after.get(key), default=str)}")
    return lines


def read_manifest(path: str | Path) -> dict:
    """A manifest file, or the one inside a working directory or a results folder given instead."""
    path = Path(path)
    for candidate in (path, path / "manifest" / "manifest.json", path / "results" / "manifest" / "manifest.json"):
        if candidate.is_file():
            return json.loads(candidate.read_text(encoding="utf-8"))
    raise FileNotFoundError(f"{path}: no manifest.json there (expected results/manifest/manifest.json)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trialomics-manifest-diff",
                                     description="Say what changed between two trialomics runs.")
    parser.add_argument("old", help="manifest.json, a results folder or a working directory")
    parser.add_argument("new", help="manifest.json, a results folder or a working directory")
    args = parser.parse_args(argv)
    try:
        old, new = read_manifest(args.old), read_manifest(args.new)
    except (OSError, ValueError) as problem:
        print(f"trialomics-manifest-diff: {problem}", file=sys.stderr)
        return 2
    lines = compare_manifests(old, new)
    print("\n".join(lines) if lines else "no differences: same patients, inputs, config and software")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
