"""Per-sample settings read from the sample sheet while the DAG is built (pandas only: parse time stays light)."""
from __future__ import annotations

import math

import pandas as pd


def capture_sizes_by_sample(sample_sheet: pd.DataFrame, default_mb: float) -> dict[str, float]:
    """Each mutations sample's capture size in Mb: its ``capture_size_mb`` cell, else ``default_mb``.

    ``sample_sheet`` is indexed by sample_id; the optional ``capture_size_mb`` column holds text (the
    sample sheet's cells), empty for the default.
    """
    cells = (sample_sheet["capture_size_mb"].fillna("").astype(str).str.strip()
             if "capture_size_mb" in sample_sheet.columns else pd.Series("", index=sample_sheet.index))
    sizes = {}
    for sample_id, cell in cells.items():
        size = float(cell) if cell else float(default_mb)
        if not math.isfinite(size) or size <= 0:
            raise ValueError(f"sample {sample_id}: capture_size_mb must be a positive number of Mb, not {cell!r}")
        sizes[str(sample_id)] = size
    return dict(sorted(sizes.items()))
