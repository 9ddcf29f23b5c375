"""Gene-set enrichment of the differential results and per-sample pathway scores, fully offline.

Gene sets come only from local GMT files (the project ships ``resources/gene_sets/*.gmt``; users
add MSigDB or Reactome files they download themselves). gseapy runs the preranked GSEA and the
ssGSEA scores, with gene sets passed as dictionaries so that it never looks up an Enrichr library;
over-representation is a hypergeometric test written here, because gseapy's offline ``enrich``
drops sets without overlap before its Benjamini–Hochberg step (the family would then depend on the
query) and upper-cases identifiers on its own.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from .distributions import normal_isf, t_sf
from .differential import Contrast, design_frame, design_matrix
from .multitest import benjamini_hochberg
from .errors import AnalysisProblem, InputProblem
from .paths import resolve_gene_set_path  # noqa: F401 (re-exported)

LOGGER = logging.getLogger(__name__)


def read_gmt(path: str | os.PathLike) -> dict[str, list[str]]:
    """Read a GMT file: one set per line, ``name<TAB>description<TAB>gene<TAB>gene...``.

    Empty gene fields are ignored and duplicated genes kept once, in file order. Raises
    :class:`~trialomics.errors.InputProblem` for a line without genes or a repeated set name.
    """
    gene_sets: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            line = line.rstrip("\n\r")
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            name = fields[0].strip()
            genes = list(dict.fromkeys(g.strip() for g in fields[2:] if g.strip()))
            if not name or not genes:
                raise InputProblem(path, "a gene set line needs a name, a description and at least "
                                   "one gene, separated by tabs", row=line_number)
            if name in gene_sets:
                raise InputProblem(path, f"gene set '{name}' is defined twice", row=line_number,
                                   fix="give each set a unique name")
            gene_sets[name] = genes
    if not gene_sets:
        raise InputProblem(path, "no gene set in the file")
    return gene_sets


def collection_name(path: str | os.PathLike) -> str:
    """A collection's name: the GMT file name without ``.gmt``."""
    name = Path(path).name
    return name[:-4] if name.lower().endswith(".gmt") else name


def load_collections(paths: Iterable[str | os.PathLike]) -> dict[str, dict[str, list[str]]]:
    """Each GMT file as one collection, keyed by :func:`collection_name` (must be unique)."""
    collections: dict[str, dict[str, list[str]]] = {}
    for path in paths:
        name = collection_name(path)
        if name in collections:
            raise AnalysisProblem(f"two gene-set files are named '{name}'",
                                  fix="rename one of them (enrichment.gene_sets): collections are named by file")
        collections[name] = read_gmt(path)
    return collections


def ranking_from_table(table: pd.DataFrame, stat_column: str = "stat",
                       gene_of: Mapping[str, str] | None = None) -> pd.Series:
    """The ranked list for preranked GSEA: one statistic per gene, highest first.

    Features without a statistic or without a p-value (DESeq2's Cook's outliers keep a Wald
    statistic but lose their p-value) are dropped; ``gene_of`` maps feature to gene symbol (proteins
    named by accession); when several features map to one gene the one with the largest absolute
    statistic is kept. Ties in the statistic are ordered by gene name so the list is reproducible.
    """
    data = table[["feature", stat_column]].copy()
    data[stat_column] = pd.to_numeric(data[stat_column], errors="coerce")
    usable = np.isfinite(data[stat_column].to_numpy(dtype=float))
    if "pvalue" in table.columns:
        usable &= pd.to_numeric(table["pvalue"], errors="coerce").notna().to_numpy()
    data = data[usable]
    genes = data["feature"].astype(str)
    if gene_of is not None:
        genes = genes.map(lambda f: str(gene_of.get(f, f)))
    data = data.assign(gene=genes.to_numpy(), magnitude=data[stat_column].abs())
    data = data[data["gene"].str.len() > 0]
    data = data.sort_values(["magnitude", "gene"], ascending=[False, True], kind="mergesort")
    data = data.drop_duplicates("gene", keep="first")
    data = data.sort_values([stat_column, "gene"], ascending=[False, True], kind="mergesort")
    return pd.Series(data[stat_column].to_numpy(dtype=float), index=data["gene"].to_numpy(),
                     name=stat_column)


def _matched(gene_sets: Mapping[str, Iterable[str]], universe: Iterable[str], min_size: int,
             max_size: int) -> dict[str, list[str]]:
    present = set(universe)
    matched = {}
    for name, genes in gene_sets.items():
        inside = [g for g in dict.fromkeys(genes) if g in present]
        if min_size <= len(inside) <= max_size:
            matched[name] = inside
        else:
            LOGGER.info("gene set %s skipped: %d of its genes are measured (allowed %d-%d)",
                        name, len(inside), min_size, max_size)
    return matched


def preranked_gsea(ranking: pd.Series, gene_sets: Mapping[str, list[str]], permutations: int = 1000,
                   seed: int = 0, min_size: int = 3, max_size: int = 500,
                   threads: int = 1) -> pd.DataFrame:
    """Preranked GSEA (gseapy, gene-set permutation, weight 1) of one ranked list.

    Returns one row per gene set that passes the size filter: gene_set, size (genes of the set in
    the list), es, nes, pvalue (nominal), fdr (GSEA's FDR q-value within this call's sets),
    leading_edge (``;``-separated), seed. Rows are ordered by p-value, then |NES| and name.
    """
    import gseapy

    columns = ["gene_set", "size", "es", "nes", "pvalue", "fdr", "leading_edge", "seed"]
    matched = _matched(gene_sets, ranking.index, min_size, max_size)
    if not matched:
        return pd.DataFrame(columns=columns)
    result = gseapy.prerank(rnk=ranking, gene_sets=matched, permutation_num=permutations, seed=seed,
                            threads=threads, min_size=min_size, max_size=max_size, outdir=None,
                            no_plot=True, verbose=False)
    frame = result.res2d
    table = pd.DataFrame({
        "gene_set": frame["Term"].astype(str).to_numpy(),
        "size": [len(matched[t]) for t in frame["Term"].astype(str)],
        "es": frame["ES"].astype(float).to_numpy(),
        "nes": frame["NES"].astype(float).to_numpy(),
        "pvalue": frame["NOM p-val"].astype(float).to_numpy(),
        "fdr": frame["FDR q-val"].astype(float).to_numpy(),
        "leading_edge": frame["Lead_genes"].astype(str).to_numpy(),
        "seed": int(seed),
    })
    order = np.lexsort((table["gene_set"].to_numpy(), -np.abs(table["nes"].to_numpy()),
                        table["pvalue"].to_numpy()))
    return table.iloc[order].reset_index(drop=True)[columns]


def residual_effects(values: pd.DataFrame, design: pd.DataFrame) -> pd.DataFrame:
    """Residual effects of a linear model, standardised per feature (limma's camera does the same).

    ``values`` is samples x features (complete), ``design`` samples x coefficients. The last
    ``n - p`` rows of ``Q' y`` (``Q`` from the complete QR decomposition of the design) are
    independent residual effects with the same correlation between features as the errors; each
    feature is scaled to unit mean square. Returns (n - p) x features.
    """
    x = design.loc[values.index].to_numpy(dtype=float)
    q, _ = np.linalg.qr(x, mode="complete")
    effects = (q.T @ values.to_numpy(dtype=float))[x.shape[1]:]
    scale = np.sqrt((effects ** 2).mean(axis=0))
    scale[scale == 0] = np.nan
    return pd.DataFrame(effects / scale, columns=values.columns)


def contrast_residual_effects(values: pd.DataFrame, obs: pd.DataFrame,
                              contrast: Contrast) -> pd.DataFrame:
    """:func:`residual_effects` of ``values`` (samples x features) under the contrast's design."""
    frame = design_frame(obs, contrast)
    return residual_effects(values.loc[frame.index], design_matrix(frame))


def correlation_adjusted_set_test(z: pd.Series, residuals: pd.DataFrame,
                                  gene_sets: Mapping[str, Iterable[str]],
                                  gene_of: Mapping[str, str] | None = None, min_size: int = 3,
                                  max_size: int = 500,
                                  inter_gene_correlation: float | None = None) -> pd.DataFrame:
    """Competitive gene-set test allowing for inter-gene correlation (CAMERA, Wu & Smyth 2012).

    The definitions are those of limma's ``camera`` (checked against limma 3.54 by
    ``bench/camera_vs_r.py``). ``z`` holds one normal score per feature (the differential
    statistic turned into a z-score, :func:`z_scores`), ``residuals`` the ``d = n - p`` standardised
    residual effects of the same features (:func:`residual_effects`). Of the ``G`` features with
    both, a set has ``m``; with ``U`` its residual effects,

    - ``rho = (VIF - 1) / (m - 1)``, ``VIF = m * mean over the d rows of (mean of U over the set)^2``
      (the set's mean inter-gene correlation), unless ``inter_gene_correlation`` fixes ``rho``
      (then ``VIF = 1 + (m - 1) * rho``; limma's default is 0.01);
    - ``VIF`` is floored at 1 (limma's ``allow.neg.cor = FALSE``): a negative mean correlation
      estimated from ~20 samples is noise and would make the test anti-conservative;
    - ``delta = G / (G - m) * (mean z in set - mean z overall)``, the set's mean minus the others';
      ``s2 = ((G - 1) var(z) - delta^2 m (G - m) / G) / (G - 2)``, the pooled variance;
      ``t = delta / sqrt(s2 (VIF / m + 1 / (G - m)))``;
    - ``t`` is referred to a t distribution on ``min(d, G - 2)`` df when ``rho`` is estimated
      (the VIF is itself estimated from only ``d`` residual rows) and on ``G - 2`` df when it is
      fixed; ``pvalue`` is two-sided, ``direction`` the sign of ``t`` (``up``: higher in target).

    A programme of co-regulated genes that happens to move with the groups is thus not mistaken
    for m independent signals (which gene permutation assumes). ``fdr`` is Benjamini–Hochberg over
    the sets tested. Columns: gene_set, size, inter_gene_correlation (the estimate before the
    floor, as limma reports it, or the fixed value), mean_z, t, direction, pvalue, fdr.
    """
    # Features in z's order with a finite score and finite residuals (one vectorised pass: a lookup per
    # feature of ~20,000 cost more than the test).
    complete = pd.Series(np.isfinite(residuals.to_numpy(dtype=float)).all(axis=0), index=residuals.columns)
    usable = np.isfinite(z.to_numpy(dtype=float)) & complete.reindex(z.index, fill_value=False).to_numpy(dtype=bool)
    features = list(z.index[usable])
    stat = z[features].to_numpy(dtype=float)
    units = residuals[features].to_numpy(dtype=float)
    genes = [str(gene_of.get(f, f)) if gene_of else str(f) for f in features]
    positions: dict[str, list[int]] = {}
    for i, gene in enumerate(genes):
        positions.setdefault(gene, []).append(i)
    total = len(features)
    estimated = inter_gene_correlation is None
    df = min(units.shape[0], total - 2) if estimated else total - 2
    mean_all, var_all = stat.mean(), stat.var(ddof=1)
    rows = []
    for name, members in gene_sets.items():
        index = sorted(i for gene in dict.fromkeys(members) for i in positions.get(gene, []))
        m = len(index)
        if not min_size <= m <= max_size or m >= total - 1:
            continue
        if estimated and m == 1:
            vif, rho = 1.0, np.nan
        elif estimated:
            vif = m * float(np.mean(units[:, index].mean(axis=1) ** 2))
            rho = (vif - 1) / (m - 1)
        else:
            rho = float(inter_gene_correlation)
            vif = 1 + (m - 1) * rho
        delta = total / (total - m) * (stat[index].mean() - mean_all)
        var_pooled = ((total - 1) * var_all - delta ** 2 * m * (total - m) / total) / (total - 2)
        t = delta / np.sqrt(var_pooled * (max(vif, 1.0) / m + 1.0 / (total - m)))
        rows.append({"gene_set": name, "size": m, "inter_gene_correlation": rho,
                     "mean_z": float(stat[index].mean()), "t": float(t),
                     "direction": "down" if t < 0 else "up",
                     "pvalue": float(2 * t_sf(abs(t), df))})
    table = pd.DataFrame(rows, columns=["gene_set", "size", "inter_gene_correlation", "mean_z", "t",
                                        "direction", "pvalue"])
    table["fdr"] = benjamini_hochberg(table["pvalue"].to_numpy(dtype=float))
    return table


def z_scores(table: pd.DataFrame) -> pd.Series:
    """Per-feature normal scores with the differential test's two-sided p-value and sign.

    For DESeq2 this is the Wald statistic itself; for a moderated t it is limma's ``zscoreT``
    (exact quantile version; camera uses Hill's approximation, which differs by < 1e-7 in
    ``tests/test_enrichment.py``).
    """
    pvalue = pd.to_numeric(table["pvalue"], errors="coerce").to_numpy(dtype=float)
    sign = np.sign(pd.to_numeric(table["stat"], errors="coerce").to_numpy(dtype=float))
    z = sign * normal_isf(np.clip(pvalue, 1e-300, 1.0) / 2)
    return pd.Series(z, index=table["feature"].astype(str).to_numpy())


def over_representation(selected: Iterable[str], background: Iterable[str],
                        gene_sets: Mapping[str, Iterable[str]], min_size: int = 3,
                        max_size: int = 500) -> pd.DataFrame:
    """Hypergeometric over-representation of ``selected`` genes in each set, within ``background``.

    Only background genes count: selected genes outside the background are ignored and each set
    is restricted to the background before its size filter. p = P(X >= overlap) for X
    hypergeometric(background size, set size, selected size); ``fdr`` is Benjamini–Hochberg over
    every set that passed the size filter, whatever its overlap. Columns: gene_set, overlap,
    set_size, selected_size, background_size, expected, pvalue, fdr, genes.
    """
    from scipy import stats  # imported where used: the other enrichment steps need only distributions' tails

    universe = list(dict.fromkeys(str(g) for g in background))
    universe_set = set(universe)
    query = sorted(set(str(g) for g in selected) & universe_set)
    matched = _matched(gene_sets, universe, min_size, max_size)
    rows = []
    for name, genes in matched.items():
        hits = sorted(set(genes) & set(query))
        pvalue = float(stats.hypergeom.sf(len(hits) - 1, len(universe), len(genes), len(query)))
        rows.append({"gene_set": name, "overlap": len(hits), "set_size": len(genes),
                     "selected_size": len(query), "background_size": len(universe),
                     "expected": len(genes) * len(query) / len(universe), "pvalue": pvalue,
                     "genes": ";".join(hits)})
    columns = ["gene_set", "overlap", "set_size", "selected_size", "background_size", "expected",
               "pvalue", "fdr", "genes"]
    table = pd.DataFrame(rows, columns=[c for c in columns if c != "fdr"])
    table["fdr"] = benjamini_hochberg(table["pvalue"].to_numpy(dtype=float))
    order = np.lexsort((table["gene_set"].to_numpy(), table["pvalue"].to_numpy(dtype=float)))
    return table.iloc[order].reset_index(drop=True)[columns]


def ora_by_direction(table: pd.DataFrame, gene_sets: Mapping[str, Iterable[str]],
                     padj_threshold: float = 0.05, min_size: int = 3, max_size: int = 500,
                     gene_of: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Over-representation of the significant features of one differential table, by direction.

    The background is every feature with an adjusted p-value (the features actually tested);
    selected are those with ``padj < padj_threshold`` and a positive (``up``: higher in target),
    negative (``down``) or any (``any``) effect. FDR is within each direction.
    """
    tested = table[pd.to_numeric(table["padj"], errors="coerce").notna()]
    genes = tested["feature"].astype(str)
    if gene_of is not None:
        genes = genes.map(lambda f: str(gene_of.get(f, f)))
    padj = tested["padj"].to_numpy(dtype=float)
    effect = tested["effect"].to_numpy(dtype=float)
    significant = padj < padj_threshold
    selections = {"up": significant & (effect > 0), "down": significant & (effect < 0),
                  "any": significant}
    parts = []
    for direction, mask in selections.items():
        part = over_representation(genes[mask], genes, gene_sets, min_size, max_size)
        parts.append(part.assign(direction=direction))
    combined = pd.concat(parts, ignore_index=True)
    return combined[["direction"] + [c for c in combined.columns if c != "direction"]]


def running_enrichment_score(ranking: pd.Series, gene_set: Iterable[str],
                             weight: float = 1.0) -> dict:
    """The GSEA running sum of one set along a ranked list (Subramanian et al. 2005).

    A hit adds ``|r|^weight / sum over hits |r|^weight``, a miss subtracts ``1 / (N - N_hits)``;
    the enrichment score is the running sum's largest deviation from zero. Returns ``running``
    (array), ``hits`` (0-based positions) and ``es``.
    """
    members = set(gene_set)
    in_set = np.array([g in members for g in ranking.index])
    if not in_set.any() or in_set.all():
        raise ValueError("the gene set must contain some, but not all, ranked genes")
    weights = np.abs(ranking.to_numpy(dtype=float)) ** weight
    hit_step = np.where(in_set, weights, 0.0)
    total = hit_step.sum()
    hit_step = hit_step / total if total > 0 else in_set / in_set.sum()
    miss_step = np.where(in_set, 0.0, 1.0 / (~in_set).sum())
    running = np.cumsum(hit_step - miss_step)
    extreme = int(np.argmax(np.abs(running)))
    return {"running": running, "hits": np.flatnonzero(in_set), "es": float(running[extreme])}


def single_sample_scores(expression: pd.DataFrame, gene_sets: Mapping[str, list[str]],
                         min_size: int = 3, max_size: int = 500, weight: float = 0.25) -> pd.DataFrame:
    """ssGSEA enrichment scores (Barbie et al. 2009, via gseapy) per sample and gene set.

    ``expression`` is samples x genes on a log scale (VST). Genes are ranked within each sample;
    the score is the unnormalised ssGSEA enrichment score, which does not depend on which other
    sets are scored. Returns samples x gene sets (sets in input order).
    """
    import gseapy

    matched = _matched(gene_sets, expression.columns.astype(str), min_size, max_size)
    if not matched:
        raise AnalysisProblem(f"no gene set has enough measured genes for ssGSEA (min_size {min_size})",
                              fix="check that the GMT files use gene symbols, or lower enrichment.ssgsea_min_size")
    data = expression.T.copy()
    data.index = data.index.astype(str)
    result = gseapy.ssgsea(data=data, gene_sets=matched, outdir=None, sample_norm_method="rank",
                           min_size=min_size, max_size=max_size, permutation_num=0, weight=weight,
                           threads=1, no_plot=True, seed=0, verbose=False)
    frame = result.res2d
    scores = frame.pivot(index="Name", columns="Term", values="ES").astype(float)
    return scores.reindex(index=expression.index.astype(str),
                          columns=[n for n in matched if n in scores.columns])


def pathway_anndata(scores: pd.DataFrame, obs: pd.DataFrame, gene_sets: Mapping[str, list[str]],
                    collection_of: Mapping[str, str], params: dict) -> ad.AnnData:
    """The pathway scores as a modality-like AnnData (``results/pathways/normalised.h5ad``).

    obs = the RNA samples (their obs columns), var = gene sets with ``collection``, ``n_genes``
    (genes of the set measured) and ``genes``; X and ``layers["raw"]`` = ssGSEA scores.
    """
    values = scores.to_numpy(dtype=np.float64)
    var = pd.DataFrame(index=pd.Index(scores.columns.astype(str), name="gene_set"))
    var["collection"] = [collection_of.get(s, "") for s in var.index]
    var["n_genes"] = [len(gene_sets[s]) for s in var.index]
    var["genes"] = [";".join(gene_sets[s]) for s in var.index]
    sample_obs = obs.loc[scores.index].copy()
    return ad.AnnData(X=values.copy(), obs=sample_obs, var=var, layers={"raw": values},
                      uns={"params": params})


def gene_symbols(var: pd.DataFrame) -> dict[str, str] | None:
    """Feature -> gene symbol from a ``gene`` / ``gene_symbol`` column of var, when there is one."""
    for column in ("gene", "gene_symbol", "Gene", "symbol"):
        if column in var.columns:
            symbols = var[column].astype(str)
            return {str(f): (s if s.strip() else str(f)) for f, s in symbols.items()}
    return None


def prerank_collections(ranking: pd.Series, collections: Mapping[str, Mapping[str, list[str]]],
                        permutations: int = 1000, seed: int = 0, min_size: int = 3,
                        max_size: int = 500, z: pd.Series | None = None,
                        residuals: pd.DataFrame | None = None,
                        gene_of: Mapping[str, str] | None = None) -> pd.DataFrame:
    """:func:`preranked_gsea` of one ranked list against each collection separately.

    Each collection (GMT file) is its own FDR family, so adding a large collection never changes
    the FDR of the curated signatures. A ``collection`` column comes first. With ``z`` and
    ``residuals``, the correlation-adjusted test of :func:`correlation_adjusted_set_test` is added
    as ``inter_gene_correlation``, ``camera_pvalue`` and ``camera_fdr`` (FDR within collection).
    """
    parts = []
    for name, gene_sets in collections.items():
        part = preranked_gsea(ranking, gene_sets, permutations, seed, min_size, max_size)
        if z is not None and residuals is not None:
            camera = correlation_adjusted_set_test(z, residuals, gene_sets, gene_of, min_size,
                                                   max_size).set_index("gene_set")
            part["inter_gene_correlation"] = part["gene_set"].map(camera["inter_gene_correlation"])
            part["camera_pvalue"] = part["gene_set"].map(camera["pvalue"])
            part["camera_fdr"] = part["gene_set"].map(camera["fdr"])
        parts.append(part.assign(collection=name))
    table = pd.concat(parts, ignore_index=True)
    return table[["collection"] + [c for c in table.columns if c != "collection"]]


def ora_collections(table: pd.DataFrame, collections: Mapping[str, Mapping[str, list[str]]],
                    padj_threshold: float = 0.05, min_size: int = 3, max_size: int = 500,
                    gene_of: Mapping[str, str] | None = None) -> pd.DataFrame:
    """:func:`ora_by_direction` against each collection (FDR within collection and direction)."""
    parts = [ora_by_direction(table, gene_sets, padj_threshold, min_size, max_size, gene_of)
             .assign(collection=name) for name, gene_sets in collections.items()]
    combined = pd.concat(parts, ignore_index=True)
    return combined[["collection"] + [c for c in combined.columns if c != "collection"]]


def leading_set_curves(ranking: pd.Series, prerank: pd.DataFrame,
                       collections: Mapping[str, Mapping[str, list[str]]], n_sets: int = 4) -> dict:
    """Running-score curves of the ``n_sets`` sets with the smallest p-values (then largest |NES|).

    Keys are ``collection: gene set``; values hold ``running``, ``hits``, ``es``, ``nes``, ``fdr``.
    """
    order = np.lexsort((prerank["gene_set"].astype(str).to_numpy(),
                        -np.abs(prerank["nes"].to_numpy(dtype=float)),
                        prerank["pvalue"].to_numpy(dtype=float)))
    curves = {}
    for _, row in prerank.iloc[order].head(n_sets).iterrows():
        genes = collections[row["collection"]][row["gene_set"]]
        curve = running_enrichment_score(ranking, genes)
        curve.update(nes=float(row["nes"]), fdr=float(row["fdr"]))
        curves[f"{row['collection']}: {row['gene_set']}"] = curve
    return curves
