"""Residual-based attention (RBA).

Each collocation point i carries a weight lambda_i, updated at every iteration from the detached
residual of that iteration, before the loss is formed:

    lambda_i <- gamma * lambda_i + eta * n_i,
    n_i = |r_i| / max_j |r_j|                          (normalization = "max")
    n_i = (|r_i| - min_j |r_j|) / (max_j - min_j)      (normalization = "minmax")

and the residual enters the loss as mean((lambda_i r_i)^2). Since 0 <= n_i <= 1, lambda stays in
[0, max(lambda_0, eta / (1 - gamma))]. Only the PDE residual term is re-weighted; initial and
boundary terms are left alone. The points are fixed for the run, so lambda_i stays attached to
point i for the whole run (pinn-cli does not resample collocation points).
"""
from __future__ import annotations

from typing import Literal

import torch

from pinn_cli.schema import Fraction, Positive
from pinn_cli.weighting.base import Weighting


class RBA(Weighting):
    """Args:
        eta: learning rate of the weights (paper 1e-3).
        gamma: memory of the weights, 0 < gamma < 1 (paper 0.999).
        init: ``zeros`` (lambda_0 = 0) or ``residual`` (lambda_0 = n(r) at the first step).
        normalization: ``max`` or ``minmax``.
        term: the loss term that is re-weighted.
    """

    uses_residuals = True

    def __init__(self, eta: Positive = 1e-3, gamma: Fraction = 0.999,
                 init: Literal["zeros", "residual"] = "zeros",
                 normalization: Literal["max", "minmax"] = "max", term: str = "res"):
        self.eta, self.gamma, self.init, self.normalization = eta, gamma, init, normalization
        self.term = term
        self.lam: torch.Tensor | None = None  # (N,)
        self.started = False

    @property
    def bound(self) -> float:
        return self.eta / (1 - self.gamma)

    def setup(self, points):
        x = points[self.term]                                               # (N, d)
        self.lam = torch.zeros(len(x), device=x.device, dtype=x.dtype)      # (N,), or (N, q) later
        self.started = False

    def resample(self, points, nearest):
        """Each new point takes the weight of the old point nearest to it."""
        if self.term in nearest:
            self.lam = self.lam[nearest[self.term]]

    def normalized(self, r: torch.Tensor) -> torch.Tensor:
        """n(r) in [0, 1], (N,) -> (N,), or (N, q) -> (N, q) with each equation normalised by
        its own maximum; the tiny floor keeps a zero residual from dividing by 0."""
        a = r.detach().abs()
        tiny = torch.finfo(a.dtype).tiny
        if self.normalization == "max":
            return a / a.amax(0).clamp_min(tiny)
        lo = a.amin(0)
        return (a - lo) / (a.amax(0) - lo).clamp_min(tiny)

    def update(self, residuals, step):
        """One RBA step with the residual r (N,) or (N, q) of the current iteration."""
        n = self.normalized(residuals[self.term])
        if not self.started and self.init == "residual":
            self.lam = n.clone()
        elif not self.started and self.lam.shape != n.shape:      # q equations: one lambda each
            self.lam = torch.zeros_like(n).add_(self.eta * n)
        else:
            self.lam.mul_(self.gamma).add_(self.eta * n)
        self.started = True

    def apply(self, residuals, rows=None):
        if self.term not in residuals:
            return residuals
        lam = self.lam if rows is None else self.lam[rows]
        r = residuals[self.term]
        return {**residuals, self.term: lam.reshape(lam.shape + (1,) * (r.ndim - lam.ndim)) * r}

    def weights(self):
        return {self.term: self.lam}

    def state_dict(self):
        return {"lam": self.lam.clone(), "started": self.started}

    def load_state_dict(self, state):
        self.lam = state["lam"].to(self.lam.device)
        self.started = state["started"]
