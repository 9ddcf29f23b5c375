"""RECIST 1.1 rules, checked on hand-worked cases and with property-based tests."""
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trialomics import recist

START = pd.Timestamp("2021-03-01")


def make_patients(*rows):
    """rows: (patient_id, death_day or None, last_contact_day)."""
    return pd.DataFrame({
        "patient_id": [r[0] for r in rows],
        "treatment_start": [START] * len(rows),
        "last_contact": [START + pd.Timedelta(days=r[2]) for r in rows],
        "death_date": pd.to_datetime([START + pd.Timedelta(days=r[1]) if r[1] is not None else pd.NaT
                                      for r in rows]),
    })


def make_recist(*visits):
    """visits: (patient_id, day, target_sum_mm, non_target, new_lesion)."""
    return pd.DataFrame({
        "patient_id": [v[0] for v in visits],
        "date": [START + pd.Timedelta(days=v[1]) for v in visits],
        "target_sum_mm": [float(v[2]) for v in visits],
        "non_target": [v[3] for v in visits],
        "new_lesion": [v[4] for v in visits],
    })


def outcome_of(visits, death_day=None, last_contact_day=400, confirmation_weeks=4, sd_min_weeks=6):
    """Outcome row of one patient P1 from (day, sum, non_target, new_lesion) tuples."""
    patients = make_patients(("P1", death_day, last_contact_day))
    table = make_recist(*[("P1", *v) for v in visits])
    timepoints = recist.derive_timepoint_responses(table, patients)
    outcomes = recist.derive_patient_outcomes(timepoints, patients, confirmation_weeks, sd_min_weeks)
    return outcomes.iloc[0], timepoints


NT = "NON_CR_NON_PD"


# --- target response -------------------------------------------------------------------------------

def test_twenty_percent_increase_under_five_mm_is_not_progression():
    # Nadir 20 mm -> 24 mm is +20 % but only +4 mm.
    assert recist.target_response(24.0, baseline_sum=20.0, nadir_sum=20.0) == "SD"


def test_twenty_percent_and_five_mm_exactly_is_progression():
    assert recist.target_response(30.0, baseline_sum=25.0, nadir_sum=25.0) == "PD"
    assert recist.target_response(29.9, baseline_sum=25.0, nadir_sum=25.0) == "SD"


def test_five_mm_but_under_twenty_percent_is_not_progression():
    # Nadir 50: +6 mm is only +12 %.
    assert recist.target_response(56.0, baseline_sum=50.0, nadir_sum=50.0) == "SD"


def test_partial_response_threshold_is_thirty_percent_inclusive():
    assert recist.target_response(70.0, baseline_sum=100.0, nadir_sum=100.0) == "PR"
    assert recist.target_response(70.1, baseline_sum=100.0, nadir_sum=100.0) == "SD"


def test_complete_response_needs_sum_zero():
    assert recist.target_response(0.0, baseline_sum=40.0, nadir_sum=10.0) == "CR"
    assert recist.target_response(1.0, baseline_sum=40.0, nadir_sum=10.0) == "PR"


def test_reappearance_after_all_target_lesions_disappeared_is_progression():
    assert recist.target_response(3.0, baseline_sum=40.0, nadir_sum=0.0) == "PD"


def test_unmeasured_sum_is_not_evaluable():
    assert recist.target_response(math.nan, baseline_sum=40.0, nadir_sum=40.0) == "NE"


def test_progression_is_measured_from_the_nadir_not_the_baseline():
    # 100 -> 60 (PR) -> 72: still -28 % from baseline, but +20 % and +12 mm over the nadir of 60.
    _, timepoints = outcome_of([(-3, 100, NT, "no"), (42, 60, NT, "no"), (84, 72, NT, "no")])
    follow_up = timepoints[timepoints["phase"] == "follow_up"]
    assert follow_up["target_response"].tolist() == ["PR", "PD"]
    assert follow_up["pct_change_from_baseline"].tolist() == pytest.approx([-40.0, -28.0])
    assert follow_up["pct_change_from_nadir"].tolist() == pytest.approx([-40.0, 20.0])


def test_the_nadir_can_be_the_baseline():
    # 50 -> 55 -> 60: the smallest sum so far is the baseline, so 60 is +20 % and +10 mm: PD.
    outcome, timepoints = outcome_of([(-3, 50, NT, "no"), (42, 55, NT, "no"), (84, 60, NT, "no")])
    follow_up = timepoints[timepoints["phase"] == "follow_up"]
    assert follow_up["target_response"].tolist() == ["SD", "PD"]
    assert follow_up["pct_change_from_nadir"].tolist() == pytest.approx([10.0, 20.0])
    assert outcome["bor"] == "SD"
    assert outcome["pfs_days"] == 84 and outcome["pfs_event"] == 1


# --- overall time-point response (RECIST 1.1 Tables 1 and 2) ------------------------------------------

@pytest.mark.parametrize("target, non_target, new_lesion, expected", [
    ("CR", "CR", "no", "CR"),
    ("CR", "ABSENT", "no", "CR"),
    ("CR", NT, "no", "PR"),
    ("CR", "NE", "no", "PR"),
    ("PR", "CR", "no", "PR"),
    ("PR", NT, "no", "PR"),
    ("PR", "NE", "no", "PR"),
    ("PR", "ABSENT", "no", "PR"),
    ("SD", NT, "no", "SD"),
    ("SD", "NE", "no", "SD"),
    ("SD", "CR", "no", "SD"),
    ("NE", NT, "no", "NE"),
    ("NE", "CR", "no", "NE"),
    ("NE", "NE", "no", "NE"),
    ("PD", "CR", "no", "PD"),
    ("PD", "NE", "no", "PD"),
    ("CR", "PD", "no", "PD"),
    ("PR", "PD", "no", "PD"),
    ("NE", "PD", "no", "PD"),
    ("CR", "CR", "yes", "PD"),
    ("PR", NT, "yes", "PD"),
    ("NE", "NE", "yes", "PD"),
])
def test_table_1_target_disease(target, non_target, new_lesion, expected):
    assert recist.overall_timepoint_response(target, non_target, new_lesion) == expected


@pytest.mark.parametrize("non_target, new_lesion, baseline_non_target, expected", [
    ("CR", "no", True, "CR"),
    ("ABSENT", "no", True, "CR"),
    (NT, "no", True, "SD"),      # "non-CR/non-PD", reported as SD
    ("NE", "no", True, "NE"),
    ("PD", "no", True, "PD"),
    ("CR", "yes", True, "PD"),
    ("ABSENT", "no", False, "NE"),  # no disease at all at baseline: nothing to assess
])
def test_table_2_non_target_disease_only(non_target, new_lesion, baseline_non_target, expected):
    assert recist.overall_timepoint_response("NONE", non_target, new_lesion,
                                             baseline_non_target) == expected


def test_new_lesion_is_progression_whatever_the_sums():
    outcome, timepoints = outcome_of([(-1, 80, "CR", "no"), (42, 0, "CR", "yes"), (84, 0, "CR", "no")])
    follow_up = timepoints[timepoints["phase"] == "follow_up"]
    assert follow_up["target_response"].tolist() == ["CR", "CR"]
    assert follow_up["overall_response"].tolist() == ["PD", "CR"]
    assert outcome["bor"] == "PD"
    assert outcome["bor_unconfirmed"] == "PD"
    assert outcome["pfs_days"] == 42 and outcome["pfs_event"] == 1


def test_non_target_progression_with_shrinking_sum_is_progression():
    outcome, _ = outcome_of([(-1, 80, NT, "no"), (30, 40, "PD", "no")])
    assert outcome["bor"] == "PD"
    assert outcome["best_pct_change"] == pytest.approx(-50.0)
    assert outcome["pfs_days"] == 30 and outcome["pfs_event"] == 1


def test_non_target_disease_only_patient():
    outcome, timepoints = outcome_of([(-1, 0, NT, "no"), (42, 0, NT, "no"), (84, 0, "CR", "no"),
                                      (120, 0, "CR", "no")])
    follow_up = timepoints[timepoints["phase"] == "follow_up"]
    assert follow_up["target_response"].tolist() == ["NONE", "NONE", "NONE"]
    assert follow_up["overall_response"].tolist() == ["SD", "CR", "CR"]
    assert outcome["bor"] == "CR"
    assert math.isnan(outcome["best_pct_change"])


# --- baseline -----------------------------------------------------------------------------------------

def test_baseline_is_the_last_assessment_on_or_before_the_first_dose():
    _, timepoints = outcome_of([(-30, 200, NT, "no"), (0, 100, NT, "no"), (42, 65, NT, "no")])
    assert timepoints["phase"].tolist() == ["pre_baseline", "baseline", "follow_up"]
    assert timepoints["pct_change_from_baseline"].iloc[2] == pytest.approx(-35.0)
    assert timepoints["day"].tolist() == [-30, 0, 42]


def test_only_a_baseline_is_not_evaluable_and_censored_at_day_zero():
    outcome, _ = outcome_of([(-5, 100, NT, "no")], last_contact_day=200)
    assert outcome["bor"] == "NE" and outcome["bor_unconfirmed"] == "NE"
    assert not outcome["evaluable"]
    assert outcome["pfs_days"] == 0 and outcome["pfs_event"] == 0
    assert outcome["os_days"] == 200 and outcome["os_event"] == 0


def test_no_baseline_is_not_evaluable_but_progression_still_counts_for_pfs():
    outcome, timepoints = outcome_of([(40, 60, NT, "no"), (80, 60, NT, "yes")])
    assert timepoints["overall_response"].tolist() == ["NE", "PD"]
    assert outcome["bor"] == "NE" and not outcome["evaluable"]
    assert outcome["pfs_days"] == 80 and outcome["pfs_event"] == 1


def test_death_before_the_first_scan_is_a_pfs_event_and_evaluable_but_not_progression():
    # Evaluable (in the response denominator), but RECIST progression needs a scan: best response NE.
    outcome, _ = outcome_of([(-5, 100, NT, "no")], death_day=30, last_contact_day=30)
    assert outcome["evaluable"]
    assert outcome["bor"] == "NE"
    assert outcome["pfs_days"] == 30 and outcome["pfs_event"] == 1
    assert outcome["os_days"] == 30 and outcome["os_event"] == 1


# --- confirmation and SD duration ----------------------------------------------------------------------

def test_partial_response_confirmed_exactly_at_four_weeks():
    assert recist.best_overall_response([42, 70], ["PR", "PR"], 4, 6) == "PR"


def test_partial_response_not_confirmed_one_day_short_falls_back_to_sd():
    assert recist.best_overall_response([42, 69], ["PR", "PR"], 4, 6) == "SD"
    assert recist.best_overall_response([42, 69], ["PR", "PR"], 4, 6, require_confirmation=False) == "PR"


def test_unconfirmed_partial_response_stays_unconfirmed():
    outcome, _ = outcome_of([(-2, 100, NT, "no"), (56, 60, NT, "no"), (84, 110, NT, "no")])
    assert outcome["bor_unconfirmed"] == "PR"
    # Unconfirmed, but assessed after the SD minimum of 6 weeks: SD.
    assert outcome["bor"] == "SD"


def test_unconfirmed_partial_response_before_sd_minimum_is_not_sd():
    assert recist.best_overall_response([35], ["PR"], 4, 6) == "NE"
    assert recist.best_overall_response([35, 63], ["PR", "PD"], 4, 6) == "PD"
    assert recist.best_overall_response([35], ["PR"], 4, 6, require_confirmation=False) == "PR"


def test_stable_disease_exactly_at_the_minimum_counts():
    assert recist.best_overall_response([42], ["SD"], 4, 6) == "SD"


def test_stable_disease_before_the_minimum_is_not_sd():
    assert recist.best_overall_response([41], ["SD"], 4, 6) == "NE"
    assert recist.best_overall_response([41, 90], ["SD", "PD"], 4, 6) == "PD"


def test_complete_response_confirmation():
    assert recist.best_overall_response([56, 84], ["CR", "CR"], 4, 6) == "CR"
    # An NE in between does not break the sequence.
    assert recist.best_overall_response([56, 70, 84], ["CR", "NE", "CR"], 4, 6) == "CR"
    # A later PR confirms a response, not a complete one.
    assert recist.best_overall_response([56, 84], ["CR", "PR"], 4, 6) == "PR"
    assert recist.best_overall_response([56, 84], ["PR", "CR"], 4, 6) == "PR"


def test_intervening_sd_or_pd_breaks_confirmation():
    assert recist.best_overall_response([56, 70, 98], ["PR", "SD", "PR"], 4, 6) == "SD"
    # Nothing after the first PD counts.
    assert recist.best_overall_response([56, 70, 98], ["PR", "PD", "PR"], 4, 6) == "SD"
    assert recist.best_overall_response([20, 30, 98], ["SD", "PD", "PR"], 4, 6) == "PD"


def test_configurable_confirmation_and_sd_windows():
    assert recist.best_overall_response([42, 70], ["PR", "PR"], confirmation_weeks=8,
                                        sd_min_weeks=6) == "SD"
    assert recist.best_overall_response([42, 70], ["PR", "PR"], confirmation_weeks=8,
                                        sd_min_weeks=12) == "NE"


# --- survival -----------------------------------------------------------------------------------------

def test_pfs_censored_at_last_evaluable_assessment():
    outcome, _ = outcome_of([(-2, 100, NT, "no"), (42, 90, NT, "no"), (84, math.nan, "NE", "no")],
                            last_contact_day=150)
    assert outcome["pfs_days"] == 42 and outcome["pfs_event"] == 0
    assert outcome["os_days"] == 150 and outcome["os_event"] == 0


def test_death_without_progression_is_a_pfs_event():
    outcome, _ = outcome_of([(-2, 100, NT, "no"), (42, 90, NT, "no")], death_day=100,
                            last_contact_day=100)
    assert outcome["bor"] == "SD"
    assert outcome["pfs_days"] == 100 and outcome["pfs_event"] == 1


def test_overall_survival_censored_at_latest_date_known_alive():
    # last_contact earlier than the last scan: the scan proves the patient was alive.
    outcome, _ = outcome_of([(-2, 100, NT, "no"), (90, 95, NT, "no")], last_contact_day=60)
    assert outcome["os_days"] == 90 and outcome["os_event"] == 0


def test_response_is_pending_only_while_it_can_still_change():
    # Alive, progression-free, baseline only: pending. The same patient dead: settled (NE, a PFS event).
    assert outcome_of([(-5, 100, NT, "no")])[0]["response_pending"]
    assert not outcome_of([(-5, 100, NT, "no")], death_day=30, last_contact_day=30)[0]["response_pending"]
    # No baseline: the response can never be assessed.
    assert not outcome_of([(40, 60, NT, "no")])[0]["response_pending"]
    # A PR awaiting its confirmation scan (SD already qualifies) is pending; once confirmed it is not.
    awaiting = outcome_of([(-2, 100, NT, "no"), (50, 90, NT, "no"), (100, 60, NT, "no")])[0]
    assert awaiting["bor"] == "SD" and awaiting["response_pending"]
    confirmed = outcome_of([(-2, 100, NT, "no"), (50, 90, NT, "no"), (100, 60, NT, "no"),
                            (130, 60, NT, "no")])[0]
    assert confirmed["bor"] == "PR" and not confirmed["response_pending"]
    # An SD after an unconfirmed PR breaks the confirmation for good; an NE scan after it does not.
    broken = outcome_of([(-2, 100, NT, "no"), (50, 60, NT, "no"), (100, 80, NT, "no")])[0]
    assert broken["bor"] == "SD" and not broken["response_pending"]
    unmeasured = outcome_of([(-2, 100, NT, "no"), (50, 60, NT, "no"), (100, float("nan"), NT, "no")])[0]
    assert unmeasured["bor"] == "SD" and unmeasured["response_pending"]
    # Progression settles it whatever came before.
    progressed = outcome_of([(-2, 100, NT, "no"), (30, 60, NT, "no"), (60, 60, NT, "yes")])[0]
    assert progressed["bor"] == "PD" and not progressed["response_pending"]


def test_best_pct_change_stops_at_progression():
    outcome, _ = outcome_of([(-2, 100, NT, "no"), (42, 90, NT, "yes"), (84, 20, NT, "no")])
    assert outcome["best_pct_change"] == pytest.approx(-10.0)


def test_every_patient_gets_a_row_sorted():
    patients = make_patients(("B", None, 100), ("A", None, 100), ("C", 50, 50))
    table = make_recist(("A", -1, 50, NT, "no"), ("A", 45, 30, NT, "no"))
    outcomes = recist.derive_patient_outcomes(recist.derive_timepoint_responses(table, patients),
                                              patients)
    assert outcomes["patient_id"].tolist() == ["A", "B", "C"]
    assert outcomes["bor"].tolist() == ["SD", "NE", "NE"]
    assert outcomes["pfs_event"].tolist() == [0, 0, 1]


# --- properties ---------------------------------------------------------------------------------------

NON_TARGET = ["CR", NT, "PD", "NE", "ABSENT"]


@st.composite
def trials(draw):
    """A few patients with random but valid visit-level data."""
    n_patients = draw(st.integers(1, 4))
    patient_rows, visits = [], []
    for index in range(n_patients):
        pid = f"P{index:02d}"
        baseline_day = draw(st.integers(-28, 0))
        gaps = draw(st.lists(st.integers(1, 70), min_size=0, max_size=6))
        has_baseline = draw(st.booleans())
        days = ([baseline_day] if has_baseline else []) + [int(d) for d in np.cumsum(gaps)]
        for day in days:
            measured = draw(st.integers(0, 9)) > 0
            total = float(draw(st.integers(0, 150))) if measured else math.nan
            visits.append((pid, day, total, draw(st.sampled_from(NON_TARGET)),
                           "yes" if draw(st.integers(0, 7)) == 0 else "no"))
        last_day = max(days + [0])
        died = draw(st.booleans())
        death_day = last_day + draw(st.integers(0, 200)) if died else None
        last_contact = death_day if died else draw(st.integers(0, last_day + 300))
        patient_rows.append((pid, death_day, last_contact))
    return make_patients(*patient_rows), make_recist(*visits)


def derive(patients, table):
    timepoints = recist.derive_timepoint_responses(table, patients)
    return timepoints, recist.derive_patient_outcomes(timepoints, patients)


@settings(max_examples=60, deadline=None)
@given(trials(), st.randoms(use_true_random=False))
def test_outcomes_do_not_depend_on_row_order(trial, rng):
    patients, table = trial
    _, expected = derive(patients, table)
    order = list(range(len(table)))
    rng.shuffle(order)
    patient_order = list(range(len(patients)))
    rng.shuffle(patient_order)
    _, shuffled = derive(patients.iloc[patient_order], table.iloc[order])
    pd.testing.assert_frame_equal(expected, shuffled)


@settings(max_examples=60, deadline=None)
@given(trials())
def test_pfs_never_exceeds_os_and_censoring_matches_dates(trial):
    patients, table = trial
    timepoints, outcomes = derive(patients, table)
    deaths = patients.set_index("patient_id")["death_date"]
    for row in outcomes.itertuples():
        assert row.pfs_days <= row.os_days
        died = not pd.isna(deaths[row.patient_id])
        assert row.os_event == int(died)
        if died:
            assert row.os_days == (deaths[row.patient_id] - START).days
        follow_up = timepoints[(timepoints["patient_id"] == row.patient_id)
                               & (timepoints["phase"] == "follow_up")]
        if row.pfs_event == 0:
            assessed = follow_up.loc[follow_up["overall_response"] != "NE", "day"].tolist()
            assert row.pfs_days in assessed + [0]
            # Censored: no progression at or before the censoring day, and no death.
            assert not died
            assert "PD" not in follow_up["overall_response"].tolist()
        else:
            progression = follow_up.loc[follow_up["overall_response"] == "PD", "day"].tolist()
            candidates = progression[:1] + ([row.os_days] if died else [])
            assert row.pfs_days == min(candidates)


@settings(max_examples=60, deadline=None)
@given(trials())
def test_confirmation_never_improves_the_best_response(trial):
    patients, table = trial
    _, outcomes = derive(patients, table)
    for row in outcomes.itertuples():
        assert recist.RESPONSE_RANK[row.bor] >= recist.RESPONSE_RANK[row.bor_unconfirmed]
        if not row.evaluable:
            assert row.bor == "NE"
