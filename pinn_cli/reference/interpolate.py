"""Multilinear interpolation of a reference on a tensor-product grid, in torch.

For x in the cell [a_j[i_j], a_j[i_j + 1]] of every axis j, with fractions
f_j = (x_j - a_j[i_j]) / (a_j[i_j + 1] - a_j[i_j]),

    I[u](x) = sum over the 2^d corners c in {0, 1}^d of  prod_j (f_j if c_j else 1 - f_j) u[i + c].

I[u] equals u at the grid nodes, and for a u with bounded second derivatives

    |I[u](x) - u(x)| <= (1 / 8) sum_j h_j^2 max |d^2 u / dx_j^2|,     h_j the largest spacing of axis j.

Coordinates outside the grid are clamped to it. The axes may be unevenly spaced (strictly
increasing); the tables are moved to each caller's device and dtype once and kept. With
``graph=True`` the values carry the graph of x: inside a cell dI/dx_j is the multilinear slope
(the difference of the cell's faces over h_j), zero where x is clamped.
"""
from __future__ import annotations

import itertools

import numpy as np
import torch

from pinn_cli.errors import PinnError


class GridInterpolant:
    """Args:
        axes: one strictly increasing 1-D array per input coordinate (at least 2 nodes each).
        values: {name: array of shape tuple(len(a) for a in axes)} (``indexing="ij"``).
    """

    def __init__(self, axes: list[np.ndarray], values: dict[str, np.ndarray]):
        self.axes = [np.asarray(a, dtype=float) for a in axes]
        shape = tuple(len(a) for a in self.axes)
        for j, a in enumerate(self.axes):
            if a.ndim != 1 or len(a) < 2 or np.any(np.diff(a) <= 0):
                raise PinnError(f"the reference's axis {j} is not a strictly increasing grid of "
                                "at least 2 nodes; it cannot be interpolated")
        for name, v in values.items():
            if np.shape(v) != shape:
                raise PinnError(f"the reference's {name!r} has shape {np.shape(v)}, not the "
                                f"grid's {shape}")
        self.values = {k: np.asarray(v, dtype=float) for k, v in values.items()}
        self.strides = [int(np.prod(shape[j + 1:])) for j in range(len(shape))]
        self._tables: dict = {}

    def _on(self, device, dtype):
        """-> (axes (n_j,) each, {name: (prod n_j,)}) on ``device`` in ``dtype``."""
        key = (str(device), dtype)
        if key not in self._tables:
            as_t = lambda a: torch.as_tensor(a, dtype=dtype, device=device)   # noqa: E731
            self._tables[key] = ([as_t(a) for a in self.axes],
                                 {k: as_t(v.ravel()) for k, v in self.values.items()})
        return self._tables[key]

    def __call__(self, x: torch.Tensor, graph: bool = False) -> dict[str, torch.Tensor]:
        """I[u] at x (N, d) -> {name: (N,)}; without a graph unless ``graph``."""
        axes, flat = self._on(x.device, x.dtype)
        x = x if graph else x.detach()
        base, frac = 0, []
        for j, a in enumerate(axes):
            xj = x[:, j].clamp(a[0], a[-1]).contiguous()                            # (N,)
            i = (torch.searchsorted(a, xj, right=True) - 1).clamp(0, len(a) - 2)    # (N,) cell
            frac.append((xj - a[i]) / (a[i + 1] - a[i]))                            # (N,) in [0, 1]
            base = base + i * self.strides[j]
        out = {k: torch.zeros_like(x[:, 0]) for k in flat}                           # (N,) each
        for corner in itertools.product((0, 1), repeat=len(axes)):
            w = torch.ones_like(x[:, 0])                                            # (N,)
            for f, c in zip(frac, corner):
                w = w * (f if c else 1 - f)
            node = base + sum(c * s for c, s in zip(corner, self.strides))          # (N,) flat index
            for k, v in flat.items():
                out[k] = out[k] + w * v[node]
        return out
