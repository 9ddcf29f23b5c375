"""Validate the inputs once per input state, not at every parse of the Snakefile.

Snakemake parses the Snakefile in the main process and again in every job (twice per job under
SLURM: the batch step and the inner ``srun`` step). Validation reads every input table and sample
file, which takes seconds, so its outcome is kept in ``.snakemake/trialomics/validation/`` under a
key made of the config as given, the package version and the schemas. A cached outcome is used only
while every file it read keeps the size and modification time recorded with it (as make and
Snakemake's own ``mtime`` trigger decide); any change revalidates. The cache holds data only (JSON),
never code, and is written atomically, so concurrent jobs at worst validate twice.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from . import __version__

CACHE_FOLDER = Path(".snakemake") / "trialomics" / "validation"


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def cache_key(config: dict, schema_dir: Path, workdir: Path, config_files=()) -> str:
    """Hash of what validation's outcome depends on, apart from the files it reads.

    The config files' raw text counts too: validation checks it (YTE templating), not only the parsed
    config, so an edit there revalidates even when the parsed config is the same.
    """
    digest = hashlib.sha256()
    digest.update(_canonical({"config": config, "version": __version__, "workdir": str(workdir)}).encode())
    for config_file in config_files:
        digest.update(str(config_file).encode())
        try:
            digest.update(Path(config_file).read_bytes())
        except OSError:
            digest.update(b"<unreadable>")
    for schema in sorted(Path(schema_dir).glob("*.yaml")):
        digest.update(schema.name.encode())
        digest.update(schema.read_bytes())
    return digest.hexdigest()[:32]


def _file_state(path: Path) -> list[int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


def files_read(config: dict, validated, workdir: Path) -> list[Path]:
    """Every existing file that validation may have read: paths named in the config and every sample file."""
    found: set[Path] = set()

    def walk(value):
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and value:
            candidate = Path(value) if Path(value).is_absolute() else workdir / value
            if candidate.is_file():
                found.add(candidate.resolve())

    walk(config)
    found.update(Path(p).resolve() for p in validated.samples["path"])
    return sorted(found)


def _to_json(validated) -> dict:
    out = {}
    for spec in dataclasses.fields(validated):
        value = getattr(validated, spec.name)
        if isinstance(value, pd.DataFrame):
            out[spec.name] = {"frame": {"columns": list(value.columns), "index": list(value.index),
                                        "rows": value.astype(object).where(value.notna(), None).values.tolist()}}
        elif isinstance(value, (set, frozenset)):
            out[spec.name] = {"set": sorted(value, key=str)}
        else:
            out[spec.name] = {"value": value}
    return out


def _from_json(stored: dict):
    from .validation import ValidatedInputs

    values = {}
    for name, entry in stored.items():
        if "frame" in entry:
            frame = entry["frame"]
            values[name] = pd.DataFrame(frame["rows"], columns=frame["columns"], index=frame["index"])
        elif "set" in entry:
            values[name] = frozenset(entry["set"])
        else:
            values[name] = entry["value"]
    return ValidatedInputs(**values)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def validate_once(config: dict, schema_dir: Path, workdir: Path, validate: Callable | None = None,
                  config_files=()) -> tuple:
    """``validate_inputs`` with its outcome cached per input state; returns (ValidatedInputs, from_cache).

    Like ``validate_inputs``, fills the schema defaults into ``config`` in place (on a cache hit, from
    the filled config stored with the outcome). Failures are never cached: a broken input is
    reported again at every parse until it is fixed.
    """
    workdir = Path(workdir).resolve()
    config_files = [str(path) for path in config_files]
    key = cache_key(config, schema_dir, workdir, config_files)
    path = workdir / CACHE_FOLDER / f"{key}.json"
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        fresh = all(_file_state(Path(name)) == state for name, state in stored["files"].items())
    except (OSError, ValueError, KeyError, TypeError):
        stored, fresh = None, False
    if fresh:
        config.clear()
        config.update(copy.deepcopy(stored["config"]))
        return _from_json(stored["outcome"]), True
    if validate is None:
        from .validation import validate_inputs as validate
    validated = validate(config, schema_dir, workdir, config_files=config_files)
    record = {"files": {str(p): _file_state(p) for p in files_read(config, validated, workdir)},
              "config": config, "outcome": _to_json(validated)}
    try:
        # Key order kept: Snakemake compares rule params as written, so a config restored with sorted
        # keys would make every rule with a dict param rerun on the first cache hit.
        _write_atomically(path, json.dumps(record, default=str))
    except OSError:
        pass  # a read-only working directory only loses the cache, never the run
    return validated, False
