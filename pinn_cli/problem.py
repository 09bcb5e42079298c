"""What every plugin is told about the problem: the assembly step hands it out.

A :class:`Problem` is read from the PDE once, before anything else is built. Its fields are the
*context*: a constructor parameter of a model, weighting, optimizer, objective or probe (at any
depth of its config node) whose name is a context key receives the problem's value, unless the
YAML sets it (a value other than null)::

    in_dim, out_dim      number of input coordinates and of outputs
    axes, outputs        their names, e.g. ("t", "x") and ("u",)
    terms                {term: points}: "res" and every condition term, with their counts
    bounds               (d, 2) list of [low, high] per coordinate (the domain's bounding box)
    time_axis            index of the time coordinate, or None
    periodic_axes        indices of the coordinates in which the solution is periodic
    periods              the period of each of them

The problem also carries the PDE's ``domain`` (a :class:`pinn_cli.geometry.Domain`, or None for
the box ``bounds``): not a context key (no YAML value), but what the probes mask their maps to
(``view.info.problem.domain``).

So a model picks up Allen-Cahn's periodic x (``periodic_axes: null`` in its YAML) and the causal
weighting finds t, where a user once had to write them again; a user can still set either.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CONTEXT = ("in_dim", "out_dim", "axes", "outputs", "terms", "bounds", "time_axis",
           "periodic_axes", "periods")


@dataclass(frozen=True)
class Problem:
    axes: tuple[str, ...]
    outputs: tuple[str, ...]
    terms: dict[str, int]
    bounds: tuple[tuple[float, float], ...]
    time_axis: int | None = None
    periodic: dict[int, float] = field(default_factory=dict)
    domain: object = field(default=None, compare=False)

    @classmethod
    def of(cls, pde) -> "Problem":
        """The problem of a :class:`pinn_cli.pdes.base.PDE` (its axes, outputs, point counts,
        bounds, time axis and periodic axes)."""
        axes = tuple(pde.axes)
        periodic = {axes.index(a): float(p) for a, p in dict(getattr(pde, "periodic", {})).items()}
        return cls(axes=axes, outputs=tuple(pde.outputs), terms=dict(pde.point_counts()),
                   bounds=tuple((float(lo), float(hi)) for lo, hi in pde.bounds),
                   time_axis=pde.time_axis, periodic=periodic,
                   domain=getattr(pde, "domain", None))

    @property
    def in_dim(self) -> int:
        return len(self.axes)

    @property
    def out_dim(self) -> int:
        return len(self.outputs)

    def inside(self, x: np.ndarray) -> np.ndarray:
        """Whether each point of x (N, d) is in the domain (in the box ``bounds`` without one)."""
        if self.domain is not None:
            return self.domain.contains(x)
        b = np.asarray(self.bounds)
        return np.all((x >= b[:, 0]) & (x <= b[:, 1]), axis=1)

    def context(self) -> dict:
        """The values handed to constructor parameters of these names (:data:`CONTEXT`)."""
        return {"in_dim": self.in_dim, "out_dim": self.out_dim, "axes": list(self.axes),
                "outputs": list(self.outputs), "terms": dict(self.terms),
                "bounds": [list(b) for b in self.bounds], "time_axis": self.time_axis,
                "periodic_axes": sorted(self.periodic),
                "periods": [self.periodic[a] for a in sorted(self.periodic)]}


def grid_points(axes: list[np.ndarray]) -> np.ndarray:
    """The tensor-product grid of ``axes`` as (prod(len), d) points, ``indexing="ij"``."""
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)
