"""Temporal causality weights (Wang, Sankaran & Perdikaris, "Respecting causality for training
physics-informed neural networks", CMAME 2024).

The N interior points are split into M time slabs by their coordinate t (the PDE's axis named
``t``). With L_j the mean squared residual of slab j at the current iteration (detached),

    w_0 = 1,    w_i = exp(-epsilon * sum_{j < i} L_j),      i = 0 .. M-1,

and every point of slab i enters the loss with its slab's weight: W[r]_p = sqrt(w_i) r_p, so
that the residual term is (1/N) sum_p w_{i(p)} r_p^2 (the paper's (1/M) sum_i w_i L_i when the
slabs hold N/M points each). Since L_j >= 0, 0 < w_i <= 1 and w_i does not increase with i: a
later time counts only once the earlier ones are resolved. The weights are recomputed at every
iteration from that iteration's residuals before the loss is formed (``uses_residuals``), as the
paper's stop-gradient on the current parameters.

pinn-cli's choice of slabs: the points sorted by t, cut into M groups of equal count (slab of
point p = rank(t_p) * M // N). For the Latin hypercube points (one point in each of N equal
strata of t) and M dividing N these are exactly the equal-width slabs [i T / M, (i+1) T / M).

The time axis is the problem's (``time_axis``, handed over by the assembly step: the PDE's axis
named ``t`` unless it says otherwise); a problem without one is refused with a ConfigError
before training, as is a slab count above the interior points. ``stats()``: ``res_mean`` is the mean causal weight, ``res_min`` the last slab's weight
(the paper's convergence indicator, near 1 once every slab is resolved).
"""
from __future__ import annotations

import torch

from pinn_cli.schema import Count, NonNeg, NonNegInt
from pinn_cli.errors import ConfigError
from pinn_cli.weighting.base import Weighting


class Causal(Weighting):
    """Args:
        epsilon: the causality parameter (paper: 1e-2 ... 1e2; jaxpi's default 1).
        slabs: M, the number of time slabs (paper and jaxpi: 32).
        time_axis: the column of t in the points (null: the problem's).
    """

    uses_residuals = True

    def __init__(self, epsilon: NonNeg = 1.0, slabs: Count = 32, time_axis: NonNegInt | None = None):
        self.epsilon, self.slabs, self.time_axis = epsilon, slabs, time_axis
        self.slab: torch.Tensor | None = None       # (N,) slab index of every point
        self.w: torch.Tensor | None = None          # (M,) slab weights

    def check(self, problem):
        if problem.time_axis is None:
            raise ConfigError("weighting", "causal", f"a problem with a time axis (this one's "
                              f"axes are {', '.join(problem.axes)}, none of them time)")
        if self.time_axis != problem.time_axis:
            raise ConfigError("weighting.time_axis", self.time_axis, f"null or "
                              f"{problem.time_axis}: the problem's time axis is column "
                              f"{problem.time_axis} of ({', '.join(problem.axes)})")
        n = problem.terms["res"]
        if self.slabs > n:
            raise ConfigError("weighting.slabs", self.slabs, f"an integer <= the {n} interior points")

    def setup(self, points):
        t = points["res"][:, self.time_axis]                              # (N,)
        n = len(t)
        order = torch.argsort(t, stable=True)
        self.slab = torch.empty(n, dtype=torch.long, device=t.device)
        self.slab[order] = torch.arange(n, device=t.device) * self.slabs // n
        self.counts = torch.bincount(self.slab, minlength=self.slabs).to(t.dtype)   # (M,)
        self.w = torch.ones(self.slabs, dtype=t.dtype, device=t.device)

    def resample(self, points, nearest):
        """New points: new slabs (the weights are recomputed from the residuals every step)."""
        w = self.w
        self.setup(points)
        self.w = w

    def slab_losses(self, r: torch.Tensor) -> torch.Tensor:
        """L_j, the mean squared residual of every slab: r (N,) or (N, q) -> (M,)."""
        sq = r.detach().square()
        sq = sq.sum(1) if sq.ndim > 1 else sq                             # (N,)
        return torch.zeros_like(self.w).index_add_(0, self.slab, sq) / self.counts

    def update(self, residuals, step):
        losses = self.slab_losses(residuals["res"])                       # (M,)
        before = torch.cat([losses.new_zeros(1), losses.cumsum(0)[:-1]])  # (M,) sum_{j<i} L_j
        self.w = torch.exp(-self.epsilon * before)

    def apply(self, residuals, rows=None):
        if "res" not in residuals:
            return residuals
        slab = self.slab if rows is None else self.slab[rows]
        s = self.w.sqrt()[slab]                                           # (n,)
        r = residuals["res"]
        return {**residuals, "res": s.reshape(s.shape + (1,) * (r.ndim - 1)) * r}

    def weights(self):
        return {"res": self.w[self.slab]}                                 # (N,)

    def state_dict(self):
        return {"w": self.w.clone()}

    def load_state_dict(self, state):
        self.w = state["w"].to(self.w.device)
