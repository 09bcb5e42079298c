"""Whether a run that says ``running`` can still progress, for ``pinn-analyze --watch``.

A run file keeps status ``running`` until its writer closes it; a process killed with SIGKILL,
a node that died or a job the scheduler cancelled never closes it. A run is taken as still
running when:

- its file says so, and the process that writes it (``host`` and ``pid`` in its attributes) is
  alive, on this host;
- or, written on another host under SLURM (``slurm_job_id``), the scheduler still lists its job;
- or, where neither can be asked, its file changed less than ``stale`` seconds ago.

A file that cannot be read yet (being created) counts as running for ``stale`` seconds after its
last change. A sweep's jobs that have no folder yet are pending only while the sweep's launcher
holds its folder's claim (:func:`pinn_cli.cli.claim.held`).
"""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

STALE = 600.0           # seconds without a change after which a run nobody can vouch for is stopped


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True                     # someone else's process: alive
    return True


def slurm_job_alive(job: str) -> bool | None:
    """Whether SLURM still lists ``job`` (pending or running); None if SLURM cannot be asked."""
    if not shutil.which("squeue"):
        return None
    try:
        out = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True,
                             text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return False if "Invalid job id" in out.stderr else None
    return bool(out.stdout.strip())


def still_running(path: Path, attrs: dict | None, stale: float = STALE) -> bool:
    """Whether the run of ``path`` (its root attributes, or None when unreadable) can still
    progress (module docstring)."""
    if attrs is not None and attrs.get("status") != "running":
        return False
    if attrs is not None:
        pid, host = attrs.get("pid"), attrs.get("host")
        if pid and host == platform.node():
            return pid_alive(int(pid))
        job = attrs.get("slurm_job_id")
        if job:
            alive = slurm_job_alive(str(job))
            if alive is not None:
                return alive
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        return False
    return age < stale
