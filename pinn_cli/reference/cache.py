"""On-disk cache of reference solutions, keyed by the solver's parameters.

A reference is computed once per parameter set and stored as ``<name>-<hash>.npz``. Several jobs
that start at once are safe: the first to take an exclusive lock computes, the others wait on the
lock and then read the file; the file appears by an atomic rename, so no reader sees half of it.

The cache only saves time, so it never stops a run: a cached file that cannot be read (truncated,
empty, garbage) is computed and written again, and a cache folder that cannot be written (read
only, a file, a full disk) leaves the reference computed in memory, with one warning line.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

log = logging.getLogger("pinn_cli")


def default_cache_dir() -> Path:
    """``$PINN_CLI_CACHE``, else ``$XDG_CACHE_HOME/pinn-cli``, else ``~/.cache/pinn-cli``."""
    if os.environ.get("PINN_CLI_CACHE"):
        return Path(os.environ["PINN_CLI_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pinn-cli"


class ReferenceCache:
    """Get-or-compute for dicts of numpy arrays.

    Args:
        root: the cache folder (created on first use); None means :func:`default_cache_dir`.
    """

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root else default_cache_dir()
        self.hits = 0

    def path(self, name: str, params: dict) -> Path:
        key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
        return self.root / f"{name}-{key}.npz"

    def get(self, name: str, params: dict, compute) -> dict[str, np.ndarray]:
        """Arrays for ``(name, params)``: read from disk, or ``compute(**params)`` and store."""
        path = self.path(name, params)
        arrays = self._read(path, quiet=True)       # the lock is only taken on a miss
        if arrays is not None:
            self.hits += 1
            return arrays
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            lock = open(path.with_suffix(".lock"), "w")
        except OSError as e:
            return self._uncached(path, compute(**params), e)
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX)    # one writer; the others wait here, then read
            except OSError as e:
                return self._uncached(path, compute(**params), e)
            arrays = self._read(path, quiet=False)
            if arrays is not None:
                self.hits += 1
                return arrays
            arrays = compute(**params)
            try:
                _write_atomically(path, arrays)
            except OSError as e:
                return self._uncached(path, arrays, e)
        return arrays

    @staticmethod
    def _read(path: Path, quiet: bool) -> dict[str, np.ndarray] | None:
        """The cached arrays, or None when there are none to use. Whatever is wrong with a file
        (numpy raises BadZipFile, ValueError, EOFError, even tokenize errors on garbage), the
        answer is the same: compute it again, so every exception means "none"."""
        if not path.exists():
            return None
        try:
            with np.load(path) as z:
                arrays = {k: z[k] for k in z.files}
            names = arrays.pop(KEYS, None)
            if names is None or not set(names.tolist()) <= set(arrays):
                raise ValueError("not a whole cache entry (arrays missing)")
            return arrays
        except Exception as e:                      # noqa: BLE001 (see the docstring)
            if not quiet:
                log.warning("reference cache: %s is unreadable (%s); computing it again", path,
                            _reason(e))
            return None

    @staticmethod
    def _uncached(path: Path, arrays: dict, error: OSError) -> dict[str, np.ndarray]:
        log.warning("reference cache: could not write %s (%s); the reference is computed in "
                    "memory and not cached", path, _reason(error))
        return arrays


# Every entry lists its own arrays: a file that lacks any of them (written by something else, or
# by a version that wrote fewer) is computed again, like a damaged one.
KEYS = "__arrays__"


def _write_atomically(path: Path, arrays: dict) -> None:
    """Write ``path`` by a rename from ``<path>.tmp`` (a fixed name: only the lock holder writes
    it, and a kill's leftover is replaced). The file is created like any file, mode 0666 less
    the umask (``tempfile.mkstemp`` made it 0600), and synced before the rename."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.unlink(missing_ok=True)
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as f:
            np.savez(f, **arrays, **{KEYS: np.array(sorted(arrays))})
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def _reason(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return (str(e).strip().splitlines() or [type(e).__name__])[0]
