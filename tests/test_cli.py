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
    """`trialomics compile` reaches every numba kernel that the package calls from Python (one it missed
    would be compiled again by each of a run's first models jobs). Kernels called only from other
    kernels are compiled into their callers and keep no signature of their own."""
    import ast
    import importlib
    import pkgutil

    import numba

    import trialomics

    assert cli.main(["compile"]) == 0
    assert "model kernels compiled" in capsys.readouterr().out
    package = Path(trialomics.__path__[0])
    modules = [importlib.import_module(f"trialomics.{info.name}") for info in pkgutil.iter_modules([str(package)])]
    kernels = {f"{module.__name__}.{name}": value for module in modules for name, value in vars(module).items()
               if isinstance(value, numba.core.registry.CPUDispatcher) and value.__module__ == module.__name__}
    # Kernels used inside the package's Python functions (not inside kernels): by name in their own
    # module, or as an attribute of their module (``fold_kernels.filled_block``) in another.
    used = set()
    for module in modules:
        tree = ast.parse((package / f"{module.__name__.split('.')[-1]}.py").read_text())
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef) and f"{module.__name__}.{function.name}" not in kernels:
                used |= {f"{module.__name__}.{node.id}" for node in ast.walk(function) if isinstance(node, ast.Name)}
                used |= {f"trialomics.{node.value.id}.{node.attr}" for node in ast.walk(function)
                         if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)}
    entry_points = {name: kernel for name, kernel in kernels.items() if name in used}
    assert {"trialomics.cox_path._shifted_path", "trialomics.cox_path._path", "trialomics.logistic_path._design_path",
            "trialomics.fold_kernels.column_statistics", "trialomics.fold_kernels.filled_block"} <= set(entry_points)
    assert [name for name, kernel in entry_points.items() if not kernel.signatures] == []
