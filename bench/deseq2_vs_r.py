"""Agreement of the workflow's DESeq2 (pydeseq2) with R DESeq2 on the demo RNA counts.

Runs both on the same filtered count matrix and the design ``~ responder`` (reference ``no``) and
prints the Pearson correlation and largest absolute difference of the log2 fold changes, the overlap
of the padj < 0.05 gene sets, and both wall times. A benchmark script, not a test: it installs
Debian's ``r-bioc-deseq2`` when R DESeq2 is missing (root needed).

    .venv/bin/python bench/deseq2_vs_r.py [--samples resources/demo/samples.tsv]
        [--labels resources/demo/expected_labels.tsv] [--variable responder]
        [--reference no] [--target yes] [--threads 2]

Thresholds of the acceptance criterion: Pearson r >= 0.9999, max |difference| <= 0.01,
padj < 0.05 sets overlapping >= 99% (shared genes / genes in either set).
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from trialomics import differential as dx  # noqa: E402
from trialomics import rna, tables  # noqa: E402
from trialomics.readers import read_rna_counts  # noqa: E402

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
write.table(out, args[3], sep = "\t", quote = FALSE, row.names = FALSE)
cat(sprintf("R DESeq() + results(): %.1f s\n", elapsed))
"""


def ensure_r_deseq2() -> None:
    """Install R and DESeq2 from Debian when ``library(DESeq2)`` fails."""
    if shutil.which("Rscript") and subprocess.run(
            ["Rscript", "-e", "suppressMessages(library(DESeq2))"], capture_output=True).returncode == 0:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", default=ROOT / "resources/demo/samples.tsv", type=Path)
    parser.add_argument("--labels", default=None, type=Path,
                        help="labels.tsv (default: results/clinical/labels.tsv if present, else "
                             "resources/demo/expected_labels.tsv)")
    parser.add_argument("--variable", default="responder")
    parser.add_argument("--reference", default="no")
    parser.add_argument("--target", default="yes")
    parser.add_argument("--threads", default=2, type=int)
    args = parser.parse_args()
    labels_path = args.labels or next(p for p in (ROOT / "results/clinical/labels.tsv",
                                                  ROOT / "resources/demo/expected_labels.tsv")
                                      if p.exists())
    ensure_r_deseq2()

    counts, patient_of = demo_counts(args.samples)
    labels = tables.read_tsv(labels_path).set_index("patient_id")[args.variable]
    group = patient_of.map(labels).reindex(counts.index)
    keep = group.notna() & (group != "")
    counts, group = counts.loc[keep], group[keep]
    print(f"{counts.shape[0]} samples x {counts.shape[1]} genes; labels {labels_path.name}; "
          f"{args.variable}: {(group == args.target).sum()} {args.target} vs "
          f"{(group == args.reference).sum()} {args.reference}")

    obs = pd.DataFrame({"patient_id": patient_of[counts.index], args.variable: group})
    contrast = dx.Contrast("bench", args.variable, args.reference, args.target)
    start = time.perf_counter()
    dds = dx.fit_deseq2(counts, obs, contrast, n_cpus=args.threads)
    python = dx.deseq2_results(dds, contrast, shrink=False).set_index("feature")
    python_seconds = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        counts.T.rename_axis("gene").to_csv(tmp / "counts.tsv", sep="\t")
        pd.DataFrame({"group": group}).rename_axis("sample").to_csv(tmp / "coldata.tsv", sep="\t")
        (tmp / "deseq2.R").write_text(R_SCRIPT)
        start = time.perf_counter()
        run = subprocess.run(["Rscript", str(tmp / "deseq2.R"), str(tmp / "counts.tsv"),
                              str(tmp / "coldata.tsv"), str(tmp / "r.tsv"), args.reference,
                              args.target], capture_output=True, text=True, check=True)
        r_seconds = time.perf_counter() - start
        r_result = pd.read_csv(tmp / "r.tsv", sep="\t", index_col="feature")
        r_result.index = r_result.index.astype(str)

    shared = python.index.intersection(r_result.index)
    lfc_py = python.loc[shared, "effect"].astype(float)
    lfc_r = r_result.loc[shared, "log2FoldChange"].astype(float)
    finite = np.isfinite(lfc_py) & np.isfinite(lfc_r)
    pearson = float(np.corrcoef(lfc_py[finite], lfc_r[finite])[0, 1])
    max_diff = float(np.max(np.abs(lfc_py[finite] - lfc_r[finite])))
    sig_py = set(shared[(python.loc[shared, "padj"].astype(float) < 0.05).to_numpy()])
    sig_r = set(shared[(r_result.loc[shared, "padj"].astype(float) < 0.05).to_numpy()])
    union = sig_py | sig_r
    overlap = len(sig_py & sig_r) / len(union) if union else 1.0

    # With four responders few genes reach padj < 0.05, so also compare the nominal p-values.
    p_py = python.loc[shared, "pvalue"].astype(float)
    p_r = r_result.loc[shared, "pvalue"].astype(float)
    both = np.isfinite(p_py) & np.isfinite(p_r)
    log_p_corr = float(np.corrcoef(np.log10(p_py[both]), np.log10(p_r[both]))[0, 1])
    small_py, small_r = set(shared[(p_py < 0.001).to_numpy()]), set(shared[(p_r < 0.001).to_numpy()])
    print(run.stdout.strip())
    print(f"genes compared: {int(finite.sum())}")
    print(f"log2 fold change: Pearson r = {pearson:.6f} (>= 0.9999: {pearson >= 0.9999}), "
          f"max |difference| = {max_diff:.4g} (<= 0.01: {max_diff <= 0.01})")
    print(f"padj < 0.05: pydeseq2 {len(sig_py)}, R {len(sig_r)}, shared {len(sig_py & sig_r)}, "
          f"overlap {100 * overlap:.1f}% (>= 99%: {overlap >= 0.99})")
    print(f"log10 p-value: Pearson r = {log_p_corr:.6f}; p < 0.001: pydeseq2 {len(small_py)}, "
          f"R {len(small_r)}, shared {len(small_py & small_r)}; Cook's-flagged (p missing): "
          f"pydeseq2 {int(p_py.isna().sum())}, R {int(p_r.isna().sum())}")
    print(f"wall time: pydeseq2 {python_seconds:.1f} s (fit + Wald test, {args.threads} threads); "
          f"R {r_seconds:.1f} s (Rscript including start-up and library load)")
    passed = pearson >= 0.9999 and max_diff <= 0.01 and overlap >= 0.99
    print("AGREEMENT:", "PASS" if passed else "FAIL")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
