"""Tests of the demo trial generator (scripts/trialomics/demo*.py) and the committed resources/demo."""
from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from scipy import stats

import make_demo_cohort
from trialomics import clinical, demo, demo_clinical, demo_omics, demo_on_treatment, enrichment, mutations, readers
from trialomics.logrank import logrank_scores
from trialomics.tables import read_tsv

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "resources" / "demo"
GENE_SETS = REPO / "resources" / "gene_sets" / "immuno_oncology.gmt"
DEFAULT_COMMAND = ["--out", "{out}", "--patients", "20", "--genes", "20000", "--proteins", "3000",
                   "--seed", "3152"]
SMALL = ["--patients", "12", "--genes", "400", "--proteins", "200"]


def _run(out: Path, *args: str) -> Path:
    assert make_demo_cohort.main(["--out", str(out), *args]) == 0
    return out


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("demo")
    return {
        "a": _run(base / "a", *SMALL, "--seed", "7"),
        "b": _run(base / "b", *SMALL, "--seed", "7"),
        "other": _run(base / "other", *SMALL, "--seed", "8"),
        "null": _run(base / "null", *SMALL, "--seed", "7", "--null"),
    }


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("default") / "demo"
    return _run(out, *[a for a in DEFAULT_COMMAND[2:]])


def _smd(values: np.ndarray, group: np.ndarray) -> float:
    a, b = values[group], values[~group]
    pooled = math.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(values) - 2))
    return (a.mean() - b.mean()) / pooled


# --- determinism ---------------------------------------------------------------------------------

def test_same_seed_gives_identical_bytes(small):
    first, second = _files(small["a"]), _files(small["b"])
    assert first.keys() == second.keys()
    assert all(first[k] == second[k] for k in first)


def test_different_seed_gives_different_files(small):
    first, other = _files(small["a"]), _files(small["other"])
    for name in ("patients.tsv", "recist.tsv", "copy_number.tsv", "proteins.tsv", "rna/BTC01-RNA.counts.tsv",
                 "mutations/BTC01-WES.maf"):
        if name in first and name in other:
            assert first[name] != other[name], name


def test_committed_demo_matches_the_documented_command(regenerated):
    fresh = _files(regenerated)
    committed = {k: v for k, v in _files(COMMITTED).items() if k != "README.md"}
    assert fresh.keys() == committed.keys()
    assert [k for k in fresh if fresh[k] != committed[k]] == []


def test_readme_quotes_the_command_and_the_realised_outcomes():
    readme = (COMMITTED / "README.md").read_text(encoding="utf-8")
    command = " ".join(["python scripts/make_demo_cohort.py"]
                       + [a.replace("{out}", "resources/demo") for a in DEFAULT_COMMAND])
    assert command in readme
    labels = pd.read_csv(COMMITTED / "expected_labels.tsv", sep="\t")
    assert demo_clinical.format_outcome_summary(demo_clinical.summarise_outcomes(labels)) in readme


# --- input contract ------------------------------------------------------------------------------

def _is_iso(text: str) -> bool:
    try:
        return dt.date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


@pytest.mark.parametrize("folder_key", ["a", "committed"])
def test_files_follow_the_input_contract(small, folder_key):
    folder = COMMITTED if folder_key == "committed" else small["a"]
    patients = read_tsv(folder / "patients.tsv")
    assert list(patients.columns) == ["patient_id", "treatment_start", "last_contact", "death_date", "age",
                                      "sex", "ecog", "primary_site", "prior_lines"]
    assert patients["patient_id"].is_unique and patients["patient_id"].str.fullmatch(r"BTC\d{2,}").all()
    assert patients["treatment_start"].map(_is_iso).all() and patients["last_contact"].map(_is_iso).all()
    dead = patients["death_date"] != ""
    assert patients.loc[dead, "death_date"].map(_is_iso).all()
    assert (patients.loc[dead, "death_date"] == patients.loc[dead, "last_contact"]).all()
    assert (patients["last_contact"] >= patients["treatment_start"]).all()
    assert set(patients["ecog"]) <= {"0", "1"} and set(patients["prior_lines"]) <= {"1", "2", "3"}
    assert set(patients["primary_site"]) <= {"intrahepatic_cholangiocarcinoma",
                                             "extrahepatic_cholangiocarcinoma", "gallbladder"}

    recist = read_tsv(folder / "recist.tsv")
    assert list(recist.columns) == ["patient_id", "date", "target_sum_mm", "non_target", "new_lesion"]
    assert set(recist["non_target"]) <= {"CR", "NON_CR_NON_PD", "PD", "NE", "ABSENT"}
    assert set(recist["new_lesion"]) <= {"yes", "no"}
    assert recist["date"].map(_is_iso).all()
    sums = recist["target_sum_mm"]
    assert sums[sums != ""].str.fullmatch(r"\d+").all()
    assert (recist.loc[sums == "", "non_target"] == "NE").all()
    starts = dict(zip(patients["patient_id"], patients["treatment_start"]))
    last = dict(zip(patients["patient_id"], patients["last_contact"]))
    for pid, visits in recist.groupby("patient_id"):
        days = [(dt.date.fromisoformat(d) - dt.date.fromisoformat(starts[pid])).days for d in visits["date"]]
        assert days == sorted(days) and -28 <= days[0] <= 0 and all(d > 0 for d in days[1:]), pid
        assert visits["date"].max() <= last[pid], pid
    assert set(recist["patient_id"]) == set(patients["patient_id"])

    ae = read_tsv(folder / "adverse_events.tsv")
    assert list(ae.columns) == ["patient_id", "term", "grade", "onset_date", "related"]
    assert set(ae["grade"]) <= {"1", "2", "3", "4", "5"} and set(ae["related"]) <= {"yes", "no"}
    assert ae["onset_date"].map(_is_iso).all() and set(ae["patient_id"]) <= set(patients["patient_id"])

    samples = read_tsv(folder / "samples.tsv")
    assert list(samples.columns) == ["sample_id", "patient_id", "modality", "path", "column", "batch",
                                     "timepoint"]
    assert samples["sample_id"].is_unique and set(samples["patient_id"]) <= set(patients["patient_id"])
    assert set(samples["modality"]) == {"mutations", "copy_number", "rna", "proteins"}
    assert set(samples["timepoint"]) == {"baseline", "C2D1"}
    assert set(samples.loc[samples["timepoint"] == "C2D1", "modality"]) == {"rna", "proteins"}
    assert not samples.duplicated(["patient_id", "modality", "timepoint"]).any()
    assert not any(Path(p).is_absolute() for p in samples["path"])
    for row in samples.itertuples(index=False):
        assert (folder / row.path).is_file(), row.path
    per_patient = samples.groupby("modality")["patient_id"].nunique()
    assert per_patient["rna"] == len(patients) - 1 and per_patient["proteins"] == len(patients) - 1
    assert samples.loc[samples["modality"] == "rna", "batch"].nunique() == 2
    assert 2 <= samples.loc[samples["modality"] == "proteins", "batch"].nunique() <= 3

    for row in samples[samples["modality"] == "rna"].itertuples(index=False):
        lines = (folder / row.path).read_text().splitlines()
        fields = [line.split("\t") for line in lines]
        assert all(len(f) == 2 and f[1].isdigit() for f in fields)
        assert [f[0] for f in fields[-5:]] == ["__no_feature", "__ambiguous", "__too_low_aQual",
                                              "__not_aligned", "__alignment_not_unique"]
        genes = [f[0] for f in fields[:-5]]
        assert len(set(genes)) == len(genes) and not any(g.startswith("__") for g in genes)
        assert {"CXCL9", "IFNG", "CDKN2A"} <= set(genes)

    for row in samples[samples["modality"] == "mutations"].itertuples(index=False):
        text = (folder / row.path).read_text()
        assert text.startswith("#version 2.4\n") and row.column == ""
        maf = pd.read_csv(folder / row.path, sep="\t", comment="#", dtype=str, keep_default_na=False)
        assert {"Hugo_Symbol", "Chromosome", "Start_Position", "End_Position", "Reference_Allele",
                "Tumor_Seq_Allele2", "Variant_Classification", "Variant_Type", "Tumor_Sample_Barcode",
                "HGVSp_Short", "t_depth", "t_alt_count"} <= set(maf.columns)
        assert (maf["Tumor_Sample_Barcode"] == row.sample_id).all()
        assert (maf["t_alt_count"].astype(int) <= maf["t_depth"].astype(int)).all()

    for modality, first in (("copy_number", "gene"), ("proteins", "protein")):
        for path, rows in samples[samples["modality"] == modality].groupby("path"):
            matrix = read_tsv(folder / path)
            assert matrix.columns[0] == first and matrix[first].is_unique
            assert set(rows["column"]) == set(matrix.columns[1:])
    proteins = read_tsv(folder / "proteins.tsv").set_index("protein")
    missing = (proteins == "").to_numpy().mean()
    assert 0.05 < missing < 0.3
    assert {"CXCL9", "CXCL10"} <= set(proteins.index)


# --- RECIST edge cases in the committed demo, recomputed from recist.tsv -------------------------

def test_committed_recist_contains_the_edge_cases():
    recist = read_tsv(COMMITTED / "recist.tsv")
    found = {"small_increase_not_pd": 0, "new_lesion_shrinking": 0, "target_pd": 0, "baseline_only": 0,
             "ne_visit": int((recist["non_target"] == "NE").sum()), "pr_then_pd": 0}
    for _, visits in recist.groupby("patient_id"):
        sums = [int(s) if s else None for s in visits["target_sum_mm"]]
        new = list(visits["new_lesion"])
        if len(sums) == 1:
            found["baseline_only"] += 1
        baseline, nadir, previous = sums[0], sums[0], sums[0]
        for i in range(1, len(sums)):
            s = sums[i]
            if s is None:
                continue
            if s >= 1.2 * nadir and s - nadir < 5:
                found["small_increase_not_pd"] += 1
            if new[i] == "yes" and new[i - 1] == "no" and s < previous:
                found["new_lesion_shrinking"] += 1
            if s >= 1.2 * nadir and s - nadir >= 5:
                found["target_pd"] += 1
                if previous <= 0.7 * baseline and nadir == previous:
                    found["pr_then_pd"] += 1
            nadir, previous = min(nadir, s), s
    assert found["baseline_only"] == 1
    assert found["small_increase_not_pd"] >= 1 and found["new_lesion_shrinking"] >= 1
    assert found["target_pd"] >= 3 and found["ne_visit"] >= 2 and found["pr_then_pd"] >= 1


def test_committed_outcomes_are_in_the_intended_ranges():
    labels = pd.read_csv(COMMITTED / "expected_labels.tsv", sep="\t")
    summary = demo_clinical.summarise_outcomes(labels)
    assert summary["responders"] == 4 and summary["n_SD"] >= 2 and summary["n_NE"] == 1
    assert 4 <= summary["median_pfs_months"] <= 6 and 10 <= summary["median_os_months"] <= 14
    assert 6 <= summary["clinical_benefit"] <= 9
    assert (labels["bor_unconfirmed"] != labels["bor"]).sum() == 1
    ae = read_tsv(COMMITTED / "adverse_events.tsv")
    hypertension = ae[ae["term"] == "Hypertension"]
    assert 0.2 <= hypertension.loc[hypertension["grade"].astype(int) >= 3, "patient_id"].nunique() / 20 <= 0.3
    patients = read_tsv(COMMITTED / "patients.tsv").set_index("patient_id")
    onset_before_start = [pid for pid, d in zip(ae["patient_id"], ae["onset_date"])
                          if d < patients.at[pid, "treatment_start"]]
    assert len(onset_before_start) == 1


# --- the generator's own RECIST bookkeeping, on hand-made cases ----------------------------------

def test_expected_labels_on_hand_made_cases():
    patients = pd.DataFrame({
        "patient_id": ["P1", "P2", "P3", "P4"],
        "treatment_start": ["2021-01-01"] * 4,
        "last_contact": ["2021-12-01", "2021-06-01", "2021-01-15", "2021-12-01"],
        "death_date": ["", "", "2021-01-15", ""],
    })
    rows = [
        # P1: PR at day 28 confirmed at day 56, PD at day 84 (40 -> 50 mm: +25%, +10 mm)
        ("P1", "2020-12-20", "100", "NON_CR_NON_PD", "no"), ("P1", "2021-01-29", "60", "NON_CR_NON_PD", "no"),
        ("P1", "2021-02-26", "40", "NON_CR_NON_PD", "no"), ("P1", "2021-03-26", "50", "NON_CR_NON_PD", "no"),
        # P2: PR at day 28 (-33%) not confirmed: day 56 is SD (20 -> 24 mm is +20% but only +4 mm,
        # not PD), day 84 PD by new lesion -> best response SD, unconfirmed PR
        ("P2", "2020-12-30", "30", "ABSENT", "no"), ("P2", "2021-01-29", "20", "ABSENT", "no"),
        ("P2", "2021-02-26", "24", "ABSENT", "no"), ("P2", "2021-03-26", "24", "ABSENT", "yes"),
        # P3: baseline only, death on day 14
        ("P3", "2020-12-28", "50", "ABSENT", "no"),
        # P4: SD at day 28 only (too early), PD at day 56 -> PD; then an NE visit is ignored
        ("P4", "2020-12-28", "50", "ABSENT", "no"), ("P4", "2021-01-29", "48", "ABSENT", "no"),
        ("P4", "2021-02-26", "60", "ABSENT", "no"),
    ]
    recist = pd.DataFrame(rows, columns=["patient_id", "date", "target_sum_mm", "non_target", "new_lesion"])
    labels = demo_clinical.derive_expected_labels(patients, recist).set_index("patient_id")
    assert labels["bor"].to_dict() == {"P1": "PR", "P2": "SD", "P3": "NE", "P4": "PD"}
    assert labels.at["P2", "bor_unconfirmed"] == "PR"
    assert labels["pfs_event"].to_dict() == {"P1": 1, "P2": 1, "P3": 1, "P4": 1}
    assert labels.at["P1", "pfs_months"] == pytest.approx(84 / 30.4375)
    assert labels.at["P2", "pfs_months"] == pytest.approx(84 / 30.4375)
    assert labels.at["P3", "pfs_months"] == pytest.approx(14 / 30.4375)
    assert labels.at["P1", "best_pct_change"] == pytest.approx(-60.0)
    assert labels.at["P2", "best_pct_change"] == pytest.approx(100 * (20 - 30) / 30)
    assert math.isnan(labels.at["P3", "best_pct_change"])
    assert labels["os_event"].to_dict() == {"P1": 0, "P2": 0, "P3": 1, "P4": 0}
    assert labels.at["P1", "clinical_benefit"] == "yes" and labels.at["P2", "clinical_benefit"] == "no"


def test_expected_labels_confirm_a_pr_and_censor_at_last_evaluable_visit():
    patients = pd.DataFrame({"patient_id": ["P5"], "treatment_start": ["2021-01-01"],
                             "last_contact": ["2021-12-01"], "death_date": [""]})
    recist = pd.DataFrame([
        ("P5", "2021-01-01", "100", "NON_CR_NON_PD", "no"), ("P5", "2021-02-10", "65", "NON_CR_NON_PD", "no"),
        ("P5", "2021-03-01", "60", "NON_CR_NON_PD", "no"), ("P5", "2021-03-20", "60", "NON_CR_NON_PD", "no"),
        ("P5", "2021-04-20", "", "NE", "no"),
    ], columns=["patient_id", "date", "target_sum_mm", "non_target", "new_lesion"])
    labels = demo_clinical.derive_expected_labels(patients, recist).set_index("patient_id")
    # 65 mm at day 40 and 60 mm at day 58 are 18 days apart; day 40 -> day 78 confirms
    assert labels.at["P5", "bor"] == "PR"
    assert labels.at["P5", "pfs_event"] == 0 and labels.at["P5", "pfs_months"] == pytest.approx(78 / 30.4375)


def test_kaplan_meier_median_by_hand():
    # S(t): 1 -> 4/5 at t=1 -> 4/5*3/4 = 0.6 at t=2 -> 0.6*1/2 = 0.3 at t=4 (t=3 censored)
    assert demo_clinical.kaplan_meier_median([1, 2, 3, 4, 5], [1, 1, 0, 1, 0]) == 4.0
    assert demo_clinical.kaplan_meier_median([1, 2, 3], [1, 1, 1]) == 2.0
    assert demo_clinical.kaplan_meier_median([1, 2, 3], [0, 0, 1]) == 3.0  # the last one at risk dies: S = 0
    assert math.isnan(demo_clinical.kaplan_meier_median([1, 2, 3], [1, 0, 0]))  # S stays at 2/3


# --- planted signal and the null -----------------------------------------------------------------

def _log_cpm(path: Path) -> pd.Series:
    counts = pd.read_csv(path, sep="\t", header=None, index_col=0).iloc[:, 0]
    counts = counts[~counts.index.str.startswith("__")]
    return np.log2(counts / counts.sum() * 1e6 + 1)


def _programme_score(folder: Path) -> pd.Series:
    samples = read_tsv(folder / "samples.tsv")
    scores = {}
    for row in samples[(samples["modality"] == "rna") & (samples["timepoint"] == "baseline")].itertuples(index=False):
        scores[row.patient_id] = _log_cpm(folder / row.path).loc[list(demo_omics.IMMUNE_PROGRAMME_RNA)].mean()
    return pd.Series(scores)


def test_committed_programme_and_chemokines_are_higher_in_responders():
    labels = pd.read_csv(COMMITTED / "expected_labels.tsv", sep="\t").set_index("patient_id")
    score = _programme_score(COMMITTED)
    responder = (labels.loc[score.index, "responder"] == "yes").to_numpy()
    assert responder.sum() >= 3
    assert 1.8 <= _smd(score.to_numpy(), responder) <= 3.5
    samples = read_tsv(COMMITTED / "samples.tsv").set_index("sample_id")
    proteins = pd.read_csv(COMMITTED / "proteins.tsv", sep="\t", index_col=0)
    assert set(samples.loc[proteins.columns, "timepoint"]) == {"baseline"}
    group = (labels.loc[samples.loc[proteins.columns, "patient_id"], "responder"] == "yes").to_numpy()
    for chemokine in demo_omics.IMMUNE_PROGRAMME_PROTEINS:
        values = np.log2(proteins.loc[chemokine].to_numpy(dtype=float))
        keep = ~np.isnan(values)
        assert _smd(values[keep], group[keep]) > 1.5, chemokine


def test_committed_programme_predicts_pfs_beyond_the_family_wise_null():
    # PFS is the primary endpoint and the calibration makes a candidate strong only when its log-rank
    # score z (sqrt(n - 1) * r with the log-rank scores) beats the null maximum over about 2,000
    # features, about 3.5 at 19 patients; the planted effect was sized so that the best gene does.
    labels = pd.read_csv(COMMITTED / "expected_labels.tsv", sep="\t").set_index("patient_id")
    samples = read_tsv(COMMITTED / "samples.tsv")
    rna = samples[(samples["modality"] == "rna") & (samples["timepoint"] == "baseline")]
    values = pd.DataFrame({row.patient_id: _log_cpm(COMMITTED / row.path).loc[list(demo_omics.IMMUNE_PROGRAMME_RNA)]
                           for row in rna.itertuples(index=False)}).T
    months = labels.loc[values.index, "pfs_months"].to_numpy(dtype=float)
    event = labels.loc[values.index, "pfs_event"].to_numpy() == 1
    scores = logrank_scores(months, event)
    z = pd.Series({gene: np.sqrt(len(scores) - 1) * np.corrcoef(scores, values[gene])[0, 1]
                   for gene in values.columns})
    assert z.idxmin() == "STAT1" and z.min() == pytest.approx(-3.54, abs=0.01)
    assert (z < 0).all()
    programme = values.mean(axis=1)
    data = pd.DataFrame({"months": months, "event": event.astype(int),
                         "score": ((programme - programme.mean()) / programme.std()).to_numpy()})
    fit = CoxPHFitter().fit(data, "months", "event")
    assert np.exp(fit.params_["score"]) == pytest.approx(0.27, abs=0.01)
    assert fit.summary.loc["score", "p"] < 0.01
    assert _truth_rows("ifng_tcell_inflamed")["pfs_log_hr"].eq(demo_clinical.PFS_LOG_HR_IMMUNE).all()


def _truth_rows(programme: str) -> pd.DataFrame:
    truth = pd.read_csv(COMMITTED / "truth.tsv", sep="\t")
    return truth[truth["programme"] == programme]


def test_committed_early_change_is_larger_in_responders_and_baseline_is_not():
    # GZMB, C2D1 minus baseline: larger in later responders; the baseline level alone is not
    labels = pd.read_csv(COMMITTED / "expected_labels.tsv", sep="\t").set_index("patient_id")
    samples = read_tsv(COMMITTED / "samples.tsv")
    rna = samples[samples["modality"] == "rna"].pivot(index="patient_id", columns="timepoint", values="path")
    paired = rna.dropna()
    assert len(paired) >= 15 and set(rna.columns) == {"baseline", demo_on_treatment.ON_TREATMENT_TIMEPOINT}
    gene = demo_on_treatment.EARLY_CHANGE_GENE
    baseline = pd.Series({p: _log_cpm(COMMITTED / path).loc[gene] for p, path in paired["baseline"].items()})
    on = pd.Series({p: _log_cpm(COMMITTED / path).loc[gene] for p, path in paired["C2D1"].items()})
    responder = (labels.loc[paired.index, "responder"] == "yes").to_numpy()
    change = (on - baseline).to_numpy()
    assert np.median(change) > 1.0
    assert stats.mannwhitneyu(change[responder], change[~responder]).pvalue < 0.05
    assert stats.mannwhitneyu(baseline.to_numpy()[responder], baseline.to_numpy()[~responder]).pvalue > 0.1
    proteins = pd.read_csv(COMMITTED / "proteins_on_treatment.tsv", sep="\t", index_col=0)
    on_samples = samples.set_index("sample_id").loc[proteins.columns]
    assert set(on_samples["timepoint"]) == {"C2D1"} and gene in proteins.index
    truth = pd.read_csv(COMMITTED / "truth.tsv", sep="\t")
    planted = truth[truth["programme"] == demo_on_treatment.EARLY_CHANGE_PROGRAMME]
    assert sorted(planted["modality"]) == ["proteins_change", "rna_change"]
    assert set(planted["feature"]) == {gene}


def test_on_treatment_samples_leave_the_baseline_files_unchanged(small):
    # the same cohort without on-treatment rows: every baseline file is the one written with them
    cohort = demo.generate_demo_cohort(n_patients=12, n_genes=400, n_proteins=200, seed=7,
                                       gene_sets=enrichment.read_gmt(GENE_SETS))
    baseline = cohort.samples[cohort.samples["timepoint"] == "baseline"].reset_index(drop=True)
    rna_counts, _ = demo_omics.simulate_rna_counts(demo._rng(7, "rna"), demo_omics.build_gene_universe(
        demo._rng(7, "genes"), 400, enrichment.read_gmt(GENE_SETS)), cohort.biology, baseline)
    pd.testing.assert_frame_equal(rna_counts, cohort.rna_counts[baseline.loc[baseline["modality"] == "rna",
                                                                             "sample_id"]])
    written = _files(small["a"])
    assert b"C2D1" not in written["proteins.tsv"]
    assert written["samples.tsv"].decode().count("\tC2D1\n") > 0


# --- planted genomic effects, realised in the committed demo (labels derived by the workflow's code) -

@pytest.fixture(scope="module")
def committed_labels() -> pd.DataFrame:
    derived = clinical.derive_labels(readers.read_patients(COMMITTED / "patients.tsv"),
                                     readers.read_recist(COMMITTED / "recist.tsv"))
    return derived.labels.set_index("patient_id")


@pytest.fixture(scope="module")
def committed_mafs() -> dict[str, pd.DataFrame]:
    samples = read_tsv(COMMITTED / "samples.tsv")
    wes = samples[samples["modality"] == "mutations"]
    return {pid: readers.read_maf(COMMITTED / path) for pid, path in zip(wes["patient_id"], wes["path"])}


def _truth(feature: str) -> pd.Series:
    truth = pd.read_csv(COMMITTED / "truth.tsv", sep="\t")
    return truth[truth["feature"] == feature].iloc[0]


def _univariate_pfs_cox(labels: pd.DataFrame, carriers: set[str]) -> tuple[float, float]:
    data = pd.DataFrame({"months": labels["pfs_months"].astype(float),
                         "event": labels["pfs_event"].astype(int),
                         "carrier": labels.index.isin(carriers).astype(float)})
    fit = CoxPHFitter().fit(data, "months", "event")
    return float(np.exp(fit.params_["carrier"])), float(fit.summary.loc["carrier", "p"])


def test_committed_kras_carriers_never_respond_and_progress_sooner(committed_labels, committed_mafs):
    carriers = {pid for pid, maf in committed_mafs.items()
                if ((maf["Hugo_Symbol"] == "KRAS") & (maf["Variant_Classification"] != "Silent")).any()}
    labels = committed_labels
    assert 4 <= len(carriers) <= 6
    assert (labels.loc[sorted(carriers), "responder"] == "no").all()
    hazard_ratio, p_value = _univariate_pfs_cox(labels, carriers)
    assert hazard_ratio >= 3 and p_value < 0.05
    mask = labels.index.isin(carriers)
    carrier_median = demo_clinical.kaplan_meier_median(labels.pfs_months[mask], labels.pfs_event[mask])
    other_median = demo_clinical.kaplan_meier_median(labels.pfs_months[~mask], labels.pfs_event[~mask])
    assert carrier_median < other_median / 2
    assert _truth("KRAS")["pfs_log_hr"] > 0 and _truth("KRAS")["response_log_odds"] < 0


def test_committed_tmb_is_higher_in_responders(committed_labels, committed_mafs):
    tmb = pd.Series({pid: maf["Variant_Classification"].isin(mutations.NONSYNONYMOUS_CLASSES).sum()
                     / demo_omics.CAPTURE_SIZE_MB for pid, maf in committed_mafs.items()})
    responder = committed_labels.loc[tmb.index, "responder"] == "yes"
    assert stats.mannwhitneyu(tmb[responder], tmb[~responder], alternative="two-sided").pvalue < 0.05
    assert tmb[responder].median() > 1.3 * tmb[~responder].median()
    assert (tmb > 10).sum() == 1 and 2 <= tmb.median() <= 4
    assert _truth("TMB")["response_log_odds"] > 0


def test_committed_cdkn2a_deletion_shortens_pfs(committed_labels):
    cn = pd.read_csv(COMMITTED / "copy_number.tsv", sep="\t", index_col=0)
    deleted = {c.removesuffix("-CN") for c in cn.columns[cn.loc["CDKN2A"] < -1]}
    assert 2 <= len(deleted) <= 4
    hazard_ratio, p_value = _univariate_pfs_cox(committed_labels, deleted)
    assert hazard_ratio >= 3 and p_value < 0.05
    assert _truth("CDKN2A")["pfs_log_hr"] > 0


def test_committed_demo_has_the_documented_follow_up_situations(committed_labels):
    recist = read_tsv(COMMITTED / "recist.tsv")
    patients = read_tsv(COMMITTED / "patients.tsv").set_index("patient_id")
    labels = committed_labels
    visits = recist.groupby("patient_id")["date"].apply(list)
    start = {pid: dt.date.fromisoformat(d) for pid, d in patients["treatment_start"].items()}
    after_start = {pid: [(dt.date.fromisoformat(d) - start[pid]).days for d in dates[1:]]
                   for pid, dates in visits.items()}
    pfs_days = (labels["pfs_months"] * demo_clinical.DAYS_PER_MONTH).round().astype(int)
    # the PFS event is a death without radiological progression, after at least one assessment
    death_without_pd = [pid for pid in labels.index if labels.at[pid, "pfs_event"] == 1
                        and labels.at[pid, "os_event"] == 1 and after_start[pid]
                        and labels.at[pid, "pfs_months"] == labels.at[pid, "os_months"]]
    # best response PD although the first scan (before 6 weeks) was not progression
    pd_at_second = [pid for pid in labels.index if labels.at[pid, "bor"] == "PD"
                    and len(after_start[pid]) >= 2 and pfs_days[pid] == after_start[pid][1]]
    scan_after_pd = [pid for pid in labels.index if labels.at[pid, "pfs_event"] == 1
                     and any(day > pfs_days[pid] for day in after_start[pid])]
    assert len(death_without_pd) >= 1 and len(pd_at_second) >= 1 and len(scan_after_pd) == 2


def test_committed_copy_number_events():
    cn = pd.read_csv(COMMITTED / "copy_number.tsv", sep="\t", index_col=0)
    patients = read_tsv(COMMITTED / "patients.tsv").set_index("patient_id")
    assert 2 <= (cn.loc["CDKN2A"] < -1).sum() <= 4
    amplified = cn.columns[cn.loc["ERBB2"] > 1]
    assert 1 <= len(amplified) <= 2
    assert all(patients.at[c.removesuffix("-CN"), "primary_site"] == "gallbladder" for c in amplified)


def test_null_keeps_the_omics_and_zeroes_the_truth(small):
    planted, null = _files(small["a"]), _files(small["null"])
    omics = [k for k in planted if k.startswith(("rna/", "mutations/"))
             or k in ("copy_number.tsv", "proteins.tsv", "proteins_on_treatment.tsv", "samples.tsv")]
    assert omics and all(planted[k] == null[k] for k in omics)
    assert planted["recist.tsv"] != null["recist.tsv"]
    truth = pd.read_csv(small["null"] / "truth.tsv", sep="\t")
    planted_truth = pd.read_csv(small["a"] / "truth.tsv", sep="\t")
    assert (truth[["response_log_odds", "pfs_log_hr"]] == 0).all().all()
    assert truth["feature"].tolist() == planted_truth["feature"].tolist()
    assert (planted_truth["response_log_odds"] != 0).any()


def test_null_outcomes_are_independent_of_the_omics_latents():
    # the omics are made from `biology`; compare its immune score between the derived responders
    planted_smd, null_smd = [], []
    for seed in range(1, 21):
        for null, store in ((False, planted_smd), (True, null_smd)):
            clinical = demo.simulate_clinical(seed, demo.patient_ids(20), null=null)
            responder = (clinical.expected_labels.set_index("patient_id")
                         .loc[clinical.biology.index, "responder"] == "yes").to_numpy()
            store.append(_smd(clinical.biology["immune_score"].to_numpy(), responder))
    # 20 cohorts x (4 vs 16 patients): under the null the mean SMD has SD about 0.55 / sqrt(20) = 0.12
    assert abs(np.mean(null_smd)) < 0.4
    assert np.mean(planted_smd) > 1.2
    assert np.mean(np.array(planted_smd) > 1.0) >= 0.7 and np.mean(np.array(null_smd) > 1.0) <= 0.1


def test_stale_generated_files_are_removed(tmp_path):
    out = _run(tmp_path / "demo", "--patients", "12", "--genes", "400", "--proteins", "100", "--seed", "3")
    assert (out / "rna" / "BTC12-RNA.counts.tsv").exists() or (out / "mutations" / "BTC12-WES.maf").exists()
    _run(out, "--patients", "6", "--genes", "400", "--proteins", "100", "--seed", "3")
    assert not (out / "mutations" / "BTC12-WES.maf").exists()
    sheet = read_tsv(out / "samples.tsv")
    assert {str(p.relative_to(out)) for p in out.glob("mutations/*.maf")} == set(
        sheet.loc[sheet["modality"] == "mutations", "path"])


def test_shipped_gene_sets_are_well_formed_and_documented():
    lines = GENE_SETS.read_text(encoding="utf-8").splitlines()
    gene_sets = enrichment.read_gmt(GENE_SETS)
    assert 12 <= len(gene_sets) <= 20 and len(lines) == len(gene_sets)
    assert all(re.fullmatch(r"[A-Z0-9]+(_[A-Z0-9]+)*", name) for name in gene_sets)
    assert all(line.split("\t")[1].strip() for line in lines)
    sizes = {name: len(genes) for name, genes in gene_sets.items()}
    assert sizes["TCELL_INFLAMED_GEP_AYERS2017"] == 18 and sizes["PAN_FTBRS_MARIATHASAN2018"] == 19
    assert set(gene_sets["IFNG_6GENE_AYERS2017"]) == {"IFNG", "STAT1", "CXCL9", "CXCL10", "IDO1", "HLA-DRA"}
    assert set(gene_sets["CYTOLYTIC_ACTIVITY_ROONEY2015"]) == {"GZMA", "PRF1"}
    assert all(len(genes) == len(set(genes)) for genes in gene_sets.values())
    readme = (GENE_SETS.parent / "README.md").read_text(encoding="utf-8")
    assert all(f"| {name} | {size} |" in readme for name, size in sizes.items())


def test_gene_universe_rejects_too_few_genes():
    with pytest.raises(ValueError, match="too small"):
        demo_omics.build_gene_universe(np.random.default_rng(0), 100, enrichment.read_gmt(GENE_SETS))
