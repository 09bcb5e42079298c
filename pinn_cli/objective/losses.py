"""The pointwise losses rho(e) on the residuals (``objective.loss``).

A term's loss is ``(1 / N_k) sum_i sum_q rho((W[e_k])_iq)``
(:class:`pinn_cli.training.loss_engine.LossEngine`): rho is applied elementwise, after the
weighting has multiplied the residuals. Each function maps e (any shape) to rho(e) (same shape):

    squared    rho(e) = e^2                                    rho'(e) = 2 e
    l1         rho(e) = |e|                                    rho'(e) = sign(e)   (0 at e = 0)
    huber      rho(e) = e^2 / 2                 if |e| <= delta
                        delta (|e| - delta / 2)  otherwise      rho'(e) = clip(e, -delta, delta)
    log_cosh   rho(e) = log(cosh(e))                           rho'(e) = tanh(e)

Huber follows PyTorch's convention (``torch.nn.HuberLoss``): quadratic with curvature 1 inside
|e| <= delta, linear with slope delta outside, continuous with a continuous derivative at |e| =
delta; so huber is half the squared loss for residuals within delta and delta times l1 (less
delta^2 / 2) beyond it. log_cosh behaves like e^2 / 2 for small |e| and like |e| - log 2 for large.
"""
from __future__ import annotations

import math
from functools import partial
from typing import Callable

import torch

Rho = Callable[[torch.Tensor], torch.Tensor]


def squared(e: torch.Tensor) -> torch.Tensor:
    """rho(e) = e^2 (the least-squares loss)."""
    return e.square()


def l1(e: torch.Tensor) -> torch.Tensor:
    """rho(e) = |e|; its gradient is sign(e), 0 at e = 0."""
    return e.abs()


def huber(e: torch.Tensor, delta: float = 1.0) -> torch.Tensor:
    """rho(e) = e^2 / 2 for |e| <= delta, delta (|e| - delta / 2) otherwise; delta > 0."""
    a = e.abs()
    return torch.where(a <= delta, 0.5 * e.square(), delta * (a - 0.5 * delta))


def log_cosh(e: torch.Tensor) -> torch.Tensor:
    """rho(e) = log(cosh(e)), without overflow and accurate near 0.

    For |e| < 1: log(cosh e) = log1p(2 sinh^2(e / 2)) (cosh e - 1 = 2 sinh^2(e / 2), no
    cancellation near 0); otherwise |e| + log1p(exp(-2 |e|)) - log 2 (cosh would overflow for
    |e| > ~89 in float32). Both branches are finite everywhere, so the gradient, tanh(e), is too.
    """
    a = e.abs()
    near = torch.log1p(2 * torch.sinh(0.5 * a.clamp(max=1.0)).square())
    far = a + torch.log1p(torch.exp(-2 * a)) - math.log(2.0)
    return torch.where(a < 1.0, near, far)


LOSSES = {"squared": squared, "l1": l1, "huber": huber, "log_cosh": log_cosh}


def rho(name: str, delta: float = 1.0) -> Rho:
    """The loss ``name`` (one of :data:`LOSSES`) as a function of e; ``delta`` for huber only."""
    return partial(huber, delta=float(delta)) if name == "huber" else LOSSES[name]
