"""Learning-rate schedules: a choice (``schedule``) of every optimizer option, with flat keys.

With lr_0 the optimizer's ``lr`` and k the iteration (the number of ``schedule.step()`` calls so
far), the learning rate of iteration k is

    staircase    lr_0 * decay_rate ** floor(k / decay_every)                  (the paper's; default)
    exponential  lr_0 * k / W                                  for k < W      (linear warm-up)
                 lr_0 * decay_rate ** ((k - W) / decay_every)  for k >= W     (continuous decay)
    cosine       min_lr + (lr_0 - min_lr) * (1 + cos(pi * min(k, T) / T)) / 2,  T = cosine_steps
    constant     lr_0

``exponential`` is jaxpi's (optax's linear warm-up joined to its exponential decay: the decay
counts from the end of the warm-up, and the warm-up starts at 0); W = ``warmup_steps`` may be 0.

Each is a ``torch.optim.lr_scheduler.LRScheduler`` whose ``state_dict()`` resumes it bit for bit:
``staircase`` is torch's ``StepLR`` itself (it multiplies the rate in one factor at a time, so a
closed form could differ from it in the last bit, and checkpoints hold its state); the others are
``LambdaLR`` with the closed forms above, evaluated afresh at each k, their settings kept in the
state dict (the factors are objects, not functions).
"""
from __future__ import annotations

import math
from typing import Literal

import torch
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, StepLR

from pinn_cli.schema import Count, NonNeg, NonNegInt, UnitInterval
from pinn_cli.errors import ConfigError
from pinn_cli.optimizers.base import OptimizerSpec

ScheduleName = Literal["staircase", "exponential", "cosine", "constant"]


class Constant:
    """Factor 1 at every k."""

    def __call__(self, k: int) -> float:
        return 1.0


class WarmupExponential:
    """Factor k / W during the warm-up, then rate ** ((k - W) / every)."""

    def __init__(self, warmup: int, rate: float, every: int):
        self.warmup, self.rate, self.every = warmup, rate, every

    def __call__(self, k: int) -> float:
        if k < self.warmup:
            return k / self.warmup
        return self.rate ** ((k - self.warmup) / self.every)


class Cosine:
    """Factor floor + (1 - floor) (1 + cos(pi min(k, T) / T)) / 2, floor = min_lr / lr_0."""

    def __init__(self, steps: int, floor: float):
        self.steps, self.floor = steps, floor

    def __call__(self, k: int) -> float:
        frac = min(k, self.steps) / self.steps
        return self.floor + (1.0 - self.floor) * 0.5 * (1.0 + math.cos(math.pi * frac))


def make_schedule(optimizer: torch.optim.Optimizer, name: str, *, decay_rate: float = 0.9,
                  decay_every: int = 5000, warmup_steps: int = 0, cosine_steps: int = 10000,
                  min_lr: float = 0.0) -> LRScheduler:
    """The schedule ``name`` on ``optimizer`` (its first group's lr is lr_0)."""
    if name == "staircase":
        return StepLR(optimizer, step_size=decay_every, gamma=decay_rate)
    if name == "exponential":
        factor = WarmupExponential(warmup_steps, decay_rate, decay_every)
    elif name == "cosine":
        factor = Cosine(cosine_steps, min_lr / optimizer.param_groups[0]["lr"])
    elif name == "constant":
        factor = Constant()
    else:
        raise ConfigError("optimizer.schedule", name, "one of staircase, exponential, cosine, constant")
    return LambdaLR(optimizer, factor)


class Scheduled(OptimizerSpec):
    """Base of the optimizer options with a learning-rate schedule: its keys are theirs.

    A subclass takes ``**schedule`` and passes it here; the config schema then lists these keys
    with the subclass's own (:func:`pinn_cli.schema.signature_of`).

    Args:
        schedule: staircase | exponential | cosine | constant (module docstring).
        decay_rate: factor per ``decay_every`` iterations (staircase, exponential), in (0, 1].
        decay_every: iterations per factor ``decay_rate`` (staircase, exponential), >= 1.
        warmup_steps: W, the linear warm-up's length (exponential), >= 0.
        cosine_steps: T, iterations of the cosine's fall to ``min_lr`` (cosine), >= 1.
        min_lr: the cosine's floor, >= 0 and at most lr.
    """

    def __init__(self, schedule: ScheduleName = "staircase", decay_rate: UnitInterval = 0.9,
                 decay_every: Count = 5000, warmup_steps: NonNegInt = 0,
                 cosine_steps: Count = 10000, min_lr: NonNeg = 0.0):
        self.schedule = schedule
        self.schedule_keys = {"decay_rate": float(decay_rate), "decay_every": int(decay_every),
                              "warmup_steps": int(warmup_steps), "cosine_steps": int(cosine_steps),
                              "min_lr": float(min_lr)}

    def check_floor(self, lr: float, key: str = "optimizer.min_lr") -> None:
        """Refuse a cosine floor above the rate it decays from."""
        if self.schedule == "cosine" and self.schedule_keys["min_lr"] > lr:
            raise ConfigError(key, self.schedule_keys["min_lr"], f"a number <= lr ({lr:g})")

    def make_schedule(self, optimizer: torch.optim.Optimizer) -> LRScheduler:
        return make_schedule(optimizer, self.schedule, **self.schedule_keys)
