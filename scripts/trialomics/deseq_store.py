"""A fitted pydeseq2 ``DeseqDataSet`` kept between rules as an .h5ad file, not a pickle.

A pickle is code on load: whoever can write the file can run anything in the next job. The fit is
an AnnData (counts, design matrix, dispersions, LFCs, Cook's distances in obs/var/obsm/varm/layers/
uns), plus a few plain attributes (fit settings, the genes that are not all zero, ...). Those go
into ``uns`` as JSON (scalars) and arrays, and :func:`read_deseq_fit` rebuilds the DeseqDataSet
from data only: the same Wald tests and shrinkage follow as from the object in memory.
"""
from __future__ import annotations

import json
import os
from numbers import Number

import anndata as ad
import numpy as np
import pandas as pd

STATE_KEY = "trialomics_deseq_state"
# Attributes the DeseqDataSet rebuilds itself from the data (formula materialiser, optimiser), or
# holds only while fitting (the counts of genes being refitted).
REBUILT_ATTRIBUTES = frozenset({"formulaic_contrasts", "inference", "counts_to_refit"})
# Keyword arguments of DeseqDataSet() restored from the stored settings.
SETTINGS = ("design", "fit_type", "min_mu", "min_disp", "max_disp", "refit_cooks", "min_replicates",
            "beta_tol", "size_factors_fit_type", "low_memory")


def _fit_state(dds) -> dict:
    """The DeseqDataSet's own attributes (beyond AnnData's), split by how they are stored."""
    anndata_fields = set(ad.AnnData().__dict__)
    scalars, arrays, indexes = {}, {}, {}
    for name, value in vars(dds).items():
        if name in anndata_fields or name in REBUILT_ATTRIBUTES or value is None:
            continue
        if isinstance(value, (str, bool, np.bool_)):
            scalars[name] = value if isinstance(value, str) else bool(value)
        elif isinstance(value, Number):
            scalars[name] = value.item() if isinstance(value, np.generic) else value
        elif isinstance(value, pd.Index):
            indexes[name] = np.asarray(value.astype(str), dtype=object)
        elif isinstance(value, np.ndarray):
            arrays[name] = value
        else:
            raise TypeError(f"cannot store the DeseqDataSet attribute {name!r} ({type(value).__name__}) as data")
    return {"scalars": json.dumps(scalars, sort_keys=True), "arrays": arrays, "indexes": indexes}


def _plain(value):
    """A plain DataFrame for formulaic's ModelMatrix (a DataFrame subclass h5ad cannot write)."""
    if isinstance(value, pd.DataFrame):
        return pd.DataFrame(value.to_numpy(), index=value.index, columns=list(value.columns))
    return value


def write_deseq_fit(dds, path: str | os.PathLike) -> None:
    """Write a fitted DeseqDataSet as .h5ad (atomically, through ``tables.write_h5ad``)."""
    from .tables import write_h5ad

    state = _fit_state(dds)
    # Series in uns (the dispersion trend's coefficients) are kept as index and values.
    uns = {key: value for key, value in dds.uns.items() if not isinstance(value, pd.Series)}
    state["series"] = {key: {"index": np.asarray(value.index.astype(str), dtype=object),
                             "values": value.to_numpy()}
                       for key, value in dds.uns.items() if isinstance(value, pd.Series)}
    uns[STATE_KEY] = state
    plain = ad.AnnData(X=np.asarray(dds.X), obs=dds.obs.copy(), var=dds.var.copy(),
                       obsm={k: _plain(v) for k, v in dds.obsm.items()},
                       varm={k: _plain(v) for k, v in dds.varm.items()}, layers=dict(dds.layers), uns=uns)
    write_h5ad(plain, path)


def read_deseq_fit(path: str | os.PathLike, n_cpus: int = 1):
    """The DeseqDataSet written by :func:`write_deseq_fit`, ready for ``DeseqStats``."""
    from pydeseq2.dds import DeseqDataSet

    adata = ad.read_h5ad(path)
    state = adata.uns.pop(STATE_KEY)
    for key, series in state.get("series", {}).items():
        adata.uns[key] = pd.Series(np.asarray(series["values"]),
                                   index=pd.Index(np.asarray(series["index"]).astype(str), dtype=object))
    scalars = json.loads(state["scalars"])
    design_matrix = adata.obsm["design_matrix"].copy()
    settings = {name: scalars.pop(name) for name in SETTINGS if name in scalars}
    dds = DeseqDataSet(adata=adata, n_cpus=n_cpus, quiet=True, **settings)
    # The stored design matrix is the one the fit used (column names and level order included).
    dds.obsm["design_matrix"] = design_matrix
    for name, value in scalars.items():
        setattr(dds, name, value)
    for name, value in state.get("arrays", {}).items():
        setattr(dds, name, np.asarray(value))
    for name, value in state.get("indexes", {}).items():
        setattr(dds, name, pd.Index(np.asarray(value).astype(str), dtype=object))
    return dds
