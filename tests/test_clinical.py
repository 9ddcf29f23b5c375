"""Labels, efficacy and safety tables, and the clinical figures."""
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy import stats

from trialomics import clinical, clinical_plots, style, tables

START = pd.Timestamp("2022-01-10")
NT = "NON_CR_NON_PD"
DEMO = Path(__file__).resolve().parents[1] / "resources" / "demo"


def day(n):
    return START + pd.Timedelta(days=n)


def patients_table(rows, **supplied):
    """rows: (patient_id, last_contact_day, death_day or None); supplied: outcome columns."""
    table = pd.DataFrame({
        "patient_id": [r[0] for r in rows],
        "treatment_start": [START] * len(rows),
        "last_contact": [day(r[1]) for r in rows],
        "death_date": pd.to_datetime([day(r[2]) if r[2] is not None else pd.NaT for r in rows]),
    })
    for column, values in supplied.items():
        table[column] = values
    return table


def recist_table(visits):
    """visits: (patient_id, day, target_sum_mm, non_target, new_lesion)."""
    return pd.DataFrame({
        "patient_id": [v[0] for v in visits],
        "date": [day(v[1]) for v in visits],
        "target_sum_mm": [float(v[2]) for v in visits],
        "non_target": [v[3] for v in visits],
        "new_lesion": [v[4] for v in visits],
    })


# A small trial worked by hand:
#   A: 100 -> 60 (day 56, PR) -> 50 (day 112, PR, confirmed) -> 80 (day 224: +30 mm over nadir 50, PD)
#   B: 50 -> 48 (day 56, SD) -> 70 (day 120, PD), dies day 300
#   C: only a baseline, alive: not evaluable
#   D: 40 -> 38 (day 60, SD) -> 36 (day 250, SD), alive at day 260: PFS 250 d censored > 6 months
PATIENTS = patients_table([("A", 400, None), ("B", 300, 300), ("C", 90, None), ("D", 260, None)])
RECIST = recist_table([
    ("A", -3, 100, NT, "no"), ("A", 56, 60, NT, "no"), ("A", 112, 50, NT, "no"), ("A", 224, 80, NT, "no"),
    ("B", -1, 50, NT, "no"), ("B", 56, 48, NT, "no"), ("B", 120, 70, NT, "no"),
    ("C", -5, 30, NT, "no"),
    ("D", 0, 40, NT, "no"), ("D", 60, 38, NT, "no"), ("D", 250, 36, NT, "no"),
])


@pytest.fixture(scope="module")
def derived():
    return clinical.derive_labels(PATIENTS, RECIST, confirmation_weeks=4, sd_min_weeks=6,
                                  benefit_months=6)


# --- labels ---------------------------------------------------------------------------------------------

def test_labels_columns_and_values(derived):
    labels = derived.labels
    assert list(labels.columns) == clinical.LABEL_COLUMNS
    assert list(labels.columns[:10]) == ["patient_id", "bor", "responder", "clinical_benefit",
                                         "pfs_months", "pfs_event", "os_months", "os_event",
                                         "best_pct_change", "bor_unconfirmed"]
    by = labels.set_index("patient_id")
    assert by["bor"].tolist() == ["PR", "SD", "NE", "SD"]
    assert by["responder"].tolist()[:2] == ["yes", "no"] and pd.isna(by.loc["C", "responder"])
    assert by["disease_control"].tolist()[:2] == ["yes", "yes"]
    assert by["evaluable"].tolist() == ["yes", "yes", "no", "yes"]
    assert by.loc["A", "pfs_months"] == pytest.approx(224 / 30.4375)
    assert by.loc["B", "pfs_months"] == pytest.approx(120 / 30.4375)
    assert by.loc["B", "os_months"] == pytest.approx(300 / 30.4375)
    assert by["pfs_event"].tolist() == [1, 1, 0, 0]
    assert by["os_event"].tolist() == [0, 1, 0, 0]
    assert by.loc["C", "pfs_months"] == 0.0
    assert by.loc["A", "best_pct_change"] == pytest.approx(-50.0)
    # D: SD, progression-free beyond 6 months (250 d = 8.2 months): clinical benefit.
    assert by["clinical_benefit"].tolist()[:2] == ["yes", "no"] and by.loc["D", "clinical_benefit"] == "yes"
    assert pd.isna(by.loc["C", "clinical_benefit"])
    # C has a baseline and is alive without progression: every label may still come.
    assert by["not_yet_assessable"].tolist() == ["", "", "responder;disease_control;clinical_benefit", ""]
    assert set(by["source"]) == {"derived"}
    assert by["confirmation_weeks"].unique().tolist() == [4]
    assert str(labels["pfs_event"].dtype) == "Int64"


def test_benefit_threshold_is_configurable():
    labels = clinical.derive_labels(PATIENTS, RECIST, benefit_months=8).labels.set_index("patient_id")
    assert labels.loc["D", "clinical_benefit"] == "yes"
    # D is progression-free at 8.2 months: below a 9-month threshold that is not yet known, not "no".
    labels = clinical.derive_labels(PATIENTS, RECIST, benefit_months=9).labels.set_index("patient_id")
    assert pd.isna(labels.loc["D", "clinical_benefit"])
    assert labels.loc["D", "not_yet_assessable"] == "clinical_benefit"
    assert labels.loc["B", "clinical_benefit"] == "no"


# A trial still following its patients (day 0 = first dose, data cut at each last_contact):
#   E: SD at day 60, censored at day 60 (2.0 months), alive at day 100: benefit not yet known
#   F: SD at day 60, PD at day 150 (4.9 months): no benefit, known
#   G: PR at day 56 confirmed at day 84, censored at 2.8 months: benefit (a responder)
#   H: PR at day 30 only (before the SD minimum, unconfirmed): best response NE, nothing known yet
#   I: SD at day 50, PR at day 100 awaiting its confirmation: responder unknown, disease control yes
#   J: SD at day 30 (before the SD minimum), dies at day 60: responder, control and benefit all "no"
ONGOING = patients_table([("E", 100, None), ("F", 160, None), ("G", 90, None), ("H", 35, None),
                          ("I", 110, None), ("J", 60, 60)])
ONGOING_RECIST = recist_table([
    ("E", -2, 50, NT, "no"), ("E", 60, 48, NT, "no"),
    ("F", -2, 50, NT, "no"), ("F", 60, 48, NT, "no"), ("F", 150, 50, NT, "yes"),
    ("G", -2, 50, NT, "no"), ("G", 56, 30, NT, "no"), ("G", 84, 28, NT, "no"),
    ("H", -2, 50, NT, "no"), ("H", 30, 30, NT, "no"),
    ("I", -2, 50, NT, "no"), ("I", 50, 45, NT, "no"), ("I", 100, 30, NT, "no"),
    ("J", -2, 50, NT, "no"), ("J", 30, 48, NT, "no"),
])


def test_labels_are_missing_until_follow_up_settles_them():
    labels = clinical.derive_labels(ONGOING, ONGOING_RECIST, benefit_months=6).labels.set_index("patient_id")
    assert labels["bor"].tolist() == ["SD", "SD", "PR", "NE", "SD", "NE"]
    assert labels.loc["E", "pfs_months"] == pytest.approx(60 / 30.4375) and labels.loc["E", "pfs_event"] == 0

    def column(name):
        return [None if pd.isna(v) else v for v in labels[name]]

    assert column("clinical_benefit") == [None, "no", "yes", None, None, "no"]
    assert column("responder") == ["no", "no", "yes", None, None, "no"]
    assert column("disease_control") == ["yes", "yes", "yes", None, "yes", "no"]
    assert labels["not_yet_assessable"].tolist() == [
        "clinical_benefit", "", "", "responder;disease_control;clinical_benefit",
        "responder;clinical_benefit", ""]


def test_efficacy_counts_not_yet_assessable_patients_and_states_denominators():
    labels = clinical.derive_labels(ONGOING, ONGOING_RECIST, benefit_months=6).labels
    by = clinical.summarise_efficacy(labels).set_index("endpoint")
    # All six are evaluable. ORR over E, F, G, J (H and I pending): 1/4; DCR over all but H: 4/5;
    # CBR over F, G, J: 1/3.
    assert by.loc["ORR", ["count", "n"]].tolist() == [1, 4]
    assert by.loc["ORR", "ci_low"] == pytest.approx(stats.beta.ppf(0.025, 1, 4))
    assert by.loc["DCR", ["count", "n"]].tolist() == [4, 5]
    assert by.loc["CBR", ["count", "n"]].tolist() == [1, 3]
    assert by.loc["CBR", "estimate"] == pytest.approx(1 / 3)
    assert by.loc["CBR", "ci_high"] == pytest.approx(stats.beta.ppf(0.975, 2, 2))
    assert "n = 4 evaluable patients with a known responder label" in by.loc["ORR", "note"]
    assert "2 evaluable patient(s) left out (2 not yet assessable)" in by.loc["ORR", "note"]
    assert "3 evaluable patient(s) left out (3 not yet assessable)" in by.loc["CBR", "note"]
    counts = by.loc[[f"not_yet_assessable_{name}" for name in clinical.PENDING_LABELS], ["count", "n"]]
    assert counts.values.tolist() == [[2, 6], [1, 6], [3, 6]]


def test_supplied_pfs_censored_before_the_threshold_leaves_benefit_missing():
    patients = patients_table([("A", 400, None), ("B", 300, None), ("C", 90, None), ("D", 90, None)],
                              bor=["SD", "SD", "PR", "SD"], pfs_months=[2.0, 2.0, 2.0, 7.0],
                              pfs_event=[0.0, 1.0, 0.0, 0.0])
    labels = clinical.derive_labels(patients, None, benefit_months=6).labels.set_index("patient_id")
    assert pd.isna(labels.loc["A", "clinical_benefit"])
    assert labels.loc[["B", "C", "D"], "clinical_benefit"].tolist() == ["no", "yes", "yes"]
    assert labels["not_yet_assessable"].tolist() == ["clinical_benefit", "", "", ""]
    assert labels["responder"].tolist() == ["no", "no", "yes", "no"]


def test_cbr_is_not_estimable_without_pfs():
    patients = patients_table([("A", 400, None), ("B", 300, None)], bor=["PR", "SD"])
    labels = clinical.derive_labels(patients, None).labels
    by = clinical.summarise_efficacy(labels).set_index("endpoint")
    assert pd.isna(by.loc["CBR", "estimate"]) and by.loc["CBR", "note"].startswith("not estimable")
    assert by.loc["ORR", "estimate"] == 0.5


def test_labels_written_with_empty_cells_and_integer_events(derived, tmp_path):
    path = tmp_path / "labels.tsv"
    tables.write_tsv(derived.labels, path)
    lines = path.read_text().splitlines()
    assert lines[0].split("\t")[:3] == ["patient_id", "bor", "responder"]
    row_c = lines[3].split("\t")
    assert row_c[0] == "C" and row_c[2] == "" and row_c[5] == "0"
    back = tables.read_tsv(path)
    assert float(back.loc[0, "pfs_months"]) == derived.labels.loc[0, "pfs_months"]


def test_timepoint_table_columns(derived):
    assert list(derived.timepoints.columns[:10]) == [
        "patient_id", "date", "day", "target_sum_mm", "pct_change_from_baseline",
        "pct_change_from_nadir", "target_response", "non_target", "new_lesion", "overall_response"]
    a = derived.timepoints[derived.timepoints["patient_id"] == "A"]
    assert a["overall_response"].tolist() == ["", "PR", "PR", "PD"]
    assert a["pct_change_from_nadir"].iloc[3] == pytest.approx(60.0)


def test_supplied_outcomes_without_visit_data():
    patients = patients_table([("A", 400, None), ("B", 300, 300), ("C", 90, None)],
                              bor=["PR", "SD", ""], pfs_months=[8.0, 2.0, np.nan],
                              pfs_event=[0.0, 1.0, np.nan], os_months=[13.0, np.nan, 2.9],
                              os_event=[0.0, np.nan, 0.0])
    result = clinical.derive_labels(patients, None)
    labels = result.labels.set_index("patient_id")
    assert set(labels["source"]) == {"supplied"}
    assert labels["bor"].tolist()[:2] == ["PR", "SD"] and pd.isna(labels.loc["C", "bor"])
    assert labels["responder"].tolist()[:2] == ["yes", "no"] and pd.isna(labels.loc["C", "responder"])
    assert labels["clinical_benefit"].tolist()[:2] == ["yes", "no"]
    assert labels.loc["A", "pfs_months"] == 8.0
    # OS supplied where given, else from the dates (B died on day 300).
    assert labels.loc["A", "os_months"] == 13.0
    assert labels.loc["B", "os_months"] == pytest.approx(300 / 30.4375)
    assert labels.loc["B", "os_event"] == 1
    assert result.timepoints.empty
    # Supplied OS is checked against the dates: A's 13.0 months vs 400 days = 13.14 months.
    assert result.disagreements[["patient_id", "field"]].values.tolist() == [["A", "os_months"]]


def test_missing_supplied_outcomes_are_skipped_not_errors():
    patients = patients_table([("A", 400, None), ("B", 300, 300)])
    labels = clinical.derive_labels(patients, None).labels
    assert labels["bor"].isna().all() and labels["pfs_months"].isna().all()
    assert labels["clinical_benefit"].isna().all()
    efficacy = clinical.summarise_efficacy(labels).set_index("endpoint")
    assert efficacy.loc["ORR", "note"].startswith("not estimable")
    assert pd.isna(efficacy.loc["median_PFS", "estimate"])
    assert efficacy.loc["median_OS", "n"] == 2


def test_derived_values_win_and_disagreements_are_listed():
    patients = PATIENTS.assign(bor=["PR", "PD", "NE", "SD"],
                               pfs_months=[224 / 30.4375 + 0.05, 2.0, 0.0, np.nan],
                               pfs_event=[1.0, 1.0, 0.0, 0.0])
    result = clinical.derive_labels(patients, RECIST)
    assert result.labels.set_index("patient_id").loc["B", "bor"] == "SD"
    listed = result.disagreements[["patient_id", "field", "supplied", "derived"]].values.tolist()
    # A's PFS differs by 0.05 month only (within tolerance); D's missing PFS is not compared.
    assert listed == [["B", "bor", "PD", "SD"],
                      ["B", "pfs_months", "2.0", repr(120 / 30.4375)]]
    assert list(result.disagreements.columns) == ["patient_id", "field", "supplied", "derived"]


def test_no_disagreements_gives_header_only():
    result = clinical.derive_labels(PATIENTS, RECIST)
    assert result.disagreements.empty
    assert list(result.disagreements.columns) == clinical.DISAGREEMENT_COLUMNS


# --- efficacy -------------------------------------------------------------------------------------------

def test_clopper_pearson_hand_values():
    low, high = clinical.clopper_pearson(4, 20)
    assert low == pytest.approx(0.0573, abs=5e-5) and high == pytest.approx(0.4366, abs=5e-5)
    # Closed forms at the boundaries: x = 0 gives (0, 1 - (alpha/2)^(1/n)), x = n the mirror image.
    assert clinical.clopper_pearson(0, 10) == pytest.approx((0.0, 1 - 0.025 ** (1 / 10)))
    assert clinical.clopper_pearson(10, 10) == pytest.approx((0.025 ** (1 / 10), 1.0))


@pytest.mark.parametrize("x, n", [(1, 7), (5, 19), (12, 20)])
def test_clopper_pearson_matches_binomial_tail_definition(x, n):
    low, high = clinical.clopper_pearson(x, n)
    # The exact interval's limits solve P(X >= x | low) = 0.025 and P(X <= x | high) = 0.025.
    assert stats.binom.sf(x - 1, n, low) == pytest.approx(0.025, abs=1e-9)
    assert stats.binom.cdf(x, n, high) == pytest.approx(0.025, abs=1e-9)


def product_limit(durations, events):
    """A tiny Kaplan-Meier estimator in exact fractions: [(time, survival after time)] at event times."""
    survival, steps = Fraction(1), []
    for t in sorted({d for d, e in zip(durations, events) if e == 1}):
        at_risk = sum(1 for d in durations if d >= t)
        deaths = sum(1 for d, e in zip(durations, events) if d == t and e == 1)
        survival *= 1 - Fraction(deaths, at_risk)
        steps.append((t, survival))
    return steps


def km_median(durations, events):
    """First time S <= 1/2; when S is exactly 1/2, the midpoint up to the next drop (R's convention)."""
    steps = product_limit(durations, events)
    for i, (t, s) in enumerate(steps):
        if s == Fraction(1, 2) and i + 1 < len(steps):
            return (t + steps[i + 1][0]) / 2
        if s <= Fraction(1, 2):
            return t
    return math.inf


def km_at(durations, events, time):
    return float(([Fraction(1)] + [s for t, s in product_limit(durations, events) if t <= time])[-1])


def test_median_when_the_curve_sits_at_one_half():
    # Four patients, events at 1 and 2 (S = 3/4, 1/2), censored at 3, event at 5 (S = 0): the curve is
    # exactly 1/2 on [2, 5), so the median is 3.5.
    durations, events = [1.0, 2.0, 3.0, 5.0], [1, 1, 0, 1]
    assert km_median(durations, events) == 3.5
    kmf = clinical.fit_kaplan_meier(durations, events)
    assert clinical.survival_median(kmf.survival_function_.index,
                                    kmf.survival_function_.iloc[:, 0]) == 3.5
    assert clinical.survival_median([1.0, 2.0], [0.9, 0.6]) == math.inf


def test_efficacy_table_against_hand_calculation(derived):
    efficacy = clinical.summarise_efficacy(derived.labels)
    assert list(efficacy.columns) == clinical.EFFICACY_COLUMNS
    assert efficacy["endpoint"].tolist() == [
        "ORR", "DCR", "CBR", "median_PFS", "median_OS", "PFS_6m", "OS_12m", "median_follow_up", "n_evaluable",
        "not_yet_assessable_responder", "not_yet_assessable_disease_control",
        "not_yet_assessable_clinical_benefit"]
    by = efficacy.set_index("endpoint")
    # Evaluable: A (PR), B (SD), D (SD): ORR 1/3, DCR 3/3, CBR 2/3 (A responder, D PFS > 6 months).
    assert by.loc["ORR", ["estimate", "n", "count"]].tolist() == [pytest.approx(1 / 3), 3, 1]
    assert by.loc["DCR", "estimate"] == 1.0 and by.loc["DCR", "ci_high"] == 1.0
    assert by.loc["CBR", "estimate"] == pytest.approx(2 / 3)
    assert by.loc["ORR", "ci_low"] == pytest.approx(stats.beta.ppf(0.025, 1, 3))
    labels = derived.labels
    pfs = (labels["pfs_months"].to_numpy(), labels["pfs_event"].to_numpy(dtype=int))
    assert by.loc["median_PFS", "estimate"] == pytest.approx(km_median(*pfs))
    assert by.loc["PFS_6m", "estimate"] == pytest.approx(km_at(*pfs, 6.0))
    assert by.loc["median_PFS", "n"] == 4 and by.loc["median_PFS", "count"] == 2
    # Only B died (day 300), with A still at risk: S falls to exactly 0.5, which is the median.
    os_ = (labels["os_months"].to_numpy(), labels["os_event"].to_numpy(dtype=int))
    assert by.loc["median_OS", "estimate"] == pytest.approx(km_median(*os_)) == 300 / 30.4375
    assert by.loc["OS_12m", "estimate"] == pytest.approx(km_at(*os_, 12.0))
    follow_up = km_median(os_[0], 1 - os_[1])
    assert by.loc["median_follow_up", "estimate"] == pytest.approx(follow_up)
    assert by.loc["n_evaluable", "estimate"] == 3 and by.loc["n_evaluable", "n"] == 4
    # C (baseline only, alive) is the one patient whose labels are pending; C is not evaluable, so the
    # proportions have no one left out.
    assert by.loc["not_yet_assessable_clinical_benefit", "count"] == 1
    assert "left out" not in by.loc["ORR", "note"]


def test_kaplan_meier_median_on_a_textbook_sample():
    # Product limit by hand: S = 0.9, 0.8, 0.686, 0.549, 0.366 at t = 1, 2, 6, 8, 10: the median is 10.
    durations = [1, 2, 4, 6, 7, 8, 9, 10, 12, 15]
    events = [1, 1, 0, 1, 0, 1, 0, 1, 0, 1]
    labels = pd.DataFrame({"evaluable": "yes", "bor": "SD", "clinical_benefit": "no",
                           "pfs_months": durations, "pfs_event": events,
                           "os_months": durations, "os_event": events})
    by = clinical.summarise_efficacy(labels).set_index("endpoint")
    assert by.loc["median_PFS", "estimate"] == km_median(durations, events) == 10
    assert by.loc["PFS_6m", "estimate"] == pytest.approx(km_at(durations, events, 6.0))
    assert by.loc["PFS_6m", "note"] == "7 patient(s) at risk at 6 months"
    assert by.loc["median_PFS", "ci_low"] <= 10


def test_median_not_reached_is_empty_with_a_note():
    labels = pd.DataFrame({"evaluable": "yes", "bor": "SD", "clinical_benefit": "no",
                           "pfs_months": [1.0, 2.0, 3.0, 4.0], "pfs_event": [0, 1, 0, 0],
                           "os_months": [1.0, 2.0, 3.0, 4.0], "os_event": [0, 1, 0, 0]})
    by = clinical.summarise_efficacy(labels).set_index("endpoint")
    assert math.isinf(km_median([1.0, 2.0, 3.0, 4.0], [0, 1, 0, 0]))
    assert pd.isna(by.loc["median_PFS", "estimate"])
    assert "median not reached" in by.loc["median_PFS", "note"]


def test_landmark_beyond_follow_up_is_not_estimated():
    labels = pd.DataFrame({"evaluable": "yes", "bor": "SD", "clinical_benefit": "no",
                           "pfs_months": [1.0, 2.0, 3.0], "pfs_event": [0, 1, 0],
                           "os_months": [1.0, 2.0, 3.0], "os_event": [0, 0, 0]})
    by = clinical.summarise_efficacy(labels).set_index("endpoint")
    assert pd.isna(by.loc["PFS_6m", "estimate"])
    assert "follow-up shorter" in by.loc["PFS_6m", "note"]


def test_efficacy_accepts_labels_read_back_as_text(derived, tmp_path):
    path = tmp_path / "labels.tsv"
    tables.write_tsv(derived.labels, path)
    from_text = clinical.summarise_efficacy(tables.read_tsv(path))
    pd.testing.assert_frame_equal(from_text, clinical.summarise_efficacy(derived.labels))


# --- adverse events -------------------------------------------------------------------------------------

def test_adverse_events_counted_once_per_patient_at_worst_grade():
    patients = patients_table([("A", 100, None), ("B", 100, None), ("C", 100, None), ("D", 100, None)])
    events = pd.DataFrame([
        ("A", "Hypertension", 2, day(10), "yes"),
        ("A", "Hypertension", 3, day(40), "no"),     # worst grade 3, but the related one is grade 2
        ("B", "Hypertension", 1, day(5), "no"),
        ("B", "Fatigue", 3, day(-3), "yes"),         # before the first dose: not treatment-emergent
        ("C", "Fatigue", 1, day(0), "yes"),          # on the day of the first dose: counts
        ("C", "Diarrhoea", 4, day(20), "yes"),
        ("C", "Diarrhoea", 1, day(30), "yes"),
    ], columns=["patient_id", "term", "grade", "onset_date", "related"])
    table = clinical.summarise_adverse_events(events, patients)
    assert list(table.columns) == clinical.ADVERSE_EVENT_COLUMNS
    assert table["term"].tolist() == ["Any TEAE", "Hypertension", "Diarrhoea", "Fatigue"]
    by = table.set_index("term")
    assert by.loc["Any TEAE", ["any_grade_n", "grade3plus_n", "related_any_n",
                               "related_grade3plus_n"]].tolist() == [3, 2, 2, 1]
    assert by.loc["Hypertension", ["any_grade_n", "grade3plus_n", "related_any_n",
                                   "related_grade3plus_n"]].tolist() == [2, 1, 1, 0]
    assert by.loc["Fatigue", ["any_grade_n", "grade3plus_n", "related_any_n"]].tolist() == [1, 0, 1]
    assert by.loc["Diarrhoea", ["any_grade_n", "grade3plus_n", "related_grade3plus_n"]].tolist() == [1, 1, 1]
    # Percentages of all four treated patients.
    assert by.loc["Hypertension", "any_grade_pct"] == 50.0
    assert by.loc["Any TEAE", "any_grade_pct"] == 75.0
    assert by.loc["Diarrhoea", "related_grade3plus_pct"] == 25.0


def test_no_adverse_event_data_gives_header_only():
    table = clinical.summarise_adverse_events(None, patients_table([("A", 100, None)]))
    assert table.empty and list(table.columns) == clinical.ADVERSE_EVENT_COLUMNS


# --- figures --------------------------------------------------------------------------------------------

def test_figures_are_drawn_and_saved(derived, tmp_path):
    figures = {
        "waterfall": clinical_plots.waterfall_plot(derived.labels),
        "spider": clinical_plots.spider_plot(derived.timepoints, derived.labels),
        "swimmer": clinical_plots.swimmer_plot(derived.labels, derived.timepoints),
        "km_pfs": clinical_plots.kaplan_meier_plot(derived.labels, "pfs"),
        "km_os": clinical_plots.kaplan_meier_plot(derived.labels, "os"),
    }
    for name, figure in figures.items():
        assert isinstance(figure, Figure)
        style.save_figure(figure, tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
    waterfall = clinical_plots.waterfall_plot(derived.labels)
    bars = waterfall.axes[0].patches
    # Sorted from the largest increase to the deepest shrinkage: B (-4 %), D (-10 %), A (-50 %).
    assert [round(b.get_height(), 6) for b in bars[:3]] == [-4.0, -10.0, -50.0]
    assert bars[2].get_facecolor()[:3] == pytest.approx(
        tuple(int(style.RESPONSE_COLOURS["PR"][i:i + 2], 16) / 255 for i in (1, 3, 5)))


def test_figures_without_visit_data_say_so():
    labels = clinical.derive_labels(patients_table([("A", 100, None)]), None).labels
    empty = clinical.derive_labels(patients_table([("A", 100, None)]), None).timepoints
    for figure in (clinical_plots.waterfall_plot(labels), clinical_plots.spider_plot(empty, labels),
                   clinical_plots.swimmer_plot(labels, empty),
                   clinical_plots.kaplan_meier_plot(labels, "pfs")):
        texts = [t.get_text() for t in figure.axes[0].texts]
        assert any(text.startswith("no ") for text in texts)


# --- the demo trial -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo():
    from trialomics import readers

    patients = readers.read_patients(DEMO / "patients.tsv")
    recist = readers.read_recist(DEMO / "recist.tsv")
    return patients, recist, clinical.derive_labels(patients, recist)


def test_demo_labels_cover_every_patient_from_visit_data(demo):
    patients, recist, result = demo
    labels = result.labels
    assert labels["patient_id"].tolist() == sorted(patients["patient_id"])
    assert set(labels["source"]) == {"derived"}
    assert set(labels["bor"]) <= {"CR", "PR", "SD", "PD", "NE"}
    assert (labels["pfs_months"] <= labels["os_months"]).all()
    assert len(result.timepoints) == len(recist)


def test_demo_efficacy_matches_an_independent_calculation(demo):
    _, _, result = demo
    labels = result.labels
    efficacy = clinical.summarise_efficacy(labels).set_index("endpoint")
    evaluable = labels[labels["evaluable"] == "yes"]
    n = len(evaluable)
    for endpoint, levels in (("ORR", {"CR", "PR"}), ("DCR", {"CR", "PR", "SD"})):
        x = int(evaluable["bor"].isin(levels).sum())
        assert efficacy.loc[endpoint, "estimate"] == pytest.approx(x / n)
        assert efficacy.loc[endpoint, "n"] == n
        expected_ci = stats.binomtest(x, n).proportion_ci(confidence_level=0.95, method="exact")
        assert efficacy.loc[endpoint, "ci_low"] == pytest.approx(expected_ci.low)
        assert efficacy.loc[endpoint, "ci_high"] == pytest.approx(expected_ci.high)
    for endpoint in ("pfs", "os"):
        durations = labels[f"{endpoint}_months"].to_numpy()
        events = labels[f"{endpoint}_event"].to_numpy(dtype=int)
        median = km_median(durations, events)
        estimate = efficacy.loc[f"median_{endpoint.upper()}", "estimate"]
        if math.isinf(median):
            assert pd.isna(estimate)
        else:
            assert estimate == pytest.approx(median)


def test_demo_labels_feed_the_cohort_tables(demo, tmp_path):
    import anndata as ad

    from trialomics import cohort

    patients, _, result = demo
    path = tmp_path / "labels.tsv"
    tables.write_tsv(result.labels, path)
    labels = tables.read_tsv(path)
    adata = ad.AnnData(X=np.zeros((len(patients), 1)),
                       obs=pd.DataFrame({"patient_id": patients["patient_id"].to_numpy()},
                                        index=[f"s{i}" for i in range(len(patients))]))
    labelled = cohort.label_samples(adata, labels, patients)
    by_patient = labelled.obs.set_index("patient_id")
    expected = result.labels.set_index("patient_id")
    assert (by_patient.loc[expected.index, "bor"] == expected["bor"]).all()
    np.testing.assert_allclose(by_patient.loc[expected.index, "pfs_months"], expected["pfs_months"])


def test_demo_labels_match_the_generators_independent_derivation(demo):
    # resources/demo/expected_labels.tsv is derived by the demo generator with its own simple code.
    _, _, result = demo
    expected = tables.read_tsv(DEMO / "expected_labels.tsv").set_index("patient_id")
    labels = result.labels.set_index("patient_id").loc[expected.index]
    for column in ("bor", "bor_unconfirmed", "responder", "clinical_benefit"):
        assert labels[column].tolist() == expected[column].tolist(), column
    for column in ("pfs_months", "pfs_event", "os_months", "os_event", "best_pct_change"):
        np.testing.assert_allclose(labels[column].astype(float),
                                   pd.to_numeric(expected[column], errors="coerce"), err_msg=column)
