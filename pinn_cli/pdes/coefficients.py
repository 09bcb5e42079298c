"""A coefficient of a PDE given as data: a conductivity map, a source term, a permeability.

    k(x) = I[k_data](x)

with I the multilinear interpolant of values on a grid (:mod:`pinn_cli.reference.interpolate`) or
the piecewise-linear (Delaunay) or nearest-node interpolant of values at scattered nodes
(:mod:`pinn_cli.reference.scattered`); exact at the data's nodes. ``field(x)`` is a tensor that
carries the graph of x, so a residual such as div(k grad u) = k lap(u) + grad(k) . grad(u) can take
grad(k) by autograd, or from :meth:`CoefficientField.gradient` (the interpolant's own slope,
piecewise constant in each cell or simplex; zero outside the data, where the values are clamped
or the nearest node's).

A PDE reads one from its YAML::

    conductivity: {file: k_map.csv, axes: {x: x, y: y}, values: {k: k}, method: linear}

    def __init__(self, conductivity: ReferenceData, ...):
        self.k = CoefficientField.from_data(conductivity, axes=self.axes)
"""
from __future__ import annotations

import numpy as np
import torch

from pinn_cli.reference.interpolate import GridInterpolant
from pinn_cli.reference.scattered import ScatteredInterpolant
from pinn_cli.pdes.base import Reference


class CoefficientField:
    """Args:
        interpolant: a GridInterpolant or ScatteredInterpolant of one or more named arrays.
        name: the array this field returns (default: the first).
    """

    def __init__(self, interpolant, name: str | None = None):
        self.interpolant = interpolant
        self.name = name or next(iter(interpolant.values))
        if self.name not in interpolant.values:
            raise ValueError(f"no coefficient {self.name!r} among {list(interpolant.values)}")

    @classmethod
    def on_grid(cls, axes, values) -> "CoefficientField":
        """Values (n_1, ..., n_d) on the grid of ``axes`` (``indexing="ij"``)."""
        return cls(GridInterpolant(list(axes), {"k": np.asarray(values, dtype=float)}))

    @classmethod
    def at_nodes(cls, nodes, values, method: str = "linear") -> "CoefficientField":
        """Values (M,) at scattered ``nodes`` (M, d): ``linear`` or ``nearest``."""
        return cls(ScatteredInterpolant(nodes, {"k": np.asarray(values, dtype=float)}, method))

    @classmethod
    def from_reference(cls, ref: Reference, name: str | None = None,
                       method: str = "linear") -> "CoefficientField":
        values = ref.named(name or "k")
        interp = (GridInterpolant(ref.axes, values) if ref.is_grid
                  else ScatteredInterpolant(ref.nodes, values, method))
        return cls(interp, name)

    @classmethod
    def from_data(cls, spec: dict, axes, base=None) -> "CoefficientField":
        """From a :class:`pinn_cli.reference.data.ReferenceData` mapping (its ``method`` for
        scattered nodes, default linear); ``axes``: the PDE's input axes."""
        from pinn_cli.reference.data import load_reference
        spec = dict(spec)
        method = spec.pop("method", "linear")
        return cls.from_reference(load_reference(spec, axes, base), method=method)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """k at x (N, d) -> (N,), carrying x's graph."""
        return self.interpolant(x, graph=True)[self.name]

    def gradient(self, x: torch.Tensor) -> torch.Tensor:
        """grad k at x (N, d) -> (N, d), the interpolant's slope (no graph)."""
        with torch.enable_grad():
            y = x.detach().requires_grad_(True)
            k = self(y)
            if not k.requires_grad:                # nearest node: constant in every cell
                return torch.zeros_like(y)
            return torch.autograd.grad(k.sum(), y)[0]

    def numpy(self, x: np.ndarray) -> np.ndarray:
        """k at numpy points (N, d) -> (N,) (float64)."""
        with torch.no_grad():
            return self(torch.as_tensor(np.asarray(x, dtype=float))).numpy()
