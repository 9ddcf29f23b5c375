"""Protein abundances as Olink software, MaxQuant and DIA-NN write them.

Every reader returns proteins x samples (floats, NaN when missing) in the order of the file:
Olink NPX (log2 scale) per ``Assay``; MaxQuant LFQ/iBAQ and DIA-NN MaxLFQ intensities (raw scale,
0 = not quantified = NaN) per gene.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from trialomics.errors import InputProblem
from trialomics.text_tables import SampleColumnProblem
from trialomics.upstream import (
    DIANN_PG_MATRIX,
    MAXQUANT_PROTEIN_GROUPS,
    OLINK_NPX,
    OLINK_PARQUET,
    file_separator,
    first_of_list,
    parse_numbers,
    read_delimited,
    require_columns,
    select_sample,
    wrong_modality,
)

#: How values flagged by Olink QC are treated: ``missing`` (default) or ``keep``.
OLINK_QC_RULES = ("missing", "keep")
#: How NPX values below the limit of detection are treated: ``keep`` (default: Olink advises using
#: them as measured), ``missing``, or ``lod`` (replaced by the LOD).
OLINK_LOD_RULES = ("keep", "missing", "lod")
#: Plate normalisation: ``none`` (default; Olink software already normalises within a project) or
#: ``plate_median`` (each assay's plate medians moved to its overall median).
OLINK_PLATE_RULES = ("none", "plate_median")

# Olink QC columns; any value other than a pass ("PASS", "Pass", empty, NA) flags the value.
_OLINK_QC_COLUMNS = ("QC_Warning", "SampleQC", "AssayQC", "Assay_Warning")
_OLINK_PASS = frozenset({"", "PASS", "NA"})
# Olink LOD columns, in order of preference (Target 96 writes LOD; Explore exports MaxLOD/PlateLOD).
_OLINK_LOD_COLUMNS = ("LOD", "MaxLOD", "PlateLOD")
# Without a SampleType column (Target 96), control samples are recognised by their SampleID.
_OLINK_CONTROL_SAMPLE = re.compile(r"control|^ipc\b|^ipc[_ -]", re.IGNORECASE)

_MAXQUANT_FLAGS = ("Reverse", "Potential contaminant", "Contaminant", "Only identified by site")
_MAXQUANT_PREFIXES = ("LFQ intensity ", "iBAQ ")
_DIANN_ANNOTATION = frozenset({"Protein.Group", "Protein.Ids", "Protein.Names", "Genes",
                               "First.Protein.Description", "N.Sequences", "N.Proteotypic.Sequences"})
# Contaminant and decoy accessions: MaxQuant's CON__/REV__, FragPipe's contam_/rev_, DIA-NN's Cont_.
_NOT_SAMPLE_PROTEIN = re.compile(r"^(CON__|REV__|contam_|rev_|Cont_|DECOY)")
_RUN_EXTENSIONS = re.compile(r"\.(raw|d|mzML|mzml|wiff|wiff2|dia)$")


def read_proteins(path: str | os.PathLike, file_format: str, column: str | None = None,
                  qc: str = "missing", lod: str = "keep", plate: str = "none") -> pd.DataFrame:
    """Proteins x samples from an Olink, MaxQuant or DIA-NN file; with ``column``, that sample only.

    ``qc``, ``lod`` and ``plate`` are the Olink rules (see :func:`read_olink`).
    """
    path = Path(path)
    if file_format == OLINK_NPX:
        matrix = read_olink(path, qc=qc, lod=lod, plate=plate)
    elif file_format == OLINK_PARQUET:
        raise InputProblem(path, "this is a parquet file; reading it needs pyarrow, which the workflow "
                                 "does not install", fix="export the NPX data from Olink software as CSV")
    elif file_format == MAXQUANT_PROTEIN_GROUPS:
        matrix = read_maxquant(path)
    elif file_format == DIANN_PG_MATRIX:
        matrix = read_diann(path)
    else:
        raise wrong_modality(path, file_format, "proteins")
    if column and file_format == OLINK_NPX and column not in matrix.columns:
        shown = ", ".join(map(str, matrix.columns[:8])) + (", ..." if matrix.shape[1] > 8 else "")
        raise SampleColumnProblem(path, f"there is no SampleID '{column}'; the SampleIDs are {shown}",
                                  row=1, column="SampleID",
                                  fix="correct `column` in the sample sheet to one of these SampleIDs")
    return select_sample(path, matrix, column)


# --------------------------------------------------------------------------------------------
# Olink
# --------------------------------------------------------------------------------------------

def read_olink(path: Path, qc: str = "missing", lod: str = "keep", plate: str = "none") -> pd.DataFrame:
    """Assays x samples of NPX from an Olink export (Explore or Target 96, ``;``- or tab-separated).

    Rules, in order:

    1. Control samples are dropped: rows whose ``SampleType`` is not ``SAMPLE`` (Explore), or without
       that column, whose ``SampleID`` contains "control" or starts with "IPC" (Target 96).
    2. Control assays are dropped: ``AssayType`` other than ``assay`` (Explore), or an ``Assay``
       name containing "control".
    3. ``qc="missing"``: an NPX flagged by any QC column (``QC_Warning``, ``SampleQC``, ``AssayQC``,
       ``Assay_Warning``; anything but PASS) becomes missing; ``qc="keep"`` keeps it.
    4. Below the LOD (``LOD``, else ``MaxLOD``, else ``PlateLOD``): ``keep`` as measured, ``missing``,
       or ``lod`` (replaced by the LOD).
    5. An assay measured in several panels (several ``OlinkID`` for one ``Assay``, e.g. IL6 in all
       four Explore 3072 panels) keeps one OlinkID for every sample: the one with the fewest missing
       values after rules 3-4, then the fewest values below LOD, then the first OlinkID in
       alphabetical order.
    6. ``plate="plate_median"``: for each assay, each ``PlateID``'s median NPX is moved to the
       assay's median over all plates (intensity-median plate centring; assumes randomised plates).
    """
    for name, value, allowed in (("qc", qc, OLINK_QC_RULES), ("lod", lod, OLINK_LOD_RULES),
                                 ("plate", plate, OLINK_PLATE_RULES)):
        if value not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    cells = read_delimited(path)
    require_columns(path, cells, ("SampleID", "OlinkID", "Assay", "NPX"), "Olink NPX")
    for name in ("SampleID", "OlinkID", "Assay"):
        empty = cells[name] == ""
        if empty.any():
            raise InputProblem(path, f"the {name} is empty", row=int(empty.idxmax()), column=name,
                               fix=f"give every row a {name}, as Olink software writes it")
    cells = cells[_olink_study_rows(cells)]
    decimal_comma = file_separator(path) == ";"
    npx = parse_numbers(path, cells[["NPX"]], "an NPX value", decimal_comma=decimal_comma)["NPX"]
    lod_column = next((c for c in _OLINK_LOD_COLUMNS if c in cells.columns), None)
    if lod != "keep" and lod_column is None:
        raise InputProblem(path, f"the file has no LOD column ({', '.join(_OLINK_LOD_COLUMNS)}) for the "
                                 f"below-LOD rule '{lod}'", row=1,
                           fix="export the NPX data with LOD, or keep values below LOD as measured")
    limit = (parse_numbers(path, cells[[lod_column]], "a limit of detection", decimal_comma)[lod_column]
             if lod_column else pd.Series(np.nan, index=cells.index))
    below = npx < limit
    flagged = np.zeros(len(cells), dtype=bool)
    for name in _OLINK_QC_COLUMNS:
        if name in cells.columns:
            flagged |= ~cells[name].str.upper().isin(_OLINK_PASS).to_numpy()
    if qc == "missing":
        npx = npx.mask(flagged)
    if lod == "missing":
        npx = npx.mask(below)
    elif lod == "lod":
        npx = npx.where(~below, limit)

    long = pd.DataFrame({"sample": cells["SampleID"], "olink_id": cells["OlinkID"],
                         "assay": cells["Assay"], "npx": npx, "below": below.to_numpy(),
                         "plate": cells["PlateID"] if "PlateID" in cells.columns else ""})
    pair = long["sample"] + "\t" + long["olink_id"]
    duplicated = pair.duplicated()
    if duplicated.any():
        line = duplicated.idxmax()
        first = pair.index[pair == pair[line]][0]
        raise InputProblem(path, f"SampleID '{long.at[line, 'sample']}' has OlinkID "
                                 f"'{long.at[line, 'olink_id']}' twice (lines {first} and {line})",
                           row=int(line), column="SampleID",
                           fix="give repeated measurements of a sample distinct SampleIDs")
    long = long[long["olink_id"].isin(_one_olink_id_per_assay(long))]
    if plate == "plate_median":
        long["npx"] = _centre_plates(long)
    matrix = long.pivot(index="assay", columns="sample", values="npx")
    matrix = matrix.reindex(index=long["assay"].unique(), columns=long["sample"].unique())
    matrix.index = pd.Index(matrix.index.astype(str), name="feature", dtype=object)
    matrix.columns = pd.Index(matrix.columns.astype(str), name=None, dtype=object)
    return matrix.astype(float)


def _olink_study_rows(cells: pd.DataFrame) -> np.ndarray:
    """Rows of study samples and real assays (rules 1 and 2 of :func:`read_olink`)."""
    if "SampleType" in cells.columns:
        samples = cells["SampleType"].str.upper().isin({"SAMPLE", ""})
    else:
        samples = ~cells["SampleID"].str.contains(_OLINK_CONTROL_SAMPLE)
    if "AssayType" in cells.columns:
        assays = cells["AssayType"].str.lower().isin({"assay", ""})
    else:
        assays = ~cells["Assay"].str.contains("control", case=False)
    return (samples & assays).to_numpy()


def _one_olink_id_per_assay(long: pd.DataFrame) -> list[str]:
    """For each assay, the OlinkID kept (rule 5 of :func:`read_olink`)."""
    summary = long.groupby("olink_id", sort=False).agg(
        assay=("assay", "first"), missing=("npx", lambda v: int(v.isna().sum())),
        below=("below", "sum"))
    summary = summary.reset_index().sort_values(["assay", "missing", "below", "olink_id"], kind="stable")
    return summary.drop_duplicates("assay")["olink_id"].tolist()


def _centre_plates(long: pd.DataFrame) -> pd.Series:
    overall = long.groupby("assay")["npx"].transform("median")
    plate = long.groupby(["assay", "plate"])["npx"].transform("median")
    return long["npx"] - plate + overall


# --------------------------------------------------------------------------------------------
# MaxQuant and DIA-NN
# --------------------------------------------------------------------------------------------

def read_maxquant(path: Path) -> pd.DataFrame:
    """Genes x samples of LFQ intensities (else iBAQ) from MaxQuant's ``proteinGroups.txt``.

    Reverse hits, potential contaminants (``Potential contaminant``, ``Contaminant`` in old
    versions) and groups only identified by site (a ``+`` in those columns) are removed. Each group
    is named by the first entry of ``Gene names`` (else its first ``Majority protein IDs`` entry);
    samples are the ``LFQ intensity <sample>`` columns, else the ``iBAQ <sample>`` ones. Zero
    intensities are missing. Groups naming the same gene: see :func:`_one_group_per_gene`.
    """
    cells = read_delimited(path)
    require_columns(path, cells, ("Majority protein IDs",), "MaxQuant proteinGroups")
    prefix = next((p for p in _MAXQUANT_PREFIXES if any(c.startswith(p) for c in cells.columns)), None)
    if prefix is None:
        raise InputProblem(path, "the file has no 'LFQ intensity <sample>' or 'iBAQ <sample>' column",
                           row=1, fix="run MaxQuant with label-free quantification (LFQ) or iBAQ")
    columns = [c for c in cells.columns if c.startswith(prefix) and c != "iBAQ peptides"]
    keep = np.ones(len(cells), dtype=bool)
    for flag in _MAXQUANT_FLAGS:
        if flag in cells.columns:
            keep &= (cells[flag] != "+").to_numpy()
    cells = cells[keep]
    names = (first_of_list(cells["Gene names"]) if "Gene names" in cells.columns
             else pd.Series("", index=cells.index))
    genes = names.where(names != "", first_of_list(cells["Majority protein IDs"]))
    values = _intensities(path, cells[columns])
    values.columns = pd.Index([c[len(prefix):] for c in columns], dtype=object)
    return _one_group_per_gene(values, genes)


def read_diann(path: Path) -> pd.DataFrame:
    """Genes x samples of MaxLFQ intensities from DIA-NN's ``pg_matrix.tsv``.

    Groups holding a contaminant or decoy accession (``CON__``, ``Cont_``, ``contam_``, ``REV__``,
    ``rev_``, ``DECOY``) are removed. Each group is named by the first entry of ``Genes`` (else of
    ``Protein.Group``); each run column by its file name without folders and extension
    (``D:\\runs\\P01.raw`` -> ``P01``). Zero intensities are missing.
    """
    cells = read_delimited(path)
    runs = [c for c in cells.columns if c not in _DIANN_ANNOTATION]
    if not runs:
        raise InputProblem(path, "the header names no run column", row=1,
                           fix="give pg_matrix.tsv as DIA-NN wrote it")
    samples = [_RUN_EXTENSIONS.sub("", re.split(r"[\\/]", run)[-1]) for run in runs]
    repeated = pd.Index(samples)[pd.Index(samples).duplicated()]
    if len(repeated):
        raise InputProblem(path, f"two runs are both named '{repeated[0]}' once folders and extensions "
                                 "are dropped", row=1, column=runs[samples.index(repeated[0])],
                           fix="give each run a distinct file name")
    accessions = cells["Protein.Ids"] if "Protein.Ids" in cells.columns else cells["Protein.Group"]
    not_sample = accessions.str.split(";").apply(
        lambda ids: any(_NOT_SAMPLE_PROTEIN.match(i.strip()) for i in ids))
    cells = cells[~not_sample.to_numpy()]
    names = first_of_list(cells["Genes"])
    genes = names.where(names != "", first_of_list(cells["Protein.Group"]))
    values = _intensities(path, cells[runs])
    values.columns = pd.Index(samples, dtype=object)
    return _one_group_per_gene(values, genes)


def _intensities(path: Path, cells: pd.DataFrame) -> pd.DataFrame:
    values = parse_numbers(path, cells, "an intensity")
    negative = values < 0
    if negative.to_numpy().any():
        rows, columns = np.nonzero(negative.to_numpy())
        line, column = values.index[rows[0]], values.columns[columns[0]]
        raise InputProblem(path, f"intensity {values.at[line, column]:g} is negative", row=int(line),
                           column=str(column), fix="give the file as the tool wrote it")
    return values.mask(values == 0)


def _one_group_per_gene(values: pd.DataFrame, genes: pd.Series) -> pd.DataFrame:
    """One row per gene: of the groups naming a gene, the one quantified in the most samples, then
    with the largest summed intensity, then the first in the file."""
    ranked = pd.DataFrame({"gene": genes.to_numpy(), "quantified": values.notna().sum(axis=1).to_numpy(),
                           "total": values.sum(axis=1).to_numpy(), "order": np.arange(len(values))})
    best = (ranked.sort_values(["gene", "quantified", "total", "order"],
                               ascending=[True, False, False, True], kind="stable")
            .drop_duplicates("gene").sort_values("order"))
    kept = values.iloc[best["order"].to_numpy()]
    kept.index = pd.Index(best["gene"].astype(str).to_numpy(), name="feature", dtype=object)
    return kept.astype(float)
