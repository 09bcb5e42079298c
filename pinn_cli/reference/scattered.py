"""Interpolation of values given at scattered nodes (mesh nodes, sensors), in torch.

``linear``: piecewise linear on the Delaunay triangulation of the nodes (tetrahedra in 3-D). For
x in the simplex with vertices p_0 .. p_d, the barycentric coordinates are

    b_{0..d-1} = T (x - p_d),     b_d = 1 - sum_j b_j,      T = [p_0 - p_d, ..., p_{d-1} - p_d]^-1,

and I[u](x) = sum_j b_j u(p_j): exact at the nodes, exact for affine u, with gradient
sum_{j<d} (u(p_j) - u(p_d)) T_j (constant in each simplex). Outside the nodes' convex hull the
nearest node's value is used (gradient zero there). In 1-D the sorted nodes are a grid
(:class:`pinn_cli.reference.interpolate.GridInterpolant`).

``nearest``: the value of the nearest node (gradient zero).

Which simplex (or nearest node) holds each point is found on the host (``scipy.spatial``) once per
tensor of points and remembered (:class:`pinn_cli.geometry.memo.PointMemo`: the training points
are the same tensors every step); the arithmetic is torch on the caller's device, so that values
carry the graph of x when asked (``graph=True``) for a PDE that differentiates a coefficient.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from scipy.spatial import Delaunay, QhullError, cKDTree

from pinn_cli.geometry.memo import PointMemo
from pinn_cli.reference.interpolate import GridInterpolant


class ScatteredInterpolant:
    """Args:
        nodes: (M, d) distinct points.
        values: {name: (M,)}.
        method: ``linear`` or ``nearest``.
    """

    def __init__(self, nodes, values: dict[str, np.ndarray],
                 method: Literal["linear", "nearest"] = "linear"):
        self.nodes = np.asarray(nodes, dtype=float)
        if self.nodes.ndim != 2 or len(self.nodes) < 1 or not np.all(np.isfinite(self.nodes)):
            raise ValueError(f"scattered nodes must be finite (M, d) points, got shape {self.nodes.shape}")
        if method not in ("linear", "nearest"):
            raise ValueError(f"interpolation method {method!r}: expected linear or nearest")
        self.values = {k: np.asarray(v, dtype=float).reshape(-1) for k, v in values.items()}
        for k, v in self.values.items():
            if len(v) != len(self.nodes):
                raise ValueError(f"{k!r} has {len(v)} values for {len(self.nodes)} nodes")
        self.method, self.dim = method, self.nodes.shape[1]
        self.tree = cKDTree(self.nodes)
        self.grid = self.tri = None
        if method == "linear" and self.dim == 1:
            order = np.argsort(self.nodes[:, 0], kind="stable")
            axis = self.nodes[order, 0]
            if np.any(np.diff(axis) <= 0):
                raise ValueError("1-D scattered nodes must be distinct for linear interpolation")
            self.grid = GridInterpolant([axis], {k: v[order] for k, v in self.values.items()})
        elif method == "linear":
            try:
                self.tri = Delaunay(self.nodes)
            except QhullError as e:
                raise ValueError(f"the {len(self.nodes)} nodes cannot be triangulated (all on a "
                                 f"line or plane?): {str(e).strip().splitlines()[0]}") from None
        self.memo = PointMemo()
        self._tables: dict = {}

    def _locate(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """-> (simplex of each point or -1 outside the hull (N,), nearest node (N,))."""
        near = self.tree.query(x)[1].astype(np.int64)
        if self.tri is None:
            return -np.ones(len(x), np.int64), near
        inside = self.tri.find_simplex(x).astype(np.int64)
        return inside, near

    def _on(self, device, dtype):
        key = (str(device), dtype)
        if key not in self._tables:
            as_t = lambda a, dt=dtype: torch.as_tensor(a, dtype=dt, device=device)   # noqa: E731
            tri = self.tri
            self._tables[key] = {
                "values": {k: as_t(v) for k, v in self.values.items()},
                "T": as_t(tri.transform[:, :self.dim]) if tri is not None else None,        # (S, d, d)
                "r": as_t(tri.transform[:, self.dim]) if tri is not None else None,         # (S, d)
                "simplices": as_t(tri.simplices, torch.int64) if tri is not None else None,  # (S, d+1)
            }
        return self._tables[key]

    def __call__(self, x: torch.Tensor, graph: bool = False) -> dict[str, torch.Tensor]:
        """I[u] at x (N, d) -> {name: (N,)}; with ``graph`` the values carry x's graph."""
        if self.grid is not None:
            return self.grid(x, graph=graph)
        x = x if graph else x.detach()
        t = self._on(x.device, x.dtype)
        inside, near = self.memo(x, self._locate)
        near = torch.as_tensor(near, device=x.device)
        if self.method == "nearest" or self.tri is None:
            return {k: v[near] for k, v in t["values"].items()}
        s = torch.as_tensor(inside, device=x.device)
        hit = s >= 0                                                               # (N,)
        s = s.clamp(min=0)
        b = torch.einsum("nij,nj->ni", t["T"][s], x - t["r"][s])                   # (N, d)
        w = torch.cat([b, 1 - b.sum(1, keepdim=True)], dim=1)                      # (N, d+1)
        corners = t["simplices"][s]                                                 # (N, d+1)
        return {k: torch.where(hit, (w * v[corners]).sum(1), v[near]) for k, v in t["values"].items()}
