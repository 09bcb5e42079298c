"""The contract of the ``objective`` config group: what is fitted, and with which loss.

An option is a *spec*, built from YAML: ``rho`` is the pointwise loss on the (weighted)
residuals (:mod:`pinn_cli.objective.losses`) and ``problem(pde, reference_cache)`` the problem
the run trains on: the PDE itself (``pinn``) or the regression of its reference at the same
points (``regression``, :mod:`pinn_cli.objective.regression`).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Literal

from pinn_cli.schema import Positive
from pinn_cli.objective.losses import Rho, rho
from pinn_cli.objective.regression import RegressionProblem
from pinn_cli.pdes.base import PDE


class ObjectiveSpec(ABC):
    """Args:
        loss: rho, applied to every term's weighted residuals: ``squared`` (e^2, least squares),
            ``l1`` (|e|), ``huber`` (e^2 / 2 within delta, delta (|e| - delta / 2) beyond),
            ``log_cosh`` (log cosh e).
        delta: Huber's threshold, the |e| where the loss turns from quadratic to linear (> 0;
            read by ``huber`` only).
    """

    def __init__(self, loss: Literal["squared", "l1", "huber", "log_cosh"] = "squared",
                 delta: Positive = 1.0):
        self.loss, self.delta = loss, float(delta)

    @property
    def rho(self) -> Rho:
        return rho(self.loss, self.delta)

    @abstractmethod
    def problem(self, pde: PDE, reference_cache: str | None = None) -> PDE:
        """-> the problem the run trains on, with the PDE interface."""


class PINN(ObjectiveSpec):
    """``objective=pinn``: the PDE's residual and condition terms (the physics)."""

    def problem(self, pde, reference_cache=None):
        return pde


class Regression(ObjectiveSpec):
    """``objective=regression``: the reference solution at the same points, no physics."""

    def problem(self, pde, reference_cache=None):
        return RegressionProblem(pde, reference_cache)
