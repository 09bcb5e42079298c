"""Global term weights balanced by gradient norms (learning-rate annealing: Wang, Teng &
Perdikaris, "Understanding and mitigating gradient flow pathologies in physics-informed neural
networks", SIAM J. Sci. Comput. 2021; jaxpi's ``grad_norm``).

Every loss term k (``res``, ``ic``, ``bc``) carries one weight lambda_k (1 at the start), applied
as W[e_k] = sqrt(lambda_k) e_k, i.e. the term becomes lambda_k w_k mean(e_k^2). Every ``every``
steps, with g_k the gradient over all model parameters of the term as it enters the loss without
lambda_k (n_k = ||g_k||, the Euclidean norm over every parameter):

    rule = sum:       lhat_k = (sum_j n_j) / n_k
    rule = max_mean:  lhat_res = 1,  lhat_k = max |g_res| / mean |g_k|      (the 2021 paper's Alg. 1)
    lambda_k <- alpha lambda_k + (1 - alpha) lhat_k

With ``sum`` every term's weighted gradient has the same norm, sum_j n_j, after an update with
alpha = 0. jaxpi divides by the mean of the norms instead of their sum (a common factor K,
the number of terms, to which Adam is insensitive). The PDE's ``loss_weights`` are inside g_k,
so the balance overrides them, as in jaxpi where these weights replace the initial ones; a term
with w_k = 0 (n_k = 0) is left out and keeps its weight.

Where the norms come from: the objective's own backward, split per term on the steps this
scheme asks for (``wants_term_grads``): the interior's share of ``.grad`` is copied after its
chunks, each condition term gets its own backward instead of one over their sum; no extra
backward pass (``pinn_cli/training/loss_engine.py``). The step's gradients are taken at the
parameters and weights the step starts from, the new weights are set in ``step()`` after the
optimizer's step and used from the next iteration on (jaxpi updates after the step, at the new
parameters: one step apart).
"""
from __future__ import annotations

from typing import Literal

import torch

from pinn_cli.schema import Count, Zero2One
from pinn_cli.weighting.base import Weighting


def flat(grads: list[torch.Tensor]) -> torch.Tensor:
    """One gradient as a vector over every parameter, (P,)."""
    return torch.cat([g.reshape(-1) for g in grads])


class GradNorm(Weighting):
    """Args:
        every: update the weights every this many steps (at steps 0, every, 2 every...).
        alpha: memory of the weights, 0 <= alpha < 1 (jaxpi's momentum 0.9).
        rule: ``sum`` (sum of norms over each norm) or ``max_mean`` (the 2021 paper's).
    """

    def __init__(self, every: Count = 100, alpha: Zero2One = 0.9,
                 rule: Literal["sum", "max_mean"] = "sum"):
        self.every, self.alpha, self.rule = every, alpha, rule
        self.lam: dict[str, torch.Tensor] = {}      # {k: ()}
        self.pending: dict[str, torch.Tensor] | None = None

    def setup(self, points):
        self.lam = {k: torch.ones((), dtype=x.dtype, device=x.device) for k, x in points.items()}
        self.pending = None

    def apply(self, residuals, rows=None):
        return {k: (self.lam[k].sqrt() * e if k in self.lam else e) for k, e in residuals.items()}

    def wants_term_grads(self, step: int) -> bool:
        return step % self.every == 0

    def targets(self, grads: dict[str, list[torch.Tensor]]) -> dict[str, torch.Tensor]:
        """lhat_k from each term's gradient as it enters the loss (lambda_k divided out)."""
        g = {k: flat(v) / self.lam[k] for k, v in grads.items() if k in self.lam}   # (P,) each
        if self.rule == "max_mean":
            top = g["res"].abs().max()
            if not top > 0:                        # no interior gradient yet: nothing to match
                return {}
            return {k: (top.new_ones(()) if k == "res" else top / v.abs().mean())
                    for k, v in g.items() if k == "res" or v.abs().mean() > 0}
        norms = {k: v.norm() for k, v in g.items()}
        total = sum(norms.values())
        return {k: total / n for k, n in norms.items() if n > 0}

    def term_gradients(self, grads: dict[str, list[torch.Tensor]], step: int) -> None:
        """This step's per-term gradients (from the objective); the weights move in ``step()``."""
        self.pending = self.targets(grads)

    def step(self):
        if self.pending is None:
            return
        for k, target in self.pending.items():
            self.lam[k] = self.alpha * self.lam[k] + (1 - self.alpha) * target
        self.pending = None

    def stats(self):
        """A global weight is every point's weight: its mean, max and min are lambda_k."""
        return {f"{k}_{s}": v.clone() for k, v in self.lam.items() for s in ("mean", "max", "min")}

    def state_dict(self):
        return {"lam": {k: v.clone() for k, v in self.lam.items()},
                "pending": None if self.pending is None else dict(self.pending)}

    def load_state_dict(self, state):
        self.lam = {k: v.to(self.lam[k].device) for k, v in state["lam"].items()}
        self.pending = state["pending"]
