"""Join per-modality AnnData with patient labels and covariates; build the multi-omics cohort."""
from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:  # imported where an AnnData is built: the jobs that only read need no anndata
    import anndata as ad

LABEL_COLUMNS = ("bor", "responder", "clinical_benefit", "disease_control", "pfs_months", "pfs_event",
                 "os_months", "os_event", "best_pct_change", "bor_unconfirmed")
# Numeric label columns: labels.tsv is read as strings, these become floats (empty -> NaN).
NUMERIC_LABELS = ("pfs_months", "pfs_event", "os_months", "os_event", "best_pct_change")


OBS_COLUMNS = ("patient_id", "batch", "timepoint")


def sample_obs(sample_ids, sample_meta: pd.DataFrame) -> pd.DataFrame:
    """Return the AnnData ``obs`` for ``sample_ids``: patient_id, batch and timepoint as strings.

    ``sample_meta`` is indexed by sample_id. Raises ValueError naming the samples it lacks.
    """
    sample_ids = [str(s) for s in sample_ids]
    missing = [s for s in sample_ids if s not in sample_meta.index]
    if missing:
        raise ValueError(
            f"samples missing from the sample metadata: {', '.join(missing)}; "
            "every sample with data needs a row in samples.tsv"
        )
    absent_columns = [c for c in OBS_COLUMNS if c not in sample_meta.columns]
    if absent_columns:
        raise ValueError(f"sample metadata lacks column(s): {', '.join(absent_columns)}")
    obs = sample_meta.loc[sample_ids, list(OBS_COLUMNS)].copy()
    obs = obs.fillna("").astype(str)
    obs.index = pd.Index(sample_ids, name="sample_id")
    return obs


def label_samples(adata: ad.AnnData, labels: pd.DataFrame, patients: pd.DataFrame,
                  covariates: Iterable[str] | None = None) -> ad.AnnData:
    """Return a copy of ``adata`` whose obs also holds each sample's patient labels and covariates.

    ``labels`` is ``clinical/labels.tsv`` (one row per patient); ``patients`` is patients.tsv as read
    by ``readers.read_patients``. ``covariates`` names the patients.tsv columns to add (None: every
    column; files written for others pass only the configured ones, so that dates and free text stay
    out). Label columns win over same-named patients.tsv columns (derived values are used when both
    exist). Every sample is kept; a patient without labels gets missing values, never a dropped row.
    """
    out = adata.copy()
    patient_table = patients.set_index("patient_id")
    if covariates is not None:
        wanted = set(covariates)
        patient_table = patient_table[[c for c in patient_table.columns if c in wanted]]
    label_table = labels.set_index("patient_id")
    covariates = patient_table.drop(columns=[c for c in patient_table.columns
                                             if c in label_table.columns])
    joined = label_table.join(covariates, how="outer")
    joined = joined.drop(columns=[c for c in joined.columns if c in out.obs.columns])
    extra = joined.reindex(out.obs["patient_id"].to_numpy())
    extra.index = out.obs_names
    for column in extra.columns:
        series = extra[column]
        if column in NUMERIC_LABELS:
            series = pd.to_numeric(series, errors="coerce").astype(float)
        elif pd.api.types.is_datetime64_any_dtype(series):
            series = series.dt.strftime("%Y-%m-%d").fillna("")
        elif series.dtype == object:
            series = series.fillna("").astype(str)
        out.obs[column] = series
    return out


def one_sample_per_patient(adata: ad.AnnData, timepoint: str = "baseline") -> ad.AnnData:
    """Restrict to samples at ``timepoint`` and check that each patient has at most one.

    Analyses by patient (differential, survival, models) use this view. Raises ValueError naming
    the patient when two samples of one modality share the timepoint.
    """
    view = adata[adata.obs["timepoint"].astype(str) == timepoint]
    counts = view.obs["patient_id"].value_counts()
    duplicated = counts[counts > 1]
    if len(duplicated):
        raise ValueError(
            f"patients with more than one {timepoint} sample: {', '.join(sorted(duplicated.index))}; "
            "keep one sample per patient and timepoint in samples.tsv"
        )
    return view.copy()


def sample_metadata_frame(metadata: dict) -> pd.DataFrame:
    """The ``{sample_id: {patient_id, batch, timepoint}}`` mapping a rule receives, as a DataFrame."""
    frame = pd.DataFrame.from_dict(metadata, orient="index", dtype=str)
    frame = frame.reindex(columns=["patient_id", "batch", "timepoint"]).fillna("")
    frame.index = frame.index.astype(str)
    frame.index.name = "sample_id"
    return frame.sort_index()


def coverage_table(patient_ids, adatas: dict[str, ad.AnnData], modalities,
                   labels: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per patient, one yes/no column per modality: which data each patient has.

    Every patient of patients.tsv is listed, including those with no omics at all; a patient counts
    as covered when any sample of the modality (any timepoint) is theirs. With ``labels`` (labels.tsv,
    with its ``not_yet_assessable`` column), ``labels_not_yet_assessable`` is ``yes`` for a patient
    with a label still pending follow-up.
    """
    table = pd.DataFrame({"patient_id": sorted(str(p) for p in patient_ids)})
    for modality in modalities:
        have = set()
        if modality in adatas:
            have = set(adatas[modality].obs["patient_id"].astype(str))
        table[modality] = ["yes" if p in have else "no" for p in table["patient_id"]]
    table["n_modalities"] = (table[list(modalities)] == "yes").sum(axis=1)
    if labels is not None and "not_yet_assessable" in labels.columns:
        pending = labels.set_index(labels["patient_id"].astype(str))["not_yet_assessable"].fillna("")
        table["labels_not_yet_assessable"] = [
            "yes" if pending.get(p, "") != "" else "no" for p in table["patient_id"]]
    return table


def build_cohort(adatas: dict[str, ad.AnnData], labels: pd.DataFrame, patients: pd.DataFrame, *,
                 covariates: Iterable[str]):
    """A MuData with one labelled AnnData per modality (obs indexed by sample, with patient_id).

    Of patients.tsv, only the ``covariates`` columns are carried (the analyses' covariates: see
    ``privacy.configured_covariates``), never its dates or free text.

    Modalities are joined through ``patient_id``: sample IDs differ between modalities, so the global
    obs is the union of samples and each modality keeps its own. Patients missing a modality are
    simply absent from that modality (see :func:`coverage_table`), never dropped from the others.
    """
    import mudata as md

    md.set_options(pull_on_update=False)
    labelled = {name: label_samples(adata, labels, patients, covariates) for name, adata in adatas.items()}
    with warnings.catch_warnings():
        # Each modality keeps its features' names as in its normalised.h5ad, so a gene measured by two
        # modalities repeats in the global var_names; mudata warns about that by design of this object.
        warnings.filterwarnings("ignore", message="var_names are not unique", category=UserWarning)
        cohort = md.MuData(labelled)
    cohort.uns["join_key"] = "patient_id"
    cohort.uns["modalities"] = list(labelled)
    return cohort


def patient_annotations(labels: pd.DataFrame, patients: pd.DataFrame,
                        covariates: Iterable[str] | None = None) -> pd.DataFrame:
    """Labels and patients.tsv covariates, one row per patient indexed by patient_id (sorted).

    Typed as :func:`label_samples` types a sample's: :data:`NUMERIC_LABELS` as floats, dates as
    ``YYYY-MM-DD`` text, other text as text (missing -> ""), numbers as numbers. ``covariates`` names
    the patients.tsv columns to keep (None: every column); label columns win over same-named
    patients.tsv columns.
    """
    patient_table = patients.set_index("patient_id")
    if covariates is not None:
        wanted = set(covariates)
        patient_table = patient_table[[c for c in patient_table.columns if c in wanted]]
    label_table = labels.set_index("patient_id")
    joined = label_table.join(patient_table.drop(columns=[c for c in patient_table.columns
                                                          if c in label_table.columns]), how="outer")
    joined.index = joined.index.astype(str)
    joined = joined.sort_index()
    joined.index.name = "patient_id"
    for column in joined.columns:
        series = joined[column]
        if column in NUMERIC_LABELS:
            joined[column] = pd.to_numeric(series, errors="coerce").astype(float)
        elif pd.api.types.is_datetime64_any_dtype(series):
            joined[column] = series.dt.strftime("%Y-%m-%d").fillna("")
        elif series.dtype == object:
            joined[column] = series.fillna("").astype(str)
    return joined


def patient_modality(adata: ad.AnnData, modality: str, timepoint: str = "baseline") -> ad.AnnData:
    """One modality of the patient-aligned cohort: each patient's ``timepoint`` sample, indexed by patient.

    ``obs_names`` are the patient IDs and ``obs`` keeps ``sample_id``, ``batch`` and ``timepoint``;
    ``var_names`` become ``<modality>:<feature>`` (unique across modalities, as MOFA+ needs), with the
    plain name in ``var["feature"]``. Raises ValueError when a patient has two such samples.
    """
    import anndata as ad

    view = one_sample_per_patient(adata, timepoint)
    obs = pd.DataFrame({"sample_id": view.obs_names.astype(str),
                        **{c: view.obs[c].astype(str).to_numpy() for c in ("batch", "timepoint") if c in view.obs}},
                       index=pd.Index(view.obs["patient_id"].astype(str).to_numpy(), name="patient_id"))
    var = view.var.copy()
    var.insert(0, "feature", view.var_names.astype(str))
    var.index = pd.Index([f"{modality}:{feature}" for feature in view.var_names], name="feature_id")
    aligned = ad.AnnData(X=view.X, obs=obs, var=var, layers=dict(view.layers), uns=dict(view.uns))
    return aligned[aligned.obs_names.sort_values()].copy()


def build_patient_cohort(adatas: dict[str, ad.AnnData], labels: pd.DataFrame, patients: pd.DataFrame,
                         covariates: Iterable[str] | None = None, timepoint: str = "baseline"):
    """The patient-aligned MuData (``cohort/cohort.h5mu``): ``obs`` = patients.

    One modality per omics layer (:func:`patient_modality`: each patient's ``timepoint`` sample; samples
    at other timepoints are only in the per-sample cohort of :func:`build_cohort`). A patient without a
    modality is not a row of it, which is muon's convention for a missing modality (``obsmap`` 0;
    ``muon.tl.mofa(use_obs="union")`` reads it as missing). The shared ``obs`` holds the labels and the
    ``covariates`` (:func:`patient_annotations`) of every patient with at least one modality; the
    others are listed in ``uns["patients_without_omics"]``.
    """
    import mudata as md

    md.set_options(pull_on_update=False)
    aligned = {name: patient_modality(adata, name, timepoint) for name, adata in adatas.items()}
    cohort = md.MuData(aligned)
    annotations = patient_annotations(labels, patients, covariates)
    present = annotations.reindex(cohort.obs_names)
    for column in present.columns:
        cohort.obs[column] = present[column].to_numpy()
    cohort.uns["view"] = "patients"
    cohort.uns["timepoint"] = timepoint
    cohort.uns["modalities"] = list(aligned)
    cohort.uns["patients_without_omics"] = sorted(set(annotations.index) - set(cohort.obs_names))
    return cohort
