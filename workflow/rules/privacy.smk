# Pseudonymisation (privacy.pseudonymise): the patients table every rule reads, with keyed pseudonyms
# instead of patient IDs, written once where identifiers enter the DAG (common.smk sets PATIENTS_TABLE
# and the pseudonymised sample sheet). The key stays outside results/.
if PRIVACY.pseudonymise:

    rule privacy_patients:
        input:
            patients=config["clinical"]["patients"],
            key=PRIVACY.key_file,
        output:
            patients=PATIENTS_TABLE,
        log:
            "logs/privacy/privacy_patients.log",
        benchmark:
            "benchmarks/privacy/privacy_patients.tsv"
        conda:
            "../../envs/clinical.yaml"
        threads: 1
        resources:
            mem_mb=500,
            runtime=5,
        script:
            "../../scripts/privacy_patients.py"
