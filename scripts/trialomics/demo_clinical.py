"""Clinical half of the demo trial: patients, outcomes, RECIST assessments, adverse events, labels.

Per patient, the covariates and latent biology (:func:`draw_patient_biology`) that drive both the
omics (:mod:`trialomics.demo_omics`) and the outcomes; the planted response and progression models;
the simulated course of each patient (enrolment, progression, death, the monthly RECIST visits and the
RECIST edge cases) and the ``patients.tsv``, ``recist.tsv`` and ``adverse_events.tsv`` rows written
from it; and the labels a correct RECIST 1.1 analysis must derive from those tables, with their
summary. Functions take their random generator; which stream feeds which table is decided by the
cohort assembly in :mod:`trialomics.demo`.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

DAYS_PER_MONTH = 30.4375
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

PFS_WEIBULL_SHAPE = 1.3
PFS_MEDIAN_DAYS_AT_ZERO = 190.0
PPS_WEIBULL_SHAPE = 1.2
PPS_MEDIAN_DAYS_AT_ZERO = 300.0

# log2(TMB per Mb) of BTC exomes: median about 2.8 mutations/Mb.
LOG2_TMB_MEAN = math.log2(2.8)
LOG2_TMB_SD = 0.6

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
LABEL_COLUMNS = ("patient_id", "bor", "responder", "clinical_benefit", "pfs_months", "pfs_event",
                 "os_months", "os_event", "best_pct_change", "bor_unconfirmed")


def _iso(day0: dt.date, offset_days: int) -> str:
    return (day0 + dt.timedelta(days=int(offset_days))).isoformat()


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
# The labels a correct analysis must derive
# --------------------------------------------------------------------------------------------------

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
