"""/optimizer: what the optimizer itself knows, per recorded step.

Fields, chosen for the run's optimizer in ``spec`` (a field that does not apply is absent):

- ``stage`` (every optimizer): the stage the step ran in, 0 for an unstaged optimizer; for
  ``adam_lbfgs`` 0 (Adam) for steps < adam_steps, 1 (L-BFGS) after. The first record with
  ``stage == 1`` is the first L-BFGS step: a figure marks the boundary at that step.
- ``lr`` (every optimizer): the learning rate the step ran at (L-BFGS: its first trial step).
- ``lbfgs_func_evals``, ``lbfgs_n_iter`` (an L-BFGS, or an optimizer with an L-BFGS stage): the
  loss evaluations and L-BFGS iterations so far (torch's ``state['func_evals']`` and
  ``state['n_iter']``; 0 before the L-BFGS stage);
- ``lbfgs_stop``: why the step's L-BFGS call ended, a code of
  :data:`pinn_cli.optimizers.lbfgs.STOP_REASONS` (0: no L-BFGS step, 1: max |grad| <=
  tolerance_grad, 2: below tolerance_change, 3: max_iter done, 4: max_eval used up, the line
  search found no strong-Wolfe step), inferred as torch's loop decides it.

An optimizer is staged when it has a ``stage`` attribute, and has an L-BFGS stage when it is a
``torch.optim.LBFGS`` or has one as its ``lbfgs`` attribute
(:class:`pinn_cli.optimizers.staged.AdamThenLBFGS`).
"""
from __future__ import annotations

import numpy as np
import torch

from pinn_cli.diagnostics.base import Probe
from pinn_cli.optimizers.lbfgs import NO_STEP, lbfgs_counts, stop_reason
from pinn_cli.runfile import SeriesSpec


def lbfgs_of(optimizer) -> torch.optim.LBFGS | None:
    """The optimizer's L-BFGS (itself, or its L-BFGS stage), or None."""
    if isinstance(optimizer, torch.optim.LBFGS):
        return optimizer
    inner = getattr(optimizer, "lbfgs", None)
    return inner if isinstance(inner, torch.optim.LBFGS) else None


class OptimizerProbe(Probe):
    """/optimizer: stage, lr, and an L-BFGS's evaluations, iterations and stop reason.

    Args:
        every, dense_every, dense_until, at: the cadence (:class:`pinn_cli.diagnostics.base.Probe`).
    """

    def spec(self, ctx):
        fields = {"stage": ((), "i8"), "lr": ((), "f8")}
        if lbfgs_of(ctx.optimizer) is not None:
            fields.update({"lbfgs_func_evals": ((), "i8"), "lbfgs_n_iter": ((), "i8"),
                           "lbfgs_stop": ((), "i8")})
        return SeriesSpec(fields)

    def before(self, ctx, step):
        """The stage this step runs in, and the L-BFGS counters before it."""
        lbfgs = lbfgs_of(ctx.optimizer)
        return {"stage": int(getattr(ctx.optimizer, "stage", 0)),
                "counts": lbfgs_counts(lbfgs) if lbfgs is not None else None}

    def record(self, ctx, state):
        before = state.before[self.group]
        out = {"stage": np.int64(before["stage"]), "lr": np.float64(state.lr)}
        lbfgs = lbfgs_of(ctx.optimizer)
        if lbfgs is not None:
            n_iter, evals = lbfgs_counts(lbfgs)
            code = stop_reason(lbfgs, before["counts"]) if before["counts"] is not None else NO_STEP
            out.update(lbfgs_func_evals=np.int64(evals), lbfgs_n_iter=np.int64(n_iter),
                       lbfgs_stop=np.int64(code))
        return out
