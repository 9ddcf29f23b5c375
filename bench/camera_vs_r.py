"""Agreement of the correlation-adjusted gene-set test (``camera_fdr``) with R ``limma::camera``.

    .venv/bin/python bench/camera_vs_r.py [--workdir /tmp/camera_vs_r] [--cores 2]

Runs the workflow on the demo (``resources/demo``) in ``--workdir`` up to the differential tables of
RNA and proteins (Snakemake skips what is already there), then, for each modality (rna, proteins),
contrast (responder, clinical_benefit) and gene-set collection (``resources/gene_sets/*.gmt``):

- the matrix and design are those of the enrichment rule: X of ``results/{modality}/normalised.h5ad``
  (VST for RNA; imputed, normalised, batch-corrected log2 for proteins) on the baseline sample of
  each patient, and the contrast's treatment-coded design (``differential.design_matrix``);
- R runs ``camera(y, index, design, contrast = "group[T.yes]")`` with ``inter.gene.cor = NA``
  (correlation estimated per set) and with the default fixed ``0.01``, on that matrix, design and
  those sets (features matched to sets by gene symbol, as ``enrichment.gene_symbols`` does);
- ours (``enrichment.correlation_adjusted_set_test`` on ``enrichment.contrast_residual_effects``)
  runs three times, on three statistics:

  ``same_z``: R camera's own statistic (the moderated t of the matrix as z-score, ``zscoreT`` with
  Hill's approximation, written by R): checks the set test alone (VIF, pooled variance, df, sign);
  ``same_matrix``: the workflow's moderated t (``differential_proteins.moderated_t_test``, inmoose) of
  the same matrix and design, as z-scores by ``enrichment.z_scores`` (exact quantile conversion):
  checks the whole computation;
  ``workflow``: the z-scores the enrichment rule uses (``enrichment.z_scores`` of
  ``results/differential/{modality}/{contrast}.tsv``: DESeq2's Wald statistic for RNA, the moderated
  t of the non-imputed log2 values for proteins). Reported, not judged: its statistic is not
  camera's, so it cannot equal R.

Printed per set: n genes, our / R correlation, our / R p-value and direction; per comparison: the
Pearson r of log10 p, the max |difference| of log10 p, of p and of the correlation, and whether
every direction and set size agrees.

Agreement criterion (exit 0 when it holds for every table, both correlation modes):
``same_z``: sizes and directions identical, max |diff| of log10 p <= 1e-6 and of correlation
<= 1e-8; ``same_matrix``: sizes and directions identical, Pearson r of log10 p >= 0.9999,
max |diff| of log10 p <= 0.01 and of correlation <= 1e-8. Otherwise exit 1.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from trialomics import differential as dx  # noqa: E402
from trialomics import differential_proteins as dprot  # noqa: E402
from trialomics import enrichment as en  # noqa: E402
from trialomics import tables  # noqa: E402
from trialomics.readers import read_patients  # noqa: E402

SNAKEFILE = ROOT / "workflow" / "Snakefile"
DEMO = ROOT / "resources" / "demo"
GENE_SET_FILES = sorted((ROOT / "resources" / "gene_sets").glob("*.gmt"))
MODALITIES = ("rna", "proteins")
# The schema's default contrasts, which the demo run uses.
CONTRASTS = {c: {"id": c, "variable": c, "reference": "no", "target": "yes"}
             for c in ("responder", "clinical_benefit")}
FIXED_CORRELATION = 0.01
MIN_SIZE, MAX_SIZE = 3, 500          # the enrichment stage's defaults
SAME_Z_LOG10P, SAME_MATRIX_LOG10P, SAME_MATRIX_R, CORRELATION_TOLERANCE = 1e-6, 0.01, 0.9999, 1e-8

R_SCRIPT = r"""
suppressMessages(library(limma))
args <- commandArgs(trailingOnly = TRUE)
y <- as.matrix(read.delim(args[1], row.names = 1, check.names = FALSE))
design <- as.matrix(read.delim(args[2], row.names = 1, check.names = FALSE))
sets <- strsplit(readLines(args[3]), "\t")
index <- setNames(lapply(sets, `[`, -1), vapply(sets, `[`, "", 1))
coefficient <- args[4]
tidy <- function(tab, mode) {
  data.frame(gene_set = rownames(tab), mode = mode, size = tab$NGenes,
             correlation = if (is.null(tab$Correlation)) NA else tab$Correlation,
             direction = tolower(tab$Direction), pvalue = tab$PValue)
}
estimated <- camera(y, index, design, contrast = coefficient, inter.gene.cor = NA, sort = FALSE)
fixed <- camera(y, index, design, contrast = coefficient, inter.gene.cor = as.numeric(args[5]),
                sort = FALSE)
write.table(rbind(tidy(estimated, "estimated"), tidy(fixed, "fixed")), args[6], sep = "\t",
            quote = FALSE, row.names = FALSE)
# camera's own statistic: moderated t (eBayes) as z-score with Hill's approximation.
fit <- eBayes(lmFit(y, design))
z <- zscoreT(fit$t[, coefficient], df = fit$df.total, approx = TRUE, method = "hill")
write.table(data.frame(feature = rownames(y), z = z), args[7], sep = "\t", quote = FALSE,
            row.names = FALSE)
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "camera_vs_r",
                        help="where the demo workflow runs (reused when its results are there)")
    parser.add_argument("--cores", type=int, default=2)
    return parser.parse_args(argv)


def run_demo_workflow(workdir: Path, cores: int) -> None:
    """Build the demo's labels, normalised AnnData and differential tables in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = {"samples": str(DEMO / "samples.tsv"),
              "clinical": {"patients": str(DEMO / "patients.tsv"), "recist": str(DEMO / "recist.tsv"),
                           "adverse_events": str(DEMO / "adverse_events.tsv")}}
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    targets = [f"results/differential/{m}/{c}.tsv" for m in MODALITIES for c in CONTRASTS]
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory",
               str(workdir), "--configfile", str(configfile), "--cores", str(cores), *targets]
    log = workdir / "snakemake.log"
    with log.open("w") as handle:
        result = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, cwd=workdir,
                                env=dict(os.environ, PYTHONHASHSEED="0"))
    if result.returncode != 0:
        sys.exit(f"the demo workflow failed; see {log}")


def contrast_inputs(workdir: Path, modality: str, contrast_id: str) -> dict:
    """What the enrichment rule reads for one table: values (X), design, its z-scores, gene map."""
    results = workdir / "results"
    contrast = dx.Contrast.from_config(CONTRASTS[contrast_id])
    adata = dx.baseline_patient_samples(ad.read_h5ad(results / modality / "normalised.h5ad"),
                                        tables.read_tsv(results / "clinical" / "labels.tsv"),
                                        read_patients(DEMO / "patients.tsv"))
    table = tables.read_tsv(results / "differential" / modality / f"{contrast_id}.tsv")
    for column in ("stat", "pvalue"):
        table[column] = table[column].replace("", "nan").astype(float)
    frame = dx.design_frame(adata.obs, contrast)
    values = dx.feature_matrix(adata).loc[frame.index]
    return {"contrast": contrast, "values": values, "design": dx.design_matrix(frame),
            "coefficient": f"{dx.GROUP_COLUMN}[T.{contrast.target}]",
            "residuals": en.contrast_residual_effects(dx.feature_matrix(adata), adata.obs, contrast),
            "workflow_z": en.z_scores(table), "gene_of": en.gene_symbols(adata.var)}


def feature_sets(gene_sets: dict[str, list[str]], features: pd.Index,
                 gene_of: dict[str, str] | None) -> dict[str, list[str]]:
    """Each set as the features whose gene is in it (what our test matches), within the size limits."""
    gene = {f: (gene_of.get(f, f) if gene_of else f) for f in features}
    out = {}
    for name, genes in gene_sets.items():
        members = set(genes)
        inside = [f for f in features if gene[f] in members]
        if MIN_SIZE <= len(inside) <= MAX_SIZE:
            out[name] = inside
    return out


def run_r_camera(values: pd.DataFrame, design: pd.DataFrame, sets: dict[str, list[str]],
                 coefficient: str, folder: Path) -> tuple[pd.DataFrame, pd.Series]:
    """R camera (estimated and fixed correlation) and R's z-scores, on genes x samples ``values``."""
    paths = {name: folder / name for name in
             ("y.tsv", "design.tsv", "sets.tsv", "camera.R", "camera.tsv", "z.tsv")}
    values.T.to_csv(paths["y.tsv"], sep="\t", float_format="%.17g")
    design.to_csv(paths["design.tsv"], sep="\t", float_format="%.17g")
    paths["sets.tsv"].write_text("".join("\t".join([name, *members]) + "\n"
                                         for name, members in sets.items()))
    paths["camera.R"].write_text(R_SCRIPT)
    subprocess.run(["Rscript", str(paths["camera.R"]), str(paths["y.tsv"]), str(paths["design.tsv"]),
                    str(paths["sets.tsv"]), coefficient, repr(FIXED_CORRELATION),
                    str(paths["camera.tsv"]), str(paths["z.tsv"])], check=True)
    camera = pd.read_csv(paths["camera.tsv"], sep="\t", keep_default_na=False,
                         na_values=["NA"]).astype({"gene_set": str})
    z = pd.read_csv(paths["z.tsv"], sep="\t", dtype={"feature": str}).set_index("feature")["z"]
    return camera, z


def workflow_moderated_z(values: pd.DataFrame, design: pd.DataFrame, coefficient: str) -> pd.Series:
    """The workflow's moderated t of ``values`` (limma's method, inmoose) as z-scores."""
    tested = dprot.moderated_t_test(values, design, coefficient)
    return en.z_scores(tested.rename_axis("feature").reset_index())


def compare(ours: pd.DataFrame, theirs: pd.DataFrame) -> dict:
    """Agreement of our table with R's on the same sets (indexed by gene set)."""
    ours = ours.set_index("gene_set").loc[theirs.index]
    log_ours, log_theirs = np.log10(ours["pvalue"]), np.log10(theirs["pvalue"])
    correlation = (ours["inter_gene_correlation"] - theirs["correlation"]).abs()
    return {"sets": len(theirs), "pearson_log10p": float(np.corrcoef(log_ours, log_theirs)[0, 1]),
            "max_diff_log10p": float((log_ours - log_theirs).abs().max()),
            "max_diff_p": float((ours["pvalue"] - theirs["pvalue"]).abs().max()),
            "max_diff_correlation": float(correlation.max()) if correlation.notna().any() else 0.0,
            "same_directions": bool((ours["direction"] == theirs["direction"]).all()),
            "same_sizes": bool((ours["size"].astype(int) == theirs["size"].astype(int)).all())}


def agrees(name: str, figures: dict) -> bool:
    """The stated agreement criterion for one comparison (``workflow`` is not judged)."""
    exact = (figures["same_directions"] and figures["same_sizes"]
             and figures["max_diff_correlation"] <= CORRELATION_TOLERANCE)
    if name == "same_z":
        return exact and figures["max_diff_log10p"] <= SAME_Z_LOG10P
    if name == "same_matrix":
        return (exact and figures["pearson_log10p"] >= SAME_MATRIX_R
                and figures["max_diff_log10p"] <= SAME_MATRIX_LOG10P)
    return True


def per_set_lines(ours: pd.DataFrame, theirs: pd.DataFrame) -> str:
    """One line per set: n, correlation, p-value and direction, ours then R's."""
    merged = ours.set_index("gene_set").loc[theirs.index]
    frame = pd.DataFrame({"n": theirs["size"].astype(int),
                          "cor_ours": merged["inter_gene_correlation"], "cor_R": theirs["correlation"],
                          "p_ours": merged["pvalue"], "p_R": theirs["pvalue"],
                          "dir_ours": merged["direction"], "dir_R": theirs["direction"]})
    return frame.to_string(float_format=lambda v: f"{v:.6g}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = args.workdir.resolve()
    print(f"demo workflow in {workdir} (log: {workdir / 'snakemake.log'})", flush=True)
    run_demo_workflow(workdir, args.cores)
    collections = en.load_collections(GENE_SET_FILES)
    pd.set_option("display.width", 200)
    summary, all_agree = [], True
    with tempfile.TemporaryDirectory(prefix="camera_vs_r_") as scratch:
        for modality in MODALITIES:
            for contrast_id in CONTRASTS:
                inputs = contrast_inputs(workdir, modality, contrast_id)
                values, design = inputs["values"], inputs["design"]
                statistics = {"same_matrix": workflow_moderated_z(values, design, inputs["coefficient"]),
                              "workflow": inputs["workflow_z"]}
                for collection, gene_sets in collections.items():
                    sets = feature_sets(gene_sets, values.columns, inputs["gene_of"])
                    folder = Path(scratch) / f"{modality}_{contrast_id}_{collection}"
                    folder.mkdir()
                    camera, r_z = run_r_camera(values, design, sets, inputs["coefficient"], folder)
                    statistics["same_z"] = r_z
                    n, p = design.shape
                    print(f"\n=== {modality} / {contrast_id} / {collection}: {values.shape[1]} features, "
                          f"{n} samples, {p} coefficients ({n - p} residual df), {len(sets)} sets")
                    for mode, fixed in (("estimated", None), ("fixed", FIXED_CORRELATION)):
                        theirs = camera[camera["mode"] == mode].set_index("gene_set")
                        for name in ("same_z", "same_matrix", "workflow"):
                            ours = en.correlation_adjusted_set_test(
                                statistics[name], inputs["residuals"], gene_sets, inputs["gene_of"],
                                MIN_SIZE, MAX_SIZE, inter_gene_correlation=fixed)
                            if fixed is not None:
                                theirs = theirs.assign(correlation=FIXED_CORRELATION)
                            figures = compare(ours, theirs)
                            ok = agrees(name, figures)
                            all_agree &= ok
                            summary.append({"table": f"{modality}/{contrast_id}/{collection}",
                                            "correlation": mode, "statistic": name, **figures,
                                            "agrees": "n/a" if name == "workflow" else ok})
                            if name != "same_z":
                                print(f"\n-- inter.gene.cor {'NA (estimated)' if fixed is None else fixed}"
                                      f", our statistic: {name}")
                                print(per_set_lines(ours, theirs))
    table = pd.DataFrame(summary)
    print("\n=== agreement with limma::camera (per table, correlation mode and statistic)")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.10g}"))
    print(f"\ncriterion: same_z: sizes and directions identical, max |diff log10 p| <= {SAME_Z_LOG10P:g}, "
          f"max |diff correlation| <= {CORRELATION_TOLERANCE:g}; same_matrix: sizes and directions "
          f"identical, Pearson r(log10 p) >= {SAME_MATRIX_R}, max |diff log10 p| <= "
          f"{SAME_MATRIX_LOG10P:g}, max |diff correlation| <= {CORRELATION_TOLERANCE:g}")
    print(f"AGREEMENT: {'PASS' if all_agree else 'FAIL'}")
    return 0 if all_agree else 1


if __name__ == "__main__":
    sys.exit(main())
