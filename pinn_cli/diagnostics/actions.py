"""Phase actions: what a probe may ask the run to do when it sees something (a phase onset).

An action is an object with one documented effect, carried out by the trainer through the
narrow :class:`RunControl` after the step's records are written:

- :class:`DecayLR` ``(factor)``: every learning rate times ``factor``, the schedule's base rates
  too (a schedule computes from them), so the decay lasts;
- :class:`NextStage`: a staged optimizer's next stage now (Adam -> L-BFGS); allowed only with an
  optimizer option that has stages (``OptimizerSpec.stages``), refused before training otherwise;
- :class:`Stop`: end the run after this step, as ``done``.

A probe lists the actions it may take in ``Probe.actions_possible()`` (checked before training)
and queues them in ``Probe.actions``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Protocol


class RunControl(Protocol):
    """What an action may change in a run (the trainer implements it)."""

    def scale_lr(self, factor: float) -> None: ...

    def next_stage(self) -> None: ...

    def stop(self) -> None: ...


class Action(ABC):
    name: ClassVar[str]
    needs_stages: ClassVar[bool] = False

    @abstractmethod
    def apply(self, run: RunControl) -> None:
        """Carry the action out."""

    def __repr__(self) -> str:
        return self.name


class DecayLR(Action):
    name = "decay_lr"

    def __init__(self, factor: float):
        self.factor = float(factor)

    def apply(self, run):
        run.scale_lr(self.factor)


class NextStage(Action):
    name = "next_stage"
    needs_stages = True

    def apply(self, run):
        run.next_stage()


class Stop(Action):
    name = "stop"

    def apply(self, run):
        run.stop()
