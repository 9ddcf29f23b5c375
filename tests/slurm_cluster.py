"""A real single-node SLURM on localhost for the cluster test: munged, slurmctld and slurmd from
Debian's packages (slurm-wlm, munge), started in the foreground from a temporary directory and stopped
by PID.

Two facts about this set-up (measured, see the test): snakemake-executor-plugin-slurm drops
``SLURM_CONF`` before the job step's ``srun``, so the config must also be at ``/etc/slurm/slurm.conf``
(created here and removed afterwards; an existing one is put back); and without accounting (slurmdbd)
the plugin must ask ``squeue`` for job states, not ``sacct``.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo")
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")


def missing_programs() -> list[str]:
    return [name for name in DAEMONS if shutil.which(name) is None and not Path("/usr/sbin", name).exists()]


def _program(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def slurm_conf(folder: Path, socket: Path, cpus: int, memory_mb: int) -> str:
    return "\n".join([
        "ClusterName=trialomics-test",
        "SlurmctldHost=localhost",
        "SlurmUser=root",
        "SlurmdUser=root",
        f"AuthInfo=socket={socket}",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        "MpiDefault=none",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "ReturnToService=2",
        "MinJobAge=3600",
        "SchedulerType=sched/backfill",
        f"StateSaveLocation={folder / 'state'}",
        f"SlurmdSpoolDir={folder / 'spool'}",
        f"SlurmctldPidFile={folder / 'slurmctld.pid'}",
        f"SlurmdPidFile={folder / 'slurmd.pid'}",
        f"SlurmctldLogFile={folder / 'slurmctld.log'}",
        f"SlurmdLogFile={folder / 'slurmd.log'}",
        f"NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN",
        "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
        "",
    ])


def _stop(process: subprocess.Popen, name: str, log: list[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    log.append(f"stopped {name} (pid {process.pid}, exit {process.returncode})")


@contextmanager
def local_slurm(folder: Path, cpus: int = 2, memory_mb: int = 8000):
    """Start munged, slurmctld and slurmd; yield the environment for SLURM clients; stop them by PID."""
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("state", "spool", "munge"):
        (folder / sub).mkdir(exist_ok=True)
    munge = pwd.getpwnam("munge")
    munge_dir = folder / "munge"
    os.chmod(folder, 0o755)
    os.chown(munge_dir, munge.pw_uid, munge.pw_gid)
    os.chmod(munge_dir, 0o755)
    key, socket = munge_dir / "munge.key", munge_dir / "munge.socket"
    subprocess.run([_program("mungekey"), "--create", "--keyfile", str(key)], check=True, capture_output=True)
    os.chown(key, munge.pw_uid, munge.pw_gid)
    os.chmod(key, 0o600)
    conf = folder / "slurm.conf"
    conf.write_text(slurm_conf(folder, socket, cpus, memory_mb))
    env = dict(os.environ, SLURM_CONF=str(conf))

    put_back = None
    created_conf = False
    if SYSTEM_CONF.exists():
        put_back = SYSTEM_CONF.read_bytes()
    SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
    created_dir = not any(SYSTEM_CONF.parent.iterdir())
    shutil.copyfile(conf, SYSTEM_CONF)
    created_conf = put_back is None

    processes: list[tuple[str, subprocess.Popen]] = []
    stopped: list[str] = []
    try:
        munged = subprocess.Popen(
            ["runuser", "-u", "munge", "--", _program("munged"), "--foreground", f"--socket={socket}",
             f"--key-file={key}", f"--pid-file={munge_dir / 'munged.pid'}",
             f"--log-file={munge_dir / 'munged.log'}", f"--seed-file={munge_dir / 'munged.seed'}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(("munged", munged))
        _wait_for(lambda: socket.exists(), 20, "munged did not create its socket")
        slurmctld = subprocess.Popen([_program("slurmctld"), "-D", "-f", str(conf)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(("slurmctld", slurmctld))
        _wait_for(lambda: _sinfo(env) is not None, 30, "slurmctld did not answer")
        slurmd = subprocess.Popen([_program("slurmd"), "-D", "-f", str(conf), "-N", "localhost"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(("slurmd", slurmd))
        _wait_for(lambda: (_sinfo(env) or "").strip() in ("idle", "mixed", "allocated"), 60,
                  "the node did not become idle")
        yield env, [(name, process.pid) for name, process in processes]
    finally:
        for name, process in reversed(processes):
            _stop(process, name, stopped)
        if put_back is not None:
            SYSTEM_CONF.write_bytes(put_back)
        elif created_conf:
            SYSTEM_CONF.unlink(missing_ok=True)
            if created_dir:
                try:
                    SYSTEM_CONF.parent.rmdir()
                except OSError:
                    pass


def _sinfo(env) -> str | None:
    done = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], env=env, capture_output=True, text=True, timeout=20)
    return done.stdout if done.returncode == 0 else None


def _wait_for(condition, seconds: float, message: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise RuntimeError(message)
