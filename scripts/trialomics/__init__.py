"""trialomics: candidate biomarkers of response from a small multi-omics immunotherapy trial.

The package holds the science as pure functions on pandas/AnnData objects; the adapter scripts in
``scripts/`` (one per Snakemake rule) only read inputs, call these functions and write outputs.
"""
from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("trialomics")
except _metadata.PackageNotFoundError:  # imported from a checkout that was never installed
    __version__ = "0+unknown"

MODALITIES = ("mutations", "copy_number", "rna", "proteins")
ENDPOINTS = ("pfs", "os", "responder", "clinical_benefit")
