"""The field-map probe: what the network predicts, and how far off it is, over a 2-D domain.

For every observable o of the PDE (``pde.observables``: the solution components by default; the
velocity magnitude, u and v for the cavity), on a coarse sub-grid of the reference grid,

    o_theta(x_ij)   and   |o_theta(x_ij) - o_ref(x_ij)|,

recorded as ``/<group>/<o>`` and ``/<group>/<o>_error``, (k, n1, n2) float32, gzip-compressed.
The sub-grid keeps every s-th node of the reference grid's axes (at most ``grid`` per axis, the
first and last node included), so the reference values there are exact, with no interpolation.
Static datasets: the sub-grid axes in ``/<group>_grid/<axis>``, the axis names in input order in
``/<group>_grid/axes``, the observable names, headline first, in ``/<group>_grid/names`` and the
reference there in ``/<group>_grid/reference/<o>`` (the sub-grid's shape), so that pinn-analyze
draws the prediction, the reference and the error side by side.

In the shipped diagnostics (``basic``, ``paper``) it is ``optional``: recorded for a problem with
two input coordinates, left out of any other.

A reference at scattered nodes (mesh nodes) is recorded at (at most ``grid[0] * grid[1]``, evenly
spread in the nodes' order) of its own nodes: fields (k, M'), the nodes in
``/<group>_grid/points`` (M', 2) and a triangulation of them in ``/<group>_grid/triangles``
(T, 3): the Delaunay triangles whose centroid lies in the problem's domain (none across a hole or
a re-entrant corner), which pinn-analyze draws the fields on.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import Delaunay, QhullError

from pinn_cli.schema import Count
from pinn_cli.diagnostics.base import Probe
from pinn_cli.errors import ConfigError
from pinn_cli.problem import grid_points
from pinn_cli.runfile import SeriesSpec


def subsample(length: int, most: int) -> np.ndarray:
    """At most ``most`` indices into ``range(length)``, evenly spread, both ends included."""
    if length <= most:
        return np.arange(length)
    return np.unique(np.round(np.linspace(0, length - 1, most)).astype(int))


def grid_axes(points: np.ndarray) -> list[np.ndarray]:
    """The axes of a tensor-product grid given as its points (M, 2), ``indexing="ij"``."""
    n1 = len(np.unique(points[:, 0]))
    if n1 == 0 or len(points) % n1:
        raise ValueError("the reference points are not a tensor-product grid")
    axes = [points[:: len(points) // n1, 0], points[: len(points) // n1, 1]]
    if not np.array_equal(grid_points(axes), points):
        raise ValueError("the reference points are not a tensor-product grid")
    return axes


class FieldMapProbe(Probe):
    """/<group>: each observable and its absolute error on a sub-grid of the reference grid.

    Args:
        grid: the most points per axis of the sub-grid (two integers >= 2).
        optional: leave the probe out of a problem that is not 2-D instead of refusing it.
    """

    kind = "field_map"

    def __init__(self, grid: list[Count] | None = None, optional: bool = False, **cadence):
        super().__init__(**cadence)
        self.most = tuple(int(n) for n in (grid or [65, 65]))
        self.optional = bool(optional)
        self.layout = None         # (names, axes or None, points (M', 2), reference {name: (M',)})
        self.mesh = None           # scattered: (nodes (M', 2), triangles (T, 3))

    def applies(self, problem) -> bool:
        return problem.in_dim == 2 or not self.optional

    def check(self, problem):
        if problem.in_dim != 2:
            raise ConfigError(f"diagnostics.{self.group}", f"a {problem.in_dim}-D problem",
                              "a problem with two input coordinates (field maps are 2-D)")
        if len(self.most) != 2 or min(self.most) < 2:
            raise ConfigError(f"diagnostics.{self.group}.grid", list(self.most),
                              "two integers >= 2 (the most points per axis)")

    def _layout(self, view):
        """Sub-grid axes, points and the reference there, from the reference's grid (once); for
        a scattered reference, a subset of its nodes and their triangulation."""
        if self.layout is None and view.info.reference_axes is None:
            self.layout = self._scattered(view)
        if self.layout is None:
            info = view.info
            full = grid_axes(info.reference_points.detach().cpu().double().numpy())
            idx = [subsample(len(a), m) for a, m in zip(full, self.most)]
            flat = np.ravel_multi_index(np.ix_(*idx), [len(a) for a in full]).ravel()  # (M',)
            rows = torch.as_tensor(flat, device=info.reference_points.device)
            ref = {k: v[rows] for k, v in info.reference_values.items()}
            self.layout = (list(info.observables), [a[i] for a, i in zip(full, idx)],
                           info.reference_points[rows], ref)
        return self.layout

    def _scattered(self, view):
        info = view.info
        rows = subsample(len(info.reference_points), self.most[0] * self.most[1])     # (M',)
        nodes = info.reference_points[torch.as_tensor(rows, device=info.reference_points.device)]
        xy = nodes.detach().cpu().double().numpy()                                    # (M', 2)
        try:
            tri = Delaunay(xy).simplices                                               # (T, 3)
        except QhullError:
            tri = np.zeros((0, 3), dtype=np.int64)
        keep = info.problem.inside(xy[tri].mean(axis=1)) if len(tri) else np.zeros(0, bool)
        self.mesh = (xy, tri[keep].astype(np.int64))
        ref = {k: v[torch.as_tensor(rows, device=v.device)] for k, v in info.reference_values.items()}
        return list(info.observables), None, nodes, ref

    def _shape(self, view) -> tuple[int, ...]:
        names, axes, points, _ = self._layout(view)
        return (len(points),) if axes is None else tuple(len(a) for a in axes)

    def spec(self, view):
        names, axes, _, _ = self._layout(view)
        shape = self._shape(view)
        fields = {}
        for k in names:
            fields.update({k: (shape, "f4"), f"{k}_error": (shape, "f4")})
        return SeriesSpec(fields, compress=True)

    def static(self, view):
        names, axes, _, ref = self._layout(view)
        problem_axes = view.info.problem.axes
        shape = self._shape(view)
        if axes is None:
            out = {f"{self.group}_grid/points": self.mesh[0],
                   f"{self.group}_grid/triangles": self.mesh[1]}
        else:
            out = {f"{self.group}_grid/{a}": ax for a, ax in zip(problem_axes, axes)}
        out[f"{self.group}_grid/axes"] = np.array([a.encode() for a in problem_axes])
        out[f"{self.group}_grid/names"] = np.array([k.encode() for k in names])
        for k in names:
            out[f"{self.group}_grid/reference/{k}"] = \
                ref[k].detach().float().cpu().numpy().reshape(shape)
        return out

    def before(self, view, step):
        names, axes, points, ref = self._layout(view)
        pred = view.observables(points)
        out = {}
        for k in names:
            out[k] = pred[k]
            out[f"{k}_error"] = (out[k] - ref[k]).abs()
        return out

    def record(self, view, state):
        shape = self._shape(view)
        flat = torch.stack(list(state.before[self.group].values())).float().cpu().numpy()
        return {k: v.reshape(shape) for k, v in zip(state.before[self.group], flat)}
