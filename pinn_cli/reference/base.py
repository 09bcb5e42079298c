"""What a reference solution is: values on a tensor-product grid or at scattered points
(:class:`Reference`). The solvers of this package return one; a PDE's ``reference(cache)``
hands one out (``pinn_cli.pdes.Reference`` is the same class)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pinn_cli.problem import grid_points


@dataclass
class Reference:
    """A reference solution: values on a tensor-product grid, or at scattered points.

    Exactly one of ``axes`` and ``nodes`` is given:

    - ``axes``: one strictly increasing 1-D array per input coordinate, in the network's input
      order; every array of ``values`` has the grid's shape ``tuple(len(a) for a in axes)``
      (``indexing="ij"``);
    - ``nodes``: the points (M, d) where the reference is known (finite-element mesh nodes,
      sensor positions, the snapshots of a simulation as (t, x, y) rows); every array of
      ``values`` has shape (M,).

    ``values``: one array (named after the first solution component), or a dict of named arrays,
    the first one the run's headline error. Every consumer (the evaluation and its rel-L2 per
    observable, ``objective=regression``, the field maps and their figures) takes either kind;
    :mod:`pinn_cli.reference.data` reads one from a file.
    """

    axes: list[np.ndarray] | None = None
    values: np.ndarray | dict[str, np.ndarray] | None = None
    nodes: np.ndarray | None = None

    def __post_init__(self):
        if (self.axes is None) == (self.nodes is None):
            raise ValueError("a Reference takes either axes (a grid) or nodes (scattered points), "
                             "exactly one of them")
        if self.values is None:
            raise ValueError("a Reference needs values")
        if self.nodes is not None:
            self.nodes = np.asarray(self.nodes, dtype=float)
            if self.nodes.ndim != 2 or not len(self.nodes):
                raise ValueError(f"a Reference's nodes must be (M, d) points, got shape {self.nodes.shape}")
        shape = self.shape
        for name, v in self.named("u").items():
            if np.shape(v) != shape:
                raise ValueError(f"the reference's {name!r} has shape {np.shape(v)}, expected "
                                 f"{shape} (its {'grid' if self.is_grid else 'nodes'})")
            if not np.all(np.isfinite(v)):
                raise ValueError(f"the reference's {name!r} holds NaN or inf")
        if self.nodes is not None and not np.all(np.isfinite(self.nodes)):
            raise ValueError("the reference's nodes hold NaN or inf")

    @property
    def is_grid(self) -> bool:
        return self.axes is not None

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of each array of values: the grid's, or (M,)."""
        return tuple(len(a) for a in self.axes) if self.is_grid else (len(self.nodes),)

    def named(self, default: str) -> dict[str, np.ndarray]:
        """The values as ``{name: array}`` (each of :attr:`shape`)."""
        return dict(self.values) if isinstance(self.values, dict) else {default: self.values}

    def flat(self, default: str) -> dict[str, np.ndarray]:
        """The values as ``{name: (M,)}``, in the order of :meth:`points`."""
        return {k: np.asarray(v).ravel() for k, v in self.named(default).items()}

    def points(self) -> np.ndarray:
        """Where the values are, as network inputs (M, d): the grid's nodes
        (M = prod(len(a) for a in axes), ``indexing="ij"``) or the scattered nodes."""
        return grid_points(self.axes) if self.is_grid else self.nodes
