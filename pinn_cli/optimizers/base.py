"""The contract every optimizer option fulfils.

An option is a *spec*: built from YAML with its hyperparameters, it makes the torch optimizer and
its learning-rate schedule for the parameters the trainer hands it (the model's, in one group):

    optimizer, schedule = spec.build(params)

- ``needs_closure``: the optimizer re-evaluates the loss itself (L-BFGS's line search); the trainer
  then calls ``optimizer.step(closure)``, where the closure recomputes the loss and its gradients
  (:meth:`pinn_cli.training.objective.Objective.closure`), and the weighting updates on the first
  evaluation of each iteration only.
- ``schedule`` may be None; otherwise ``schedule.step()`` is called once per iteration.
- Optimizer diagnostics read the optimizer's own state where they understand it (Adam's moments for
  the Adam SNR); an optimizer without such state simply has no such series in the run file.
- Checkpoints hold ``optimizer.state_dict()`` and ``schedule.state_dict()``: that is all a
  bit-identical resume needs from an optimizer.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch


class OptimizerSpec(ABC):
    """Base class of the optimizer options."""

    needs_closure: ClassVar[bool] = False

    @abstractmethod
    def build(self, params: list[torch.Tensor]):
        """-> (torch.optim.Optimizer, schedule or None) for ``params``."""
