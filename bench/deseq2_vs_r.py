"""Speed and agreement of the workflow's RNA differential expression against R DESeq2.

For each data set (the demo's RNA counts, and simulated cohorts of 24 samples x 4,000 genes and
20 x 20,000 genes), in one run and on the same count matrix written as a TSV:

- ours: the two steps of the workflow's rules as two Python processes, as Snakemake runs them:
  ``differential_rna_fit`` (read the counts, ``fit_deseq2`` with the vectorised inference, write
  the fit) and ``differential_rna`` (read the fit, ``deseq2_results`` with apeGLM shrinkage, write
  the table, then the volcano and MA plots as PNG and SVG);
- R: one ``Rscript`` process reading the same TSV, ``DESeq()``, ``results()``, writing the table
  (its ``DESeq()`` + ``results()`` time alone is printed too).

It prints each side's wall and CPU time, the ratio ours / R (whole processes up to the written
table, and ours including the plots), and the agreement: Pearson r and largest absolute difference
of the unshrunk log2 fold changes, overlap of the padj < 0.05 sets (shared / in either), log10
p-value correlation. A benchmark script, not a test: it installs Debian's ``r-base-core`` and
``r-bioc-deseq2`` when R DESeq2 is missing (root needed).

    .venv/bin/python bench/deseq2_vs_r.py [--datasets demo sim24x4000 sim20x20000]
        [--samples resources/demo/samples.tsv] [--labels results/clinical/labels.tsv]
        [--variable responder] [--reference no] [--target yes] [--threads 2]

Exit status 0 when every data set meets the issue's bar: agreement (r >= 0.9999, max |difference|
<= 0.01, padj < 0.05 overlap >= 99%) and ours at most 0.5x R's wall time up to the table.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from trialomics import rna, tables
from trialomics.counts_readers import read_rna_counts

ROOT = Path(__file__).resolve().parent.parent

SIMULATED = {"sim24x4000": (24, 4000), "sim20x20000": (20, 20000)}

R_SCRIPT = r"""
suppressMessages(library(DESeq2))
args <- commandArgs(trailingOnly = TRUE)
counts <- as.matrix(read.delim(args[1], row.names = 1, check.names = FALSE))
coldata <- read.delim(args[2], row.names = 1, colClasses = "character")
coldata$group <- relevel(factor(coldata$group), ref = args[4])
dds <- DESeqDataSetFromMatrix(counts, coldata, design = ~ group)
elapsed <- system.time({
  dds <- DESeq(dds, quiet = TRUE)
  res <- results(dds, contrast = c("group", args[5], args[4]), alpha = 0.05)
})[["elapsed"]]
out <- data.frame(feature = rownames(res), log2FoldChange = res$log2FoldChange,
                  stat = res$stat, pvalue = res$pvalue, padj = res$padj)
write.table(out, args[3], sep = "	", quote = FALSE, row.names = FALSE)
cat(sprintf("%.3f
", elapsed))
"""

# The rules' two processes. Both read what the rule reads from a TSV instead of the cohort's
# .h5ad, so that both sides start from the same count file.
FIT_STEP = r"""
import sys
import pandas as pd
from trialomics import differential as dx
from trialomics.deseq_store import write_deseq_fit
from trialomics.differential_rna import fit_deseq2
counts_path, coldata_path, fit_path, reference, target, threads = sys.argv[1:]
counts = pd.read_csv(counts_path, sep="	", index_col=0).T
obs = pd.read_csv(coldata_path, sep="	", index_col=0, dtype=str)
contrast = dx.Contrast("bench", "group", reference, target)
write_deseq_fit(fit_deseq2(counts, obs, contrast, n_cpus=int(threads)), fit_path)
"""
RESULTS_STEP = r"""
import sys
import time
from trialomics import differential as dx
from trialomics import tables
from trialomics.deseq_results import DeseqFit
from trialomics.differential_rna import deseq2_results
fit_path, table_path, plots_dir, reference, target, threads, plots = sys.argv[1:]
contrast = dx.Contrast("bench", "group", reference, target)
table = deseq2_results(DeseqFit.read(fit_path), contrast, shrink=True)
tables.write_tsv(table, table_path)
if plots == "yes":
    from trialomics import differential_plots as figures
    from trialomics import style
    style.save_figure(figures.plot_volcano(table, "bench", "log2 fold change (MLE)"),
                      f"{plots_dir}/volcano.png", f"{plots_dir}/volcano.svg")
    style.save_figure(figures.plot_ma(table, "bench"), f"{plots_dir}/ma.png", f"{plots_dir}/ma.svg")
"""


def ensure_r_deseq2() -> None:
    """Install R and DESeq2 from Debian when ``library(DESeq2)`` fails."""
    if shutil.which("Rscript") and subprocess.run(
            ["Rscript", "-e", "suppressMessages(library(DESeq2))"], capture_output=True,
            check=False).returncode == 0:
        return
    if os.geteuid() != 0:
        sys.exit("R DESeq2 is missing: run as root, or apt-get install r-base-core r-bioc-deseq2")
    print("installing r-base-core and r-bioc-deseq2 with apt-get ...", flush=True)
    subprocess.run(["apt-get", "update"], check=True)
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "r-base-core",
                    "r-bioc-deseq2"], check=True)


def demo_counts(samples_path: Path) -> tuple[pd.DataFrame, pd.Series]:
    """Samples x genes counts of the RNA samples of a sample sheet, and each sample's patient."""
    sheet = tables.read_tsv(samples_path)
    sheet = sheet[(sheet["modality"] == "rna")]
    if "timepoint" in sheet.columns:
        sheet = sheet[sheet["timepoint"].isin(["", "baseline"])]
    counts = {}
    for _, row in sheet.iterrows():
        counts[row["sample_id"]] = read_rna_counts(samples_path.parent / row["path"],
                                                   column=row.get("column") or None)
    matrix = rna.build_count_matrix(counts)          # genes x samples
    matrix = rna.filter_low_counts(matrix, min_count=10, min_samples=3)
    return matrix.T, sheet.set_index("sample_id")["patient_id"]


def simulated_counts(n_samples: int, n_genes: int, seed: int = 7) -> tuple[pd.DataFrame, pd.Series]:
    """NB counts (samples x genes after the workflow's low-count filter) and a two-level group.

    Gene means log-normal (median ~150 reads), dispersion 0.05 + 2 / mean (DESeq2's trend
    shape), size factors log-normal (sd 0.3), 10% of genes with a log fold change ~ N(0, 1.5).
    """
    rng = np.random.default_rng(seed)
    base = np.exp(rng.normal(5, 2, n_genes))
    dispersion = 0.05 + 2.0 / base
    group = np.repeat(["no", "yes"], [n_samples // 2, n_samples - n_samples // 2])
    lfc = np.where(rng.random(n_genes) < 0.1, rng.normal(0, 1.5, n_genes), 0.0)
    size_factors = np.exp(rng.normal(0, 0.3, n_samples))
    mu = size_factors[:, None] * base * np.exp(np.outer(group == "yes", lfc))
    counts = rng.negative_binomial(1 / dispersion, 1 / (1 + mu * dispersion))
    samples = [f"S{i:02d}" for i in range(n_samples)]
    matrix = pd.DataFrame(counts.T, index=[f"G{j:05d}" for j in range(n_genes)], columns=samples)
    matrix = rna.filter_low_counts(matrix, min_count=10, min_samples=3)
    return matrix.T, pd.Series(group, index=samples)


def demo_dataset(args) -> tuple[pd.DataFrame, pd.Series]:
    labels_path = args.labels or next(p for p in (ROOT / "results/clinical/labels.tsv",
                                                  ROOT / "resources/demo/expected_labels.tsv")
                                      if p.exists())
    counts, patient_of = demo_counts(args.samples)
    labels = tables.read_tsv(labels_path).set_index("patient_id")[args.variable]
    group = patient_of.map(labels).reindex(counts.index)
    keep = group.notna() & (group != "")
    group = group[keep].map({args.reference: "no", args.target: "yes"})
    return counts.loc[keep], group


def timed(command: list[str]) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system of the child) of one process, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0:
        sys.exit(f"{' '.join(command[:3])} failed:\n{run.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, run.stdout


def agreement(ours: pd.DataFrame, theirs: pd.DataFrame) -> dict:
    shared = ours.index.intersection(theirs.index)
    lfc_ours = ours.loc[shared, "effect"].astype(float)
    lfc_r = theirs.loc[shared, "log2FoldChange"].astype(float)
    finite = np.isfinite(lfc_ours) & np.isfinite(lfc_r)
    sig_ours = set(shared[(ours.loc[shared, "padj"].astype(float) < 0.05).to_numpy()])
    sig_r = set(shared[(theirs.loc[shared, "padj"].astype(float) < 0.05).to_numpy()])
    union = sig_ours | sig_r
    p_ours, p_r = ours.loc[shared, "pvalue"].astype(float), theirs.loc[shared, "pvalue"].astype(float)
    both = np.isfinite(p_ours) & np.isfinite(p_r) & (p_ours > 0) & (p_r > 0)
    return {
        "genes": int(finite.sum()),
        "pearson": float(np.corrcoef(lfc_ours[finite], lfc_r[finite])[0, 1]),
        "max_diff": float(np.max(np.abs(lfc_ours[finite] - lfc_r[finite]))),
        "sig": (len(sig_ours), len(sig_r), len(sig_ours & sig_r)),
        "overlap": len(sig_ours & sig_r) / len(union) if union else 1.0,
        "log_p_r": float(np.corrcoef(np.log10(p_ours[both]), np.log10(p_r[both]))[0, 1]),
    }


def run_dataset(name: str, counts: pd.DataFrame, group: pd.Series, threads: int, workdir: Path) -> dict:
    """Time both sides on one count matrix and compare their tables."""
    directory = workdir / name
    directory.mkdir(parents=True, exist_ok=True)
    counts_path, coldata_path = directory / "counts.tsv", directory / "coldata.tsv"
    counts.T.rename_axis("gene").to_csv(counts_path, sep="\t")
    pd.DataFrame({"group": group}).rename_axis("sample").to_csv(coldata_path, sep="\t")
    (directory / "deseq2.R").write_text(R_SCRIPT)
    python = [sys.executable, "-c"]
    fit_path, table_path = directory / "fit.h5ad", directory / "ours.tsv"
    fit = timed(python + [FIT_STEP, str(counts_path), str(coldata_path), str(fit_path), "no", "yes",
                          str(threads)])
    results_args = [str(fit_path), str(table_path), str(directory), "no", "yes", str(threads)]
    to_table = timed(python + [RESULTS_STEP, *results_args, "no"])
    with_plots = timed(python + [RESULTS_STEP, *results_args, "yes"])
    r_run = timed(["Rscript", str(directory / "deseq2.R"), str(counts_path), str(coldata_path),
                   str(directory / "r.tsv"), "no", "yes"])
    ours, theirs = (pd.read_csv(path, sep="\t", index_col="feature", dtype={"feature": str})
                    for path in (table_path, directory / "r.tsv"))
    return {"name": name, "shape": counts.shape, "fit": fit, "to_table": to_table,
            "with_plots": with_plots, "r": r_run, "r_fit": float(r_run[2].strip().splitlines()[-1]),
            **agreement(ours, theirs)}


def report(row: dict) -> bool:
    ours_table = row["fit"][0] + row["to_table"][0]
    ours_plots = row["fit"][0] + row["with_plots"][0]
    r_wall = row["r"][0]
    agree = row["pearson"] >= 0.9999 and row["max_diff"] <= 0.01 and row["overlap"] >= 0.99
    fast = ours_table <= 0.5 * r_wall
    print(f"== {row['name']}: {row['shape'][0]} samples x {row['shape'][1]} genes "
          f"({row['genes']} compared)")
    print(f"  ours: fit {row['fit'][0]:.2f} s wall / {row['fit'][1]:.2f} s CPU; results to table "
          f"{row['to_table'][0]:.2f} / {row['to_table'][1]:.2f}; results with plots "
          f"{row['with_plots'][0]:.2f} / {row['with_plots'][1]:.2f}")
    print(f"  R:    Rscript {r_wall:.2f} s wall / {row['r'][1]:.2f} s CPU; DESeq() + results() "
          f"{row['r_fit']:.2f} s")
    print(f"  ratio ours / R (wall, up to the table): {ours_table / r_wall:.2f} "
          f"(<= 0.5: {fast}); with plots {ours_plots / r_wall:.2f}; CPU "
          f"{(row['fit'][1] + row['to_table'][1]) / row['r'][1]:.2f}")
    print(f"  log2FC Pearson r {row['pearson']:.6f}, max |difference| {row['max_diff']:.4g}; "
          f"padj < 0.05 ours / R / shared {row['sig'][0]} / {row['sig'][1]} / {row['sig'][2]} "
          f"({100 * row['overlap']:.1f}%); log10 p Pearson r {row['log_p_r']:.6f}")
    print(f"  AGREEMENT: {'PASS' if agree else 'FAIL'}; SPEED: {'PASS' if fast else 'FAIL'}",
          flush=True)
    return agree and fast


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["demo", *SIMULATED],
                        choices=["demo", *SIMULATED])
    parser.add_argument("--samples", default=ROOT / "resources/demo/samples.tsv", type=Path)
    parser.add_argument("--labels", default=None, type=Path,
                        help="labels.tsv (default: results/clinical/labels.tsv if present, else "
                             "resources/demo/expected_labels.tsv)")
    parser.add_argument("--variable", default="responder")
    parser.add_argument("--reference", default="no")
    parser.add_argument("--target", default="yes")
    parser.add_argument("--threads", default=2, type=int)
    args = parser.parse_args()
    ensure_r_deseq2()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; "
          f"ours with {args.threads} threads, R single-threaded", flush=True)
    passed = True
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets:
            counts, group = demo_dataset(args) if name == "demo" else simulated_counts(*SIMULATED[name])
            passed &= report(run_dataset(name, counts, group, args.threads, Path(tmp)))
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
