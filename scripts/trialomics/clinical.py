"""Trial endpoints and summaries: per-patient labels, efficacy and safety tables.

Labels come from visit-level RECIST assessments when they are given (:mod:`trialomics.recist`), and
otherwise from outcomes supplied in ``patients.tsv``. When both exist the derived values are used and every
disagreement with a supplied value is listed.

Conventions:

- Months are days / 30.4375 (the mean Gregorian month).
- ``responder`` is CR/PR, ``disease_control`` CR/PR/SD, ``clinical_benefit`` CR/PR or PFS longer than
  ``benefit_months`` (progression-free beyond that time, whether or not followed by progression).
- Labels only when known: a label is ``yes``/``no`` only when later follow-up cannot change it, and
  empty otherwise. ``responder`` and ``disease_control`` are empty for non-evaluable patients and while
  the response is pending (:mod:`trialomics.recist`: alive and progression-free with a best response of
  NE, or with a CR/PR awaiting its confirmation scan; ``disease_control`` is already known in the second
  case when an SD qualifies). ``clinical_benefit`` is ``yes`` whenever its condition holds, and ``no``
  only after progression or death within ``benefit_months``: a progression-free patient followed for
  less than ``benefit_months`` (PFS censored at or before it) is empty, since they may still reach it.
  ``not_yet_assessable`` lists (``;``-separated) the labels that are empty for one of these reasons,
  i.e. that more follow-up can fill; labels empty because the data can never give them (no baseline,
  no PFS supplied) are not listed. Without visit data, response labels come as supplied (a supplied NE
  is not evaluable) and only ``clinical_benefit`` can be pending.
- With supplied outcomes only, a patient is evaluable when the supplied ``bor`` is CR, PR, SD or PD, and
  overall survival comes from the supplied ``os_months``/``os_event`` when both are given for that patient,
  else from the dates (death, or censoring at ``last_contact``).
- Proportions (ORR, DCR, CBR) are over the evaluable patients whose label is known, with exact
  Clopper-Pearson intervals; each row's ``n`` is that denominator and its note says how many evaluable
  patients were left out as not yet assessable, and the ``not_yet_assessable_<label>`` rows count every
  patient whose label is pending;
  Kaplan-Meier estimates are over every patient with the outcome, with lifelines' default log(-log)
  (exponential Greenwood) intervals; the median is the first time the survival estimate is at or below
  0.5 (the midpoint of the interval when the curve sits at exactly 0.5, as in R's survival package), and
  its interval is where the pointwise confidence band crosses 0.5 (Brookmeyer-Crowley style).
"""
from __future__ import annotations

import logging
import math
from typing import NamedTuple

import numpy as np
import pandas as pd

from . import recist as recist_rules

DAYS_PER_MONTH = 30.4375

LABEL_COLUMNS = [
    "patient_id", "bor", "responder", "clinical_benefit", "pfs_months", "pfs_event", "os_months",
    "os_event", "best_pct_change", "bor_unconfirmed", "disease_control", "evaluable", "not_yet_assessable",
    "confirmation_weeks", "sd_min_weeks", "benefit_months", "source",
]
SUPPLIED_OUTCOMES = ["bor", "pfs_months", "pfs_event", "os_months", "os_event"]
# The yes/no labels that can be pending, in the order ``not_yet_assessable`` lists them.
PENDING_LABELS = ("responder", "disease_control", "clinical_benefit")
DISAGREEMENT_COLUMNS = ["patient_id", "field", "supplied", "derived"]
EFFICACY_COLUMNS = ["endpoint", "estimate", "ci_low", "ci_high", "n", "count", "unit", "method", "note"]
ADVERSE_EVENT_COLUMNS = [
    "term", "any_grade_n", "any_grade_pct", "grade3plus_n", "grade3plus_pct", "related_any_n",
    "related_grade3plus_n", "related_any_pct", "related_grade3plus_pct",
]
ANY_TEAE = "Any TEAE"
PENDING_RULES = {
    "responder": "alive and progression-free, best response NE or a CR/PR awaiting confirmation",
    "disease_control": "alive and progression-free, no qualifying response yet (best response NE)",
    "clinical_benefit": "no CR/PR, progression-free and followed for at most the benefit threshold",
}

# Supplied survival times are often rounded to 0.1 month; differences within this many months are not
# reported as disagreements.
MONTHS_TOLERANCE = 0.1

logger = logging.getLogger(__name__)


class ClinicalLabels(NamedTuple):
    """What :func:`derive_labels` returns."""

    labels: pd.DataFrame
    timepoints: pd.DataFrame
    disagreements: pd.DataFrame


def derive_labels(patients: pd.DataFrame, recist: pd.DataFrame | None = None,
                  confirmation_weeks: float = 4, sd_min_weeks: float = 6,
                  benefit_months: float = 6) -> ClinicalLabels:
    """Per-patient endpoint labels, the per-assessment responses and the supplied/derived disagreements.

    Parameters
    ----------
    patients
        As read by ``readers.read_patients``: ``patient_id, treatment_start, last_contact, death_date``
        and optionally the supplied outcomes ``bor, pfs_months, pfs_event, os_months, os_event``.
    recist
        As read by ``readers.read_recist``, or ``None`` when the cohort has no visit-level data.
    confirmation_weeks, sd_min_weeks
        RECIST confirmation interval and SD minimum duration (see :mod:`trialomics.recist`).
    benefit_months
        PFS beyond this many months counts as clinical benefit.

    Returns
    -------
    :class:`ClinicalLabels` with ``labels`` (columns :data:`LABEL_COLUMNS`, one row per patient sorted
    by ``patient_id``), ``timepoints`` (:data:`trialomics.recist.TIMEPOINT_TABLE_COLUMNS`; empty
    without visit data) and ``disagreements`` (:data:`DISAGREEMENT_COLUMNS`).
    """
    patients = patients.sort_values("patient_id", kind="mergesort").reset_index(drop=True)
    supplied = [c for c in SUPPLIED_OUTCOMES if c in patients.columns]
    if recist is not None:
        timepoints = recist_rules.derive_timepoint_responses(recist, patients)
    else:
        timepoints = recist_rules.derive_timepoint_responses(
            pd.DataFrame({"patient_id": pd.Series(dtype=str), "date": pd.Series(dtype="datetime64[ns]"),
                          "target_sum_mm": pd.Series(dtype=float), "non_target": pd.Series(dtype=str),
                          "new_lesion": pd.Series(dtype=str)}), patients)
    derived = _outcomes_in_months(recist_rules.derive_patient_outcomes(
        timepoints, patients, confirmation_weeks, sd_min_weeks))

    if recist is not None:
        labels = derived.copy()
        labels["source"] = "derived"
    else:
        labels = _labels_from_supplied(patients, derived, supplied)
        labels["source"] = "supplied"
    comparable = supplied if recist is not None else [c for c in supplied if c.startswith("os_")]
    disagreements = find_disagreements(patients, derived, comparable)

    evaluable = labels["evaluable"].to_numpy(dtype=bool)
    bor = labels["bor"]
    response_pending = labels["response_pending"].to_numpy(dtype=bool)
    no_best_response_yet = response_pending & (bor == "NE").to_numpy()
    pending = {
        "responder": response_pending,
        "disease_control": no_best_response_yet,
    }
    labels["responder"] = _yes_no(bor.isin(["CR", "PR"]), evaluable & ~pending["responder"])
    labels["disease_control"] = _yes_no(bor.isin(["CR", "PR", "SD"]), evaluable & ~pending["disease_control"])
    benefit = bor.isin(["CR", "PR"]).to_numpy() | (labels["pfs_months"] > benefit_months).to_numpy()
    # Without benefit, "no" needs progression or death (necessarily within benefit_months); a patient
    # censored before then may still get there.
    pfs_known = labels["pfs_months"].notna().to_numpy()
    progressed = (labels["pfs_event"] == 1).to_numpy(dtype=bool)
    benefit_known = benefit | (pfs_known & progressed)
    labels["clinical_benefit"] = _yes_no(benefit, benefit_known)
    pending["clinical_benefit"] = pfs_known & ~benefit_known
    labels["not_yet_assessable"] = [
        ";".join(name for name in PENDING_LABELS if pending[name][i]) for i in range(len(labels))]
    labels["evaluable"] = np.where(evaluable, "yes", "no")
    labels["confirmation_weeks"] = confirmation_weeks
    labels["sd_min_weeks"] = sd_min_weeks
    labels["benefit_months"] = benefit_months
    for column in ("pfs_event", "os_event"):
        labels[column] = labels[column].astype("Int64")
    return ClinicalLabels(labels[LABEL_COLUMNS].reset_index(drop=True), timepoints, disagreements)


def _outcomes_in_months(outcomes: pd.DataFrame) -> pd.DataFrame:
    months = outcomes.copy()
    months["pfs_months"] = months.pop("pfs_days") / DAYS_PER_MONTH
    months["os_months"] = months.pop("os_days") / DAYS_PER_MONTH
    months["pfs_event"] = months["pfs_event"].astype(float)
    months["os_event"] = months["os_event"].astype(float)
    return months


def _labels_from_supplied(patients: pd.DataFrame, derived: pd.DataFrame,
                          supplied: list[str]) -> pd.DataFrame:
    labels = pd.DataFrame({"patient_id": patients["patient_id"].to_numpy()})
    if "bor" in supplied:
        given = patients["bor"].where(patients["bor"].notna() & (patients["bor"] != ""))
        labels["bor"] = given.to_numpy(dtype=object)
    else:
        logger.info("no visit-level data and no supplied 'bor': response endpoints are skipped")
        labels["bor"] = np.nan
    if {"pfs_months", "pfs_event"} <= set(supplied):
        labels["pfs_months"] = patients["pfs_months"].to_numpy(dtype=float)
        labels["pfs_event"] = patients["pfs_event"].to_numpy(dtype=float)
    else:
        logger.info("no visit-level data and not both 'pfs_months' and 'pfs_event' supplied: "
                    "PFS is skipped")
        labels["pfs_months"] = np.nan
        labels["pfs_event"] = np.nan
    labels["os_months"] = derived["os_months"].to_numpy()
    labels["os_event"] = derived["os_event"].to_numpy()
    if {"os_months", "os_event"} <= set(supplied):
        given = (patients["os_months"].notna() & patients["os_event"].notna()).to_numpy()
        labels.loc[given, "os_months"] = patients.loc[given, "os_months"].to_numpy(dtype=float)
        labels.loc[given, "os_event"] = patients.loc[given, "os_event"].to_numpy(dtype=float)
        if (~given).any():
            logger.info("OS taken from the dates for %d patient(s) without supplied OS", (~given).sum())
    else:
        logger.info("no supplied 'os_months'/'os_event': OS is derived from the dates")
    labels["best_pct_change"] = np.nan
    labels["bor_unconfirmed"] = np.nan
    labels["evaluable"] = labels["bor"].isin(["CR", "PR", "SD", "PD"]).to_numpy()
    # A supplied best response is taken as final: without visit data nothing says it is pending.
    labels["response_pending"] = False
    return labels


def _yes_no(condition: pd.Series, known: np.ndarray) -> np.ndarray:
    values = np.where(np.asarray(condition, dtype=bool), "yes", "no").astype(object)
    values[~np.asarray(known, dtype=bool)] = np.nan
    return values


def find_disagreements(patients: pd.DataFrame, derived: pd.DataFrame,
                       fields: list[str]) -> pd.DataFrame:
    """Supplied outcomes that differ from the derived ones.

    Months differing by at most :data:`MONTHS_TOLERANCE` agree; events and ``bor`` must be equal. Missing
    supplied values are not compared.

    Returns
    -------
    ``patient_id, field, supplied, derived`` (values as text), sorted by patient then field order.
    """
    merged = patients.merge(derived, on="patient_id", suffixes=("_supplied", "_derived"))
    rows = []
    for _, row in merged.iterrows():
        for field in fields:
            given, found = row[f"{field}_supplied"], row[f"{field}_derived"]
            if pd.isna(given) or (isinstance(given, str) and given == ""):
                continue
            if field == "bor":
                differs = given != found
            elif field.endswith("_months"):
                differs = abs(float(given) - float(found)) > MONTHS_TOLERANCE
            else:
                differs = int(given) != int(found)
            if differs:
                rows.append({"patient_id": row["patient_id"], "field": field,
                             "supplied": _as_text(field, given), "derived": _as_text(field, found)})
    return pd.DataFrame(rows, columns=DISAGREEMENT_COLUMNS)


def _as_text(field: str, value) -> str:
    if field == "bor":
        return str(value)
    if field.endswith("_event"):
        return str(int(value))
    return repr(float(value))


def clopper_pearson(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) confidence interval of a binomial proportion."""
    # Imported here, not with the module: the labels and adverse-event jobs need no interval (job start time).
    from scipy import stats

    alpha = 1.0 - level
    low = 0.0 if successes == 0 else stats.beta.ppf(alpha / 2, successes, n - successes + 1)
    high = 1.0 if successes == n else stats.beta.ppf(1 - alpha / 2, successes + 1, n - successes)
    return float(low), float(high)


def summarise_efficacy(labels: pd.DataFrame, pfs_landmark_months: float = 6,
                       os_landmark_months: float = 12) -> pd.DataFrame:
    """The trial's efficacy table.

    Parameters
    ----------
    labels
        The labels table (as returned by :func:`derive_labels`, or read back from ``labels.tsv`` as text).
    pfs_landmark_months, os_landmark_months
        Times of the landmark survival rates (``PFS_6m``, ``OS_12m`` by default).

    Returns
    -------
    One row per endpoint (ORR, DCR, CBR, median_PFS, median_OS, PFS_<t>m, OS_<t>m, median_follow_up,
    n_evaluable, not_yet_assessable_responder, not_yet_assessable_disease_control,
    not_yet_assessable_clinical_benefit) with the columns of :data:`EFFICACY_COLUMNS`: ``n`` is the
    denominator (evaluable patients whose label is known for proportions, patients with the outcome for
    Kaplan-Meier rows, every patient for the counts), ``count`` the patients meeting the endpoint, the
    events, or the patients counted. Endpoints that cannot be estimated keep their row with an empty
    estimate and a ``note``.
    """
    evaluable = labels["evaluable"].astype(str) == "yes"
    listed = labels.get("not_yet_assessable", pd.Series("", index=labels.index)).fillna("").astype(str)
    pending = {name: listed.str.split(";").apply(lambda names, name=name: name in names)
               for name in PENDING_LABELS}
    have_bor = labels["bor"].notna().any() and (labels["bor"].astype(str) != "").any()
    have_pfs = pd.to_numeric(labels["pfs_months"], errors="coerce").notna().any()
    thresholds = pd.to_numeric(labels.get("benefit_months", pd.Series(dtype=float)), errors="coerce")
    threshold = (f"{thresholds.dropna().iloc[0]:g} months" if thresholds.notna().any()
                 else "the benefit threshold")
    bor = labels["bor"].fillna("").astype(str)
    benefit = labels["clinical_benefit"].fillna("").astype(str)
    rows = [
        _proportion_row("ORR", bor.isin(["CR", "PR"]), evaluable & ~pending["responder"], evaluable,
                        pending["responder"], have_bor, "responder", "responders (confirmed CR or PR)"),
        _proportion_row("DCR", bor.isin(["CR", "PR", "SD"]), evaluable & ~pending["disease_control"],
                        evaluable, pending["disease_control"], have_bor, "disease_control",
                        "disease control (CR, PR or SD)"),
        _proportion_row("CBR", benefit == "yes", evaluable & benefit.isin(["yes", "no"]), evaluable,
                        pending["clinical_benefit"], have_bor and have_pfs, "clinical_benefit",
                        f"clinical benefit (CR/PR or PFS beyond {threshold})"),
    ]
    pfs = _survival_data(labels, "pfs")
    os_ = _survival_data(labels, "os")
    rows.append(_median_row("median_PFS", pfs))
    rows.append(_median_row("median_OS", os_))
    rows.append(_landmark_row(f"PFS_{pfs_landmark_months:g}m", pfs, pfs_landmark_months))
    rows.append(_landmark_row(f"OS_{os_landmark_months:g}m", os_, os_landmark_months))
    rows.append(_follow_up_row(os_))
    rows.append({"endpoint": "n_evaluable", "estimate": float(evaluable.sum()), "n": len(labels),
                 "count": int(evaluable.sum()), "unit": "patients",
                 "method": "a baseline and at least one later assessment, or death",
                 "note": "" if have_bor else "no response data"})
    for name in PENDING_LABELS:
        count = int(pending[name].sum())
        rows.append({"endpoint": f"not_yet_assessable_{name}", "estimate": float(count), "n": len(labels),
                     "count": count, "unit": "patients", "method": PENDING_RULES[name],
                     "note": "label left empty until follow-up settles it"})
    table = pd.DataFrame(rows, columns=EFFICACY_COLUMNS)
    table["n"] = table["n"].astype("Int64")
    table["count"] = table["count"].astype("Int64")
    return table


def _proportion_row(endpoint: str, meets: pd.Series, known: pd.Series, evaluable: pd.Series,
                    pending: pd.Series, available: bool, label: str, meaning: str) -> dict:
    """The proportion of the ``known`` patients that ``meets`` the endpoint, with its denominator stated."""
    n, successes = int(known.sum()), int((known & meets).sum())
    row = {"endpoint": endpoint, "n": n, "unit": "proportion", "method": "Clopper-Pearson exact 95% CI"}
    if not available or n == 0:
        logger.info("%s skipped: no evaluable patient with a known %s label", endpoint, label)
        row["note"] = f"not estimable: no evaluable patient with a known {label} label"
        return row
    low, high = clopper_pearson(successes, n)
    left_out = int((evaluable & ~known).sum())
    denominator = f"n = {n} evaluable patients with a known {label} label"
    if left_out:
        reasons = int((evaluable & pending).sum())
        denominator += (f"; {left_out} evaluable patient(s) left out ({reasons} not yet assessable)"
                        if reasons else f"; {left_out} evaluable patient(s) left out (label unknown)")
    row.update(estimate=successes / n, ci_low=low, ci_high=high, count=successes,
               note=f"{meaning}; {denominator}")
    return row


def _survival_data(labels: pd.DataFrame, endpoint: str) -> pd.DataFrame:
    data = pd.DataFrame({
        "duration": pd.to_numeric(labels[f"{endpoint}_months"], errors="coerce"),
        "event": pd.to_numeric(labels[f"{endpoint}_event"], errors="coerce"),
    })
    missing = data.isna().any(axis=1)
    if missing.all():
        logger.info("%s skipped: no patient has the outcome", endpoint.upper())
    elif missing.any():
        logger.info("%s: %d patient(s) without the outcome left out", endpoint.upper(), missing.sum())
    return data[~missing]


def fit_kaplan_meier(durations, events, label: str = "KM_estimate"):
    """A fitted lifelines ``KaplanMeierFitter`` (95% log(-log) intervals)."""
    from lifelines import KaplanMeierFitter

    return KaplanMeierFitter(alpha=0.05, label=label).fit(
        np.asarray(durations, dtype=float), np.asarray(events, dtype=int))


def survival_median(times, survival, tolerance: float = 1.5e-8) -> float:
    """Median of a step survival curve: the first time it is at or below 0.5.

    When the curve sits at exactly 0.5 (within ``tolerance``, so that rounding in the product-limit
    cannot move it) over an interval, the median is the midpoint between the start of that interval and
    the next drop, as R's survival package and SAS define it; ``inf`` when the curve never reaches 0.5.
    """
    times = np.asarray(times, dtype=float)
    survival = np.asarray(survival, dtype=float)
    reached = np.flatnonzero(survival < 0.5 + tolerance)
    if reached.size == 0:
        return math.inf
    first = reached[0]
    later_drops = np.flatnonzero(survival[first:] < survival[first] - tolerance)
    if abs(survival[first] - 0.5) < tolerance and later_drops.size:
        return float((times[first] + times[first + later_drops[0]]) / 2)
    return float(times[first])


def _median_with_ci(kmf) -> tuple[float, float, float]:
    times = kmf.survival_function_.index.to_numpy()
    median = survival_median(times, kmf.survival_function_.iloc[:, 0])
    bands = kmf.confidence_interval_survival_function_
    # The lower confidence band reaches 0.5 first, so it gives the lower limit of the median.
    low = survival_median(bands.index.to_numpy(), bands.iloc[:, 0])
    high = survival_median(bands.index.to_numpy(), bands.iloc[:, 1])
    return median, low, high


def _median_row(endpoint: str, data: pd.DataFrame, method: str = "Kaplan-Meier",
                reverse: bool = False) -> dict:
    row = {"endpoint": endpoint, "n": len(data), "unit": "months",
           "method": f"{method}, log-log CI (lifelines default)"}
    if data.empty:
        row["note"] = "not estimable: outcome not available"
        return row
    events = 1 - data["event"] if reverse else data["event"]
    kmf = fit_kaplan_meier(data["duration"], events)
    median, low, high = _median_with_ci(kmf)
    row["count"] = int(events.sum())
    notes = []
    if math.isinf(median):
        notes.append("median not reached")
    else:
        row["estimate"] = median
    if math.isinf(low):
        notes.append("lower limit not reached")
    else:
        row["ci_low"] = low
    if math.isinf(high):
        notes.append("upper limit not reached")
    else:
        row["ci_high"] = high
    row["note"] = "; ".join(notes)
    return row


def _landmark_row(endpoint: str, data: pd.DataFrame, months: float) -> dict:
    row = {"endpoint": endpoint, "n": len(data), "unit": "proportion",
           "method": f"Kaplan-Meier survival at {months:g} months, log-log CI (lifelines default)"}
    if data.empty:
        row["note"] = "not estimable: outcome not available"
        return row
    kmf = fit_kaplan_meier(data["duration"], data["event"])
    row["count"] = int(data["event"].sum())
    survival = kmf.survival_function_.iloc[:, 0]
    if data["duration"].max() < months and survival.iloc[-1] > 0:
        row["note"] = f"not estimable: follow-up shorter than {months:g} months"
        return row
    step = survival.index <= months
    bands = kmf.confidence_interval_survival_function_
    # Patients censored before the landmark inform it only up to their censoring (Kaplan-Meier), never
    # as failures; the note says how many were still followed at the landmark.
    at_risk = int((data["duration"] >= months).sum())
    row.update(estimate=float(survival[step].iloc[-1]), ci_low=float(bands[step].iloc[-1, 0]),
               ci_high=float(bands[step].iloc[-1, 1]), note=f"{at_risk} patient(s) at risk at {months:g} months")
    return row


def _follow_up_row(os_data: pd.DataFrame) -> dict:
    # Reverse Kaplan-Meier: censoring is the event of interest, so ``count`` is the patients alive at
    # their last contact.
    return _median_row("median_follow_up", os_data, method="reverse Kaplan-Meier on OS", reverse=True)


def summarise_adverse_events(adverse_events: pd.DataFrame | None,
                             patients: pd.DataFrame) -> pd.DataFrame:
    """Treatment-emergent adverse events by term.

    An event is treatment-emergent when its onset is on or after the patient's first dose. A patient
    counts once per term, at their worst grade; the related columns use the worst grade among the events
    attributed to treatment. Percentages (0-100) are of the treated patients, every patient in
    ``patients``.

    Parameters
    ----------
    adverse_events
        ``patient_id, term, grade, onset_date, related`` (``yes``/``no``), or ``None`` when not given.
    patients
        ``patient_id, treatment_start``.

    Returns
    -------
    Columns :data:`ADVERSE_EVENT_COLUMNS`. The first row, term ``Any TEAE``, counts patients with any
    treatment-emergent event; then one row per term sorted by ``any_grade_n`` (descending) then term.
    Without adverse-event data the table has a header only.
    """
    if adverse_events is None:
        return pd.DataFrame(columns=ADVERSE_EVENT_COLUMNS)
    treated = len(patients)
    events = adverse_events.merge(patients[["patient_id", "treatment_start"]], on="patient_id")
    events = events[events["onset_date"] >= events["treatment_start"]].copy()
    events["grade"] = events["grade"].astype(int)
    events["related_grade"] = np.where(events["related"] == "yes", events["grade"], 0)

    def count(group_events: pd.DataFrame) -> dict:
        worst = group_events.groupby("patient_id")[["grade", "related_grade"]].max()
        counts = {"any_grade_n": len(worst), "grade3plus_n": int((worst["grade"] >= 3).sum()),
                  "related_any_n": int((worst["related_grade"] >= 1).sum()),
                  "related_grade3plus_n": int((worst["related_grade"] >= 3).sum())}
        for name in ("any_grade", "grade3plus", "related_any", "related_grade3plus"):
            counts[f"{name}_pct"] = 100.0 * counts[f"{name}_n"] / treated if treated else math.nan
        return counts

    rows = [{"term": term, **count(group)} for term, group in events.groupby("term", sort=True)]
    by_term = pd.DataFrame(rows, columns=ADVERSE_EVENT_COLUMNS)
    by_term = by_term.sort_values(["any_grade_n", "term"], ascending=[False, True], kind="mergesort")
    overall = pd.DataFrame([{"term": ANY_TEAE, **count(events)}], columns=ADVERSE_EVENT_COLUMNS)
    table = pd.concat([overall, by_term], ignore_index=True)
    for column in ADVERSE_EVENT_COLUMNS[1:]:
        if column.endswith("_n"):
            table[column] = table[column].astype("int64")
    return table
