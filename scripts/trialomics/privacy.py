"""Patient data protection: keyed pseudonyms, calendar dates, covariates kept, file modes.

Pseudonyms are applied once, where identifiers enter the workflow (the sample sheet the DAG uses,
and the clinical tables as the clinical rules read them); every later output inherits them. A
pseudonym is ``P-`` (patient) or ``S-`` (sample) followed by the first 10 base32 characters of
HMAC-SHA256(key, identifier): stable for a given key, and not reversible or guessable without it.
The key lives in a file outside ``results/`` (``privacy.key_file``), created with mode 0600 when
missing; whoever holds it can recompute the table of pseudonyms from the original identifiers.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

PATIENT_PREFIX = "P-"
SAMPLE_PREFIX = "S-"
PSEUDONYM_LENGTH = 10
DEFAULT_KEY_FILE = ".trialomics/pseudonym.key"
KEY_BYTES = 32
# MAF columns that hold sample barcodes (the tumour's, and the matched normal's).
BARCODE_COLUMNS = ("Tumor_Sample_Barcode", "Matched_Norm_Sample_Barcode")


@dataclass(frozen=True)
class PrivacySettings:
    """The ``privacy:`` section of the config, with its documented defaults."""

    pseudonymise: bool = False
    calendar_dates: bool = False
    key_file: str = DEFAULT_KEY_FILE
    file_mode: int = 0o640
    dir_mode: int = 0o750

    @classmethod
    def from_config(cls, config: Mapping) -> PrivacySettings:
        section = dict(config.get("privacy") or {})
        return cls(
            pseudonymise=bool(section.get("pseudonymise", cls.pseudonymise)),
            calendar_dates=bool(section.get("calendar_dates", cls.calendar_dates)),
            key_file=str(section.get("key_file", cls.key_file)),
            file_mode=parse_mode(section.get("file_mode", "0640"), "privacy.file_mode"),
            dir_mode=parse_mode(section.get("dir_mode", "0750"), "privacy.dir_mode"),
        )


def parse_mode(value, key: str) -> int:
    """An octal permission string such as ``"0640"`` as an int; ValueError naming ``key`` otherwise."""
    text = str(value).strip()
    try:
        mode = int(text, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o777:
        raise ValueError(f"config key {key}: '{value}' is not a permission mode; write it as octal text "
                         "in quotes, e.g. \"0640\"")
    return mode


def umask_for(file_mode: int, dir_mode: int) -> int:
    """The umask under which new files get ``file_mode`` and new directories ``dir_mode``.

    Programs create files as 0666 and directories as 0777 minus the umask, so one umask serves both
    only when the directory mode is the file mode plus execute bits: 0640 with 0750, 0600 with 0700.
    """
    if file_mode & 0o111:
        raise ValueError(f"privacy.file_mode {file_mode:04o} gives execute permission; use e.g. 0640")
    if dir_mode & 0o666 != file_mode:
        raise ValueError(
            f"privacy.dir_mode {dir_mode:04o} does not match privacy.file_mode {file_mode:04o}: the "
            "directory mode must be the file mode plus execute bits (0640 with 0750, 0600 with 0700)")
    return 0o777 & ~dir_mode


def apply_modes(settings: PrivacySettings) -> int:
    """Set this process's umask from the settings (children inherit it); returns the previous umask."""
    return os.umask(umask_for(settings.file_mode, settings.dir_mode))


def load_or_create_key(path: str | os.PathLike) -> bytes:
    """The pseudonymisation key in ``path``, created (random, mode 0600, folder 0700) when missing.

    Raises ValueError naming the file when it is empty or shorter than 16 bytes.
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first: read theirs
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(KEY_BYTES) + "\n")
    key = path.read_bytes().strip()
    if len(key) < 16:
        raise ValueError(f"{path}: the pseudonymisation key is shorter than 16 bytes; delete the file to "
                         "have a new random key created (pseudonyms then change), or restore the old key")
    return key


def key_if_pseudonymising(config: Mapping) -> bytes | None:
    """The key when the config asks for pseudonyms, else None."""
    settings = PrivacySettings.from_config(config)
    return load_or_create_key(settings.key_file) if settings.pseudonymise else None


def pseudonym(identifier: str, key: bytes, prefix: str) -> str:
    """``prefix`` + 10 base32 characters of HMAC-SHA256(key, identifier)."""
    digest = hmac.new(key, str(identifier).encode("utf-8"), hashlib.sha256).digest()
    return prefix + base64.b32encode(digest).decode("ascii")[:PSEUDONYM_LENGTH]


def pseudonym_map(identifiers: Iterable[str], key: bytes, prefix: str) -> dict[str, str]:
    """identifier -> pseudonym for the distinct ``identifiers`` (empty strings stay empty).

    Raises ValueError if two identifiers share a pseudonym (50 bits: vanishingly rare, but a silent
    merge of two patients would be wrong).
    """
    mapping = {str(i): (pseudonym(str(i), key, prefix) if str(i) else "") for i in identifiers}
    seen: dict[str, str] = {}
    for original, pseudo in mapping.items():
        if pseudo and pseudo in seen:
            raise ValueError(f"identifiers '{seen[pseudo]}' and '{original}' share the pseudonym {pseudo}; "
                             "create a new key (delete privacy.key_file) and rerun")
        seen[pseudo] = original
    return mapping


def pseudonymise_column(frame: pd.DataFrame, column: str, key: bytes, prefix: str) -> pd.DataFrame:
    """A copy of ``frame`` with ``column`` replaced by its pseudonyms."""
    out = frame.copy()
    values = out[column].astype(str)
    out[column] = values.map(pseudonym_map(values.unique(), key, prefix))
    return out


def pseudonymise_sample_sheet(samples: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """The validated sample sheet with sample and patient IDs pseudonymised.

    ``path`` and ``column`` keep the original file and column / barcode, which the ingestion rules
    need to find each sample's data in the user's files.
    """
    out = pseudonymise_column(samples, "sample_id", key, SAMPLE_PREFIX)
    return pseudonymise_column(out, "patient_id", key, PATIENT_PREFIX)


def pseudonymise_patients(frame: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """A clinical table (patients, RECIST, adverse events) with ``patient_id`` pseudonymised."""
    return pseudonymise_column(frame, "patient_id", key, PATIENT_PREFIX)


def pseudonymise_barcodes(maf: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """A MAF with its sample barcode columns pseudonymised as sample IDs.

    A barcode equal to a sample ID gets that sample's pseudonym.
    """
    out = maf
    for column in BARCODE_COLUMNS:
        if column in out.columns:
            out = pseudonymise_column(out, column, key, SAMPLE_PREFIX)
    return out


def identifier_mapping(sample_sheet: pd.DataFrame, patient_ids: Iterable[str], key: bytes) -> dict[str, str]:
    """original -> pseudonym for every identifier the user's files may carry: sample IDs, their
    columns / barcodes (as sample pseudonyms) and patient IDs."""
    mapping = pseudonym_map(patient_ids, key, PATIENT_PREFIX)
    mapping.update(pseudonym_map(sample_sheet.get("column", pd.Series(dtype=str)), key, SAMPLE_PREFIX))
    mapping.update(pseudonym_map(sample_sheet["sample_id"], key, SAMPLE_PREFIX))
    mapping.update(pseudonym_map(sample_sheet["patient_id"], key, PATIENT_PREFIX))
    return {original: pseudo for original, pseudo in mapping.items() if original}


def replace_identifiers(text: str, mapping: Mapping[str, str]) -> str:
    """``text`` (a path, a file name) with every original identifier in ``mapping`` replaced by its pseudonym.

    An identifier matches only where it is not part of a longer run of letters and digits, and longer
    identifiers are replaced first, so that ``BTC01-RNA`` is not half-replaced through ``BTC01`` and
    patient ``7`` does not touch ``17``. Input paths often contain sample IDs.
    """
    for original in sorted((o for o in mapping if o), key=len, reverse=True):
        pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(original)}(?![A-Za-z0-9])")
        text = pattern.sub(mapping[original].replace("\\", "\\\\"), text)
    return text


def without_calendar_dates(timepoints: pd.DataFrame) -> pd.DataFrame:
    """The per-assessment table without its calendar ``date``: ``day`` (from treatment start) remains."""
    if "day" not in timepoints.columns:
        raise ValueError("the assessment table has no 'day' column to replace its calendar dates")
    return timepoints.drop(columns=["date"], errors="ignore")


def configured_covariates(config: Mapping) -> list[str]:
    """patients.tsv columns the analyses use: contrast variables and covariates, survival and model
    covariates. Only these (and the derived labels) go into the cohort's per-sample annotations."""
    names: list[str] = []
    for contrast in config.get("contrasts") or []:
        names.append(contrast.get("variable", ""))
        names.extend(contrast.get("covariates") or [])
    for section in ("survival", "models"):
        names.extend((config.get(section) or {}).get("covariates") or [])
    return sorted({str(name) for name in names if name})
