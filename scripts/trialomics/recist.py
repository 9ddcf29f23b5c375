"""RECIST 1.1 derivations from visit-level tumour assessments (Eisenhauer et al., Eur J Cancer 2009).

The functions here turn one row per assessment (``patient_id, date, target_sum_mm, non_target,
new_lesion``) into a response at every time point, and then into one row per patient: best overall
response with and without confirmation, the best percent change of the target sum, evaluability, and
progression-free and overall survival in days.

Conventions (the readings of RECIST 1.1 this module implements):

- The baseline is the last assessment on or before the first dose; earlier assessments are ignored.
  A baseline needs a measured target sum (0 means the patient had non-target disease only).
- Target response: CR when the sum is 0; PD when the sum rose at least 20 % over the nadir (the smallest
  sum before this assessment, baseline included) *and* at least 5 mm in absolute terms, or when any
  target lesion reappears after all had disappeared (nadir 0); PR when the sum fell at least 30 % from
  baseline; SD otherwise; NE when the sum was not measured. Lymph-node subtleties (nodes under 10 mm
  count as normal, so a CR can have a non-zero sum) are out of scope: CR requires a sum of 0.
- Overall response from RECIST 1.1 Table 1 (target disease at baseline) or Table 2 (non-target disease
  only; its "non-CR/non-PD" is reported as SD so that every response is one of CR, PR, SD, PD, NE).
  A non-target status of ``ABSENT`` at follow-up means no non-target lesion is present, which counts as
  non-target CR.
- Best overall response is taken over the assessments up to and including the first PD (RECIST counts
  nothing after progression). Confirmation: a CR needs a later CR at least ``confirmation_weeks`` after
  it with only CR or NE in between; a PR needs a later CR or PR at least ``confirmation_weeks`` after it
  with only CR, PR or NE in between (an intervening SD breaks the sequence, as in CDISC ADaM practice
  without accepting SD; PD cannot intervene because nothing after PD is counted). An unconfirmed CR/PR
  falls back to SD when it, or any CR/PR/SD assessment, is at least ``sd_min_weeks`` after the first dose;
  otherwise the best response is PD if progression was documented, else NE. Death without documented
  progression is not PD for the best response (RECIST needs objective progression; CDISC/ADaM practice
  reports such early deaths as NE) although it is a PFS event.
- Evaluable: a baseline, and at least one later assessment or a death (a patient who dies before the
  first scan is in the response denominator, as a non-responder with best response NE). Non-evaluable
  patients have best response NE.
- PFS: first dose to the first PD assessment or death, whichever is first; otherwise censored at the
  last assessment whose overall response is not NE (day 0 when there is none).
- OS: first dose to death; otherwise censored at the last date the patient is known alive, the later of
  ``last_contact`` and the last assessment (an assessment proves the patient was alive), which also
  guarantees PFS <= OS.
- Response pending (``response_pending``): the best response may still change because the patient is
  alive and progression-free at the last data (no PFS event), has a baseline, and either has no
  qualifying response yet (best response NE: no follow-up scan, or every scan before the SD minimum or
  not evaluable) or has a CR/PR as the latest assessed response that a later scan could still confirm.
  A trial that is still following its patients gets missing response labels for them, not "no".
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

RESPONSE_RANK = {"CR": 0, "PR": 1, "SD": 2, "PD": 3, "NE": 4}

# Tolerance for the percentage thresholds so that a change of exactly -30 % or +20 % (and exactly
# +5 mm) qualifies, despite binary floating point.
_EPSILON = 1e-9

# Columns of the per-assessment table, in the order written; ``phase`` is one of pre_baseline,
# baseline or follow_up.
TIMEPOINT_TABLE_COLUMNS = [
    "patient_id", "date", "day", "target_sum_mm", "pct_change_from_baseline", "pct_change_from_nadir",
    "target_response", "non_target", "new_lesion", "overall_response", "phase",
]

OUTCOME_COLUMNS = [
    "patient_id", "bor", "bor_unconfirmed", "best_pct_change", "evaluable", "pfs_days", "pfs_event",
    "os_days", "os_event", "response_pending",
]


def target_response(target_sum: float, baseline_sum: float, nadir_sum: float) -> str:
    """Response of the target lesions at one assessment.

    Parameters
    ----------
    target_sum
        Sum of diameters at this assessment in mm (NaN when not measured).
    baseline_sum
        Sum at baseline (> 0: the patient has target disease).
    nadir_sum
        Smallest sum before this assessment, baseline included.

    Returns
    -------
    One of ``CR``, ``PR``, ``SD``, ``PD``, ``NE``.
    """
    if target_sum is None or math.isnan(target_sum):
        return "NE"
    increase = target_sum - nadir_sum
    if nadir_sum == 0:
        # All target lesions had disappeared; any reappearance is progression.
        if target_sum > 0:
            return "PD"
    elif increase >= 0.2 * nadir_sum - _EPSILON and increase >= 5.0 - _EPSILON:
        return "PD"
    if target_sum == 0:
        return "CR"
    if 100.0 * (target_sum - baseline_sum) / baseline_sum <= -30.0 + _EPSILON:
        return "PR"
    return "SD"


def overall_timepoint_response(target: str, non_target: str, new_lesion: str,
                               baseline_non_target: bool = True) -> str:
    """Overall response at one assessment (RECIST 1.1 Tables 1 and 2).

    Parameters
    ----------
    target
        Target response (``CR``, ``PR``, ``SD``, ``PD``, ``NE``), or ``NONE`` when the patient had no
        target disease at baseline (Table 2 then applies).
    non_target
        ``CR``, ``NON_CR_NON_PD``, ``PD``, ``NE`` or ``ABSENT`` (no non-target lesion present).
    new_lesion
        ``yes`` or ``no``.
    baseline_non_target
        Whether non-target lesions were present at baseline (only used for Table 2: with neither target
        nor non-target disease at baseline there is nothing to assess).
    """
    if new_lesion == "yes" or non_target == "PD" or target == "PD":
        return "PD"
    non_target_gone = non_target in ("CR", "ABSENT")
    if target == "NONE":
        if non_target_gone:
            return "CR" if baseline_non_target else "NE"
        # Table 2's "non-CR/non-PD" is reported as SD.
        return "SD" if non_target == "NON_CR_NON_PD" else "NE"
    if target == "CR":
        return "CR" if non_target_gone else "PR"
    if target in ("PR", "SD", "NE"):
        return target
    raise ValueError(f"unknown target response {target!r}")


def derive_timepoint_responses(recist: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """Response at every assessment of every patient.

    Parameters
    ----------
    recist
        One row per assessment: ``patient_id, date, target_sum_mm, non_target, new_lesion``.
    patients
        ``patient_id, treatment_start``; assessments of patients not listed here are ignored.

    Returns
    -------
    One row per assessment with the columns of :data:`TIMEPOINT_TABLE_COLUMNS`, sorted by patient and
    date. Baseline and pre-baseline rows carry no response.
    """
    starts = patients.set_index("patient_id")["treatment_start"]
    assessments = recist[recist["patient_id"].isin(starts.index)]
    # A total order (date, then values) makes the result independent of the input row order.
    assessments = assessments.sort_values(
        ["patient_id", "date", "target_sum_mm", "non_target", "new_lesion"], kind="mergesort",
        na_position="last")
    rows = []
    for patient_id, visits in assessments.groupby("patient_id", sort=True):
        rows.extend(_patient_timepoints(patient_id, visits, starts[patient_id]))
    table = pd.DataFrame(rows, columns=TIMEPOINT_TABLE_COLUMNS)
    table["date"] = pd.to_datetime(table["date"])
    table["day"] = table["day"].astype("int64")
    for column in ("target_sum_mm", "pct_change_from_baseline", "pct_change_from_nadir"):
        table[column] = table[column].astype(float)
    return table


def _patient_timepoints(patient_id: str, visits: pd.DataFrame, start: pd.Timestamp) -> list[dict]:
    on_or_before = visits[visits["date"] <= start]
    baseline = on_or_before.iloc[-1] if len(on_or_before) else None
    baseline_sum = float(baseline["target_sum_mm"]) if baseline is not None else math.nan
    has_baseline = not math.isnan(baseline_sum)
    baseline_non_target = has_baseline and baseline["non_target"] != "ABSENT"
    nadir = baseline_sum
    rows = []
    for position, (_, visit) in enumerate(visits.iterrows()):
        day = int((visit["date"] - start).days)
        target_sum = float(visit["target_sum_mm"])
        row = {"patient_id": patient_id, "date": visit["date"], "day": day,
               "target_sum_mm": target_sum, "non_target": visit["non_target"],
               "new_lesion": visit["new_lesion"], "pct_change_from_baseline": math.nan,
               "pct_change_from_nadir": math.nan, "target_response": "", "overall_response": ""}
        if visit["date"] <= start:
            is_baseline = position == len(on_or_before) - 1
            row["phase"] = "baseline" if is_baseline else "pre_baseline"
            rows.append(row)
            continue
        row["phase"] = "follow_up"
        if not has_baseline:
            target = "NE"
        elif baseline_sum == 0:
            target = "NONE"
        else:
            target = target_response(target_sum, baseline_sum, nadir)
            if not math.isnan(target_sum):
                row["pct_change_from_baseline"] = 100.0 * (target_sum - baseline_sum) / baseline_sum
                if nadir > 0:
                    row["pct_change_from_nadir"] = 100.0 * (target_sum - nadir) / nadir
                nadir = min(nadir, target_sum)
        row["target_response"] = target
        row["overall_response"] = overall_timepoint_response(
            target, visit["non_target"], visit["new_lesion"], baseline_non_target)
        rows.append(row)
    return rows


def best_overall_response(days: np.ndarray, responses: list[str], confirmation_weeks: float = 4,
                          sd_min_weeks: float = 6, require_confirmation: bool = True) -> str:
    """Best overall response from the follow-up assessments of one evaluable patient.

    Parameters
    ----------
    days
        Days from the first dose of each follow-up assessment, in increasing order.
    responses
        Overall response at each of them.
    confirmation_weeks
        Minimum interval between a CR/PR and the assessment that confirms it.
    sd_min_weeks
        Minimum time from the first dose for an assessment to qualify as SD.
    require_confirmation
        ``False`` gives the best response if confirmation were not required (``bor_unconfirmed``).
    """
    responses = list(responses)
    days = np.asarray(days, dtype=float)
    if "PD" in responses:
        cut = responses.index("PD") + 1
        responses, days = responses[:cut], days[:cut]
    confirm_days = 7.0 * confirmation_weeks
    best = "NE"
    for i, response in enumerate(responses):
        if response not in ("CR", "PR"):
            continue
        if not require_confirmation:
            candidate = response
        elif response == "CR" and _confirmed(days, responses, i, ("CR",), ("CR", "NE"), confirm_days):
            candidate = "CR"
        elif _confirmed(days, responses, i, ("CR", "PR"), ("CR", "PR", "NE"), confirm_days):
            candidate = "PR"
        else:
            continue
        if RESPONSE_RANK[candidate] < RESPONSE_RANK[best]:
            best = candidate
    if best in ("CR", "PR"):
        return best
    if any(r in ("CR", "PR", "SD") and d >= 7.0 * sd_min_weeks for r, d in zip(responses, days)):
        return "SD"
    if "PD" in responses:
        return "PD"
    return "NE"


def _confirmed(days: np.ndarray, responses: list[str], index: int, confirming: tuple[str, ...],
               allowed_between: tuple[str, ...], confirm_days: float) -> bool:
    """Whether the response at ``index`` is confirmed by a later one in ``confirming`` at least
    ``confirm_days`` later, every assessment in between being in ``allowed_between``."""
    for j in range(index + 1, len(responses)):
        if days[j] - days[index] >= confirm_days and responses[j] in confirming:
            return True
        if responses[j] not in allowed_between:
            return False
    return False


def derive_patient_outcomes(timepoints: pd.DataFrame, patients: pd.DataFrame,
                            confirmation_weeks: float = 4, sd_min_weeks: float = 6) -> pd.DataFrame:
    """Per-patient RECIST outcomes from the per-assessment table.

    Parameters
    ----------
    timepoints
        Output of :func:`derive_timepoint_responses`.
    patients
        ``patient_id, treatment_start, last_contact, death_date`` (dates; NaT when alive).

    Returns
    -------
    One row per patient of ``patients`` (sorted by ``patient_id``) with the columns of
    :data:`OUTCOME_COLUMNS`: ``bor``, ``bor_unconfirmed`` (CR/PR/SD/PD/NE), ``best_pct_change`` (most
    negative percent change of the target sum from baseline up to the first PD; NaN when never
    measured), ``evaluable`` (bool), ``pfs_days``/``os_days`` (int), ``pfs_event``/``os_event`` (0/1) and
    ``response_pending`` (bool, see the module notes).
    """
    by_patient = {pid: visits for pid, visits in timepoints.groupby("patient_id", sort=False)}
    empty = timepoints.iloc[0:0]
    rows = []
    for patient in patients.sort_values("patient_id").itertuples(index=False):
        visits = by_patient.get(patient.patient_id, empty)
        rows.append(_patient_outcome(patient, visits, confirmation_weeks, sd_min_weeks))
    outcomes = pd.DataFrame(rows, columns=OUTCOME_COLUMNS)
    outcomes["evaluable"] = outcomes["evaluable"].astype(bool)
    outcomes["response_pending"] = outcomes["response_pending"].astype(bool)
    for column in ("pfs_days", "pfs_event", "os_days", "os_event"):
        outcomes[column] = outcomes[column].astype("int64")
    outcomes["best_pct_change"] = outcomes["best_pct_change"].astype(float)
    return outcomes


def _patient_outcome(patient, visits: pd.DataFrame, confirmation_weeks: float,
                     sd_min_weeks: float) -> dict:
    start = patient.treatment_start
    died = not pd.isna(patient.death_date)
    death_day = int((patient.death_date - start).days) if died else None
    has_baseline = bool(((visits["phase"] == "baseline")
                         & visits["target_sum_mm"].notna()).any())
    follow_up = visits[visits["phase"] == "follow_up"]
    days = follow_up["day"].to_numpy()
    responses = follow_up["overall_response"].tolist()
    evaluable = has_baseline and (len(follow_up) > 0 or died)
    if evaluable:
        bor = best_overall_response(days, responses, confirmation_weeks, sd_min_weeks, True)
        bor_unconfirmed = best_overall_response(days, responses, confirmation_weeks, sd_min_weeks,
                                                False)
    else:
        bor = bor_unconfirmed = "NE"

    progression_days = [d for d, r in zip(days, responses) if r == "PD"]
    event_days = progression_days[:1] + ([death_day] if died else [])
    if event_days:
        pfs_days, pfs_event = min(event_days), 1
    else:
        assessed = [d for d, r in zip(days, responses) if r != "NE"]
        pfs_days, pfs_event = (max(assessed) if assessed else 0), 0

    until_progression = follow_up
    if progression_days:
        until_progression = follow_up[follow_up["day"] <= progression_days[0]]
    changes = until_progression["pct_change_from_baseline"].dropna()
    best_pct_change = float(changes.min()) if len(changes) else math.nan

    assessed_responses = [r for r in responses if r != "NE"]
    awaiting_confirmation = (bool(assessed_responses) and assessed_responses[-1] in ("CR", "PR")
                             and bor not in ("CR", "PR"))
    response_pending = has_baseline and pfs_event == 0 and (bor == "NE" or awaiting_confirmation)

    if died:
        os_days, os_event = death_day, 1
    else:
        known_alive = patient.last_contact
        if len(visits):
            known_alive = max(known_alive, visits["date"].max())
        os_days, os_event = int((known_alive - start).days), 0
    return {"patient_id": patient.patient_id, "bor": bor, "bor_unconfirmed": bor_unconfirmed,
            "best_pct_change": best_pct_change, "evaluable": evaluable, "pfs_days": pfs_days,
            "pfs_event": pfs_event, "os_days": os_days, "os_event": os_event,
            "response_pending": response_pending}
