"""The 1-D heat equation, a PDE pinn-cli does not ship, written by a user in their own folder.

    u_t = k u_xx,   t in [0, t_end], x in [0, 1],   u(0, x) = sin(pi x),   u(t, 0) = u(t, 1) = 0,

whose exact solution is u = exp(-k pi^2 t) sin(pi x): the reference is analytic.
"""
from __future__ import annotations

import numpy as np
import torch

from pinn_cli.schema import Count, Positive
from pinn_cli.pdes import PDE, Reference


class Heat(PDE):
    """Args:
        k: diffusivity.
        t_end: final time.
        n_collocation, n_initial, n_boundary: point counts (boundary: per side).
    """

    axes = ("t", "x")

    def __init__(self, k: Positive = 0.1, t_end: Positive = 1.0, n_collocation: Count = 2000,
                 n_initial: Count = 200, n_boundary: Count = 100,
                 loss_weights: dict[str, Positive] | None = None):
        self.k, self.t_end = k, t_end
        self.bounds = np.array([[0.0, t_end], [0.0, 1.0]])
        self.n_collocation, self.n_initial, self.n_boundary = n_collocation, n_initial, n_boundary
        self.loss_weights = dict(loss_weights or {"res": 1.0, "ic": 1.0, "bc": 1.0})

    def exact(self, t, x):
        lib = torch if isinstance(t, torch.Tensor) else np
        return lib.exp(-self.k * np.pi**2 * t) * lib.sin(np.pi * x)

    def sample(self, rng):
        x0 = rng.uniform(0, 1, self.n_initial)
        tb = rng.uniform(0, self.t_end, self.n_boundary)
        return {"res": self.latin_hypercube(self.n_collocation, rng),                  # (N, 2)
                "ic": np.stack([np.zeros_like(x0), x0], 1),                             # (N_ic, 2)
                "bc": np.concatenate([np.stack([tb, np.full_like(tb, s)], 1) for s in (0.0, 1.0)])}

    def residual(self, net, x):
        d = net.derivatives(x, ("u_t", "u_xx"))
        return d.u_t - self.k * d.u_xx

    def conditions(self, net, points):
        ic = points["ic"]
        return {"ic": net(ic) - torch.sin(torch.pi * ic[:, 1]), "bc": net(points["bc"])}

    def reference(self, cache):
        t, x = np.linspace(0, self.t_end, 101), np.linspace(0, 1, 101)
        return Reference(axes=[t, x], values=self.exact(*np.meshgrid(t, x, indexing="ij")))
