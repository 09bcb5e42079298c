"""On-disk cache of reference solutions, keyed by the solver's parameters.

A reference is computed once per parameter set and stored as ``<name>-<hash>.npz``. Several jobs
that start at once are safe: the first to take an exclusive lock computes, the others wait on the
lock and then read the file; the file appears by an atomic rename, so no reader sees half of it.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np


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
        if path.exists():
            self.hits += 1
            return dict(np.load(path))
        self.root.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one writer; the others wait here, then read
            if path.exists():
                self.hits += 1
                return dict(np.load(path))
            arrays = compute(**params)
            fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".npz.tmp")
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)
        return arrays
