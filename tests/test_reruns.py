"""Reruns do only what a change requires (the planned jobs of a dry run, on a copy of the demo run).

- editing a comment in config.yaml reruns nothing;
- changing a model parameter reruns only the models and what reads them;
- adding two patients (new rows in samples.tsv and patients.tsv, new files) reruns the ingestion (one
  job per modality read sample by sample) and the cohort-level steps; the untouched samples' tables come
  out byte-identical.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import DEMO, run_snakemake

pytestmark = pytest.mark.e2e

INGESTION_RULES = {"rna": "rna_ingest", "mutations": "mutations_ingest"}
NEW_PATIENTS = {"BTC91": "BTC01", "BTC92": "BTC02"}  # new patient -> the demo patient whose data it copies


def planned_jobs(workdir: Path, configfile: Path) -> list[tuple[str, str]]:
    """(rule, wildcards) of every job a dry run plans."""
    done = run_snakemake(workdir, configfile, "--dry-run")
    assert done.returncode == 0, done.stderr[-4000:]
    jobs, rule = [], None
    for line in (done.stdout + done.stderr).splitlines():
        started = re.match(r"^(?:local)?rule (\w+):$", line.strip())
        if started:
            rule = started.group(1)
            jobs.append((rule, ""))
        elif rule and line.strip().startswith("wildcards:"):
            jobs[-1] = (rule, line.strip()[len("wildcards:"):].strip())
    return [job for job in jobs if job[0] != "all"]


@pytest.fixture()
def copied_run(demo_run, tmp_path):
    """A copy of the finished demo run (outputs and Snakemake's metadata) to change and dry-run."""
    workdir = tmp_path / "run"
    shutil.copytree(demo_run, workdir, symlinks=True, ignore=shutil.ignore_patterns("locks", "incomplete"))
    return workdir


def test_a_finished_run_plans_nothing_and_a_config_comment_changes_nothing(copied_run):
    configfile = copied_run / "config.yaml"
    assert planned_jobs(copied_run, configfile) == []
    # the second plan reads the validation cache the first wrote (the copy's folder is a new cache key)
    assert planned_jobs(copied_run, configfile) == []
    configfile.write_text("# a comment a reviewer added\n" + configfile.read_text() + "# and another\n")
    assert planned_jobs(copied_run, configfile) == []


def test_a_model_parameter_reruns_only_the_models_and_their_readers(copied_run):
    configfile = copied_run / "config.yaml"
    config = yaml.safe_load(configfile.read_text())
    config["models"]["permutations"] += 1
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    rules = {rule for rule, _ in planned_jobs(copied_run, configfile)}
    assert "models_fit" in rules
    assert rules <= {"models_fit", "models_collect", "biomarkers_rank", "biomarkers_cards", "biomarkers_recovery",
                     "report_summary", "run_manifest"}, rules


def _add_patients(workdir: Path) -> Path:
    """Inputs = the demo plus two patients whose files copy those of two demo patients."""
    inputs = workdir / "inputs"
    inputs.mkdir()
    sheet = [line.split("\t") for line in (DEMO / "samples.tsv").read_text().splitlines()]
    header, rows = sheet[0], sheet[1:]
    column = {name: i for i, name in enumerate(header)}
    out = []
    for row in rows:
        row = list(row)
        row[column["path"]] = str((DEMO / row[column["path"]]).resolve())
        out.append(row)
    for new, old in NEW_PATIENTS.items():
        for row in rows:
            if row[column["patient_id"]] != old:
                continue
            row = list(row)
            source = DEMO / row[column["path"]]
            new_sample = row[column["sample_id"]].replace(old, new)
            if row[column["modality"]] in ("rna", "mutations"):
                target = inputs / source.name.replace(old, new)
                target.write_text(source.read_text().replace(old, new))
                row[column["path"]] = str(target)
            else:
                # Matrix files (proteins, copy number): the new patient's column in a file of its own.
                lines = [line.split("\t") for line in source.read_text().splitlines()]
                keep = lines[0].index(row[column["column"]])
                target = inputs / f"{new}.{source.name}"
                target.write_text("\n".join("\t".join([line[0], line[keep] if i else new_sample])
                                            for i, line in enumerate(lines)) + "\n")
                row[column["path"]] = str(target)
                row[column["column"]] = new_sample
            row[column["sample_id"]], row[column["patient_id"]] = new_sample, new
            out.append(row)
    (inputs / "samples.tsv").write_text("\n".join("\t".join(r) for r in [header, *out]) + "\n")
    patients = (DEMO / "patients.tsv").read_text().splitlines()
    recist = (DEMO / "recist.tsv").read_text().splitlines()
    for new, old in NEW_PATIENTS.items():
        patients += [line.replace(old, new, 1) for line in patients[1:] if line.startswith(old + "\t")]
        recist += [line.replace(old, new, 1) for line in recist[1:] if line.startswith(old + "\t")]
    (inputs / "patients.tsv").write_text("\n".join(patients) + "\n")
    (inputs / "recist.tsv").write_text("\n".join(recist) + "\n")
    configfile = workdir / "config.yaml"
    config = yaml.safe_load(configfile.read_text())
    config["samples"] = str(inputs / "samples.tsv")
    config["clinical"]["patients"] = str(inputs / "patients.tsv")
    config["clinical"]["recist"] = str(inputs / "recist.tsv")
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    return configfile


def test_adding_two_patients_reruns_ingestion_and_keeps_the_untouched_samples_tables(copied_run):
    before = {path: path.read_bytes() for modality in INGESTION_RULES
              for path in (copied_run / "results" / modality / "samples").glob("*.tsv")}
    configfile = _add_patients(copied_run)
    jobs = planned_jobs(copied_run, configfile)
    assert sorted(rule for rule, _ in jobs if rule in INGESTION_RULES.values()) == sorted(INGESTION_RULES.values())
    new_samples = [line.split("\t") for line in (copied_run / "inputs" / "samples.tsv").read_text().splitlines()
                   if line.split("\t")[2] in INGESTION_RULES and line.split("\t")[1] in NEW_PATIENTS]
    assert len(new_samples) >= 4  # baseline WES and RNA, and on-treatment RNA
    done = run_snakemake(copied_run, configfile, "--until", *INGESTION_RULES.values())
    assert done.returncode == 0, done.stderr[-4000:]
    assert {path: path.read_bytes() for path in before} == before
    for sample_id, _, modality, *_ in new_samples:
        assert (copied_run / "results" / modality / "samples" / f"{sample_id}.tsv").stat().st_size > 0
    rules = {rule for rule, _ in jobs}
    # The cohort-level steps that see every patient rerun.
    assert {"clinical_labels", "rna_normalise", "mutations_matrix", "proteins_normalise", "cohort_assemble",
            "models_fit", "report_summary", "run_manifest"} <= rules
