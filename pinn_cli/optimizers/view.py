"""What a probe may read of the run's optimizer: a read-only view of its own state.

The view knows three kinds of optimizer state and nothing else (and ``lr``, the first
parameter group's learning rate):

- stages (:class:`pinn_cli.optimizers.base.Staged`): ``stage``, ``stage_names``,
  ``stage_starts``, ``staged``; an unstaged optimizer is one stage 0 with no names;
- Adam's moments (Adam, AdamW, or the Adam stage of a staged optimizer while it runs):
  ``has_adam``, ``adam_moments()``, the bias-corrected m_hat and sqrt(v_hat) + eps of every
  parameter (none while another stage runs);
- a quasi-Newton optimizer, L-BFGS or dense (itself, or the second stage of a staged
  optimizer): ``has_lbfgs``, ``lbfgs_counts()`` and, after a step,
  ``lbfgs_stop(counts_before)`` (:data:`pinn_cli.optimizers.lbfgs.STOP_REASONS`; the dense
  optimizers keep their counters under L-BFGS's names).
"""
from __future__ import annotations

import torch

from pinn_cli.optimizers.base import Staged
from pinn_cli.optimizers.lbfgs import NO_STEP, lbfgs_counts, stop_reason
from pinn_cli.optimizers.quasi_newton import DenseQuasiNewton


class OptimizerView:
    """Args:
        optimizer: the run's torch optimizer.
    """

    def __init__(self, optimizer: torch.optim.Optimizer):
        self._opt = optimizer
        inner = optimizer.stage_optimizers() if isinstance(optimizer, Staged) else (optimizer,)
        self._lbfgs = next((o for o in inner if isinstance(o, (torch.optim.LBFGS, DenseQuasiNewton))),
                           None)
        self._adam_opt = next((o for o in inner if isinstance(o, (torch.optim.Adam,
                                                                   torch.optim.AdamW))), None)

    @property
    def lr(self) -> float:
        """The learning rate of the next step (L-BFGS: its first trial step)."""
        return self._opt.param_groups[0]["lr"]

    @property
    def staged(self) -> bool:
        return isinstance(self._opt, Staged)

    @property
    def stage(self) -> int:
        return self._opt.stage if self.staged else 0

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(self._opt.stage_names) if self.staged else ()

    def stage_starts(self) -> tuple[int | None, ...]:
        return tuple(self._opt.stage_starts()) if self.staged else (0,)

    @property
    def has_adam(self) -> bool:
        """Whether the optimizer keeps Adam's moments (during the whole run or a stage)."""
        return self._adam_opt is not None

    def adam_moments(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """[(m_hat, sqrt(v_hat) + eps)] of every parameter with Adam state, m_hat = m / (1 -
        beta1^t), v_hat = v / (1 - beta2^t); [] before Adam's first step or without Adam."""
        adam = self._adam_opt
        if self.staged and self._opt.stage_optimizers()[self.stage] is not adam:
            adam = None                            # another stage runs: its moments are frozen
        out = []
        for group in adam.param_groups if adam is not None else []:
            b1, b2 = group["betas"]
            for p in group["params"]:
                st = adam.state.get(p)
                if st:
                    t = float(st["step"])
                    out.append((st["exp_avg"] / (1 - b1**t),
                                (st["exp_avg_sq"] / (1 - b2**t)).sqrt() + group["eps"]))
        return out

    @property
    def has_lbfgs(self) -> bool:
        return self._lbfgs is not None

    def lbfgs_counts(self) -> tuple[int, int] | None:
        """(L-BFGS iterations, loss evaluations) so far; None without an L-BFGS."""
        return None if self._lbfgs is None else lbfgs_counts(self._lbfgs)

    def lbfgs_stop(self, before: tuple[int, int] | None) -> int:
        """Why the last step's L-BFGS call ended, given ``lbfgs_counts()`` before it (the codes
        of :data:`pinn_cli.optimizers.lbfgs.STOP_REASONS`; no step: ``before`` None)."""
        return NO_STEP if before is None else stop_reason(self._lbfgs, before)
