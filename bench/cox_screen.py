"""Speed and agreement of the univariate Cox screen against a loop of R ``survival::coxph``.

Simulates one cohort (``--patients`` x ``--features``: continuous features, a few of them
prognostic, plus ``--sparse`` alterations carried by 2 to 4 patients, many of them separated),
times :func:`trialomics.survival.univariate_cox` on it (median of ``--repeats`` runs, and the
continuous features alone, the issue's 20,000 x 20 target), then fits every feature with R
``coxph(Surv(time, event) ~ x)`` (Efron ties, as ours) in one R loop and prints:

- our wall time, R's loop time and R's whole process time, and the ratio ours / R loop;
- over the features both fitted by maximum likelihood without separation: the largest
  |delta log HR|, |delta se| and |delta Wald p|;
- how our separation flag agrees with R's: its "coefficient may be infinite" warning, or a coefficient
  that is not finite (R's coxph returns NaN without a warning when its first Newton step overflows,
  as on alterations carried only by the earliest events).

A benchmark script, not a test: it installs Debian's ``r-base-core`` and ``r-cran-survival`` with
apt-get when R's survival package is missing (root needed).

    .venv/bin/python bench/cox_screen.py [--features 20000] [--patients 20] [--sparse 200]
        [--seed 1] [--repeats 3]

Exit status 0 when the agreement criterion holds (|delta log HR| and |delta p| <= 1e-6, separation
flags identical) and the 20,000-feature continuous screen took under 2 s.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from trialomics import survival

R_SCRIPT = r"""
suppressMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
outcome <- read.delim(args[1])
values <- as.matrix(read.delim(args[2], check.names = FALSE))
n_features <- ncol(values)
coef <- se <- p <- numeric(n_features)
infinite <- logical(n_features)
elapsed <- system.time({
  for (j in seq_len(n_features)) {
    flagged <- FALSE
    fit <- withCallingHandlers(
      coxph(Surv(outcome$time, outcome$event) ~ values[, j], ties = "efron"),
      warning = function(w) {
        if (grepl("infinite", conditionMessage(w))) flagged <<- TRUE
        invokeRestart("muffleWarning")
      })
    coef[j] <- fit$coefficients[1]
    se[j] <- sqrt(fit$var[1, 1])
    p[j] <- 2 * pnorm(-abs(coef[j] / se[j]))
    infinite[j] <- flagged
  }
})[["elapsed"]]
write.table(data.frame(feature = colnames(values), coef = coef, se = se, pvalue = p, infinite = infinite),
            args[3], sep = "\t", quote = FALSE, row.names = FALSE)
cat(sprintf("%.4f\n", elapsed), file = args[4])
"""


def ensure_r_survival() -> None:
    """Install R and its survival package from Debian when ``library(survival)`` fails."""
    if shutil.which("Rscript") and subprocess.run(
            ["Rscript", "-e", "suppressMessages(library(survival))"], capture_output=True, check=False).returncode == 0:
        return
    if os.geteuid() != 0:
        sys.exit("R survival is missing: run as root, or apt-get install r-base-core r-cran-survival")
    print("installing r-base-core and r-cran-survival with apt-get ...", flush=True)
    subprocess.run(["apt-get", "update"], check=True)
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "r-base-core", "r-cran-survival"],
                   check=True)


def simulate(n_patients: int, n_features: int, n_sparse: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Patients x features values (continuous, then sparse 0/1 alterations) and their outcome."""
    rng = np.random.default_rng(seed)
    patients = [f"P{i:03d}" for i in range(n_patients)]
    continuous = rng.normal(size=(n_patients, n_features))
    hazard = np.exp(0.8 * continuous[:, :5].sum(axis=1) / np.sqrt(5))
    event_time = rng.exponential(12.0 / hazard)
    censor_time = rng.uniform(6.0, 36.0, n_patients)
    outcome = pd.DataFrame({"time": np.round(np.minimum(event_time, censor_time), 2),
                            "event": event_time <= censor_time}, index=patients)
    sparse = np.zeros((n_patients, n_sparse))
    for j in range(n_sparse):
        sparse[rng.choice(n_patients, size=2 + j % 3, replace=False), j] = 1.0
    # One in ten alterations is carried by the patients with the earliest events: separated.
    earliest_events = outcome.index.get_indexer(outcome[outcome["event"]].sort_values("time").index)
    for j in range(0, n_sparse, 10):
        sparse[:, j] = 0.0
        sparse[earliest_events[:2 + j % 3], j] = 1.0
    columns = [f"g{j:05d}" for j in range(n_features)] + [f"mut{j:04d}" for j in range(n_sparse)]
    values = pd.DataFrame(np.hstack([continuous, sparse]), index=patients, columns=columns)
    values.index.name = "patient_id"
    return values, outcome


def time_screen(values: pd.DataFrame, outcome: pd.DataFrame, repeats: int) -> tuple[float, pd.DataFrame]:
    """Median wall time of ``univariate_cox`` over ``repeats`` runs, and its table."""
    kinds = survival.feature_kinds(values)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        table = survival.univariate_cox(values, kinds, outcome)
        times.append(time.perf_counter() - start)
    return float(np.median(times)), table


def run_r(values: pd.DataFrame, outcome: pd.DataFrame) -> tuple[pd.DataFrame, float, float]:
    """R coxph of every column of ``values`` (as given); returns (table, loop seconds, process seconds)."""
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        outcome.assign(event=outcome["event"].astype(int)).to_csv(folder / "outcome.tsv", sep="\t", index=False)
        values.to_csv(folder / "values.tsv", sep="\t", index=False, float_format="%.17g")
        (folder / "loop.R").write_text(R_SCRIPT)
        start = time.perf_counter()
        subprocess.run(["Rscript", str(folder / "loop.R"), str(folder / "outcome.tsv"), str(folder / "values.tsv"),
                        str(folder / "r.tsv"), str(folder / "elapsed.txt")], check=True)
        process = time.perf_counter() - start
        table = pd.read_csv(folder / "r.tsv", sep="\t")
        loop = float((folder / "elapsed.txt").read_text())
    table["infinite"] = table["infinite"].astype(str).str.upper() == "TRUE"
    return table, loop, process


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=20000, help="continuous features")
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--sparse", type=int, default=200, help="alterations carried by 2-4 patients")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    ensure_r_survival()

    values, outcome = simulate(args.patients, args.features, args.sparse, args.seed)
    continuous = values.iloc[:, :args.features]
    print(f"cohort: {args.patients} patients, {int(outcome['event'].sum())} events, "
          f"{args.features} continuous features + {args.sparse} sparse alterations (seed {args.seed})")
    ours_continuous, _ = time_screen(continuous, outcome, args.repeats)
    ours_all, table = time_screen(values, outcome, args.repeats)
    print(f"ours: univariate_cox of the {args.features} continuous features: {ours_continuous:.3f} s; "
          f"with the sparse alterations (Firth, exact log-rank): {ours_all:.3f} s (median of {args.repeats})")

    # R fits what our screen fits: continuous features z-scored (ddof 1), alterations 0/1.
    standardised = values.copy()
    standardised.iloc[:, :args.features] = (continuous - continuous.mean()) / continuous.std(ddof=1)
    reference, r_loop, r_process = run_r(standardised, outcome)
    print(f"R coxph loop over {values.shape[1]} features: {r_loop:.2f} s (whole Rscript process "
          f"{r_process:.2f} s); ours / R loop = {ours_all / r_loop:.4f}")

    merged = table.merge(reference, on="feature", suffixes=("", "_r"))
    # Our maximum-likelihood rows (method cox) against R's fits without an infinite coefficient.
    r_separated = merged["infinite"] | ~np.isfinite(merged["coef_r"])
    ml = merged[(merged["method"] == "cox") & ~r_separated]
    delta_log_hr = np.abs(ml["coef"] - ml["coef_r"]).max()
    delta_se = np.abs(ml["se"] - ml["se_r"]).max()
    delta_p = np.abs(ml["pvalue"] - ml["pvalue_r"]).max()
    ours_flag = merged["separation"] == "yes"
    print(f"agreement over the {len(ml)} maximum-likelihood fits (the others are Firth fits): "
          f"max |delta log HR| = {delta_log_hr:.2e}, max |delta se| = {delta_se:.2e}, "
          f"max |delta p| = {delta_p:.2e}")
    print(f"separation: ours {int(ours_flag.sum())}, R {int(r_separated.sum())} ('coefficient may be infinite' "
          f"{int(merged['infinite'].sum())}, coefficient not finite {int((~np.isfinite(merged['coef_r'])).sum())}), "
          f"both {int((ours_flag & r_separated).sum())}, disagreeing {int((ours_flag != r_separated).sum())}")
    separated = merged[ours_flag]
    if len(separated):
        print(f"separated features as reported by ours: |log HR| <= {np.abs(separated['coef']).max():.2f} (Firth), "
              f"smallest p {separated['pvalue'].min():.2e}; by R's loop: |log HR| up to "
              f"{np.abs(separated['coef_r']).max():.1f}, smallest Wald p {separated['pvalue_r'].min():.2e}")
    agree = delta_log_hr <= 1e-6 and delta_p <= 1e-6 and bool((ours_flag == r_separated).all())
    fast = ours_continuous < 2.0 or args.features != 20000
    print(f"AGREEMENT: {'PASS' if agree else 'FAIL'}; SPEED (< 2 s for 20,000 x 20): {'PASS' if fast else 'FAIL'}")
    return 0 if agree and fast else 1


if __name__ == "__main__":
    sys.exit(main())
