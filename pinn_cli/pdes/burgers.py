"""Viscous Burgers (the earlier version of the paper).

    u_t + u u_x - nu u_xx = 0,   t in [0, 1], x in [-1, 1],
    u(0, x) = -sin(pi x),   u(t, -1) = u(t, 1) = 0,   nu = 0.01 / pi

Reference: the Cole-Hopf solution by quadrature.
"""
from __future__ import annotations

import math
from typing import TypedDict

import numpy as np
import torch

from pinn_cli.schema import Count, NonNeg, Positive
from pinn_cli.pdes.base import PDE, Reference
from pinn_cli.reference.burgers import solve_burgers


class BurgersGrid(TypedDict, total=False):
    """The reference's settings: its output grid (n_x, n_t) and the quadrature points of the
    Cole-Hopf integral (n_quad)."""

    n_x: Count
    n_t: Count
    n_quad: Count


class Burgers(PDE):
    """Args:
        nu: viscosity (default 0.01/pi).
        n_collocation, n_initial, n_boundary: point counts (boundary: per side).
        loss_weights: weights of ``res``, ``ic``, ``bc``.
        reference: grid and quadrature of the Cole-Hopf solution (n_x, n_t, n_quad).
    """

    coefficients = ("nu",)  # what strategy=continuation may move

    axes = ("t", "x")

    def __init__(self, nu: Positive = 0.01 / math.pi, n_collocation: Count = 10000,
                 n_initial: Count = 256, n_boundary: Count = 128,
                 loss_weights: dict[str, NonNeg] | None = None,
                 reference: BurgersGrid | None = None):
        self.nu = float(nu)
        self.bounds = np.array([[0.0, 1.0], [-1.0, 1.0]])
        self.n_collocation, self.n_initial, self.n_boundary = n_collocation, n_initial, n_boundary
        self.loss_weights = dict(loss_weights or {"res": 1.0, "ic": 1.0, "bc": 1.0})
        self.reference_params = {"n_x": 256, "n_t": 101, "n_quad": 4000, **(reference or {})}

    def point_counts(self):
        return {"res": self.n_collocation, "ic": self.n_initial, "bc": 2 * self.n_boundary}

    def sample(self, rng):
        x_ic = self.latin_hypercube(self.n_initial, rng, self.bounds[1:])[:, 0]
        t_bc = self.latin_hypercube(self.n_boundary, rng, self.bounds[:1])[:, 0]
        bc = [np.stack([t_bc, np.full_like(t_bc, side)], axis=1) for side in (-1.0, 1.0)]
        return {"res": self.latin_hypercube(self.n_collocation, rng),               # (N, 2)
                "ic": np.stack([np.zeros_like(x_ic), x_ic], axis=1),                 # (N_ic, 2)
                "bc": np.concatenate(bc)}                                            # (2 N_bc, 2)

    def residual(self, net, x):
        d = net.derivatives(x, ("u_t", "u_x", "u_xx"))
        return d.u_t + d.u * d.u_x - self.nu * d.u_xx

    def conditions(self, net, points):
        return {"ic": net(points["ic"]) + torch.sin(torch.pi * points["ic"][:, 1]),
                "bc": net(points["bc"])}

    def reference(self, cache):
        sol = cache.get("burgers", {"nu": self.nu, **self.reference_params}, solve_burgers)
        return Reference(axes=[sol["t"], sol["x"]], values=sol["u"])
