"""Print the CPU time every adapter script spends importing its modules, the start cost of each job.

Usage: python bench/job_start.py [--run DIR] [--repeats 3]

For every adapter ``scripts/*.py`` (but make_demo_cohort.py, which no rule runs) the import statements
at its top level are parsed with ``ast`` and run, alone, in a fresh ``python -c``; the child's user +
sys CPU seconds (``getrusage(RUSAGE_CHILDREN)``) is the median of ``--repeats`` runs. One more run
with ``-X importtime`` names the three packages whose own import time is largest (summed over their
submodules; wall milliseconds). With ``--run DIR`` (a finished run with ``benchmarks/``), every
adapter's cost is multiplied by how many jobs of its rule that run had (``benchmarks/<stage>/<rule>``
files; rule to script from ``workflow/rules/*.smk``) and the weighted total is printed. Modules the
package imports inside the functions a job then calls are not counted: this is what every job pays
before it knows whether it has work to do. Figures are printed, not asserted. Run with
``PYTHONPATH=scripts`` so the adapters import this checkout.
"""
from __future__ import annotations

import argparse
import ast
import os
import re
import resource
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
NOT_RUN_BY_A_RULE = {"make_demo_cohort.py"}
RULE_LINE = re.compile(r"^\s*rule (\w+):")
QUOTED = re.compile(r"\"([^\"]+)\"")


def top_level_imports(script: Path) -> str:
    """The adapter's top-level import statements, one per line, as Python source."""
    tree = ast.parse(script.read_text(), filename=str(script))
    return "\n".join(ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)))


def child_environment() -> dict[str, str]:
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SCRIPTS), environment.get("PYTHONPATH")]))
    return environment


def import_cpu_seconds(source: str, environment: dict[str, str]) -> float:
    """User + sys CPU seconds of one fresh interpreter that runs ``source`` and exits."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-c", source], env=environment, capture_output=True, text=True,
                          check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"importing failed:\n{source}\n{done.stderr[-2000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def heaviest_packages(source: str, environment: dict[str, str], count: int = 3) -> list[tuple[str, float]]:
    """The ``count`` top-level packages with the largest own import time (ms, ``-X importtime``)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", source], env=environment,
                          capture_output=True, text=True, check=True)
    own_microseconds: Counter[str] = Counter()
    for line in done.stderr.splitlines():
        # "import time: self [us] | cumulative | imported package"
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _cumulative, name = line.removeprefix("import time:").split("|")
        own_microseconds[name.strip().split(".")[0]] += int(own)
    return [(name, microseconds / 1000) for name, microseconds in own_microseconds.most_common(count)]


def script_of_rule() -> dict[str, str]:
    """Rule name -> adapter file name, from the ``script:`` of every rule in workflow/rules/*.smk."""
    scripts = {}
    for rules_file in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        rule = None
        lines = rules_file.read_text().splitlines()
        for number, line in enumerate(lines):
            if match := RULE_LINE.match(line):
                rule = match.group(1)
            elif line.strip() == "script:" and rule is not None:
                # snakefmt puts the path on the line after "script:"
                scripts[rule] = Path(QUOTED.search(lines[number + 1]).group(1)).name
    return scripts


def jobs_per_script(run_dir: Path) -> Counter[str]:
    """How many jobs of each adapter a finished run had, from benchmarks/<stage>/<rule>[/...].tsv."""
    benchmarks = run_dir / "benchmarks"
    files = sorted(benchmarks.rglob("*.tsv"))
    if not files:
        sys.exit(f"no benchmark files under {benchmarks}: give a finished run's directory")
    rule_scripts = script_of_rule()
    jobs: Counter[str] = Counter()
    for path in files:
        parts = path.relative_to(benchmarks).parts
        rule = parts[1] if len(parts) > 2 else Path(parts[-1]).stem
        if rule not in rule_scripts:
            sys.exit(f"{path}: no rule {rule!r} with a script: in workflow/rules/*.smk")
        jobs[rule_scripts[rule]] += 1
    return jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a finished run's directory (with benchmarks/) to weight by jobs")
    parser.add_argument("--repeats", type=int, default=3, help="fresh interpreters per adapter; the median is shown")
    arguments = parser.parse_args()
    environment = child_environment()
    jobs = jobs_per_script(arguments.run) if arguments.run else None

    baseline = statistics.median(import_cpu_seconds("pass", environment) for _ in range(arguments.repeats))
    print(f"python {sys.version.split()[0]}; an empty interpreter costs {baseline:.2f} CPU-s (included below)\n")
    header = f"{'adapter':<32} {'CPU-s':>6}" + (f" {'jobs':>5} {'job CPU-s':>9}" if jobs else "")
    print(f"{header}  heaviest packages (own import ms)")
    total = weighted = 0.0
    seconds_of: dict[str, float] = defaultdict(float)
    for script in sorted(SCRIPTS.glob("*.py")):
        if script.name in NOT_RUN_BY_A_RULE:
            continue
        source = top_level_imports(script)
        seconds = statistics.median(import_cpu_seconds(source, environment) for _ in range(arguments.repeats))
        seconds_of[script.name] = seconds
        heaviest = ", ".join(f"{name} {ms:.0f}" for name, ms in heaviest_packages(source, environment))
        total += seconds
        line = f"{script.stem:<32} {seconds:>6.2f}"
        if jobs is not None:
            weighted += seconds * jobs[script.name]
            line += f" {jobs[script.name]:>5} {seconds * jobs[script.name]:>9.1f}"
        print(f"{line}  {heaviest}")
    print(f"\n{len(seconds_of)} adapters, {total:.1f} CPU-s summed over one start each")
    if jobs is not None:
        print(f"{sum(jobs.values())} jobs in {arguments.run}: {weighted:.1f} CPU-s of imports weighted by jobs")


if __name__ == "__main__":
    main()
