"""The grammar of identifiers, and spreadsheet-mangled gene symbols.

Sample, patient and contrast identifiers end up in file names, log paths and Snakemake wildcard
patterns, so they follow a grammar that is safe in all three (:data:`SAFE_ID_PATTERN`): ASCII
letters, digits, ``.``, ``_`` and ``-``; first character a letter or digit; no ``..``; at most
:data:`MAX_ID_LENGTH` characters. Feature identifiers (gene symbols, Ensembl IDs, protein assay
names) never reach a path unsanitised, and real ones need more: ``HLA-A``, ``MIC-A/B``,
``LAP TGF-beta-1`` (Olink), ``Akt_pS473`` (RPPA), ``ENSG00000141510.16``. They follow the wider
:data:`FEATURE_ID_PATTERN`. Both refuse control characters, quotes, ``$``, brackets other than
``()`` in features, and non-ASCII text.
"""
from __future__ import annotations

import re

#: Longest sample, patient or contrast identifier (file names stay well under the 255-byte limit).
MAX_ID_LENGTH = 64
#: Longest feature identifier.
MAX_FEATURE_LENGTH = 100

SAFE_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
FEATURE_ID_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._\-/:+@()]| (?! ))*")

SAFE_ID_GRAMMAR = (f"letters, digits, '.', '_' and '-' only, starting with a letter or digit, without "
                   f"'..', at most {MAX_ID_LENGTH} characters")
FEATURE_ID_GRAMMAR = (f"letters, digits, '.', '_', '-', '/', ':', '+', '@', '(', ')' and single inner "
                      f"spaces, starting with a letter or digit, at most {MAX_FEATURE_LENGTH} characters")

_MONTHS = ("jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(t|tember)?"
           "|oct(ober)?|nov(ember)?|dec(ember)?")
# Excel turns SEPT2 into 2-Sep, MARCH1 into 1-Mar, DEC1 into 1-Dec, and shows them as Sep-02 with
# a month-year format; a value typed as 3/1/2020 or 2020-03-01 is a date too. Excel serial numbers
# are not detected: Entrez gene IDs are plain integers of the same size.
_EXCEL_DATE = re.compile(
    rf"([0-3]?\d[-/ ]({_MONTHS})([-/ ]\d{{2,4}})?|({_MONTHS})[-/ ]\d\d"
    rf"|\d{{1,4}}[/.-]\d{{1,2}}[/.-]\d{{1,4}})",
    re.IGNORECASE)
# The symbols Excel is known to convert, by month: the current HGNC symbol and the old one.
_MANGLED_FAMILIES = {
    "sep": "SEPTIN{n} (formerly SEPT{n})",
    "mar": "MARCHF{n} (formerly MARCH{n})",
    "dec": "DELEC1 (formerly DEC1)",
}


def _description(value: str) -> str:
    """What is unsafe in ``value``, in words, for a message."""
    if value == "":
        return "is empty"
    if any(ord(character) > 127 for character in value):
        return "contains a non-ASCII character"
    if any(ord(character) < 32 or ord(character) == 127 for character in value):
        return "contains a control character"
    return ""


def id_problem(value: str) -> str | None:
    """Why ``value`` is not a safe sample, patient or contrast identifier, or None when it is."""
    described = _description(value)
    if described:
        return described
    if len(value) > MAX_ID_LENGTH:
        return f"is {len(value)} characters long (at most {MAX_ID_LENGTH})"
    if value[0] in ".-_":
        return f"starts with '{value[0]}'"
    if ".." in value:
        return "contains '..'"
    bad = sorted({character for character in value if not re.fullmatch(r"[A-Za-z0-9._-]", character)})
    if bad:
        return "contains " + ", ".join(repr(character) for character in bad)
    return None


def feature_problem(value: str) -> str | None:
    """Why ``value`` is not a usable feature identifier, or None when it is."""
    described = _description(value)
    if described:
        return described
    if len(value) > MAX_FEATURE_LENGTH:
        return f"is {len(value)} characters long (at most {MAX_FEATURE_LENGTH})"
    if FEATURE_ID_PATTERN.fullmatch(value):
        return None
    if not re.match(r"[A-Za-z0-9]", value):
        return f"starts with '{value[0]}'"
    if "  " in value:
        return "contains two spaces in a row"
    bad = sorted({c for c in value if not re.fullmatch(r"[A-Za-z0-9._\-/:+@() ]", c)})
    return "contains " + ", ".join(repr(character) for character in bad)


def usable_feature_names(names) -> bool:
    """Whether every name is empty or passes :func:`feature_problem` and :func:`excel_mangled`.

    One regular-expression pass per name: a count table's 20,000-60,000 names are checked in a few
    milliseconds; only a table that fails needs the per-name checks that say what is wrong.
    """
    usable, date = FEATURE_ID_PATTERN.fullmatch, _EXCEL_DATE.fullmatch
    return all(name == "" or (len(name) <= MAX_FEATURE_LENGTH and usable(name) and not date(name))
               for name in names)


def excel_mangled(symbol: str) -> str | None:
    """The fix for a gene symbol a spreadsheet turned into a date, or None if it is not one.

    Returns a sentence naming the likely original symbol(s) for the month found.
    """
    if not _EXCEL_DATE.fullmatch(symbol):
        return None
    month = re.search(_MONTHS, symbol, re.IGNORECASE)
    number = re.search(r"\d+", symbol)
    original = ""
    family = month.group(0)[:3].lower() if month else ""
    if number and family in _MANGLED_FAMILIES:
        original = _MANGLED_FAMILIES[family].format(n=int(number.group(0)))
        original = f" (probably {original})"
    return (f"restore the original gene symbol{original} from the source file, and import gene columns "
            "into spreadsheets as Text so that they are not converted to dates")
