"""The contract every optimizer option fulfils.

An option is a *spec*: built from YAML with its hyperparameters, it makes the torch optimizer and
its learning-rate schedule for the parameters the trainer hands it (the model's, in one group):

    optimizer, schedule = spec.build(params)

- ``needs_closure``: the optimizer re-evaluates the loss itself (L-BFGS's line search); the trainer
  then calls ``optimizer.step(closure)``, where the closure recomputes the loss and its gradients
  (:meth:`pinn_cli.training.loss_engine.LossEngine.closure`), and the weighting updates on the first
  evaluation of each iteration only.
- ``schedule`` may be None; otherwise ``schedule.step()`` is called once per iteration.
- Optimizer diagnostics read the optimizer's own state where they understand it (Adam's moments for
  the Adam SNR); an optimizer without such state simply has no such series in the run file.
- Checkpoints hold ``optimizer.state_dict()`` and ``schedule.state_dict()``: that is all a
  bit-identical resume needs from an optimizer.
- Stages: an option whose optimizer runs in stages (Adam, then L-BFGS) names them in ``stages``
  and builds a :class:`Staged` optimizer. Probes see the stage through
  :class:`pinn_cli.optimizers.view.OptimizerView`; the phase action ``next_stage`` is allowed only
  for such an option (refused before training otherwise).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch


class OptimizerSpec(ABC):
    """Base class of the optimizer options."""

    needs_closure: ClassVar[bool] = False
    stages: ClassVar[tuple[str, ...]] = ()        # the stage names of a staged optimizer

    @abstractmethod
    def build(self, params: list[torch.Tensor]):
        """-> (torch.optim.Optimizer, schedule or None) for ``params``."""


class Staged(ABC):
    """The stage protocol of a torch optimizer that runs in stages, one after another.

    ``stage`` is the index (into ``stage_names``) of the stage the next step runs in;
    ``stage_starts()`` the step at which each stage starts where it is known in advance (None
    where a stage starts when something happens); ``next_stage()`` ends the current stage now
    (the next step runs in the next one; nothing happens in the last); ``stage_optimizers()``
    the torch optimizer of each stage. The stage must follow from
    ``state_dict()``, so that a resumed run continues in the same stage.
    """

    stage_names: ClassVar[tuple[str, ...]]

    @property
    @abstractmethod
    def stage(self) -> int:
        """The stage the next step runs in."""

    @abstractmethod
    def stage_starts(self) -> tuple[int | None, ...]:
        """The first step of every stage, None where not known in advance."""

    @abstractmethod
    def next_stage(self) -> None:
        """Move to the next stage at once."""

    @abstractmethod
    def stage_optimizers(self) -> tuple:
        """The torch optimizer of each stage (what its state is read from)."""
