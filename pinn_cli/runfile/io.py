"""The HDF5 run file ``run.h5``: one writer, one reader. Schema: ``docs/run-file.md``.

Layout: root attributes describe the run; each *series* group (``/metrics``, ``/snr``, ...) holds
a ``step`` dataset (n,) and fields (n, ...) that grow together along their first axis; *static*
datasets (grids, axes) are written once. The file is written in single-writer/multiple-reader
(SWMR) mode and flushed after every record, so a reader can follow a running run, and a run killed
at any moment (SIGKILL) leaves a file that holds every record completed before the kill. Such a
file must be opened with ``swmr=True`` (as :func:`read_run` does when it has to); plain
``h5py.File`` refuses it until the writer has closed it cleanly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from pinn_cli.errors import PinnError

SCHEMA_VERSION = 1
CHUNK_BYTES = 1 << 16


class RunFileError(PinnError):
    """A path that is not a readable pinn-cli run file."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")


@dataclass
class SeriesSpec:
    """Fields of one series group: name -> (per-record shape, dtype). ``compress`` gzips them."""

    fields: dict[str, tuple[tuple[int, ...], str]]
    compress: bool = False


class RunWriter:
    """Creates ``path`` with the declared layout, then appends records.

    Args:
        path: the file to create (it must not exist).
        attrs: root attributes (strings, numbers).
        series: group name -> SeriesSpec.
        static: dataset path -> array, written once.
    """

    def __init__(self, path, attrs: dict, series: dict[str, SeriesSpec],
                 static: dict[str, np.ndarray] | None = None):
        self.path = Path(path)
        self.f = h5py.File(self.path, "w-", libver="latest")
        self.f.attrs.update({"schema_version": SCHEMA_VERSION, "status": "running", **attrs})
        self.sizes: dict[str, int] = {}
        for name, spec in series.items():
            g = self.f.create_group(name)
            g.create_dataset("step", shape=(0,), maxshape=(None,), dtype="i8", chunks=(4096,))
            for key, (shape, dtype) in spec.fields.items():
                row = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
                rows = min(1024, max(1, CHUNK_BYTES // max(row, 1)))
                g.create_dataset(key, shape=(0, *shape), maxshape=(None, *shape), dtype=dtype,
                                 chunks=(rows, *shape), fillvalue=np.nan if dtype[0] == "f" else 0,
                                 compression="gzip" if spec.compress else None)
            self.sizes[name] = 0
        for key, value in (static or {}).items():
            self.f.create_dataset(key, data=value)
        self.f.swmr_mode = True
        self.f.flush()

    def append(self, group: str, step: int, **values) -> None:
        """Add one record to ``group``; every field of the group must be given. Flushed at once."""
        g, n = self.f[group], self.sizes[group]
        missing = set(g) - {"step"} - set(values)
        if missing:
            raise ValueError(f"record for /{group} lacks {sorted(missing)}")
        for key, value in values.items():
            ds = g[key]
            ds.resize(n + 1, axis=0)
            ds[n] = value
            ds.flush()
        g["step"].resize(n + 1, axis=0)
        g["step"][n] = step                       # written last: a record counts once step has it
        g["step"].flush()
        self.sizes[group] = n + 1

    def copy_records(self, source: "Run", before_step: int) -> None:
        """Append every record of ``source`` with step < ``before_step`` (used when resuming)."""
        for group, data in source.series.items():
            if group not in self.sizes:
                continue
            for i in np.flatnonzero(data["step"] < before_step):
                self.append(group, int(data["step"][i]),
                            **{k: v[i] for k, v in data.items() if k != "step"})

    def close(self, status: str, **attrs) -> None:
        """Close the file, then record the final status (attributes cannot change under SWMR)."""
        self.f.close()
        with h5py.File(self.path, "r+") as f:
            f.attrs.update({"status": status, **attrs})


@dataclass
class Run:
    """Everything in one run file, as numpy arrays."""

    path: Path
    attrs: dict
    series: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    static: dict[str, np.ndarray] = field(default_factory=dict)

    def has(self, group: str) -> bool:
        return group in self.series and len(self.series[group]["step"]) > 0


def read_run(path) -> Run:
    """Read a run file, complete, running or killed. Raises RunFileError with one clear reason."""
    path = Path(path)
    if not path.is_file():
        raise RunFileError(path, "no such file")
    if not h5py.is_hdf5(path):
        raise RunFileError(path, "not an HDF5 file")
    try:
        with _open_for_reading(path) as f:
            run = Run(path=path, attrs={k: _plain(v) for k, v in f.attrs.items()})
            if "schema_version" not in run.attrs:
                raise RunFileError(path, "an HDF5 file, but not a pinn-cli run file")
            f.visititems(lambda name, obj: _collect(run, name, obj))
    except RunFileError:
        raise
    except (OSError, KeyError, ValueError, RuntimeError) as e:
        raise RunFileError(path, f"unreadable or truncated HDF5 file ({str(e).splitlines()[0]})")
    for group, data in run.series.items():  # a killed writer may have grown a field, not step
        n = len(data["step"])
        run.series[group] = {k: v[:n] for k, v in data.items()}
    return run


def read_attrs(path) -> dict:
    """Only the root attributes of a run file (fast: no series are read)."""
    path = Path(path)
    if not path.is_file():
        raise RunFileError(path, "no such file")
    try:
        with _open_for_reading(path) as f:
            return {k: _plain(v) for k, v in f.attrs.items()}
    except OSError as e:
        raise RunFileError(path, f"unreadable or truncated HDF5 file ({str(e).splitlines()[0]})")


def _open_for_reading(path: Path) -> h5py.File:
    """A plain read first: it fails fast on a truncated file, where an SWMR reader would retry
    its checksums for minutes. SWMR only when a writer holds the file (running, or killed)."""
    try:
        return h5py.File(path, "r")
    except OSError as e:
        if "already open for write" not in str(e):
            raise
    return h5py.File(path, "r", libver="latest", swmr=True)


def _collect(run: Run, name: str, obj) -> None:
    if not isinstance(obj, h5py.Dataset):
        return
    group, _, key = name.rpartition("/")
    if group and "step" in obj.parent and obj.maxshape[0] is None:
        obj.refresh()
        run.series.setdefault(group, {})[key] = obj[()]
    else:
        run.static[name] = obj[()]


def _plain(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value

