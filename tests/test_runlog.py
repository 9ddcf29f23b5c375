"""runlog.done: a job that succeeded logs its resources once and exits without the interpreter's teardown;
a job with a child process still running exits the usual way (which waits for it); a failure is untouched."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

JOB = """\
import atexit, pathlib, subprocess
from trialomics import runlog, tables

log = runlog.start(snakemake)
# An exit handler of the job's own: it runs only when the interpreter exits the usual way.
atexit.register(pathlib.Path(snakemake.params.marker).touch)
mode = snakemake.wildcards.mode
if mode == "child":
    child = subprocess.Popen([{python!r}, "-c", "import time; time.sleep(0.5)"])
if mode == "fails":
    raise ValueError("a fault of the code")
tables.write_text("done\\n", snakemake.output[0])
log.info("written")
runlog.done(log)
pathlib.Path(snakemake.params.marker + ".returned").touch()  # done returns when a child is still running
"""


@pytest.mark.parametrize("mode, exits_at_once, returncode", [
    ("plain", True, 0), ("child", False, 0), ("fails", False, 1)])
def test_done_exits_at_once_only_after_success_and_without_children(tmp_path, mode, exits_at_once, returncode):
    (tmp_path / "job.py").write_text(JOB.format(python=sys.executable))
    (tmp_path / "Snakefile").write_text(textwrap.dedent("""\
        rule job:
            output: "out/{mode}.txt"
            log: "logs/{mode}.log"
            params: marker=lambda wc: f"exit_handler_ran.{wc.mode}"
            script: "job.py"
        """))
    result = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", f"out/{mode}.txt"],
                            cwd=tmp_path, capture_output=True, text=True)
    log = (tmp_path / "logs" / f"{mode}.log").read_text()
    if returncode:
        assert result.returncode != 0 and "a fault of the code" in log
        assert not (tmp_path / "out" / f"{mode}.txt").exists()
    else:
        assert result.returncode == 0, result.stderr[-3000:]
        assert (tmp_path / "out" / f"{mode}.txt").read_text() == "done\n"
        assert "written" in log
    assert log.count(": job resources: ") == 1, log
    assert (tmp_path / f"exit_handler_ran.{mode}").exists() != exits_at_once
    assert (tmp_path / f"exit_handler_ran.{mode}.returned").exists() == (mode == "child")


def test_thread_limit_reaches_the_blas_loaded_after_the_job_started():
    """SciPy's OpenBLAS, which the compiled model kernels call, is loaded after ``runlog.start``: it must
    run on the rule's threads too (unbounded it took every core, and the bits of its products depended on them)."""
    import os

    from trialomics import runlog

    environment = {name: value for name, value in os.environ.items() if name not in runlog.THREAD_VARIABLES}
    done = subprocess.run([sys.executable, "-c", (
        "import numpy\n"
        "from threadpoolctl import threadpool_info\n"
        "from trialomics import numba_lapack, runlog\n"
        "before = {info['filepath'] for info in threadpool_info()}\n"
        "runlog.limit_threads(1)\n"
        "numba_lapack.preload()\n"
        "pools = threadpool_info()\n"
        "print(len(pools), sum(info['filepath'] not in before for info in pools),\n"
        "      max(info['num_threads'] for info in pools))\n")],
        capture_output=True, text=True, check=True, env=environment)
    pools, loaded_later, most_threads = map(int, done.stdout.split())
    assert loaded_later >= 1 and pools >= 2
    assert most_threads == 1


def test_one_blas_thread_reaches_the_permutation_workers():
    """``models_fit`` runs its permutations in worker processes (its threads) and limits BLAS to one thread
    first: the workers inherit that limit, not the rule's thread count Snakemake put in the environment
    (each worker would otherwise run that many BLAS threads: threads x threads on the job's cores)."""
    import os

    environment = dict(os.environ, OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2")
    program = (
        "from joblib import Parallel, delayed\n"
        "from trialomics import runlog\n"
        "def most_threads():\n"
        "    from threadpoolctl import threadpool_info\n"
        "    from trialomics import numba_lapack\n"
        "    numba_lapack.preload()\n"
        "    return max(info['num_threads'] for info in threadpool_info())\n"
        "if __name__ == '__main__':\n"
        "    {limit}\n"
        "    print(most_threads(), *Parallel(n_jobs=2)(delayed(most_threads)() for _ in range(2)))\n")
    counts = {}
    for label, limit in (("limited", "runlog.limit_threads(1)"), ("unlimited", "pass")):
        done = subprocess.run([sys.executable, "-c", program.format(limit=limit)], capture_output=True, text=True,
                              check=True, env=environment)
        counts[label] = [int(count) for count in done.stdout.split()]
    assert counts["limited"] == [1, 1, 1]
    assert max(counts["unlimited"]) == 2          # the environment's count, which the limit replaces


LOGGED_PEAK = """\
import logging, re, subprocess, sys
from trialomics import runlog
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
{before}
runlog.log_resources(logging.getLogger("job"))
"""


def logged_peak_mb(before: str = "") -> float:
    """The peak RSS a job started by this process logs (``runlog.log_resources``' line)."""
    line = subprocess.run([sys.executable, "-c", LOGGED_PEAK.format(before=before)], check=True,
                          capture_output=True, text=True).stdout
    return float(line.split("peak RSS ")[1].split(" MB")[0])


def test_a_jobs_peak_memory_is_its_own_not_that_of_the_process_that_started_it():
    # Linux keeps getrusage's ru_maxrss across fork and exec: every job Snakemake started after its main
    # process had reached 2.4 GB (validating 500 patients) logged "peak RSS 2435 MB".
    import numpy as np

    large = np.ones(600 * 2 ** 20 // 8)     # 600 MB, every page touched
    assert large.sum() > 0 and logged_peak_mb() < 400
    # ... and a child of the job that takes more than the job itself counts (1 GB).
    child = "subprocess.run([sys.executable, '-c', 'import numpy as np; np.ones(125 * 2 ** 20).sum()'])"
    assert logged_peak_mb(child) > 950
