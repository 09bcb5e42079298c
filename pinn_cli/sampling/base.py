"""The contract of the ``sampling`` config group: how the interior (collocation) points change
during a run.

A sampler is asked at every step whether it resamples (``due(step)``, pure arithmetic), and if
so for the new interior points::

    new = sampler.resample(step, points, draw, residual, rng)   # (N', d), N' = N unless it grows

- ``draw(n)``: n fresh points of the problem's interior (its own sampler: a Latin hypercube in the
  box, or the domain's; within the current time window under time-marching), as a tensor;
- ``residual(x)``: the magnitude |r| of the PDE residual at x (M, d), (M,), without a graph;
- ``rng``: a ``torch.Generator`` for the sampler's own choices (which candidates it keeps).

Every draw, and ``rng``, comes from a generator seeded by (run seed, step), so a run and its
resume draw the same points; the current points are also in the checkpoint. What a resample does
to a weighting's per-point weights is the weighting's ``resample`` (RBA carries each weight to
the new point nearest to its old one); the SNR's batches stay B equal batches of the new points.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from pinn_cli.schema import NonNegInt


class Sampler(ABC):
    """Args:
        every: resample every this many steps (0: never).
    """

    grows: bool = False               # whether the number of points can grow (RAR-D)

    def __init__(self, every: NonNegInt = 0):
        self.every = int(every)

    def due(self, step: int) -> bool:
        return self.every > 0 and step > 0 and step % self.every == 0

    @abstractmethod
    def resample(self, step: int, points: torch.Tensor, draw, residual,
                 rng: torch.Generator) -> torch.Tensor:
        """The new interior points (N', d) from the current ones (N, d)."""


class Fixed(Sampler):
    """``sampling=fixed``: the points drawn at the start, for the whole run (the paper's)."""

    def __init__(self):
        super().__init__(0)

    def resample(self, step, points, draw, residual, rng):
        return points
