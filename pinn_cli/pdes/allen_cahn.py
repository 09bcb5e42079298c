"""Allen-Cahn, the paper's main case.

    u_t - eps u_xx + r u^3 - r u = 0,   t in [0, t_end], x in [-1, 1],   u(0, x) = x^2 cos(pi x)

(the paper: r = 5, t_end = 1).

As in the paper's code, only the initial condition is fitted (no boundary term); the solution is
periodic in x. Reference: pseudo-spectral ETDRK4 on the 512 x 201 grid.
"""
from __future__ import annotations

from typing import TypedDict

import numpy as np
import torch

from pinn_cli.schema import Count, NonNeg, Positive
from pinn_cli.pdes.base import PDE, Reference
from pinn_cli.reference.etdrk4 import output_grid
from pinn_cli.reference.allen_cahn import solve_allen_cahn


class ReferenceParams(TypedDict, total=False):
    modes: Count
    n_t: Count
    dt: Positive


class AllenCahn(PDE):
    """Args:
        eps: diffusion coefficient (paper 1e-4).
        reaction: r, the reaction coefficient (paper 5); a continuation may start lower.
        t_end: final time (paper 1); the reference keeps ``n_t`` times in [0, t_end].
        n_collocation: interior points (paper 25,600), Latin hypercube in (t, x).
        n_initial: initial-condition points (paper 512), Latin hypercube in x at t = 0.
        loss_weights: weights of the terms ``res`` and ``ic``.
        reference: solver settings (modes, n_t, dt).
    """

    coefficients = ("eps", "reaction")  # what strategy=continuation may move

    axes = ("t", "x")
    periodic = {"x": 2.0}

    def __init__(self, eps: Positive = 1e-4, n_collocation: Count = 25600, n_initial: Count = 512,
                 loss_weights: dict[str, NonNeg] | None = None,
                 reference: ReferenceParams | None = None, t_end: Positive = 1.0,
                 reaction: NonNeg = 5.0):
        self.eps, self.t_end, self.reaction = float(eps), float(t_end), float(reaction)
        self.bounds = np.array([[0.0, self.t_end], [-1.0, 1.0]])
        self.n_collocation, self.n_initial = n_collocation, n_initial
        self.loss_weights = dict(loss_weights or {"res": 1.0, "ic": 1.0})
        self.reference_params = output_grid(self.t_end, {"modes": 512, "n_t": 201, "dt": 5e-4},
                                            reference)

    def point_counts(self):
        return {"res": self.n_collocation, "ic": self.n_initial}

    @staticmethod
    def u0(x):
        return x**2 * torch.cos(torch.pi * x)

    def sample(self, rng):
        x_ic = self.latin_hypercube(self.n_initial, rng, self.bounds[1:])[:, 0]     # (N_ic,)
        return {"res": self.latin_hypercube(self.n_collocation, rng),              # (N, 2)
                "ic": np.stack([np.zeros_like(x_ic), x_ic], axis=1)}                # (N_ic, 2)

    def residual(self, net, x):
        d = net.derivatives(x, ("u_t", "u_xx"))
        return d.u_t - self.eps * d.u_xx + self.reaction * d.u**3 - self.reaction * d.u

    def conditions(self, net, points):
        return {"ic": net(points["ic"]) - self.u0(points["ic"][:, 1])}

    def reference(self, cache):
        own = {"reaction": self.reaction} if self.reaction != 5.0 else {}   # the paper's: as cached before
        sol = cache.get("allen_cahn", {"eps": self.eps, "t_end": self.t_end, **own, **self.reference_params},
                        solve_allen_cahn)
        return Reference(axes=[sol["t"], sol["x"]], values=sol["u"])
