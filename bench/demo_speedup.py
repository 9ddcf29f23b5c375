"""The demo DAG at a baseline commit against this checkout's HEAD, per rule, on one machine in one run.

Usage:
    python bench/demo_speedup.py [--base cff8a41] [--out /tmp/trialomics-speedup] [--cores 2]
                                 [--reuse base head]

Issue #10 states its targets as ratios to the code it measured ("models_fit: at least 20x less CPU than
today"); CPU seconds measured on different days differ by 20% on the same kind of machine, so a ratio is
only worth something when both sides run on the same machine, one after the other. This script unpacks
the two commits' trees (``git archive``, so uncommitted edits are not measured) under ``--out``, and runs
each one's own demo -- its own ``config/config.yaml`` (the default settings of that commit) and its own
``resources/demo`` inputs -- from raw inputs to its ``all`` target, with this checkout's virtual
environment and ``PYTHONPATH`` at that tree's ``scripts``. HEAD's compiled kernels are built into its
tree before its run (as ``run.sh`` does once after installing); that is not timed.

Every job's CPU time is counted exactly in both runs by the same means: a ``sitecustomize`` module put
on the jobs' ``PYTHONPATH`` appends, at each script job's exit (``atexit``, or ``os._exit``, with which
``runlog.done`` ends a job), its rule and its own plus its finished children's user + system seconds
(``getrusage``) to a file. (Snakemake's ``benchmark:`` files sample
the CPU every 0.5 s for 15 s, then every 30 s, and miss what a longer job spends after its last sample;
the baseline's jobs do not log their CPU time themselves.) The whole run's wall time is measured
around Snakemake. Then it prints, per rule: jobs and CPU seconds on each side and their ratio, and the
totals. Figures are printed, not asserted.

``--base`` defaults to cff8a41, the last commit whose models ran through scikit-learn and
scikit-survival estimators, i.e. the models code the issue measured (2,437 CPU-s in ``models_fit``);
its demo inputs are the ones of that time. ``--reuse base`` (or ``head``) reuses that side's
finished run under ``--out`` (the baseline takes about 25 minutes on 2 cores).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BASE = "cff8a41"
CPU_FILE = "job_cpu.tsv"
# A models job this short only starts, reads its inputs and writes that the model is skipped.
SKIPPED_BELOW_CPU_S = 1.5
SITECUSTOMIZE = '''\
"""Written by bench/demo_speedup.py: record each Snakemake script job's exact CPU time at its exit."""
import atexit
import os
import resource
import sys

_JOB_PROCESS = os.getpid()   # a forked child (a worker) has another pid: its time is its parent's children's
_recorded = []


def _record_job_cpu():
    job = getattr(sys.modules.get("__main__"), "snakemake", None)
    if job is None or _recorded or os.getpid() != _JOB_PROCESS:
        return
    _recorded.append(True)
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    with open(os.environ["TRIALOMICS_JOB_CPU_FILE"], "a") as record:
        wildcards = ",".join(f"{name}={value}" for name, value in sorted(job.wildcards.items()))
        record.write(f"{job.rule}\\t{wildcards}\\t{seconds:.3f}\\n")


def _exit_recording(status, _exit=os._exit):
    _record_job_cpu()
    _exit(status)


atexit.register(_record_job_cpu)
os._exit = _exit_recording   # jobs that end with os._exit (runlog.done) skip atexit
'''


def unpack(commit: str, tree: Path) -> str:
    """The commit's files under ``tree`` (replacing an earlier copy); returns its full hash."""
    full = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{commit}^{{commit}}"],
                          check=True, capture_output=True, text=True).stdout.strip()
    if tree.exists():
        subprocess.run(["rm", "-rf", str(tree)], check=True)
    tree.mkdir(parents=True)
    archive = subprocess.Popen(["git", "-C", str(ROOT), "archive", full], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(tree)], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise SystemExit(f"git archive {commit} failed")
    return full


def run_demo(tree: Path, hooks: Path, cores: int) -> float:
    """Run the tree's demo to its ``all`` target; returns the wall seconds of Snakemake's run."""
    environment = dict(os.environ, PYTHONPATH=f"{hooks}{os.pathsep}{tree / 'scripts'}", PYTHONHASHSEED="0",
                       TRIALOMICS_JOB_CPU_FILE=str(tree / CPU_FILE))
    (tree / CPU_FILE).write_text("")
    if (tree / "scripts" / "trialomics" / "compiled_kernels.py").exists():
        subprocess.run([sys.executable, "-c", "from trialomics.compiled_kernels import compile_model_kernels as c; c()"],
                       cwd=tree, env=environment, check=True)
        (tree / CPU_FILE).write_text("")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", "workflow/Snakefile", "--configfile",
                           "config/config.yaml", "--cores", str(cores), "--quiet", "all"], cwd=tree, env=environment)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the demo failed in {tree} (see {tree}/.snakemake/log)")
    (tree / "wall_seconds.txt").write_text(f"{elapsed:.1f}\n")
    return elapsed


def job_record(tree: Path) -> pd.DataFrame:
    """One row per job of the run: rule, wildcards, CPU seconds."""
    return pd.read_csv(tree / CPU_FILE, sep="\t", names=["rule", "wildcards", "cpu_s"], dtype={"wildcards": str},
                       keep_default_na=False)


def job_cpu(record: pd.DataFrame) -> pd.DataFrame:
    """Per rule: the number of jobs and their CPU seconds."""
    return record.groupby("rule").agg(jobs=("cpu_s", "size"), cpu_s=("cpu_s", "sum"))


def compare(base: pd.DataFrame, head: pd.DataFrame) -> pd.DataFrame:
    table = base.join(head, how="outer", lsuffix="_base", rsuffix="_head")
    table[["jobs_base", "jobs_head"]] = table[["jobs_base", "jobs_head"]].fillna(0).astype(int)
    table[["cpu_s_base", "cpu_s_head"]] = table[["cpu_s_base", "cpu_s_head"]].fillna(0.0)
    table = table.sort_values("cpu_s_base", ascending=False)
    total = pd.DataFrame({column: [table[column].sum()] for column in table.columns}, index=["all rules"])
    table = pd.concat([table, total])
    on_both = (table["cpu_s_base"] > 0) & (table["cpu_s_head"] > 0)   # a rule of one side only has no ratio
    table["ratio"] = (table["cpu_s_base"] / table["cpu_s_head"]).where(on_both)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=DEFAULT_BASE, help="the baseline commit (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/trialomics-speedup"))
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--reuse", nargs="+", choices=["base", "head"], default=[],
                        help="reuse that side's finished run under --out instead of running it")
    args = parser.parse_args()
    hooks = args.out / "hooks"
    hooks.mkdir(parents=True, exist_ok=True)
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    walls = {}
    for side, commit in (("base", args.base), ("head", "HEAD")):
        tree = args.out / side
        if side in args.reuse:
            if not (tree / "wall_seconds.txt").exists():
                raise SystemExit(f"--reuse {side}: no finished run in {tree}")
            walls[side] = float((tree / "wall_seconds.txt").read_text())
            continue
        full = unpack(commit, tree)
        print(f"{side}: {commit} = {full[:12]}, running its demo in {tree}", flush=True)
        walls[side] = run_demo(tree, hooks, args.cores)
    base, head = job_record(args.out / "base"), job_record(args.out / "head")
    table = compare(job_cpu(base), job_cpu(head))
    with pd.option_context("display.width", 120, "display.max_rows", 200, "display.float_format", "{:.1f}".format):
        print(table.to_string())
    models = table.loc["models_fit"] if "models_fit" in table.index else None
    print(f"\nwall time of the whole run (Snakemake, {args.cores} cores): base {walls['base']:.0f} s, "
          f"head {walls['head']:.0f} s ({walls['base'] / walls['head']:.1f}x)")
    total = table.loc["all rules"]
    print(f"CPU of all jobs: base {total.cpu_s_base:.1f} s, head {total.cpu_s_head:.1f} s ({total.ratio:.1f}x)")
    if models is not None:
        print(f"models_fit: base {models.cpu_s_base:.1f} CPU-s in {int(models.jobs_base)} jobs, head "
              f"{models.cpu_s_head:.1f} in {int(models.jobs_head)} ({models.ratio:.1f}x)")
        # The blocks both sides fit (HEAD's DAG has more: e.g. the change blocks)
        fits = [record[record["rule"] == "models_fit"].set_index("wildcards")["cpu_s"] for record in (base, head)]
        shared = fits[0].index.intersection(fits[1].index)
        if len(shared):
            before, after = fits[0][shared].sum(), fits[1][shared].sum()
            print(f"models_fit, the {len(shared)} blocks both fit: base {before:.1f} CPU-s, head {after:.1f} "
                  f"({before / after:.1f}x); head's other {len(fits[1]) - len(shared)} blocks "
                  f"{fits[1].drop(shared).sum():.1f} CPU-s")
            # A block one side fits and the other skips (HEAD skips models with too few events or patients
            # per class, e.g. the demo's responder models) is not the same work: without those too.
            fitted = [block for block in shared if fits[1][block] >= SKIPPED_BELOW_CPU_S]
            before, after = fits[0][fitted].sum(), fits[1][fitted].sum()
            print(f"models_fit, the {len(fitted)} blocks both fit and evaluate (head's jobs of at least "
                  f"{SKIPPED_BELOW_CPU_S} CPU-s): base {before:.1f} CPU-s, head {after:.1f} ({before / after:.1f}x)")
            per_block = pd.DataFrame({"base": fits[0][shared], "head": fits[1][shared]})
            per_block["ratio"] = per_block["base"] / per_block["head"]
            with pd.option_context("display.width", 120, "display.float_format", "{:.1f}".format):
                print(per_block.sort_values("base").to_string())


if __name__ == "__main__":
    main()
