"""Calibration of the whole workflow on null demo cohorts: what does it call when there is nothing to find?

    .venv/bin/python bench/null_cohorts.py [--seeds 101 ... 120] [--workdir DIR] [--cores 2]
        [--permutations 20] [--genes 5000] [--proteins 3000] [--patients 20]
        [--stage all|enrichment|calibration] [--model-block pfs:rna] [--planted]

``--stage calibration`` (minutes per cohort) builds only what the calibrated chain reads: the
normalised blocks, the pathway scores and the labels, then ``biomarkers/calibration.tsv`` and
``biomarkers/tier_null_rates.tsv`` (rule ``biomarkers_null``, default ``ranking`` settings: 100 joint
permutations). Then one model block per cohort (``--model-block ENDPOINT:MODALITY``, default
``pfs:rna``) is fitted here with ``trialomics.models.fit_endpoint_model`` at small settings (1 repeat,
``--permutations`` permutations, 2 stability subsamples). Printed per seed and pooled: whether some
primary-endpoint candidate has calibrated p < ``strong_p`` (the fraction of cohorts with one is an
upper bound on the fraction with a strong candidate: the ranking's other conditions, no separation
and a consistent direction, only remove candidates), the top candidate's calibrated p (deciles, KS test
against the uniform), the chain's own null rate of the strong tier, and the model's out-of-fold metric
with its interval (mean, spread, fraction of intervals covering 0.5).

For each seed S, ``scripts/make_demo_cohort.py --null`` writes a cohort whose outcomes are independent
of its omics into ``DIR/seed_S/inputs`` (skipped when that folder already holds a ``samples.tsv``, so
an interrupted benchmark resumes; delete ``DIR/seed_S`` to regenerate). The workflow then runs in
``DIR/seed_S`` with a config naming those inputs, the workflow seed S, the test suite's reduced
resampling (``--permutations`` per model, 2 repeats, 20 stability subsamples, 200
cut-point permutations; enrichment keeps its default permutations) and ``ranking.truth`` set to the
null ``truth.tsv``. Only the targets read here are built: the preranked enrichment tables, the model
performance tables and ``biomarkers/ranked.tsv`` (``--stage enrichment``: the enrichment tables
only, a few minutes per seed). Snakemake's output goes to ``DIR/seed_S/snakemake.log``.

Printed, per seed and pooled over seeds: gene sets with ``fdr`` < 0.05 and with ``camera_fdr`` < 0.05
in each prerank table (counts and names) and whether any table has one; unless ``--stage
enrichment``, the out-of-fold primary metric (C-index for pfs/os, AUC for responder/clinical_benefit)
of every model and its mean over models, the primary metric's permutation p-values (mean, fraction
< 0.05, Kolmogorov-Smirnov test against the uniform), the candidates in the ``strong`` tier and the
calibrated p of the primary endpoint's top candidate (``biomarkers/calibration.tsv``); pooled: the
fraction of cohorts with any strong candidate (target <= 5%) and the distribution of the top
calibrated p (uniform on {1..B+1}/(B+1) under the null: quantiles, fraction < 0.05, KS test).

``--planted`` runs the planted demo cohort of each seed instead (the generator without ``--null``) and
prints the recovery of its planted biomarkers (``biomarkers/recovery.tsv``: precision@10, programmes
leading top-10 signals) and the tier of every planted feature (target: precision@10 >= 0.8 and at
least one planted feature strong).
Nothing is asserted: the exit status is 0 unless a workflow run fails (then 1, after printing the
tail of its log and the figures of the seeds that finished).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import yaml
from scipy.stats import kstest
from trialomics import tables
from trialomics.models import PRIMARY_METRIC, fit_endpoint_model, task_of
from trialomics.readers import read_patients
from trialomics.survival import baseline_matrix, patient_annotations

ROOT = Path(__file__).resolve().parents[1]

SNAKEFILE = ROOT / "workflow" / "Snakefile"
GENERATOR = ROOT / "scripts" / "make_demo_cohort.py"
ENRICHMENT_MODALITIES = ("rna", "proteins")
CONTRASTS = ("responder", "clinical_benefit")
ENDPOINTS = ("pfs", "os", "responder", "clinical_benefit")
ALPHA = 0.05
STAGES = ("all", "enrichment", "calibration")
# The ranking's defaults (workflow/schemas/config.schema.yaml): the primary endpoint and the strong tier's p.
PRIMARY_ENDPOINT = "pfs"
STRONG_P = 0.05
CHANCE = 0.5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(101, 121)),
                        help="one null cohort per seed (also the workflow's seed)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="folder for the cohorts and runs (default: a new temporary folder, kept)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--permutations", type=int, default=20, help="models.permutations")
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--genes", type=int, default=5000,
                        help="RNA genes per cohort (the demo has 20000; fewer keeps a run to minutes)")
    parser.add_argument("--proteins", type=int, default=3000)
    parser.add_argument("--stage", choices=STAGES, default="all",
                        help="all: enrichment, models and ranking; enrichment: the prerank tables only; "
                             "calibration: the calibrated chain and one model block")
    parser.add_argument("--model-block", default="pfs:rna",
                        help="ENDPOINT:MODALITY of the model fitted per cohort in --stage calibration")
    parser.add_argument("--planted", action="store_true",
                        help="the planted demo cohort of each seed instead of the null one: recovery")
    return parser.parse_args(argv)


def generate_null_cohort(inputs: Path, seed: int, patients: int, genes: int, proteins: int,
                         planted: bool = False) -> None:
    """Write a ``--null`` (or, ``planted``, the planted) demo cohort into ``inputs`` unless a sample sheet
    is already there."""
    if (inputs / "samples.tsv").exists():
        print(f"  reusing the cohort in {inputs}")
        return
    command = [sys.executable, str(GENERATOR), "--out", str(inputs), "--patients", str(patients),
               "--genes", str(genes), "--proteins", str(proteins), "--seed", str(seed),
               *([] if planted else ["--null"])]
    subprocess.run(command, check=True, capture_output=True, text=True)


def write_null_config(run_dir: Path, inputs: Path, seed: int, permutations: int) -> Path:
    """The run's config: the cohort's inputs (absolute paths), seed, reduced resampling and the null truth."""
    config = {
        "samples": str(inputs / "samples.tsv"),
        "clinical": {
            "patients": str(inputs / "patients.tsv"),
            "recist": str(inputs / "recist.tsv"),
            "adverse_events": str(inputs / "adverse_events.tsv"),
        },
        "seed": seed,
        "models": {"permutations": permutations, "repeats": 2, "stability_subsamples": 20},
        "survival": {"cutpoint_permutations": 200},
        "ranking": {"truth": str(inputs / "truth.tsv")},
    }
    path = run_dir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def workflow_targets(stage: str = "all") -> list[str]:
    """The result files this benchmark reads (Snakemake builds what they need and nothing else)."""
    enrichment = [f"results/enrichment/{m}/{c}.prerank.tsv" for m in ENRICHMENT_MODALITIES for c in CONTRASTS]
    if stage == "enrichment":
        return enrichment
    if stage == "calibration":
        return ["results/biomarkers/calibration.tsv", "results/biomarkers/tier_null_rates.tsv"]
    return (enrichment + [f"results/models/{e}/performance.tsv" for e in ENDPOINTS]
            + ["results/biomarkers/ranked.tsv", "results/biomarkers/recovery.tsv"])


def run_workflow(run_dir: Path, configfile: Path, cores: int, stage: str = "all") -> bool:
    """Run Snakemake on the targets; its output goes to ``run_dir/snakemake.log``. True on success."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory", str(run_dir),
               "--configfile", str(configfile), "--cores", str(cores), *workflow_targets(stage)]
    env = dict(os.environ, PYTHONHASHSEED="0")
    log = run_dir / "snakemake.log"
    with log.open("w") as handle:
        result = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=run_dir)
    if result.returncode != 0:
        print(f"  workflow failed (exit {result.returncode}); end of {log}:")
        print("\n".join(log.read_text().splitlines()[-40:]))
    return result.returncode == 0


def enrichment_calls(run_dir: Path) -> pd.DataFrame:
    """Per prerank table: gene sets tested, with ``fdr`` < ALPHA and with ``camera_fdr`` < ALPHA
    (counts, then the names; a camera call carries its estimated inter-gene correlation)."""
    rows = []
    for modality in ENRICHMENT_MODALITIES:
        for contrast in CONTRASTS:
            table = tables.read_tsv(run_dir / "results" / "enrichment" / modality / f"{contrast}.prerank.tsv")
            fdr = pd.to_numeric(table["fdr"], errors="coerce")
            camera = pd.to_numeric(table["camera_fdr"], errors="coerce")
            correlation = pd.to_numeric(table["inter_gene_correlation"], errors="coerce")
            camera_called = table[camera < ALPHA]
            rows.append({"table": f"{modality}/{contrast}", "gene_sets": len(table),
                         "fdr_lt_05": int((fdr < ALPHA).sum()), "camera_fdr_lt_05": len(camera_called),
                         "fdr_sets": ";".join(table.loc[fdr < ALPHA, "gene_set"]),
                         "camera_sets": ";".join(f"{name} (rho {rho:.2f})" for name, rho in
                                                 zip(camera_called["gene_set"], correlation[camera < ALPHA]))})
    return pd.DataFrame(rows)


def model_performance(run_dir: Path) -> pd.DataFrame:
    """Every model's out-of-fold primary metric and its permutation p-value, one row per endpoint x model."""
    parts = []
    for endpoint in ENDPOINTS:
        table = tables.read_tsv(run_dir / "results" / "models" / endpoint / "performance.tsv")
        table = table[table["metric"] == PRIMARY_METRIC[task_of(endpoint)]]
        parts.append(pd.DataFrame({
            "endpoint": endpoint, "model": table["model"], "metric": table["metric"],
            "estimate": pd.to_numeric(table["estimate"], errors="coerce"),
            "permutation_p": pd.to_numeric(table["permutation_p"], errors="coerce")}))
    return pd.concat(parts, ignore_index=True)


def strong_candidates(run_dir: Path) -> int:
    """Candidates in the ``strong`` tier of ``biomarkers/ranked.tsv``."""
    ranked = tables.read_tsv(run_dir / "results" / "biomarkers" / "ranked.tsv")
    return int((ranked["tier"] == "strong").sum())


def top_calibrated_p(run_dir: Path, primary_endpoint: str = "pfs") -> float:
    """The smallest calibrated p of the primary endpoint's family (``biomarkers/calibration.tsv``)."""
    table = tables.read_tsv(run_dir / "results" / "biomarkers" / "calibration.tsv")
    return float(pd.to_numeric(table.loc[table["endpoint"] == primary_endpoint, "calibrated_p"]).min())


def calibration_figures(run_dir: Path) -> dict:
    """From ``biomarkers_null``'s tables: the primary endpoint's top candidate (calibrated p, feature) and
    the chain's own null rate of the strong tier in this cohort."""
    table = tables.read_tsv(run_dir / "results" / "biomarkers" / "calibration.tsv")
    primary = table[table["endpoint"] == PRIMARY_ENDPOINT]
    p_values = pd.to_numeric(primary["calibrated_p"])
    top = primary.loc[p_values.idxmin()]
    rates = tables.read_tsv(run_dir / "results" / "biomarkers" / "tier_null_rates.tsv").set_index("tier")
    return {"top_p": float(p_values.min()), "top_feature": f"{top['modality']}:{top['feature']}",
            "below_strong_p": int((p_values < STRONG_P).sum()),
            "strong_null_rate": float(rates.loc["strong", "null_rate"])}


def fit_model_block(run_dir: Path, inputs: Path, block: str, seed: int, permutations: int) -> dict:
    """The out-of-fold primary metric of one endpoint x modality model (``block`` as ENDPOINT:MODALITY)
    at small settings, its reported interval and whether that covers 0.5."""
    endpoint, modality = block.split(":")
    results = run_dir / "results"
    obs = patient_annotations(tables.read_tsv(results / "clinical" / "labels.tsv"),
                              read_patients(inputs / "patients.tsv"))
    values = baseline_matrix(ad.read_h5ad(results / modality / "normalised.h5ad"), modality)
    fitted = fit_endpoint_model({modality: values}, obs, endpoint, modality, repeats=1,
                                n_permutations=permutations, stability_subsamples=2, seed=seed)
    performance = fitted["performance"]
    row = performance[performance["metric"] == PRIMARY_METRIC[task_of(endpoint)]].iloc[0]
    low, high = float(row["ci_low"]), float(row["ci_high"])
    return {"metric": row["metric"], "estimate": float(row["estimate"]), "ci_low": low, "ci_high": high,
            "covers_chance": bool(low <= CHANCE <= high) if np.isfinite(low) and np.isfinite(high) else None,
            "permutation_p": float(row["permutation_p"]), "note": row["note"]}


def summarise_calibration(figures: dict[int, dict]) -> str:
    """Pooled over cohorts: primary-endpoint candidates below strong_p, the top calibrated p's deciles and
    KS test, the chain's strong null rates, and the one model block's metric and interval coverage."""
    seeds = sorted(figures)
    any_below = np.array([figures[s]["below_strong_p"] > 0 for s in seeds])
    top_p = pd.Series([figures[s]["top_p"] for s in seeds])
    deciles = np.quantile(top_p, np.linspace(0.1, 0.9, 9))
    lines = [(f"cohorts with a {PRIMARY_ENDPOINT} candidate at calibrated p < {STRONG_P:g}: "
              f"{int(any_below.sum())}/{len(seeds)} ({any_below.mean():.3f}; an upper bound on the strong rate; "
              f"target <= {ALPHA})"),
             "top calibrated p: " + summarise_top_p(top_p),
             "top calibrated p deciles (0.1 .. 0.9): " + ", ".join(f"{d:.2f}" for d in deciles),
             ("chain's own strong null rate per cohort (100 permutations): mean "
              f"{np.mean([figures[s]['strong_null_rate'] for s in seeds]):.3f}")]
    models = pd.DataFrame([figures[s]["model"] for s in seeds])
    evaluated = models[models["estimate"].notna()]
    if len(evaluated):
        covered = evaluated["covers_chance"].dropna().astype(bool)
        lines.append(
            f"model {evaluated['metric'].iloc[0]}: {len(evaluated)} evaluated of {len(models)}; mean "
            f"{evaluated['estimate'].mean():.3f}, sd {evaluated['estimate'].std():.3f}, median "
            f"{evaluated['estimate'].median():.3f}; mean interval width "
            f"{(evaluated['ci_high'] - evaluated['ci_low']).mean():.3f}; intervals covering {CHANCE}: "
            f"{int(covered.sum())}/{len(covered)} ({covered.mean():.3f}); permutation p < 0.05: "
            f"{int((evaluated['permutation_p'] < ALPHA).sum())}/{len(evaluated)}")
    return "\n".join(lines)


def planted_recovery(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(recovery metrics, the planted features with their rank and tier) of a planted run."""
    results = run_dir / "results" / "biomarkers"
    return tables.read_tsv(results / "recovery.tsv"), tables.read_tsv(results / "recovery_features.tsv")


def summarise_top_p(top_p: pd.Series) -> str:
    """Quantiles, fraction < 0.05 and a KS test against the uniform of the top candidates' calibrated p."""
    p = top_p.dropna().to_numpy(dtype=np.float64)
    if p.size == 0:
        return "no calibrated p-values"
    test = kstest(p, "uniform")
    quantiles = ", ".join(f"{q:.2f}: {v:.3f}" for q, v in zip((0.1, 0.25, 0.5, 0.75, 0.9),
                                                               np.quantile(p, (0.1, 0.25, 0.5, 0.75, 0.9))))
    return (f"{p.size} cohorts: quantiles {quantiles}; fraction < 0.05 {np.mean(p < ALPHA):.3f} "
            f"({int((p < ALPHA).sum())}); KS vs uniform D = {test.statistic:.3f}, p = {test.pvalue:.3g}")


def summarise_enrichment(calls: pd.DataFrame) -> str:
    """The calls per table, then whether any table has a call by each FDR."""
    any_fdr = bool((calls["fdr_lt_05"] > 0).any())
    any_camera = bool((calls["camera_fdr_lt_05"] > 0).any())
    return (calls.to_string(index=False)
            + f"\n  any table with fdr < 0.05: {'yes' if any_fdr else 'no'}; "
            f"with camera_fdr < 0.05: {'yes' if any_camera else 'no'}")


def summarise_metrics(performance: pd.DataFrame) -> str:
    """Primary metric per model (rows) and endpoint (columns), with the mean over models."""
    wide = performance.pivot(index="model", columns="endpoint", values="estimate").reindex(columns=ENDPOINTS)
    wide.loc["mean over models"] = wide.mean()
    evaluated = performance["estimate"].notna()
    return (wide.round(3).to_string()
            + f"\n  mean over all {int(evaluated.sum())} evaluated models: {performance['estimate'].mean():.3f}"
            + (f" ({int((~evaluated).sum())} not evaluated)" if (~evaluated).any() else ""))


def summarise_permutation_p(p_values: pd.Series) -> str:
    """Mean, fraction < 0.05 and a KS test against the uniform of the finite permutation p-values."""
    p = p_values.dropna().to_numpy(dtype=np.float64)
    if p.size == 0:
        return "no permutation p-values"
    test = kstest(p, "uniform")
    return (f"{p.size} p-values: mean {p.mean():.3f}, fraction < 0.05 {np.mean(p < ALPHA):.3f} "
            f"({int((p < ALPHA).sum())}), min {p.min():.3f}; KS vs uniform D = {test.statistic:.3f}, "
            f"p = {test.pvalue:.3g}")


def print_seed_summary(seed: int, calls: pd.DataFrame, performance: pd.DataFrame | None,
                       strong: int | None, top_p: float | None) -> None:
    print(f"\n=== seed {seed}")
    print("gene sets called (prerank):")
    print(summarise_enrichment(calls))
    if performance is None:
        return
    print("out-of-fold primary metric (C-index for pfs/os, AUC for responder/clinical_benefit):")
    print(summarise_metrics(performance))
    print("permutation p-values of the primary metric: " + summarise_permutation_p(performance["permutation_p"]))
    print(f"candidates in the strong tier: {strong}")
    print(f"calibrated p of the primary endpoint's top candidate: {top_p:.3f}")


def print_planted_summary(seed: int, recovery: pd.DataFrame, planted: pd.DataFrame) -> None:
    print(f"\n=== planted seed {seed}")
    print(recovery.to_string(index=False))
    print(planted[[c for c in ("modality", "feature", "programme", "rank", "tier") if c in planted]]
          .to_string(index=False))
    print(f"planted features in the strong tier: {int((planted['tier'] == 'strong').sum())}")


def print_pooled_summary(results: dict[int, dict]) -> None:
    seeds = sorted(results)
    print(f"\n=== pooled over seeds {', '.join(map(str, seeds))}")
    calls = pd.concat([results[s]["calls"].assign(seed=s) for s in seeds], ignore_index=True)
    per_table = calls.groupby("table", sort=False)[["gene_sets", "fdr_lt_05", "camera_fdr_lt_05"]].sum()
    print("gene sets called, summed over seeds:")
    print(per_table.to_string())
    seeds_any_fdr = calls.groupby("seed")["fdr_lt_05"].sum().gt(0).sum()
    seeds_any_camera = calls.groupby("seed")["camera_fdr_lt_05"].sum().gt(0).sum()
    print(f"  seeds with a call in any table: fdr {seeds_any_fdr}/{len(seeds)}, "
          f"camera_fdr {seeds_any_camera}/{len(seeds)}")
    if any(results[s]["performance"] is None for s in seeds):
        return
    performance = pd.concat([results[s]["performance"].assign(seed=s) for s in seeds], ignore_index=True)
    by_endpoint = performance.groupby("endpoint")["estimate"].agg(["mean", "std", "min", "max", "count"])
    print("out-of-fold primary metric over models and seeds, per endpoint:")
    print(by_endpoint.reindex(ENDPOINTS).round(3).to_string())
    print(f"  mean over all models and seeds: {performance['estimate'].mean():.3f}")
    print("permutation p-values of the primary metric: " + summarise_permutation_p(performance["permutation_p"]))
    strong = [results[s]["strong"] for s in seeds]
    print(f"candidates in the strong tier: {sum(strong)} in total ({', '.join(map(str, strong))} per seed)")
    print(f"cohorts with any strong candidate: {sum(s > 0 for s in strong)}/{len(seeds)} "
          f"({np.mean([s > 0 for s in strong]):.3f}; target <= {ALPHA})")
    print("calibrated p of the primary endpoint's top candidate: "
          + summarise_top_p(pd.Series([results[s]["top_p"] for s in seeds])))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="null_cohorts_"))).resolve()
    print(f"working in {workdir}")
    results, failed = {}, []
    for seed in args.seeds:
        run_dir = workdir / f"seed_{seed}"
        inputs = run_dir / "inputs"
        run_dir.mkdir(parents=True, exist_ok=True)
        print(f"seed {seed}:")
        start = time.monotonic()
        generate_null_cohort(inputs, seed, args.patients, args.genes, args.proteins, planted=args.planted)
        configfile = write_null_config(run_dir, inputs, seed, args.permutations)
        if not run_workflow(run_dir, configfile, args.cores, args.stage):
            failed.append(seed)
            continue
        print(f"  done in {(time.monotonic() - start) / 60:.1f} min")
        if args.stage == "calibration":
            figures = calibration_figures(run_dir)
            figures["model"] = fit_model_block(run_dir, inputs, args.model_block, seed, args.permutations)
            print(f"  top {PRIMARY_ENDPOINT} candidate {figures['top_feature']}: calibrated p "
                  f"{figures['top_p']:.3f} ({figures['below_strong_p']} below {STRONG_P:g}); "
                  f"{args.model_block} {figures['model']['metric']} {figures['model']['estimate']:.3f} "
                  f"[{figures['model']['ci_low']:.3f}, {figures['model']['ci_high']:.3f}] "
                  f"{figures['model']['note']}", flush=True)
            results[seed] = figures
            continue
        whole = args.stage == "all"
        results[seed] = {"calls": enrichment_calls(run_dir),
                         "performance": model_performance(run_dir) if whole else None,
                         "strong": strong_candidates(run_dir) if whole else None,
                         "top_p": top_calibrated_p(run_dir) if whole else None,
                         "planted": planted_recovery(run_dir) if whole and args.planted else None}
    pd.set_option("display.width", 160)
    pd.set_option("display.max_colwidth", None)
    if args.stage == "calibration":
        if results:
            print(f"\n=== pooled over seeds {', '.join(map(str, sorted(results)))}")
            print(summarise_calibration(results))
        if failed:
            print(f"\nworkflow failed for seeds {', '.join(map(str, failed))}")
        return 1 if failed else 0
    for seed, figures in results.items():
        print_seed_summary(seed, figures["calls"], figures["performance"], figures["strong"], figures["top_p"])
        if figures["planted"] is not None:
            print_planted_summary(seed, *figures["planted"])
    if results and not args.planted:
        print_pooled_summary(results)
    if failed:
        print(f"\nworkflow failed for seeds {', '.join(map(str, failed))}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
