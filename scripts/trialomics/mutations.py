"""Somatic mutations (MAF): tumour mutational burden and a gene x sample alteration matrix.

A mutations sample whose MAF holds no rows has no mutations: TMB 0 and no altered gene, never
missing data. Only variants passing the caller's filters count (``FILTER`` of ``PASS``, ``.`` or
empty; every row when the MAF has no ``FILTER`` column, as in GDC's masked MAFs before 2022), and,
when set, only those with a tumour VAF (``t_alt_count / t_depth``) and depth (``t_depth``) at or
above the floors. Each sample's MAF is then deduplicated, so a variant listed twice (merged caller
outputs, repeated transcripts) counts once. The TMB denominator is the capture size, one for the
cohort or one per sample (cohorts sequenced with different kits).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import anndata as ad
import numpy as np
import pandas as pd

from .cohort import sample_obs
from .sample_sheet import capture_sizes_by_sample  # noqa: F401 (re-exported)

# MAF Variant_Classification values that change the protein (the "non-silent" classes used for TMB
# by maftools and the TCGA MC3 analyses). Default of the config key mutations.variant_classes.
NONSYNONYMOUS_CLASSES = (
    "Missense_Mutation",
    "Nonsense_Mutation",
    "Nonstop_Mutation",
    "Frame_Shift_Del",
    "Frame_Shift_Ins",
    "In_Frame_Del",
    "In_Frame_Ins",
    "Splice_Site",
    "Translation_Start_Site",
)

REQUIRED_COLUMNS = ("Hugo_Symbol", "Variant_Classification")
# A variant is identified by its gene, position and alleles; used only when the MAF has positions.
VARIANT_KEY_COLUMNS = ("Hugo_Symbol", "Chromosome", "Start_Position", "End_Position",
                       "Reference_Allele", "Tumor_Seq_Allele2")
# Hugo_Symbol values that name no gene (MAF writes "Unknown" for intergenic calls).
NO_GENE_SYMBOLS = ("", "Unknown")
#: FILTER values of variants that passed (VCF: PASS; "." means no filter was applied).
PASSING_FILTERS = frozenset({"PASS", ".", ""})


def _check_variant_classes(variant_classes: Iterable[str]) -> tuple[str, ...]:
    classes = tuple(str(c).strip() for c in variant_classes)
    if not classes or any(not c for c in classes):
        raise ValueError("variant_classes must list at least one non-empty Variant_Classification")
    return classes


def deduplicate_variants(maf: pd.DataFrame) -> pd.DataFrame:
    """Drop repeated listings of one variant, keeping the first.

    When the MAF has ``Chromosome`` and ``Start_Position``, rows agreeing on every present column
    of Hugo_Symbol, Chromosome, Start_Position, End_Position, Reference_Allele and
    Tumor_Seq_Allele2 are one variant. Without positions, variants cannot be told apart from
    repeats, so nothing is dropped.
    """
    if not {"Chromosome", "Start_Position"} <= set(maf.columns):
        return maf
    key = [c for c in VARIANT_KEY_COLUMNS if c in maf.columns]
    return maf.loc[~maf[key].astype(str).apply(lambda c: c.str.strip()).duplicated()]


def _read_count(maf: pd.DataFrame, column: str, sample_id: str) -> np.ndarray:
    if column not in maf.columns:
        raise ValueError(f"MAF of sample {sample_id} has no {column} column, needed by the VAF and depth "
                         "floors (mutations.min_vaf, mutations.min_depth): remove the floors or give a MAF "
                         "with read counts")
    values = pd.to_numeric(maf[column].astype(str).str.strip(), errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        position = int(np.argmax(bad))
        raise ValueError(f"MAF of sample {sample_id}: {column} '{maf[column].iloc[position]}' of variant "
                         f"{position + 1} is not a read count")
    return values


def passing_variants(maf: pd.DataFrame, sample_id: str, min_vaf: float | None = None,
                     min_depth: int | None = None) -> pd.DataFrame:
    """The rows of one sample's MAF that pass ``FILTER`` and the optional VAF and depth floors."""
    keep = np.ones(len(maf), dtype=bool)
    if "FILTER" in maf.columns:
        keep &= maf["FILTER"].fillna("").astype(str).str.strip().isin(PASSING_FILTERS).to_numpy()
    if min_depth is not None or min_vaf is not None:
        depth = _read_count(maf, "t_depth", sample_id)
        if min_depth is not None:
            keep &= depth >= min_depth
        if min_vaf is not None:
            alt = _read_count(maf, "t_alt_count", sample_id)
            with np.errstate(invalid="ignore", divide="ignore"):
                keep &= np.where(depth > 0, alt / np.where(depth > 0, depth, 1), 0.0) >= min_vaf
    return maf.loc[keep]


def _sample_variants(mafs: Mapping[str, pd.DataFrame], variant_classes, min_vaf: float | None = None,
                     min_depth: int | None = None) -> dict[str, dict]:
    """Per sample: the passing deduplicated MAF, its non-synonymous rows, and the rows dropped."""
    classes = set(_check_variant_classes(variant_classes))
    if not mafs:
        raise ValueError("no mutations samples were given")
    by_name = {str(k): v for k, v in mafs.items()}
    out = {}
    for sample_id in sorted(by_name):
        maf = by_name[sample_id]
        if maf.empty:
            # No rows means no mutations, whichever columns an empty file happened to declare.
            maf = pd.DataFrame(columns=list(REQUIRED_COLUMNS), dtype=str)
        missing = [c for c in REQUIRED_COLUMNS if c not in maf.columns]
        if missing:
            raise ValueError(f"MAF of sample {sample_id} lacks column(s): {', '.join(missing)}")
        passing = passing_variants(maf, sample_id, min_vaf, min_depth)
        unique = deduplicate_variants(passing)
        selected = unique["Variant_Classification"].astype(str).str.strip().isin(classes)
        out[sample_id] = {
            "variants": unique,
            "nonsynonymous": unique.loc[selected.to_numpy()],
            "filtered_rows": len(maf) - len(passing),
            "duplicate_rows": len(passing) - len(unique),
        }
    return out


def _capture_sizes(capture_size_mb: float | Mapping[str, float], samples: list[str]) -> np.ndarray:
    """The capture size of each sample, from one size for all or a sample_id -> Mb mapping."""
    if isinstance(capture_size_mb, Mapping):
        missing = [s for s in samples if s not in capture_size_mb]
        if missing:
            raise ValueError(f"capture_size_mb has no size for sample(s) {', '.join(missing)}")
        sizes = np.array([float(capture_size_mb[s]) for s in samples], dtype=float)
    else:
        sizes = np.full(len(samples), float(capture_size_mb))
    if not (sizes > 0).all():
        raise ValueError(f"capture_size_mb must be positive, got {capture_size_mb}")
    return sizes


def tumour_mutational_burden(mafs: Mapping[str, pd.DataFrame], sample_meta: pd.DataFrame,
                             capture_size_mb: float | Mapping[str, float],
                             variant_classes: Iterable[str] = NONSYNONYMOUS_CLASSES,
                             min_vaf: float | None = None, min_depth: int | None = None) -> pd.DataFrame:
    """Non-synonymous variants per megabase of captured sequence, one row per mutations sample.

    Columns: patient_id, sample_id, nonsynonymous_count, tmb_per_mb (= nonsynonymous_count /
    capture_size_mb), total_variants (distinct passing variants of any class), duplicate_rows
    (repeated listings dropped, see :func:`deduplicate_variants`), filtered_rows (rows failing
    FILTER or the VAF/depth floors, see :func:`passing_variants`), capture_size_mb (the sample's).
    ``capture_size_mb`` is one size, or a sample_id -> Mb mapping. Sorted by sample_id; a sample
    with an empty MAF has a row of zeros.
    """
    if not isinstance(capture_size_mb, Mapping) and not float(capture_size_mb) > 0:
        raise ValueError(f"capture_size_mb must be positive, got {capture_size_mb}")
    per_sample = _sample_variants(mafs, variant_classes, min_vaf, min_depth)
    samples = list(per_sample)
    sizes = _capture_sizes(capture_size_mb, samples)
    obs = sample_obs(samples, sample_meta)
    counts = np.array([len(v["nonsynonymous"]) for v in per_sample.values()], dtype=np.int64)
    return pd.DataFrame({
        "patient_id": obs["patient_id"].to_numpy(),
        "sample_id": samples,
        "nonsynonymous_count": counts,
        "tmb_per_mb": counts / sizes,
        "total_variants": np.array([len(v["variants"]) for v in per_sample.values()],
                                   dtype=np.int64),
        "duplicate_rows": np.array([v["duplicate_rows"] for v in per_sample.values()],
                                   dtype=np.int64),
        "filtered_rows": np.array([v["filtered_rows"] for v in per_sample.values()], dtype=np.int64),
        "capture_size_mb": sizes,
    })


def _gene_rows(nonsynonymous: pd.DataFrame) -> pd.DataFrame:
    genes = nonsynonymous["Hugo_Symbol"].astype(str).str.strip()
    return nonsynonymous.assign(gene=genes).loc[~genes.isin(NO_GENE_SYMBOLS).to_numpy()]


def alteration_matrix(mafs: Mapping[str, pd.DataFrame], sample_meta: pd.DataFrame,
                      capture_size_mb: float | Mapping[str, float],
                      variant_classes: Iterable[str] = NONSYNONYMOUS_CLASSES,
                      min_vaf: float | None = None, min_depth: int | None = None) -> ad.AnnData:
    """Gene x sample non-synonymous alterations as AnnData (obs = samples).

    obs: patient_id, batch, timepoint, nonsynonymous_count, tmb_per_mb, capture_size_mb (every
    mutations sample, sorted; variants counted as in :func:`tumour_mutational_burden`). var: genes with at least one non-synonymous variant in the cohort (sorted; variants
    without a gene symbol count for TMB only), with n_altered_samples and altered_fraction (of all
    mutations samples). ``layers["raw"]`` = number of non-synonymous variants, ``X`` = 1 if any.
    """
    classes = _check_variant_classes(variant_classes)
    per_sample = _sample_variants(mafs, classes, min_vaf, min_depth)
    tmb = tumour_mutational_burden(mafs, sample_meta, capture_size_mb, classes, min_vaf,
                                   min_depth).set_index("sample_id")
    samples = list(per_sample)
    gene_counts = {s: _gene_rows(v["nonsynonymous"])["gene"].value_counts()
                   for s, v in per_sample.items()}
    genes = sorted(set().union(*(set(c.index) for c in gene_counts.values())))
    raw = np.zeros((len(samples), len(genes)), dtype=np.int64)
    gene_position = {g: j for j, g in enumerate(genes)}
    for i, sample_id in enumerate(samples):
        for gene, n in gene_counts[sample_id].items():
            raw[i, gene_position[gene]] = n

    obs = sample_obs(samples, sample_meta)
    obs["nonsynonymous_count"] = tmb.loc[samples, "nonsynonymous_count"].to_numpy()
    obs["tmb_per_mb"] = tmb.loc[samples, "tmb_per_mb"].to_numpy()
    obs["capture_size_mb"] = tmb.loc[samples, "capture_size_mb"].to_numpy()
    altered = (raw > 0).astype(np.float64)
    n_altered = altered.sum(axis=0).astype(np.int64)
    var = pd.DataFrame({"n_altered_samples": n_altered, "altered_fraction": n_altered / len(samples)},
                       index=pd.Index(genes, name="gene"))
    params = {
        "variant_classes": list(classes),
        "capture_size_mb": (dict(capture_size_mb) if isinstance(capture_size_mb, Mapping)
                            else float(capture_size_mb)),
        "passing_filters": sorted(PASSING_FILTERS),
        "min_vaf": min_vaf,
        "min_depth": min_depth,
        "deduplicated_on": list(VARIANT_KEY_COLUMNS),
    }
    return ad.AnnData(X=altered, obs=obs, var=var, layers={"raw": raw}, uns={"params": params})


def alteration_long_table(mafs: Mapping[str, pd.DataFrame], sample_meta: pd.DataFrame,
                          variant_classes: Iterable[str] = NONSYNONYMOUS_CLASSES,
                          min_vaf: float | None = None, min_depth: int | None = None) -> pd.DataFrame:
    """One row per altered gene per sample (``mutations/alterations.tsv``), of passing variants.

    Columns: patient_id, sample_id, gene, n_variants, variant_classifications and protein_changes
    (distinct values joined by ``;``, sorted; protein_changes from HGVSp_Short, empty when absent).
    Sorted by sample_id then gene.
    """
    per_sample = _sample_variants(mafs, variant_classes, min_vaf, min_depth)
    obs = sample_obs(list(per_sample), sample_meta)
    rows = []
    for sample_id, variants in per_sample.items():
        nonsynonymous = _gene_rows(variants["nonsynonymous"])
        # Columns stripped once per sample and grouped in one pass (a pandas group per gene cost ~1 s).
        classes = nonsynonymous["Variant_Classification"].astype(str).str.strip()
        changes = (nonsynonymous["HGVSp_Short"].astype(str).str.strip() if "HGVSp_Short" in nonsynonymous.columns
                   else pd.Series("", index=nonsynonymous.index))
        by_gene: dict[str, tuple[list, set, set]] = {}
        for gene, variant_class, change in zip(nonsynonymous["gene"], classes, changes):
            count, gene_classes, gene_changes = by_gene.setdefault(gene, ([0], set(), set()))
            count[0] += 1
            gene_classes.add(variant_class)
            gene_changes.add(change)
        patient_id = obs.loc[sample_id, "patient_id"]
        for gene in sorted(by_gene):
            count, gene_classes, gene_changes = by_gene[gene]
            rows.append({
                "patient_id": patient_id,
                "sample_id": sample_id,
                "gene": gene,
                "n_variants": count[0],
                "variant_classifications": ";".join(sorted(gene_classes)),
                "protein_changes": ";".join(sorted(gene_changes - {""})),
            })
    columns = ["patient_id", "sample_id", "gene", "n_variants", "variant_classifications",
               "protein_changes"]
    table = pd.DataFrame(rows, columns=columns)
    table["n_variants"] = table["n_variants"].astype(np.int64)
    return table
