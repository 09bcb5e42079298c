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

import torch

from pinn_cli.errors import ConfigError
from pinn_cli.weighting.none import NoWeighting


class RBA(NoWeighting):
    """Args:
        eta: learning rate of the weights (paper 1e-3).
        gamma: memory of the weights, 0 < gamma < 1 (paper 0.999).
        init: ``zeros`` (lambda_0 = 0) or ``residual`` (lambda_0 = n(r) at the first step).
        normalization: ``max`` or ``minmax``.
        term: the loss term that is re-weighted.
    """

    def __init__(self, eta: float = 1e-3, gamma: float = 0.999, init: str = "zeros",
                 normalization: str = "max", term: str = "res"):
        if not eta > 0:
            raise ConfigError("weighting.eta", eta, "a number > 0")
        if not 0 < gamma < 1:
            raise ConfigError("weighting.gamma", gamma, "a number with 0 < gamma < 1")
        if init not in ("zeros", "residual"):
            raise ConfigError("weighting.init", init, "one of zeros, residual")
        if normalization not in ("max", "minmax"):
            raise ConfigError("weighting.normalization", normalization, "one of max, minmax")
        self.eta, self.gamma, self.init, self.normalization = eta, gamma, init, normalization
        self.term = term
        self.lam: torch.Tensor | None = None  # (N,)
        self.started = False

    @property
    def bound(self) -> float:
        return self.eta / (1 - self.gamma)

    def setup(self, n_points, device, dtype):
        self.lam = torch.zeros(n_points[self.term], device=device, dtype=dtype)
        self.started = False

    def normalized(self, r: torch.Tensor) -> torch.Tensor:
        """n(r) in [0, 1], (N,) -> (N,); the tiny floor keeps a zero residual from dividing by 0."""
        a = r.detach().abs()
        if self.normalization == "max":
            return a / a.max().clamp_min(torch.finfo(a.dtype).tiny)
        lo = a.min()
        return (a - lo) / (a.max() - lo).clamp_min(torch.finfo(a.dtype).tiny)

    def update(self, residuals):
        """One RBA step with the residual r (N,) of the current iteration."""
        n = self.normalized(residuals[self.term])
        if not self.started and self.init == "residual":
            self.lam = n.clone()
        else:
            self.lam.mul_(self.gamma).add_(self.eta * n)
        self.started = True

    def apply(self, residuals, rows=None):
        lam = self.lam if rows is None else self.lam[rows]
        return {**residuals, self.term: lam * residuals[self.term]}

    def weights(self):
        return {self.term: self.lam}

    def state_dict(self):
        return {"lam": self.lam.clone(), "started": self.started}

    def load_state_dict(self, state):
        self.lam = state["lam"].to(self.lam.device)
        self.started = state["started"]
