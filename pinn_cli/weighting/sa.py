"""Self-adaptive weights (SA-PINN, McClenny & Braga-Neto, "Self-adaptive physics-informed neural
networks", J. Comput. Phys. 2023).

Every point i of a re-weighted term k carries a trainable weight lambda_i. The paper's term is

    L_k = mean_i m(lambda_i) e_i^2,

with a mask m >= 0, strictly increasing: ``polynomial`` m(lambda) = |lambda|^q, or ``sigmoid``
m(lambda) = 1 / (1 + exp(-lambda)). The network minimises L while the weights maximise it
(gradient ascent: dL/dlambda_i = (w_k / N_k) m'(lambda_i) e_i^2 >= 0, so a weight grows where its
point's residual stays large, and not at all where the residual is zero).

pinn-cli's weighting multiplies the residual before squaring (RBA: (lambda_i r_i)^2), so the mask
enters through ``apply`` as

    W[e]_i = sqrt(m(lambda_i)) e_i,      W[e]_i^2 = m(lambda_i) e_i^2      (the paper's term).

With q = 2 (the default), sqrt(m(lambda)) = |lambda|: the term is mean((lambda_i e_i)^2), the
same form as RBA's, and SA-PINN's original code.

The weights are leaf tensors (``parameters()``, requires_grad). They receive their gradient from
the same backward as the network (chunk by chunk: ``apply`` indexes them by ``rows``), and
``step()`` moves them with their own Adam (own learning rate, ``maximize=True``: ascent) after the
network's optimizer step. Adam normalises each weight's step, so while a point's residual keeps
its sign of gradient (always, here) its weight grows by about ``lr`` per step; points whose
residual falls grow more slowly, and a point with a zero residual not at all.
``state_dict`` holds the weights and their Adam moments: a resumed run continues bit for bit.
"""
from __future__ import annotations

import copy
from typing import Literal

import torch

from pinn_cli.schema import Positive
from pinn_cli.errors import ConfigError
from pinn_cli.weighting.base import Weighting


class SelfAdaptive(Weighting):
    trains_per_point = True

    """Args:
        lr: the learning rate of the weights' Adam (gradient ascent).
        init: lambda_0, every weight's starting value.
        mask: ``polynomial`` (|lambda|^q) or ``sigmoid``.
        q: the exponent of the polynomial mask.
        terms: the loss terms with per-point weights; null: every term of the PDE (the paper's
            choice: residual, initial and boundary points all carry weights).
    """

    def __init__(self, lr: Positive = 5e-3, init: Positive = 1.0,
                 mask: Literal["polynomial", "sigmoid"] = "polynomial", q: Positive = 2.0,
                 terms: list[str] | None = None):
        self.lr, self.init, self.mask, self.q = lr, init, mask, q
        self.terms = None if terms is None else list(terms)
        self.lam: dict[str, torch.Tensor] = {}          # {k: (N_k,)} leaf tensors
        self.opt: torch.optim.Adam | None = None

    def check(self, problem):
        if self.terms is not None and (not self.terms or any(k not in problem.terms for k in self.terms)):
            raise ConfigError("weighting.terms", self.terms, f"null or a non-empty list of this "
                              f"PDE's loss terms ({', '.join(problem.terms)})")

    def setup(self, points):
        terms = list(points) if self.terms is None else self.terms
        self.lam = {k: torch.full((len(points[k]),), float(self.init), dtype=points[k].dtype,
                                  device=points[k].device, requires_grad=True)
                    for k in terms}
        self.opt = torch.optim.Adam(list(self.lam.values()), lr=self.lr, maximize=True)

    def multiplier(self, lam: torch.Tensor) -> torch.Tensor:
        """sqrt(m(lambda)), what multiplies the residual, (n,) -> (n,)."""
        if self.mask == "sigmoid":
            return torch.sigmoid(lam).sqrt()
        return lam.abs().pow(self.q / 2)

    def apply(self, residuals, rows=None):
        out = dict(residuals)
        for k, lam in self.lam.items():
            if k not in residuals:
                continue
            lam = lam[rows] if k == "res" and rows is not None else lam        # (n,)
            e = residuals[k]                                                    # (n,) or (n, q)
            s = self.multiplier(lam)
            out[k] = s.reshape(s.shape + (1,) * (e.ndim - 1)) * e
        return out

    def parameters(self):
        return list(self.lam.values())

    def step(self):
        self.opt.step()

    def weights(self):
        return {k: lam.detach() for k, lam in self.lam.items()}

    def state_dict(self):
        return {"lam": {k: v.detach().clone() for k, v in self.lam.items()},
                "optimizer": copy.deepcopy(self.opt.state_dict())}

    def load_state_dict(self, state):
        with torch.no_grad():                  # in place: the optimizer holds these tensors
            for k, v in state["lam"].items():
                self.lam[k].copy_(v)
        self.opt.load_state_dict(state["optimizer"])
