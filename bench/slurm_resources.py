"""Per-rule SLURM resources from a finished run's benchmark files: measured peaks plus headroom.

Usage: python bench/slurm_resources.py WORKDIR [--memory-factor 2] [--time-factor 3]

Prints, per rule, the jobs, the largest peak RSS and the longest wall time over its jobs, and the
``set-resources`` block for ``workflow/profiles/slurm/config.yaml``: ``mem_mb`` = memory factor x peak
RSS (at least 1000, rounded up to 500 MB), ``runtime`` = time factor x longest wall time (at least 10
minutes, rounded up to 5), both times ``attempt`` so that a retry gets more. Figures are printed, never
written into the profile: a person copies them.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd
from rule_benchmarks import collect  # bench/ is on sys.path when a bench script runs


def peaks(workdir: Path) -> pd.DataFrame:
    jobs = collect(workdir / "benchmarks")
    return jobs.groupby("rule").agg(jobs=("seconds", "size"), max_seconds=("seconds", "max"),
                                    peak_rss_mb=("max_rss_mb", "max")).sort_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--memory-factor", type=float, default=2.0)
    parser.add_argument("--time-factor", type=float, default=3.0)
    args = parser.parse_args()
    table = peaks(args.workdir)
    table["mem_mb"] = [max(1000, 500 * math.ceil(args.memory_factor * rss / 500)) for rss in table["peak_rss_mb"]]
    table["runtime_min"] = [max(10, 5 * math.ceil(args.time_factor * s / 60 / 5)) for s in table["max_seconds"]]
    print(table.round(1).to_string())
    print("\nset-resources:")
    for rule, row in table.iterrows():
        print(f"  {rule}:\n    mem_mb: {int(row.mem_mb)} * attempt\n    runtime: {int(row.runtime_min)} * attempt")


if __name__ == "__main__":
    main()
