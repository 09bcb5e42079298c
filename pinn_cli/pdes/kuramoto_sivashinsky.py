"""Kuramoto-Sivashinsky, a fourth-order problem: derivatives up to u_xxxx in the residual.

    u_t + alpha u u_x + beta u_xx + gamma u_xxxx = 0,   t in [0, t_end], x in [0, L) periodic,
    u(0, x) = cos(2 pi x / L) (1 + sin(2 pi x / L))

The defaults (alpha = 100/16, beta = 100/16^2, gamma = 100/16^4, L = 2 pi) are the classical case
u_t + u u_x + u_xx + u_xxxx = 0 on [0, 32 pi) (Kassam and Trefethen) with x scaled by 1/16 and t
by 1/100: t_end = 0.25 is the classical t <= 25, before the flow turns chaotic.

Loss terms: ``res``, the residual at Latin hypercube points in (t, x); ``ic``, u(0, x) - u_0(x) at
Latin hypercube points in x; ``bc``, periodicity of u and its first three x-derivatives (what a
fourth-order equation needs), u^(j)(t, 0) - u^(j)(t, L), j = 0..3, at Latin hypercube times
(the points are (t, 0); (N_b, 4)). The problem declares x periodic with period L, so a model with
an exact periodic embedding gets it and makes ``bc`` vanish identically.

Reference: pseudo-spectral ETDRK4 (:mod:`pinn_cli.reference.kuramoto_sivashinsky`).
"""
from __future__ import annotations

import math
from typing import TypedDict

import numpy as np
import torch

from pinn_cli.schema import Count, NonNeg, Positive
from pinn_cli.pdes.base import PDE, Reference
from pinn_cli.reference.etdrk4 import output_grid
from pinn_cli.reference.kuramoto_sivashinsky import solve_kuramoto_sivashinsky


class ReferenceParams(TypedDict, total=False):
    modes: Count
    n_t: Count
    dt: Positive


class KuramotoSivashinsky(PDE):
    """Args:
        alpha: coefficient of the advection u u_x.
        beta: coefficient of the anti-diffusion u_xx.
        gamma: coefficient of the hyper-diffusion u_xxxx.
        length: the period L of x.
        t_end: final time; the reference keeps ``n_t`` times in [0, t_end].
        n_collocation: interior points, Latin hypercube in (t, x).
        n_initial: initial-condition points, Latin hypercube in x at t = 0.
        n_boundary: times at which periodicity is imposed, Latin hypercube in t.
        loss_weights: weights of the terms ``res``, ``ic`` and ``bc``.
        reference: solver settings (modes, n_t, dt).
    """

    coefficients = ("alpha", "beta", "gamma")  # what strategy=continuation may move

    axes = ("t", "x")

    def __init__(self, alpha: Positive = 100 / 16, beta: NonNeg = 100 / 16**2,
                 gamma: Positive = 100 / 16**4, length: Positive = 2 * math.pi,
                 t_end: Positive = 0.25, n_collocation: Count = 25600, n_initial: Count = 512,
                 n_boundary: Count = 256, loss_weights: dict[str, NonNeg] | None = None,
                 reference: ReferenceParams | None = None):
        self.alpha, self.beta, self.gamma = float(alpha), float(beta), float(gamma)
        self.length, self.t_end = float(length), float(t_end)
        self.bounds = np.array([[0.0, self.t_end], [0.0, self.length]])
        self.periodic = {"x": self.length}          # handed to models that embed periodic axes
        self.n_collocation, self.n_initial, self.n_boundary = n_collocation, n_initial, n_boundary
        self.loss_weights = dict(loss_weights or {"res": 1.0, "ic": 1.0, "bc": 1.0})
        self.reference_params = output_grid(self.t_end, {"modes": 256, "n_t": 101, "dt": 1e-4},
                                            reference)

    def point_counts(self):
        return {"res": self.n_collocation, "ic": self.n_initial, "bc": self.n_boundary}

    def u0(self, x: torch.Tensor) -> torch.Tensor:
        theta = (2 * math.pi / self.length) * x
        return torch.cos(theta) * (1 + torch.sin(theta))

    def sample(self, rng):
        x_ic = self.latin_hypercube(self.n_initial, rng, self.bounds[1:])[:, 0]     # (N_ic,)
        t_bc = self.latin_hypercube(self.n_boundary, rng, self.bounds[:1])[:, 0]    # (N_b,)
        return {"res": self.latin_hypercube(self.n_collocation, rng),              # (N, 2)
                "ic": np.stack([np.zeros_like(x_ic), x_ic], axis=1),                # (N_ic, 2)
                "bc": np.stack([t_bc, np.zeros_like(t_bc)], axis=1)}                # (N_b, 2), x = 0

    def residual(self, net, x):
        d = net.derivatives(x, ("u_t", "u_x", "u_xx", "u_xxxx"))
        return d.u_t + self.alpha * d.u * d.u_x + self.beta * d.u_xx + self.gamma * d.u_xxxx

    def conditions(self, net, points):
        left = points["bc"]                                                         # (N_b, 2)
        right = left + left.new_tensor([0.0, self.length])                          # x = L
        d = net.derivatives(torch.cat([left, right]), ("u_x", "u_xx", "u_xxx"))
        ends = torch.stack([d.u, d.u_x, d.u_xx, d.u_xxx], dim=1)                  # (2 N_b, 4)
        return {"ic": net(points["ic"]) - self.u0(points["ic"][:, 1]),
                "bc": ends[:len(left)] - ends[len(left):]}                          # (N_b, 4)

    def reference(self, cache):
        params = {"alpha": self.alpha, "beta": self.beta, "gamma": self.gamma,
                  "length": self.length, "t_end": self.t_end, **self.reference_params}
        sol = cache.get("kuramoto_sivashinsky", params, solve_kuramoto_sivashinsky)
        return Reference(axes=[sol["t"], sol["x"]], values=sol["u"])
