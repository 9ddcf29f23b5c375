"""Omics half of the demo trial: genes, the sample sheet, copy number, RNA counts, proteins, mutations.

The gene universe (real HGNC symbols for every gene that matters, with GRCh38 loci, and placeholder
genes) and, per baseline sample of the sample sheet, gene-level copy number, htseq-count RNA counts,
TMT-like protein intensities and MAF mutations, all generated from the per-patient latent biology of
:mod:`trialomics.demo_clinical`, so that the planted features carry the outcome signal. The RNA and
protein models (:func:`rna_model`, :func:`protein_model`) are shared with the on-treatment samples
(:mod:`trialomics.demo_on_treatment`). Functions take their random generator; which stream feeds which
table is decided by the cohort assembly in :mod:`trialomics.demo`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

CAPTURE_SIZE_MB = 35.0

# Planted effects on the omics: log2 units per SD of the latent score.
RNA_IMMUNE_LOG2_PER_SD = 1.0
PROTEIN_CHEMOKINE_LOG2_PER_SD = 1.2
RNA_STROMAL_LOG2_PER_SD = 0.8
RNA_PROLIFERATION_LOG2_PER_SD = 0.7

IMMUNE_PROGRAMME_RNA = ("IFNG", "STAT1", "CXCL9", "CXCL10", "IDO1", "HLA-DRA",
                        "CD8A", "CCL5", "LAG3", "NKG7", "TIGIT", "CD274")
IMMUNE_PROGRAMME_PROTEINS = ("CXCL9", "CXCL10")
CDKN2A_LOCUS_GENES = ("MTAP", "CDKN2A", "CDKN2B")
ERBB2_AMPLICON_GENES = ("ERBB2", "GRB7")
STROMAL_PROGRAMME = ("ACTA2", "ACTG2", "ADAM12", "ADAM19", "CNN1", "COL4A1", "CCN2", "CTPS1", "RFLNB",
                     "FSTL3", "HSPB1", "IGFBP3", "PXDC1", "SEMA7A", "SH3PXD2A", "TAGLN", "TGFBI",
                     "TNS1", "TPM1", "COL1A1", "COL1A2", "COL3A1")
PROLIFERATION_PROGRAMME = ("BIRC5", "CCNB1", "CDC20", "NUF2", "CEP55", "NDC80", "MKI67", "PTTG1",
                           "RRM2", "TYMS", "UBE2C", "TOP2A", "CDK1", "PCNA")
Y_LINKED = ("EIF1AY", "RPS4Y1", "DDX3Y", "KDM5D", "UTY")
FEMALE_ONLY = ("XIST",)
HOUSEKEEPING_MEAN_COUNTS = {"ACTB": 40000.0, "GAPDH": 30000.0, "EEF1A1": 60000.0, "RPLP0": 20000.0,
                            "B2M": 30000.0, "TPT1": 25000.0}
OTHER_REAL_GENES = ("PTPRC", "EPCAM", "KRT7", "KRT8", "KRT18", "KRT19", "ALB", "VIM", "CD4", "FOXP3",
                    "PDCD1", "CTLA4", "HAVCR2", "MUC1", "CEACAM5", "SOX9", "HNF1B", "CA9", "SPP1",
                    "TFF1", "AFP", "FGFR1", "IDH2", "TGFB1", "TGFB2", "TGFBR2", "VEGFC", "FLT1", "KIT",
                    "PDGFRA", "PDGFRB", "NOTCH1", "CTNNB1", "APC", "ATM", "BRCA1", "BRCA2", "MSH2",
                    "MLH1", "NRAS", "HRAS")

# GRCh38 chromosome lengths and approximate centromere midpoints (Mb), for arm-level copy number.
CHROMOSOMES = {
    "1": (248.96, 123.4), "2": (242.19, 93.9), "3": (198.30, 90.9), "4": (190.21, 50.0),
    "5": (181.54, 48.8), "6": (170.81, 59.8), "7": (159.35, 60.1), "8": (145.14, 45.2),
    "9": (138.39, 43.0), "10": (133.80, 39.8), "11": (135.09, 53.4), "12": (133.28, 35.5),
    "13": (114.36, 17.7), "14": (107.04, 17.2), "15": (101.99, 19.0), "16": (90.34, 36.8),
    "17": (83.26, 25.1), "18": (80.37, 18.5), "19": (58.62, 26.2), "20": (64.44, 28.1),
    "21": (46.71, 12.0), "22": (50.82, 15.0), "X": (156.04, 60.6),
}
# GRCh38 gene starts (approximate, bp) of the genes whose locus matters for copy number or mutations.
KNOWN_LOCI = {
    "ARID1A": ("1", 26_696_000), "IDH1": ("2", 208_236_000), "BAP1": ("3", 52_401_000),
    "PBRM1": ("3", 52_545_000), "PIK3CA": ("3", 179_148_000), "EGFR": ("7", 55_019_000),
    "MET": ("7", 116_672_000), "BRAF": ("7", 140_719_000), "MYC": ("8", 127_735_000),
    "JAK2": ("9", 4_985_000), "CD274": ("9", 5_450_000), "PDCD1LG2": ("9", 5_510_000),
    "MTAP": ("9", 21_802_000), "CDKN2A": ("9", 21_967_000), "CDKN2B": ("9", 22_002_000),
    "PTEN": ("10", 87_863_000), "FGFR2": ("10", 121_478_000), "CCND1": ("11", 69_641_000),
    "KRAS": ("12", 25_205_000), "MDM2": ("12", 68_808_000), "RB1": ("13", 48_303_000),
    "B2M": ("15", 44_711_000), "TP53": ("17", 7_668_000), "ERBB2": ("17", 39_688_000),
    "GRB7": ("17", 39_737_000), "SMAD4": ("18", 51_030_000), "STK11": ("19", 1_205_000),
    "CCNE1": ("19", 29_811_000),
}

# Recurrent BTC driver mutations: GRCh38 hotspots (chromosome, position, ref, alt, HGVSp_Short) on the
# + strand, and genes hit by truncating or missense mutations (protein length in amino acids).
HOTSPOTS = {
    "KRAS": [("12", 25245350, "C", "T", "p.G12D"), ("12", 25245350, "C", "A", "p.G12V"),
             ("12", 25245351, "C", "A", "p.G12C"), ("12", 25245347, "C", "T", "p.G13D"),
             ("12", 25227341, "T", "G", "p.Q61H")],
    "IDH1": [("2", 208248388, "C", "T", "p.R132H"), ("2", 208248389, "G", "A", "p.R132C")],
    "TP53": [("17", 7675088, "C", "T", "p.R175H"), ("17", 7674220, "C", "T", "p.R248Q"),
             ("17", 7673802, "C", "T", "p.R273H")],
    "PIK3CA": [("3", 179218303, "G", "A", "p.E545K"), ("3", 179234297, "A", "G", "p.H1047R")],
    "ERBB2": [("17", 39711955, "C", "T", "p.S310F")],
}
PROTEIN_LENGTH = {"TP53": 393, "ARID1A": 2285, "BAP1": 729, "PBRM1": 1689, "SMAD4": 552,
                  "CDKN2A": 156}
# Per-patient probability of a non-silent mutation (KRAS is planted with a fixed count instead).
DRIVER_FREQUENCY = {"TP53": 0.30, "ARID1A": 0.15, "BAP1": 0.10, "PBRM1": 0.10, "SMAD4": 0.10,
                    "CDKN2A": 0.05, "ERBB2": 0.05, "PIK3CA": 0.07}
IDH1_FREQUENCY_ICCA = 0.25

PASSENGER_CODING_MIX = {"Missense_Mutation": 0.74, "Nonsense_Mutation": 0.07, "Frame_Shift_Del": 0.06,
                        "Frame_Shift_Ins": 0.03, "Splice_Site": 0.06, "In_Frame_Del": 0.03,
                        "In_Frame_Ins": 0.01}
PASSENGER_OTHER_MIX = {"Silent": 0.55, "3'UTR": 0.15, "5'UTR": 0.05, "Intron": 0.25}
AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
BASES = "ACGT"

MAF_COLUMNS = ("Hugo_Symbol", "Center", "NCBI_Build", "Chromosome", "Start_Position", "End_Position",
               "Strand", "Variant_Classification", "Variant_Type", "Reference_Allele",
               "Tumor_Seq_Allele1", "Tumor_Seq_Allele2", "Tumor_Sample_Barcode",
               "Matched_Norm_Sample_Barcode", "HGVSp_Short", "t_depth", "t_ref_count",
               "t_alt_count", "n_depth")

HTSEQ_SUMMARY_LINES = ("__no_feature", "__ambiguous", "__too_low_aQual", "__not_aligned",
                       "__alignment_not_unique")

SAMPLE_COLUMNS = ("sample_id", "patient_id", "modality", "path", "column", "batch", "timepoint")


# --------------------------------------------------------------------------------------------------
# Genes
# --------------------------------------------------------------------------------------------------

def build_gene_universe(rng: np.random.Generator, n_genes: int,
                        gene_sets: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """The genes of the demo, indexed by symbol, sorted, with ``real``, ``chromosome``, ``position``.

    Real HGNC symbols for every gene-set gene, planted gene, driver and a few markers; placeholders
    ``GENE00001``... for the rest. Genes with a known GRCh38 locus get it; placeholders get a random
    locus (so that arm-level copy-number changes move neighbouring genes together); other real genes
    get no locus (they are never mutated or copy-number profiled in the demo).
    """
    real = set(KNOWN_LOCI) | set(IMMUNE_PROGRAMME_RNA) | set(IMMUNE_PROGRAMME_PROTEINS)
    real |= set(STROMAL_PROGRAMME) | set(PROLIFERATION_PROGRAMME) | set(Y_LINKED) | set(FEMALE_ONLY)
    real |= set(HOUSEKEEPING_MEAN_COUNTS) | set(OTHER_REAL_GENES) | set(PROTEIN_LENGTH)
    for genes in gene_sets.values():
        real |= set(genes)
    real_sorted = sorted(real)
    n_placeholders = n_genes - len(real_sorted)
    if n_placeholders < 50:
        raise ValueError(f"n_genes={n_genes} is too small: the demo needs {len(real_sorted)} real genes "
                         "plus at least 50 placeholder genes")
    placeholders = [f"GENE{i:05d}" for i in range(1, n_placeholders + 1)]
    chrom_names = list(CHROMOSOMES)
    lengths = np.array([CHROMOSOMES[c][0] for c in chrom_names])
    chrom_idx = rng.choice(len(chrom_names), size=n_placeholders, p=lengths / lengths.sum())
    positions = (rng.uniform(0.0, 1.0, n_placeholders) * lengths[chrom_idx] * 1e6).astype(np.int64) + 1
    rows = []
    for g in real_sorted:
        chrom, pos = KNOWN_LOCI.get(g, ("", -1))
        rows.append((g, True, chrom, pos))
    for g, ci, pos in zip(placeholders, chrom_idx, positions):
        rows.append((g, False, chrom_names[ci], int(pos)))
    genes = pd.DataFrame(rows, columns=["gene", "real", "chromosome", "position"]).set_index("gene")
    return genes.sort_index()


def _arm(chromosome: str, position: int) -> str:
    return f"{chromosome}{'p' if position / 1e6 < CHROMOSOMES[chromosome][1] else 'q'}"


# --------------------------------------------------------------------------------------------------
# Samples and omics
# --------------------------------------------------------------------------------------------------

def build_sample_sheet(rng: np.random.Generator, ids: Sequence[str]) -> pd.DataFrame:
    """One row per sample; one patient lacks RNA and another lacks proteomics (n >= 3).

    RNA is split over two sequencing runs and proteomics over TMT plexes of at most eight samples
    (at most three plexes), both balanced and in random order.
    """
    n = len(ids)
    no_rna, no_protein = (rng.choice(n, size=2, replace=False).tolist() if n >= 3 else (-1, -1))
    rna_ids = [p for i, p in enumerate(ids) if i != no_rna]
    protein_ids = [p for i, p in enumerate(ids) if i != no_protein]
    rna_batch = dict(zip(rna_ids, rng.permutation([f"RUN{1 + i % 2}" for i in range(len(rna_ids))])))
    n_plex = min(3, max(1, math.ceil(len(protein_ids) / 8)))
    protein_batch = dict(zip(protein_ids,
                             rng.permutation([f"TMT{1 + i % n_plex}" for i in range(len(protein_ids))])))
    rows = []
    for pid in ids:
        rows.append((f"{pid}-WES", pid, "mutations", f"mutations/{pid}-WES.maf", "", "", "baseline"))
    for pid in ids:
        rows.append((f"{pid}-CN", pid, "copy_number", "copy_number.tsv", f"{pid}-CN", "", "baseline"))
    for pid in rna_ids:
        rows.append((f"{pid}-RNA", pid, "rna", f"rna/{pid}-RNA.counts.tsv", "", rna_batch[pid], "baseline"))
    for pid in protein_ids:
        rows.append((f"{pid}-PROT", pid, "proteins", "proteins.tsv", f"{pid}-PROT", protein_batch[pid],
                     "baseline"))
    return pd.DataFrame(rows, columns=list(SAMPLE_COLUMNS))


def _samples_of(samples: pd.DataFrame, modality: str) -> pd.DataFrame:
    return samples[samples["modality"] == modality].reset_index(drop=True)


def simulate_copy_number(rng: np.random.Generator, genes: pd.DataFrame, bio: pd.DataFrame,
                         samples: pd.DataFrame, n_profiled: int = 3000) -> pd.DataFrame:
    """Gene-level log2 copy ratios (CNVkit style), genes in genomic order x CN samples.

    Arm-level gains and losses, focal CDKN2A/CDKN2B/MTAP deep deletions and ERBB2/GRB7
    amplifications; ratios are diluted by tumour purity and carry gene-level noise.
    """
    located = genes[genes["chromosome"] != ""]
    keys = located[located["real"]]
    fillers = located[~located["real"]]
    n_fill = max(0, min(len(fillers), n_profiled - len(keys)))
    fill = fillers.iloc[np.sort(rng.choice(len(fillers), size=n_fill, replace=False))]
    profiled = pd.concat([keys, fill])
    chrom_order = {c: i for i, c in enumerate(CHROMOSOMES)}
    profiled = profiled.assign(_c=profiled["chromosome"].map(chrom_order)).sort_values(["_c", "position"])
    arms = np.array([_arm(c, p) for c, p in zip(profiled["chromosome"], profiled["position"])])
    arm_names = sorted(set(arms))
    cn = _samples_of(samples, "copy_number")
    ratios = {}
    for sample_id, pid in zip(cn["sample_id"], cn["patient_id"]):
        purity = float(bio.at[pid, "purity"])
        copies = np.full(len(profiled), 2.0)
        for arm in arm_names:
            u = rng.uniform()
            if u < 0.12:
                copies[arms == arm] = 3.0
            elif u < 0.30:
                copies[arms == arm] = 1.0
        if bio.at[pid, "cdkn2a_deleted"]:
            copies[profiled.index.isin(CDKN2A_LOCUS_GENES)] = 0.0
        if bio.at[pid, "erbb2_amplified"]:
            copies[profiled.index.isin(ERBB2_AMPLICON_GENES)] = float(rng.integers(8, 14))
        ratio = (purity * copies + 2 * (1 - purity)) / 2
        log2 = np.log2(np.maximum(ratio, 0.02)) + rng.normal(0, 0.1, len(profiled))
        ratios[sample_id] = np.round(log2, 4)
    # One frame from all columns at once (inserting 500 columns one by one fragments it).
    return pd.DataFrame(ratios, index=pd.Index(profiled.index, name="gene"), columns=list(cn["sample_id"]))


@dataclass(frozen=True)
class RnaModel:
    """Gene-level parameters of the RNA counts, shared by every sample of a cohort (baseline or not)."""

    genes: pd.Index
    log_mean: np.ndarray
    batch_shift: np.ndarray
    dispersion_noise: np.ndarray
    index: dict


def rna_model(rng: np.random.Generator, genes: pd.DataFrame) -> RnaModel:
    """The first draws of the RNA stream: gene means, the RUN2 shift and the dispersion noise."""
    names = genes.index
    n_genes = len(names)
    log_mean = np.where(genes["real"], rng.normal(math.log(300), 1.0, n_genes),
                        rng.normal(math.log(150), 2.0, n_genes))
    for gene, mean in HOUSEKEEPING_MEAN_COUNTS.items():
        log_mean[names.get_loc(gene)] = math.log(mean)
    for gene in IMMUNE_PROGRAMME_RNA:
        log_mean[names.get_loc(gene)] = max(log_mean[names.get_loc(gene)], math.log(80))
    batch_shift = rng.normal(0, 0.1, n_genes)
    dispersion_noise = np.exp(rng.normal(0, 0.35, n_genes))
    index = {g: names.get_loc(g) for g in set(IMMUNE_PROGRAMME_RNA) | set(STROMAL_PROGRAMME)
             | set(PROLIFERATION_PROGRAMME) | set(CDKN2A_LOCUS_GENES) | set(ERBB2_AMPLICON_GENES)
             | set(Y_LINKED) | set(FEMALE_ONLY)}
    return RnaModel(genes=names, log_mean=log_mean, batch_shift=batch_shift,
                    dispersion_noise=dispersion_noise, index=index)


def simulate_rna_sample(rng: np.random.Generator, model: RnaModel, bio: pd.DataFrame, pid: str, batch: str,
                        extra_log2: Mapping[str, float] | None = None) -> tuple[np.ndarray, list[int]]:
    """One sample's counts (in ``model.genes`` order) and its five htseq-count summary numbers.

    ``extra_log2`` adds log2 shifts to named genes (the on-treatment changes).
    """
    idx = model.index
    ln2 = math.log(2)
    effect = model.log_mean.copy()
    for g in IMMUNE_PROGRAMME_RNA:
        effect[idx[g]] += ln2 * RNA_IMMUNE_LOG2_PER_SD * bio.at[pid, "immune_score"]
    for g in STROMAL_PROGRAMME:
        effect[idx[g]] += ln2 * RNA_STROMAL_LOG2_PER_SD * bio.at[pid, "stromal_score"]
    for g in PROLIFERATION_PROGRAMME:
        effect[idx[g]] += ln2 * RNA_PROLIFERATION_LOG2_PER_SD * bio.at[pid, "proliferation_score"]
    if bio.at[pid, "cdkn2a_deleted"]:
        for g in CDKN2A_LOCUS_GENES:
            effect[idx[g]] += math.log(0.8 * (1 - bio.at[pid, "purity"]))
    if bio.at[pid, "erbb2_amplified"]:
        for g in ERBB2_AMPLICON_GENES:
            effect[idx[g]] += math.log(5.0)
    for g in (Y_LINKED if bio.at[pid, "sex"] == "female" else FEMALE_ONLY):
        effect[idx[g]] += math.log(0.002)
    for gene, shift in (extra_log2 or {}).items():
        effect[model.genes.get_loc(gene)] += ln2 * shift
    if batch == "RUN2":
        effect += model.batch_shift
    assigned = rng.uniform(12e6, 30e6)
    weight = np.exp(effect - effect.max())
    mean = assigned * weight / weight.sum()
    dispersion = (0.1 + 1.0 / np.maximum(mean, 0.5)) * model.dispersion_noise
    counts = rng.poisson(rng.gamma(1.0 / dispersion, mean * dispersion))
    total = counts.sum()
    summary = [int(total * rng.uniform(lo, hi)) for lo, hi in
               ((0.05, 0.10), (0.02, 0.04), (0.005, 0.015), (0.02, 0.06), (0.08, 0.15))]
    return counts, summary


def simulate_rna_counts(rng: np.random.Generator, genes: pd.DataFrame, bio: pd.DataFrame,
                        samples: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """htseq-count style integer counts (genes x RNA samples) and the summary lines per sample.

    Gene means are log-normal; counts are gamma-Poisson (negative binomial) with dispersion
    ``(0.1 + 1/mean)`` times log-normal noise. The immune programme genes move with the immune score
    (``RNA_IMMUNE_LOG2_PER_SD`` log2 units per SD), F-TBRS/collagen genes with a stromal score and
    proliferation genes with a proliferation score (both independent of outcome); CDKN2A-locus
    deletions silence those genes, ERBB2 amplification raises them; Y-linked genes are off in women and
    XIST in men; run RUN2 has a mild gene-wise shift.
    """
    rna = _samples_of(samples, "rna")
    model = rna_model(rng, genes)
    counts = np.zeros((len(model.genes), len(rna)), dtype=np.int64)
    summary = {}
    for j, (sample_id, pid, batch) in enumerate(zip(rna["sample_id"], rna["patient_id"], rna["batch"])):
        counts[:, j], summary[sample_id] = simulate_rna_sample(rng, model, bio, pid, batch)
    counts_df = pd.DataFrame(counts, index=pd.Index(model.genes, name="gene"), columns=list(rna["sample_id"]))
    summary_df = pd.DataFrame(summary, index=pd.Index(HTSEQ_SUMMARY_LINES, name="gene"))
    return counts_df, summary_df


@dataclass(frozen=True)
class ProteinModel:
    """Protein-level parameters shared by every proteomics sample: which proteins, abundances, plexes."""

    proteins: list
    abundance: np.ndarray
    plex_global: dict
    plex_protein: dict
    stromal: list


def protein_model(rng: np.random.Generator, genes: pd.DataFrame, plexes: Sequence[str],
                  n_proteins: int) -> ProteinModel:
    """The first draws of the proteins stream: the measured proteins, their abundances, plex shifts."""
    real = [g for g in genes.index[genes["real"]] if g not in Y_LINKED + FEMALE_ONLY]
    others = [g for g in real if g not in IMMUNE_PROGRAMME_PROTEINS]
    n_real = min(len(others), max(0, n_proteins // 2 - len(IMMUNE_PROGRAMME_PROTEINS)))
    chosen = list(IMMUNE_PROGRAMME_PROTEINS) + [others[i] for i in
                                                 np.sort(rng.choice(len(others), n_real, replace=False))]
    fillers = genes.index[~genes["real"]]
    n_fill = min(len(fillers), n_proteins - len(chosen))
    chosen += [fillers[i] for i in np.sort(rng.choice(len(fillers), n_fill, replace=False))]
    proteins = sorted(chosen)
    n_p = len(proteins)
    abundance = np.clip(rng.normal(24, 2.2, n_p), 17, 33)
    pos = {p: i for i, p in enumerate(proteins)}
    for p in IMMUNE_PROGRAMME_PROTEINS:
        abundance[pos[p]] = 25.5
    for p in HOUSEKEEPING_MEAN_COUNTS:
        if p in pos:
            abundance[pos[p]] = 31.0
    plexes = sorted(plexes)
    plex_global = dict(zip(plexes, rng.normal(0, 0.6, len(plexes))))
    plex_protein = {b: rng.normal(0, 0.25, n_p) for b in plexes}
    stromal = [pos[p] for p in STROMAL_PROGRAMME if p in pos]
    return ProteinModel(proteins=proteins, abundance=abundance, plex_global=plex_global,
                        plex_protein=plex_protein, stromal=stromal)


def simulate_protein_sample(rng: np.random.Generator, model: ProteinModel, bio: pd.DataFrame, pid: str,
                            batch: str, extra_log2: Mapping[str, float] | None = None) -> np.ndarray:
    """One sample's raw intensities (in ``model.proteins`` order, NaN where not quantified).

    ``extra_log2`` adds log2 shifts to named proteins (the on-treatment changes); proteins the model
    does not measure are skipped.
    """
    n_p = len(model.proteins)
    v = (model.abundance + rng.normal(0, 0.35, n_p) + rng.normal(0, 0.3)
         + model.plex_global[batch] + model.plex_protein[batch])
    for p in IMMUNE_PROGRAMME_PROTEINS:
        v[model.proteins.index(p)] += PROTEIN_CHEMOKINE_LOG2_PER_SD * bio.at[pid, "immune_score"]
    for p, shift in (extra_log2 or {}).items():
        if p in model.proteins:
            v[model.proteins.index(p)] += shift
    v[model.stromal] += 0.6 * bio.at[pid, "stromal_score"]
    missing = rng.uniform(size=n_p) < 1 / (1 + np.exp((v - 21.6) / 0.9))
    missing |= rng.uniform(size=n_p) < 0.01
    return np.where(missing, np.nan, np.round(2.0 ** v))


def simulate_proteins(rng: np.random.Generator, genes: pd.DataFrame, bio: pd.DataFrame,
                      samples: pd.DataFrame, n_proteins: int) -> pd.DataFrame:
    """Raw TMT-like intensities (proteins x protein samples), NaN where not quantified.

    log2 abundances ~ N(24, 2.2); CXCL9/CXCL10 move with the immune score
    (``PROTEIN_CHEMOKINE_LOG2_PER_SD`` per SD), stromal proteins with the stromal score; each plex adds
    a global and a protein-wise log-scale shift; values are missing with a probability that is
    logistic in abundance (missing not at random, about 15% overall) plus 1% at random.
    """
    prot = _samples_of(samples, "proteins")
    model = protein_model(rng, genes, set(prot["batch"]), n_proteins)
    values = np.empty((len(model.proteins), len(prot)))
    for j, (pid, batch) in enumerate(zip(prot["patient_id"], prot["batch"])):
        values[:, j] = simulate_protein_sample(rng, model, bio, pid, batch)
    return pd.DataFrame(values, index=pd.Index(model.proteins, name="protein"), columns=list(prot["sample_id"]))


def _random_alleles(rng: np.random.Generator, length: int) -> str:
    return "".join(rng.choice(list(BASES), size=length))


def _mutation_row(rng: np.random.Generator, gene: str, chrom: str, start: int, classification: str,
                  protein_length: int) -> dict:
    aa_pos = int(rng.integers(1, protein_length + 1))
    ref_aa, alt_aa = rng.choice(list(AMINO_ACIDS), size=2, replace=False)
    if classification in ("Frame_Shift_Del", "In_Frame_Del"):
        length = 3 if classification == "In_Frame_Del" else int(rng.choice([1, 2, 4, 5]))
        ref, alt, vtype, end = _random_alleles(rng, length), "-", "DEL", start + length - 1
    elif classification in ("Frame_Shift_Ins", "In_Frame_Ins"):
        length = 3 if classification == "In_Frame_Ins" else int(rng.choice([1, 2, 4]))
        ref, alt, vtype, end = "-", _random_alleles(rng, length), "INS", start + 1
    else:
        ref = str(rng.choice(list(BASES)))
        alt = str(rng.choice([b for b in BASES if b != ref]))
        vtype, end = "SNP", start
    hgvsp = {
        "Missense_Mutation": f"p.{ref_aa}{aa_pos}{alt_aa}", "Nonsense_Mutation": f"p.{ref_aa}{aa_pos}*",
        "Silent": f"p.{ref_aa}{aa_pos}=", "Frame_Shift_Del": f"p.{ref_aa}{aa_pos}fs",
        "Frame_Shift_Ins": f"p.{ref_aa}{aa_pos}fs", "In_Frame_Del": f"p.{ref_aa}{aa_pos}del",
        "In_Frame_Ins": f"p.{ref_aa}{aa_pos}_{alt_aa}{aa_pos + 1}ins{alt_aa}",
        "Splice_Site": f"p.X{aa_pos}_splice",
    }.get(classification, "")
    return {"Hugo_Symbol": gene, "Chromosome": f"chr{chrom}", "Start_Position": start,
            "End_Position": end, "Variant_Classification": classification, "Variant_Type": vtype,
            "Reference_Allele": ref, "Tumor_Seq_Allele2": alt, "HGVSp_Short": hgvsp}


def simulate_mutations(rng: np.random.Generator, genes: pd.DataFrame, bio: pd.DataFrame,
                       samples: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """One MAF table per WES sample: BTC drivers plus passengers, sorted by genomic position.

    Non-synonymous count ~ Poisson(TMB x 35 Mb) including the drivers; silent and non-coding
    passengers add about half as many rows again. Drivers use GRCh38 hotspots where one exists;
    other positions are synthetic.
    """
    wes = _samples_of(samples, "mutations")
    located = genes[genes["chromosome"] != ""]
    driver_genes = set(HOTSPOTS) | set(PROTEIN_LENGTH)
    passenger_pool = [g for g in located.index if g not in driver_genes]
    chrom_order = {f"chr{c}": i for i, c in enumerate(CHROMOSOMES)}
    mafs = {}
    for sample_id, pid in zip(wes["sample_id"], wes["patient_id"]):
        purity = float(bio.at[pid, "purity"])
        rows = []
        drivers = ["KRAS"] if bio.at[pid, "kras_mutant"] else []
        drivers += [g for g, f in DRIVER_FREQUENCY.items() if rng.uniform() < f]
        intrahepatic = bio.at[pid, "primary_site"] == "intrahepatic_cholangiocarcinoma"
        if intrahepatic and rng.uniform() < IDH1_FREQUENCY_ICCA:
            drivers.append("IDH1")
        for gene in drivers:
            if gene in HOTSPOTS and (gene not in PROTEIN_LENGTH or rng.uniform() < 0.5):
                chrom, position, ref, alt, hgvsp = HOTSPOTS[gene][int(rng.integers(len(HOTSPOTS[gene])))]
                rows.append({"Hugo_Symbol": gene, "Chromosome": f"chr{chrom}", "Start_Position": position,
                             "End_Position": position, "Variant_Classification": "Missense_Mutation",
                             "Variant_Type": "SNP", "Reference_Allele": ref, "Tumor_Seq_Allele2": alt,
                             "HGVSp_Short": hgvsp})
            else:
                chrom, start = KNOWN_LOCI[gene]
                classification = str(rng.choice(["Nonsense_Mutation", "Frame_Shift_Del", "Frame_Shift_Ins",
                                                 "Splice_Site", "Missense_Mutation"],
                                                p=[0.3, 0.25, 0.15, 0.1, 0.2]))
                rows.append(_mutation_row(rng, gene, chrom, start + int(rng.integers(1000, 20000)),
                                          classification, PROTEIN_LENGTH[gene]))
        n_nonsyn = int(rng.poisson(2.0 ** bio.at[pid, "log2_tmb"] * CAPTURE_SIZE_MB))
        n_other = int(rng.poisson(0.5 * n_nonsyn))
        classes = (list(rng.choice(list(PASSENGER_CODING_MIX), size=max(0, n_nonsyn - len(drivers)),
                                   p=list(PASSENGER_CODING_MIX.values())))
                   + list(rng.choice(list(PASSENGER_OTHER_MIX), size=n_other,
                                     p=list(PASSENGER_OTHER_MIX.values()))))
        for classification in classes:
            gene = passenger_pool[int(rng.integers(len(passenger_pool)))]
            start = int(located.at[gene, "position"]) + int(rng.integers(0, 50000))
            rows.append(_mutation_row(rng, gene, str(located.at[gene, "chromosome"]), start,
                                      str(classification), int(rng.integers(150, 1500))))
        maf = pd.DataFrame(rows)
        if len(maf):
            depth = rng.negative_binomial(8, 8 / (8 + 120.0), len(maf)) + 20
            vaf = np.clip(purity / 2 * rng.beta(8, 2, len(maf)) * 1.1, 0.03, 0.95)
            alt_count = np.maximum(rng.binomial(depth, vaf), 3)
            maf["t_depth"] = depth
            maf["t_ref_count"] = depth - alt_count
            maf["t_alt_count"] = alt_count
            maf["n_depth"] = rng.negative_binomial(8, 8 / (8 + 80.0), len(maf)) + 15
            maf["_order"] = maf["Chromosome"].map(chrom_order)
            maf = maf.sort_values(["_order", "Start_Position"], kind="stable").drop(columns="_order")
        else:
            maf = pd.DataFrame(columns=list(MAF_COLUMNS))
        maf["Center"] = "DEMO"
        maf["NCBI_Build"] = "GRCh38"
        maf["Strand"] = "+"
        maf["Tumor_Seq_Allele1"] = maf["Reference_Allele"]
        maf["Tumor_Sample_Barcode"] = sample_id
        maf["Matched_Norm_Sample_Barcode"] = f"{pid}-N"
        mafs[sample_id] = maf[list(MAF_COLUMNS)].reset_index(drop=True)
    return mafs
