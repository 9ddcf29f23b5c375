"""Somatic mutations (MAF): tumour mutational burden and a gene x sample alteration matrix.

A mutations sample whose MAF holds no rows has no mutations: TMB 0 and no altered gene, never
missing data. Each sample's MAF is deduplicated before counting, so a variant listed twice (merged
caller outputs, repeated transcripts) counts once.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import anndata as ad
import numpy as np
import pandas as pd

from .cohort import sample_obs

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


def _sample_variants(mafs: Mapping[str, pd.DataFrame], variant_classes) -> dict[str, dict]:
    """Per sample: the deduplicated MAF, its non-synonymous rows, and how many rows were dropped."""
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
        unique = deduplicate_variants(maf)
        selected = unique["Variant_Classification"].astype(str).str.strip().isin(classes)
        out[sample_id] = {
            "variants": unique,
            "nonsynonymous": unique.loc[selected.to_numpy()],
            "duplicate_rows": len(maf) - len(unique),
        }
    return out


def tumour_mutational_burden(mafs: Mapping[str, pd.DataFrame], sample_meta: pd.DataFrame,
                             capture_size_mb: float,
                             variant_classes: Iterable[str] = NONSYNONYMOUS_CLASSES) -> pd.DataFrame:
    """Non-synonymous variants per megabase of captured sequence, one row per mutations sample.

    Columns: patient_id, sample_id, nonsynonymous_count, tmb_per_mb (= nonsynonymous_count /
    capture_size_mb), total_variants (distinct variants of any class), duplicate_rows (repeated
    listings dropped, see :func:`deduplicate_variants`). Sorted by sample_id; a sample with an
    empty MAF has a row of zeros.
    """
    if not capture_size_mb > 0:
        raise ValueError(f"capture_size_mb must be positive, got {capture_size_mb}")
    per_sample = _sample_variants(mafs, variant_classes)
    obs = sample_obs(list(per_sample), sample_meta)
    counts = np.array([len(v["nonsynonymous"]) for v in per_sample.values()], dtype=np.int64)
    return pd.DataFrame({
        "patient_id": obs["patient_id"].to_numpy(),
        "sample_id": list(per_sample),
        "nonsynonymous_count": counts,
        "tmb_per_mb": counts / float(capture_size_mb),
        "total_variants": np.array([len(v["variants"]) for v in per_sample.values()],
                                   dtype=np.int64),
        "duplicate_rows": np.array([v["duplicate_rows"] for v in per_sample.values()],
                                   dtype=np.int64),
    })


def _gene_rows(nonsynonymous: pd.DataFrame) -> pd.DataFrame:
    genes = nonsynonymous["Hugo_Symbol"].astype(str).str.strip()
    return nonsynonymous.assign(gene=genes).loc[~genes.isin(NO_GENE_SYMBOLS).to_numpy()]


def alteration_matrix(mafs: Mapping[str, pd.DataFrame], sample_meta: pd.DataFrame,
                      capture_size_mb: float,
                      variant_classes: Iterable[str] = NONSYNONYMOUS_CLASSES) -> ad.AnnData:
    """Gene x sample non-synonymous alterations as AnnData (obs = samples).

    obs: patient_id, batch, timepoint, nonsynonymous_count, tmb_per_mb (every mutations sample,
    sorted). var: genes with at least one non-synonymous variant in the cohort (sorted; variants
    without a gene symbol count for TMB only), with n_altered_samples and altered_fraction (of all
    mutations samples). ``layers["raw"]`` = number of non-synonymous variants, ``X`` = 1 if any.
    """
    classes = _check_variant_classes(variant_classes)
    per_sample = _sample_variants(mafs, classes)
    tmb = tumour_mutational_burden(mafs, sample_meta, capture_size_mb, classes).set_index("sample_id")
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
    altered = (raw > 0).astype(np.float64)
    n_altered = altered.sum(axis=0).astype(np.int64)
    var = pd.DataFrame({"n_altered_samples": n_altered, "altered_fraction": n_altered / len(samples)},
                       index=pd.Index(genes, name="gene"))
    params = {
        "variant_classes": list(classes),
        "capture_size_mb": float(capture_size_mb),
        "deduplicated_on": list(VARIANT_KEY_COLUMNS),
    }
    return ad.AnnData(X=altered, obs=obs, var=var, layers={"raw": raw}, uns={"params": params})


def alteration_long_table(mafs: Mapping[str, pd.DataFrame], sample_meta: pd.DataFrame,
                          variant_classes: Iterable[str] = NONSYNONYMOUS_CLASSES) -> pd.DataFrame:
    """One row per altered gene per sample (``mutations/alterations.tsv``).

    Columns: patient_id, sample_id, gene, n_variants, variant_classifications and protein_changes
    (distinct values joined by ``;``, sorted; protein_changes from HGVSp_Short, empty when absent).
    Sorted by sample_id then gene.
    """
    per_sample = _sample_variants(mafs, variant_classes)
    obs = sample_obs(list(per_sample), sample_meta)
    rows = []
    for sample_id, variants in per_sample.items():
        nonsynonymous = _gene_rows(variants["nonsynonymous"])
        for gene, group in nonsynonymous.groupby("gene", sort=True):
            classes = group["Variant_Classification"].astype(str).str.strip()
            changes = (group["HGVSp_Short"].astype(str).str.strip()
                       if "HGVSp_Short" in group.columns else pd.Series([], dtype=str))
            rows.append({
                "patient_id": obs.loc[sample_id, "patient_id"],
                "sample_id": sample_id,
                "gene": gene,
                "n_variants": len(group),
                "variant_classifications": ";".join(sorted(set(classes))),
                "protein_changes": ";".join(sorted(set(changes) - {""})),
            })
    columns = ["patient_id", "sample_id", "gene", "n_variants", "variant_classifications",
               "protein_changes"]
    table = pd.DataFrame(rows, columns=columns)
    table["n_variants"] = table["n_variants"].astype(np.int64)
    return table
