"""The models stage's elastic-net Cox path and nested CV against R glmnet (``cv.glmnet(family = "cox")``).

Usage: python bench/models_vs_glmnet.py RUN_DIRECTORY [--block pfs:rna] [--repeats 3] [--workdir DIR]

For one survival block of a run that has produced ``results/{modality}/normalised.h5ad`` and
``results/clinical/labels.tsv`` (see ``bench/models_runtime.py``), with the schema's default settings
and the seed the ``models_fit`` rule derives, on every outer fold of the nested cross-validation:

- ours: ``model_engine.fit_nested`` (preprocessing refitted in each inner fold, elastic-net Cox path, penalty
  by the Verweij & van Houwelingen criterion) and its prediction of the test patients;
- R: the fold's training matrix as our preprocessing leaves it, ``glmnet(x, Surv(time, status),
  family = "cox", alpha = l1_ratio, lambda = our grid, standardize = FALSE)`` for the path, and
  ``cv.glmnet`` with the same grid and our inner fold ids (``grouped = TRUE``: the same criterion),
  predicting the fold's test patients at ``lambda.min``.

Prints the largest absolute difference between our and glmnet's coefficient paths (same data,
same grid), how often the chosen penalty agrees, both out-of-fold C-indices, and both times: ours as
CPU seconds of the nested fits in this process, R's as the wall time of the whole Rscript process
(start, reading the folds, fitting) and of the fits alone. R's folds use one preprocessing per outer
fold (glmnet cannot refit it inside its inner folds), so the chosen penalties may differ where the
inner preprocessing matters. Installs Debian's ``r-base-core``, ``r-cran-glmnet`` and
``r-cran-survival`` with apt-get when they are missing (root needed).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from models_runtime import load_inputs, schema_defaults

R_SCRIPT = r"""
suppressPackageStartupMessages({library(glmnet); library(survival)})
args <- commandArgs(trailingOnly = TRUE)
folder <- args[1]; l1_ratio <- as.numeric(args[2]); n_folds <- as.integer(args[3])
fit_seconds <- 0
for (k in seq_len(n_folds) - 1) {
  read <- function(name) as.matrix(read.delim(file.path(folder, sprintf("fold%d_%s.tsv", k, name)), header = FALSE))
  x <- read("train"); test <- read("test"); y <- read("outcome"); lambda <- read("alphas")[, 1]
  foldid <- as.integer(read("foldid")[, 1])
  surv <- Surv(y[, 1], y[, 2])
  start <- proc.time()[["elapsed"]]
  path <- glmnet(x, surv, family = "cox", alpha = l1_ratio, lambda = lambda, standardize = FALSE,
                 thresh = 1e-10, maxit = 1e6)
  if (max(foldid) >= 3) {
    cv <- cv.glmnet(x, surv, family = "cox", alpha = l1_ratio, lambda = lambda, standardize = FALSE,
                    foldid = foldid, grouped = TRUE)
    best <- which(lambda == cv$lambda.min); how <- "cv.glmnet"
  } else {
    # cv.glmnet refuses fewer than 3 folds: the same grouped criterion by hand.
    score <- rep(0, length(lambda))
    for (f in unique(foldid)) {
      inner <- glmnet(x[foldid != f, ], surv[foldid != f], family = "cox", alpha = l1_ratio, lambda = lambda,
                      standardize = FALSE)
      eta <- x %*% as.matrix(coef(inner))
      score <- score + coxnet.deviance(pred = eta, y = surv) -
        coxnet.deviance(pred = eta[foldid != f, , drop = FALSE], y = surv[foldid != f])
    }
    best <- which.min(score); how <- "by hand"
  }
  fit_seconds <- fit_seconds + proc.time()[["elapsed"]] - start
  write.table(as.matrix(coef(path)), file.path(folder, sprintf("fold%d_glmnet_coef.tsv", k)), sep = "\t",
              col.names = FALSE, row.names = FALSE)
  write.table(data.frame(index = best - 1, how = how,
                         prediction = as.numeric(test %*% as.matrix(coef(path))[, best])),
              file.path(folder, sprintf("fold%d_glmnet_cv.tsv", k)), sep = "\t", row.names = FALSE)
}
cat(sprintf("%.3f\n", fit_seconds), file = file.path(folder, "fit_seconds.txt"))
"""


def ensure_r() -> None:
    probe = subprocess.run(["Rscript", "-e", "library(glmnet); library(survival)"], capture_output=True) \
        if shutil.which("Rscript") else None
    if probe is not None and probe.returncode == 0:
        return
    if os.geteuid() != 0:
        sys.exit("R glmnet is missing: apt-get install r-base-core r-cran-glmnet r-cran-survival (as root)")
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "r-base-core", "r-cran-glmnet",
                    "r-cran-survival"], check=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run")
    parser.add_argument("--block", default="pfs:rna")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--workdir", default="/tmp/models_vs_glmnet")
    args = parser.parse_args(argv[1:])
    ensure_r()

    from trialomics import model_engine, models
    from trialomics.model_metrics import harrell_c
    from trialomics.runlog import limit_threads
    limit_threads(1)          # as in a models_fit job (R, started later, inherits the same limit)
    from trialomics.model_paths import COX_TOL, cox_elastic_net_path
    from trialomics.model_preprocess import fit_preprocess, transform
    from trialomics.imputation import make_fold_imputer
    from trialomics.seeds import derive_seed
    from trialomics.survival import endpoint_labels, feature_kinds

    endpoint, block = args.block.split(":")
    if models.task_of(endpoint) != models.SURVIVAL:
        sys.exit("glmnet comparison is for survival endpoints (pfs, os)")
    config, proteins_config = schema_defaults("models"), schema_defaults("proteins")
    obs, matrices = load_inputs(Path(args.run))
    modalities = list(config["joint_modalities"]) if block == "joint" else [block]
    blocks = {m: matrices[m] for m in modalities}
    seed = derive_seed(config["seed"], "models_fit", endpoint, block)
    labels = endpoint_labels(obs, endpoint)
    X, kinds, groups = models.assemble_block(blocks, {m: feature_kinds(v) for m, v in blocks.items()}, labels)
    outcome = models.make_target(labels.loc[X.index], models.SURVIVAL)
    imputer = (make_fold_imputer(proteins_config["imputation"], seed, downshift=proteins_config["imputation_downshift"],
                            width=proteins_config["imputation_width"]) if "proteins" in blocks else None)
    values = X.to_numpy(dtype=np.float64)
    protein_columns = None if modalities == ["proteins"] else tuple(groups.index[groups == "proteins"])
    preprocess = models.make_preprocess(
        X.columns, kinds=kinds, groups=groups, imputer=imputer, impute_columns=protein_columns,
        max_missing=config["max_missing"], min_altered=config["min_altered"],
        min_altered_fraction=config["min_altered_fraction"], top_variance=config["top_variance"],
        select_k=config["select_k"]).screened_on(values)
    model = models.make_model(models.SURVIVAL, l1_ratio=config["l1_ratio"], n_alphas=config["n_alphas"],
                              alpha_min_ratio=config["alpha_min_ratio"], inner_folds=config["inner_folds"],
                              seed=derive_seed(seed, "inner"))
    repeats = args.repeats or config["repeats"]
    plan = model_engine.plan_outer_cv(outcome.strata, n_splits=config["outer_folds"], n_repeats=repeats,
                                      survival=True)
    folds = model_engine.outer_splits(outcome.strata, plan, derive_seed(seed, "outer"))

    workdir = Path(args.workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    ours = np.full((len(X), repeats), np.nan)
    our_choice, paths = [], []
    start = time.process_time()
    for k, (repeat, train, test) in enumerate(folds):
        fitted = model_engine.fit_nested(values[train], outcome.take(train), preprocess, model)
        ours[test, repeat] = fitted.predict(values[test])
        our_choice.append(fitted.alpha_index)
        paths.append(fitted.path)
    our_seconds = time.process_time() - start
    for k, (repeat, train, test) in enumerate(folds):
        train_outcome = outcome.take(train)
        state, train_values = fit_preprocess(preprocess, values[train], train_outcome)
        foldid = np.zeros(len(train), dtype=int)
        for fold, (_, inner_test) in enumerate(model_engine.inner_splits(train_outcome.strata, model.inner_folds,
                                                                         model.seed)):
            foldid[inner_test] = fold + 1
        write = lambda name, array: np.savetxt(workdir / f"fold{k}_{name}.tsv", array, delimiter="\t", fmt="%.17g")
        write("train", train_values)
        write("test", transform(state, values[test]))
        write("outcome", np.column_stack([train_outcome.time, train_outcome.event.astype(float)]))
        write("alphas", paths[k].alphas[:, None])
        write("foldid", foldid[:, None].astype(float))
        # Our Cox path on exactly the matrix R receives (the nested fit's own path).
        for name, tol in (("ours", COX_TOL),):
            np.save(workdir / f"fold{k}_{name}.npy",
                    cox_elastic_net_path(train_values, train_outcome.time, train_outcome.event, state.unpenalised,
                                config["l1_ratio"], alphas=paths[k].alphas, tol=tol)[1])
    (workdir / "compare.R").write_text(R_SCRIPT)
    r_start = time.perf_counter()
    subprocess.run(["Rscript", str(workdir / "compare.R"), str(workdir), str(config["l1_ratio"]), str(len(folds))],
                   check=True)
    r_seconds = time.perf_counter() - r_start
    r_fit_seconds = float((workdir / "fit_seconds.txt").read_text())

    theirs = np.full((len(X), repeats), np.nan)
    worst, agree, by_hand = {"ours": 0.0}, 0, 0
    for k, (repeat, train, test) in enumerate(folds):
        glmnet_coef = np.loadtxt(workdir / f"fold{k}_glmnet_coef.tsv", delimiter="\t", ndmin=2)
        for name in worst:
            our_coef = np.load(workdir / f"fold{k}_{name}.npy")
            finite = np.isfinite(our_coef).all(axis=0)
            worst[name] = max(worst[name], float(np.abs(glmnet_coef[:, finite] - our_coef[:, finite]).max()))
        cv = pd.read_csv(workdir / f"fold{k}_glmnet_cv.tsv", sep="\t")
        theirs[test, repeat] = cv["prediction"].to_numpy()
        agree += int(cv["index"].iloc[0] == our_choice[k])
    by_hand += int(cv["how"].iloc[0] == "by hand")
    c_ours = np.mean([harrell_c(outcome.time, outcome.event, ours[:, r]) for r in range(repeats)])
    c_theirs = np.mean([harrell_c(outcome.time, outcome.event, theirs[:, r]) for r in range(repeats)])
    print(f"block {args.block}: {len(X)} patients, {len(folds)} outer folds ({plan.label()}, {repeats} repeats)")
    print(f"coefficient paths on the same matrices and grid, glmnet at thresh 1e-10: the workflow's Cox path "
          f"(KKT tol {COX_TOL:g}) max |diff| {worst['ours']:.2e}")
    print(f"chosen penalty: same in {agree} of {len(folds)} outer folds (R: cv.glmnet in {len(folds) - by_hand}, "
          f"its grouped criterion by hand in {by_hand} folds with 2 inner folds)")
    print(f"out-of-fold Harrell C: ours {c_ours:.4f}, glmnet {c_theirs:.4f}")
    print(f"time: ours {our_seconds:.2f} CPU-s for the nested fits; R {r_seconds:.2f} s wall as a whole "
          f"process, {r_fit_seconds:.2f} s in glmnet + cv.glmnet; ratio ours / R process "
          f"{our_seconds / r_seconds:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
