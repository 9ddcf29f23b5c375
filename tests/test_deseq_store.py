"""A DESeq2 fit stored as .h5ad (not a pickle) gives the same Wald tests and shrinkage once read back."""
from __future__ import annotations

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest

from trialomics.deseq_results import DeseqFit
from trialomics.deseq_store import write_deseq_fit
from trialomics.differential_rna import deseq2_results
from trialomics.contrasts import Contrast


def fitted(refit_cooks: bool):
    from pydeseq2.dds import DeseqDataSet

    rng = np.random.default_rng(3)
    n, genes = 16, 300
    group = np.array(["no"] * 8 + ["yes"] * 8)
    means = rng.gamma(1.0, 200.0, genes) + 5
    size = 1 / (0.05 + 3 / means)  # dispersion falling with the mean: the parametric trend fits
    expected = means * np.where(group == "yes", 1.8, 1.0)[:, None]
    counts = rng.negative_binomial(size, size / (size + expected))
    counts[:, 0] = 0  # an all-zero gene
    counts[2, 5] = counts[:, 5].max() * 40  # a Cook's outlier, refitted (8 replicates >= min_replicates)
    frame = pd.DataFrame(counts, index=[f"s{i}" for i in range(n)], columns=[f"g{j}" for j in range(genes)])
    metadata = pd.DataFrame({"group": pd.Categorical(group, categories=["no", "yes"]),
                             "age": rng.normal(60, 8, n)}, index=frame.index)
    dds = DeseqDataSet(counts=frame, metadata=metadata, design="~age + group", refit_cooks=refit_cooks,
                       min_replicates=7, quiet=True, n_cpus=1)
    dds.deseq2()
    dds.cooks_outlier()   # as fit_deseq2 does
    dds.uns["trialomics_contrast_design"] = {"variable": "group", "reference": "no", "covariates": ["age"]}
    return dds


CONTRAST = Contrast("yes_vs_no", "group", "no", "yes", covariates=("age",))


def stored(dds, folder) -> DeseqFit:
    """``dds`` written by :func:`write_deseq_fit` into ``folder`` and read back."""
    path = folder / "fit.h5ad"
    write_deseq_fit(dds, path)
    return DeseqFit.read(path)


@pytest.mark.parametrize("refit_cooks", [True, False])
def test_stored_fit_gives_the_same_results(tmp_path, refit_cooks):
    dds = fitted(refit_cooks)
    loaded = stored(dds, tmp_path)
    in_memory = DeseqFit.from_dds(dds)
    for shrink in (False, True):
        pd.testing.assert_frame_equal(deseq2_results(loaded, CONTRAST, shrink=shrink),
                                      deseq2_results(in_memory, CONTRAST, shrink=shrink))
    assert loaded.design_info["variable"] == "group"
    assert list(loaded.genes[loaded.non_zero]) == list(dds.non_zero_genes)
    assert loaded.cooks_outlier.any() == bool(dds.cooks_outlier().any())


def test_a_fit_stored_without_cooks_flags_is_refused_with_the_fix(tmp_path):
    dds = fitted(False)
    path = tmp_path / "fit.h5ad"
    write_deseq_fit(dds, path)

    adata = ad.read_h5ad(path)
    del adata.var["_pvalue_cooks_outlier"]
    adata.write_h5ad(path)
    with pytest.raises(ValueError, match="older version; delete it"):
        DeseqFit.read(path)


def test_stored_fit_is_plain_hdf5_data(tmp_path):
    path = tmp_path / "fit.h5ad"
    write_deseq_fit(fitted(True), path)
    datasets = []
    with h5py.File(path) as handle:
        handle.visititems(lambda name, obj: datasets.append((name, obj.dtype)) if isinstance(obj, h5py.Dataset)
                          else None)
    # Numbers, booleans and text only: no opaque bytes that could hold a pickle.
    for name, dtype in datasets:
        assert dtype.kind in "biuf" or h5py.check_string_dtype(dtype) is not None, (name, dtype)
    assert b"pickle" not in path.read_bytes()
