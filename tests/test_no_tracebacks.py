"""No Python traceback reaches the user: every broken input ends in a clear one-line message.

The table of broken inputs is test_validation.BAD_INPUTS (one small change to a valid cohort each);
every case is run through validation here, and a few through Snakemake itself, where what the user
sees is Snakemake's stderr. Failures only a job meets go through ``runlog``: one line on stderr
naming rule, wildcards and fix; for a fault of the code (not a problem of the data), the traceback is
kept in the job's log only.
"""
from __future__ import annotations

import copy
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from conftest import run_snakemake
from test_validation import BAD_INPUTS, CONFIG, FILES, SCHEMA_DIR, set_cell
from trialomics.errors import AnalysisProblem, InputProblem, InputValidationError, failure_line
from trialomics.validation import validate_inputs


def write_cohort(root: Path) -> dict:
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return copy.deepcopy(CONFIG)


@pytest.mark.parametrize("change", [case[1] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS])
def test_every_broken_input_is_one_clear_line(tmp_path, change):
    config = write_cohort(tmp_path)
    change(tmp_path, config)
    with pytest.raises(InputValidationError) as caught:
        validate_inputs(config, SCHEMA_DIR, tmp_path)
    assert caught.value.problems
    for problem in caught.value.problems:
        assert "\n" not in problem and "Traceback" not in problem
        # every line says where: a file of the cohort or a config key, and what to do
        assert problem.startswith(("inputs/", "config key ", str(tmp_path))), problem
        assert " — " in problem, f"no fix named: {problem}"


# (id, change, fragment the user must see on stderr)
SNAKEMAKE_CASES = [
    ("hostile sample_id", lambda root, config: set_cell(root / "inputs/samples.tsv", 2, "sample_id", "$(touch x)"),
     "identifier '$(touch x)' contains"),
    ("path-escaping sample_id", lambda root, config: set_cell(root / "inputs/samples.tsv", 2, "sample_id", "../../x"),
     "identifier '../../x' starts with '.'"),
    ("misspelt top-level key", lambda root, config: config.update(seeds=3), "did you mean 'seed'?"),
    ("outcomes that cannot be derived", lambda root, config: config["clinical"].pop("recist"),
     "the label 'responder' cannot be derived"),
    ("absurd protein value", lambda root, config: set_cell(root / "inputs/proteins.tsv", 3, "P04", "1e30"),
     "raw protein intensity 1e+30 of 'CXCL9' in sample 'P04'"),
]


@pytest.mark.parametrize("change, fragment", [case[1:] for case in SNAKEMAKE_CASES],
                         ids=[case[0] for case in SNAKEMAKE_CASES])
def test_snakemake_reports_broken_inputs_without_traceback(tmp_path, change, fragment):
    config = write_cohort(tmp_path)
    change(tmp_path, config)
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    result = run_snakemake(tmp_path, configfile, "--dry-run")
    shown = result.stderr + result.stdout  # Snakemake prints a WorkflowError on stdout
    assert result.returncode != 0
    assert fragment in shown, shown[-3000:]
    assert "Traceback" not in shown
    assert not (tmp_path / "x").exists() and not (tmp_path.parent.parent / "x").exists()


def trialomics_run(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "trialomics"), "run", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=workdir)


def test_malformed_config_file_is_named_with_its_line(tmp_path):
    """Plain Snakemake parses --configfile before the workflow runs and does not name the file
    (Snakemake 9); `trialomics run` reads it first and names file, line and column."""
    write_cohort(tmp_path)
    configfile = tmp_path / "config.yaml"
    configfile.write_text("samples: inputs/samples.tsv\nclinical:\n  patients: [inputs/patients.tsv\n")
    result = run_snakemake(tmp_path, configfile, "--dry-run")
    shown = result.stderr + result.stdout
    assert result.returncode != 0
    assert "Config file is not valid JSON or YAML" in shown
    assert "Traceback" not in shown

    result = trialomics_run(tmp_path, "--configfile", "config.yaml", "--dry-run")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"trialomics: {configfile}, line 4, column 1: the config file is not "
                                    "valid YAML"), result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_trialomics_run_hands_a_readable_config_to_snakemake(tmp_path):
    config = write_cohort(tmp_path)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    result = trialomics_run(tmp_path, "--configfile", "config.yaml", "--dry-run", "--cores", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rule models_fit" in result.stdout + result.stderr  # the trialomics DAG was planned
    assert not (tmp_path / "results").exists()


def test_trialomics_run_refuses_a_templated_config_before_snakemake_loads_it(tmp_path):
    config = write_cohort(tmp_path)
    marker = tmp_path / "code_ran"
    templated = yaml.safe_dump(config, sort_keys=False) + (
        "__use_yte__: true\n"
        f"seed: ?__import__('pathlib').Path({str(marker)!r}).touch() or 7\n")
    (tmp_path / "config.yaml").write_text(templated)
    result = trialomics_run(tmp_path, "--configfile", "config.yaml", "--dry-run")
    assert result.returncode == 1
    assert "enables YTE templating" in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists()


JOB_SCRIPT = """\
from trialomics import runlog
from trialomics.errors import AnalysisProblem

runlog.start(snakemake)
if snakemake.wildcards.contrast == "responder":
    raise AnalysisProblem("level 'yes' of 'responder' has no patient with rna data after filtering",
                          "remove the contrast or lower differential.min_patients_per_level")
raise ValueError("the design matrix has no residual degrees of freedom")
"""


@pytest.mark.parametrize("contrast, fragment", [
    ("responder", "rule failing (contrast responder) failed: level 'yes' of 'responder' has no patient with "
                  "rna data after filtering — remove the contrast or lower differential.min_patients_per_level"),
    ("benefit", "rule failing (contrast benefit) failed: the design matrix has no residual degrees of freedom "
                "— the details are in logs/benefit.log"),
])
def test_a_failing_job_tells_one_line_and_logs_the_traceback(tmp_path, contrast, fragment):
    (tmp_path / "job.py").write_text(JOB_SCRIPT)
    (tmp_path / "Snakefile").write_text(textwrap.dedent("""\
        rule failing:
            output: "out/{contrast}.txt"
            log: "logs/{contrast}.log"
            script: "job.py"
        """))
    result = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", f"out/{contrast}.txt"],
                            cwd=tmp_path, capture_output=True, text=True)
    shown = result.stderr + result.stdout
    assert result.returncode != 0
    assert fragment in shown, shown[-3000:]
    assert "Traceback" not in shown
    log = (tmp_path / "logs" / f"{contrast}.log").read_text()
    # a problem of the data is said in one line; a fault of the code keeps its traceback in the log
    assert fragment in log and ("Traceback" in log) == (contrast != "responder")


def test_failure_line_is_one_line_for_every_kind_of_error():
    wildcards = {"modality": "rna", "contrast": "responder"}
    lines = [
        failure_line("differential", wildcards, AnalysisProblem("no sample left", "add samples"), "l.log"),
        failure_line("differential", wildcards, InputProblem("a.tsv", "bad\nvalue", row=3, column="x")),
        failure_line("differential", wildcards, InputValidationError(["one", "two"])),
        failure_line("differential", wildcards, KeyError("gene"), "logs/x.log"),
        failure_line("differential", {}, ZeroDivisionError()),
    ]
    for line in lines:
        assert "\n" not in line and line.startswith("rule differential")
    assert lines[0] == ("rule differential (modality rna, contrast responder) failed: no sample left — "
                        "add samples")
    assert lines[2].endswith("failed: one; two")
    assert "'gene' — the details are in logs/x.log" in lines[3]
    assert lines[4].startswith("rule differential failed: ZeroDivisionError — run the rule again")
