"""`snakemake --lint` has nothing to say about the workflow."""
import subprocess
import sys

from conftest import ROOT, SNAKEFILE


def test_snakemake_lint_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--configfile",
         str(ROOT / "config" / "config.yaml"), "--lint"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr, (
        result.stdout[-3000:] + result.stderr[-3000:])


def test_workflow_is_snakefmt_formatted():
    result = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "--diff", str(ROOT / "workflow")],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
