"""The contract of the ``strategy`` config group: a run as a sequence of stages.

A strategy cuts the run's iterations into stages, fixed before training (so a resumed run knows
its stage from its step alone)::

    stages = strategy.stages(iterations)          # [Stage(start, name, window, coefficient)]

At the first step of each stage the trainer (:class:`pinn_cli.training.stages.Stager`) applies
it: ``window = (t0, t1)`` restricts the training points to that time interval (every term's time
coordinate mapped affinely from the problem's [T0, T1] onto it, so the initial condition stays at
T0 and the draws stay uniform), ``coefficient = (name, value)`` sets a coefficient of the PDE
(``re`` of the cavity, ``eps`` of Allen-Cahn) for the stage. A new window redraws the interior
points (the conditions' points are mapped). The stage index is recorded in the run file
(``/stages``) and drawn on the figures; the errors are always against the whole problem's
reference (its own coefficient, its whole interval).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    start: int                                    # the stage's first step
    name: str
    window: tuple[float, float] | None = None     # (t0, t1): the time interval trained on
    coefficient: tuple[str, float] | None = None  # (PDE attribute, value) for the stage


class Strategy:
    """``strategy=none``: one stage, the whole problem (the paper's)."""

    def check(self, problem, pde) -> None:
        """Refuse (ConfigError) settings that do not fit the problem or its PDE."""

    def stages(self, iterations: int) -> list[Stage]:
        return [Stage(0, "all")]


def split(iterations: int, steps: list[int] | None, n: int) -> list[int]:
    """The first step of each of n stages: ``steps`` given per stage (the last stage takes what
    is left), or equal parts of ``iterations``."""
    if steps:
        starts, at = [0], 0
        for s in steps[: n - 1]:
            at += int(s)
            starts.append(at)
        return starts
    return [round(i * iterations / n) for i in range(n)]
