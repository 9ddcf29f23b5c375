"""Wall time of the survival, models and biomarkers rules of one finished run, from its benchmark files.

Usage: python bench/models_runtime.py RUN_DIRECTORY

Reads ``benchmarks/{survival,models,biomarkers}/**/*.tsv`` (Snakemake's ``benchmark:`` output) and
prints one line per job (wall and CPU seconds), then the totals per rule and per stage. The stage's
wall time on N otherwise idle cores is roughly the total CPU time divided by N when jobs run side by
side; on a shared machine the wall times are inflated by the other load, the CPU times much less.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

STAGES = ("survival", "models", "biomarkers")


def collect(run: Path) -> pd.DataFrame:
    rows = []
    for stage in STAGES:
        for path in sorted((run / "benchmarks" / stage).rglob("*.tsv")):
            table = pd.read_csv(path, sep="\t")
            job = path.relative_to(run / "benchmarks" / stage).with_suffix("")
            rows.append({"stage": stage, "rule": job.parts[0], "job": "/".join(job.parts[1:]) or job.parts[0],
                         "seconds": float(table["s"].iloc[0]), "cpu_seconds": float(table["cpu_time"].iloc[0]),
                         "max_rss_mb": float(table["max_rss"].iloc[0])})
    return pd.DataFrame(rows, columns=["stage", "rule", "job", "seconds", "cpu_seconds", "max_rss_mb"])


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    jobs = collect(Path(argv[1]))
    if jobs.empty:
        print("no benchmark files found", file=sys.stderr)
        return 1
    pd.set_option("display.width", 160)
    print(jobs.sort_values("seconds", ascending=False).to_string(index=False))
    print()
    print(jobs.groupby(["stage", "rule"])[["seconds", "cpu_seconds"]].agg(["count", "sum", "max"]).round(1).to_string())
    print()
    print(jobs.groupby("stage")[["seconds", "cpu_seconds"]].sum().round(1).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
