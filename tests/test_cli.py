"""The `trialomics run` command's reading of Snakemake's command line."""
from pathlib import Path

import pytest

from trialomics import cli


@pytest.mark.parametrize("args, expected", [
    (["--configfile", "a.yaml", "--cores", "2"], ["a.yaml"]),
    (["--configfile", "a.yaml", "b.yaml", "-n"], ["a.yaml", "b.yaml"]),
    (["--configfile=a.yaml"], ["a.yaml"]),
    (["--configfiles", "a.yaml", "--configfile", "b.yaml"], ["a.yaml", "b.yaml"]),
])
def test_config_files_are_the_ones_snakemake_loads(tmp_path, args, expected):
    assert cli.config_files_to_check(args, tmp_path) == [tmp_path / name for name in expected]


def test_without_configfile_the_workflows_default_config_is_checked(tmp_path):
    assert cli.config_files_to_check(["--cores", "1"], tmp_path) == []
    (tmp_path / "trial" / "config").mkdir(parents=True)
    (tmp_path / "trial" / "config" / "config.yaml").write_text("samples: s.tsv\n")
    assert cli.config_files_to_check(["--directory", "trial"], tmp_path) == [
        tmp_path / "trial" / "config" / "config.yaml"]


def test_the_checkouts_snakefile_is_used_unless_one_is_given():
    snakefile = cli.workflow_snakefile()
    assert snakefile.exists() and snakefile == Path(__file__).resolve().parents[1] / "workflow" / "Snakefile"
    assert cli.snakemake_arguments(["-n"]) == ["--snakefile", str(snakefile), "-n"]
    assert cli.snakemake_arguments(["-s", "other/Snakefile", "-n"]) == ["-s", "other/Snakefile", "-n"]


def test_usage_and_unknown_commands(capsys):
    assert cli.main(["--help"]) == 0
    assert "trialomics run" in capsys.readouterr().out
    assert cli.main(["fit"]) == 2
    assert "unknown command 'fit'" in capsys.readouterr().err


def test_compile_leaves_every_model_kernel_compiled(capsys):
    """`trialomics compile` reaches every numba kernel that the models call from Python (one it missed
    would be compiled again by each of a run's first models jobs). Kernels called only from other
    kernels are compiled into their callers and keep no signature of their own."""
    import ast
    import inspect

    import numba

    from trialomics import cox_path, l1_kernels, logistic_path, model_preprocess

    assert cli.main(["compile"]) == 0
    assert "model kernels compiled" in capsys.readouterr().out
    entry_points = {}
    for module in (cox_path, l1_kernels, logistic_path, model_preprocess):
        kernels = {name: value for name, value in vars(module).items()
                   if isinstance(value, numba.core.registry.CPUDispatcher) and value.__module__ == module.__name__}
        python_functions = [node for node in ast.walk(ast.parse(inspect.getsource(module)))
                            if isinstance(node, ast.FunctionDef) and node.name not in kernels]
        called = {node.id for function in python_functions for node in ast.walk(function)
                  if isinstance(node, ast.Name)}
        entry_points.update({f"{module.__name__}.{name}": kernels[name] for name in called & set(kernels)})
    assert {"trialomics.cox_path._path", "trialomics.logistic_path._path",
            "trialomics.model_preprocess._column_statistics"} <= set(entry_points)
    assert [name for name, kernel in entry_points.items() if not kernel.signatures] == []
