"""On-treatment samples of the demo trial: a biopsy at cycle 2 day 1 with one planted early change.

Trials of PD-1 blockade often re-biopsy early on treatment, and the rise of cytotoxic T-cell transcripts
there tracks later response better than their baseline level (Chen et al., Cancer Discov 2016; Riaz et
al., Cell 2017). The demo plants that: every patient alive and on study at day
:data:`ON_TREATMENT_DAY` with a baseline RNA (proteomics) sample gets an RNA (proteomics) sample at
:data:`ON_TREATMENT_TIMEPOINT`, except one random patient per modality (a biopsy not done). The sample
repeats the patient's baseline biology, in the same sequencing run or TMT plex, with fresh sampling noise,
and :data:`EARLY_CHANGE_GENE` rises by ``EARLY_CHANGE_MEAN_LOG2 + EARLY_CHANGE_LOG2_PER_SD x score``
log2 units, where ``score`` is the patient's later tumour shrinkage (``-best_pct_change``, standardised
over the sampled patients) plus N(0, ``EARLY_CHANGE_NOISE_SD``) noise. The baseline level of the gene is
not associated with outcome, so only the change predicts response.

Everything here draws from its own streams (``derive_seed(seed, "demo", "on_treatment", ...)``) after
the baseline cohort is complete, and re-creates the RNA and protein gene-level parameters from their
own streams, so the baseline files stay byte-identical with or without on-treatment samples. A ``null``
cohort has the same omics as the planted cohort of its seed, on-treatment samples included: they follow
the planted cohort's courses and shrinkage, so they are unrelated to the null cohort's own outcomes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

ON_TREATMENT_TIMEPOINT = "C2D1"
ON_TREATMENT_DAY = 28
EARLY_CHANGE_GENE = "GZMB"
EARLY_CHANGE_PROGRAMME = "early_cytotoxic_activation"
EARLY_CHANGE_MEAN_LOG2 = 2.0
EARLY_CHANGE_LOG2_PER_SD = 1.2
EARLY_CHANGE_NOISE_SD = 0.5
#: The file holding the on-treatment proteomics samples (proteins.tsv keeps the baseline ones only).
PROTEINS_ON_TREATMENT_FILE = "proteins_on_treatment.tsv"
#: Modality and sample-id suffix of the on-treatment samples.
ON_TREATMENT_MODALITIES = {"rna": "RNA", "proteins": "PROT"}


@dataclass
class OnTreatment:
    """The on-treatment half of a demo cohort: sample sheet rows, RNA counts, protein intensities."""

    samples: pd.DataFrame
    rna_counts: pd.DataFrame
    rna_summary: pd.DataFrame
    proteins: pd.DataFrame
    change_score: pd.Series


def sampled_patients(rng: np.random.Generator, baseline_samples: pd.DataFrame, modality: str,
                     on_study: set[str]) -> list[str]:
    """Patients with a baseline sample of ``modality`` who are on study at the biopsy, minus one at random."""
    have = baseline_samples.loc[baseline_samples["modality"] == modality, "patient_id"]
    eligible = [p for p in have if p in on_study]
    if len(eligible) > 3:
        eligible.pop(int(rng.integers(len(eligible))))
    return eligible


def early_change_score(rng: np.random.Generator, expected_labels: pd.DataFrame, patients: list[str]) -> pd.Series:
    """Per patient: later tumour shrinkage (``-best_pct_change``), standardised, plus noise."""
    shrinkage = -pd.to_numeric(expected_labels.set_index("patient_id")["best_pct_change"].reindex(patients),
                               errors="coerce")
    shrinkage = shrinkage.fillna(shrinkage.mean())
    z = (shrinkage - shrinkage.mean()) / shrinkage.std(ddof=0)
    return z + rng.normal(0, EARLY_CHANGE_NOISE_SD, len(patients))


def early_change_log2(score: float) -> float:
    """The planted log2 change of :data:`EARLY_CHANGE_GENE` for a patient's score."""
    return EARLY_CHANGE_MEAN_LOG2 + EARLY_CHANGE_LOG2_PER_SD * float(score)


def on_treatment_sample_id(patient: str, modality: str) -> str:
    return f"{patient}-{ON_TREATMENT_MODALITIES[modality]}-{ON_TREATMENT_TIMEPOINT}"


def simulate_on_treatment(seed: int, genes: pd.DataFrame, bio: pd.DataFrame, baseline_samples: pd.DataFrame,
                          courses: dict, expected_labels: pd.DataFrame, n_proteins: int) -> OnTreatment:
    """The on-treatment samples of a demo cohort (see the module docstring).

    ``courses`` and ``expected_labels`` are the planted cohort's (also for a ``null`` cohort).
    """
    from . import demo, demo_omics

    on_study = {p for p, c in courses.items()
                if min(c.death_day, c.last_contact_day) > ON_TREATMENT_DAY}
    rng = demo._rng(seed, "on_treatment", "patients")
    chosen = {m: sampled_patients(rng, baseline_samples, m, on_study) for m in ON_TREATMENT_MODALITIES}
    everyone = sorted(set(chosen["rna"]) | set(chosen["proteins"]))
    score = early_change_score(demo._rng(seed, "on_treatment", "score"), expected_labels, everyone)
    batch_of = baseline_samples.set_index("sample_id")["batch"]

    rows = []
    rna_model = demo_omics.rna_model(demo._rng(seed, "rna"), genes)
    rna_rng = demo._rng(seed, "on_treatment", "rna")
    counts, summary = {}, {}
    for patient in chosen["rna"]:
        sample = on_treatment_sample_id(patient, "rna")
        batch = str(batch_of[f"{patient}-RNA"])
        counts[sample], summary[sample] = demo_omics.simulate_rna_sample(
            rna_rng, rna_model, bio, patient, batch, {EARLY_CHANGE_GENE: early_change_log2(score[patient])})
        rows.append((sample, patient, "rna", f"rna/{sample}.counts.tsv", "", batch, ON_TREATMENT_TIMEPOINT))

    protein_batches = baseline_samples.loc[baseline_samples["modality"] == "proteins", "batch"]
    protein_model = demo_omics.protein_model(demo._rng(seed, "proteins"), genes, set(protein_batches), n_proteins)
    protein_rng = demo._rng(seed, "on_treatment", "proteins")
    intensities = {}
    for patient in chosen["proteins"]:
        sample = on_treatment_sample_id(patient, "proteins")
        batch = str(batch_of[f"{patient}-PROT"])
        intensities[sample] = demo_omics.simulate_protein_sample(
            protein_rng, protein_model, bio, patient, batch,
            {EARLY_CHANGE_GENE: early_change_log2(score[patient])})
        rows.append((sample, patient, "proteins", PROTEINS_ON_TREATMENT_FILE, sample, batch,
                     ON_TREATMENT_TIMEPOINT))

    return OnTreatment(
        samples=pd.DataFrame(rows, columns=list(demo_omics.SAMPLE_COLUMNS)),
        rna_counts=pd.DataFrame(counts, index=pd.Index(rna_model.genes, name="gene"), dtype=np.int64),
        rna_summary=pd.DataFrame(summary, index=pd.Index(demo_omics.HTSEQ_SUMMARY_LINES, name="gene")),
        proteins=pd.DataFrame(intensities, index=pd.Index(protein_model.proteins, name="protein")),
        change_score=score)


def early_change_truth(null: bool = False) -> pd.DataFrame:
    """The truth rows of the planted early change: one per change block (``rna_change``, ``proteins_change``).

    The change is planted on the outcome scale (it follows the later tumour shrinkage), so it has no
    response log-odds or PFS log hazard ratio of its own: those columns are empty (0 with ``null``).
    """
    description = (f"{ON_TREATMENT_TIMEPOINT} minus baseline log2 rises {EARLY_CHANGE_MEAN_LOG2} + "
                   f"{EARLY_CHANGE_LOG2_PER_SD} per SD of the later tumour shrinkage (plus noise SD "
                   f"{EARLY_CHANGE_NOISE_SD}); baseline level unrelated to outcome")
    effect = np.nan
    if null:
        effect = 0.0
        description = "null cohort: outcomes independent of omics; " + description
    return pd.DataFrame(
        [(block, EARLY_CHANGE_GENE, EARLY_CHANGE_PROGRAMME, effect, effect, description)
         for block in ("rna_change", "proteins_change")],
        columns=["modality", "feature", "programme", "response_log_odds", "pfs_log_hr", "description"])
