"""A reference read from a data file, configured in YAML: which column is which axis and observable.

```yaml
reference:                       # a PDE parameter annotated ``ReferenceData``
  file: plate_nodes.txt          # .txt/.dat/.csv (comment lines skipped), .npz, .mat, .h5
  axes: {x: 0, y: 1}             # the column of each input coordinate (number or name)
  values: {u: 2}                 # the column of each observable (the first: the headline error)
```

Time snapshots as column blocks (a mesh's nodes, then one column per time, as FEM packages
export a transient solution): ``times: [0.0, 0.5, 1.0]`` and ``values: {u: [2, 3, 4]}``; the axis
of the PDE that ``axes`` leaves out is the time, and the reference holds the nodes (t_k, x_i) for
every k (time-major). ``grid: true`` reads 1-D axes and values on their tensor grid
(``values[i, j]`` at ``(axes[0][i], axes[1][j])``; an array stored with its dimensions in another
order is transposed when its shape says so unambiguously, e.g. a ``.mat`` file's ``x``, ``t``
and ``usol``; where it cannot, on a square grid, ``layout: [x, t]`` names the axis of each of
the array's dimensions, and without it such a file is refused). Columns are taken as in :mod:`pinn_cli.reference.tables`.

A relative ``file`` is found from the working folder (where pinn-train runs). Rows with NaN or
inf are refused (one line naming the column and the row), as is a file that is not there: the
PDE that asked for it is named in the error (:class:`pinn_cli.training.build.PluginError`).
"""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Literal, TypedDict

import numpy as np

from pinn_cli.reference.base import Reference
from pinn_cli.reference.tables import read_table

Column = int | str


class ReferenceData(TypedDict, total=False):
    """The YAML of a reference (or a coefficient) read from a file."""

    file: str
    axes: dict[str, Column]
    values: dict[str, Column | list[Column]]
    times: list[float]
    grid: bool
    layout: list[str]
    method: Literal["linear", "nearest"]


def load_reference(spec: dict, axes: tuple[str, ...] | list[str], base=None) -> Reference:
    """The :class:`Reference` that ``spec`` (a :class:`ReferenceData`) describes, its points in
    the order of ``axes`` (the PDE's input axes); ``base``: the folder a relative ``file`` is
    found from (default: the working folder). ``spec`` may come as YAML gave it (OmegaConf
    containers, as Hydra hands a plugin its arguments) or as plain Python."""
    spec = _plain(spec)
    unknown = sorted(set(spec) - set(ReferenceData.__annotations__))
    if unknown:
        raise ValueError(f"reference data: no key {unknown[0]!r} (its keys: "
                         f"{', '.join(ReferenceData.__annotations__)})")
    for key in ("file", "axes", "values"):
        if not spec.get(key):
            raise ValueError(f"reference data: {key!r} is missing")
    axes = tuple(axes)
    path = Path(spec["file"]).expanduser()
    path = path if path.is_absolute() else Path(base or Path.cwd()) / path
    table = read_table(path)
    given, values = dict(spec["axes"]), dict(spec["values"])
    times = spec.get("times")
    extra = sorted(set(given) - set(axes))
    if extra:
        raise ValueError(f"{path.name}: axis {extra[0]!r} is not one of the problem's axes {list(axes)}")
    missing = [a for a in axes if a not in given]
    if spec.get("grid"):
        if times is not None or missing:
            raise ValueError(f"{path.name}: a grid needs a column for every axis {list(axes)} and no times")
        return _grid(table, path, axes, given, values, spec.get("layout"))
    if times is None and missing:
        raise ValueError(f"{path.name}: no column for axis {missing[0]!r} (give one, or the "
                         "snapshots' times)")
    if times is not None and len(missing) != 1:
        raise ValueError(f"{path.name}: with times, 'axes' gives every axis but the time one "
                         f"(it gives {sorted(given)} of {list(axes)})")
    cols = {a: _vector(table, c, path, f"axis {a}") for a, c in given.items()}
    n = {len(v) for v in cols.values()}
    blocks = {k: c if isinstance(c, list) else [c] for k, c in values.items()}
    k_times = 1 if times is None else len(times)
    for k, c in blocks.items():
        if len(c) != k_times:
            raise ValueError(f"{path.name}: {k!r} has {len(c)} columns for {k_times} time(s)")
    out = {k: np.concatenate([_vector(table, ci, path, k) for ci in c]) for k, c in blocks.items()}
    if len(n) != 1:
        raise ValueError(f"{path.name}: the axes' columns differ in length ({sorted(n)})")
    m = n.pop()
    if times is None:
        nodes = np.column_stack([cols[a] for a in axes])                           # (M, d)
    else:
        t = np.repeat(np.asarray(times, dtype=float), m)                           # (K M,)
        nodes = np.column_stack([t if a == missing[0] else np.tile(cols[a], k_times) for a in axes])
    for k, v in out.items():
        if len(v) != len(nodes):
            raise ValueError(f"{path.name}: {k!r} has {len(v)} values for {len(nodes)} points")
    _finite(path, {**{f"axis {a}": nodes[:, i] for i, a in enumerate(axes)}, **out})
    return Reference(nodes=nodes, values=out)


def _plain(node):
    """OmegaConf's containers (a YAML list arrives as a ListConfig) as dicts and lists, any depth."""
    from omegaconf import DictConfig, ListConfig, OmegaConf
    if isinstance(node, (DictConfig, ListConfig)):
        return OmegaConf.to_container(node, resolve=True)
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_plain(v) for v in node]
    return node


def _grid(table, path, axes, given, values, layout=None) -> Reference:
    grid_axes = [_vector(table, given[a], path, f"axis {a}") for a in axes]
    for a, ax in zip(axes, grid_axes):
        if len(ax) < 2 or np.any(np.diff(ax) <= 0):
            raise ValueError(f"{path.name}: axis {a!r} is not a strictly increasing grid axis")
    shape = tuple(len(a) for a in grid_axes)
    if layout is not None and sorted(layout) != sorted(axes):
        raise ValueError(f"{path.name}: layout {list(layout)} must name each axis of {list(axes)} once")
    out = {}
    for k, c in values.items():
        if isinstance(c, list):
            raise ValueError(f"{path.name}: {k!r}: one array per observable on a grid")
        a = np.squeeze(table.column(c))
        if layout is not None:
            if a.shape != tuple(shape[list(axes).index(n)] for n in layout):
                raise ValueError(f"{path.name}: {k!r} has shape {a.shape}, not that of its layout "
                                 f"{list(layout)} ({', '.join(f'{n}: {shape[list(axes).index(n)]}' for n in layout)})")
            out[k] = np.transpose(a, [list(layout).index(n) for n in axes])
        else:
            out[k] = _on_grid(a, shape, path, k, axes)
    _finite(path, out)
    return Reference(axes=grid_axes, values=out)


def _on_grid(a: np.ndarray, shape: tuple, path, name, axes) -> np.ndarray:
    """``a`` in the axes' order: as it is, or transposed, when exactly one order of its
    dimensions gives the grid's shape (two axes of one length: ``layout`` decides)."""
    if a.ndim == len(shape) == 1 and a.shape == shape:
        return a
    if a.size == int(np.prod(shape)) and a.ndim == 1:
        raise ValueError(f"{path.name}: {name!r} is flat ({a.size} values); a grid's values need "
                         f"their shape {shape}")
    orders = [p for p in itertools.permutations(range(a.ndim)) if tuple(a.shape[i] for i in p) == shape]
    if len(orders) > 1:
        raise ValueError(f"{path.name}: {name!r} has shape {a.shape}, which fits the grid {shape} "
                         f"in {len(orders)} orders of the axes {list(axes)}: give layout: "
                         f"[{', '.join(axes)}] (or the order the file stores) to say which")
    if not orders:
        raise ValueError(f"{path.name}: {name!r} has shape {a.shape}, the grid {shape}")
    return np.transpose(a, orders[0])


def _vector(table, spec, path, what: str) -> np.ndarray:
    a = np.asarray(table.column(spec), dtype=float)
    if a.ndim > 1 and sum(s > 1 for s in a.shape) <= 1:
        a = a.reshape(-1)                           # a MATLAB column or row vector
    if a.ndim != 1:
        raise ValueError(f"{path.name}: {what} ({spec!r}) has shape {a.shape}, not a column")
    return a


def _finite(path, arrays: dict) -> None:
    for k, v in arrays.items():
        bad = np.flatnonzero(~np.isfinite(v))
        if len(bad):
            where = (f"data row {bad[0] + 1}, counting from 1 after any header" if np.ndim(v) == 1
                     else f"index {tuple(int(i) for i in np.unravel_index(bad[0], np.shape(v)))}")
            raise ValueError(f"{path.name}: {k} holds NaN or inf ({len(bad)} values, the first at {where})")
