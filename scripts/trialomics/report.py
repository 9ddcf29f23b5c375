"""What the summary page is built from: the stage outputs it reads and the provenance of the run.

:func:`read_summary_inputs` sorts rule outputs (paths under ``results/``, recognised by the output
contract) into :class:`SummaryInputs`; the provenance helpers give input checksums, software versions,
the date (``SOURCE_DATE_EPOCH`` when set, so a rebuild can be byte-identical) and the command to
reproduce. The page itself is built by :func:`trialomics.report_page.build_summary_page`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath

import pandas as pd

from .longitudinal import change_block_name
from .tables import read_tsv

# Distributions whose versions the provenance lists (importlib.metadata names).
SOFTWARE = ("trialomics", "snakemake", "pandas", "numpy", "scipy", "anndata", "mudata", "scanpy", "scikit-learn",
            "statsmodels", "pydeseq2", "gseapy", "lifelines", "scikit-survival", "numba", "inmoose",
            "matplotlib")


# ----------------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Table:
    """A rule output table: its path relative to the results directory and its content."""

    path: str
    frame: pd.DataFrame


@dataclass(frozen=True)
class Figure:
    """A rule output PNG: its path relative to the results directory and its bytes."""

    path: str
    png: bytes

    @property
    def name(self) -> str:
        """The figure's kind: the last dot-separated part of the file name before ``.png``."""
        return PurePosixPath(self.path).stem.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Provenance:
    """How the results were made: config, input checksums, software, seed, date and command."""

    config: dict
    checksums: pd.DataFrame
    versions: dict
    seed: int | None
    date: str
    command: str


@dataclass
class SummaryInputs:
    """Everything the page shows; every part may be missing (``None`` or empty)."""

    coverage: Table | None = None
    # Each modality's batch tested against every endpoint (qc/batch_association.tsv).
    batch_association: Table | None = None
    labels: Table | None = None
    outliers: dict[str, Table] = field(default_factory=dict)
    qc_figures: dict[str, list[Figure]] = field(default_factory=dict)
    efficacy: Table | None = None
    adverse_events: Table | None = None
    clinical_figures: list[Figure] = field(default_factory=list)
    differential: dict[tuple[str, str], Table] = field(default_factory=dict)
    differential_figures: dict[tuple[str, str], list[Figure]] = field(default_factory=dict)
    enrichment: dict[tuple[str, str], Table] = field(default_factory=dict)
    enrichment_figures: dict[tuple[str, str], list[Figure]] = field(default_factory=dict)
    survival: dict[tuple[str, str], Table] = field(default_factory=dict)
    # On-treatment change blocks (``rna_change``...): response tests of the change and paired plots.
    longitudinal: dict[tuple[str, str], Table] = field(default_factory=dict)
    longitudinal_figures: dict[tuple[str, str], list[Figure]] = field(default_factory=dict)
    performance: dict[str, Table] = field(default_factory=dict)
    stability: dict[str, Table] = field(default_factory=dict)
    stability_summary: dict[str, Table] = field(default_factory=dict)
    model_figures: dict[str, list[Figure]] = field(default_factory=dict)
    ranked: Table | None = None
    recovery: Table | None = None
    # Per tier, the share of whole-chain null permutations reaching it (when the ranking provides it).
    tier_null_rates: Table | None = None
    cards: dict[int, Figure] = field(default_factory=dict)
    provenance: Provenance | None = None
    # The headline's dot plot of the top signals per endpoint (made by the summary rule itself).
    headline_figure: Figure | None = None


def results_relative(path: str | os.PathLike, results_dir: str = "results") -> str:
    """``path`` relative to the results directory, with ``/`` separators (how the page names outputs)."""
    parts = PurePosixPath(Path(path).as_posix()).parts
    root = PurePosixPath(Path(results_dir).as_posix()).parts
    if tuple(parts[:len(root)]) == tuple(root):
        parts = parts[len(root):]
    return "/".join(parts)


def _longest_prefix(text: str, names, suffix_required: str = ".") -> str | None:
    """The longest name such that ``text`` starts with ``name + suffix_required``."""
    matches = [n for n in names if text.startswith(f"{n}{suffix_required}")]
    return max(matches, key=len) if matches else None


def _card_rank(path: str) -> int | None:
    match = re.match(r"^(?:rank[_-]?)?0*(\d+)(?:[_.-]|$)", PurePosixPath(path).stem)
    return int(match.group(1)) if match else None


# The figures embedded in the page (by kind, the last dot-separated part of the name), chosen to keep the
# page to a few MB: every clinical figure and card, and one plot per analysis. Every other figure (QC
# correlation heatmaps, MA plots, running scores, Kaplan-Meier grids...) is in Snakemake's report.
PAGE_FIGURES = {"qc": ("pca_by_response",), "differential": ("volcano",), "enrichment": ("dots",),
                "models": ("performance",)}

# SummaryInputs fields holding one table, a dict of tables or figures, or a list of figures.
SINGLE_SLOTS = {"coverage", "batch_association", "labels", "efficacy", "adverse_events", "ranked", "recovery", "tier_null_rates"}
LIST_SLOTS = {"clinical_figures"}


def classify_output(path: str, modalities, contrasts, endpoints) -> tuple[str, object] | None:
    """Where a rule output (path under ``results/``) goes in :class:`SummaryInputs`, or None.

    Returns ``(field, key)``: ``key`` is None for a single table or a list of figures, else the dict
    key ((modality, contrast), (modality, endpoint), endpoint, modality or card rank). Files are
    recognised by the output contract's paths; ``modalities``, ``contrasts`` and ``endpoints`` are the
    configured names (contrast ids may contain dots, so they are matched by name, not split).
    """
    if path == "biomarkers/cards":  # the cards rule writes a directory of PNGs
        return "cards", None
    parts = path.split("/")
    stage, name = parts[0], parts[-1]
    is_png, is_tsv = name.endswith(".png"), name.endswith(".tsv")
    if not (is_png or is_tsv):
        return None
    if stage == "clinical" and len(parts) == 2:
        single = {"efficacy.tsv": "efficacy", "adverse_events.tsv": "adverse_events", "labels.tsv": "labels"}
        if name in single:
            return single[name], None
        return ("clinical_figures", None) if is_png else None
    if path == "cohort/coverage.tsv":
        return "coverage", None
    if path == "qc/batch_association.tsv":
        return "batch_association", None
    if stage == "qc" and len(parts) == 3 and parts[1] in modalities:
        if name == "outliers.tsv":
            return "outliers", parts[1]
        return ("qc_figures", parts[1]) if name[:-len(".png")] in PAGE_FIGURES["qc"] else None
    if stage in ("differential", "enrichment") and len(parts) >= 3 and parts[1] in modalities:
        suffix = ".tsv" if stage == "differential" else ".prerank.tsv"
        if len(parts) == 3 and name.endswith(suffix) and name[:-len(suffix)] in contrasts:
            return stage, (parts[1], name[:-len(suffix)])
        if len(parts) == 4 and parts[2] == "plots" and is_png:
            contrast = _longest_prefix(name, contrasts)
            if contrast is not None and name[len(contrast) + 1:-len(".png")] in PAGE_FIGURES[stage]:
                return f"{stage}_figures", (parts[1], contrast)
        return None
    change_blocks = [change_block_name(m) for m in modalities]
    if stage == "longitudinal" and len(parts) >= 3 and parts[1] in change_blocks:
        if len(parts) == 3 and name[:-len(".tsv")] in contrasts:
            return "longitudinal", (parts[1], name[:-len(".tsv")])
        if path == f"longitudinal/{parts[1]}/plots/paired.png":
            return "longitudinal_figures", (parts[1], "paired samples")
        return None
    if stage == "survival" and len(parts) == 3 and parts[1] in [*modalities, *change_blocks, "pathways"]:
        endpoint = name[:-len(".univariate.tsv")] if name.endswith(".univariate.tsv") else None
        return ("survival", (parts[1], endpoint)) if endpoint in endpoints else None
    if stage == "models" and len(parts) >= 3 and parts[1] in endpoints:
        if len(parts) == 3 and name in ("performance.tsv", "stability.tsv", "stability_summary.tsv"):
            return name[:-len(".tsv")], parts[1]
        if parts[-2] == "plots" and is_png and name[:-len(".png")] in PAGE_FIGURES["models"]:
            return "model_figures", parts[1]
        return None
    if path == "biomarkers/ranked.tsv":
        return "ranked", None
    if path == "biomarkers/recovery.tsv":
        return "recovery", None
    if path == "biomarkers/tier_null_rates.tsv":
        return "tier_null_rates", None
    if stage == "biomarkers" and len(parts) == 3 and parts[1] == "cards" and is_png:
        rank = _card_rank(name)
        return ("cards", rank) if rank is not None else None
    return None


def read_summary_inputs(paths, modalities, contrasts, endpoints, results_dir: str = "results",
                        provenance: Provenance | None = None) -> SummaryInputs:
    """Read the stage outputs among ``paths`` (see :func:`classify_output`) into :class:`SummaryInputs`.

    A directory stands for the PNG files in it. Files are read in path order, so figure lists are in a
    stable order; other files are ignored.
    """
    inputs = SummaryInputs(provenance=provenance)
    files = set()
    for path in map(Path, paths):
        files.update(sorted(path.glob("*.png")) if path.is_dir() else [path])
    for path in sorted(str(p) for p in files):
        rel = results_relative(path, results_dir)
        slot = classify_output(rel, modalities, contrasts, endpoints)
        if slot is None:
            continue
        name, key = slot
        content = Table(rel, read_tsv(path)) if rel.endswith(".tsv") else Figure(rel, Path(path).read_bytes())
        if name in SINGLE_SLOTS:
            setattr(inputs, name, content)
        elif name in LIST_SLOTS:
            getattr(inputs, name).append(content)
        elif name.endswith("_figures"):  # dicts of figure lists (clinical_figures is a list slot)
            getattr(inputs, name).setdefault(key, []).append(content)
        else:
            getattr(inputs, name)[key] = content
    return inputs


# ------------------------------------------------------------------------------- provenance


def sha256_of_file(path: str | os.PathLike) -> str:
    """The SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def display_path(path: str | os.PathLike, working_dir: str | os.PathLike) -> str:
    """``path`` relative to the working directory (``/`` separators), so the page holds no absolute path."""
    absolute = Path(path) if Path(path).is_absolute() else Path(working_dir) / path
    return Path(os.path.relpath(os.path.normpath(absolute), os.path.normpath(working_dir))).as_posix()


def checksum_table(paths, working_dir: str | os.PathLike) -> pd.DataFrame:
    """``path`` (relative to the working directory), ``bytes`` and ``sha256`` of each distinct file."""
    rows = {}
    for path in paths:
        shown = display_path(path, working_dir)
        if shown not in rows:
            absolute = Path(path) if Path(path).is_absolute() else Path(working_dir) / path
            rows[shown] = {"path": shown, "bytes": absolute.stat().st_size, "sha256": sha256_of_file(absolute)}
    return pd.DataFrame([rows[k] for k in sorted(rows)], columns=["path", "bytes", "sha256"])


def software_versions(distributions=SOFTWARE) -> dict[str, str]:
    """``python`` and each distribution's installed version ("not installed" when absent)."""
    import platform

    versions = {"python": platform.python_version()}
    for name in distributions:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def report_date(environ) -> str:
    """The page's date (ISO, UTC): from ``SOURCE_DATE_EPOCH`` when set (reproducible builds), else today."""
    epoch = environ.get("SOURCE_DATE_EPOCH", "")
    moment = (dt.datetime.fromtimestamp(int(epoch), tz=dt.timezone.utc) if epoch.strip()
              else dt.datetime.now(tz=dt.timezone.utc))
    return moment.date().isoformat()


def display_config(config, working_dir: str | os.PathLike):
    """A copy of ``config`` with every absolute path that exists shown relative to the working directory."""
    if isinstance(config, dict):
        return {key: display_config(value, working_dir) for key, value in config.items()}
    if isinstance(config, (list, tuple)):
        return [display_config(value, working_dir) for value in config]
    if isinstance(config, str) and os.path.isabs(config) and os.path.exists(config):
        return display_path(config, working_dir)
    return config


def reproduce_command(snakefile: str, configfiles=(), cores: str = "all") -> str:
    """The command that reruns the workflow from the working directory."""
    words = ["snakemake", "--snakefile", snakefile]
    for configfile in configfiles:
        words += ["--configfile", configfile]
    words += ["--cores", str(cores)]
    return " ".join(_shell_quote(w) for w in words)


def _shell_quote(word: str) -> str:
    return word if re.fullmatch(r"[A-Za-z0-9_./:=@%+-]+", word) else "'" + word.replace("'", "'\"'\"'") + "'"


