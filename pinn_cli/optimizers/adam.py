"""Adam with the paper's staircase exponential decay.

    lr(k) = lr_0 * decay_rate ** floor(k / decay_every)      (paper: 1e-3, 0.9, 5,000)
"""
from __future__ import annotations

import torch

from pinn_cli.config.schema import Count, NonNeg, Positive, UnitInterval, Zero2One
from pinn_cli.optimizers.base import OptimizerSpec


class Adam(OptimizerSpec):
    """Builds a ``torch.optim.Adam`` and its staircase schedule for given parameters.

    Args:
        lr: initial learning rate, > 0.
        betas: Adam's moment decays.
        eps: Adam's epsilon.
        decay_rate: factor applied every ``decay_every`` iterations, in (0, 1].
        decay_every: iterations between decays, >= 1.
    """

    def __init__(self, lr: Positive = 1e-3, betas: tuple[Zero2One, Zero2One] = (0.9, 0.999),
                 eps: NonNeg = 1e-8, decay_rate: UnitInterval = 0.9, decay_every: Count = 5000):
        self.lr, self.betas, self.eps = float(lr), tuple(betas), float(eps)
        self.decay_rate, self.decay_every = float(decay_rate), int(decay_every)

    def build(self, params):
        """-> (optimizer, scheduler); call ``scheduler.step()`` once per iteration."""
        opt = torch.optim.Adam(params, lr=self.lr, betas=self.betas, eps=self.eps)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=self.decay_every,
                                                gamma=self.decay_rate)
        return opt, sched
