"""Checkpoints: everything needed to continue a run bit for bit on the same device and dtype.

A checkpoint taken after k updates holds what :meth:`pinn_cli.training.assemble.Runtime.state_dict`
names (the parameters, the optimizer and schedule, the weighting, every random-number state, the
wall-clock offset, k, ...). It is
written beside the run folder's last checkpoint (:class:`pinn_cli.run_folder.RunFolder`) as a
temporary file, synced to disk, and renamed over it: a kill (or a crash of the machine) never
leaves half of one, and the next save removes the temporary file a kill left. A checkpoint that
cannot be read (truncated, empty, not a checkpoint) is one clear error.
"""
from __future__ import annotations

import contextlib
import os
import pickle
import re
from pathlib import Path

import numpy as np
import torch

from pinn_cli.errors import PinnError
from pinn_cli.run_folder import RunFolder


def save(run_dir, state: dict) -> Path:
    """Write ``state`` (:meth:`pinn_cli.training.assemble.Runtime.state_dict`) as the run folder's
    last checkpoint, atomically; remove temporary files an earlier kill left."""
    path = RunFolder(run_dir).last
    with contextlib.suppress(OSError):              # left by kills under the old naming
        for stale in path.parent.glob("tmp*.tmp"):
            stale.unlink(missing_ok=True)
    return save_state(path, state)


def save_state(path: Path, state: dict) -> Path:
    """``torch.save(state)`` to ``path`` atomically: a synced temporary file renamed over it."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_synced(tmp, lambda f: torch.save(state, f))
        os.replace(tmp, path)
        _sync_dir(path.parent)
    except (OSError, RuntimeError) as e:            # RuntimeError: torch's zip writer, disk full
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise PinnError(f"{path}: cannot write the checkpoint ({_reason(e)}); the previous one, "
                        f"if any, is kept") from e
    return path


def _numpy_globals() -> list:
    """What a checkpoint's numpy arrays and scalars unpickle through (the numpy RNG state, a
    sampler's points): numpy's array and scalar constructors and its dtypes, nothing that runs
    code."""
    core = getattr(np, "_core", None) or np.core
    kinds = (np.float64, np.float32, np.int64, np.int32, np.uint32, np.uint8, np.bool_)
    return [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype,
            *(type(np.dtype(k)) for k in kinds)]


def read(path, device):
    """``torch.load`` with ``weights_only=True`` (tensors, numbers, strings, containers, numpy
    arrays): a checkpoint is data, and one whose pickle names anything else (a function, a
    class that would run code) is refused unread. FileNotFoundError passes; anything else is a
    PinnError, one line."""
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            return torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise
    except pickle.UnpicklingError as e:
        what = re.search(r"GLOBAL (\S+)", str(e))           # the refused callable or class
        if what:
            raise PinnError(f"{path}: refused: the checkpoint names {what.group(1)}, and pinn-cli "
                            "reads only tensors, numbers and arrays from a checkpoint (nothing "
                            "was run)") from None
        raise PinnError(f"{path}: unreadable checkpoint, truncated or damaged (not a "
                        "checkpoint's pickle)") from e
    except Exception as e:  # noqa: BLE001
        # A damaged file makes torch.load raise nearly anything: OSError, RuntimeError from its
        # zip reader, EOFError, and (seen fuzzing) AssertionError from within.
        raise PinnError(f"{path}: unreadable checkpoint, truncated or damaged "
                        f"({_reason(e)})") from e


def load(path, device) -> dict:
    """The checkpoint at ``path`` (:func:`read`); PinnError (one line, naming it) if it cannot
    be read or is not a pinn-cli checkpoint."""
    try:
        state = read(path, device)
    except FileNotFoundError:
        raise PinnError(f"{path}: no such checkpoint") from None
    if not isinstance(state, dict) or not {"step", "model", "config"} <= state.keys():
        raise PinnError(f"{path}: unreadable checkpoint, not a pinn-cli checkpoint")
    return state


def _write_synced(path: Path, write) -> None:
    """Create ``path`` afresh and ``write(file)``, then fsync it: a rename after this never
    exposes a file whose bytes are still only in memory. A file left by a killed save is
    removed first. Created like any file (mode 0666 less the umask; mkstemp made it 0600)."""
    path.unlink(missing_ok=True)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())


def _reason(e: BaseException) -> str:
    """The OS's reason when there is one in the chain (torch's zip writer turns a full disk
    into "unexpected pos 704 vs 598", with the OSError as its context), else the first line."""
    cause: BaseException | None = e
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        cause = cause.__cause__ or cause.__context__
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _sync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable; some filesystems cannot sync a folder: no matter."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
