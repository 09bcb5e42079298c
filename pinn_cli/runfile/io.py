"""The HDF5 run file ``run.h5``: one writer, one reader. Schema: ``docs/run-file.md``.

Layout: root attributes describe the run; each *series* group (``/metrics``, ``/snr``, ...) holds
a ``step`` dataset (n,) and fields (n, ...) that grow together along their first axis; *static*
datasets (grids, axes) are written once. The file is written in single-writer/multiple-reader
(SWMR) mode and flushed after every record, so a reader can follow a running run, and a run killed
at any moment (SIGKILL) leaves a file that holds every record completed before the kill. Such a
file must be opened with ``swmr=True`` (as :func:`read_run` does when it has to); plain
``h5py.File`` refuses it until the writer has closed it cleanly.

Hostile files end in one line, never a hang or a traceback: a read of anything that is not a
whole run file raises :class:`RunFileError`, a write that the disk or the file refuses raises
:class:`RunWriteError`. See :func:`_open_for_reading` for how a truncated file is kept from
hanging a reader, and :class:`RunWriter` for why it runs without a chunk cache.
"""
from __future__ import annotations

import ctypes
import functools
import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from pinn_cli.errors import PinnError

SCHEMA_VERSION = 3           # 3: the outcome in /final; 2: attrs choices/overrides, generic weighting stats
# The run's outcome, written in place when the writer closes (``/final/<name>``, scalars made when
# the file is created): an attribute cannot change under SWMR, and reopening the file to set one
# needs room that a full disk does not have. Readers see these as root attributes.
FINAL = {"status": "S16", "steps": "i8", "wall_time": "f8", "final_loss": "f8",
         "final_rel_l2": "f8", "best_rel_l2": "f8", "best_step": "i8"}
UNSET = {"i": -1, "f": np.nan}           # what an outcome field holds until it is set
CHUNK_BYTES = 1 << 16
# An SWMR reader re-reads metadata whose checksum fails, sleeping 1, 2, 4, ... ns in between (a
# writer may be halfway through rewriting it). HDF5's default, 100 attempts, sums to 2^100 ns:
# on a truncated file, whose missing bytes read as zeros and never match, it never ends. 28
# attempts wait 2^28 ns = 0.27 s at most, ages longer than a writer takes to write one block.
SWMR_READ_ATTEMPTS = 28
# Where that bound cannot be set, a child process reads the file first, under this limit (s).
PROBE_TIMEOUT = 10.0


class RunFileError(PinnError):
    """A path that is not a readable pinn-cli run file."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")


class RunWriteError(PinnError):
    """A run file that could not be written: disk full, file made read-only or immutable, ..."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")


@dataclass
class SeriesSpec:
    """Fields of one series group: name -> (per-record shape, dtype). ``compress`` gzips them.
    ``kind``: what wrote the group (its probe's :attr:`pinn_cli.diagnostics.base.Probe.kind`),
    stored as the group's attribute ``kind``; readers find a group by it, whatever its name."""

    fields: dict[str, tuple[tuple[int, ...], str]]
    compress: bool = False
    kind: str = ""


class RunWriter:
    """Creates ``path`` with the declared layout, then appends records.

    Args:
        path: the file to create (it must not exist).
        attrs: root attributes (strings, numbers).
        series: group name -> SeriesSpec.
        static: dataset path -> array, written once.

    A write that the file refuses (disk full, quota, file made immutable) raises RunWriteError,
    and from then on HDF5 never writes to the file again (see :meth:`_detach`): it stays as a
    killed run's file, status ``running``, holding every record appended before. The file runs
    without a chunk cache, so a record reaches the file in :meth:`append` itself; with a cache,
    a refused chunk stayed dirty, HDF5's dataset close failed halfway yet kept the handle, and
    HDF5 closed it again at interpreter exit: a segfault. (Every record is flushed at once
    anyway, so the cache saved nothing.)
    """

    def __init__(self, path, attrs: dict, series: dict[str, SeriesSpec],
                 static: dict[str, np.ndarray] | None = None):
        self.path = Path(path)
        self.sizes: dict[str, int] = {}
        self.f = None
        self.failed: str | None = None              # why a write was refused, once one was
        try:
            self.f = h5py.File(self.path, "w-", libver="latest", rdcc_nbytes=0)
            self.f.attrs.update({"schema_version": SCHEMA_VERSION, **attrs})
            for name, spec in series.items():
                g = self.f.create_group(name)
                if spec.kind:
                    g.attrs["kind"] = spec.kind
                g.create_dataset("step", shape=(0,), maxshape=(None,), dtype="i8", chunks=(4096,))
                for key, (shape, dtype) in spec.fields.items():
                    row = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
                    rows = min(1024, max(1, CHUNK_BYTES // max(row, 1)))
                    g.create_dataset(key, shape=(0, *shape), maxshape=(None, *shape), dtype=dtype,
                                     chunks=(rows, *shape),
                                     fillvalue=np.nan if dtype[0] == "f" else 0,
                                     compression="gzip" if spec.compress else None)
                self.sizes[name] = 0
            for key, value in (static or {}).items():
                self.f.create_dataset(key, data=value)
            final = self.f.create_group("final")
            for key, dtype in FINAL.items():     # allocated now: setting them needs no new room
                final.create_dataset(key, data=np.array(b"running" if key == "status"
                                                        else UNSET[dtype[0]], dtype=dtype))
            self.f.swmr_mode = True
            self.f.flush()
        except (OSError, RuntimeError) as e:
            if self.f is not None:
                self._refused(e)
                f, self.f = self.f, None
                _close_quietly(f)
            raise RunWriteError(self.path, f"cannot create the run file ({_reason(e)})") from e

    def append(self, group: str, step: int, **values) -> None:
        """Add one record to ``group``; every field of the group must be given. Flushed at once.

        Raises RunWriteError when the file refuses the write (and for every append after): the
        record does not count (``step`` is written last), the file keeps every earlier record.
        """
        if self.f is None or self.failed:
            why = "it is closed" if self.f is None else f"an earlier write failed: {self.failed}"
            raise RunWriteError(self.path, f"cannot append the record at step {step} to /{group} "
                                           f"({why})")
        g, n = self.f[group], self.sizes[group]
        missing = set(g) - {"step"} - set(values)
        if missing:
            raise ValueError(f"record for /{group} lacks {sorted(missing)}")
        try:
            for key, value in values.items():
                ds = g[key]
                ds.resize(n + 1, axis=0)
                ds[n] = value
                ds.flush()
            g["step"].resize(n + 1, axis=0)
            g["step"][n] = step                   # written last: a record counts once step has it
            g["step"].flush()
        except (OSError, RuntimeError) as e:
            self._refused(e)
            raise RunWriteError(self.path, f"cannot append the record at step {step} to "
                                           f"/{group} ({self.failed})") from e
        self.sizes[group] = n + 1

    def counts(self) -> dict[str, int]:
        """Records written so far per series group (each flushed to the file)."""
        return dict(self.sizes)

    def copy_records(self, source: "Run", before_step: int) -> None:
        """Append every record of ``source`` with step < ``before_step`` (used when resuming)."""
        for group, data in source.series.items():
            if group not in self.sizes:
                continue
            for i in np.flatnonzero(data["step"] < before_step):
                self.append(group, int(data["step"][i]),
                            **{k: v[i] for k, v in data.items() if k != "step"})

    def close(self, status: str, **outcome) -> None:
        """Write the outcome (``status`` and any of :data:`FINAL`) into ``/final``, then close.

        The values overwrite datasets made with the file, in place, so that this needs no room a
        full disk lacks and the file is never reopened. The HDF5 file is closed exactly once; a
        second call does nothing. Raises RunWriteError when the outcome cannot be written (a
        write was refused before or now): the file then keeps status ``running``, as a killed
        run's file, and every record.
        """
        unknown = set(outcome) - set(FINAL)
        if unknown:
            raise ValueError(f"not outcome fields of the run file: {sorted(unknown)}")
        if self.f is None:
            return
        if not self.failed:
            try:
                for key, value in {"status": status, **outcome}.items():
                    if value is not None:
                        self.f["final"][key][()] = value.encode() if key == "status" else value
                self.f.flush()
            except (OSError, RuntimeError) as e:
                self._refused(e)
        f, self.f = self.f, None
        try:
            f.close()
        except (OSError, RuntimeError) as e:
            self.failed = self.failed or _reason(e)
        if self.failed:
            raise RunWriteError(self.path, f"cannot record status {status!r}: a write failed "
                                           f"({self.failed}); the file keeps status 'running' and "
                                           f"every record appended")

    def _refused(self, error: BaseException) -> None:
        self.failed = _reason(error)
        self._detach()

    def _detach(self) -> None:
        """Point HDF5's file descriptor at an in-memory file, so that HDF5 never writes to the
        run file again: not at the next flush, not when closing, not at interpreter exit.

        After a refused write, whatever HDF5 writes next only does harm: on a full disk its
        close wrote a superblock whose end-of-file the file never reached, and no reader opened
        the file again. Left alone, the file is as its last successful flush left it: under
        SWMR, a consistent file, like a killed run's."""
        try:
            fd = self.f.id.get_vfd_handle()
            sink = (os.memfd_create("detached-run-file") if hasattr(os, "memfd_create")
                    else os.dup(tempfile.TemporaryFile().fileno()))   # unlinked: gone at exit
            os.dup2(sink, fd)                       # closes the run file; HDF5 keeps its fd
            os.close(sink)
        except (OSError, RuntimeError, ValueError):
            pass                                    # not the sec2 driver: nothing to detach


@dataclass
class Run:
    """Everything in one run file, as numpy arrays."""

    path: Path
    attrs: dict
    series: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    static: dict[str, np.ndarray] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)      # group -> its probe's kind

    def has(self, group: str | None) -> bool:
        return group in self.series and len(self.series[group]["step"]) > 0

    def kind(self, group: str) -> str:
        """What wrote ``group``: the recorded kind; a file from before kinds were recorded
        named every shipped group after its kind."""
        return self.kinds.get(group, group)

    def group(self, kind: str) -> str | None:
        """The group of this kind that holds records (the first, in the file's order), or None."""
        return next((g for g in self.series if self.kind(g) == kind and self.has(g)), None)

    def data(self, kind: str) -> dict[str, np.ndarray]:
        """The series of the group of ``kind`` ({} without one)."""
        group = self.group(kind)
        return self.series[group] if group is not None else {}


def read_run(path) -> Run:
    """Read a run file, complete, running or killed. Raises RunFileError with one clear reason."""
    return _read(Path(path), steps_only=False)


def read_attrs(path) -> dict:
    """Only the root attributes of a run file (fast: no series are read)."""
    path = _existing(Path(path))
    with _reading(path) as f:
        run = Run(path=path, attrs={k: _plain(v) for k, v in f.attrs.items()})
        if "final" in f:
            for key, ds in f["final"].items():
                _collect(run, f"final/{key}", ds, steps_only=False)
        return run.attrs


def count_records(path, before_step: int | None = None) -> dict[str, int]:
    """Records per series group in a run file (complete, running or killed), counting only
    those with step < ``before_step`` when given. Reads only the ``step`` datasets, but checks
    every field like :func:`read_run`, so a truncated file raises RunFileError.

    For a caller about to replace one run file by another (the trainer, resuming in place):
    the replacement must hold at least as many records in every group, or records are lost.
    """
    run = _read(Path(path), steps_only=True)
    return {group: int(np.count_nonzero(data["step"] < before_step)) if before_step is not None
            else len(data["step"]) for group, data in run.series.items()}


def _read(path: Path, steps_only: bool) -> Run:
    path = _existing(path)
    if not h5py.is_hdf5(path):
        raise RunFileError(path, "not an HDF5 file")
    with _reading(path) as f:
        run = Run(path=path, attrs={k: _plain(v) for k, v in f.attrs.items()})
        if "schema_version" not in run.attrs:
            raise RunFileError(path, "an HDF5 file, but not a pinn-cli run file")
        datasets: dict[str, h5py.Dataset] = {}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                datasets[name] = obj
                _collect(run, name, obj, steps_only)
            elif "kind" in obj.attrs:
                run.kinds[name] = _plain(obj.attrs["kind"])
        f.visititems(visit)
        # A record counts once every dataset of its group has it: a killed writer may have grown
        # a field but not step, and a running one may grow step after a field was read.
        for group, data in run.series.items():
            n = min(len(v) for v in data.values())
            run.series[group] = {k: v[:n] for k, v in data.items()}
        if f.swmr_mode:
            _check_inside(path, datasets, run)
    return run


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise RunFileError(path, "no such file")
    return path


@contextmanager
def _reading(path: Path):
    """The open file; h5py's and HDF5's errors, opening or reading, become one RunFileError."""
    try:
        with _open_for_reading(path) as f:
            yield f
    except (OSError, KeyError, ValueError, RuntimeError) as e:
        raise RunFileError(path, f"unreadable or truncated HDF5 file ({_first_line(e)})") from e


def _open_for_reading(path: Path) -> h5py.File:
    """A plain read first: fast, and HDF5 checks there that the file is as long as its
    superblock says. A file that a writer holds (running, or killed) only opens for SWMR
    reading, where that check is skipped and a checksum that fails is retried: with HDF5's
    defaults, forever on a truncated file (see SWMR_READ_ATTEMPTS). So the retries are bounded,
    and :func:`_check_inside` then takes the place of the length check."""
    try:
        return h5py.File(path, "r")
    except OSError as e:
        if "already open for write" not in str(e):
            raise
    set_attempts = _read_attempts_setter()
    if set_attempts is None:                        # no bound to set: a child takes the risk
        _probe_in_child(path)
        return h5py.File(path, "r", libver="latest", swmr=True)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    if set_attempts(fapl.id, SWMR_READ_ATTEMPTS) < 0:
        raise RuntimeError("H5Pset_metadata_read_attempts failed")
    fid = h5py.h5f.open(os.fsencode(path), h5py.h5f.ACC_RDONLY | h5py.h5f.ACC_SWMR_READ, fapl=fapl)
    return h5py.File(fid)


@functools.cache
def _read_attempts_setter():
    """HDF5's ``H5Pset_metadata_read_attempts(fapl, n)``, which h5py does not wrap, or None.

    Looked up through h5py's own extension module, so the symbol comes from the HDF5 that h5py
    loaded (dlsym searches a library's dependencies), never from a second copy of HDF5."""
    try:
        fn = ctypes.CDLL(h5py.h5p.__file__).H5Pset_metadata_read_attempts
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = [ctypes.c_int64, ctypes.c_uint], ctypes.c_int   # hid_t, unsigned
    return fn


def _probe_in_child(path: Path) -> None:
    """Do the unbounded SWMR read in a child process first, where a hang can be cut short; the
    same read here follows only if the child read every dataset."""
    code = ("import sys, h5py\n"
            "def read(name, obj):\n"               # returns None: visititems goes on
            "    if isinstance(obj, h5py.Dataset):\n"
            "        obj[()]\n"
            "with h5py.File(sys.argv[1], 'r', libver='latest', swmr=True) as f:\n"
            "    f.visititems(read)\n")
    try:
        child = subprocess.run([sys.executable, "-c", code, str(path)], timeout=PROBE_TIMEOUT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    except subprocess.TimeoutExpired:
        raise RunFileError(path, f"unreadable or truncated HDF5 file (reading it did not end "
                                 f"within {PROBE_TIMEOUT:g} s)") from None
    if child.returncode != 0:
        last = (child.stderr.strip().splitlines() or [f"exit status {child.returncode}"])[-1]
        raise RunFileError(path, f"unreadable or truncated HDF5 file ({last})")


def _check_inside(path: Path, datasets: dict[str, h5py.Dataset], run: Run) -> None:
    """Under SWMR, HDF5 reads bytes past the end of a truncated file as zeros: the records there
    would come back as zeros. Every byte that the records read need must lie in the file, for
    every dataset (also those not read, so that count_records agrees with read_run). The size
    is taken after reading: a running writer writes data before it indexes it."""
    needed = {}
    for name, ds in datasets.items():
        group = name.rpartition("/")[0]
        needed[name] = _data_end(ds, len(run.series[group]["step"]) if group in run.series
                                 else None)
    size = path.stat().st_size
    for name, end in needed.items():
        if end > size:
            raise RunFileError(path, f"truncated HDF5 file: the records of /{name} need {end} "
                                     f"bytes, the file has {size}")


def _data_end(ds: h5py.Dataset, n: int | None = None) -> int:
    """One past the last byte of the file that the first ``n`` rows of ``ds`` (all when None)
    lie in. Rows of an uncompressed chunk lie in order, so a killed writer's last chunk counts
    only up to its last record; a compressed chunk is needed whole."""
    if ds.chunks is None:
        offset = ds.id.get_offset()                 # None: compact, or nothing stored
        return 0 if offset is None else offset + ds.id.get_storage_size()
    n = ds.shape[0] if n is None else n
    row = ds.dtype.itemsize * int(np.prod(ds.chunks[1:], dtype=np.int64))
    whole = ds.id.get_create_plist().get_nfilters() > 0
    ends = [0]

    def visit(chunk):
        first = chunk.chunk_offset[0]
        if first < n:
            ends.append(chunk.byte_offset + (chunk.size if whole
                                             else min(n - first, ds.chunks[0]) * row))
    try:
        ds.id.chunk_iter(visit)
    except (AttributeError, NotImplementedError):   # HDF5 < 1.14: one chunk at a time
        for i in range(ds.id.get_num_chunks()):
            visit(ds.id.get_chunk_info(i))
    return max(ends)


def _collect(run: Run, name: str, obj: h5py.Dataset, steps_only: bool) -> None:
    group, _, key = name.rpartition("/")
    if group == "final" and key in FINAL:
        value = _plain(obj[()])
        if value != UNSET.get(FINAL[key][0]) and value == value:    # set (NaN != NaN: unset)
            run.attrs[key] = value
    elif group and "step" in obj.parent and obj.maxshape[0] is None:
        if steps_only and key != "step":
            return
        obj.refresh()
        run.series.setdefault(group, {})[key] = obj[()]
    else:
        run.static[name] = obj[()]


def _close_quietly(f: h5py.File) -> None:
    try:
        f.close()
    except (OSError, RuntimeError):
        pass


def _reason(e: BaseException) -> str:
    """What a user can act on: the OS's reason when there is one. h5py's own messages span
    lines and carry timestamps and buffer addresses."""
    if isinstance(e, OSError) and e.errno:
        return os.strerror(e.errno)
    return _first_line(e)


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _plain(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value
