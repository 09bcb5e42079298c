"""Adam, then a quasi-Newton method: the usual PINN recipe of a first-order start and a
quasi-Newton finish (``adam_lbfgs``: L-BFGS; ``adam_ssbroyden``: a dense quasi-Newton update).

For iterations k < K (= ``adam_steps``) the step is Adam's, with its schedule; from k = K on it
is the second stage's (:mod:`pinn_cli.optimizers.lbfgs`, :mod:`pinn_cli.optimizers.quasi_newton`),
whose history starts empty at K (its first direction is -g, its first trial step
min(1, 1 / |g|_1) times its lr).

Both run as :class:`AdamThen`, one ``torch.optim.Optimizer`` holding both inner optimizers on the same
parameters. Its ``param_groups`` and ``state`` are the active stage's (so the trainer's lr is the
active rate); it always takes a closure (Adam: one evaluation, then Adam's update); its
``state_dict`` holds both inner states and the iteration count, from which the stage follows, so
checkpoints and resume work as for any optimizer, across the boundary included. The schedule acts
on the inner Adam only: the second stage runs at its constant rate.
"""
from __future__ import annotations

import torch

from pinn_cli.schema import Count, NonNeg, NonNegInt, Positive, Zero2One
from pinn_cli.optimizers.adam import Adam
from pinn_cli.optimizers.base import Staged
from pinn_cli.optimizers.lbfgs import LineSearch, lbfgs_options
from pinn_cli.optimizers.quasi_newton import NAMES, QuasiNewton, Update
from pinn_cli.optimizers.schedules import Scheduled, make_schedule


class AdamThen(torch.optim.Optimizer, Staged):
    """Args:
        params: the parameters (one group).
        adam: the Adam stage's optimizer, on ``params``.
        second: the second stage's optimizer (L-BFGS or a dense quasi-Newton), on ``params``.
        adam_steps: K, the Adam stage's length in steps.
        names: the stages' names, for figures.

    Attributes:
        steps: steps taken so far; ``stage``: 0 (Adam) while steps < K, then 1.
    """

    def __init__(self, params, adam: torch.optim.Adam, second: torch.optim.Optimizer,
                 adam_steps: int, names: tuple[str, str] = ("Adam", "L-BFGS")):
        super().__init__(params, {})
        self.adam, self.second, self.adam_steps, self.steps = adam, second, int(adam_steps), 0
        self.stage_names = tuple(names)
        self._activate()

    @property
    def stage(self) -> int:
        return 0 if self.steps < self.adam_steps else 1

    def stage_starts(self) -> tuple[int | None, ...]:
        return (0, self.adam_steps)

    def stage_optimizers(self) -> tuple:
        return (self.adam, self.second)

    def next_stage(self) -> None:
        """The second stage from the next step on (K becomes the steps taken so far)."""
        if self.stage == 0:
            self.adam_steps = self.steps
            self._activate()

    @property
    def active(self) -> torch.optim.Optimizer:
        return self.second if self.stage else self.adam

    def _activate(self) -> None:
        self.param_groups, self.state = self.active.param_groups, self.active.state

    def step(self, closure):  # type: ignore[override]
        """One step of the active stage; -> the loss at the parameters it started from."""
        loss = self.active.step(closure)
        self.steps += 1
        self._activate()
        return loss

    def state_dict(self) -> dict:
        # the second stage's state under "lbfgs", the key checkpoints have always had
        return {"steps": self.steps, "adam_steps": self.adam_steps,
                "adam": self.adam.state_dict(), "lbfgs": self.second.state_dict()}

    def load_state_dict(self, state_dict: dict) -> None:
        self.adam.load_state_dict(state_dict["adam"])
        self.second.load_state_dict(state_dict["lbfgs"])
        self.steps = int(state_dict["steps"])
        self.adam_steps = int(state_dict.get("adam_steps", self.adam_steps))   # moved by next_stage
        self._activate()


class _AdamThenSpec(Scheduled):
    """What the staged options share: Adam (``self.adam``) for ``self.adam_steps`` steps, then the
    optimizer ``self.second(params)``, as one :class:`AdamThen` named ``self.names``."""

    needs_closure = True

    def build(self, params):
        """-> (AdamThen, the schedule of its inner Adam)."""
        params = list(params)
        adam, second = self.adam.make(params), self.second(params)
        # no Adam stage: a constant schedule on the second (one on an Adam that never steps warns)
        schedule = (self.adam.make_schedule(adam) if self.adam_steps
                    else make_schedule(second, "constant"))
        return AdamThen(params, adam, second, self.adam_steps, self.names), schedule


class AdamLBFGS(_AdamThenSpec):
    """Builds :class:`AdamThen` with an L-BFGS second stage, and the Adam stage's schedule.

    Args:
        lr, betas, eps: the Adam stage's (:class:`pinn_cli.optimizers.Adam`).
        adam_steps: K, iterations of Adam before L-BFGS takes over, >= 0.
        lbfgs_lr, max_iter, max_eval, history_size, tolerance_grad, tolerance_change,
            line_search: the L-BFGS stage's (:class:`pinn_cli.optimizers.LBFGS`; its ``lr`` is
            ``lbfgs_lr`` here).
        **schedule: the Adam stage's schedule (:class:`pinn_cli.optimizers.schedules.Scheduled`).
    """

    stages = names = ("Adam", "L-BFGS")

    def __init__(self, lr: Positive = 1e-3, betas: tuple[Zero2One, Zero2One] = (0.9, 0.999),
                 eps: NonNeg = 1e-8, adam_steps: NonNegInt = 2000, lbfgs_lr: Positive = 1.0,
                 max_iter: Count = 1, max_eval: Count | None = None, history_size: Count = 50,
                 tolerance_grad: NonNeg = 1e-7, tolerance_change: NonNeg = 1e-9,
                 line_search: LineSearch = "strong_wolfe", **schedule):
        super().__init__(**schedule)
        self.adam = Adam(lr, betas, eps, **schedule)
        self.adam_steps = int(adam_steps)
        self.lbfgs_options = lbfgs_options(lbfgs_lr, max_iter, max_eval, history_size,
                                           tolerance_grad, tolerance_change, line_search)

    def second(self, params) -> torch.optim.LBFGS:
        return torch.optim.LBFGS(params, **self.lbfgs_options)


class AdamQuasiNewton(_AdamThenSpec):
    """Builds :class:`AdamThen` with a dense quasi-Newton second stage, and the Adam stage's
    schedule.

    Args:
        lr, betas, eps: the Adam stage's (:class:`pinn_cli.optimizers.Adam`).
        adam_steps: K, iterations of Adam before the quasi-Newton stage takes over, >= 0.
        update, qn_lr, max_iter, max_eval, tolerance_grad, tolerance_change, max_memory_gib:
            the quasi-Newton stage's (:class:`pinn_cli.optimizers.QuasiNewton`; its ``lr`` is
            ``qn_lr`` here).
        **schedule: the Adam stage's schedule (:class:`pinn_cli.optimizers.schedules.Scheduled`).
    """

    stages = ("Adam", "quasi-Newton")

    def __init__(self, lr: Positive = 1e-3, betas: tuple[Zero2One, Zero2One] = (0.9, 0.999),
                 eps: NonNeg = 1e-8, adam_steps: NonNegInt = 2000, update: Update = "ssbroyden",
                 qn_lr: Positive = 1.0, max_iter: Count = 1, max_eval: Count | None = None,
                 tolerance_grad: NonNeg = 1e-12, tolerance_change: NonNeg = 1e-15,
                 max_memory_gib: Positive = 2.0, **schedule):
        super().__init__(**schedule)
        self.adam = Adam(lr, betas, eps, **schedule)
        self.adam_steps = int(adam_steps)
        self.qn = QuasiNewton(update, qn_lr, max_iter, max_eval, tolerance_grad, tolerance_change,
                              max_memory_gib)
        self.names = ("Adam", NAMES[update])

    def second(self, params):
        return self.qn.make(params)
