"""Whole-workflow timings at several cohort sizes, with the R peers on the same data, in one run.

Usage:
    python bench/scaling.py [--patients 20 100 500] [--out /tmp/trialomics-scaling] [--cores 2]
                            [--settings ci|default] [--no-r] [--reuse] [--write-docs]

For each size the demo generator writes a cohort (20,000 genes, 3,000 proteins, exome mutations), the full
DAG runs from raw inputs to summary.html with the default config (``--settings ci``: the CI's smaller
permutation counts), and the script prints, from the rules' ``benchmark:`` files, per-rule wall time, CPU
time and peak memory, plus the whole run's wall time and the peak memory of any one job. Then it runs
the R peers on the same cohort, each through its own bench script (``bench/deseq2_vs_r.py``,
``bench/cox_screen.py``, ``bench/models_vs_glmnet.py``), which print our / R ratios and agreement.

``--reuse`` tabulates a size whose run directory already holds a finished run (``summary.html`` and the
wall time an earlier run of this script recorded in ``wall_seconds``) instead of running it again: a
500-patient run at the default settings takes about two hours on 2 cores. ``--write-docs`` also writes the scaling plot ``docs/benchmarks_scaling.png`` and the tables in
``docs/benchmarks_scaling.md`` (included by ``docs/benchmarks.md``). Figures are printed, never asserted.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from rule_benchmarks import collect, logged_resources  # bench/ is on sys.path when a bench script runs

ROOT = Path(__file__).resolve().parents[1]
SNAKEFILE = ROOT / "workflow" / "Snakefile"
CI_SETTINGS = {"models": {"permutations": 10, "repeats": 2, "stability_subsamples": 10},
               "survival": {"cutpoint_permutations": 200}, "enrichment": {"permutations": 200}}


def make_cohort(folder: Path, patients: int, seed: int = 3152) -> None:
    if (folder / "samples.tsv").exists():
        return
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_demo_cohort.py"), "--out", str(folder),
                    "--patients", str(patients), "--genes", "20000", "--proteins", "3000", "--seed", str(seed)],
                   check=True)


def finished_wall_seconds(workdir: Path) -> float | None:
    """The wall time recorded by a finished earlier run in ``workdir`` (None if there is none)."""
    recorded = workdir / "wall_seconds"
    if not ((workdir / "results" / "report" / "summary.html").exists() and recorded.exists()):
        return None
    return float(recorded.read_text().split()[0])


def run_workflow(cohort: Path, workdir: Path, cores: int, settings: str) -> float:
    workdir.mkdir(parents=True, exist_ok=True)
    config = {"samples": str(cohort / "samples.tsv"),
              "clinical": {"patients": str(cohort / "patients.tsv"), "recist": str(cohort / "recist.tsv"),
                           "adverse_events": str(cohort / "adverse_events.tsv")},
              **(CI_SETTINGS if settings == "ci" else {})}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory",
                           str(workdir), "--configfile", str(workdir / "config.yaml"), "--cores", str(cores),
                           "--quiet", "all"], cwd=workdir, env=dict(os.environ, PYTHONHASHSEED="0"))
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the workflow failed on {cohort} (see {workdir}/.snakemake/log)")
    (workdir / "wall_seconds").write_text(f"{elapsed:.1f}\n")
    return elapsed


def r_peer_commands(cohort: Path, workdir: Path, patients: int, out: Path) -> list[list[str]]:
    """The R peers on this cohort: DESeq2 on its baseline RNA counts and derived responder labels, a
    loop of coxph on a simulated matrix of its size (20,000 features), glmnet on the run's pfs:rna folds."""
    bench = ROOT / "bench"
    return [
        [sys.executable, str(bench / "deseq2_vs_r.py"), "--datasets", "demo", "--samples", str(cohort / "samples.tsv"),
         "--labels", str(workdir / "results" / "clinical" / "labels.tsv")],
        [sys.executable, str(bench / "cox_screen.py"), "--patients", str(patients), "--features", "20000",
         "--repeats", "1"],
        [sys.executable, str(bench / "models_vs_glmnet.py"), str(workdir), "--block", "pfs:rna",
         "--workdir", str(out / f"glmnet_{patients}")],
    ]


def rule_table(workdir: Path) -> pd.DataFrame:
    """Per rule: jobs, wall and CPU seconds, peak RSS of one job. CPU from the jobs' own log lines where
    present (exact), else from the benchmark files (sampled: it misses what a job spends after its last
    sample); peak RSS the larger of the two (the logged one is the job's own high-water mark)."""
    jobs = collect(workdir / "benchmarks")
    table = jobs.groupby("rule").agg(jobs=("seconds", "size"), wall_s=("seconds", "sum"),
                                     cpu_s=("cpu_seconds", "sum"), peak_rss_mb=("max_rss_mb", "max"))
    logged = logged_resources(workdir / "logs")
    if not logged.empty:
        table["cpu_s"] = logged["cpu_s"].reindex(table.index).fillna(table["cpu_s"])
        table["peak_rss_mb"] = np.fmax(table["peak_rss_mb"].to_numpy(),
                                       logged["peak_rss_mb"].reindex(table.index).to_numpy())
    return table.sort_values("cpu_s", ascending=False)


def machine() -> str:
    cpus = os.cpu_count()
    memory = ""
    try:
        kb = int(next(line for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal")).split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{platform.machine()}, {cpus} CPUs{memory}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def plot(summary: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from matplotlib.ticker import NullFormatter, ScalarFormatter

    figure, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2))
    left.plot(summary["patients"], summary["wall_s"] / 60, marker="o")
    left.set(xlabel="patients", ylabel="whole DAG, wall minutes", xscale="log", yscale="log")
    right.plot(summary["patients"], summary["peak_rss_mb"] / 1024, marker="o", color="tab:red")
    right.set(xlabel="patients", ylabel="peak memory of one job, GB", xscale="log", ylim=(0, None))
    for axis in (left.xaxis, left.yaxis, right.xaxis):   # plain numbers at the measured points
        axis.set_major_formatter(ScalarFormatter())
        axis.set_minor_formatter(NullFormatter())
    left.set_xticks(summary["patients"])
    right.set_xticks(summary["patients"])
    left.set_yticks((summary["wall_s"] / 60).round(1))
    figure.tight_layout()
    figure.savefig(path, dpi=120, metadata={"Software": None})
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, nargs="+", default=[20, 100, 500])
    parser.add_argument("--out", type=Path, default=Path("/tmp/trialomics-scaling"))
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--settings", choices=["default", "ci"], default="default")
    parser.add_argument("--no-r", action="store_true", help="skip the R peers")
    parser.add_argument("--reuse", action="store_true", help="tabulate finished runs instead of rerunning them")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    summary_rows, sections = [], []
    for patients in args.patients:
        cohort = args.out / f"cohort_{patients}"
        make_cohort(cohort, patients)
        workdir = args.out / f"run_{patients}_{args.settings}"
        wall = finished_wall_seconds(workdir) if args.reuse else None
        if wall is None:
            wall = run_workflow(cohort, workdir, args.cores, args.settings)
        rules = rule_table(workdir)
        summary_rows.append({"patients": patients, "wall_s": wall, "cpu_s": rules["cpu_s"].sum(),
                             "peak_rss_mb": rules["peak_rss_mb"].max(), "jobs": int(rules["jobs"].sum())})
        text = rules.round(1).to_markdown() if hasattr(rules, "to_markdown") else rules.round(1).to_string()
        sections.append(f"### {patients} patients ({args.settings} settings): {wall:.0f} s wall\n\n{text}\n")
        print(sections[-1], flush=True)
        if not args.no_r:
            for command in r_peer_commands(cohort, workdir, patients, args.out):
                print("$ " + " ".join(command), flush=True)
                subprocess.run(command, check=False)
    summary = pd.DataFrame(summary_rows)
    print(summary.round(1).to_string(index=False))
    if args.write_docs:
        docs = ROOT / "docs"
        plot(summary, docs / "benchmarks_scaling.png")
        (docs / "benchmarks_scaling.md").write_text(
            f"Machine: {machine()}\n\n" + summary.round(1).to_string(index=False) + "\n\n" + "\n".join(sections))


if __name__ == "__main__":
    main()
