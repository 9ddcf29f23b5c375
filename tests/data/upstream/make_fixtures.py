"""Write the upstream-format fixtures of tests/test_upstream*.py (run once; the outputs are committed).

Each file copies the header and conventions of its tool's own output (sources in config/README.md,
"Accepted formats"). The first rows of each file are hand-written cases with known answers that
tests/test_upstream.py checks; the rest are seeded filler so that the end-to-end run has enough
features. Samples belong to demo patients BTC01-BTC06.

    .venv/bin/python tests/data/upstream/make_fixtures.py
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 20260130
PATIENTS = [f"BTC0{i}" for i in range(1, 7)]
GENES = ["TP53", "KRAS", "CDKN2A", "ERBB2", "MYC", "PTEN", "SMAD4", "ARID1A", "BAP1", "IDH1",
         "FGFR2", "CCND1", "MDM2", "EGFR", "CD274", "PDCD1LG2", "JAK2", "STK11", "KEAP1", "NF1",
         "RB1", "ATM", "BRCA2", "PIK3CA", "MET", "CDK4", "ELF3", "TGFBR2", "ROBO1", "AXIN1"]
ASSAYS = ["IL6", "CXCL9", "CXCL10", "IFNG", "GZMB", "PDCD1", "VEGFA", "HGF", "IL8", "CCL2",
          "TNF", "IL10", "MMP9", "CD274", "CSF1"]


def write(name: str, rows: list[list[object]], sep: str = "\t", preamble: str = "") -> None:
    text = preamble + "".join(sep.join(str(cell) for cell in row) + "\n" for row in rows)
    (HERE / name).write_text(text)


def nfcore(rng: np.random.Generator) -> None:
    samples = [f"{p}-RNA" for p in PATIENTS]
    header = ["gene_id", "gene_name", *samples]
    known = [
        # halves round to even, as R's round() in DESeqDataSetFromTximport
        ["ENSG00000141510.17", "TP53", 10.5, 11.5, 12.49, 12.51, 0.5, 1.5],
        # one symbol, two IDs (GENCODE PAR_Y copy): summed, then rounded
        ["ENSG00000002586.20", "CD99", 100.25, 200.0, 300.0, 400.0, 500.0, 600.0],
        ["ENSG00000002586.20_PAR_Y", "CD99", 0.5, 1.0, 1.0, 1.0, 1.0, 1.0],
        # no gene_name: kept by gene_id
        ["ENSG00000999999.1", "", 20.0, 21.0, 22.0, 23.0, 24.0, 25.0],
    ]
    filler = []
    for index in range(200):
        mean = float(rng.lognormal(5.0, 1.5))
        values = rng.gamma(4.0, mean / 4.0, size=len(samples))
        filler.append([f"ENSG{10_000_000_000 + index:011d}.{index % 9 + 1}", f"SYNG{index:03d}",
                       *(f"{value:.3f}" for value in values)])
    write("salmon.merged.gene_counts.tsv", [header, *known, *filler])
    rsem = [["gene_id", "transcript_id(s)", *samples]]
    for number, row in enumerate([*known[:1], *filler]):
        rsem.append([row[0].split(".")[0], f"ENST{number:011d},ENST{number + 500:011d}", *row[2:]])
    write("rsem.merged.gene_counts.tsv", rsem)
    tpm = [header]
    raw = np.array([[float(v) for v in row[2:]] for row in [*known, *filler]])
    scaled = raw / raw.sum(axis=0) * 1e6
    for row, values in zip([*known, *filler], scaled):
        tpm.append([row[0], row[1], *(f"{v:.6f}" for v in values)])
    write("salmon.merged.gene_tpm.tsv", tpm)
    write("gene_map.tsv", [["gene_id", "symbol"], ["ENSG00000141510", "TP53"],
                           ["ENSG00000002586", "CD99"], ["ENSG10000000000", "SYNG000"]])


def gistic(rng: np.random.Generator) -> None:
    samples = [f"{p}-CN" for p in PATIENTS]
    header = ["Gene Symbol", "Locus ID", "Cytoband", *samples]
    data, thresholded = [header], [header]
    for index, gene in enumerate(GENES):
        values = np.round(rng.normal(0.0, 0.35, size=len(samples)), 3)
        if gene == "CDKN2A":
            values = np.array([-1.2, -0.45, 0.02, 0.31, 1.05, -0.1])
        calls = np.select([values <= -1.0, values <= -0.3, values >= 1.0, values >= 0.3],
                          [-2, -1, 2, 1], 0)
        annotation = [gene, 1000 + index, f"{index % 22 + 1}q{index % 3 + 1}1.{index % 4 + 1}"]
        data.append([*annotation, *values])
        thresholded.append([*annotation, *calls])
    write("all_data_by_genes.txt", data)
    write("all_thresholded.by_genes.txt", thresholded)


def cnvkit(rng: np.random.Generator) -> None:
    bins = [["chromosome", "start", "end", "gene", "depth", "log2", "weight"],
            ["chr1", 500, 1094854, "Antitarget", 0.03, -0.447257, 0.708181],
            ["chr1", 2189708, 2189781, "-", 58.58, 0.166003, 0.0757517],
            # CDKN2A: weighted mean of (-1.0, w 1) and (-0.4, w 3) = -0.55
            ["chr9", 21967751, 21968241, "CDKN2A", 210.1, -1.0, 1.0],
            ["chr9", 21970900, 21971207, "CDKN2A,CDKN2B-AS1", 190.4, -0.4, 3.0]]
    segments = [["chromosome", "start", "end", "gene", "log2", "baf", "cn", "cn1", "cn2", "depth",
                 "probes", "weight"],
                # CDKN2A spans two segments: (0.8 * 10 + 0.2 * 30) / 40 = 0.35
                ["chr9", 21900000, 21968000, "MTAP,CDKN2A", 0.8, 0.5, 3, 2, 1, 120.5, 12, 10.0],
                ["chr9", 21968000, 22100000, "CDKN2A,CDKN2B", 0.2, "", 2, "", "", 99.1, 40, 30.0],
                ["chr1", 1, 2000000, "-", 0.0, "", 2, "", "", 50.0, 3, 1.0]]
    metrics = [["gene", "chromosome", "start", "end", "log2", "depth", "weight", "n_bins",
                "segment_weight", "segment_probes"],
               ["CDKN2A", "chr9", 21967751, 21995300, -0.7, 180.2, 12.5, 14, 40.1, 55]]
    position = 30_000_000
    for gene in GENES:
        if gene == "CDKN2A":
            continue
        for _ in range(3):
            bins.append(["chr5", position, position + 200, gene, round(float(rng.uniform(50, 300)), 2),
                         round(float(rng.normal(0, 0.3)), 4), round(float(rng.uniform(0.05, 1.0)), 4)])
            position += 1000
        segments.append(["chr5", position, position + 900, gene, round(float(rng.normal(0, 0.3)), 4), "",
                         2, "", "", 120.0, 9, 5.0])
        metrics.append([gene, "chr5", position, position + 900, round(float(rng.normal(0, 0.3)), 4),
                        150.0, 8.0, 9, 30.0, 20])
        position += 1000
    write("BTC01.cnr", bins)
    write("BTC02.call.cns", segments)
    write("BTC03.genemetrics.tsv", metrics)


def olink(rng: np.random.Generator) -> None:
    explore = [["SampleID", "SampleType", "WellID", "PlateID", "DataAnalysisRefID", "OlinkID", "UniProt",
                "Assay", "AssayType", "Panel", "Block", "Count", "ExtNPX", "NPX", "Normalization",
                "PCNormalizedNPX", "AssayQC", "SampleQC"]]
    panels = ["Inflammation", "Oncology"]
    wells = iter(f"{row}{col}" for row in "ABCDEFGH" for col in range(1, 13))
    plan = [(f"{p}-PROT", "SAMPLE", "Plate1" if i < 2 else "Plate2") for i, p in enumerate(PATIENTS[:3])]
    plan += [("CONTROL_SAMPLE_AS 1", "SAMPLE_CONTROL", "Plate1"), ("NEG_CTRL_1", "NEGATIVE_CONTROL", "Plate1")]
    for sample, sample_type, plate in plan:
        well = next(wells)
        for index, assay in enumerate(ASSAYS):
            assay_panels = panels if assay == "IL6" else [panels[index % 2]]
            for panel in assay_panels:
                # BTC02's Oncology block failed sample QC
                sample_qc = "WARN" if sample == "BTC02-PROT" and panel == "Oncology" else "PASS"
                olink_id = f"OID{20000 + index}" if panel == panels[0] else f"OID{21000 + index}"
                npx = round(float(rng.normal(3 + index * 0.3, 0.8)), 4)
                assay_qc = "WARN" if (assay == "IL6" and panel == "Inflammation") else "PASS"
                # IL6: Inflammation's copy carries assay warnings, so the Oncology copy is kept
                explore.append([sample, sample_type, well, plate, "D10", olink_id, f"P{index:05d}", assay,
                                "assay", panel, "A", int(rng.integers(200, 5000)),
                                round(npx + 1, 4), f"{npx}", "Intensity", f"{npx}", assay_qc, sample_qc])
            if index == 0:
                explore.append([sample, sample_type, well, plate, "D10", "OID29999", "", "Incubation control 1",
                                "ext_ctrl", panels[0], "A", 9000, 12.0, "0.1", "Intensity", "0.1", "PASS",
                                "PASS"])
    write("olink_explore_NPX.csv", explore, sep=";")

    target = [["SampleID", "Index", "OlinkID", "UniProt", "Assay", "MissingFreq", "Panel", "Panel_Version",
               "PlateID", "QC_Warning", "LOD", "NPX"]]
    samples = [f"{p}-PROT" for p in PATIENTS[3:]] + ["IPC 1"]
    for sample_index, sample in enumerate(samples, start=1):
        for index, assay in enumerate(ASSAYS):
            npx = round(float(rng.normal(3 + index * 0.3, 0.8)), 4)
            if sample == "BTC04-PROT" and assay == "CXCL9":
                npx = 1.25  # below its LOD of 1.5
            qc = "Warning" if sample == "BTC05-PROT" and assay == "IFNG" else "Pass"
            target.append([sample, sample_index, f"OID{30000 + index}", f"P{index:05d}", assay, "0,1",
                           "Olink Target 96 Immuno-Oncology", "v.3111", "Plate3", qc, "1,5",
                           str(npx).replace(".", ",")])
    write("olink_target96_NPX.csv", target, sep=";")


def mass_spec(rng: np.random.Generator) -> None:
    samples = [f"{p}-PROT" for p in PATIENTS[:3]]
    header = ["Protein IDs", "Majority protein IDs", "Peptide counts (all)", "Protein names", "Gene names",
              "Fasta headers", "Number of proteins", "Peptides", "Razor + unique peptides", "Unique peptides",
              "Intensity", *(f"Intensity {s}" for s in samples), "iBAQ", "iBAQ peptides",
              *(f"iBAQ {s}" for s in samples), *(f"LFQ intensity {s}" for s in samples),
              "Only identified by site", "Reverse", "Potential contaminant", "id"]

    def row(ids, gene, lfq, site="", reverse="", contaminant="", ident=0):
        intensities = [value * 1.1 for value in lfq]
        return [ids, ids, "5;3", "Protein", gene, "", len(ids.split(";")), 5, 5, 4, sum(intensities),
                *intensities, sum(lfq) / 10, 12, *(value / 10 for value in lfq), *lfq, site, reverse,
                contaminant, ident]

    rows = [header,
            row("P04637;P04637-2", "TP53;TP53", [1000.0, 0.0, 4000.0], ident=0),
            # a second group of TP53 quantified in fewer samples: dropped
            row("Q00001", "TP53", [9000.0, 0.0, 0.0], ident=1),
            row("REV__P99999", "FAKE1", [5.0, 5.0, 5.0], reverse="+", ident=2),
            row("CON__P02768", "ALB", [1e9, 1e9, 1e9], contaminant="+", ident=3),
            row("P12345", "SITE1", [7.0, 7.0, 7.0], site="+", ident=4),
            # no gene name: named by its first majority protein ID
            row("Q99999", "", [300.0, 310.0, 320.0], ident=5)]
    for index, assay in enumerate(ASSAYS):
        lfq = [round(float(rng.lognormal(20 + index * 0.1, 0.5)), 1) for _ in samples]
        rows.append(row(f"P1{index:04d}", assay, lfq, ident=6 + index))
    write("proteinGroups.txt", rows)

    runs = [f"D:\\Data\\DIA\\{p}-PROT.raw" for p in PATIENTS[3:]]
    diann = [["Protein.Group", "Protein.Ids", "Protein.Names", "Genes", "First.Protein.Description", *runs],
             ["P04637", "P04637", "P53_HUMAN", "TP53", "Cellular tumor antigen p53", 1500.0, "", 2500.0],
             ["Cont_P02768", "Cont_P02768", "ALBU_HUMAN", "ALB", "Albumin", 1e9, 1e9, 1e9],
             ["P08069;P06213", "P08069;P06213", "IGF1R_HUMAN;INSR_HUMAN", "IGF1R;INSR", "Insulin-like", 10.0,
              0.0, 30.0]]
    for index, assay in enumerate(ASSAYS):
        diann.append([f"P1{index:04d}", f"P1{index:04d}", f"{assay}_HUMAN", assay, "protein",
                      *(round(float(rng.lognormal(20 + index * 0.1, 0.5)), 1) for _ in runs)])
    write("report.pg_matrix.tsv", diann)


# The standard MAF columns (GDC MAF format, vcf2maf) the fixtures carry, in GDC order.
MAF_COLUMNS = [
    "Hugo_Symbol", "Entrez_Gene_Id", "Center", "NCBI_Build", "Chromosome", "Start_Position", "End_Position",
    "Strand", "Variant_Classification", "Variant_Type", "Reference_Allele", "Tumor_Seq_Allele1",
    "Tumor_Seq_Allele2", "dbSNP_RS", "dbSNP_Val_Status", "Tumor_Sample_Barcode", "Matched_Norm_Sample_Barcode",
    "Match_Norm_Seq_Allele1", "Match_Norm_Seq_Allele2", "Tumor_Validation_Allele1",
    "Tumor_Validation_Allele2", "Match_Norm_Validation_Allele1", "Match_Norm_Validation_Allele2",
    "Verification_Status", "Validation_Status", "Mutation_Status", "Sequencing_Phase", "Sequence_Source",
    "Validation_Method", "Score", "BAM_File", "Sequencer", "Tumor_Sample_UUID", "Matched_Norm_Sample_UUID",
    "HGVSc", "HGVSp", "HGVSp_Short", "Transcript_ID", "Exon_Number", "t_depth", "t_ref_count", "t_alt_count",
    "n_depth", "n_ref_count", "n_alt_count", "all_effects", "Allele", "Gene", "Feature", "Feature_type",
    "One_Consequence", "Consequence", "cDNA_position", "CDS_position", "Protein_position", "Amino_acids",
    "Codons", "Existing_variation", "DISTANCE", "TRANSCRIPT_STRAND", "SYMBOL", "SYMBOL_SOURCE", "HGNC_ID",
    "BIOTYPE", "CANONICAL", "IMPACT", "FILTER", "callers",
]


def maf_row(barcode: str, gene: str, position: int, classification: str, depth: int, alt: int,
            filter_value: str = "PASS", protein: str = "p.G12D") -> list[object]:
    values = dict.fromkeys(MAF_COLUMNS, "")
    values.update({
        "Hugo_Symbol": gene, "Entrez_Gene_Id": 0, "Center": "BI", "NCBI_Build": "GRCh38",
        "Chromosome": "chr12", "Start_Position": position, "End_Position": position, "Strand": "+",
        "Variant_Classification": classification, "Variant_Type": "SNP", "Reference_Allele": "C",
        "Tumor_Seq_Allele1": "C", "Tumor_Seq_Allele2": "T", "Tumor_Sample_Barcode": barcode,
        "Matched_Norm_Sample_Barcode": barcode.replace("-T", "-N"), "Mutation_Status": "Somatic",
        "HGVSp_Short": protein, "t_depth": depth, "t_ref_count": depth - alt, "t_alt_count": alt,
        "n_depth": 60, "n_ref_count": 60, "n_alt_count": 0, "SYMBOL": gene, "IMPACT": "MODERATE",
        "FILTER": filter_value, "callers": "mutect2",
    })
    return [values[column] for column in MAF_COLUMNS]


def mafs() -> None:
    gdc = [MAF_COLUMNS,
           # BTC01-T: 2 PASS non-synonymous, 1 failing FILTER, 1 silent, 1 with VAF 0.04
           maf_row("BTC01-T", "KRAS", 25245350, "Missense_Mutation", 100, 30),
           maf_row("BTC01-T", "TP53", 7675088, "Nonsense_Mutation", 80, 40, protein="p.R213*"),
           maf_row("BTC01-T", "ARID1A", 26696100, "Missense_Mutation", 90, 20, filter_value="panel_of_normals"),
           maf_row("BTC01-T", "SMAD4", 51030000, "Silent", 70, 30, protein="p.L100L"),
           maf_row("BTC01-T", "BAP1", 52402000, "Frame_Shift_Del", 100, 4, protein="p.K50fs"),
           # BTC02-T: one PASS, one with depth 8
           maf_row("BTC02-T", "IDH1", 208248388, "Missense_Mutation", 120, 50, protein="p.R132C"),
           maf_row("BTC02-T", "KRAS", 25245350, "Missense_Mutation", 8, 4)]
    preamble = "#version gdc-1.0.0\n#filedate 20260130\n#annotation.spec gdc-1.0.1-public\n"
    text = preamble + "".join("\t".join(str(c) for c in row) + "\n" for row in gdc)
    with gzip.GzipFile(HERE / "gdc_somatic.maf.gz", "wb", mtime=0) as handle:
        handle.write(text.encode())
    vcf2maf = [MAF_COLUMNS]
    for patient, gene in zip(PATIENTS[2:], ["ERBB2", "KRAS", "TP53", "FGFR2"]):
        vcf2maf.append(maf_row(f"{patient}-T", gene, 39724000, "Missense_Mutation", 150, 45, filter_value="."))
    write("vcf2maf.maf", vcf2maf, preamble="#version 2.4\n")


def main() -> None:
    rng = np.random.default_rng(SEED)
    nfcore(rng)
    gistic(rng)
    cnvkit(rng)
    olink(rng)
    mass_spec(rng)
    mafs()


if __name__ == "__main__":
    main()
