"""The one-pass check of feature names agrees with the per-name checks on any names."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from trialomics.identifiers import MAX_FEATURE_LENGTH, excel_mangled, feature_problem, usable_feature_names

# Real symbols, hostile text and spreadsheet dates, mixed.
NAMES = st.one_of(
    st.sampled_from(["TP53", "HLA-A", "MIC-A/B", "LAP TGF-beta-1", "Akt_pS473", "ENSG00000141510.16", "",
                     "1-Sep", "Sep-02", "3/1/2020", "MARCH1", "a  b", " lead", "x" * MAX_FEATURE_LENGTH,
                     "x" * (MAX_FEATURE_LENGTH + 1), "ge\u00efne", "tab\there", "quote'", "$HOME", "../x"]),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=300), max_size=12),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._\-/:+@() ]{0,10}", fullmatch=True),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(NAMES, max_size=6))
def test_one_pass_equals_the_per_name_checks(names):
    expected = all(name == "" or (excel_mangled(name) is None and feature_problem(name) is None) for name in names)
    assert usable_feature_names(names) == expected
