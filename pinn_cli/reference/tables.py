"""Reading data files into named columns: plain-text columns, CSV, ``.npz``, ``.mat``, HDF5.

A file is read as a :class:`Table`, from which columns are taken by a *column spec*:

- an integer k: column k (from 0) of the file's table: the rows of numbers of a text file, or
  the one 2-D array of an ``.npz``/``.mat``/HDF5 file;
- a name: a column named in a text file's header row (``x,y,u`` in a CSV; the last comment line
  before the numbers when its words are as many as the columns, as COMSOL writes ``% x y u``),
  or an array of an ``.npz`` (its key), a ``.mat`` (its variable) or an HDF5 file (its dataset
  path, ``group/u``), with its shape kept (a grid's values);
- ``"name[k]"``: column k of the 2-D array ``name``.

Text files (``.txt``, ``.dat``, ``.csv``, ``.tsv``, any other suffix): blank lines and lines
starting with ``#``, ``%`` or ``//`` are comments; numbers are separated by commas, semicolons,
tabs or spaces. ``.mat`` files up to v7.2 are read with ``scipy.io.loadmat``; v7.3 files are HDF5
and are read with h5py, each array transposed back to MATLAB's shape (HDF5 stores them
column-major). Every failure is one line naming the file (FileNotFoundError, ValueError).
"""
from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np

COMMENT = ("#", "%", "//")


class Table:
    """Args:
        path: the file.
        arrays: {name: array} (an array file's contents), or None for a text table.
        rows: (M, C) numbers of a text file; names: its column names (or None).
    """

    def __init__(self, path: Path, arrays: dict | None = None, rows=None, names=None,
                 unmatched: str | None = None):
        self.path, self.arrays, self.rows, self.names = path, arrays, rows, names
        self.unmatched = unmatched         # a comment header whose names did not fit the columns

    def describe(self) -> str:
        if self.arrays is not None:
            return "its arrays: " + ", ".join(f"{k} {tuple(np.shape(v))}" for k, v in self.arrays.items())
        names = f" ({', '.join(self.names)})" if self.names else ""
        dropped = (f"; its header {self.unmatched!r} was not used: it does not split into "
                   f"{self.rows.shape[1]} names" if self.unmatched else "")
        return f"its {self.rows.shape[1]} columns{names}{dropped}"

    def column(self, spec) -> np.ndarray:
        """The array that ``spec`` names (an int, a name or ``name[k]``), as floats."""
        if isinstance(spec, bool) or not isinstance(spec, (int, str)):
            raise ValueError(f"{self.path.name}: a column is an integer or a name, got {spec!r}")
        if isinstance(spec, int):
            table = self._table()
            if not -table.shape[1] <= spec < table.shape[1]:
                raise ValueError(f"{self.path.name}: no column {spec} ({self.describe()})")
            return table[:, spec]
        m = re.fullmatch(r"(.+)\[(-?\d+)\]", spec.strip())
        if m and self.arrays is not None and m.group(1) in self.arrays:
            a = self._array(m.group(1))
            if a.ndim != 2 or not -a.shape[1] <= int(m.group(2)) < a.shape[1]:
                raise ValueError(f"{self.path.name}: {spec!r} is not a column of {m.group(1)} {a.shape}")
            return a[:, int(m.group(2))]
        if self.arrays is not None:
            if spec not in self.arrays:
                raise ValueError(f"{self.path.name}: no array {spec!r} ({self.describe()})")
            return self._array(spec)
        if not self.names or spec not in self.names:
            raise ValueError(f"{self.path.name}: no column named {spec!r} ({self.describe()}; "
                             "columns can also be given by number, from 0)")
        return self.rows[:, self.names.index(spec)]

    def _array(self, name: str) -> np.ndarray:
        a = np.asarray(self.arrays[name])
        if not np.issubdtype(a.dtype, np.number):
            raise ValueError(f"{self.path.name}: {name!r} holds {a.dtype}, not numbers")
        return a.astype(float)

    def _table(self) -> np.ndarray:
        if self.arrays is None:
            return self.rows
        two = [k for k, v in self.arrays.items()
               if np.ndim(v) == 2 and np.issubdtype(np.asarray(v).dtype, np.number)]
        if len(two) != 1:
            raise ValueError(f"{self.path.name}: a column number needs exactly one 2-D array in "
                             f"the file ({self.describe()}); name it as 'array[k]'")
        return self._array(two[0])


def read_table(path) -> Table:
    """The file at ``path`` as a :class:`Table`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                return Table(path, arrays={k: f[k] for k in f.files})
        if suffix == ".mat":
            return Table(path, arrays=_read_mat(path))
        if suffix in (".h5", ".hdf5", ".he5"):
            return Table(path, arrays=_read_h5(path, transpose=False))
    except FileNotFoundError:
        raise
    except Exception as e:                      # noqa: BLE001 - a damaged file raises anything
        if isinstance(e, MemoryError):
            raise
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path}: unreadable {suffix} file ({why})") from None
    return _read_text(path)


def _read_mat(path: Path) -> dict:
    from scipy.io import loadmat
    try:
        data = loadmat(path)
    except NotImplementedError:              # MATLAB v7.3: an HDF5 file
        return _read_h5(path, transpose=True)
    return {k: v for k, v in data.items() if not k.startswith("__")}


def _read_h5(path: Path, transpose: bool) -> dict:
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and not name.startswith("#refs#"):
                a = obj[()]
                out[name] = np.transpose(a) if transpose and np.ndim(a) > 1 else a
        f.visititems(visit)
    return out


def _read_text(path: Path) -> Table:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as e:
        raise ValueError(f"{path}: cannot be read ({e.strerror or e})") from None
    comments, body = [], []
    for n, line in enumerate(lines, 1):
        s = line.strip()
        if not s:
            continue
        if s.startswith(COMMENT):
            if not body:
                comments.append(s.lstrip("#%/ ").strip())
            continue
        body.append((n, s))
    if not body:
        raise ValueError(f"{path}: no rows of numbers in it")
    names = None
    first = _split(body[0][1])
    if not _numbers(first):
        names, body = [w.strip().strip('"') for w in first], body[1:]
    if not body:
        raise ValueError(f"{path}: a header ({', '.join(names or [])}) and no rows of numbers")
    rows = []
    for n, s in body:
        words = _split(s)
        if not _numbers(words):
            raise ValueError(f"{path}, line {n}: not a row of numbers: {s[:60]!r}")
        rows.append([float(w) for w in words])
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        n = next(n for (n, _), r in zip(body, rows) if len(r) != len(rows[0]))
        raise ValueError(f"{path}, line {n}: {len(_split(dict(body)[n]))} numbers where the first "
                         f"row has {len(rows[0])}")
    table = np.array(rows, dtype=float)                                            # (M, C)
    unmatched = None
    if names is None and comments:                  # COMSOL and others: "% x y u" above the rows
        names = header_names(comments[-1], table.shape[1])
        unmatched = None if names else comments[-1]
    if names is not None and len(names) != table.shape[1]:
        raise ValueError(f"{path}: its header names {len(names)} columns, its rows hold {table.shape[1]}")
    return Table(path, rows=table, names=names, unmatched=unmatched)


def header_names(line: str, columns: int) -> list[str] | None:
    """The column names of a comment header, or None when it does not name ``columns`` columns.
    Words first (``% x y u``); else COMSOL's layout, names set apart by two or more spaces or a
    tab, each name with its unit and parameters (``% X    Y    u (1)``, ``% x  y  u @ Re=100``)."""
    for names in (_split(line), [w.strip() for w in re.split(r"\s{2,}|\t|[,;]", line) if w.strip()]):
        if len(names) == columns:
            return names
    return None


def _split(line: str) -> list[str]:
    return [w for w in re.split(r"[,;\t ]+", line.strip()) if w]


def _numbers(words: list[str]) -> bool:
    try:
        [float(w) for w in words]
    except ValueError:
        return False
    return bool(words)
