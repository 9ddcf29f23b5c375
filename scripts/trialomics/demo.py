"""Synthetic demo trial: apatinib + camrelizumab in previously treated advanced biliary tract cancer.

A single-arm trial of ``n`` patients with monthly RECIST 1.1 assessments, adverse events and baseline
tumour multi-omics (whole-exome mutations, gene-level copy number, RNA-seq counts, TMT proteomics),
written in the formats of the input contract. Everything is drawn from one seed, so the same call
writes the same bytes.

How outcomes are made. Each patient gets a latent immune score (standard normal), a tumour mutational
burden and genomic events (KRAS mutation, CDKN2A/B deep deletion...). The ``round(0.2 n)`` patients
with the largest ``response_lp + logistic noise`` are the confirmed responders (a latent-utility
logistic model whose coefficients are the planted response log-odds), progression times are Weibull
with log hazard equal to the planted linear predictor, and RECIST visits are then simulated to agree
with each patient's outcome. The omics are generated from the same latent variables, so the planted
features carry the signal. With ``null=True`` the outcomes are driven by an independent copy of the
latent variables, so no omics feature is associated with outcome beyond chance.

The generator also derives the labels a correct RECIST 1.1 analysis must find (``expected_labels``),
with the rules of the default configuration (confirmation after >= 4 weeks, SD at >= 6 weeks, clinical
benefit = CR/PR or PFS > 6 months), from the written assessment tables.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .seeds import derive_seed
from .tables import atomic_path, write_tsv

DEFAULT_SEED = 3152
DAYS_PER_MONTH = 30.4375
CAPTURE_SIZE_MB = 35.0
CONFIRMATION_DAYS = 28
SD_MIN_DAYS = 42
BENEFIT_MONTHS = 6.0

FIRST_ENROLMENT = dt.date(2020, 7, 6)
ENROLMENT_DAYS = 365
DATA_CUTOFF = FIRST_ENROLMENT + dt.timedelta(days=760)
VISIT_INTERVAL_DAYS = 28

# Planted effects. Response: coefficients of the latent-utility logistic model (per SD of the latent
# variable). PFS: log hazard ratios of the Weibull progression model.
RESPONSE_LOG_ODDS_IMMUNE = 3.0
RESPONSE_LOG_ODDS_TMB = 1.5
RESPONSE_LOG_ODDS_KRAS = -2.0
PFS_LOG_HR_IMMUNE = -1.2
PFS_LOG_HR_KRAS = 2.0
PFS_LOG_HR_CDKN2A = 1.2
RNA_IMMUNE_LOG2_PER_SD = 1.0
PROTEIN_CHEMOKINE_LOG2_PER_SD = 1.2
RNA_STROMAL_LOG2_PER_SD = 0.8
RNA_PROLIFERATION_LOG2_PER_SD = 0.7

PFS_WEIBULL_SHAPE = 1.3
PFS_MEDIAN_DAYS_AT_ZERO = 190.0
PPS_WEIBULL_SHAPE = 1.2
PPS_MEDIAN_DAYS_AT_ZERO = 300.0

# log2(TMB per Mb) of BTC exomes: median about 2.8 mutations/Mb.
LOG2_TMB_MEAN = math.log2(2.8)
LOG2_TMB_SD = 0.6

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

# (CTCAE term, patients with any grade, patients with grade >= 3, median onset in days), all
# attributed to treatment; fractions typical of apatinib + camrelizumab.
RELATED_AE_SPEC = (
    ("Hypertension", 0.70, 0.25, 14),
    ("Palmar-plantar erythrodysesthesia syndrome", 0.45, 0.10, 28),
    ("Proteinuria", 0.50, 0.05, 35),
    ("Reactive cutaneous capillary endothelial proliferation", 0.25, 0.0, 42),
    ("Fatigue", 0.40, 0.05, 21),
    ("Aspartate aminotransferase increased", 0.40, 0.10, 21),
    ("Alanine aminotransferase increased", 0.35, 0.05, 21),
    ("Platelet count decreased", 0.30, 0.05, 28),
    ("Hypothyroidism", 0.15, 0.0, 90),
)
UNRELATED_AE_SPEC = (
    ("Abdominal pain", 0.15, 0.0, 40),
    ("Biliary tract infection", 0.10, 0.10, 60),
)

PATIENT_COLUMNS = ("patient_id", "treatment_start", "last_contact", "death_date", "age", "sex",
                   "ecog", "primary_site", "prior_lines")
RECIST_COLUMNS = ("patient_id", "date", "target_sum_mm", "non_target", "new_lesion")
AE_COLUMNS = ("patient_id", "term", "grade", "onset_date", "related")
SAMPLE_COLUMNS = ("sample_id", "patient_id", "modality", "path", "column", "batch", "timepoint")
LABEL_COLUMNS = ("patient_id", "bor", "responder", "clinical_benefit", "pfs_months", "pfs_event",
                 "os_months", "os_event", "best_pct_change", "bor_unconfirmed")
TRUTH_COLUMNS = ("modality", "feature", "programme", "response_log_odds", "pfs_log_hr", "description")


@dataclass
class DemoCohort:
    """Every table of a demo cohort, in memory, before writing.

    ``rna_counts`` is genes x RNA samples (integers) and ``rna_summary`` the htseq-count summary lines
    per sample; ``mafs`` maps each WES sample to its MAF rows; ``copy_number`` is genes x CN samples
    (log2 ratios); ``proteins`` is proteins x baseline protein samples (raw intensities, NaN missing)
    and ``proteins_on_treatment`` the same for the on-treatment samples (a file of their own, so that
    proteins.tsv is the same with or without them). ``samples``, ``rna_counts`` and ``rna_summary``
    include the on-treatment samples (:mod:`trialomics.demo_on_treatment`).
    ``biology`` holds the per-patient latent variables that drove the omics, ``outcome_biology`` the
    ones that drove the outcomes (the same frame unless ``null``).
    """

    patients: pd.DataFrame
    recist: pd.DataFrame
    adverse_events: pd.DataFrame
    samples: pd.DataFrame
    rna_counts: pd.DataFrame
    rna_summary: pd.DataFrame
    mafs: dict
    copy_number: pd.DataFrame
    proteins: pd.DataFrame
    truth: pd.DataFrame
    expected_labels: pd.DataFrame
    biology: pd.DataFrame
    outcome_biology: pd.DataFrame
    null: bool
    proteins_on_treatment: pd.DataFrame | None = None


def _rng(seed: int, *keys: object) -> np.random.Generator:
    return np.random.default_rng(derive_seed(seed, "demo", *keys))


def _iso(day0: dt.date, offset_days: int) -> str:
    return (day0 + dt.timedelta(days=int(offset_days))).isoformat()


def patient_ids(n_patients: int) -> list[str]:
    """``BTC01``, ``BTC02``... (at least two digits so that IDs sort in enrolment order)."""
    width = max(2, len(str(n_patients)))
    return [f"BTC{i:0{width}d}" for i in range(1, n_patients + 1)]


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
# Patients: covariates and latent biology
# --------------------------------------------------------------------------------------------------

def draw_patient_biology(rng: np.random.Generator, ids: Sequence[str]) -> pd.DataFrame:
    """Covariates, latent programme scores and genomic events per patient (index ``patient_id``).

    Planted genomic events have fixed counts so that every cohort has carriers: KRAS mutation in
    ``round(0.2 n)`` patients, CDKN2A/B deep deletion in ``round(0.15 n)``, ERBB2 amplification in one or
    two gallbladder cancers, one hypermutated tumour (n >= 10).
    """
    n = len(ids)
    site = rng.choice(["intrahepatic_cholangiocarcinoma", "extrahepatic_cholangiocarcinoma",
                       "gallbladder"], size=n, p=[0.5, 0.2, 0.3])
    bio = pd.DataFrame(index=pd.Index(list(ids), name="patient_id"))
    bio["age"] = np.clip(np.round(rng.normal(61, 9, n)), 33, 81).astype(int)
    bio["sex"] = rng.choice(["female", "male"], size=n, p=[0.5, 0.5])
    bio["ecog"] = rng.choice([0, 1], size=n, p=[0.4, 0.6])
    bio["primary_site"] = site
    bio["prior_lines"] = rng.choice([1, 2, 3], size=n, p=[0.6, 0.3, 0.1])
    bio["immune_score"] = rng.normal(0, 1, n)
    bio["stromal_score"] = rng.normal(0, 1, n)
    bio["proliferation_score"] = rng.normal(0, 1, n)
    bio["purity"] = rng.uniform(0.4, 0.85, n)
    bio["log2_tmb"] = rng.normal(LOG2_TMB_MEAN, LOG2_TMB_SD, n)
    bio["hypermutated"] = False
    if n >= 10:
        hyper = rng.integers(n)
        bio.iloc[hyper, bio.columns.get_loc("hypermutated")] = True
        bio.iloc[hyper, bio.columns.get_loc("log2_tmb")] = math.log2(rng.uniform(14, 22))
    bio["kras_mutant"] = _exactly(rng, n, round(0.2 * n))
    bio["cdkn2a_deleted"] = _exactly(rng, n, round(0.15 * n))
    # deep deletions are called reliably only in reasonably pure tumours
    bio.loc[bio["cdkn2a_deleted"], "purity"] = np.maximum(bio.loc[bio["cdkn2a_deleted"], "purity"], 0.6)
    gbc = np.flatnonzero(site == "gallbladder")
    amplified = np.zeros(n, dtype=bool)
    if len(gbc):
        amplified[rng.choice(gbc, size=1 if len(gbc) < 5 else 2, replace=False)] = True
    bio["erbb2_amplified"] = amplified
    return bio


def _exactly(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    flags = np.zeros(n, dtype=bool)
    flags[rng.choice(n, size=min(k, n), replace=False)] = True
    return flags


def _tmb_z(bio: pd.DataFrame) -> np.ndarray:
    return ((bio["log2_tmb"] - LOG2_TMB_MEAN) / LOG2_TMB_SD).to_numpy()


def response_linear_predictor(bio: pd.DataFrame) -> np.ndarray:
    """Planted response log-odds per patient (latent-utility logistic model)."""
    return (RESPONSE_LOG_ODDS_IMMUNE * bio["immune_score"].to_numpy() + RESPONSE_LOG_ODDS_TMB * _tmb_z(bio)
            + RESPONSE_LOG_ODDS_KRAS * bio["kras_mutant"].to_numpy(dtype=float))


def pfs_linear_predictor(bio: pd.DataFrame) -> np.ndarray:
    """Planted log hazard of progression per patient (Weibull proportional hazards)."""
    return (PFS_LOG_HR_IMMUNE * bio["immune_score"].to_numpy()
            + PFS_LOG_HR_KRAS * bio["kras_mutant"].to_numpy(dtype=float)
            + PFS_LOG_HR_CDKN2A * bio["cdkn2a_deleted"].to_numpy(dtype=float))


def _weibull(rng: np.random.Generator, median_at_zero: float, shape: float, lp: np.ndarray) -> np.ndarray:
    scale = median_at_zero / math.log(2) ** (1 / shape)
    return scale * (-np.log(rng.uniform(size=len(lp))) / np.exp(lp)) ** (1 / shape)


# --------------------------------------------------------------------------------------------------
# Outcomes and RECIST visits
# --------------------------------------------------------------------------------------------------

@dataclass
class _Course:
    """One patient's simulated course, in days from treatment start."""

    start: int
    role: str
    progression_day: float
    death_day: float
    last_contact_day: int
    baseline_day: int
    visit_days: list
    progression_visit: int | None  # 0-based index into visit_days, None if no progression seen
    response_visit: int | None = None
    ne_visit: int | None = None
    extra_scan_after_pd: bool = False


def _schedule(rng: np.random.Generator, course: _Course) -> None:
    """Monthly visits (+-3 days) until death or last contact; stop after the progression visit."""
    days, k = [], 1
    while True:
        day = VISIT_INTERVAL_DAYS * k + int(rng.integers(-3, 4))
        if day >= course.death_day or day > course.last_contact_day:
            break
        days.append(day)
        if day >= course.progression_day:
            break
        k += 1
    course.visit_days = days
    course.progression_visit = len(days) - 1 if days and days[-1] >= course.progression_day else None


def simulate_outcomes(rng: np.random.Generator, bio: pd.DataFrame) -> dict[str, _Course]:
    """Enrolment, responders, progression and death times, visit schedule and edge-case roles.

    Responders are the ``round(0.2 n)`` patients with the largest planted response log-odds plus
    standard logistic noise; their progression is delayed until a confirmed response can be observed
    (three assessments showing the response, the first at visit 1 or 2). One non-responder dies before
    the first assessment and ``round(0.1 n)`` others die without radiological progression. Among the
    other non-responders, patients are given the RECIST edge cases (unconfirmed PR, new lesion with
    shrinking targets, an increase of >= 20% but < 5 mm, not-evaluable visits, a scan after
    progression) when their visit schedule allows.
    """
    n = len(bio)
    ids = list(bio.index)
    cutoff = (DATA_CUTOFF - FIRST_ENROLMENT).days
    starts = np.sort(rng.integers(0, ENROLMENT_DAYS, n))
    utility = response_linear_predictor(bio) + rng.logistic(size=n)
    n_responders = round(0.2 * n)
    responders = set(np.argsort(-utility, kind="stable")[:n_responders].tolist())
    pfs_lp = pfs_linear_predictor(bio)
    progression = _weibull(rng, PFS_MEDIAN_DAYS_AT_ZERO, PFS_WEIBULL_SHAPE, pfs_lp)
    post_progression = _weibull(rng, PPS_MEDIAN_DAYS_AT_ZERO, PPS_WEIBULL_SHAPE, 0.5 * pfs_lp)
    death_priority = rng.uniform(size=n)
    death_fraction = rng.uniform(0.5, 0.95, n)
    response_onset = rng.integers(1, 3, n)
    responder_delay = rng.uniform(0, 120, n)
    non_responders = [i for i in range(n) if i not in responders]
    early_death = non_responders[int(np.argmax(pfs_lp[non_responders]
                                               + rng.gumbel(size=len(non_responders))))]
    # round(0.1 n) non-responders die without radiological progression, after at least one assessment
    can_die_first = [i for i in non_responders
                     if i != early_death and death_fraction[i] * progression[i] > 2 * VISIT_INTERVAL_DAYS]
    dies_first = set(sorted(can_die_first, key=lambda i: death_priority[i])[:round(0.1 * n)])
    courses: dict[str, _Course] = {}
    for i, pid in enumerate(ids):
        role = "responder" if i in responders else "standard"
        prog, death = float(progression[i]), float(progression[i] + post_progression[i])
        if role == "responder":
            # response at visit r, confirmed at r+1 and r+2, progression not before visit r+3
            prog = max(prog, VISIT_INTERVAL_DAYS * (response_onset[i] + 2) + 10 + responder_delay[i])
            death = prog + post_progression[i]
        elif i == early_death:
            role, prog, death = "early_death", math.inf, float(rng.integers(12, 23))
        elif i in dies_first:
            prog, death = math.inf, death_fraction[i] * prog
        death = math.ceil(death)
        patient_cutoff = cutoff - int(starts[i])
        last_contact = death if death <= patient_cutoff else patient_cutoff - int(rng.integers(0, 15))
        course = _Course(start=int(starts[i]), role=role, progression_day=prog, death_day=death,
                         last_contact_day=int(last_contact), baseline_day=-int(rng.integers(3, 26)),
                         visit_days=[], progression_visit=None)
        _schedule(rng, course)
        if role == "responder":
            course.response_visit = int(response_onset[i]) - 1
        courses[pid] = course
    _assign_edge_cases(rng, courses)
    return courses


def _pre_progression_visits(course: _Course) -> int:
    return course.progression_visit if course.progression_visit is not None else len(course.visit_days)


def _assign_edge_cases(rng: np.random.Generator, courses: dict[str, _Course]) -> None:
    def pick(condition) -> str | None:
        candidates = [pid for pid, c in courses.items() if c.role == "standard" and condition(c)]
        return candidates[int(rng.integers(len(candidates)))] if candidates else None

    # PR at the visit before progression, which is at >= 6 weeks, so the best response is SD
    pid = pick(lambda c: c.progression_visit is not None and c.progression_visit >= 2)
    if pid:
        courses[pid].role = "unconfirmed_pr"
    pid = pick(lambda c: c.progression_visit is not None and c.progression_visit >= 1)
    if pid:
        courses[pid].role = "new_lesion_shrinking"
    pid = pick(lambda c: _pre_progression_visits(c) >= 3)
    if pid:
        courses[pid].role = "small_lesion_increase"
    for _ in range(2):
        pid = pick(lambda c: _pre_progression_visits(c) >= 4 and c.ne_visit is None)
        if pid:
            courses[pid].ne_visit = int(rng.integers(1, _pre_progression_visits(courses[pid]) - 1))
    for _ in range(2):
        pid = pick(lambda c: c.progression_visit is not None and not c.extra_scan_after_pd
                   and c.visit_days[-1] + VISIT_INTERVAL_DAYS + 3 < min(c.death_day, c.last_contact_day))
        if pid:
            courses[pid].extra_scan_after_pd = True


def _not_pd_max(nadir: int) -> int:
    """Largest sum that is not target progression: PD needs >= 20% AND >= 5 mm above the nadir."""
    return max(nadir + 4, math.ceil(1.2 * nadir) - 1)


def _pd_sum(rng: np.random.Generator, nadir: int) -> int:
    return max(math.ceil(1.2 * nadir * rng.uniform(1.01, 1.3)), nadir + 5 + int(rng.integers(0, 6)))


def simulate_assessments(rng: np.random.Generator, course: _Course) -> list[tuple]:
    """RECIST rows ``(day, target_sum_mm or None, non_target, new_lesion)`` for one course.

    Sums are whole millimetres. Stable disease stays within (-30%, +20% or +5 mm of the nadir);
    responses reach <= -30% and stay there until progression; progression is by target growth (>= 20%
    and >= 5 mm above the nadir), a new lesion or unequivocal non-target progression.
    """
    small = course.role == "small_lesion_increase"
    baseline = int(rng.integers(22, 26)) if small else int(rng.integers(35, 141))
    non_target = "NON_CR_NON_PD" if rng.uniform() < 0.7 else "ABSENT"
    rows = [(course.baseline_day, baseline, non_target, "no")]
    pr_max = math.floor(0.7 * baseline)  # a sum <= 70% of baseline is a partial response
    n_pre = _pre_progression_visits(course)
    nadir, pct = baseline, 0.0
    small_nadir = int(rng.integers(pr_max + 1, min(20, baseline - 3) + 1)) if small else 0
    for j, day in enumerate(course.visit_days[:n_pre]):
        if course.ne_visit == j:
            rows.append((day, None, "NE", "no"))
            continue
        if course.role == "responder" and j >= course.response_visit:
            pct = (max(pct - rng.uniform(-3, 8), -75.0) if j > course.response_visit
                   else rng.uniform(-48, -32))
            total = min(round(baseline * (1 + pct / 100)), pr_max)
        elif course.role == "responder":
            total = round(baseline * (1 + rng.uniform(-25, -10) / 100))
        elif course.role == "unconfirmed_pr" and j == n_pre - 1:
            total = min(round(baseline * (1 + rng.uniform(-40, -31) / 100)), pr_max)
        elif small and j < 3:
            # down to a nadir of <= 20 mm, then +4 mm: >= 20% but < 5 mm, not progression
            total = (round((baseline + small_nadir) / 2), small_nadir, small_nadir + 4)[j]
        elif small:
            total = small_nadir + int(rng.integers(1, 5))
        else:
            low, high = (-15.0, 5.0) if course.role == "new_lesion_shrinking" else (-28.0, 15.0)
            pct = float(np.clip(pct + rng.normal(-1.5, 5), low, high))
            total = max(round(baseline * (1 + pct / 100)), pr_max + 1)
            if total > _not_pd_max(nadir):
                total = max(nadir, _not_pd_max(nadir) - int(rng.integers(0, 4)))
            pct = 100.0 * (total / baseline - 1)
        nadir = min(nadir, total)
        rows.append((day, total, non_target, "no"))
    if course.progression_visit is None:
        return rows
    day = course.visit_days[course.progression_visit]
    previous = next(r[1] for r in reversed(rows) if r[1] is not None)
    if course.role == "new_lesion_shrinking":
        rows.append((day, max(previous - int(rng.integers(2, 6)), pr_max + 1), non_target, "yes"))
    else:
        kind = rng.choice(["target", "new_lesion", "non_target"], p=[0.6, 0.3, 0.1])
        if course.role in ("unconfirmed_pr", "small_lesion_increase") or (
                kind == "non_target" and non_target == "ABSENT"):
            kind = "target"
        if kind == "target":
            rows.append((day, _pd_sum(rng, nadir), non_target, "no"))
        elif kind == "new_lesion":
            rows.append((day, min(previous, _not_pd_max(nadir)), non_target, "yes"))
        else:
            rows.append((day, min(previous, _not_pd_max(nadir)), "PD", "no"))
    if course.extra_scan_after_pd:
        _, total, nt, new = rows[-1]
        extra_day = day + VISIT_INTERVAL_DAYS + int(rng.integers(-3, 4))
        rows.append((extra_day, round(total * rng.uniform(1.05, 1.25)), nt, new))
    return rows


# --------------------------------------------------------------------------------------------------
# Clinical tables
# --------------------------------------------------------------------------------------------------

def build_clinical_tables(rng: np.random.Generator, bio: pd.DataFrame,
                          courses: Mapping[str, _Course]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``patients.tsv`` and ``recist.tsv`` rows from the covariates and simulated courses."""
    cutoff = (DATA_CUTOFF - FIRST_ENROLMENT).days
    patients, recist = [], []
    for pid, course in courses.items():
        start = FIRST_ENROLMENT + dt.timedelta(days=course.start)
        died = course.death_day <= cutoff - course.start
        patients.append({
            "patient_id": pid, "treatment_start": start.isoformat(),
            "last_contact": _iso(start, course.last_contact_day),
            "death_date": _iso(start, course.death_day) if died else "",
            "age": int(bio.at[pid, "age"]), "sex": bio.at[pid, "sex"], "ecog": int(bio.at[pid, "ecog"]),
            "primary_site": bio.at[pid, "primary_site"], "prior_lines": int(bio.at[pid, "prior_lines"]),
        })
        for day, total, non_target, new in simulate_assessments(rng, course):
            recist.append({"patient_id": pid, "date": _iso(start, day),
                           "target_sum_mm": "" if total is None else str(int(total)),
                           "non_target": non_target, "new_lesion": new})
    return (pd.DataFrame(patients, columns=list(PATIENT_COLUMNS)),
            pd.DataFrame(recist, columns=list(RECIST_COLUMNS)))


def simulate_adverse_events(rng: np.random.Generator, patients: pd.DataFrame,
                            courses: Mapping[str, _Course]) -> pd.DataFrame:
    """Adverse events with fixed per-term patient counts (``round(fraction * n)``), CTCAE terms.

    Onsets fall within each patient's follow-up. One patient has a pre-treatment event (not
    treatment-emergent) and the patient who died before the first assessment has a fatal unrelated
    hepatic failure on the day of death.
    """
    ids = list(patients["patient_id"])
    n = len(ids)
    start = {p: dt.date.fromisoformat(s) for p, s in zip(ids, patients["treatment_start"])}
    rows = []
    for spec, related in ((RELATED_AE_SPEC, "yes"), (UNRELATED_AE_SPEC, "no")):
        for term, any_fraction, severe_fraction, median_onset in spec:
            hit = rng.permutation(n)[:round(any_fraction * n)]
            severe = set(hit[:round(severe_fraction * n)].tolist())
            for i in hit:
                pid = ids[i]
                end = max(1, min(courses[pid].last_contact_day, courses[pid].death_day))
                onset = int(round(median_onset * math.exp(rng.normal(0, 0.5))))
                if onset > end:
                    onset = int(rng.integers(1, end + 1))
                if i in severe:
                    grade = 4 if term == "Platelet count decreased" and rng.uniform() < 0.3 else 3
                else:
                    grade = int(rng.choice([1, 2], p=[0.55, 0.45]))
                rows.append((pid, term, grade, _iso(start[pid], max(onset, 1)), related))
    early = [p for p, c in courses.items() if c.role == "early_death"]
    for pid in early:
        rows.append((pid, "Hepatic failure", 5, _iso(start[pid], courses[pid].death_day), "no"))
    others = [p for p in ids if p not in early]
    if others:
        pid = others[int(rng.integers(len(others)))]
        rows.append((pid, "Abdominal pain", 1, _iso(start[pid], -int(rng.integers(3, 10))), "no"))
    ae = pd.DataFrame(rows, columns=list(AE_COLUMNS))
    return ae.sort_values(["patient_id", "onset_date", "term"], kind="stable").reset_index(drop=True)


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
    out = pd.DataFrame(index=pd.Index(profiled.index, name="gene"))
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
        out[sample_id] = np.round(log2, 4)
    return out


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


# --------------------------------------------------------------------------------------------------
# Truth and the labels a correct analysis must derive
# --------------------------------------------------------------------------------------------------

def planted_truth(null: bool = False) -> pd.DataFrame:
    """One row per planted feature with its response log-odds and PFS log hazard ratio.

    Effects are per SD of the latent driver (immune score, log2 TMB) or for carriers vs non-carriers
    (KRAS mutation, CDKN2A-locus deletion). Under ``null`` the same rows are written with effects 0.
    """
    rows = []
    for gene in IMMUNE_PROGRAMME_RNA:
        rows.append(("rna", gene, "ifng_tcell_inflamed", RESPONSE_LOG_ODDS_IMMUNE, PFS_LOG_HR_IMMUNE,
                     f"log2 expression rises {RNA_IMMUNE_LOG2_PER_SD} per SD of the immune score; "
                     "effects per SD of the immune score"))
    for gene in IMMUNE_PROGRAMME_PROTEINS:
        rows.append(("proteins", gene, "ifng_tcell_inflamed", RESPONSE_LOG_ODDS_IMMUNE, PFS_LOG_HR_IMMUNE,
                     f"log2 intensity rises {PROTEIN_CHEMOKINE_LOG2_PER_SD} per SD of the immune score; "
                     "effects per SD of the immune score"))
    rows.append(("mutations", "TMB", "tumour_mutational_burden", RESPONSE_LOG_ODDS_TMB, 0.0,
                 f"non-synonymous mutations per Mb; log2 TMB ~ N(log2 2.8, {LOG2_TMB_SD}); effects per SD "
                 "of log2 TMB"))
    rows.append(("mutations", "KRAS", "kras_mutation", RESPONSE_LOG_ODDS_KRAS, PFS_LOG_HR_KRAS,
                 "non-silent KRAS mutation (hotspots G12/G13/Q61), carriers vs others"))
    for gene in CDKN2A_LOCUS_GENES:
        rows.append(("copy_number", gene, "cdkn2a_deletion", 0.0, PFS_LOG_HR_CDKN2A,
                     "9p21.3 deep deletion (MTAP, CDKN2A, CDKN2B), carriers vs others"))
    truth = pd.DataFrame(rows, columns=list(TRUTH_COLUMNS))
    if null:
        truth[["response_log_odds", "pfs_log_hr"]] = 0.0
        truth["description"] = "null cohort: outcomes independent of omics; " + truth["description"]
    return truth


def _visit_response(total, non_target: str, new_lesion: str, baseline: float, nadir: float):
    progressed = new_lesion == "yes" or non_target == "PD"
    if total is None:
        return "PD" if progressed else "NE"
    if total >= 1.2 * nadir and total - nadir >= 5:
        return "PD"
    if progressed:
        return "PD"
    if total == 0:
        return "CR" if non_target in ("CR", "ABSENT") else "PR"
    return "PR" if total <= 0.7 * baseline else "SD"


def derive_expected_labels(patients: pd.DataFrame, recist: pd.DataFrame,
                           confirmation_days: int = CONFIRMATION_DAYS, sd_min_days: int = SD_MIN_DAYS,
                           benefit_months: float = BENEFIT_MONTHS) -> pd.DataFrame:
    """The labels a RECIST 1.1 derivation must find, with the generator's own simple rules.

    Per visit: target PD if the sum is >= 20% and >= 5 mm above the nadir (smallest sum so far,
    baseline included); PR if <= 70% of baseline; overall PD also for a new lesion or non-target PD;
    a visit without a target sum is NE. Best response counts CR/PR only when a later visit at least
    ``confirmation_days`` later is CR/PR; otherwise SD if some non-PD evaluable visit was at least
    ``sd_min_days`` after treatment start; otherwise PD if progression was seen; else NE. PFS is the
    first PD or death, censored at the last evaluable assessment (day 0 without one); OS is death,
    censored at last contact. Months are days / 30.4375.
    """
    rows = []
    for p in patients.itertuples(index=False):
        start = dt.date.fromisoformat(p.treatment_start)
        visits = recist[recist["patient_id"] == p.patient_id].sort_values("date")
        days = [(dt.date.fromisoformat(d) - start).days for d in visits["date"]]
        sums = [float(s) if s != "" else None for s in visits["target_sum_mm"]]
        base_idx = max(i for i, d in enumerate(days) if d <= 0)
        baseline = sums[base_idx]
        nadir = baseline
        responses = []
        for day, total, nt, new in zip(days[base_idx + 1:], sums[base_idx + 1:],
                                       list(visits["non_target"])[base_idx + 1:],
                                       list(visits["new_lesion"])[base_idx + 1:]):
            response = _visit_response(total, nt, new, baseline, nadir)
            responses.append((day, response, total))
            if total is not None:
                nadir = min(nadir, total)
            if response == "PD":
                break
        confirmed = {r for i, (d, r, _) in enumerate(responses) if r in ("CR", "PR")
                     and any(d2 - d >= confirmation_days and (r2 == "CR" if r == "CR" else r2 in ("CR", "PR"))
                             for d2, r2, _ in responses[i + 1:])}
        stable = any(r in ("CR", "PR", "SD") and d >= sd_min_days for d, r, _ in responses)
        progressed = any(r == "PD" for _, r, _ in responses)
        fallback = "SD" if stable else "PD" if progressed else "NE"
        bor = "CR" if "CR" in confirmed else "PR" if confirmed else fallback
        seen = {r for _, r, _ in responses}
        bor_unconfirmed = "CR" if "CR" in seen else "PR" if "PR" in seen else fallback
        death = (dt.date.fromisoformat(p.death_date) - start).days if p.death_date else None
        pd_day = next((d for d, r, _ in responses if r == "PD"), None)
        event_days = [d for d in (pd_day, death) if d is not None]
        if event_days:
            pfs_days, pfs_event = min(event_days), 1
        else:
            evaluable = [d for d, r, _ in responses if r != "NE"]
            pfs_days, pfs_event = (evaluable[-1] if evaluable else 0), 0
        os_days = death if death is not None else (dt.date.fromisoformat(p.last_contact) - start).days
        changes = [100.0 * (t - baseline) / baseline for _, _, t in responses if t is not None]
        pfs_months = pfs_days / DAYS_PER_MONTH
        responder = bor in ("CR", "PR")
        rows.append({
            "patient_id": p.patient_id, "bor": bor, "responder": "yes" if responder else "no",
            "clinical_benefit": "yes" if responder or pfs_months > benefit_months else "no",
            "pfs_months": pfs_months, "pfs_event": pfs_event, "os_months": os_days / DAYS_PER_MONTH,
            "os_event": int(death is not None), "best_pct_change": min(changes) if changes else np.nan,
            "bor_unconfirmed": bor_unconfirmed,
        })
    return pd.DataFrame(rows, columns=list(LABEL_COLUMNS))


def kaplan_meier_median(times: Sequence[float], events: Sequence[int]) -> float:
    """Kaplan–Meier median: the first time at which survival drops to 0.5 or below (NaN if never)."""
    t = np.asarray(times, dtype=float)
    e = np.asarray(events, dtype=int)
    survival = 1.0
    for time in np.unique(t[e == 1]):
        at_risk = np.sum(t >= time)
        survival *= 1 - np.sum((t == time) & (e == 1)) / at_risk
        if survival <= 0.5:
            return float(time)
    return float("nan")


def summarise_outcomes(labels: pd.DataFrame) -> dict:
    """ORR (confirmed), best-response counts, clinical benefit, median PFS and OS (months)."""
    counts = labels["bor"].value_counts()
    n = len(labels)
    return {
        "n": n,
        "responders": int((labels["responder"] == "yes").sum()),
        "orr": float((labels["responder"] == "yes").mean()) if n else float("nan"),
        **{f"n_{k}": int(counts.get(k, 0)) for k in ("CR", "PR", "SD", "PD", "NE")},
        "clinical_benefit": int((labels["clinical_benefit"] == "yes").sum()),
        "median_pfs_months": kaplan_meier_median(labels["pfs_months"], labels["pfs_event"]),
        "median_os_months": kaplan_meier_median(labels["os_months"], labels["os_event"]),
        "deaths": int(labels["os_event"].sum()),
    }


def format_outcome_summary(summary: Mapping) -> str:
    """Markdown bullet list of :func:`summarise_outcomes` (as quoted in ``resources/demo/README.md``)."""
    return "\n".join([
        f"- patients: {summary['n']}; confirmed responses: {summary['responders']} "
        f"(ORR {summary['orr']:.0%}: CR {summary['n_CR']}, PR {summary['n_PR']})",
        f"- best overall response: SD {summary['n_SD']}, PD {summary['n_PD']}, NE {summary['n_NE']}",
        f"- clinical benefit (CR/PR or PFS > 6 months): {summary['clinical_benefit']}",
        f"- median PFS: {summary['median_pfs_months']:.1f} months (Kaplan–Meier)",
        f"- median OS: {summary['median_os_months']:.1f} months (Kaplan–Meier); "
        f"deaths: {summary['deaths']}",
    ])


# --------------------------------------------------------------------------------------------------
# Whole cohort
# --------------------------------------------------------------------------------------------------

@dataclass
class DemoClinical:
    """The clinical half of a demo cohort: latent variables, courses, tables and expected labels."""

    biology: pd.DataFrame
    outcome_biology: pd.DataFrame
    courses: dict
    patients: pd.DataFrame
    recist: pd.DataFrame
    expected_labels: pd.DataFrame


def simulate_clinical(seed: int, ids: Sequence[str], null: bool = False) -> DemoClinical:
    """Patients, RECIST assessments and expected labels of the demo (the same streams as the cohort).

    The omics are always generated from ``biology``; outcomes come from ``outcome_biology``, which is
    ``biology`` itself, or with ``null`` an independent draw from the same distribution.
    """
    bio = draw_patient_biology(_rng(seed, "biology"), ids)
    outcome_bio = draw_patient_biology(_rng(seed, "null_biology"), ids) if null else bio
    courses = simulate_outcomes(_rng(seed, "outcomes"), outcome_bio)
    patients, recist = build_clinical_tables(_rng(seed, "recist"), bio, courses)
    return DemoClinical(biology=bio, outcome_biology=outcome_bio, courses=courses, patients=patients,
                        recist=recist, expected_labels=derive_expected_labels(patients, recist))


def generate_demo_cohort(n_patients: int = 20, n_genes: int = 20000, n_proteins: int = 3000,
                         seed: int = DEFAULT_SEED, null: bool = False,
                         gene_sets: Mapping[str, Sequence[str]] | None = None) -> DemoCohort:
    """Simulate a whole demo cohort in memory (see the module docstring for the design).

    Every component draws from its own stream, ``derive_seed(seed, "demo", component)``, so the omics
    of a ``null`` cohort are identical to those of the planted cohort with the same seed; only the
    outcomes (and the adverse events, which depend on follow-up) change.
    """
    from .demo_on_treatment import early_change_truth, simulate_on_treatment

    if n_patients < 5:
        raise ValueError("the demo needs at least 5 patients")
    ids = patient_ids(n_patients)
    genes = build_gene_universe(_rng(seed, "genes"), n_genes, gene_sets or {})
    clinical = simulate_clinical(seed, ids, null)
    bio, patients, recist = clinical.biology, clinical.patients, clinical.recist
    adverse_events = simulate_adverse_events(_rng(seed, "adverse_events"), patients, clinical.courses)
    samples = build_sample_sheet(_rng(seed, "samples"), ids)
    rna_counts, rna_summary = simulate_rna_counts(_rng(seed, "rna"), genes, bio, samples)
    mafs = simulate_mutations(_rng(seed, "mutations"), genes, bio, samples)
    copy_number = simulate_copy_number(_rng(seed, "copy_number"), genes, bio, samples)
    proteins = simulate_proteins(_rng(seed, "proteins"), genes, bio, samples, n_proteins)
    # After everything else, from streams of their own: the baseline files do not change. They follow
    # the planted cohort's courses, so a null cohort keeps the same omics.
    planted = simulate_clinical(seed, ids, null=False) if null else clinical
    on_treatment = simulate_on_treatment(seed, genes, bio, samples, planted.courses,
                                         planted.expected_labels, n_proteins)
    return DemoCohort(
        patients=patients, recist=recist, adverse_events=adverse_events,
        samples=pd.concat([samples, on_treatment.samples], ignore_index=True),
        rna_counts=pd.concat([rna_counts, on_treatment.rna_counts], axis=1),
        rna_summary=pd.concat([rna_summary, on_treatment.rna_summary], axis=1),
        mafs=mafs, copy_number=copy_number, proteins=proteins,
        truth=pd.concat([planted_truth(null), early_change_truth(null)], ignore_index=True),
        expected_labels=clinical.expected_labels, biology=bio, outcome_biology=clinical.outcome_biology,
        null=null, proteins_on_treatment=on_treatment.proteins,
    )


def _write_text(text: str, path: Path) -> None:
    final, tmp = atomic_path(path)
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        tmp.replace(final)
    finally:
        tmp.unlink(missing_ok=True)


def write_demo_cohort(cohort: DemoCohort, out_dir: str | Path) -> list[Path]:
    """Write the cohort in the input-contract formats under ``out_dir``; return the files written.

    Generated per-sample files left over from an earlier run (``rna/*.counts.tsv``,
    ``mutations/*.maf`` not in the new sample sheet) are removed so the folder matches the sheet.
    """
    from .demo_on_treatment import PROTEINS_ON_TREATMENT_FILE

    out = Path(out_dir)
    written = []

    def table(df: pd.DataFrame, name: str, index: bool = False) -> None:
        write_tsv(df, out / name, index=index)
        written.append(out / name)

    table(cohort.patients, "patients.tsv")
    table(cohort.recist, "recist.tsv")
    table(cohort.adverse_events, "adverse_events.tsv")
    table(cohort.samples, "samples.tsv")
    table(cohort.copy_number, "copy_number.tsv", index=True)
    proteins = cohort.proteins.astype("Int64")
    table(proteins, "proteins.tsv", index=True)
    if cohort.proteins_on_treatment is not None and not cohort.proteins_on_treatment.empty:
        table(cohort.proteins_on_treatment.astype("Int64"), PROTEINS_ON_TREATMENT_FILE, index=True)
    table(cohort.truth, "truth.tsv")
    table(cohort.expected_labels, "expected_labels.tsv")
    rna = cohort.samples[cohort.samples["modality"] == "rna"]
    for sample_id, rel in zip(rna["sample_id"], rna["path"]):
        lines = [f"{g}\t{c}" for g, c in zip(cohort.rna_counts.index, cohort.rna_counts[sample_id])]
        lines += [f"{g}\t{c}" for g, c in zip(cohort.rna_summary.index, cohort.rna_summary[sample_id])]
        _write_text("\n".join(lines) + "\n", out / rel)
        written.append(out / rel)
    wes = cohort.samples[cohort.samples["modality"] == "mutations"]
    for sample_id, rel in zip(wes["sample_id"], wes["path"]):
        body = cohort.mafs[sample_id].to_csv(sep="\t", index=False, lineterminator="\n")
        _write_text("#version 2.4\n" + body, out / rel)
        written.append(out / rel)
    keep = {p.resolve() for p in written}
    for pattern in ("rna/*.counts.tsv", "mutations/*.maf"):
        for stale in out.glob(pattern):
            if stale.resolve() not in keep:
                stale.unlink()
    return written
