"""Claiming an output folder before anything is written into it.

Two commands started at once (or in the same second, with the default ``outputs/DATE/TIME``)
must never write into one folder. ``pinn-train`` therefore takes an exclusive lock on
``FOLDER/.pinn.lock`` (``flock``: released by the kernel when the process ends, however it ends)
*before* Hydra writes ``.hydra/`` or the log, and only then looks at what the folder holds. The
lock is held until the command ends, so it also tells ``pinn-analyze --watch`` whether a sweep's
launcher is still alive (:func:`held`).

What a folder may hold for a new command to use it:

- nothing (or it does not exist yet);
- the same single run again with its checkpoint: the run resumes in place;
- the same sweep again (``.pinn-sweep.json`` holds the same overrides): the sweep continues
  (:mod:`pinn_cli.cli.sweep`);
- only what a command that failed before training left (``.hydra/``, ``*.log``, ``error.txt``,
  no ``run.h5``, no checkpoint): nothing of value, so the corrected command may reuse it.

Anything else is another run's, and the command is refused in one line (nothing changed). A
default folder (not given on the command line) that is taken gets a suffix instead:
``14-03-11`` -> ``14-03-11_1``.
"""
from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from pinn_cli.cli.sweep import same_sweep
from pinn_cli.errors import PinnError
from pinn_cli.run_folder import LEFT_BEFORE_TRAINING, RunFolder
_held: list[int] = []                      # lock descriptors kept open for the process's life


def held(folder) -> bool:
    """Whether a live process holds the claim on ``folder`` (False when there is no lock)."""
    try:
        fd = os.open(RunFolder(folder).lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def claim(folder: str, key: str, *, explicit: bool, overrides: list[str], sweep: bool = False) -> str:
    """Lock ``folder`` for this process and check that it may be used; -> the folder used (a
    suffixed one when ``folder`` is a taken default). Raises PinnError (one line) otherwise."""
    if not folder.strip():
        raise PinnError(f"{key}='' is not allowed: expected a folder (empty means the current one)")
    for n in range(1000):
        path = Path(folder if n == 0 else f"{folder}_{n}")
        # looked at first without the lock, so that a refusal creates nothing; again under it
        why = _occupied(path, sweep, overrides)
        if why is None:
            fd = _lock(path, key)
            why = "another pinn-train is writing to it right now" if fd is None else \
                _occupied(path, sweep, overrides)
            if why is None:
                _held.append(fd)
                return str(path)
            if fd is not None:
                os.close(fd)
        if explicit:
            fix = ("the same command continues the same sweep" if sweep else
                   "resume=<that run> continues it into a new one")
            raise PinnError(f"{key}={str(path)!r} is not allowed: {why}; choose a new folder "
                            f"({fix}; nothing was changed)")
    raise PinnError(f"{key}={folder!r}: no free folder among {folder}_1 .. _999")


def _lock(path: Path, key: str) -> int | None:
    """An exclusive lock on path/.pinn.lock (the folder made if need be); None if another
    process holds it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(RunFolder(path).lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise PinnError(f"{key}={str(path)!r} is not allowed: expected a writable folder "
                        f"({e.strerror or e})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise PinnError(f"{key}={str(path)!r} is not allowed: cannot lock it ({e.strerror})") from None
    return fd


def _occupied(path: Path, sweep: bool, overrides: list[str]) -> str | None:
    """Why ``path`` holds another run (or sweep), or None if this command may use it."""
    if not path.is_dir():
        return None if not path.exists() else "it is a file, not a folder"
    if all(p.name in LEFT_BEFORE_TRAINING or p.name.endswith(".log") for p in path.iterdir()):
        return None                        # empty, or left by a command stopped before training
    if sweep:
        if same_sweep(path, overrides):
            return None                    # the same sweep again: it continues
        return "it already holds files (another sweep, or a sweep with other overrides)"
    saved = RunFolder(path).saved_overrides()
    if RunFolder(path).has_checkpoint() and saved is not None and _plain(saved) == _plain(overrides):
        return None                        # the same run again: it resumes in place
    return "it already holds files (another run)"


def _plain(overrides) -> list[str]:
    return sorted(o for o in overrides if not o.startswith(("resume=", "hydra.run.dir=")))
