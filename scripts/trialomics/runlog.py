"""Start and end of every adapter script: file modes, leftovers of killed runs, SIGTERM, logging, exit.

Everything a rule says goes to its Snakemake ``log:`` file.
"""
from __future__ import annotations

import atexit
import logging
import os
import resource
import signal
import sys
import threading
import warnings
from pathlib import Path

from threadpoolctl import threadpool_limits

from . import __version__, privacy, tables
from .errors import failure_line, is_user_facing


def stop_on_sigterm(signum, frame):
    """SIGTERM (Snakemake cancelling the job, a cluster's time limit) ends the job as an error does,
    so ``finally`` blocks run and atomic writes remove their temporary files."""
    raise SystemExit(128 + signum)


#: The line every job's log ends with (``bench/rule_benchmarks.py`` reads it back).
RESOURCES_LINE = "job resources: %.2f CPU-s (user %.2f, system %.2f), peak RSS %.0f MB"

#: What BLAS and OpenMP libraries read when they are loaded (the variables Snakemake sets for shell jobs).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "GOTO_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def limit_threads(threads: int) -> None:
    """Bound every BLAS and OpenMP thread pool of this process to ``threads``, later ones included.

    ``threadpool_limits`` reaches the libraries loaded so far only. SciPy's OpenBLAS, which the compiled
    model kernels call, is loaded at their first call (:mod:`trialomics.numba_lapack`) and then reads its
    thread count from the environment: unset, it took every core of the machine, spinning between calls,
    and its threaded products made the last bits of paths above 20 patients depend on the machine's cores.
    """
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    threadpool_limits(limits=threads)


def log_resources(logger: logging.Logger) -> None:
    """Log this process's exact CPU time and peak memory, its finished children's included.

    Snakemake's ``benchmark:`` files sample a job every 0.5 s for 15 s and every 30 s after, so a job of
    15-45 s loses the CPU time after its last sample; ``getrusage`` counts it all.
    """
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    user, system = own.ru_utime + children.ru_utime, own.ru_stime + children.ru_stime
    logger.info(RESOURCES_LINE, user + system, user, system, peak_rss_mb())


def peak_rss_mb() -> float:
    """Peak resident memory of this process, or of its largest finished child if larger, in MB.

    Not ``getrusage``'s own ``ru_maxrss``: Linux keeps it across fork and exec, so a job started by a
    Snakemake process that had reached 2.4 GB (validating 500 patients' files) reported 2.4 GB whatever it
    used. ``VmHWM`` in ``/proc/self/status`` is the high-water mark of this program alone (reset at exec).
    A child's peak is bounded by this process's at its fork, so the children's ``ru_maxrss`` stays right.
    """
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    own = _own_peak_kb()
    if own is None:    # no /proc (macOS, where ru_maxrss is in bytes, not kB)
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if sys.platform == "darwin":
            own, children = own / 1024, children / 1024
    return max(own, children) / 1024


def _own_peak_kb() -> int | None:
    """``VmHWM`` of ``/proc/self/status`` (kB), None where there is no such line."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def start(snakemake) -> logging.Logger:
    """Send logging, warnings and uncaught exceptions of this job to ``snakemake.log[0]``.

    New files and folders get the modes of ``privacy.file_mode`` / ``privacy.dir_mode`` (a umask),
    temporary files a killed earlier run of this job left beside its outputs are removed, and
    SIGTERM becomes ``SystemExit``; at exit the job's CPU time and peak memory are logged
    (:func:`log_resources`). Returns the logger named after the rule. Call it first in every adapter script.
    """
    privacy.apply_modes(privacy.PrivacySettings.from_config(getattr(snakemake, "config", None) or {}))
    removed = tables.remove_stale_temporaries(snakemake.output)
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    handlers = [logging.FileHandler(snakemake.log[0], mode="w")] if snakemake.log else []
    handlers.append(logging.StreamHandler(sys.stderr))
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)
    warnings.simplefilter("default")
    logging.getLogger("anndata").setLevel(logging.WARNING)  # its "storing as categorical" notes are noise
    logger = logging.getLogger(snakemake.rule)
    for path in removed:
        logger.info("removed %s, left by an interrupted earlier run", path)
    # The rule's threads bound every thread pool (BLAS, OpenMP), so a job never takes a whole node.
    threads = max(1, int(getattr(snakemake, "threads", 1) or 1))
    limit_threads(threads)
    where = (f"; SLURM job {os.environ['SLURM_JOB_ID']} on {os.environ.get('SLURMD_NODENAME', '?')} with "
             f"{os.environ.get('SLURM_CPUS_PER_TASK', '?')} CPU(s) per task" if "SLURM_JOB_ID" in os.environ else "")
    logger.info("trialomics %s from %s; %d thread(s)%s", __version__, os.path.dirname(__file__), threads, where)

    def log_uncaught(exc_type, exc, tb):
        # The user sees one line naming rule, wildcards and fix. A problem of the data is fully said by
        # that line; any other exception is a fault of the code, whose traceback goes to the log file
        # only (Snakemake's --show-failed-logs prints it: it belongs in a bug report).
        if not is_user_facing(exc):
            record = logger.makeRecord(logger.name, logging.ERROR, __file__, 0, "job failed", None,
                                       (exc_type, exc, tb))
            for handler in handlers[:-1]:
                handler.handle(record)
        wildcards = dict(snakemake.wildcards.items()) if hasattr(snakemake, "wildcards") else {}
        logger.error(failure_line(snakemake.rule, wildcards, exc, snakemake.log[0] if snakemake.log else None))

    sys.excepthook = log_uncaught
    atexit.register(log_resources, logger)
    return logger


def done(logger: logging.Logger) -> None:
    """End a job that succeeded: log its resources, flush the logs and exit at once. Call it last in every adapter.

    Every output is written by then (atomically: closed and renamed into place), so the interpreter's
    teardown, which frees every module and object one by one, is work for nothing: 0.1-0.4 CPU-s per job
    (numba, pandas, matplotlib), about 4% of the demo's CPU. A job that fails never gets here: its
    exception, traceback and exit status go the usual way. A job that still has a child process (a
    joblib pool) or a non-daemon thread exits the usual way too, which waits for them.
    """
    atexit.unregister(log_resources)
    log_resources(logger)
    if _has_children_or_threads():
        return
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _has_children_or_threads() -> bool:
    if any(thread.is_alive() and not thread.daemon for thread in threading.enumerate()
           if thread is not threading.main_thread()):
        return True
    try:
        return any(Path(task, "children").read_text().strip() for task in Path("/proc/self/task").iterdir())
    except OSError:  # no /proc (not Linux): assume there may be children
        return True
