"""Reading the workflow's own .h5ad files with h5py, for the jobs that only read a matrix and its samples.

Importing anndata costs a job about 0.3 CPU-s (it loads zarr, numcodecs and its input/output registry);
the models and survival jobs, 46 of a demo run's 97, only read one matrix and the sample table of files
this workflow wrote (``results/{modality}/normalised.h5ad``). :func:`read_samples` reads the part of the
AnnData on-disk format those files use (elements tagged by their ``encoding-type`` attribute): dense
``array`` matrices and ``dataframe`` tables whose columns are numeric ``array``, ``string-array`` or
``categorical``. A file with any other encoding (sparse matrices, nullable columns, written by someone
else) is read with ``anndata.read_h5ad`` instead, so every file reads. ``tests/test_h5ad_reader.py``
checks the result against anndata's on files written by anndata.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import h5py
import numpy as np
import pandas as pd


class UnsupportedEncoding(ValueError):
    """An element this reader does not decode (anndata reads it)."""


@dataclass
class SampleMatrix:
    """Samples x features values with their sample table: the AnnData attributes the analyses read.

    ``obs`` (indexed by sample), ``var_names``, ``X`` and ``layers`` mean what they mean in AnnData;
    indexing by a boolean mask over samples selects samples, as ``adata[mask]`` does (unused categories of
    the sample table dropped, as there).
    """

    X: np.ndarray
    obs: pd.DataFrame
    var_names: pd.Index
    layers: dict[str, np.ndarray] = field(default_factory=dict)

    def __getitem__(self, rows) -> SampleMatrix:
        rows = np.asarray(rows)
        if rows.dtype != bool or rows.shape != (len(self.obs),):
            raise IndexError("a SampleMatrix is indexed by a boolean mask over its samples")
        obs = self.obs.loc[rows]
        # As anndata's selection: categories no selected sample has are dropped.
        obs = obs.assign(**{column: obs[column].cat.remove_unused_categories() for column in obs.columns
                            if isinstance(obs[column].dtype, pd.CategoricalDtype)})
        return SampleMatrix(self.X[rows], obs, self.var_names, {name: layer[rows] for name, layer in self.layers.items()})

    def copy(self) -> SampleMatrix:
        return SampleMatrix(self.X.copy(), self.obs.copy(), self.var_names.copy(),
                            {name: layer.copy() for name, layer in self.layers.items()})


def read_samples(path) -> SampleMatrix:
    """``X``, ``layers``, ``obs`` and ``var_names`` of an .h5ad file (see the module docstring)."""
    try:
        with h5py.File(path, "r") as store:
            return SampleMatrix(X=_dense(store["X"]), obs=_dataframe(store["obs"]),
                                var_names=_dataframe_index(store["var"]),
                                layers={name: _dense(store["layers"][name]) for name in store.get("layers", {})})
    except UnsupportedEncoding:
        import anndata as ad

        adata = ad.read_h5ad(path)
        dense = (lambda m: m.toarray() if hasattr(m, "toarray") else np.asarray(m))
        return SampleMatrix(X=dense(adata.X), obs=adata.obs, var_names=adata.var_names,
                            layers={name: dense(layer) for name, layer in adata.layers.items()})


def _encoding(element) -> str:
    encoding = element.attrs.get("encoding-type", "")
    return encoding.decode() if isinstance(encoding, bytes) else str(encoding)


def _dense(element) -> np.ndarray:
    if not isinstance(element, h5py.Dataset) or _encoding(element) != "array":
        raise UnsupportedEncoding(f"{element.name}: encoding {_encoding(element)!r}")
    return element[()]


def _column(element):
    encoding = _encoding(element)
    if encoding == "array" and isinstance(element, h5py.Dataset) and element.dtype.kind in "biuf":
        return element[()]
    if encoding == "string-array":
        return element.asstr()[()].astype(object)
    if encoding == "categorical":
        categories = _column(element["categories"])
        return pd.Categorical.from_codes(element["codes"][()], categories=pd.Index(categories),
                                         ordered=bool(element.attrs.get("ordered", False)))
    raise UnsupportedEncoding(f"{element.name}: encoding {encoding!r}")


def _dataframe_index(group) -> pd.Index:
    if _encoding(group) != "dataframe":
        raise UnsupportedEncoding(f"{group.name}: encoding {_encoding(group)!r}")
    key = group.attrs["_index"]
    return pd.Index(_column(group[key]), name=None if key == "_index" else key)


def _dataframe(group) -> pd.DataFrame:
    index = _dataframe_index(group)
    columns = [str(c) for c in group.attrs.get("column-order", [])]
    return pd.DataFrame({column: _column(group[column]) for column in columns}, index=index, columns=columns)
