"""Print the time and memory of every rule of a finished run, from Snakemake's `benchmark:` files and logs.

Usage: python bench/rule_benchmarks.py [WORKDIR]   (default: the current directory)

Rules with wildcards are summed over their jobs (count, total and maximum seconds, peak RSS), so the
output shows where a run spends its time; figures are printed, not asserted. ``cpu_s`` is the exact CPU
time every job logs at exit (``trialomics.runlog.log_resources``): the benchmark files' ``cpu_time`` is
sampled (every 0.5 s for 15 s, then every 30 s) and misses what a job spends after its last sample.
``peak_rss_mb`` is the larger of the benchmark files' (sampled too: at 500 patients they missed
``rna_normalise``'s 4.4 GB peak by 1.3 GB) and the high-water mark every job logs at exit.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def collect(benchmark_dir: Path) -> pd.DataFrame:
    """One row per job: stage, rule, wall seconds, CPU seconds and peak RSS (MB) from its benchmark file."""
    rows = []
    for path in sorted(benchmark_dir.rglob("*.tsv")):
        table = pd.read_csv(path, sep="\t")
        rule = path.relative_to(benchmark_dir).parts
        # benchmarks/<stage>/<rule>[/<wildcards>].tsv
        name = rule[1] if len(rule) > 2 else Path(rule[-1]).stem
        number = {column: float(pd.to_numeric(table[column], errors="coerce").fillna(0).iloc[0])
                  for column in ("cpu_time", "max_rss") if column in table}
        rows.append({"stage": rule[0], "rule": name, "seconds": float(table["s"].iloc[0]),
                     "cpu_seconds": number.get("cpu_time", 0.0), "max_rss_mb": number.get("max_rss", 0.0)})
    return pd.DataFrame(rows, columns=["stage", "rule", "seconds", "cpu_seconds", "max_rss_mb"])


LOGGED = re.compile(r"^INFO (\w+): job resources: ([0-9.]+) CPU-s.*?(?:peak RSS ([0-9.]+) MB)?$")


def logged_resources(log_dir: Path) -> pd.DataFrame:
    """Per rule, from the ``job resources`` lines of the run's logs: CPU seconds summed over its jobs
    (``cpu_s``) and the largest peak RSS of one job in MB (``peak_rss_mb``, NaN where none is logged)."""
    cpu: dict[str, float] = {}
    peak: dict[str, float] = {}
    for path in log_dir.rglob("*.log"):
        for line in path.read_text(errors="replace").splitlines():
            found = LOGGED.match(line)
            if found:
                rule = found.group(1)
                cpu[rule] = cpu.get(rule, 0.0) + float(found.group(2))
                if found.group(3) is not None:
                    peak[rule] = max(peak.get(rule, 0.0), float(found.group(3)))
    return pd.DataFrame({"cpu_s": pd.Series(cpu, dtype=float), "peak_rss_mb": pd.Series(peak, dtype=float)})


def summarise(jobs: pd.DataFrame, logged: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per stage and rule: jobs, total and largest wall seconds, CPU seconds (logged, where ``logged`` of
    :func:`logged_resources` has them) and the peak RSS of one job (the larger of the two sources)."""
    summary = jobs.groupby(["stage", "rule"]).agg(
        jobs=("seconds", "size"), total_s=("seconds", "sum"), max_s=("seconds", "max"),
        peak_rss_mb=("max_rss_mb", "max"),
    )
    if logged is not None and not logged.empty:
        rules = summary.index.get_level_values("rule")
        summary.insert(3, "cpu_s", logged["cpu_s"].reindex(rules).to_numpy())
        summary["peak_rss_mb"] = np.fmax(summary["peak_rss_mb"].to_numpy(),
                                         logged["peak_rss_mb"].reindex(rules).to_numpy())
    return summary.sort_values("total_s", ascending=False)


def main() -> None:
    workdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()
    jobs = collect(workdir / "benchmarks")
    if jobs.empty:
        sys.exit(f"no benchmark files under {workdir / 'benchmarks'}: run the workflow first")
    logged = logged_resources(workdir / "logs")
    summary = summarise(jobs, logged)
    with pd.option_context("display.width", 120, "display.float_format", "{:.1f}".format):
        print(summary.to_string())
    cpu = f", {logged['cpu_s'].sum():.1f} CPU-s logged by the jobs" if not logged.empty else ""
    print(f"\n{len(jobs)} jobs, {jobs['seconds'].sum():.1f} s of job time in total{cpu}")


if __name__ == "__main__":
    main()
