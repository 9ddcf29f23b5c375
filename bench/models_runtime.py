"""CPU time of the models stage: per Snakemake job of a finished run, or per block run directly.

Usage:
  python bench/models_runtime.py rules RUN_DIRECTORY
  python bench/models_runtime.py blocks RUN_DIRECTORY [--blocks pfs:rna,responder:proteins,...]
         [--permutations 10] [--repeats 2] [--stability 10] [--n-jobs 1]
         [--save DIR] [--compare DIR] [--breakdown]

``rules`` reads ``benchmarks/{survival,models,biomarkers}/**/*.tsv`` (Snakemake's ``benchmark:``
output) and prints one line per job (wall and CPU seconds), then totals per rule and per stage.

``blocks`` runs :func:`trialomics.models.fit_endpoint_model` in this process for each
``endpoint:model`` block on the inputs of a run that has produced ``results/{modality}/normalised.h5ad``
and ``results/clinical/labels.tsv`` (every other setting is the schema default, the seed is the one the
``models_fit`` rule derives for that job), and prints the CPU seconds and the performance table of each
block. ``--save DIR`` writes every output table and the CPU seconds of each block under DIR;
``--compare DIR`` reads such a saved run (e.g. made before a change of engine), prints its CPU seconds
next to this run's with the speed-up, and the largest absolute difference of every numeric column of
every table (and whether the non-numeric columns are identical). ``--breakdown`` also splits each
block's CPU time into the compiled solvers, the fold preprocessing (prefilters, imputation, scaling),
the splitters, the metrics and the rest (Python around them), each counted exclusively, and counts the
solver calls (Cox and logistic paths).
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import io
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

STAGES = ("survival", "models", "biomarkers")
ROOT = Path(__file__).resolve().parents[1]
TABLES = ("performance", "oof", "permutations", "stability", "stability_summary", "coefficients")
DEFAULT_BLOCKS = "pfs:rna,os:proteins,responder:rna,clinical_benefit:proteins,pfs:joint,responder:joint"


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


def rules_report(run: Path) -> int:
    jobs = collect(run)
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


def schema_defaults(section: str) -> dict:
    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
    properties = schema["properties"]
    return {"seed": properties["seed"]["default"],
            **{key: spec.get("default") for key, spec in properties[section]["properties"].items()}}


def load_inputs(run: Path):
    """Patient annotations and the baseline matrix of every modality, as the models_fit rule reads them."""
    import anndata as ad

    from trialomics import tables
    from trialomics.readers import read_patients
    from trialomics.survival import baseline_matrix, patient_annotations

    demo = ROOT / "resources" / "demo"
    obs = patient_annotations(tables.read_tsv(run / "results" / "clinical" / "labels.tsv"),
                              read_patients(demo / "patients.tsv"))
    # Every block a model can read: the four modalities, their on-treatment changes and the pathway scores.
    matrices = {path.parent.name: baseline_matrix(ad.read_h5ad(path), path.parent.name)
                for path in sorted((run / "results").glob("*/normalised.h5ad"))}
    return obs, matrices


def run_block(obs, matrices, endpoint: str, model: str, settings: dict, n_jobs: int) -> tuple[dict, float]:
    from trialomics.models import fit_endpoint_model
    from trialomics.imputation import make_fold_imputer
    from trialomics.seeds import derive_seed

    models_config, proteins_config = schema_defaults("models"), schema_defaults("proteins")
    modalities = list(models_config["joint_modalities"]) if model == "joint" else [model]
    blocks = {m: matrices[m] for m in modalities}
    seed = derive_seed(models_config["seed"], "models_fit", endpoint, model)
    imputer = (make_fold_imputer(proteins_config["imputation"], seed,
                            downshift=proteins_config["imputation_downshift"],
                            width=proteins_config["imputation_width"]) if "proteins" in blocks else None)
    start = time.process_time()
    result = fit_endpoint_model(
        blocks, obs, endpoint, model, imputer=imputer, l1_ratio=models_config["l1_ratio"],
        n_alphas=models_config["n_alphas"], alpha_min_ratio=models_config["alpha_min_ratio"],
        inner_folds=models_config["inner_folds"], outer_cv=models_config["outer_cv"],
        outer_folds=models_config["outer_folds"], repeats=settings["repeats"],
        n_permutations=settings["permutations"],
        stability_subsamples=settings["stability"], stability_q=models_config["stability_q"],
        stability_threshold=models_config["stability_threshold"], max_missing=models_config["max_missing"],
        min_altered=models_config["min_altered"], min_altered_fraction=models_config["min_altered_fraction"],
        top_variance=models_config["top_variance"], select_k=models_config["select_k"],
        min_events=models_config["min_events"], min_per_class=models_config["min_per_class"], seed=seed,
        n_jobs=n_jobs)
    # With n_jobs > 1 the workers' CPU time is not counted here; compare at n_jobs = 1.
    return result, time.process_time() - start


@contextlib.contextmanager
def cpu_breakdown():
    """Exclusive CPU seconds per category of the engine's work and the number of calls, while active.

    Wraps the engine's functions in place (restored on exit); a wrapped call inside another counts
    for its own category only.
    """
    from trialomics import model_engine, model_paths, model_preprocess

    seconds, calls, stack = collections.defaultdict(float), collections.Counter(), []

    def timed(category, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            start = time.process_time()
            stack.append(0.0)
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.process_time() - start
                seconds[category] += elapsed - stack.pop()
                calls[category] += 1
                if stack:
                    stack[-1] += elapsed
        return wrapper

    replaced = [
        (model_paths, "elastic_net_cox_path", "solver: Cox path"), (model_paths, "l1_logistic_path", "solver: logistic path"),
        (model_preprocess.RowPreprocessing, "fit", "preprocessing"), (model_engine, "transform", "preprocessing"),
        (model_engine, "outer_splits", "splits"), (model_engine, "inner_splits", "splits"),
        (model_engine, "cox_log_partial_likelihood", "metrics"), (model_engine, "binomial_log_likelihood", "metrics"),
        (model_engine, "repeat_averaged_scores", "metrics")]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in replaced]
    for owner, name, category in replaced:
        setattr(owner, name, timed(category, getattr(owner, name)))
    try:
        yield seconds, calls
    finally:
        for owner, name, function in originals:
            setattr(owner, name, function)


def breakdown_line(cpu: float, seconds: dict, calls: dict) -> str:
    parts = [f"{category} {value:.1f}s ({100 * value / cpu:.0f}%)" for category, value in sorted(seconds.items())]
    rest = cpu - sum(seconds.values())
    counts = ", ".join(f"{calls[c]} {c.split(': ')[1]}s" for c in sorted(calls) if c.startswith("solver"))
    return f"  breakdown: {'; '.join(parts)}; rest {rest:.1f}s ({100 * rest / cpu:.0f}%)\n  solver calls: {counts}"


def table_differences(before: pd.DataFrame, after: pd.DataFrame) -> str:
    """Largest numeric difference over the columns both tables have (columns appended since are named)."""
    appended = list(after.columns[len(before.columns):])
    if len(before) != len(after) or list(before.columns) != list(after.columns[:len(before.columns)]):
        return f"shape/columns differ: {before.shape} vs {after.shape}"
    after = after[before.columns]
    worst, text_equal = 0.0, True
    for column in before.columns:
        a, b = before[column], after[column]
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
            x, y = a.to_numpy(dtype=np.float64), b.to_numpy(dtype=np.float64)
            if not np.array_equal(np.isnan(x), np.isnan(y)):
                return f"NaN pattern differs in {column}"
            both = ~np.isnan(x)
            if both.any():
                worst = max(worst, float(np.abs(x[both] - y[both]).max()))
        else:
            text_equal &= a.astype(str).equals(b.astype(str))
    new = f"; new columns: {', '.join(appended)}" if appended else ""
    return f"max |diff| {worst:.3g}, text columns {'identical' if text_equal else 'DIFFER'}{new}"


def blocks_report(args) -> int:
    from trialomics import tables
    from trialomics.runlog import limit_threads
    limit_threads(1)          # as in a models_fit job (threads: 1), whose BLAS runs on one thread

    obs, matrices = load_inputs(Path(args.run))
    settings = {"permutations": args.permutations, "repeats": args.repeats, "stability": args.stability}
    print(f"settings: {settings}, n_jobs {args.n_jobs}")
    rows = []
    pd.set_option("display.width", 200)
    for block in args.blocks.split(","):
        endpoint, model = block.split(":")
        with cpu_breakdown() if args.breakdown else contextlib.nullcontext((None, None)) as (seconds, calls):
            result, cpu = run_block(obs, matrices, endpoint, model, settings, args.n_jobs)
        row = {"block": block, "cpu_seconds": round(cpu, 2)}
        print(f"\n== {block}: {cpu:.2f} CPU-s")
        if args.breakdown and cpu > 0:
            print(breakdown_line(cpu, seconds, calls))
        print(result["performance"][["metric", "estimate", "ci_low", "ci_high", "permutation_p",
                                     "n_patients", "n_features", "note"]].to_string(index=False))
        if args.save:
            folder = Path(args.save) / block.replace(":", "_")
            folder.mkdir(parents=True, exist_ok=True)
            for name in TABLES:
                tables.write_tsv(result[name], folder / f"{name}.tsv")
            (folder / "cpu_seconds.txt").write_text(f"{cpu:.3f}\n")
        if args.compare:
            folder = Path(args.compare) / block.replace(":", "_")
            before_cpu = float((folder / "cpu_seconds.txt").read_text())
            row.update(before_cpu_seconds=round(before_cpu, 2), speed_up=round(before_cpu / cpu, 1))
            for name in TABLES:
                before = pd.read_csv(folder / f"{name}.tsv", sep="\t")
                after = pd.read_csv(_roundtrip(result[name]), sep="\t")
                print(f"  {name}: {table_differences(before, after)}")
        rows.append(row)
    summary = pd.DataFrame(rows)
    print()
    print(summary.to_string(index=False))
    if args.compare:
        total_before, total_after = summary["before_cpu_seconds"].sum(), summary["cpu_seconds"].sum()
        print(f"total: before {total_before:.1f} CPU-s, after {total_after:.1f} CPU-s, "
              f"speed-up {total_before / total_after:.1f}x")
    return 0


def _roundtrip(table: pd.DataFrame) -> io.StringIO:
    """The table as ``tables.write_tsv`` writes it, ready to be read back like the saved reference."""
    return io.StringIO(table.to_csv(sep="\t", index=False, na_rep="", lineterminator="\n"))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    rules = commands.add_parser("rules")
    rules.add_argument("run")
    blocks = commands.add_parser("blocks")
    blocks.add_argument("run")
    blocks.add_argument("--blocks", default=DEFAULT_BLOCKS)
    blocks.add_argument("--permutations", type=int, default=10)
    blocks.add_argument("--repeats", type=int, default=2)
    blocks.add_argument("--stability", type=int, default=10)
    blocks.add_argument("--n-jobs", type=int, default=1)
    blocks.add_argument("--save")
    blocks.add_argument("--compare")
    blocks.add_argument("--breakdown", action="store_true")
    args = parser.parse_args(argv[1:])
    if args.command == "rules":
        return rules_report(Path(args.run))
    return blocks_report(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
