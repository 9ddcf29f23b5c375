"""The `trialomics` command: check the config files, then hand over to Snakemake.

Snakemake reads ``--configfile`` before the workflow starts, and Snakemake 9 reports a YAML syntax
error there as "Config file is not valid JSON or YAML" without the file or the line. ``trialomics run``
reads every config file first (without evaluating anything) and stops with one line per problem
naming file, line and column; a readable config is passed on to Snakemake unchanged, with this
checkout's Snakefile unless ``--snakefile`` is given. Everything else is Snakemake's own interface.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

USAGE = """\
usage: trialomics run [snakemake options]
       trialomics compile

Checks the config files (--configfile, or config/config.yaml in the working directory), then runs
the trialomics workflow with Snakemake. Every option is Snakemake's, for example
  trialomics run --configfile config.yaml --cores 8
  trialomics run --configfile config.yaml --workflow-profile $TRIALOMICS/workflow/profiles/slurm
  trialomics run --configfile config.yaml --report results/report.zip

`trialomics compile` compiles the models' numba kernels into their cache once (about 30 s), so that
the first models jobs of a run do not each compile them; run it after installing or updating.
"""

_CONFIG_OPTIONS = ("--configfile", "--configfiles")
_DIRECTORY_OPTIONS = ("--directory", "-d")
_SNAKEFILE_OPTIONS = ("--snakefile", "-s")


def workflow_snakefile() -> Path:
    """The Snakefile of the checkout this package is installed from (editable install)."""
    return Path(__file__).resolve().parents[2] / "workflow" / "Snakefile"


def _option_values(args: list[str], names: tuple[str, ...]) -> list[str] | None:
    """The values given to an option (``--opt a b``, ``--opt=a``); None when it is absent."""
    values = None
    for position, arg in enumerate(args):
        name, equals, value = arg.partition("=")
        if name not in names:
            continue
        values = [] if values is None else values
        if equals:
            values.append(value)
            continue
        for following in args[position + 1:]:
            if following.startswith("-"):
                break
            values.append(following)
    return values


def config_files_to_check(args: list[str], cwd: Path) -> list[Path]:
    """The config files Snakemake will load for these arguments, relative paths resolved as it does."""
    given = _option_values(args, _CONFIG_OPTIONS)
    if given:
        return [cwd / path for path in given]
    directory = _option_values(args, _DIRECTORY_OPTIONS)
    workdir = cwd / directory[0] if directory else cwd
    default = workdir / "config" / "config.yaml"  # the Snakefile's own `configfile:` fallback
    return [default] if default.exists() else []


def snakemake_arguments(args: list[str]) -> list[str]:
    """Snakemake's arguments: the user's, with this checkout's Snakefile unless one is given."""
    if _option_values(args, _SNAKEFILE_OPTIONS) is not None:
        return list(args)
    return ["--snakefile", str(workflow_snakefile()), *args]


def run(args: list[str], cwd: Path) -> int:
    from trialomics.validation_config import config_file_problems

    # A templated config runs code as Snakemake loads it: refuse it here, before Snakemake does.
    templated_allowed = any(value.lower() == "allow_templated_config=true"
                            for value in _option_values(args, ("--config", "-C")) or [])
    problems = config_file_problems(config_files_to_check(args, cwd), templated_allowed)
    if problems:
        for problem in problems:
            print(f"trialomics: {problem}", file=sys.stderr)
        return 1
    snakemake_args = snakemake_arguments(args)
    if "--snakefile" == snakemake_args[0] and not Path(snakemake_args[1]).exists():
        print(f"trialomics: no workflow at {snakemake_args[1]} — run from a trialomics checkout "
              "(bash run.sh demo installs it) or pass --snakefile", file=sys.stderr)
        return 1
    os.execv(sys.executable, [sys.executable, "-m", "snakemake", *snakemake_args])
    return 0  # not reached: execv replaces this process


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0 if args else 2
    if args[0] == "compile":
        from trialomics.compiled_kernels import compile_model_kernels

        print(f"trialomics: model kernels compiled or loaded from their cache in {compile_model_kernels():.1f} s")
        return 0
    if args[0] != "run":
        print(f"trialomics: unknown command {args[0]!r}\n{USAGE}", end="", file=sys.stderr)
        return 2
    return run(args[1:], Path.cwd())


if __name__ == "__main__":
    sys.exit(main())
