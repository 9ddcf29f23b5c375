"""End to end: a cohort whose sample sheet points at upstream tools' files as they wrote them.

Two small runs on demo patients BTC01-BTC06, up to the per-modality ``normalised.h5ad`` and
``cohort/cohort.h5mu`` only: one with log2-ratio copy number and raw-intensity proteins (CNVkit,
GISTIC2 all_data, MaxQuant, DIA-NN, salmon counts, gzipped GDC and vcf2maf MAFs), one with calls and
NPX (GISTIC2 thresholded, Olink Explore and Target 96, RSEM counts).
"""
from __future__ import annotations

from pathlib import Path

import anndata as ad
import mudata as md
import pandas as pd
import pytest
from conftest import DEMO, run_snakemake, write_config

DATA = Path(__file__).resolve().parent / "data" / "upstream"
PATIENTS = [f"BTC0{i}" for i in range(1, 7)]
TARGETS = [f"results/{m}/normalised.h5ad" for m in ("rna", "copy_number", "proteins", "mutations")]


def _run(workdir, rows, settings, targets):
    sheet = pd.DataFrame(rows, columns=["sample_id", "patient_id", "modality", "path", "column",
                                        "capture_size_mb"])
    sheet.to_csv(workdir / "samples.tsv", sep="\t", index=False)
    config = {"samples": str(workdir / "samples.tsv"),
              "clinical": {"patients": str(DEMO / "patients.tsv"), "recist": str(DEMO / "recist.tsv")},
              **settings}
    result = run_snakemake(workdir, write_config(workdir, config), *targets, "results/cohort/cohort.h5mu")
    assert result.returncode == 0, result.stderr[-5000:]


@pytest.mark.e2e
def test_cnvkit_gistic_maxquant_diann_salmon_and_gdc_maf_run_as_written(tmp_path):
    rows = []
    for index, patient in enumerate(PATIENTS):
        rows.append([f"{patient}-RNA", patient, "rna", DATA / "salmon.merged.gene_counts.tsv", f"{patient}-RNA", ""])
        cnvkit = ["BTC01.cnr", "BTC02.call.cns", "BTC03.genemetrics.tsv"]
        rows.append([f"{patient}-CN", patient, "copy_number",
                     DATA / cnvkit[index] if index < 3 else DATA / "all_data_by_genes.txt",
                     "" if index < 3 else f"{patient}-CN", ""])
        rows.append([f"{patient}-PROT", patient, "proteins",
                     DATA / ("proteinGroups.txt" if index < 3 else "report.pg_matrix.tsv"), f"{patient}-PROT", ""])
        rows.append([f"{patient}-T", patient, "mutations",
                     DATA / ("gdc_somatic.maf.gz" if index < 2 else "vcf2maf.maf"), f"{patient}-T",
                     "30" if index == 0 else ""])
    _run(tmp_path, rows, {"mutations": {"min_depth": 10}}, TARGETS)

    rna = ad.read_h5ad(tmp_path / "results/rna/normalised.h5ad")
    assert sorted(rna.obs_names) == [f"{p}-RNA" for p in PATIENTS]
    counts = pd.read_csv(tmp_path / "results/rna/counts.tsv", sep="\t", index_col=0)
    assert counts.loc["TP53"].tolist() == [10, 12, 12, 13, 0, 2] and counts.loc["CD99", "BTC01-RNA"] == 101
    copy_number = ad.read_h5ad(tmp_path / "results/copy_number/normalised.h5ad")
    assert sorted(copy_number.obs_names) == [f"{p}-CN" for p in PATIENTS]
    assert "CDKN2A" in copy_number.var_names and "Cytoband" not in copy_number.var_names
    proteins = ad.read_h5ad(tmp_path / "results/proteins/normalised.h5ad")
    assert sorted(proteins.obs_names) == [f"{p}-PROT" for p in PATIENTS]
    assert "IL6" in proteins.var_names and not {"ALB", "FAKE1"} & set(proteins.var_names)
    tmb = pd.read_csv(tmp_path / "results/mutations/tmb.tsv", sep="\t", index_col="sample_id")
    # BTC01: 3 PASS non-synonymous over its own 30 Mb; BTC02's KRAS is below the depth floor
    assert tmb.loc["BTC01-T", "nonsynonymous_count"] == 3 and tmb.loc["BTC01-T", "capture_size_mb"] == 30
    assert tmb.loc["BTC02-T", "capture_size_mb"] == 35.0
    cohort = md.read_h5mu(tmp_path / "results/cohort/cohort.h5mu")
    assert {"rna", "copy_number", "proteins", "mutations"} <= set(cohort.mod)


@pytest.mark.e2e
def test_gistic_calls_olink_exports_and_rsem_counts_run_as_written(tmp_path):
    rows = []
    for index, patient in enumerate(PATIENTS):
        rows.append([f"{patient}-RNA", patient, "rna", DATA / "rsem.merged.gene_counts.tsv", f"{patient}-RNA", ""])
        rows.append([f"{patient}-CN", patient, "copy_number", DATA / "all_thresholded.by_genes.txt",
                     f"{patient}-CN", ""])
        rows.append([f"{patient}-PROT", patient, "proteins",
                     DATA / ("olink_explore_NPX.csv" if index < 3 else "olink_target96_NPX.csv"),
                     f"{patient}-PROT", ""])
    _run(tmp_path, rows, {"copy_number": {"values": "calls"}, "proteins": {"scale": "log2"}}, TARGETS[:3])

    calls = pd.read_csv(tmp_path / "results/copy_number/calls.tsv", sep="\t")
    assert not calls.empty
    copy_number = ad.read_h5ad(tmp_path / "results/copy_number/normalised.h5ad")
    assert "CDKN2A" in copy_number.var_names
    proteins = ad.read_h5ad(tmp_path / "results/proteins/normalised.h5ad")
    assert sorted(proteins.obs_names) == [f"{p}-PROT" for p in PATIENTS]
    assert proteins.var_names.is_unique and "IL6" in proteins.var_names
    assert "Incubation control 1" not in proteins.var_names
    cohort = md.read_h5mu(tmp_path / "results/cohort/cohort.h5mu")
    assert {"rna", "copy_number", "proteins"} <= set(cohort.mod)


@pytest.mark.e2e
def test_a_setting_that_does_not_fit_the_file_stops_the_run_before_any_job(tmp_path):
    rows = [[f"{p}-PROT", p, "proteins", DATA / "olink_target96_NPX.csv", f"{p}-PROT", ""] for p in PATIENTS[3:]]
    sheet = pd.DataFrame(rows, columns=["sample_id", "patient_id", "modality", "path", "column",
                                        "capture_size_mb"])
    sheet.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    config = {"samples": str(tmp_path / "samples.tsv"), "clinical": {"patients": str(DEMO / "patients.tsv")}}
    result = run_snakemake(tmp_path, write_config(tmp_path, config), "--dry-run")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "olink_target96_NPX.csv" in output and "proteins.scale: log2" in output


@pytest.mark.e2e
def test_ensembl_count_files_take_symbols_from_the_users_gene_map(tmp_path):
    """rna.gene_map: per-sample count files keyed by versioned Ensembl IDs become gene symbols."""
    mapping = {"ENSG00000075624": "ACTB", "ENSG00000163017": "ACTG2", "ENSG00000107796": "ACTA2"}
    (tmp_path / "gene_map.tsv").write_text("gene_id\tsymbol\n" + "".join(f"{k}\t{v}\n" for k, v in mapping.items()))
    source = (DEMO / "rna" / "BTC01-RNA.counts.tsv").read_text().splitlines()
    by_symbol = {v: k for k, v in mapping.items()}
    lines = [f"{by_symbol[g]}.7\t{c}" if g in by_symbol else f"{g}\t{c}"
             for g, c in (line.split("\t") for line in source)]
    (tmp_path / "ensembl.counts.tsv").write_text("\n".join(lines) + "\n")
    target = "results/rna/samples"
    pd.DataFrame([["BTC01-RNA", "BTC01", "rna", tmp_path / "ensembl.counts.tsv", ""]],
                 columns=["sample_id", "patient_id", "modality", "path", "column"]).to_csv(
        tmp_path / "samples.tsv", sep="\t", index=False)
    config = {"samples": str(tmp_path / "samples.tsv"),
              "clinical": {"patients": str(DEMO / "patients.tsv"), "recist": str(DEMO / "recist.tsv")},
              "rna": {"gene_map": str(tmp_path / "gene_map.tsv")}}
    result = run_snakemake(tmp_path, write_config(tmp_path, config), target)
    assert result.returncode == 0, result.stderr[-5000:]
    ingested = pd.read_csv(tmp_path / target / "BTC01-RNA.tsv", sep="\t", index_col=0).iloc[:, 0]
    expected = dict(line.split("\t") for line in source)
    for symbol in mapping.values():
        assert ingested[symbol] == int(expected[symbol])
    assert not any(str(gene).startswith("ENSG") for gene in ingested.index)
