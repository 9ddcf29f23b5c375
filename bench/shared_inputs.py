"""Reading a cohort-wide input file once for all of its samples, against one read per sample.

Usage: python bench/shared_inputs.py [--samples 500] [--genes 60000] [--mutations 150] [--per-sample 5]
                                     [--out /tmp/trialomics-shared-inputs]

Real cohorts often hand the workflow one file for every sample: a counts matrix or featureCounts table,
nf-core/rnaseq's ``salmon.merged.gene_counts.tsv``, a GDC or cohort MAF. This script writes such files
(Poisson counts; estimated counts with three decimals under gene IDs and symbols; ``--mutations`` rows per
tumour barcode with 40 more MAF columns, like a GDC MAF), then times:

- *once per file*: what the ingestion and the validation now do (``counts_readers.rna_counts_reader`` /
  ``readers.maf_reader`` opened once, then every sample taken from it);
- *once per sample*: one whole read per sample, as they did before (``counts_readers.read_rna_counts`` /
  ``readers.read_maf`` with the sample's column or barcode, which read the whole file and take that
  sample), timed on ``--per-sample`` samples and multiplied by the number of samples (a full run would
  take hours at 500 samples). Today's single read is itself faster than the one the ingestion made
  before the twelfth session for an nf-core table (numbers now read as floats, not every cell as a
  string first): ``docs/benchmarks.md`` has the figures measured before that change.

Each reading runs in a fresh process, which reports its CPU seconds and peak RSS (imports included).

Figures are printed, not asserted.
"""
from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from trialomics import counts_readers, readers, runlog


def write_files(out: Path, samples: int, genes: int, mutations: int, seed: int = 1) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {"matrix": out / f"counts_{samples}x{genes}.tsv",
             "nf-core": out / f"{samples}x{genes}" / "salmon.merged.gene_counts.tsv",
             "MAF": out / f"cohort_{samples}x{mutations}.maf"}
    if all(path.exists() for path in files.values()):
        return files
    rng = np.random.default_rng(seed)
    names = [f"S{i:04d}" for i in range(samples)]
    counts = rng.poisson(50, size=(genes, samples))
    with open(files["matrix"], "w") as handle:
        handle.write("gene\t" + "\t".join(names) + "\n")
        for gene in range(genes):
            handle.write(f"G{gene}\t" + "\t".join(map(str, counts[gene])) + "\n")
    files["nf-core"].parent.mkdir(exist_ok=True)
    with open(files["nf-core"], "w") as handle:
        handle.write("gene_id\tgene_name\t" + "\t".join(names) + "\n")
        for gene in range(genes):
            handle.write(f"ENSG{gene:011d}\tG{gene}\t" + "\t".join(f"{c}.{d:03d}" for c, d in
                                                                   zip(counts[gene], rng.integers(0, 1000, samples)))
                         + "\n")
    extra = [f"Column_{i}" for i in range(40)]
    with open(files["MAF"], "w") as handle:
        handle.write("#version 2.4\n" + "\t".join(["Hugo_Symbol", "Tumor_Sample_Barcode", "Variant_Classification",
                                                   *extra]) + "\n")
        for name in names:
            for row in range(mutations):
                handle.write("\t".join([f"G{rng.integers(genes)}", name, "Missense_Mutation",
                                        *(f"v{row}" for _ in extra)]) + "\n")
    return files


def measure(kind: str, path: Path, names: list[str]) -> tuple[float, float]:
    """(CPU seconds, peak RSS in MB) of this process reading ``names`` from ``path``: each call runs in a
    fresh process, so the peak is that of this reading alone (with the imports)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    started = usage.ru_utime + usage.ru_stime
    if kind == "MAF":
        rows_of = readers.maf_reader(path) if len(names) > 1 else None
        for name in names:
            len(rows_of(name) if rows_of else readers.read_maf(path, barcode=name))
    else:
        counts_of = counts_readers.rna_counts_reader(path, names) if len(names) > 1 else None
        for name in names:
            int((counts_of(name) if counts_of else counts_readers.read_rna_counts(path, column=name)).sum())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime - started, runlog.peak_rss_mb()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--genes", type=int, default=60000)
    parser.add_argument("--mutations", type=int, default=150, help="MAF rows per sample")
    parser.add_argument("--per-sample", type=int, default=5, help="samples timed one read each")
    parser.add_argument("--out", type=Path, default=Path("/tmp/trialomics-shared-inputs"))
    args = parser.parse_args()
    files = write_files(args.out, args.samples, args.genes, args.mutations)
    names = [f"S{i:04d}" for i in range(args.samples)]
    timed_names = names[:: max(1, args.samples // args.per_sample)][: args.per_sample]
    print(f"{args.samples} samples; CPU seconds and peak RSS of a fresh process per reading; 'once per sample' "
          f"= the mean of {len(timed_names)} single reads x {args.samples}")
    print(f"{'file':<10}{'size MB':>9}{'once per file':>15}{'peak MB':>9}{'once per sample':>17}{'peak MB':>9}"
          f"{'ratio':>8}")
    spawn = multiprocessing.get_context("spawn")
    for kind, path in files.items():
        with ProcessPoolExecutor(1, mp_context=spawn, max_tasks_per_child=1) as pool:
            per_file, file_peak = pool.submit(measure, kind, path, names).result()
        singles = []
        for name in timed_names:
            with ProcessPoolExecutor(1, mp_context=spawn, max_tasks_per_child=1) as pool:
                singles.append(pool.submit(measure, kind, path, [name]).result())
        per_sample = float(np.mean([cpu for cpu, _ in singles])) * args.samples
        print(f"{kind:<10}{path.stat().st_size / 1e6:>9.0f}{per_file:>15.1f}{file_peak:>9.0f}{per_sample:>17.0f}"
              f"{max(peak for _, peak in singles):>9.0f}{per_sample / per_file:>8.0f}")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s wall)")
