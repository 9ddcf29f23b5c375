"""Rule run_manifest: record the run's inputs (SHA-256), config, software versions and patients."""
import json

import pandas as pd

from trialomics import privacy, readers, runlog, tables
from trialomics.manifest import build_manifest, git_commit, software_versions
from trialomics.readers import read_patients

log = runlog.start(snakemake)
params = snakemake.params
patients = read_patients(params.config["clinical"]["patients"])["patient_id"]
key = privacy.key_if_pseudonymising(snakemake.config)
if key is not None:
    # The sample rows and input roles come pseudonymised from the DAG; the patients are mapped here.
    mapping = privacy.identifier_mapping(readers.read_string_table(params.config["samples"]), patients, key)
    patients = patients.map(mapping)
manifest = build_manifest(params.config, params.inputs, params.samples, patients, software_versions(),
                          git_commit(params.workflow_dir))
tables.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", snakemake.output.manifest)
tables.write_tsv(pd.DataFrame(manifest["inputs"], columns=["input", "sha256", "bytes"]), snakemake.output.inputs)
tables.write_tsv(pd.DataFrame(manifest["samples"], columns=["sample_id", "patient_id", "modality", "timepoint"]),
                 snakemake.output.samples)
log.info("manifest: %d patients, %d samples, %d input files, trialomics %s (commit %s)",
         len(manifest["patients"]), len(manifest["samples"]), len(manifest["inputs"]),
         manifest["workflow"]["version"], manifest["workflow"]["commit"] or "unknown")
runlog.done(log)
