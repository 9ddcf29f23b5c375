"""Checks of the values inside the data files, beyond what the readers check on their own.

The readers refuse what no file of their format can hold (text in a number column, non-finite
values, fractional or negative counts, mangled gene symbols). The checks here need the config:
the plausible range of each modality's values (``plausible_ranges``), and which sample of the
sample sheet claims which MAF barcode.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from trialomics.errors import InputProblem
from trialomics.readers import PROTEIN_LONG_COLUMNS


@dataclass(frozen=True)
class PlausibleRange:
    """Values of one modality outside [low, high] are errors; ``what`` names them in messages."""

    low: float
    high: float
    what: str
    low_key: str | None
    high_key: str


def plausible_range(modality: str, config: dict) -> PlausibleRange | None:
    """The plausible range of a modality's values under this config (None: not range-checked).

    Mutations are text, and copy-number calls are checked to be -2..2 elsewhere.
    """
    ranges = config.get("plausible_ranges") if isinstance(config.get("plausible_ranges"), dict) else {}
    section = config.get(modality) if isinstance(config.get(modality), dict) else {}
    if modality == "rna":
        return PlausibleRange(0, ranges.get("rna_count_max", np.inf), "read count", None,
                              "plausible_ranges.rna_count_max")
    if modality == "proteins" and section.get("scale") == "log2":
        return PlausibleRange(ranges.get("protein_log2_min", -np.inf), ranges.get("protein_log2_max", np.inf),
                              "log2 protein value", "plausible_ranges.protein_log2_min",
                              "plausible_ranges.protein_log2_max")
    if modality == "proteins":
        return PlausibleRange(0, ranges.get("protein_raw_max", np.inf), "raw protein intensity", None,
                              "plausible_ranges.protein_raw_max")
    if modality == "copy_number" and section.get("values") != "calls":
        return PlausibleRange(ranges.get("copy_number_log2_min", -np.inf),
                              ranges.get("copy_number_log2_max", np.inf), "copy-number log2 ratio",
                              "plausible_ranges.copy_number_log2_min", "plausible_ranges.copy_number_log2_max")
    return None


def line_of(path: Path, *fields: str) -> int | None:
    """The 1-based number of the first line of ``path`` holding all ``fields`` as tab-separated cells."""
    wanted = set(fields)
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if wanted <= {cell.strip() for cell in line.rstrip("\r\n").split("\t")}:
                return number
    return None


def implausible_value(path: Path, values: pd.DataFrame, bounds: PlausibleRange,
                      layout: str = "matrix") -> InputProblem | None:
    """The first value of a features x samples frame outside ``bounds``, as a problem, or None.

    ``layout`` says how to find the line and column in the file: ``matrix`` (a row per feature, a
    column per sample), ``headerless`` (a row per feature, one unnamed count column: htseq-count,
    STAR) or ``long`` (Olink-style, a row per sample and assay, values in ``NPX``).
    """
    numbers = values.to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        bad = np.isfinite(numbers) & ((numbers < bounds.low) | (numbers > bounds.high))
    rows, columns = bad.nonzero()
    if not len(rows):
        return None
    feature, sample = str(values.index[rows[0]]), str(values.columns[columns[0]])
    value = numbers[rows[0], columns[0]]
    more = f" (and {len(rows) - 1} more value(s) like it)" if len(rows) > 1 else ""
    too_low = value < bounds.low
    limit_key = bounds.low_key if too_low else bounds.high_key
    if too_low and limit_key is None:
        fix = f"a {bounds.what} cannot be negative: correct the value, or leave it empty when unknown"
    else:
        fix = (f"correct the value (leave it empty when unknown); if it is real, "
               f"{'lower' if too_low else 'raise'} {limit_key}")
    side = f"below {bounds.low:g}" if too_low else f"above {bounds.high:g}"
    message = (f"{bounds.what} {value:g} of '{feature}' in sample '{sample}' is {side}, outside the "
               f"plausible range{more}")
    if layout == "long":
        return InputProblem(path, message, row=line_of(path, sample, feature), column="NPX", fix=fix)
    return InputProblem(path, message, row=line_of(path, feature),
                        column=sample if layout == "matrix" else None, fix=fix)


def is_long_protein_table(path: Path) -> bool:
    """Whether the first line of ``path`` names the Olink long-format columns."""
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        header = {cell.strip() for cell in handle.readline().rstrip("\r\n").split("\t")}
    return set(PROTEIN_LONG_COLUMNS) <= header


@dataclass(frozen=True)
class MafUse:
    """One sample sheet row that reads a MAF: its line, sample and barcode (``""``: the whole file)."""

    line: int
    sample: str
    barcode: str


def maf_barcode_problems(display: str, barcodes: pd.Series, uses: list[MafUse],
                         owners: dict[str, tuple[str, int]]) -> tuple[list[tuple[int, str, str]], list[str]]:
    """Check that every row of one MAF goes to the sample it belongs to.

    Parameters
    ----------
    display
        The MAF as the user wrote it.
    barcodes
        Its ``Tumor_Sample_Barcode`` column.
    uses
        The sample sheet rows reading this MAF.
    owners
        Every barcode or sample ID a mutation sample of the sheet claims -> (sample, sheet line).

    Returns
    -------
    (problems, warnings): a problem is (sheet line, message, fix) for a file read whole by a sample
    although its barcode belongs to another sample; a warning names rows of barcodes no sample
    reads (they are not used, and not credited to anyone).
    """
    problems, warnings = [], []
    present = barcodes[barcodes != ""].unique()
    for use in uses:
        if use.barcode or len(present) != 1:
            continue
        owner = owners.get(str(present[0]))
        if owner is not None and owner[0] != use.sample:
            problems.append((use.line, f"{display} holds the rows of barcode '{present[0]}', which is "
                                       f"sample '{owner[0]}' (line {owner[1]}), not '{use.sample}'",
                             "correct the path, or set `column` to this sample's barcode"))
    if any(not use.barcode for use in uses):
        return problems, warnings
    claimed = {use.barcode for use in uses}
    unclaimed = barcodes[~barcodes.isin(claimed)]
    if len(unclaimed):
        names = sorted(set(unclaimed))
        shown = ", ".join(f"'{name}'" for name in names[:5]) + (", ..." if len(names) > 5 else "")
        warnings.append(f"{display}: {len(unclaimed)} row(s) with barcode(s) {shown} belong to no sample "
                        "of the sample sheet and are not used — add those samples to the sheet if they "
                        "belong to the trial")
    return problems, warnings
