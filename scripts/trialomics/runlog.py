"""Logging for the adapter scripts: everything a rule says goes to its Snakemake ``log:`` file."""
from __future__ import annotations

import logging
import sys
import warnings


def start(snakemake) -> logging.Logger:
    """Send logging, warnings and uncaught exceptions of this job to ``snakemake.log[0]``.

    Returns the logger named after the rule. Call it first in every adapter script.
    """
    handlers = [logging.FileHandler(snakemake.log[0], mode="w")] if snakemake.log else []
    handlers.append(logging.StreamHandler(sys.stderr))
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)
    warnings.simplefilter("default")
    logging.getLogger("anndata").setLevel(logging.WARNING)  # its "storing as categorical" notes are noise
    logger = logging.getLogger(snakemake.rule)

    def log_uncaught(exc_type, exc, tb):
        logger.error("job failed", exc_info=(exc_type, exc, tb))

    sys.excepthook = log_uncaught
    return logger
