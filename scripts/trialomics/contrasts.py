"""Contrasts and the designs they share: what building the workflow's DAG needs, without numpy or anndata.

Snakemake imports this module when it parses the Snakefile (once per job on a cluster), so it holds
only the plain description of a contrast; the statistics live in :mod:`trialomics.differential`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: The sample sheet column a longitudinal contrast compares (or selects samples by).
TIMEPOINT_COLUMN = "timepoint"


@dataclass(frozen=True)
class Contrast:
    """One configured comparison: ``target`` vs ``reference`` levels of ``variable``.

    ``batch`` is ``""`` (no blocking), or the obs column holding the batch (``"batch"`` for the
    sample sheet's batch of the modality). ``pair_by`` is ``""`` or ``"patient"``: a paired design
    with the patient as a blocking factor (``~ patient + ... + variable``), for comparing a
    patient's samples at two timepoints. ``samples`` restricts the contrast to samples whose column
    (of the sample sheet or patients.tsv) takes one of the listed levels, as ``((column, levels),
    ...)`` sorted by column.
    """

    id: str
    variable: str
    reference: str
    target: str
    covariates: tuple[str, ...] = ()
    batch: str = ""
    pair_by: str = ""
    samples: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def from_config(cls, entry: Mapping) -> "Contrast":
        """Build from one ``contrasts:`` entry of config.yaml.

        ``batch: true`` means the sample sheet's batch column; a string names another obs column;
        ``false``, empty or absent means no batch term.
        """
        batch = entry.get("batch", False)
        if batch is True:
            batch = "batch"
        elif batch in (False, None):
            batch = ""
        subset = entry.get("samples") or {}
        return cls(id=str(entry["id"]), variable=str(entry["variable"]),
                   reference=str(entry["reference"]), target=str(entry["target"]),
                   covariates=tuple(str(c) for c in (entry.get("covariates") or ())),
                   batch=str(batch), pair_by=str(entry.get("pair_by") or ""),
                   samples=tuple((str(column), tuple(str(level) for level in subset[column]))
                                 for column in sorted(subset)))

    @property
    def uses_timepoints(self) -> bool:
        """Whether the contrast compares or selects samples by timepoint (so it needs every timepoint)."""
        return self.variable == TIMEPOINT_COLUMN or any(c == TIMEPOINT_COLUMN for c, _ in self.samples)

    def describe(self) -> str:
        """``variable: target vs reference`` with its adjustment terms, for logs and captions."""
        extra = list(self.covariates) + ([f"batch ({self.batch})"] if self.batch else [])
        extra += [f"{self.pair_by} (paired)"] if self.pair_by else []
        adjusted = f", adjusted for {', '.join(extra)}" if extra else ""
        subset = "".join(f"; {column} in {', '.join(levels)}" for column, levels in self.samples)
        return f"{self.variable}: {self.target} vs {self.reference}{adjusted}{subset}"


def design_key(contrast: Contrast) -> tuple:
    """What determines a model fit: the variable, its reference level, covariates, batch, pairing and
    sample subset.

    Contrasts with the same key share one fit (for example several ``bor`` levels against ``PD``);
    the reference is part of the key because apeGLM shrinks one coefficient of the fitted model,
    which exists only for levels compared with the fit's reference level.
    """
    return (contrast.variable, contrast.reference, tuple(sorted(contrast.covariates)), contrast.batch,
            contrast.pair_by, contrast.samples)


def group_contrasts_by_design(contrasts: Sequence[Contrast]) -> dict[str, list[str]]:
    """Map a design id (the id of the first contrast with that design) to its contrasts' ids."""
    designs: dict[tuple, list[str]] = {}
    for contrast in contrasts:
        designs.setdefault(design_key(contrast), []).append(contrast.id)
    return {ids[0]: ids for ids in designs.values()}
