"""/optimizer: what the optimizer itself knows, per recorded step.

Fields, chosen for the run's optimizer in ``spec`` (a field that does not apply is absent):

- ``stage`` (every optimizer): the stage the step ran in, 0 for an unstaged optimizer; for
  ``adam_lbfgs`` 0 (Adam) for steps < adam_steps, 1 (L-BFGS) after. The first record with
  ``stage == 1`` is the first L-BFGS step: a figure marks the boundary at that step
  (:func:`pinn_cli.analysis.plots.stage_boundaries`). A staged optimizer with a fixed boundary
  (``adam_steps`` = K > 0) is also recorded at steps K - 1 and K whatever the cadence, so the
  boundary is exact; its stage names (``stage_names``) are written once to ``/<group>_stage_names``.
- ``lr`` (every optimizer): the learning rate the step ran at (L-BFGS: its first trial step).
- ``lbfgs_func_evals``, ``lbfgs_n_iter`` (an L-BFGS, or an optimizer with an L-BFGS stage): the
  loss evaluations and L-BFGS iterations so far (torch's ``state['func_evals']`` and
  ``state['n_iter']``; 0 before the L-BFGS stage);
- ``lbfgs_stop``: why the step's L-BFGS call ended, a code of
  :data:`pinn_cli.optimizers.lbfgs.STOP_REASONS` (0: no L-BFGS step, 1: max |grad| <=
  tolerance_grad, 2: below tolerance_change, 3: max_iter done, 4: max_eval used up, the line
  search found no strong-Wolfe step), inferred as torch's loop decides it.

Cost: the probe only reads the optimizer's own state (python attributes and L-BFGS's counters,
one dot product of two stored vectors after an L-BFGS step): 0.04 ms before and 0.12 ms after a
step (measured on cpu_allen_cahn). The record's append to run.h5 costs more, as every record's
does (flushed at once: ~1.5 ms plus ~1.2 ms per field on this project's busy 2-core machine), so
``diagnostics=basic`` and ``paper`` record every 100 steps (``full`` every 10) plus the two
boundary steps: < 0.1 ms per step against steps of 10-600 ms. For plain Adam it records a constant
stage 0 and the lr, and no stage names.

An optimizer is staged when it has a ``stage`` attribute, and has an L-BFGS stage when it is a
``torch.optim.LBFGS`` or has one as its ``lbfgs`` attribute
(:class:`pinn_cli.optimizers.staged.AdamThenLBFGS`).
"""
from __future__ import annotations

import numpy as np
import torch

from pinn_cli.diagnostics.base import Probe
from pinn_cli.diagnostics.cadence import Cadence
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
        boundary = int(getattr(ctx.optimizer, "adam_steps", 0) or 0) if hasattr(
            ctx.optimizer, "stage") else 0
        if boundary > 0:                # the last step of the first stage and the first of the next
            c = self.cadence
            self.cadence = Cadence(c.every, c.dense_every, c.dense_until,
                                   sorted(set(c.at) | {boundary - 1, boundary}))
        fields = {"stage": ((), "i8"), "lr": ((), "f8")}
        if lbfgs_of(ctx.optimizer) is not None:
            fields.update({"lbfgs_func_evals": ((), "i8"), "lbfgs_n_iter": ((), "i8"),
                           "lbfgs_stop": ((), "i8")})
        return SeriesSpec(fields)

    def static(self, ctx):
        names = getattr(ctx.optimizer, "stage_names", None)
        return {f"{self.group}_stage_names": np.array([n.encode() for n in names])} if names else {}

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
