"""Upstream tools' files read as they are: detection, one reader per format, and their bad versions."""
from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialomics import counts_readers, mutations, readers, upstream, upstream_rna
from trialomics.errors import InputProblem
from trialomics.text_tables import SampleColumnProblem

DATA = Path(__file__).resolve().parent / "data" / "upstream"


@pytest.mark.parametrize("name, expected", [
    ("salmon.merged.gene_counts.tsv", upstream.NFCORE_GENE_COUNTS),
    ("rsem.merged.gene_counts.tsv", upstream.NFCORE_GENE_COUNTS),
    ("salmon.merged.gene_tpm.tsv", upstream.NFCORE_TPM),
    ("all_thresholded.by_genes.txt", upstream.GISTIC_THRESHOLDED),
    ("all_data_by_genes.txt", upstream.GISTIC_DATA),
    ("BTC01.cnr", upstream.CNVKIT_BINS),
    ("BTC02.call.cns", upstream.CNVKIT_SEGMENTS),
    ("BTC03.genemetrics.tsv", upstream.CNVKIT_GENEMETRICS),
    ("olink_explore_NPX.csv", upstream.OLINK_NPX),
    ("olink_target96_NPX.csv", upstream.OLINK_NPX),
    ("proteinGroups.txt", upstream.MAXQUANT_PROTEIN_GROUPS),
    ("report.pg_matrix.tsv", upstream.DIANN_PG_MATRIX),
    ("gdc_somatic.maf.gz", upstream.MAF_GZ),
    ("vcf2maf.maf", None),
    ("gene_map.tsv", None),
])
def test_each_fixture_is_recognised_as_its_tool_wrote_it(name, expected):
    assert upstream.detect_format(DATA / name) == expected


# ---------------------------------------------------------------------------------------------- RNA

def test_salmon_counts_are_rounded_half_to_even_and_named_by_gene_name():
    counts = counts_readers.read_rna_counts(DATA / "salmon.merged.gene_counts.tsv", "BTC01-RNA")
    assert counts.dtype == np.int64 and counts.name == "BTC01-RNA"
    assert counts["TP53"] == 10  # 10.5 -> 10, as R's round()
    assert counts_readers.read_rna_counts(DATA / "salmon.merged.gene_counts.tsv", "BTC02-RNA")["TP53"] == 12
    tp53 = [counts_readers.read_rna_counts(DATA / "salmon.merged.gene_counts.tsv", f"BTC0{i}-RNA")["TP53"]
            for i in range(1, 7)]
    assert tp53 == [10, 12, 12, 13, 0, 2]


def test_genes_sharing_a_symbol_are_summed_before_rounding():
    counts = counts_readers.read_rna_counts(DATA / "salmon.merged.gene_counts.tsv", "BTC01-RNA")
    assert counts["CD99"] == 101  # 100.25 + 0.5 = 100.75 -> 101
    assert list(counts.index[:3]) == ["TP53", "CD99", "ENSG00000999999.1"]  # no name: kept by ID
    assert counts.index.is_unique and len(counts) == 203


def test_rsem_counts_have_no_names_and_keep_their_ids():
    counts = counts_readers.read_rna_counts(DATA / "rsem.merged.gene_counts.tsv", "BTC01-RNA")
    assert counts["ENSG00000141510"] == 10 and len(counts) == 201


def test_tpm_tables_are_refused_for_counts():
    with pytest.raises(InputProblem, match="TPM table") as error:
        counts_readers.read_rna_counts(DATA / "salmon.merged.gene_tpm.tsv", "BTC01-RNA")
    assert error.value.row == 1 and "gene_counts" in error.value.fix


def test_a_renamed_tpm_table_is_refused_by_its_column_sums(tmp_path):
    renamed = tmp_path / "counts.tsv"
    shutil.copy(DATA / "salmon.merged.gene_tpm.tsv", renamed)
    with pytest.raises(InputProblem, match="sums to one million"):
        counts_readers.read_rna_counts(renamed, "BTC01-RNA")


def test_merged_counts_need_the_sample_column(tmp_path):
    with pytest.raises(SampleColumnProblem, match="6 sample columns"):
        counts_readers.read_rna_counts(DATA / "salmon.merged.gene_counts.tsv")
    with pytest.raises(SampleColumnProblem, match="no sample 'BTC09-RNA'"):
        counts_readers.read_rna_counts(DATA / "salmon.merged.gene_counts.tsv", "BTC09-RNA")


def test_a_bad_estimated_count_is_located(tmp_path):
    bad = tmp_path / "salmon.merged.gene_counts.tsv"
    text = (DATA / "salmon.merged.gene_counts.tsv").read_text().replace("\t12.49\t", "\tabc\t", 1)
    bad.write_text(text)
    with pytest.raises(InputProblem) as error:
        counts_readers.read_rna_counts(bad, "BTC03-RNA")
    assert (error.value.row, error.value.column) == (2, "BTC03-RNA") and "'abc'" in error.value.message
    bad.write_text((DATA / "salmon.merged.gene_counts.tsv").read_text().replace("\t12.49\t", "\t-3\t", 1))
    with pytest.raises(InputProblem, match="negative") as error:
        counts_readers.read_rna_counts(bad, "BTC03-RNA")
    assert (error.value.row, error.value.column) == (2, "BTC03-RNA")


def test_ensembl_ids_map_to_symbols_through_a_user_table_and_unmapped_ids_stay():
    mapping = upstream_rna.read_gene_map(DATA / "gene_map.tsv")
    assert mapping["ENSG00000141510"] == "TP53"
    counts = pd.Series([5, 7, 1, 2], index=pd.Index(["ENSG00000141510.17", "ENSG00000002586.20",
                                                     "ENSG00000002586.20_PAR_Y", "ENSG00000000001.3"],
                                                    name="gene"), name="s1")
    mapped = upstream_rna.map_gene_ids(counts, mapping)
    assert mapped.to_dict() == {"TP53": 5, "CD99": 7, "ENSG00000002586.20_PAR_Y": 1,
                                "ENSG00000000001.3": 2}
    assert mapped.name == "s1" and mapped.index.name == "gene"


def test_a_gene_mapped_to_two_symbols_is_a_problem(tmp_path):
    table = tmp_path / "map.tsv"
    table.write_text("gene_id\tsymbol\nENSG00000141510.1\tTP53\nENSG00000141510.2\tTP63\n")
    with pytest.raises(InputProblem, match="mapped to 'TP53'") as error:
        upstream_rna.read_gene_map(table)
    assert (error.value.row, error.value.column) == (3, "symbol")


# ---------------------------------------------------------------------------------------- copy number

def test_gistic_annotation_columns_are_not_samples():
    calls = readers.read_feature_matrix(DATA / "all_thresholded.by_genes.txt")
    assert list(calls.columns) == [f"BTC0{i}-CN" for i in range(1, 7)]
    assert calls.loc["CDKN2A"].tolist() == [-2, -1, 0, 1, 2, 0]
    data = readers.read_feature_matrix(DATA / "all_data_by_genes.txt", column="BTC01-CN")
    assert data.loc["CDKN2A", "BTC01-CN"] == -1.2 and data.shape == (30, 1)


def test_a_gistic_thresholded_value_that_is_not_a_call_is_located(tmp_path):
    bad = tmp_path / "all_thresholded.by_genes.txt"
    lines = (DATA / "all_thresholded.by_genes.txt").read_text().splitlines()
    cells = lines[3].split("\t")
    cells[4] = "0.7"
    lines[3] = "\t".join(cells)
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputProblem, match="not a GISTIC2 call") as error:
        readers.read_feature_matrix(bad)
    assert (error.value.row, error.value.column) == (4, "BTC02-CN")


def test_cnvkit_gene_value_is_the_weighted_mean_of_its_bins_and_segments():
    bins = readers.read_feature_matrix(DATA / "BTC01.cnr")
    assert list(bins.columns) == ["BTC01"]
    assert bins.loc["CDKN2A", "BTC01"] == pytest.approx(-0.55)
    assert bins.loc["CDKN2B-AS1", "BTC01"] == pytest.approx(-0.4)  # from a comma-joined list
    assert not {"-", "Antitarget"} & set(bins.index)
    segments = readers.read_feature_matrix(DATA / "BTC02.call.cns")
    assert segments.loc["CDKN2A", "BTC02"] == pytest.approx(0.35)
    assert segments.loc["MTAP", "BTC02"] == pytest.approx(0.8)
    metrics = readers.read_feature_matrix(DATA / "BTC03.genemetrics.tsv")
    assert metrics.loc["CDKN2A", "BTC03"] == pytest.approx(-0.7) and metrics.shape == (30, 1)


def test_a_cnvkit_file_without_log2_is_a_problem(tmp_path):
    bad = tmp_path / "P9.cnr"
    bad.write_text("chromosome\tstart\tend\tgene\tdepth\tlog2\nchr1\t1\t2\tKRAS\t10\t\n")
    with pytest.raises(InputProblem, match="log2 ratio is empty") as error:
        readers.read_feature_matrix(bad)
    assert (error.value.row, error.value.column) == (2, "log2")


# ---------------------------------------------------------------------------------------------- proteins

def test_olink_explore_controls_qc_and_panels():
    npx = readers.read_proteins(DATA / "olink_explore_NPX.csv")
    assert list(npx.columns) == ["BTC01-PROT", "BTC02-PROT", "BTC03-PROT"]  # control samples dropped
    assert "Incubation control 1" not in npx.index and npx.index.is_unique and len(npx) == 15
    # IL6 is in two panels; the Inflammation copy carries AssayQC warnings, so Oncology's is kept
    explore = pd.read_csv(DATA / "olink_explore_NPX.csv", sep=";")
    oncology = explore[(explore["Assay"] == "IL6") & (explore["Panel"] == "Oncology")].set_index("SampleID")
    assert npx.at["IL6", "BTC01-PROT"] == oncology.at["BTC01-PROT", "NPX"]
    # BTC02's Oncology block failed sample QC: its values there are missing, the others are kept
    assert np.isnan(npx.at["IL6", "BTC02-PROT"]) and not np.isnan(npx.at["CXCL10", "BTC02-PROT"])


def test_olink_target96_decimal_commas_qc_warnings_and_lod_rules():
    path = DATA / "olink_target96_NPX.csv"
    npx = readers.read_proteins(path)
    assert list(npx.columns) == ["BTC04-PROT", "BTC05-PROT", "BTC06-PROT"]  # IPC dropped
    assert npx.at["CXCL9", "BTC04-PROT"] == 1.25  # below LOD 1.5, kept as measured (default)
    assert np.isnan(npx.at["IFNG", "BTC05-PROT"])  # QC_Warning
    from trialomics import upstream_proteins
    assert np.isnan(upstream_proteins.read_olink(path, lod="missing").at["CXCL9", "BTC04-PROT"])
    assert upstream_proteins.read_olink(path, lod="lod").at["CXCL9", "BTC04-PROT"] == 1.5
    assert not np.isnan(upstream_proteins.read_olink(path, qc="keep").at["IFNG", "BTC05-PROT"])


def test_olink_plate_median_centring_moves_each_plate_to_the_assay_median(tmp_path):
    from trialomics import upstream_proteins
    table = tmp_path / "npx.csv"
    rows = ["SampleID;OlinkID;UniProt;Assay;PlateID;NPX"]
    for sample, plate, value in [("a", "P1", 1.0), ("b", "P1", 3.0), ("c", "P2", 6.0), ("d", "P2", 8.0)]:
        rows.append(f"{sample};OID1;P05231;IL6;{plate};{value}")
    table.write_text("\n".join(rows) + "\n")
    centred = upstream_proteins.read_olink(table, plate="plate_median")
    # plate medians 2 and 7, overall median 4.5
    assert centred.loc["IL6"].tolist() == [3.5, 5.5, 3.5, 5.5]


def test_an_olink_sample_measured_twice_for_one_assay_is_a_problem(tmp_path):
    table = tmp_path / "npx.csv"
    table.write_text("SampleID;OlinkID;UniProt;Assay;NPX\ns1;OID1;P05231;IL6;1.0\ns1;OID1;P05231;IL6;2.0\n")
    with pytest.raises(InputProblem, match="twice") as error:
        readers.read_proteins(table)
    assert (error.value.row, error.value.column) == (3, "SampleID")


def test_olink_sample_column_selects_one_sample():
    npx = readers.read_proteins(DATA / "olink_target96_NPX.csv", "BTC06-PROT")
    assert list(npx.columns) == ["BTC06-PROT"]
    with pytest.raises(SampleColumnProblem, match="no SampleID 'BTC09-PROT'"):
        readers.read_proteins(DATA / "olink_target96_NPX.csv", "BTC09-PROT")


def test_olink_parquet_needs_pyarrow(tmp_path):
    parquet = tmp_path / "npx.parquet"
    parquet.write_bytes(b"PAR1" + b"\0" * 16)
    with pytest.raises(InputProblem, match="pyarrow"):
        readers.read_proteins(parquet)


def test_maxquant_flags_removed_genes_named_and_zero_missing():
    lfq = readers.read_proteins(DATA / "proteinGroups.txt")
    assert list(lfq.columns) == ["BTC01-PROT", "BTC02-PROT", "BTC03-PROT"]
    assert not {"FAKE1", "ALB", "SITE1"} & set(lfq.index)
    assert lfq.loc["TP53"].tolist()[0] == 1000.0 and np.isnan(lfq.at["TP53", "BTC02-PROT"])
    assert lfq.at["Q99999", "BTC01-PROT"] == 300.0  # no gene name: first majority protein ID
    assert lfq.index.is_unique and len(lfq) == 17


def test_diann_contaminants_removed_and_runs_named_by_file():
    pg = readers.read_proteins(DATA / "report.pg_matrix.tsv")
    assert list(pg.columns) == ["BTC04-PROT", "BTC05-PROT", "BTC06-PROT"]
    assert "ALB" not in pg.index
    assert pg.loc["IGF1R"].tolist()[0] == 10.0 and np.isnan(pg.at["IGF1R", "BTC05-PROT"])


def test_a_negative_intensity_is_located(tmp_path):
    bad = tmp_path / "report.pg_matrix.tsv"
    bad.write_text((DATA / "report.pg_matrix.tsv").read_text().replace("\t1500.0\t", "\t-1500.0\t", 1))
    with pytest.raises(InputProblem, match="negative") as error:
        readers.read_proteins(bad)
    assert error.value.row == 2 and error.value.column.endswith("BTC04-PROT.raw")


def test_a_file_of_another_modality_names_both(tmp_path):
    with pytest.raises(InputProblem, match=r"GISTIC2 .*\(copy_number data\).*modality is proteins"):
        readers.read_proteins(DATA / "all_data_by_genes.txt")
    with pytest.raises(InputProblem, match=r"MaxQuant .*\(proteins data\).*modality is copy_number"):
        readers.read_feature_matrix(DATA / "proteinGroups.txt")


def test_settings_that_do_not_fit_the_file_are_named():
    problem = upstream.setting_conflict(DATA / "olink_explore_NPX.csv", {"proteins": {"scale": "raw"}})
    assert "proteins.scale: log2" in problem.fix
    assert upstream.setting_conflict(DATA / "proteinGroups.txt", {"proteins": {"scale": "raw"}}) is None
    problem = upstream.setting_conflict(DATA / "all_thresholded.by_genes.txt",
                                        {"copy_number": {"values": "log2_ratio"}})
    assert "copy_number.values: calls" in problem.fix
    assert upstream.setting_conflict(DATA / "BTC01.cnr", {"copy_number": {"values": "log2_ratio"}}) is None


# ---------------------------------------------------------------------------------------------- MAF

def test_gzipped_gdc_maf_reads_as_its_uncompressed_self(tmp_path):
    plain = tmp_path / "gdc.maf"
    plain.write_bytes(gzip.decompress((DATA / "gdc_somatic.maf.gz").read_bytes()))
    zipped = readers.read_maf(DATA / "gdc_somatic.maf.gz", "BTC01-T")
    pd.testing.assert_frame_equal(zipped, readers.read_maf(plain, "BTC01-T"))
    assert len(zipped) == 5 and len(zipped.columns) == len(pd.read_csv(plain, sep="\t", comment="#").columns)


def test_tmb_counts_only_passing_variants_above_the_floors():
    mafs = {"BTC01-T": readers.read_maf(DATA / "gdc_somatic.maf.gz", "BTC01-T"),
            "BTC02-T": readers.read_maf(DATA / "gdc_somatic.maf.gz", "BTC02-T"),
            "BTC03-T": readers.read_maf(DATA / "vcf2maf.maf", "BTC03-T")}
    meta = pd.DataFrame({"patient_id": ["BTC01", "BTC02", "BTC03"], "batch": "", "timepoint": "baseline"},
                        index=pd.Index(list(mafs), name="sample_id"))
    plain = mutations.tumour_mutational_burden(mafs, meta, 40.0).set_index("sample_id")
    # BTC01: KRAS, TP53, BAP1 pass (ARID1A fails FILTER, SMAD4 is silent); "." passes for BTC03
    assert plain["nonsynonymous_count"].tolist() == [3, 2, 1]
    assert plain["filtered_rows"].tolist() == [1, 0, 0]
    floors = mutations.tumour_mutational_burden(mafs, meta, {"BTC01-T": 40.0, "BTC02-T": 20.0, "BTC03-T": 30.0},
                                                min_vaf=0.05, min_depth=10).set_index("sample_id")
    # BAP1 (VAF 0.04) and BTC02's KRAS (depth 8) drop out
    assert floors["nonsynonymous_count"].tolist() == [2, 1, 1]
    assert floors["tmb_per_mb"].tolist() == pytest.approx([2 / 40, 1 / 20, 1 / 30])
    adata = mutations.alteration_matrix(mafs, meta, {"BTC01-T": 40.0, "BTC02-T": 20.0, "BTC03-T": 30.0},
                                        min_vaf=0.05)
    assert "ARID1A" not in adata.var_names and "BAP1" not in adata.var_names
    assert adata.obs["capture_size_mb"].tolist() == [40.0, 20.0, 30.0]


def test_capture_size_per_sample_from_the_sample_sheet():
    sheet = pd.DataFrame({"capture_size_mb": ["38.5", ""]}, index=["s2", "s1"])
    assert mutations.capture_sizes_by_sample(sheet, 35.0) == {"s1": 35.0, "s2": 38.5}
    assert mutations.capture_sizes_by_sample(pd.DataFrame(index=["s1"]), 30.0) == {"s1": 30.0}
    with pytest.raises(ValueError, match="sample s1: capture_size_mb"):
        mutations.capture_sizes_by_sample(pd.DataFrame({"capture_size_mb": ["0"]}, index=["s1"]), 35.0)


def test_floors_need_read_counts():
    maf = pd.DataFrame({"Hugo_Symbol": ["KRAS"], "Variant_Classification": ["Missense_Mutation"]})
    with pytest.raises(ValueError, match="no t_depth column"):
        mutations.passing_variants(maf, "s1", min_depth=10)


def test_upstream_gene_symbols_get_the_same_name_checks(tmp_path):
    """A spreadsheet-mangled symbol in an nf-core matrix is refused as in our own formats."""
    from trialomics.errors import InputProblem
    from trialomics.counts_readers import read_rna_counts

    path = tmp_path / "salmon.merged.gene_counts.tsv"
    path.write_text("gene_id\tgene_name\tS1\nENSG00000000001.2\tTP53\t10.4\nENSG00000000002.1\t1-Mar\t3\n")
    with pytest.raises(InputProblem, match="1-Mar.*spreadsheet"):
        read_rna_counts(path, column="S1")
