# What this run saw: checksums of every input file, the config, software versions and the patients
# included (results/manifest/). Compare two runs with `trialomics-manifest-diff OLD NEW`. The config and
# versions are params, so editing a comment in config.yaml reruns nothing; any changed input reruns it.
MANIFEST_TARGETS = [
    "results/manifest/manifest.json",
    "results/manifest/inputs.tsv",
    "results/manifest/samples.tsv",
]


rule run_manifest:
    input:
        checksummed_inputs(),
    output:
        manifest="results/manifest/manifest.json",
        inputs="results/manifest/inputs.tsv",
        samples="results/manifest/samples.tsv",
    log:
        "logs/manifest/run_manifest.log",
    benchmark:
        "benchmarks/manifest/run_manifest.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        config=config,
        inputs=input_roles(),
        samples=SAMPLES[["sample_id", "patient_id", "modality", "timepoint"]].to_dict(
            "records"
        ),
        workflow_dir=workflow.basedir,
    script:
        "../../scripts/run_manifest.py"
