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

The generator is split by concern: :mod:`trialomics.demo_clinical` (patient biology, outcomes, RECIST
assessments, adverse events, expected labels and their summary), :mod:`trialomics.demo_omics` (gene
universe, sample sheet, copy number, RNA, proteins, mutations) and
:mod:`trialomics.demo_on_treatment` (the on-treatment samples). This module assembles a cohort from
them (each component from its own random stream), plants the truth table and writes the files.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .demo_clinical import (LOG2_TMB_SD, PFS_LOG_HR_CDKN2A, PFS_LOG_HR_IMMUNE, PFS_LOG_HR_KRAS,
                            RESPONSE_LOG_ODDS_IMMUNE, RESPONSE_LOG_ODDS_KRAS, RESPONSE_LOG_ODDS_TMB,
                            build_clinical_tables, derive_expected_labels, draw_patient_biology,
                            simulate_adverse_events, simulate_outcomes)
from .demo_omics import (CDKN2A_LOCUS_GENES, IMMUNE_PROGRAMME_PROTEINS, IMMUNE_PROGRAMME_RNA,
                         PROTEIN_CHEMOKINE_LOG2_PER_SD, RNA_IMMUNE_LOG2_PER_SD, build_gene_universe,
                         build_sample_sheet, simulate_copy_number, simulate_mutations, simulate_proteins,
                         simulate_rna_counts)
from .seeds import derive_seed
from .tables import atomic_path, write_tsv

DEFAULT_SEED = 3152

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


# Every random stream is named in this module (here and in simulate_clinical); the component modules
# only take a generator, so they need not import this one.
def _rng(seed: int, *keys: object) -> np.random.Generator:
    return np.random.default_rng(derive_seed(seed, "demo", *keys))


def patient_ids(n_patients: int) -> list[str]:
    """``BTC01``, ``BTC02``... (at least two digits so that IDs sort in enrolment order)."""
    width = max(2, len(str(n_patients)))
    return [f"BTC{i:0{width}d}" for i in range(1, n_patients + 1)]


# --------------------------------------------------------------------------------------------------
# Planted truth
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
