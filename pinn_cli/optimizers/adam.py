"""Adam with a learning-rate schedule, by default the paper's staircase exponential decay.

    lr(k) = lr_0 * decay_rate ** floor(k / decay_every)      (paper: 1e-3, 0.9, 5,000)

The other schedules (``schedule: exponential | cosine | constant``) are in
:mod:`pinn_cli.optimizers.schedules`.
"""
from __future__ import annotations

import torch

from pinn_cli.schema import NonNeg, Positive, Zero2One
from pinn_cli.optimizers.schedules import Scheduled


class Adam(Scheduled):
    """Builds a ``torch.optim.Adam`` and its schedule for given parameters.

    Args:
        lr: initial learning rate, > 0.
        betas: Adam's moment decays.
        eps: Adam's epsilon.
        **schedule: the schedule and its keys (:class:`pinn_cli.optimizers.schedules.Scheduled`):
            schedule (staircase), decay_rate, decay_every, warmup_steps, cosine_steps, min_lr.
    """

    def __init__(self, lr: Positive = 1e-3, betas: tuple[Zero2One, Zero2One] = (0.9, 0.999),
                 eps: NonNeg = 1e-8, **schedule):
        super().__init__(**schedule)
        self.lr, self.betas, self.eps = float(lr), tuple(float(b) for b in betas), float(eps)
        self.check_floor(self.lr)

    def make(self, params) -> torch.optim.Adam:
        return torch.optim.Adam(params, lr=self.lr, betas=self.betas, eps=self.eps)

    def build(self, params):
        """-> (optimizer, scheduler); call ``scheduler.step()`` once per iteration."""
        opt = self.make(params)
        return opt, self.make_schedule(opt)
