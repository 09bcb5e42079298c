"""Adam with the paper's staircase exponential decay.

    lr(k) = lr_0 * decay_rate ** floor(k / decay_every)      (paper: 1e-3, 0.9, 5,000)
"""
from __future__ import annotations

import torch

from pinn_cli.errors import ConfigError


class Adam:
    """Builds a ``torch.optim.Adam`` and its staircase schedule for given parameters.

    Args:
        lr: initial learning rate, > 0.
        betas: Adam's moment decays.
        eps: Adam's epsilon.
        decay_rate: factor applied every ``decay_every`` iterations, in (0, 1].
        decay_every: iterations between decays, >= 1.
    """

    def __init__(self, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 decay_rate: float = 0.9, decay_every: int = 5000):
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
            raise ConfigError("optimizer.lr", lr, "a number > 0")
        if not 0 < decay_rate <= 1:
            raise ConfigError("optimizer.decay_rate", decay_rate, "a number in (0, 1]")
        if not isinstance(decay_every, int) or decay_every < 1:
            raise ConfigError("optimizer.decay_every", decay_every, "an integer >= 1")
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ConfigError("optimizer.betas", list(betas), "two numbers in [0, 1)")
        self.lr, self.betas, self.eps = float(lr), tuple(betas), float(eps)
        self.decay_rate, self.decay_every = float(decay_rate), int(decay_every)

    def build(self, params):
        """-> (optimizer, scheduler); call ``scheduler.step()`` once per iteration."""
        opt = torch.optim.Adam(params, lr=self.lr, betas=self.betas, eps=self.eps)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=self.decay_every,
                                                gamma=self.decay_rate)
        return opt, sched
