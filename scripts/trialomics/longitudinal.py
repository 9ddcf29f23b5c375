"""On-treatment samples: per-patient change from baseline as a feature block, its tests and paired plots.

A trial that re-samples patients on treatment asks two questions of those samples:

- what does treatment change in everyone (a paired differential contrast, ``pair_by: patient``, in
  :mod:`trialomics.differential`);
- does the early change in a patient predict their response (this module): the change from baseline
  (on-treatment minus baseline of the same patient) becomes a block of per-patient features,
  ``<modality>_change`` (:func:`change_block`), that the survival screens and the nested-CV models use
  exactly as they use a baseline modality, and that :func:`change_tests` compares between response
  groups.

Values differenced: RNA ``X`` (VST, log2 scale, so the change is a log2 fold change within the patient);
proteins ``X`` (log2, normalised, batch corrected and imputed: the models need complete blocks, and a
patient's two samples share a plex in well-designed studies, so plex effects cancel). The change is a
landmark feature: only patients still on study at the on-treatment timepoint have one, which the report
says (patients who progress or die before it are not in the block).

DAG parsing uses :func:`on_treatment_timepoint` and :func:`paired_patient_count` (pandas only); the
rest imports anndata and matplotlib when called.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

BASELINE = "baseline"
#: Modalities whose on-treatment samples become a change block, and the matrix differenced.
CHANGE_MODALITIES = ("rna", "proteins")
CHANGE_SUFFIX = "_change"
#: The ``timepoint`` of a change block's rows: patient-level analyses (``survival.baseline_matrix``,
#: models, ranking) take the one row per patient at this timepoint, so a change block is read like a
#: baseline block; ``change_timepoint`` holds the on-treatment timepoint the change was measured at.
PATIENT_LEVEL_TIMEPOINT = BASELINE


def change_block_name(modality: str) -> str:
    """``rna`` -> ``rna_change``: the block name the survival screens, models and ranking use."""
    return f"{modality}{CHANGE_SUFFIX}"


def _natural_key(label: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", label))


def on_treatment_timepoint(timepoints: Iterable[str], configured: str | None = None) -> str | None:
    """The on-treatment timepoint compared with baseline.

    ``configured`` (``longitudinal.timepoint``) when given; else the earliest non-baseline timepoint by
    the natural order of its label (``C2D1`` before ``C3D1`` before ``C10D1``; digits compare as
    numbers). None when there is no non-baseline timepoint.
    """
    if configured:
        return str(configured)
    others = sorted({str(t) for t in timepoints if str(t) and str(t) != BASELINE}, key=_natural_key)
    return others[0] if others else None


def paired_patient_count(samples: pd.DataFrame, modality: str, timepoint: str) -> int:
    """Patients with a ``modality`` sample at both baseline and ``timepoint`` (the sample sheet's rows)."""
    rows = samples[samples["modality"] == modality]
    at = {t: set(rows.loc[rows["timepoint"].astype(str) == t, "patient_id"].astype(str))
          for t in (BASELINE, timepoint)}
    return len(at[BASELINE] & at[timepoint])


def change_values(adata, modality: str) -> pd.DataFrame:
    """Samples x features of the matrix a change is taken on (``X``, see the module docstring)."""
    if modality not in CHANGE_MODALITIES:
        raise ValueError(f"no change block for modality '{modality}' (only {', '.join(CHANGE_MODALITIES)})")
    matrix = adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X)
    return pd.DataFrame(matrix.astype(np.float64), index=adata.obs_names.astype(str),
                        columns=adata.var_names.astype(str))


def patient_pairs(obs: pd.DataFrame, timepoint: str) -> pd.DataFrame:
    """One row per patient with a sample at both baseline and ``timepoint``: patient_id,
    baseline_sample, on_treatment_sample (sorted by patient).

    Raises ValueError naming the patients with two samples at one of the timepoints.
    """
    rows = []
    for label, column in ((BASELINE, "baseline_sample"), (timepoint, "on_treatment_sample")):
        at = obs[obs["timepoint"].astype(str) == label]
        counts = at["patient_id"].astype(str).value_counts()
        if (counts > 1).any():
            raise ValueError(f"patients with more than one {label} sample: "
                             f"{', '.join(sorted(counts.index[counts > 1]))}; keep one sample per patient "
                             "and timepoint in samples.tsv")
        rows.append(pd.Series(at.index.astype(str), index=at["patient_id"].astype(str).to_numpy(), name=column))
    pairs = pd.concat(rows, axis=1, join="inner").sort_index()
    pairs.index.name = "patient_id"
    return pairs.reset_index()


def change_block(adata, modality: str, timepoint: str, min_pairs: int = 3):
    """The per-patient change block of one modality: ``timepoint`` minus baseline, one row per patient.

    ``obs`` is indexed by the on-treatment sample and holds ``patient_id``, ``batch`` (of the
    on-treatment sample), ``timepoint`` (:data:`PATIENT_LEVEL_TIMEPOINT`), ``change_timepoint``,
    ``baseline_sample`` and ``on_treatment_sample``; ``var`` is the modality's; ``X`` and
    ``layers["raw"]`` hold the change, ``layers["baseline"]`` and ``layers["on_treatment"]`` the two
    values it came from (for paired plots). Raises ValueError with fewer than ``min_pairs`` patients.
    """
    import anndata as ad

    pairs = patient_pairs(adata.obs, timepoint)
    if len(pairs) < min_pairs:
        raise ValueError(f"{modality}: {len(pairs)} patient(s) have samples at both baseline and "
                         f"'{timepoint}'; a change block needs at least {min_pairs} "
                         "(longitudinal.min_pairs)")
    values = change_values(adata, modality)
    baseline = values.loc[pairs["baseline_sample"]].to_numpy()
    on = values.loc[pairs["on_treatment_sample"]].to_numpy()
    change = on - baseline
    obs = pd.DataFrame({
        "patient_id": pairs["patient_id"].to_numpy(),
        "batch": adata.obs.loc[pairs["on_treatment_sample"], "batch"].astype(str).to_numpy(),
        "timepoint": PATIENT_LEVEL_TIMEPOINT,
        "change_timepoint": timepoint,
        "baseline_sample": pairs["baseline_sample"].to_numpy(),
        "on_treatment_sample": pairs["on_treatment_sample"].to_numpy(),
    }, index=pd.Index(pairs["on_treatment_sample"].to_numpy(), name="sample_id"))
    params = {"modality": modality, "change": f"{timepoint} minus {BASELINE}", "timepoint": timepoint,
              "values": "X of results/{}/normalised.h5ad".format(modality), "n_pairs": int(len(pairs))}
    return ad.AnnData(X=change.copy(), obs=obs, var=adata.var.copy(),
                      layers={"raw": change, "baseline": baseline, "on_treatment": on},
                      uns={"params": params})


def change_tests(block, labels: pd.DataFrame, patients: pd.DataFrame, contrasts: Sequence,
                 min_per_level: int = 3) -> dict[str, pd.DataFrame]:
    """Per response contrast: limma's moderated t of the change between the contrast's groups.

    ``block`` is a :func:`change_block`; ``contrasts`` are :class:`~trialomics.contrasts.Contrast` on
    patient-level variables (not on timepoint). The change is already within-patient, so comparing it
    between groups is the time x response interaction of a paired design. Returns contrast id ->
    table in the differential tables' layout, with its own ``effect_type`` and ``family``.
    """
    from . import differential as dx
    from .cohort import label_samples
    from .differential_proteins import limma_results

    obs = label_samples(block, labels, patients).obs
    values = dx.feature_matrix(block)
    name = block.uns["params"]["modality"]
    tables = {}
    for contrast in contrasts:
        table = limma_results(values, obs, contrast, min_per_level=min_per_level)
        table["effect_type"] = (f"difference of mean change ({block.uns['params']['change']}), "
                                "target minus reference (limma coefficient)")
        table["family"] = dx.family_label(change_block_name(name), contrast.id)
        tables[contrast.id] = table
    return tables


def top_change_features(screens: Mapping[str, pd.DataFrame], n: int) -> pd.DataFrame:
    """The ``n`` features with the smallest p-value in any of a change block's screens.

    ``screens`` maps a screen name (endpoint or contrast) to a table with feature and pvalue. Returns
    feature, best_pvalue and screen (where it was smallest), ordered by p-value then feature.
    """
    rows = []
    for screen, table in screens.items():
        tested = table[pd.to_numeric(table["pvalue"], errors="coerce").notna()]
        rows.append(pd.DataFrame({"feature": tested["feature"].astype(str),
                                  "pvalue": pd.to_numeric(tested["pvalue"]).astype(float), "screen": screen}))
    if not rows:
        return pd.DataFrame(columns=["feature", "best_pvalue", "screen"])
    every = pd.concat(rows, ignore_index=True).sort_values(["pvalue", "feature", "screen"], kind="stable")
    best = every.drop_duplicates("feature").head(n)
    return best.rename(columns={"pvalue": "best_pvalue"}).reset_index(drop=True)


def plot_paired(block, features: Sequence[str], groups: pd.Series, title: str, value_label: str,
                group_name: str = "responder"):
    """Spaghetti plots: one panel per feature, one line per patient from baseline to on-treatment.

    ``groups`` maps patient_id to the group colouring the line (``yes``/``no``/other: grey); the
    panel title gives the median change per group.
    """
    from matplotlib.lines import Line2D

    from . import style

    n = max(1, len(features))
    columns = min(4, n)
    rows = int(np.ceil(n / columns))
    fig, axes = style.new_figure(2.6 * columns + 0.4, 2.6 * rows + 0.6, nrows=rows, ncols=columns, squeeze=False)
    timepoint = block.uns["params"]["timepoint"]
    patients = block.obs["patient_id"].astype(str).to_numpy()
    group = np.array([str(groups.get(p, "")) or "NA" for p in patients])
    names = list(block.var_names.astype(str))
    for k, ax in enumerate(axes.ravel()):
        if k >= len(features):
            ax.set_visible(False)
            continue
        j = names.index(features[k])
        before = np.asarray(block.layers["baseline"])[:, j]
        after = np.asarray(block.layers["on_treatment"])[:, j]
        order = np.argsort(group == "yes", kind="stable")  # the group of interest drawn on top
        for i in order:
            colour = style.GROUP_COLOURS.get(group[i], style.GROUP_COLOURS["NA"])
            ax.plot([0, 1], [before[i], after[i]], color=colour, marker="o", markersize=3, linewidth=1.0,
                    alpha=0.85)
        medians = ", ".join(f"{g} {np.median(after[group == g] - before[group == g]):+.2f}"
                            for g in ("yes", "no") if (group == g).any())
        ax.set_title(f"{features[k]}\nmedian change: {medians}", fontsize=8)
        ax.set_xticks([0, 1], [BASELINE, timepoint])
        ax.set_xlim(-0.25, 1.25)
        if k % columns == 0:
            ax.set_ylabel(value_label)
    handles = [Line2D([], [], color=style.GROUP_COLOURS[g], marker="o", label=f"{group_name} {g}")
               for g in ("yes", "no")]
    fig.legend(handles=handles, loc="lower center", ncol=2, frameon=False, fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig
