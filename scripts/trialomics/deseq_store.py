"""A fitted pydeseq2 ``DeseqDataSet`` kept between rules as an .h5ad file, not a pickle.

A pickle is code on load: whoever can write the file can run anything in the next job. The fit is
an AnnData (counts, design matrix, dispersions, LFCs, Cook's distances in obs/var/obsm/varm/layers/
uns), plus a few plain attributes (fit settings, the genes that are not all zero, ...). Those go
into ``uns`` as JSON (scalars) and arrays (:func:`stored_state` reads them back), so the file holds
data only: :class:`~trialomics.deseq_results.DeseqFit` reads it for the Wald tests and shrinkage of a
contrast, which come out the same as from the object in memory (tested).
"""
from __future__ import annotations

import json
import os
from numbers import Number

import anndata as ad
import numpy as np
import pandas as pd

STATE_KEY = "trialomics_deseq_state"
# Attributes that are code, not data (formula materialiser, optimiser), or held only while fitting
# (the counts of genes being refitted).
NOT_STORED = frozenset({"formulaic_contrasts", "inference", "counts_to_refit"})


def _fit_state(dds) -> dict:
    """The DeseqDataSet's own attributes (beyond AnnData's), split by how they are stored."""
    anndata_fields = set(ad.AnnData().__dict__)
    scalars, arrays, indexes = {}, {}, {}
    for name, value in vars(dds).items():
        if name in anndata_fields or name in NOT_STORED or value is None:
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


def stored_state(adata) -> dict:
    """The DeseqDataSet's own attributes (settings, gene subsets, ...) stored in ``adata`` by
    :func:`write_deseq_fit`, one dict; removed from ``uns`` (the dispersion trend's Series put back)."""
    state = adata.uns.pop(STATE_KEY)
    for key, series in state.get("series", {}).items():
        adata.uns[key] = pd.Series(np.asarray(series["values"]),
                                   index=pd.Index(np.asarray(series["index"]).astype(str), dtype=object))
    attributes = json.loads(state["scalars"])
    attributes.update({name: np.asarray(value) for name, value in state.get("arrays", {}).items()})
    attributes.update({name: pd.Index(np.asarray(value).astype(str), dtype=object)
                       for name, value in state.get("indexes", {}).items()})
    return attributes
