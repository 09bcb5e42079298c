"""Helmholtz in two dimensions with a manufactured solution.

    u_xx + u_yy + k^2 u = q(x, y),   (x, y) in [-1, 1]^2,   u = 0 on the boundary,
    u = sin(a1 pi x) sin(a2 pi y),   q = (k^2 - (a1 pi)^2 - (a2 pi)^2) u

The paper uses a1 = a2 = 6, k = 1. Reference: the analytic u on a regular grid.
"""
from __future__ import annotations

from typing import TypedDict

import numpy as np
import torch

from pinn_cli.schema import Count, NonNeg
from pinn_cli.pdes.base import PDE, Reference


class HelmholtzGrid(TypedDict, total=False):
    """The reference's settings: points per axis of the evaluation grid."""

    n: Count


class Helmholtz(PDE):
    """Args:
        a1, a2: wave numbers of the exact solution in x and y (paper 6, 6).
        k: Helmholtz coefficient (paper 1).
        n_collocation: interior points; n_boundary: random points per side (paper 100).
        loss_weights: weights of ``res`` and ``bc``.
        reference: ``{"n": points per axis}`` of the evaluation grid.
    """

    coefficients = ("k",)  # what strategy=continuation may move

    axes = ("x", "y")

    def __init__(self, a1: float = 6.0, a2: float = 6.0, k: float = 1.0,
                 n_collocation: Count = 25600, n_boundary: Count = 100,
                 loss_weights: dict[str, NonNeg] | None = None,
                 reference: HelmholtzGrid | None = None):
        self.a1, self.a2, self.k = float(a1), float(a2), float(k)
        self.bounds = np.array([[-1.0, 1.0], [-1.0, 1.0]])
        self.n_collocation, self.n_boundary = n_collocation, n_boundary
        self.loss_weights = dict(loss_weights or {"res": 1.0, "bc": 1.0})
        self.reference_params = {"n": 201, **(reference or {})}

    def point_counts(self):
        return {"res": self.n_collocation, "bc": 4 * self.n_boundary}

    def exact(self, x, y):
        """u(x, y); works on numpy arrays and tensors."""
        lib = torch if isinstance(x, torch.Tensor) else np
        return lib.sin(self.a1 * np.pi * x) * lib.sin(self.a2 * np.pi * y)

    def source(self, x, y):
        return (self.k**2 - (self.a1 * np.pi) ** 2 - (self.a2 * np.pi) ** 2) * self.exact(x, y)

    def sample(self, rng):
        s = rng.uniform(-1.0, 1.0, size=(4, self.n_boundary))                     # (4, N_bc)
        one = np.ones(self.n_boundary)
        sides = [np.stack(p, axis=1) for p in
                 ((-one, s[0]), (one, s[1]), (s[2], -one), (s[3], one))]
        return {"res": self.latin_hypercube(self.n_collocation, rng),              # (N, 2)
                "bc": np.concatenate(sides)}                                        # (4 N_bc, 2)

    def residual(self, net, xy):
        d = net.derivatives(xy, ("u_xx", "u_yy"))
        return d.u_xx + d.u_yy + self.k**2 * d.u - self.source(xy[:, 0], xy[:, 1])

    def conditions(self, net, points):
        return {"bc": net(points["bc"])}

    def reference(self, cache):
        axis = np.linspace(-1.0, 1.0, int(self.reference_params["n"]))
        gx, gy = np.meshgrid(axis, axis, indexing="ij")
        return Reference(axes=[axis, axis], values=self.exact(gx, gy))
