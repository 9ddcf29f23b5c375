"""End to end: the demo DAG in a temporary directory, checked by content."""
from __future__ import annotations

import hashlib
import re

import anndata as ad
import mudata as md
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import DEMO, ROOT, demo_config, minimal_demo_config, run_snakemake

pytestmark = pytest.mark.e2e

NONSYNONYMOUS = {"Missense_Mutation", "Nonsense_Mutation", "Nonstop_Mutation", "Frame_Shift_Del",
                 "Frame_Shift_Ins", "In_Frame_Del", "In_Frame_Ins", "Splice_Site", "Translation_Start_Site"}


def demo_samples() -> pd.DataFrame:
    return pd.read_csv(DEMO / "samples.tsv", sep="\t", dtype=str, keep_default_na=False)


def test_samples_object_holds_every_sample_with_its_labels(demo_run):
    samples_object = md.read_h5mu(demo_run / "results/cohort/samples.h5mu")
    assert set(samples_object.mod) >= {"mutations", "copy_number", "rna", "proteins"}
    samples = demo_samples()
    for modality in ("mutations", "copy_number", "rna", "proteins"):
        adata = samples_object.mod[modality]
        expected = set(samples.loc[samples["modality"] == modality, "sample_id"])
        assert set(adata.obs_names) == expected
        for column in ("patient_id", "bor", "responder", "pfs_months", "os_months"):
            assert column in adata.obs.columns, (modality, column)
    labels = pd.read_csv(demo_run / "results/clinical/labels.tsv", sep="\t", dtype=str, keep_default_na=False)
    joined = samples_object.mod["rna"].obs.merge(labels, on="patient_id", suffixes=("", "_label"))
    assert (joined["bor"] == joined["bor_label"]).all()


def test_cohort_object_is_aligned_by_patient(demo_run):
    """cohort.h5mu: obs = patients, each modality holds the patient's baseline sample, labels shared."""
    cohort = md.read_h5mu(demo_run / "results/cohort/cohort.h5mu")
    assert set(cohort.mod) >= {"mutations", "copy_number", "rna", "proteins"}
    patients = set(pd.read_csv(DEMO / "patients.tsv", sep="\t", dtype=str)["patient_id"])
    without = set(cohort.uns.get("patients_without_omics", []))
    assert set(cohort.obs_names) == patients - without
    samples = demo_samples()
    for modality in ("mutations", "copy_number", "rna", "proteins"):
        adata = cohort.mod[modality]
        baseline = samples[(samples["modality"] == modality) & (samples["timepoint"] == "baseline")]
        assert set(adata.obs_names) == set(baseline["patient_id"])
        assert set(adata.obs["sample_id"]) == set(baseline["sample_id"])
    labels = pd.read_csv(demo_run / "results/clinical/labels.tsv", sep="\t", dtype=str,
                         keep_default_na=False).set_index("patient_id")
    shared = cohort.obs["bor"].astype(str)
    assert (shared == labels.loc[shared.index, "bor"]).all()


def test_coverage_lists_every_patient(demo_run):
    coverage = pd.read_csv(demo_run / "results/cohort/coverage.tsv", sep="\t", dtype=str)
    patients = pd.read_csv(DEMO / "patients.tsv", sep="\t", dtype=str)
    assert len(coverage) == 20
    assert sorted(coverage["patient_id"]) == sorted(patients["patient_id"])
    samples = demo_samples()
    for modality in ("mutations", "copy_number", "rna", "proteins"):
        have = set(samples.loc[samples["modality"] == modality, "patient_id"])
        expected = ["yes" if p in have else "no" for p in coverage["patient_id"]]
        assert coverage[modality].tolist() == expected, modality


def test_tmb_is_nonsynonymous_count_per_mb(demo_run):
    tmb = pd.read_csv(demo_run / "results/mutations/tmb.tsv", sep="\t", dtype={"sample_id": str, "patient_id": str})
    samples = demo_samples()
    mutation_samples = samples[samples["modality"] == "mutations"]
    assert len(tmb) == len(mutation_samples)
    for row in mutation_samples.itertuples():
        maf = pd.read_csv(DEMO / row.path, sep="\t", comment="#", dtype=str)
        if row.column:
            maf = maf[maf["Tumor_Sample_Barcode"] == row.column]
        keys = ["Hugo_Symbol", "Chromosome", "Start_Position", "Reference_Allele", "Tumor_Seq_Allele2"]
        count = len(maf[maf["Variant_Classification"].isin(NONSYNONYMOUS)].drop_duplicates(subset=keys))
        got = tmb.set_index("sample_id").loc[row.sample_id]
        assert got["nonsynonymous_count"] == count
        assert got["tmb_per_mb"] == pytest.approx(count / 35.0)


def test_size_factors_match_independent_median_of_ratios(demo_run):
    rna = ad.read_h5ad(demo_run / "results/rna/normalised.h5ad")
    counts = np.asarray(rna.layers["raw"], dtype=float)
    # DESeq2: geometric mean per gene over genes with no zero, then per-sample median of ratios.
    usable = (counts > 0).all(axis=0)
    log_counts = np.log(counts[:, usable])
    log_geomeans = log_counts.mean(axis=0)
    expected = np.exp(np.median(log_counts - log_geomeans, axis=1))
    np.testing.assert_allclose(rna.obs["size_factor"].to_numpy(), expected, rtol=1e-6)
    table = pd.read_csv(demo_run / "results/rna/size_factors.tsv", sep="\t", dtype={"sample_id": str})
    np.testing.assert_allclose(table.set_index("sample_id").loc[rna.obs_names, "size_factor"], expected, rtol=1e-6)


def test_rna_counts_come_from_the_sample_files(demo_run):
    counts = pd.read_csv(demo_run / "results/rna/counts.tsv", sep="\t", index_col=0)
    samples = demo_samples()
    first = samples[samples["modality"] == "rna"].iloc[0]
    raw = pd.read_csv(DEMO / first["path"], sep="\t", header=None, names=["gene", "count"], dtype={"gene": str})
    raw = raw[~raw["gene"].str.startswith("__")].set_index("gene")["count"]
    pd.testing.assert_series_equal(counts[first["sample_id"]].sort_index(), raw.sort_index(), check_names=False)
    assert counts.shape[0] >= 15000


def test_every_rule_has_log_and_benchmark(demo_run):
    assert any((demo_run / "benchmarks").rglob("*.tsv"))
    assert any((demo_run / "logs").rglob("*.log"))


# Tables recomputed from scratch in a second directory and compared byte for byte with the first run.
# (The RNA differential fits are left out to keep CI short; their inputs are covered.)
DETERMINISM_TARGETS = [
    "results/clinical/labels.tsv", "results/clinical/efficacy.tsv", "results/clinical/adverse_events.tsv",
    "results/mutations/tmb.tsv", "results/mutations/alterations.tsv", "results/copy_number/calls.tsv",
    "results/rna/size_factors.tsv", "results/rna/counts.tsv", "results/proteins/missingness.tsv",
    "results/cohort/coverage.tsv", "results/qc/proteins/outliers.tsv", "results/qc/rna/pca.tsv",
    "results/differential/proteins/responder.tsv", "results/differential/mutations/responder.tsv",
    "results/differential/copy_number/responder.tsv", "results/enrichment/proteins/responder.prerank.tsv",
    "results/models/responder/proteins.performance.tsv", "results/models/responder/proteins.stability.tsv",
]


def test_tables_are_deterministic(demo_run, tmp_path):
    configfile = demo_config(tmp_path)
    result = run_snakemake(tmp_path, configfile, *DETERMINISM_TARGETS)
    assert result.returncode == 0, result.stderr[-3000:]
    digest = lambda path: hashlib.sha256(path.read_bytes()).hexdigest()  # noqa: E731
    changed = [t for t in DETERMINISM_TARGETS if digest(tmp_path / t) != digest(demo_run / t)]
    assert not changed


def test_bad_input_stops_before_any_job(tmp_path):
    samples = demo_samples()
    samples.loc[0, "patient_id"] = "NOT_A_PATIENT"
    samples["path"] = [str(DEMO / p) for p in samples["path"]]
    samples.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    configfile = minimal_demo_config(tmp_path, samples=str(tmp_path / "samples.tsv"))
    result = run_snakemake(tmp_path, configfile)
    assert result.returncode != 0
    assert "NOT_A_PATIENT" in result.stderr and "samples.tsv" in result.stderr
    assert not (tmp_path / "results").exists()


def test_demo_config_dry_run():
    result = run_snakemake(ROOT, ROOT / "config" / "config.yaml", "--dry-run", "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]


def test_tables_hold_no_absolute_paths(demo_run):
    for table in (demo_run / "results").rglob("*.tsv"):
        text = table.read_text()
        assert str(demo_run) not in text and str(ROOT) not in text, table


def test_snakemake_report_builds(demo_run):
    result = run_snakemake(demo_run, demo_run / "config.yaml", "--report", "report.html")
    assert result.returncode == 0, result.stderr[-3000:]
    html = (demo_run / "report.html").read_text(errors="replace")
    assert "Clinical" in html and "Differential" in html


def test_planted_programme_leads_the_differential_and_enrichment_results(demo_run):
    truth = pd.read_csv(DEMO / "truth.tsv", sep="\t")
    rna = pd.read_csv(demo_run / "results/differential/rna/responder.tsv", sep="\t").sort_values("pvalue")
    planted_rna = set(truth.loc[truth["modality"] == "rna", "feature"])
    assert len(planted_rna & set(rna["feature"].head(20))) >= 8, rna.head(20)
    proteins = pd.read_csv(demo_run / "results/differential/proteins/responder.tsv", sep="\t").sort_values("pvalue")
    assert set(proteins["feature"].head(2)) == {"CXCL9", "CXCL10"}
    assert (proteins["padj"].head(2) < 0.05).all()
    # The planted programme's curated signatures are enriched, up in responders, by the correlation-
    # adjusted test (the significance call the ranking uses).
    enrichment = pd.read_csv(demo_run / "results/enrichment/rna/responder.prerank.tsv", sep="\t")
    called = enrichment[(enrichment["camera_fdr"] < 0.05) & (enrichment["nes"] > 0)]
    assert {"IFNG_6GENE_AYERS2017", "TCELL_INFLAMED_GEP_AYERS2017"} <= set(called["gene_set"]), enrichment


def test_planted_biomarkers_lead_the_ranking(demo_run):
    ranked = pd.read_csv(demo_run / "results/biomarkers/ranked.tsv", sep="\t", dtype=str)
    truth = pd.read_csv(DEMO / "truth.tsv", sep="\t")
    planted = set(zip(truth["modality"], truth["feature"]))
    top = ranked.head(10)
    hits = [pair for pair in zip(top["modality"], top["feature"]) if pair in planted]
    # The chemokine proteins are the strongest planted protein signal: both must be in the top 10.
    assert {("proteins", "CXCL9"), ("proteins", "CXCL10")} <= set(zip(top["modality"], top["feature"]))
    assert len(hits) >= 6, top[["modality", "feature", "tier"]]
    recovery = pd.read_csv(demo_run / "results/biomarkers/recovery.tsv", sep="\t").set_index("metric")
    assert recovery.loc["precision_at_k", "value"] == pytest.approx(len(hits) / 10)


def test_correlated_planted_features_form_one_signal_and_other_programmes_lead_their_own(demo_run):
    ranked = pd.read_csv(demo_run / "results/biomarkers/ranked.tsv", sep="\t", dtype=str, keep_default_na=False)
    truth = pd.read_csv(DEMO / "truth.tsv", sep="\t")
    signal_of = dict(zip(zip(ranked["modality"], ranked["feature"]), ranked["signal"]))
    immune = truth[truth["programme"] == "ifng_tcell_inflamed"]
    immune_signals = pd.Series([signal_of[p] for p in zip(immune["modality"], immune["feature"])]).value_counts()
    # The immune programme (12 transcripts, 2 proteins) is one signal, led by the top candidate.
    assert immune_signals.index[0] == f"{ranked.loc[0, 'modality']}:{ranked.loc[0, 'feature']}"
    assert immune_signals.iloc[0] >= 10, immune_signals
    assert ranked.loc[0, "signal_rank"] == "1"
    recovery = pd.read_csv(demo_run / "results/biomarkers/recovery.tsv", sep="\t").set_index("metric")
    # Besides the immune programme at least one other planted programme leads a top-10 signal (5 planted
    # programmes: immune, early on-treatment change, KRAS, TMB, 9p21). In the committed demo that is the
    # early change; KRAS, TMB and the 9p21 deletion lead signals ranked 21-48 since the calibrated tiers
    # (see the session notes): 2 of 5.
    truth_programmes = truth["programme"].nunique()
    assert recovery.loc["programmes_leading_signals", "value"] >= 2 / truth_programmes - 1e-9
    features = pd.read_csv(demo_run / "results/biomarkers/recovery_features.tsv", sep="\t")
    assert {"signal", "signal_rank"} <= set(features.columns)


def test_models_report_out_of_fold_performance_with_intervals(demo_run):
    for endpoint in ("pfs", "os", "responder", "clinical_benefit"):
        performance = pd.read_csv(demo_run / f"results/models/{endpoint}/performance.tsv", sep="\t")
        assert {"model", "metric", "estimate", "ci_low", "ci_high", "permutation_p", "seed"} <= set(performance.columns)
        primary = performance.dropna(subset=["estimate"])
        assert (primary["ci_low"] <= primary["estimate"]).all() and (primary["estimate"] <= primary["ci_high"]).all()
        n_permutations = yaml.safe_load((demo_run / "config.yaml").read_text())["models"]["permutations"]
        smallest = 1 / (n_permutations + 1)
        assert primary["permutation_p"].between(smallest - 1e-12, 1).all()


def test_summary_page_is_built(demo_run):
    html = (demo_run / "results/report/summary.html").read_text()
    for section in ("cohort", "efficacy", "safety", "differential", "enrichment", "models", "biomarkers", "provenance"):
        assert f'id="{section}"' in html, section
    assert "http://" not in html.replace("http://www.w3.org", "")


def test_no_job_log_carries_a_library_warning(demo_run):
    """A library's warning in a job log (runlog routes them through logging as ``py.warnings``) is either a
    problem to fix or a known, documented condition to silence where it arises: reviewers read these logs."""
    warned = {str(path.relative_to(demo_run)): [line for line in path.read_text().splitlines() if "py.warnings" in line]
              for path in (demo_run / "logs").rglob("*.log")}
    assert {path: lines for path, lines in warned.items() if lines} == {}


def test_every_job_logs_its_exact_cpu_time_and_memory(demo_run):
    """runlog's start line and, at exit, its resources line (Snakemake's benchmark cpu_time is sampled)."""
    started = [path for path in (demo_run / "logs").rglob("*.log")
               if re.match(r"INFO \w+: trialomics \S+ from ", path.read_text())]
    # every job of the demo but the target rule `all` runs an adapter script
    assert len(started) == len(list((demo_run / "benchmarks").rglob("*.tsv"))) > 90
    for path in started:
        lines = [line for line in path.read_text().splitlines() if ": job resources: " in line]
        assert len(lines) == 1, path
        cpu = float(lines[0].split(": job resources: ")[1].split(" CPU-s")[0])
        assert cpu > 0.1, path
